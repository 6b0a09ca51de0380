package s3store

import (
	"container/list"
	"maps"
	"slices"
	"sync"
)

// ownedStates keeps, for Options.SingleProcess, the state of the uploads
// this process created, loaded or changed, so a request need not list them
// in S3 again. The state is what the last request left; a request that
// fails drops it, and the next one loads the upload from S3. It is bounded
// by the number of parts and tail objects it holds.
type ownedStates struct {
	mu     sync.Mutex
	max    int
	weight int
	order  *list.List // of *ownedEntry, most recent first
	items  map[string]*list.Element
}

type ownedEntry struct {
	id     string
	u      *upload
	weight int
}

func newOwnedStates(max int) *ownedStates {
	return &ownedStates{max: max, order: list.New(), items: map[string]*list.Element{}}
}

// clone returns a copy of u that shares nothing that requests change.
func (u *upload) clone() *upload {
	c := *u
	c.chain = slices.Clone(u.chain)
	c.others = maps.Clone(u.others)
	if c.others == nil {
		c.others = map[int32]part{}
	}
	c.tail = slices.Clone(u.tail)
	c.garbage = slices.Clone(u.garbage)
	c.stale = slices.Clone(u.stale)
	c.consumed = nil
	return &c
}

// get returns a copy of the state of id.
func (o *ownedStates) get(id string) (*upload, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.items[id]
	if !ok {
		return nil, false
	}
	o.order.MoveToFront(e)
	return e.Value.(*ownedEntry).u.clone(), true
}

// put keeps a copy of u's state.
func (o *ownedStates) put(u *upload) {
	c := u.clone()
	w := 1 + len(c.chain) + len(c.tail) + len(c.others)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dropLocked(c.doc.ID)
	o.items[c.doc.ID] = o.order.PushFront(&ownedEntry{id: c.doc.ID, u: c, weight: w})
	o.weight += w
	for o.weight > o.max && o.order.Len() > 1 {
		o.dropLocked(o.order.Back().Value.(*ownedEntry).id)
	}
}

// drop forgets id.
func (o *ownedStates) drop(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dropLocked(id)
}

func (o *ownedStates) dropLocked(id string) {
	if e, ok := o.items[id]; ok {
		o.weight -= e.Value.(*ownedEntry).weight
		o.order.Remove(e)
		delete(o.items, id)
	}
}

// keep records u's state after an operation: kept on success, dropped on
// failure (S3 may hold more than u knows).
func (u *upload) keep(err error) {
	if !u.s.opts.SingleProcess {
		return
	}
	if err != nil {
		u.s.owned.drop(u.doc.ID)
		return
	}
	u.s.owned.put(u)
}
