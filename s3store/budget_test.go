package s3store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestBudgetFirstComeFirstServed: waiters get bytes in the order they came,
// a small request neither waits behind nor jumps the queue through
// tryAcquire, and a waiter that gives up leaves the queue and lets those
// behind it through.
func TestBudgetFirstComeFirstServed(t *testing.T) {
	b := newBudget(4)
	ctx := context.Background()
	if _, err := b.acquire(ctx, 3); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 4)
	waitFor := func(name string, n int64) {
		before := queued(b)
		go func() {
			if got, err := b.acquire(ctx, n); err != nil || got != n {
				if err == nil {
					order <- fmt.Sprintf("%s: got %d of %d", name, got, n)
					return
				}
				order <- name + ": " + err.Error()
				return
			}
			order <- name
		}()
		queuedN(b, before+1) // queued before the next one
	}
	waitFor("two", 2)
	if b.tryAcquire(1) {
		t.Fatal("tryAcquire took a free byte while a request waited")
	}
	waitFor("one", 1)
	b.release(1) // 2 free: enough for the first in line, and then none
	if got := <-order; got != "two" {
		t.Fatalf("granted %q first, want two", got)
	}
	if n := queued(b); n != 1 {
		t.Fatalf("%d waiting, want one", n)
	}
	b.release(1)
	if got := <-order; got != "one" {
		t.Fatalf("granted %q, want one", got)
	}
	// Nothing free: a request for 4 waits, then one for 1 behind it.
	gone, cancel := context.WithCancel(ctx)
	cancelled := make(chan error, 1)
	go func() {
		_, err := b.acquire(gone, 4)
		cancelled <- err
	}()
	queuedN(b, 1)
	waitFor("last", 1)
	b.release(1) // "last" fits, but waits behind the request for 4
	select {
	case got := <-order:
		t.Fatalf("%q jumped the queue", got)
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	if err := <-cancelled; err == nil {
		t.Fatal("a cancelled acquire succeeded")
	}
	if got := <-order; got != "last" {
		t.Fatalf("granted %q after the cancel, want last", got)
	}
	b.release(4) // everything back: 1 + 2 + 1 held by the test, and last's
	if b.free != 4 || queued(b) != 0 {
		t.Fatalf("free %d, waiters %d after everything was returned", b.free, queued(b))
	}
}

// queued returns how many requests wait for b's bytes.
func queued(b *budget) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiters)
}

// queuedN waits until n requests wait for b's bytes.
func queuedN(b *budget, n int) {
	for queued(b) < n {
		time.Sleep(time.Millisecond)
	}
}

// TestBudgetStuck: when the first in line has waited reclaimAfter, nothing
// could be reclaimed, a holder waits for its client and no bytes came back
// meanwhile (the budget is stuck on bytes stalled clients filled), it takes
// the whole blocks that are free instead of waiting for all it asked for.
func TestBudgetStuck(t *testing.T) {
	b := newBudget(3 * blockSize)
	b.register(stalledHolder{})
	ctx := context.Background()
	if got, err := b.acquire(ctx, 2*blockSize); err != nil || got != 2*blockSize {
		t.Fatalf("acquire: %d, %v", got, err)
	}
	start := time.Now()
	got, err := b.acquire(ctx, 3*blockSize)
	if err != nil || got != blockSize {
		t.Fatalf("stuck acquire: %d, %v; want the one free block", got, err)
	}
	if waited := time.Since(start); waited < reclaimAfter {
		t.Fatalf("granted a part after %v, before reclaimAfter", waited)
	}
	b.release(3 * blockSize)
	if b.free != b.total {
		t.Fatalf("free %d of %d after everything was returned", b.free, b.total)
	}
}

// stalledHolder is a reservation whose client has stalled with its room
// filled: nothing to give back.
type stalledHolder struct{}

func (stalledHolder) shrink(time.Duration) (int64, bool) { return 0, true }
