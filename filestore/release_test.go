package filestore

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

const testCheckInterval = 2 * time.Millisecond

// waitUntil polls cond until it holds, failing the test after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// stopped reports whether rw's goroutine has returned, waiting up to 10 s.
func stopped(rw *releaseWatcher) bool {
	done := make(chan struct{})
	go func() { rw.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(10 * time.Second):
		return false
	}
}

func TestReleaseWatcherReleasesOnce(t *testing.T) {
	rw := newReleaseWatcher()
	defer rw.close()
	var asks, releases atomic.Int32
	w := rw.watch(testCheckInterval, func() bool { asks.Add(1); return true }, func() { releases.Add(1) })
	waitUntil(t, "the release", func() bool { return releases.Load() == 1 })
	// A released lock is not checked again, though it is still held.
	n := asks.Load()
	time.Sleep(20 * testCheckInterval)
	if got := releases.Load(); got != 1 {
		t.Fatalf("release called %d times, want 1", got)
	}
	if got := asks.Load(); got != n {
		t.Fatalf("asked called %d more times after the release", got-n)
	}
	rw.unwatch(w)
	if !stopped(rw) {
		t.Fatal("the goroutine still runs with nothing to watch")
	}
}

func TestReleaseWatcherNoReleaseAfterUnwatch(t *testing.T) {
	rw := newReleaseWatcher()
	defer rw.close()
	var unwatched atomic.Bool
	var asks, releases atomic.Int32
	w := rw.watch(testCheckInterval, func() bool {
		asks.Add(1)
		return unwatched.Load()
	}, func() { releases.Add(1) })
	waitUntil(t, "a check", func() bool { return asks.Load() > 0 })
	rw.unwatch(w)
	unwatched.Store(true) // a check that still came would now release
	time.Sleep(20 * testCheckInterval)
	if got := releases.Load(); got != 0 {
		t.Fatalf("release called %d times after unwatch", got)
	}
	if !stopped(rw) {
		t.Fatal("the goroutine still runs with nothing to watch")
	}
}

// TestReleaseWatcherUnwatchWaitsForCheck checks that unwatch returns only
// after a check of the same lock that is running has ended, so that the
// holder's callback never runs after Unlock returned.
func TestReleaseWatcherUnwatchWaitsForCheck(t *testing.T) {
	rw := newReleaseWatcher()
	defer rw.close()
	entered, proceed := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	var released atomic.Bool
	w := rw.watch(testCheckInterval, func() bool {
		if first.CompareAndSwap(false, true) {
			close(entered)
			<-proceed
			return true
		}
		return false
	}, func() { released.Store(true) })
	<-entered
	unwatched := make(chan struct{})
	go func() { rw.unwatch(w); close(unwatched) }()
	select {
	case <-unwatched:
		t.Fatal("unwatch returned while the lock's check was running")
	case <-time.After(20 * testCheckInterval):
	}
	close(proceed)
	<-unwatched
	if !released.Load() {
		t.Fatal("the check that had started did not release")
	}
}

func TestReleaseWatcherRestartsAndCloses(t *testing.T) {
	rw := newReleaseWatcher()
	w := rw.watch(testCheckInterval, func() bool { return false }, func() {})
	rw.unwatch(w)
	if !stopped(rw) {
		t.Fatal("the goroutine still runs with nothing to watch")
	}
	var releases atomic.Int32
	w = rw.watch(testCheckInterval, func() bool { return true }, func() { releases.Add(1) })
	waitUntil(t, "the release after a restart", func() bool { return releases.Load() == 1 })
	rw.unwatch(w)

	// A held lock keeps the goroutine running until close, which waits
	// for it; after close nothing is checked.
	rw.watch(testCheckInterval, func() bool { return false }, func() {})
	rw.close()
	if !stopped(rw) {
		t.Fatal("close returned with the goroutine running")
	}
	var asked atomic.Bool
	rw.watch(testCheckInterval, func() bool { asked.Store(true); return true }, func() {})
	time.Sleep(20 * testCheckInterval)
	if asked.Load() {
		t.Fatal("a lock watched after close was checked")
	}
	rw.close() // a second close is harmless
}

// TestLockerHoldsManyLocksWithOneGoroutine checks that the locks a
// FileLocker holds do not cost a goroutine each, and that a release
// request from another process still reaches the right holder.
func TestLockerHoldsManyLocksWithOneGoroutine(t *testing.T) {
	for _, kind := range []struct {
		name string
		ofd  bool
	}{{"flock", false}, {"ofd", true}} {
		t.Run(kind.name, func(t *testing.T) {
			dir := t.TempDir()
			l, err := newLocker(dir, kind.ofd)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			l.ReleaseCheckInterval = testCheckInterval
			other, err := newLocker(dir, kind.ofd)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			other.RetryInterval = testCheckInterval

			const n = 100
			ctx := context.Background()
			before := runtime.NumGoroutine()
			released := make([]atomic.Bool, n)
			locks := make([]interface{ Unlock() error }, n)
			for i := range n {
				k := newLock(t, l, fmt.Sprintf("upload%03d", i))
				if err := k.Lock(ctx, func() { released[i].Store(true) }); err != nil {
					t.Fatal(err)
				}
				locks[i] = k
			}
			if grown := runtime.NumGoroutine() - before; grown > 5 {
				t.Fatalf("holding %d locks started %d goroutines", n, grown)
			}

			// A waiter in another process asks for upload042; only its
			// holder is asked to let go.
			waiter := newLock(t, other, "upload042")
			got := make(chan error, 1)
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			go func() { got <- waiter.Lock(wctx, nil) }()
			waitUntil(t, "the release request", released[42].Load)
			if err := locks[42].Unlock(); err != nil {
				t.Fatal(err)
			}
			if err := <-got; err != nil {
				t.Fatalf("the waiter did not get the lock: %v", err)
			}
			for i := range n {
				if i != 42 && released[i].Load() {
					t.Errorf("lock %d was asked to let go", i)
				}
				if i != 42 {
					if err := locks[i].Unlock(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := waiter.Unlock(); err != nil {
				t.Fatal(err)
			}
			if !stopped(l.watcher) {
				t.Fatal("the watcher still runs with no lock held")
			}
		})
	}
}
