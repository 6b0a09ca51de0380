package s3store

import (
	"context"
	"errors"
	"fmt"

	"github.com/tusgo/tus"
)

// ListUploads calls fn once for every upload of the store, in the order of
// their info object keys, and stops at the first error of fn, which it
// returns (tus.UploadLister). An upload is an info object
// "<InfoPrefix><id>.info" with a valid ID. It is Finished when its final
// object exists; an unfinished upload has its info object read for its
// ExpiresAt. An upload whose info object is damaged is reported
// unfinished with no expiry; one whose info marks a termination is not
// reported, and its termination is finished (as by any request that finds
// it).
//
// It streams (see enumerate.go): its memory does not depend on the number
// of uploads. For N finished and M unfinished uploads with T tail objects
// it makes, with the default equal prefixes, ceil((2N+M+T)/1000)
// ListObjectsV2 calls (the final, info and tail objects share one
// listing; one more on services that mark a page ending with the last key
// as truncated, such as MinIO) and M GetObject calls, fewer for info objects this Store has
// cached with the listed ETag; with distinct prefixes, ceil((N+M)/1000) +
// ceil((N+T)/1000) ListObjectsV2 calls and the same GetObject calls. An
// upload whose info object was written after its final object (a
// termination that marked it and crashed) costs one GetObject more. Every
// call is bounded by Options.CallTimeout and fails as every call of the
// store does (tus.ErrUnavailable for an unreachable or throttling
// service). Keys that are not the store's (other names under the
// prefixes) cost listing but are otherwise ignored.
func (s *Store) ListUploads(ctx context.Context, fn func(tus.ListedUpload) error) error {
	return s.walk(ctx, false, &lister{s: s, fn: fn})
}

// lister is the visitor of ListUploads.
type lister struct {
	s  *Store
	fn func(tus.ListedUpload) error
}

func (l *lister) entry(ctx context.Context, g *group, e entry) error {
	if e.kind != entryInfo {
		return nil
	}
	state, doc, err := l.s.resolve(ctx, g)
	if err != nil {
		return err
	}
	switch state {
	case stateFinished:
		return l.fn(tus.ListedUpload{ID: g.id, Finished: true})
	case stateUnfinished:
		return l.fn(tus.ListedUpload{ID: g.id, ExpiresAt: doc.ExpiresAt})
	case stateDamaged:
		return l.fn(tus.ListedUpload{ID: g.id})
	}
	return nil
}

func (l *lister) close(context.Context, *group) error { return nil }
func (l *lister) stray(context.Context, entry) error  { return nil }

// Usage returns the bytes the store's uploads count (tus.UsageReporter),
// as limitedstore counts them: for a finished upload the size of its
// final object, for an unfinished upload of known length its Size, and for
// one whose length is deferred the bytes it holds (its parts and tail
// objects as a request counts them). A damaged upload counts the bytes of
// its tail objects. Uploads created by earlier processes are counted, so
// a size limit (tusd's -store-size) starts from what the bucket holds.
//
// Its calls are those of ListUploads, plus a ListParts call for each
// unfinished upload whose length is deferred (one per 1000 parts).
// Uploads created, written or terminated meanwhile may or may not be
// counted.
func (s *Store) Usage(ctx context.Context) (int64, error) {
	u := &usage{s: s}
	if err := s.walk(ctx, false, u); err != nil {
		return 0, fmt.Errorf("s3store: usage: %w", err)
	}
	return u.total, nil
}

// usage is the visitor of Usage.
type usage struct {
	s     *Store
	total int64
}

func (u *usage) add(id string, n int64) error {
	u.total += n
	if u.total < 0 {
		return fmt.Errorf("total overflows int64 at upload %q", id)
	}
	return nil
}

func (u *usage) entry(ctx context.Context, g *group, e entry) error {
	switch e.kind {
	case entryInfo:
		state, doc, err := u.s.resolve(ctx, g)
		if err != nil {
			return err
		}
		switch state {
		case stateFinished:
			return u.add(g.id, g.final.size)
		case stateUnfinished:
			if !doc.SizeIsDeferred {
				return u.add(g.id, doc.Size)
			}
			g.doc, g.collect = doc, true
		case stateDamaged:
			g.collect = true
		}
	case entryTail:
		if g.collect {
			g.tails = append(g.tails, e)
		}
	}
	return nil
}

func (u *usage) close(ctx context.Context, g *group) error {
	if !g.collect {
		return nil
	}
	if g.doc == nil { // damaged: its tail objects are what is known
		for _, t := range g.tails {
			if err := u.add(g.id, t.size); err != nil {
				return err
			}
		}
		return nil
	}
	held, err := u.s.held(ctx, g.doc, g.tails)
	if err != nil {
		return err
	}
	return u.add(g.id, held)
}

func (u *usage) stray(context.Context, entry) error { return nil }

// held returns the bytes a request would count for the upload of doc
// with the listed tail objects: its chain of parts and the tail objects
// that continue it.
func (s *Store) held(ctx context.Context, doc *infoDoc, tails []entry) (int64, error) {
	parts, err := s.listParts(ctx, doc)
	if err != nil && !isNoSuchUpload(err) {
		if errors.Is(err, tus.ErrUnavailable) {
			return 0, err
		}
		return 0, fmt.Errorf("listing parts of %q: %w", doc.ID, err)
	}
	up := &upload{s: s, doc: doc, others: map[int32]part{}}
	up.buildChain(parts)
	objects := make(map[string]listed, len(tails))
	for _, t := range tails {
		objects[t.key] = listed{etag: t.etag, size: t.size}
	}
	up.buildTail(objects)
	return up.offset(), nil
}
