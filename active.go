package tus

import (
	"context"
	"sync"
	"time"
)

// headMovingWindow is how recently a body being read must have delivered
// bytes for a HEAD to leave it alone (see readOffset): twice the grace a
// request asked to let go of its lock still reads, so that a PATCH moving
// at any useful speed counts as moving, and one whose client vanished is
// released within a moment.
const headMovingWindow = 2 * releaseGrace

// activeUploads is what a Handler knows of the upload requests (POST and
// PATCH) in flight in this process: how many there are, and the locks of
// those reading a body, by upload ID. A monitoring HEAD looks there for a
// writer that is moving (see readOffset); Shutdown interrupts every body
// and waits until the count drops to zero. Its size is bounded by the
// requests in flight: an entry is added when a body starts being read and
// removed before its lock is let go.
type activeUploads struct {
	mu sync.Mutex
	// reading holds the lock of each upload whose body is being read. At
	// most one request of this process holds an upload's lock, and it
	// removes its entry before unlocking, so entries never collide.
	reading  map[string]*heldLock
	n        int           // upload requests in flight
	stopping bool          // Shutdown was called: uploads are refused
	idle     chan struct{} // made by Shutdown; closed once n is 0
	closed   bool          // idle is closed
}

// begin counts an upload request in; it returns false, counting nothing,
// once the Handler is shutting down.
func (a *activeUploads) begin() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopping {
		return false
	}
	a.n++
	return true
}

// end counts an upload request out.
func (a *activeUploads) end() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n--
	a.signalIdle()
}

// signalIdle closes idle when shutting down with no request in flight.
// a.mu is held.
func (a *activeUploads) signalIdle() {
	if a.stopping && a.n == 0 && !a.closed {
		a.closed = true
		close(a.idle)
	}
}

// add lists hl, whose body is now being read; it reports whether the
// Handler is shutting down (the body is then to be interrupted at once).
func (a *activeUploads) add(hl *heldLock) (stopping bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.reading == nil {
		a.reading = make(map[string]*heldLock)
	}
	a.reading[hl.id] = hl
	return a.stopping
}

// remove takes hl off the list.
func (a *activeUploads) remove(hl *heldLock) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.reading[hl.id] == hl {
		delete(a.reading, hl.id)
	}
}

// moving reports whether a request of this process is reading a body into
// upload id that delivered bytes within window (bodyReader.moving).
func (a *activeUploads) moving(id string, window time.Duration) bool {
	a.mu.Lock()
	hl := a.reading[id]
	a.mu.Unlock()
	if hl == nil {
		return false
	}
	hl.mu.Lock()
	b := hl.body
	hl.mu.Unlock()
	return b != nil && b.moving(window)
}

// stop marks the Handler as shutting down and returns the bodies being
// read and the channel closed once no upload request is in flight.
func (a *activeUploads) stop() ([]*bodyReader, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.stopping {
		a.stopping = true
		a.idle = make(chan struct{})
		a.signalIdle()
	}
	bodies := make([]*bodyReader, 0, len(a.reading))
	for _, hl := range a.reading {
		hl.mu.Lock()
		if hl.body != nil {
			bodies = append(bodies, hl.body)
		}
		hl.mu.Unlock()
	}
	return bodies, a.idle
}

// Shutdown stops the uploads in flight, for a server that is shutting
// down, and waits until every upload request (POST and PATCH) has been
// answered, or until ctx ends (returning its error).
//
// Every request body being read is interrupted at once: the bytes that
// arrived (and those that arrive within a short grace, already on their
// way) are stored and counted, and the request is answered 503 with code
// ERR_SERVER_SHUTDOWN, Upload-Offset, Retry-After and, on HTTP/1,
// Connection: close, so that its client resumes at once, on this server's
// successor or another instance. A request whose body had already been
// read to its end is not interrupted: it finishes and is answered as
// usual. From the call on, every new POST and PATCH is refused with 503
// ERR_SERVER_SHUTDOWN, for good; HEAD, GET and DELETE are still served.
//
// Call it when the server begins to shut down, together with (or before)
// http.Server.Shutdown, which then finds the upload requests answered
// instead of waiting for their bodies to end. It may be called more than
// once.
func (h *Handler) Shutdown(ctx context.Context) error {
	bodies, idle := h.active.stop()
	for _, b := range bodies {
		b.interrupt(ErrServerShutdown, releaseGrace)
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
