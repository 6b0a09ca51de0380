package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tusgo/tus"
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

// TestReleaseWatcherStaleBatch checks that a lock unwatched while the
// goroutine checks an earlier lock of the same batch is skipped: its
// release callback must not run after unwatch returned.
func TestReleaseWatcherStaleBatch(t *testing.T) {
	rw := newReleaseWatcher()
	defer rw.close()
	entered, proceed := make(chan int, 1), make(chan struct{})
	var blocking atomic.Int32 // 1 + the index of the lock whose check blocks
	var ws [2]*watchedLock
	var released [2]atomic.Bool
	for i := range ws {
		ws[i] = rw.watch(testCheckInterval, func() bool {
			if blocking.CompareAndSwap(0, int32(i+1)) {
				entered <- i
				<-proceed
				return false
			}
			return true
		}, func() { released[i].Store(true) })
	}
	first := <-entered
	other := 1 - first
	rw.unwatch(ws[other])
	close(proceed)
	time.Sleep(20 * testCheckInterval)
	if released[other].Load() {
		t.Fatal("a lock unwatched during its batch was released")
	}
	rw.unwatch(ws[first])
}

// TestReleaseWatcherWatchRacesExit watches and unwatches locks in a tight
// loop, so that watch often runs while the goroutine finds nothing to
// watch and returns; a lock watched then must still be served.
func TestReleaseWatcherWatchRacesExit(t *testing.T) {
	rw := newReleaseWatcher()
	defer rw.close()
	for i := range 300 {
		w := rw.watch(time.Microsecond, func() bool { return false }, func() {})
		rw.unwatch(w)
		if i%3 == 0 {
			time.Sleep(time.Duration(i%7) * time.Microsecond)
		}
		var released atomic.Bool
		w = rw.watch(time.Microsecond, func() bool { return true }, func() { released.Store(true) })
		waitUntil(t, fmt.Sprintf("the release of lock %d", i), released.Load)
		rw.unwatch(w)
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

	// close waits for a check that is running, and stops the goroutine
	// although a lock is still watched.
	entered, proceed := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	rw.watch(testCheckInterval, func() bool {
		if once.CompareAndSwap(false, true) {
			close(entered)
			<-proceed
		}
		return false
	}, func() {})
	<-entered
	closed := make(chan struct{})
	go func() { rw.close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("close returned while a check was running")
	case <-time.After(20 * testCheckInterval):
	}
	close(proceed)
	<-closed
	if !stopped(rw) {
		t.Fatal("close returned with the goroutine running")
	}
	rw.close() // a second close is harmless
}

// TestLockAfterClose checks that a closed locker refuses new locks
// instead of taking locks nobody would ask to let go.
func TestLockAfterClose(t *testing.T) {
	for _, ofd := range []bool{false, true} {
		l, err := newLocker(t.TempDir(), ofd)
		if err != nil {
			t.Fatal(err)
		}
		k := newLock(t, l, "abc")
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := k.Lock(context.Background(), nil); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("ofd %v: Lock after Close: %v, want fs.ErrClosed", ofd, err)
		}
		if err := k.(tus.TryLocker).TryLock(context.Background()); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("ofd %v: TryLock after Close: %v, want fs.ErrClosed", ofd, err)
		}
	}
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
