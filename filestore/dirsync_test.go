package filestore

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestDirSyncerCoalesces: callers arriving while an fsync runs wait for it
// and then share one new fsync, which started after each of them called.
func TestDirSyncerCoalesces(t *testing.T) {
	var d dirSyncer
	d.init(t.TempDir())
	var syncs atomic.Int32
	entered := make(chan int, 4)
	release := make(chan struct{})
	d.sync = func(string) error {
		n := int(syncs.Add(1))
		entered <- n
		<-release
		return nil
	}

	firstDone := make(chan error, 1)
	go func() { firstDone <- d.syncDir() }()
	if n := <-entered; n != 1 {
		t.Fatalf("first fsync is number %d", n)
	}
	const late = 5
	lateDone := make(chan error, late)
	for range late {
		go func() { lateDone <- d.syncDir() }()
	}
	waitForWaiters(t, &d, late)

	release <- struct{}{} // fsync 1 ends
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	// The late callers must not be satisfied by fsync 1: one of them starts
	// fsync 2, and all wait for it.
	if n := <-entered; n != 2 {
		t.Fatalf("second fsync is number %d", n)
	}
	select {
	case err := <-lateDone:
		t.Fatalf("a late caller returned (%v) before the fsync that started after its call ended", err)
	default:
	}
	release <- struct{}{}
	for range late {
		if err := <-lateDone; err != nil {
			t.Fatal(err)
		}
	}
	if n := syncs.Load(); n != 2 {
		t.Errorf("%d fsyncs for %d callers, want 2", n, 1+late)
	}
}

// waitForWaiters waits until n callers of d.syncDir wait for the running fsync.
func waitForWaiters(t *testing.T, d *dirSyncer, n int) {
	t.Helper()
	for {
		d.mu.Lock()
		w := d.waiting
		d.mu.Unlock()
		if w == n {
			return
		}
		if w > n {
			t.Fatalf("%d waiters, want %d", w, n)
		}
		runtime.Gosched()
	}
}

// TestDirSyncerReportsError: the callers that share a failing fsync get its
// error, and the next caller starts a new fsync.
func TestDirSyncerReportsError(t *testing.T) {
	var d dirSyncer
	d.init(t.TempDir())
	boom := errors.New("boom")
	var calls int
	d.sync = func(string) error {
		calls++
		if calls == 1 {
			return boom
		}
		return nil
	}
	if err := d.syncDir(); !errors.Is(err, boom) {
		t.Fatalf("first syncDir = %v, want %v", err, boom)
	}
	if err := d.syncDir(); err != nil {
		t.Fatalf("second syncDir = %v, want nil", err)
	}
	if calls != 2 {
		t.Errorf("%d fsyncs, want 2", calls)
	}
}

// TestDirSyncerCovers: under load, every caller returns only after an
// fsync that started after its call ended, and never more fsyncs run than
// callers.
func TestDirSyncerCovers(t *testing.T) {
	var d dirSyncer
	d.init(t.TempDir())
	var clock atomic.Int64 // orders events
	type span struct{ start, end int64 }
	var mu sync.Mutex
	var spans []span
	var running atomic.Int32
	d.sync = func(string) error {
		if running.Add(1) != 1 {
			t.Error("two fsyncs ran at once")
		}
		s := span{start: clock.Add(1)}
		runtime.Gosched()
		s.end = clock.Add(1)
		running.Add(-1)
		mu.Lock()
		spans = append(spans, s)
		mu.Unlock()
		return nil
	}
	const callers, rounds = 8, 200
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				called := clock.Add(1)
				if err := d.syncDir(); err != nil {
					t.Error(err)
					return
				}
				returned := clock.Add(1)
				mu.Lock()
				ok := false
				for _, s := range spans {
					if s.start > called && s.end < returned {
						ok = true
						break
					}
				}
				mu.Unlock()
				if !ok {
					t.Error("syncDir returned without an fsync that started after the call")
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(spans) > callers*rounds {
		t.Errorf("%d fsyncs for %d calls", len(spans), callers*rounds)
	}
	t.Logf("%d fsyncs for %d calls", len(spans), callers*rounds)
}

// TestDirSyncerReal syncs a real directory.
func TestDirSyncerReal(t *testing.T) {
	var d dirSyncer
	d.init(t.TempDir())
	if err := d.syncDir(); err != nil {
		t.Fatal(err)
	}
}
