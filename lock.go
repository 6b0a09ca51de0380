package tus

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// releaseGrace is how long a request asked to let go of its lock may still
// read: long enough to store what already arrived from a client that went
// away, short enough that the client resuming does not notice.
const releaseGrace = 200 * time.Millisecond

// heldLock is an upload lock held by one request, with the hook through
// which a newer request asks this one to stop reading its body.
type heldLock struct {
	lock Lock

	mu      sync.Mutex
	body    *bodyReader // set while a body is being read
	pending bool        // release was asked before a body reader existed
}

// lockUpload acquires the lock for id, asking its holder to let go, and
// waits at most Config.AcquireLockTimeout.
func (h *Handler) lockUpload(r *http.Request, id string) (*heldLock, error) {
	lock, err := h.composer.Locker.NewLock(id)
	if err != nil {
		return nil, err
	}
	hl := &heldLock{lock: lock}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.AcquireLockTimeout)
	defer cancel()
	if err := lock.Lock(ctx, hl.releaseRequested); err != nil {
		if r.Context().Err() != nil {
			return nil, r.Context().Err()
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

// unlock releases the lock, logging a failure.
func (h *Handler) unlock(r *http.Request, hl *heldLock) {
	hl.mu.Lock()
	b := hl.body
	hl.body = nil
	hl.mu.Unlock()
	if b != nil {
		b.finish()
	}
	if err := hl.lock.Unlock(); err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelError, "unlocking upload failed", slog.String("error", err.Error()))
	}
}
