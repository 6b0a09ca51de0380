package s3store

import (
	"context"
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
	if err := b.acquire(ctx, 3); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 4)
	waitFor := func(name string, n int64) {
		before := queued(b)
		go func() {
			if err := b.acquire(ctx, n); err != nil {
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
	go func() { cancelled <- b.acquire(gone, 4) }()
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
