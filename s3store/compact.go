package s3store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tusgo/tus"
)

// A PATCH that completes a part whose first bytes are in tail objects
// (small PATCHes, one after the other) does not upload the part while the
// client waits: it stores its own bytes as one more tail object and answers.
// The part is then uploaded from the tail objects, whose bytes are usually
// still cached, by a job the store runs after the response; until it lands,
// the tail objects hold the part's bytes and count as stored. The job never
// deletes them (it holds no lock): the next request does. Any request
// that needs the part uploaded first (one that uploads later parts, or
// finishes the upload) waits for the job in this process, or does the
// upload itself, which is idempotent, when the job is elsewhere or failed.

// jobTimeout bounds one job, retries included.
const jobTimeout = 15 * time.Minute

// compactJob uploads one part from tail objects after a response.
type compactJob struct {
	mpu  string    // the multipart upload: an ID can be used again
	n    int       // the part number
	segs []segment // the tail objects it is made of
	done chan struct{}
	p    part  // the uploaded part, once done
	err  error // set before done is closed
}

// compactions runs and remembers the jobs of a store. At most cap(slots)
// jobs, and requests uploading a part partly held in tail objects (see
// chunkWriter.dispatch), run at once, store-wide: each holds a whole part
// in memory, so many uploads completing parts in tail objects at the same
// time (100 uploads short of buffer space) must not hold a part each.
type compactions struct {
	mu     sync.Mutex
	jobs   map[string][]*compactJob // by upload ID: running ones and the last
	closed bool
	slots  chan struct{}
	wg     sync.WaitGroup
}

// newCompactions returns the jobs of a store that runs at most running at
// once.
func newCompactions(running int) *compactions {
	return &compactions{jobs: map[string][]*compactJob{}, slots: make(chan struct{}, max(running, 1))}
}

// get returns the latest job for id, running or done, or nil.
func (c *compactions) get(id string) *compactJob {
	c.mu.Lock()
	defer c.mu.Unlock()
	if js := c.jobs[id]; len(js) > 0 {
		return js[len(js)-1]
	}
	return nil
}

// waitAll waits for every job of id and forgets them.
func (c *compactions) waitAll(id string) {
	c.mu.Lock()
	js := c.jobs[id]
	delete(c.jobs, id)
	c.mu.Unlock()
	for _, j := range js {
		<-j.done
	}
}

// start runs job for id, unless the store is closed (then the part is
// uploaded by the next request that needs it) and reports whether it did.
func (c *compactions) start(id string, job *compactJob, run func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if len(c.jobs) >= 4096 {
		for k, js := range c.jobs {
			if finished(js[len(js)-1]) {
				delete(c.jobs, k)
			}
		}
	}
	var keep []*compactJob
	for _, j := range c.jobs[id] {
		if !finished(j) {
			keep = append(keep, j)
		}
	}
	c.jobs[id] = append(keep, job)
	c.wg.Add(1) // under mu, and never after close: not concurrent with Wait
	go func() {
		defer c.wg.Done()
		defer close(job.done)
		c.slots <- struct{}{} // the jobs before it end within jobTimeout
		defer func() { <-c.slots }()
		run()
	}()
	return true
}

// slot waits for one of the slots that bound the parts held in memory
// from tail objects, until ctx ends, and returns its release.
func (c *compactions) slot(ctx context.Context) (release func(), err error) {
	select {
	case c.slots <- struct{}{}:
		return func() { <-c.slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("s3store: waiting to upload a part from tail objects: %w", ctx.Err())
	}
}

func finished(j *compactJob) bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// close stops new jobs and waits for the running ones.
func (c *compactions) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
}

// wholePart returns the tail objects that hold part n entirely, or nil.
// Tail objects never cross a part boundary.
func (u *upload) wholePart(n int) []segment {
	start, end := u.doc.Parts.start(n), u.doc.Parts.start(n)+u.doc.Parts.size(n)
	for i, g := range u.tail {
		if g.start < start {
			continue
		}
		if g.end == end {
			return u.tail[:i+1]
		}
		if g.end > end {
			return nil
		}
	}
	return nil
}

// resolvePending makes the parts that tail objects hold entirely into real
// parts, so that the chain of parts reaches the tail's last part. It uses
// the result of this process's job where there is one.
func (u *upload) resolvePending(ctx context.Context) error {
	return u.resolveBefore(ctx, -1)
}

// resolveBefore is resolvePending for the parts before part limit (all of
// them if limit is negative).
func (u *upload) resolveBefore(ctx context.Context, limit int) error {
	for {
		n := len(u.chain) + 1
		if limit >= 0 && n >= limit {
			return nil
		}
		segs := u.wholePart(n)
		if segs == nil {
			return nil
		}
		if job := u.s.compact.get(u.doc.ID); job != nil && job.mpu == u.doc.MultipartUploadID && job.n == n && slices.Equal(keysOf(job.segs), keysOf(segs)) {
			<-job.done
			if job.err == nil {
				u.applyPart(job.p, len(segs)) // the job leaves them: stale now
				u.stale = append(u.stale, keysOf(segs)...)
				continue
			}
		}
		if err := u.neutralize(ctx, n+1); err != nil {
			return err
		}
		freeSlot, err := u.s.compact.slot(ctx) // a whole part in memory: see compactions
		if err != nil {
			return err
		}
		pieces, release, err := u.s.segmentPieces(ctx, segs)
		if err != nil {
			freeSlot()
			return err
		}
		p, err := u.uploadPart(ctx, n, newSections(pieces...))
		release()
		freeSlot()
		if err != nil {
			return err
		}
		u.applyPart(p, len(segs))
		u.dropStale(ctx, keysOf(segs))
	}
}

// dropStale deletes tail objects whose bytes parts hold. What cannot be
// deleted now stays in u.stale, deleted by a later write or the finish.
func (u *upload) dropStale(ctx context.Context, keys []string) {
	if len(keys) == 0 {
		return
	}
	if err := u.s.deleteKeys(ctx, keys); err != nil {
		u.s.opts.Logger.Warn("s3store: deleting tail objects; retried later", "id", u.doc.ID, "error", err)
		u.stale = append(u.stale, keys...)
		return
	}
	if u.consumed == nil {
		u.consumed = map[string]bool{}
	}
	for _, k := range keys {
		u.consumed[k] = true
	}
}

// applyPart records part p, made of the first k tail objects; the caller
// sees to deleting them.
func (u *upload) applyPart(p part, k int) {
	u.chain = append(u.chain, p)
	delete(u.others, p.num)
	u.tail = u.tail[k:]
}

// compactLater uploads part n from the tail objects that hold it after the
// response. If parts beyond it are listed (left by failures), the part is
// uploaded now instead, since they must be neutralized under the lock.
func (u *upload) compactLater(ctx context.Context, n int) error {
	if err := u.resolveBefore(ctx, n); err != nil {
		return err
	}
	segs := u.wholePart(n)
	if segs == nil || len(u.chain)+1 != n {
		return fmt.Errorf("s3store: part %d of %q is not held by the tail", n, u.doc.ID)
	}
	if len(u.others) > 0 {
		return u.resolvePending(ctx)
	}
	job := &compactJob{mpu: u.doc.MultipartUploadID, n: n, segs: slices.Clone(segs), done: make(chan struct{})}
	s, doc := u.s, u.doc
	s.compact.start(doc.ID, job, func() {
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), jobTimeout)
		defer cancel()
		pieces, release, err := s.segmentPieces(bg, job.segs)
		sent := false
		if err == nil {
			sent = true
			job.p, err = (&upload{s: s, doc: doc}).uploadPart(bg, n, newSections(pieces...))
			release()
		}
		if err != nil {
			job.err = err
			s.opts.Logger.Warn("s3store: uploading a part from tail objects; the next request retries", "id", doc.ID, "part", n, "error", err)
		}
		// The job holds no lock: another process may have terminated or
		// completed the upload meanwhile, and a part upload under way then
		// can bring the multipart upload back with its part on some
		// services (AWS documents it for aborts; versitygw does it for
		// completions too), even when its answer is lost. Abort it again if
		// the upload is gone or complete. (A completion that has not made
		// the object yet is missed here; loads then see the object, see
		// load.)
		if sent && !isNoSuchUpload(err) && s.multipartDone(bg, doc) {
			if err := s.abort(bg, doc); err != nil {
				s.opts.Logger.Warn("s3store: aborting the multipart upload of a terminated or complete upload", "id", doc.ID, "error", err)
			}
		}
		// The tail objects stay: the job holds no lock, and a request listing
		// the parts before the part lands and the objects after they were
		// deleted would see neither. The next request under the lock finds
		// them stale and deletes them.
	})
	return nil
}

// multipartDone reports whether doc's multipart upload is known to be of no
// use any more: the upload was terminated (or created again with the same
// ID), or its object exists, which only completing it makes. Errors count
// as not known.
func (s *Store) multipartDone(ctx context.Context, doc *infoDoc) bool {
	cur, _, err := s.getInfo(ctx, doc.ID)
	switch {
	case errors.Is(err, tus.ErrNotFound):
		return true
	case err != nil:
		return false
	case cur.Terminated || cur.MultipartUploadID != doc.MultipartUploadID:
		return true
	}
	ok, _ := s.completed(ctx, cur)
	return ok
}
