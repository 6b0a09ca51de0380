package s3store

import (
	"context"
	"slices"
	"sync"
	"time"
)

// reclaimAfter is how long a request may wait for buffer budget before the
// budget takes back room that older reservations will not use soon (see
// budget.reclaim). A client that fills its part within reclaimAfter, or at
// a pace that fills the rest of it within reclaimAfter, keeps its whole
// reservation.
const reclaimAfter = 2 * time.Second

// budget is a counting semaphore of bytes shared by every request of a
// store. Waiters are served in the order they came (a large request is not
// passed over forever by smaller ones), and tryAcquire never jumps the
// queue.
//
// Bytes can be taken back: a part buffer reserves room for a whole part
// before its bytes arrive, and a client that stalls would otherwise keep
// that room from everyone. A waiter that has waited reclaimAfter asks every
// registered reservation at least that old to give back the room its client
// would not fill within reclaimAfter at the pace it has shown (see
// partBuffer.shrink). If that still does not serve the first in line, a
// holder has waited for its client for reclaimAfter, and no bytes came back
// meanwhile (the budget is stuck on bytes stalled clients filled), the
// first in line takes what is free, at least a block, instead of all it
// asked for.
type budget struct {
	mu           sync.Mutex
	total        int64
	free         int64
	waiters      []*budgetWaiter // first come, first served
	released     time.Time       // when bytes last came back
	reservations map[reclaimable]struct{}
}

// reclaimable is a holder of budget that can give back room it has not used.
type reclaimable interface {
	// shrink gives back unused room of a reservation older than age (see
	// partBuffer.shrink) and returns how many bytes it gave back (not yet
	// released), and whether its holder has waited for its client for
	// longer than age.
	shrink(age time.Duration) (freed int64, stalled bool)
}

// budgetWaiter is a request for n bytes waiting in the queue; ready is
// closed once got bytes (n, or less, see budget) are granted.
type budgetWaiter struct {
	n     int64
	got   int64
	ready chan struct{}
}

func newBudget(n int64) *budget {
	return &budget{total: n, free: n, released: time.Now(), reservations: map[reclaimable]struct{}{}}
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
// free or ctx ends, and returns how many it took: n, or, for a waiter
// first in line while the budget is stuck, what was free (see budget).
// Every reclaimAfter spent waiting, it reclaims unused reservations.
func (b *budget) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(n, b.total)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.free >= n {
		b.free -= n
		b.mu.Unlock()
		return n, nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	t := time.NewTimer(reclaimAfter)
	defer t.Stop()
	for {
		select {
		case <-w.ready:
			return w.got, nil
		case <-t.C:
			if stalled := b.reclaim(); stalled {
				b.grantStuck(w)
			}
			t.Reset(reclaimAfter)
			continue
		case <-ctx.Done():
		}
		break
	}
	b.mu.Lock()
	select {
	case <-w.ready: // granted meanwhile: give the bytes back
		b.free += w.got
	default:
		b.waiters = slices.DeleteFunc(b.waiters, func(x *budgetWaiter) bool { return x == w })
	}
	b.grantLocked()
	b.mu.Unlock()
	return 0, ctx.Err()
}

// grantStuck gives w, if it is first in line and no bytes came back for
// reclaimAfter, the whole blocks that are free (at least one).
func (b *budget) grantStuck(w *budgetWaiter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) == 0 || b.waiters[0] != w || time.Since(b.released) < reclaimAfter {
		return
	}
	got := b.free / blockSize * blockSize
	if got < blockSize {
		return
	}
	b.waiters[0] = nil
	b.waiters = b.waiters[1:]
	b.free -= got
	w.got = got
	close(w.ready)
}

// release returns n bytes and grants them to the waiters they satisfy, in
// order.
func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.free += n
	b.released = time.Now()
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
		w.got = w.n
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

// reclaim takes back unused room of every reservation older than
// reclaimAfter, and reports whether a holder has waited for its client
// for longer than that.
func (b *budget) reclaim() (stalled bool) {
	b.mu.Lock()
	rs := make([]reclaimable, 0, len(b.reservations))
	for r := range b.reservations {
		rs = append(rs, r)
	}
	b.mu.Unlock()
	var freed int64
	for _, r := range rs {
		n, st := r.shrink(reclaimAfter)
		freed += n
		stalled = stalled || st
	}
	b.release(freed)
	return stalled
}
