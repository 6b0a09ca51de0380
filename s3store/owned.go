package s3store

import (
	"maps"
	"slices"
)

// ownedStates keeps, for Options.SingleProcess, the state of the uploads
// this process created, loaded or changed, so a request need not list them
// in S3 again. The state is what the last request left; a request that
// fails drops it, and the next one loads the upload from S3. It is bounded
// by the number of parts and tail objects it holds.
type ownedStates struct{ lru *lru[*upload] }

func newOwnedStates(max int64) *ownedStates { return &ownedStates{lru: newLRU[*upload](max)} }

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
	u, ok := o.lru.get(id)
	if !ok {
		return nil, false
	}
	return u.clone(), true
}

// put keeps a copy of u's state.
func (o *ownedStates) put(u *upload) {
	c := u.clone()
	o.lru.put(c.doc.ID, c, int64(1+len(c.chain)+len(c.tail)+len(c.others)))
}

// drop forgets id.
func (o *ownedStates) drop(id string) { o.lru.drop(id) }

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
