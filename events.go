package tus

import (
	"context"
	"sync"
)

// EventType names what happened to an upload.
type EventType string

// Event types delivered to subscribers.
const (
	EventCreated    EventType = "created"
	EventProgress   EventType = "progress"
	EventCompleted  EventType = "completed"
	EventTerminated EventType = "terminated"
)

// Event is a notification about an upload.
type Event struct {
	Type EventType
	HookEvent
	// Expired is set on EventTerminated when the expiry sweep
	// (Handler.SweepExpired) removed the upload because it expired.
	Expired bool

	// body is the request body being read, for StopUpload (progress events).
	body *bodyReader
}

// StopUpload stops the request that produced this progress event: it reads
// no more of its body, the upload is terminated (deleted) if the store
// supports termination, and the client is answered with resp, or, if
// resp.StatusCode is zero, with ErrUploadStopped (400) and resp's headers. It
// may be called from any goroutine. It reports whether the request was
// still reading its body; false means the stop came too late (the request
// ended, or this is not a progress event) and nothing changed.
func (e Event) StopUpload(resp HTTPResponse) bool {
	if e.body == nil {
		return false
	}
	return e.body.interrupt(&stopError{resp: resp}, 0)
}

// stopError is the cause of a body read ended by Event.StopUpload.
type stopError struct{ resp HTTPResponse }

func (e *stopError) Error() string { return ErrUploadStopped.Error() }
func (e *stopError) Unwrap() error { return ErrUploadStopped }

// Subscription receives events from a Handler. Read C until you Close the
// subscription.
//
// Delivery: progress events are dropped when the buffer is full (a later one
// supersedes them) and counted in Dropped; created, completed and terminated
// events wait for room until the request that produced them ends, so a
// subscriber that stops reading without closing its subscription slows those
// requests down. Requests never wait when nobody subscribes.
type Subscription struct {
	// C delivers the events. It is closed by Close.
	C <-chan Event

	c       chan Event
	types   map[EventType]bool
	hub     *eventHub
	done    chan struct{}
	dropped uint64 // guarded by hub.mu
	closed  bool   // guarded by hub.mu
	sending sync.WaitGroup
}

// Close stops delivery and closes C. Events being delivered when Close is
// called are dropped. Close is safe to call more than once.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	if s.closed {
		s.hub.mu.Unlock()
		return
	}
	s.closed = true
	delete(s.hub.subs, s)
	close(s.done)
	s.hub.mu.Unlock()
	s.sending.Wait()
	close(s.c)
}

// Dropped returns how many progress events were dropped because C was full.
func (s *Subscription) Dropped() uint64 {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.dropped
}

// eventHub fans events out to subscriptions.
type eventHub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Subscribe returns a subscription to events of the given types (all types
// if none are given), buffered for buffer events (at least 1).
func (h *Handler) Subscribe(buffer int, types ...EventType) *Subscription {
	if buffer < 1 {
		buffer = 1
	}
	c := make(chan Event, buffer)
	s := &Subscription{C: c, c: c, hub: &h.events, done: make(chan struct{})}
	if len(types) > 0 {
		s.types = make(map[EventType]bool, len(types))
		for _, t := range types {
			s.types[t] = true
		}
	}
	h.events.mu.Lock()
	if h.events.subs == nil {
		h.events.subs = make(map[*Subscription]struct{})
	}
	h.events.subs[s] = struct{}{}
	h.events.mu.Unlock()
	return s
}

// emit delivers ev to every subscription that wants it.
func (hub *eventHub) emit(ctx context.Context, ev Event) {
	hub.mu.Lock()
	if len(hub.subs) == 0 {
		hub.mu.Unlock()
		return
	}
	var targets []*Subscription
	for s := range hub.subs {
		if s.types != nil && !s.types[ev.Type] {
			continue
		}
		if ev.Type == EventProgress {
			select {
			case s.c <- ev:
			default:
				s.dropped++
			}
			continue
		}
		s.sending.Add(1)
		targets = append(targets, s)
	}
	hub.mu.Unlock()
	for _, s := range targets {
		select {
		case s.c <- ev: // room: delivered even if the request has ended
		default:
			select {
			case s.c <- ev:
			case <-s.done:
			case <-ctx.Done():
			}
		}
		s.sending.Done()
	}
}

// active reports whether anybody subscribes.
func (hub *eventHub) active() bool {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	return len(hub.subs) > 0
}
