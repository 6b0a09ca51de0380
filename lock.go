package tus

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Lock order: a request holds at most two upload locks at once, and cannot
// deadlock. A final upload's concatenation (tryConcatLocked in concat.go)
// is the only place that holds two: the request holds the final upload's
// lock (POST creating it, HEAD, or GET through completePendingFinal) and
// takes the partials' locks one at a time in confirmComplete, letting go of
// each before the next: always final first, then one partial. No request
// that holds a partial's lock takes another lock: concatIfReadyLocked does
// nothing for an upload that is not final, confirmComplete only reads
// under the partial's lock, and a final upload is never a partial of
// another (loadPartials refuses uploads that are not partial). Nor does a
// request ask for a lock it already holds: its final upload is not among
// the partials, and each partial's lock, a repeated one included, is let
// go before the next is taken.

// releaseGrace is how long a request asked to let go of its lock may still
// read: long enough to store what already arrived from a client that went
// away, short enough that the client resuming does not notice.
const releaseGrace = 200 * time.Millisecond

// heldLock is an upload lock held by one request, with the hook through
// which a newer request asks this one to stop reading its body.
type heldLock struct {
	lock Lock
	id   string // the upload's

	mu      sync.Mutex
	body    *bodyReader // set while a body is being read
	pending bool        // release was asked before a body reader existed
}

// lockUpload acquires the lock for id into hl, asking its holder to let
// go, and waits at most Config.AcquireLockTimeout, or until ctx ends.
func (h *Handler) lockUpload(ctx context.Context, id string, hl *heldLock) (*heldLock, error) {
	lock, err := h.composer.Locker.NewLock(id)
	if err != nil {
		return nil, err
	}
	*hl = heldLock{lock: lock, id: id}
	lctx, cancel := context.WithTimeout(ctx, h.cfg.AcquireLockTimeout)
	defer cancel()
	if err := lock.Lock(lctx, hl.releaseRequested); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, ErrLockTimeout) || errors.Is(err, context.DeadlineExceeded) {
			return nil, ErrLockTimeout
		}
		return nil, err
	}
	return hl, nil
}

// releaseRequested is called by the locker when a newer request wants the
// lock: it interrupts the body being read, if any.
func (hl *heldLock) releaseRequested() {
	hl.mu.Lock()
	b := hl.body
	if b == nil {
		hl.pending = true
	}
	hl.mu.Unlock()
	if b != nil {
		b.interrupt(ErrUploadInterrupted, releaseGrace)
	}
}

// attach makes b the body that a release request interrupts. If a release
// was already asked, b is interrupted at once.
func (hl *heldLock) attach(b *bodyReader) {
	hl.mu.Lock()
	hl.body = b
	pending := hl.pending
	hl.mu.Unlock()
	if pending {
		b.interrupt(ErrUploadInterrupted, releaseGrace)
	}
}

// attachBody makes b the body of q's lock (see heldLock.attach) and lists
// it among the bodies being read (see activeUploads): a HEAD may then
// answer without the lock while b moves, and Shutdown interrupts it (at
// once, if the Handler is already shutting down).
func (h *Handler) attachBody(q *request, b *bodyReader) {
	q.lock.attach(b)
	if h.active.add(q.lock) {
		b.interrupt(ErrServerShutdown, releaseGrace)
	}
}

// release ends the body's use of the connection and releases the lock,
// logging a failure.
func (h *Handler) release(ctx context.Context, hl *heldLock) {
	hl.mu.Lock()
	b := hl.body
	hl.body = nil
	hl.mu.Unlock()
	if b != nil {
		h.active.remove(hl)
		b.finish()
	}
	if err := hl.lock.Unlock(); err != nil {
		h.log.LogAttrs(ctx, slog.LevelError, "unlocking upload failed", slog.String("error", err.Error()))
	}
}

// lockOwn takes the lock of q's upload (q.lock).
func (h *Handler) lockOwn(q *request) error {
	hl, err := h.lockUpload(q.ctx(), q.id, &q.held)
	q.lock = hl
	return err
}

// unlock releases q's lock on its upload, if it holds it.
func (h *Handler) unlock(q *request) {
	if q.lock != nil {
		h.release(q.ctx(), q.lock)
		q.lock = nil
	}
}
