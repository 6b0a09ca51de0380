package s3store

import (
	"maps"
	"slices"
)

// ownedStates keeps, for Options.SingleProcess, the state of the uploads
// this process created, loaded or changed, so a request need not list them
// in S3 again. The state is what the last operation under the upload's lock
// left; one that fails drops it, and the next request loads the upload from
// S3. It is bounded by an estimate of the bytes the states take.
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

// size estimates the bytes u takes in memory.
func (u *upload) size() int64 {
	n := 512 + len(u.doc.ID)
	for k, v := range u.doc.MetaData {
		n += 32 + len(k) + len(v)
	}
	for _, id := range u.doc.PartialUploads {
		n += 16 + len(id)
	}
	n += 64 * (len(u.chain) + len(u.others))
	n += 128 * (len(u.tail) + len(u.garbage) + len(u.stale))
	return int64(n)
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
	o.lru.put(c.doc.ID, c, c.size())
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
