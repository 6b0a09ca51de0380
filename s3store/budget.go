package s3store

import (
	"context"
	"slices"
	"sync"
	"time"
)

// reclaimAfter is how long a request may wait for buffer budget before the
// budget takes back what other requests reserved but have not used for as
// long (see budget.reclaim). A client that sends its part within it keeps
// its whole reservation.
const reclaimAfter = 2 * time.Second

// budget is a counting semaphore of bytes shared by every request of a
// store. Waiters are served in the order they came (a large request is not
// passed over forever by smaller ones), and tryAcquire never jumps the
// queue.
//
// Bytes can be taken back: a part buffer reserves room for a whole part
// before its bytes arrive, and a client that stalls would otherwise keep
// that room from everyone. A waiter that has waited reclaimAfter asks every
// registered reservation at least that old to give back the room it has not
// begun to fill (see partBuffer.shrink).
type budget struct {
	mu           sync.Mutex
	total        int64
	free         int64
	waiters      []*budgetWaiter // first come, first served
	reservations map[reclaimable]struct{}
}

// reclaimable is a holder of budget that can give back room it has not used.
type reclaimable interface {
	// shrink gives back the unused room of a reservation older than age
	// and returns how many bytes it gave back (not yet released).
	shrink(age time.Duration) int64
}

// budgetWaiter is a request for n bytes waiting in the queue; ready is
// closed once they are granted.
type budgetWaiter struct {
	n     int64
	ready chan struct{}
}

func newBudget(n int64) *budget {
	return &budget{total: n, free: n, reservations: map[reclaimable]struct{}{}}
}

// tryAcquire takes n bytes if they are free and nobody waits for bytes.
func (b *budget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) == 0 && b.free >= n {
		b.free -= n
		return true
	}
	return false
}

// acquire takes n bytes (at most the total), waiting in line until they are
// free or ctx ends. Every reclaimAfter spent waiting, it reclaims unused
// reservations.
func (b *budget) acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.free >= n {
		b.free -= n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	t := time.NewTimer(reclaimAfter)
	defer t.Stop()
	for {
		select {
		case <-w.ready:
			return nil
		case <-t.C:
			b.reclaim()
			t.Reset(reclaimAfter)
			continue
		case <-ctx.Done():
		}
		break
	}
	b.mu.Lock()
	select {
	case <-w.ready: // granted meanwhile: give the bytes back
		b.free += n
	default:
		b.waiters = slices.DeleteFunc(b.waiters, func(x *budgetWaiter) bool { return x == w })
	}
	b.grantLocked()
	b.mu.Unlock()
	return ctx.Err()
}

// release returns n bytes and grants them to the waiters they satisfy, in
// order.
func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.free += n
	b.grantLocked()
	b.mu.Unlock()
}

// grantLocked grants free bytes to the waiters at the head of the queue.
func (b *budget) grantLocked() {
	for len(b.waiters) > 0 && b.free >= b.waiters[0].n {
		w := b.waiters[0]
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
		b.free -= w.n
		close(w.ready)
	}
	if len(b.waiters) == 0 {
		b.waiters = nil
	}
}

// register makes r's reservation reclaimable; unregister ends that.
func (b *budget) register(r reclaimable) {
	b.mu.Lock()
	b.reservations[r] = struct{}{}
	b.mu.Unlock()
}

func (b *budget) unregister(r reclaimable) {
	b.mu.Lock()
	delete(b.reservations, r)
	b.mu.Unlock()
}

// reclaim takes back the unused room of every reservation older than
// reclaimAfter.
func (b *budget) reclaim() {
	b.mu.Lock()
	rs := make([]reclaimable, 0, len(b.reservations))
	for r := range b.reservations {
		rs = append(rs, r)
	}
	b.mu.Unlock()
	var freed int64
	for _, r := range rs {
		freed += r.shrink(reclaimAfter)
	}
	b.release(freed)
}
