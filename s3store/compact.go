package s3store

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// A PATCH that completes a part whose first bytes are in tail objects
// (small PATCHes, one after the other) does not upload the part while the
// client waits: it stores its own bytes as one more tail object and answers.
// The part is then uploaded from the tail objects, whose bytes are usually
// still cached, by a job the store runs after the response; until it lands,
// the tail objects hold the part's bytes and count as stored. Any request
// that needs the part uploaded first (one that uploads later parts, or
// finishes the upload) waits for the job in this process, or does the
// upload itself, which is idempotent, when the job is elsewhere or failed.

// compactJob uploads one part from tail objects after a response.
type compactJob struct {
	n    int       // the part number
	segs []segment // the tail objects it is made of
	done chan struct{}
	p    part  // the uploaded part, once done
	err  error // set before done is closed
}

// compactions runs and remembers the jobs of a store, at most one per
// upload at a time.
type compactions struct {
	mu   sync.Mutex
	jobs map[string]*compactJob
	wg   sync.WaitGroup
}

func newCompactions() *compactions { return &compactions{jobs: map[string]*compactJob{}} }

// get returns the latest job for id, running or done.
func (c *compactions) get(id string) *compactJob {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.jobs[id]
}

// forget drops what is remembered of id.
func (c *compactions) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.jobs, id)
}

// start runs job for id; finished jobs of other uploads are forgotten once
// many are remembered.
func (c *compactions) start(id string, job *compactJob, run func()) {
	c.mu.Lock()
	if len(c.jobs) >= 4096 {
		for k, j := range c.jobs {
			select {
			case <-j.done:
				delete(c.jobs, k)
			default:
			}
		}
	}
	c.jobs[id] = job
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		defer close(job.done)
		run()
	}()
}

// wait waits for every running job.
func (c *compactions) wait() { c.wg.Wait() }

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
		if job := u.s.compact.get(u.doc.ID); job != nil && job.n == n && slices.Equal(keysOf(job.segs), keysOf(segs)) {
			<-job.done
			if job.err == nil {
				u.applyPart(job.p, len(segs))
				continue
			}
		}
		if err := u.neutralize(ctx, n+1); err != nil {
			return err
		}
		pieces, err := u.s.segmentPieces(ctx, segs)
		if err != nil {
			return err
		}
		p, err := u.uploadPart(ctx, n, newSections(pieces...))
		if err != nil {
			return err
		}
		u.applyPart(p, len(segs))
		if err := u.s.deleteKeys(ctx, keysOf(segs)); err != nil {
			u.s.opts.Logger.Warn("s3store: deleting tail objects", "id", u.doc.ID, "error", err)
		}
	}
}

// applyPart records part p, made of the first k tail objects.
func (u *upload) applyPart(p part, k int) {
	u.chain = append(u.chain, p)
	delete(u.others, p.num)
	if u.consumed == nil {
		u.consumed = map[string]bool{}
	}
	for _, g := range u.tail[:k] {
		u.consumed[g.key] = true // deleted by whoever uploaded the part
	}
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
	job := &compactJob{n: n, segs: slices.Clone(segs), done: make(chan struct{})}
	s, doc := u.s, u.doc
	bg := context.WithoutCancel(ctx)
	s.compact.start(doc.ID, job, func() {
		pieces, err := s.segmentPieces(bg, job.segs)
		if err == nil {
			job.p, err = (&upload{s: s, doc: doc}).uploadPart(bg, n, newSections(pieces...))
		}
		if err != nil {
			job.err = err
			s.opts.Logger.Warn("s3store: uploading a part from tail objects; the next request retries", "id", doc.ID, "part", n, "error", err)
			return
		}
		if err := s.deleteKeys(bg, keysOf(job.segs)); err != nil {
			s.opts.Logger.Warn("s3store: deleting tail objects", "id", doc.ID, "error", err)
		}
	})
	return nil
}
