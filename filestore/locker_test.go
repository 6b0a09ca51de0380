//go:build unix && !aix && (!solaris || illumos)

package filestore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
)

// testLocker returns a FileLocker on dir with short intervals.
func testLocker(t testing.TB, dir string) *FileLocker {
	t.Helper()
	l, err := newLocker(dir, false)
	if err != nil {
		t.Fatalf("NewLocker: %v", err)
	}
	l.RetryInterval = 2 * time.Millisecond
	l.ReleaseCheckInterval = 5 * time.Millisecond
	return l
}

func newLock(t testing.TB, l *FileLocker, id string) tus.Lock {
	t.Helper()
	k, err := l.NewLock(id)
	if err != nil {
		t.Fatalf("NewLock: %v", err)
	}
	return k
}

// signal returns a release function that closes the returned channel and
// counts its calls.
func signal() (func(), <-chan struct{}, *atomic.Int32) {
	ch := make(chan struct{})
	var n atomic.Int32
	return func() {
		if n.Add(1) == 1 {
			close(ch)
		}
	}, ch, &n
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func notYet(t *testing.T, ch <-chan error, what string) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s happened too early (err=%v)", what, err)
	case <-time.After(50 * time.Millisecond):
	}
}

// lockAsync runs k.Lock in a goroutine and returns its result channel.
func lockAsync(t *testing.T, k tus.Lock, ctx context.Context, release func()) <-chan error {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- k.Lock(ctx, release) }()
	return ch
}

func result(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Lock did not return")
		return nil
	}
}

func TestNewLocker(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	l, err := NewLocker(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("directory not created: %v", err)
	}
	if l.RetryInterval != DefaultRetryInterval || l.ReleaseCheckInterval != DefaultReleaseCheckInterval {
		t.Errorf("intervals = %v, %v", l.RetryInterval, l.ReleaseCheckInterval)
	}
	c := tus.NewStoreComposer()
	l.UseIn(c)
	if c.Locker != l || c.Core != nil {
		t.Errorf("UseIn: %+v", c)
	}
	if _, err := NewLocker(""); err == nil {
		t.Error("NewLocker(\"\") succeeded")
	}
	for _, id := range invalidIDs {
		if _, err := l.NewLock(id); err == nil {
			t.Errorf("NewLock(%q) succeeded", id)
		}
	}
	// Only the locker's own file (on Linux, the OFD lock file) may exist.
	for _, name := range listDir(t, dir) {
		if name != ofdLockFile {
			t.Errorf("invalid IDs created %q", name)
		}
	}
	if err := l.Close(); err != nil {
		t.Error(err)
	}
}

func TestLockUnlock(t *testing.T) {
	dir := t.TempDir()
	l := testLocker(t, dir)
	k := newLock(t, l, "abc")
	ctx := context.Background()
	if err := k.Unlock(); !errors.Is(err, memorylocker.ErrNotLocked) {
		t.Errorf("Unlock before Lock = %v, want ErrNotLocked", err)
	}
	for i := range 3 { // a lock can be reused
		if err := k.Lock(ctx, nil); err != nil {
			t.Fatalf("Lock %d: %v", i, err)
		}
		if err := k.Lock(ctx, nil); err == nil || errors.Is(err, tus.ErrLockTimeout) {
			t.Errorf("second Lock on the same value = %v, want a misuse error", err)
		}
		if err := k.Unlock(); err != nil {
			t.Fatalf("Unlock %d: %v", i, err)
		}
	}
	if err := k.Unlock(); !errors.Is(err, memorylocker.ErrNotLocked) {
		t.Errorf("double Unlock = %v, want ErrNotLocked", err)
	}
	if l.mem.Len() != 0 {
		t.Errorf("in-process locks held after Unlock: %d", l.mem.Len())
	}
	// Unlock removes the lock file: nothing stays behind per upload.
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("directory holds %q after Unlock, want nothing", got)
	}
	// Different IDs do not conflict.
	a, b := newLock(t, l, "a"), newLock(t, testLocker(t, dir), "b")
	if err := a.Lock(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Lock(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := b.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// TestLockHandOver checks, for a waiter in the same process and in another
// "process" (another FileLocker on the same directory, which shares nothing
// with the first but the files), that the waiter asks the holder to let go
// exactly once and gets the lock only after the holder unlocks.
func TestLockHandOver(t *testing.T) {
	tests := []struct {
		name       string
		sameLocker bool
	}{
		{name: "same process", sameLocker: true},
		{name: "other process", sameLocker: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l1 := testLocker(t, dir)
			l2 := l1
			if !tt.sameLocker {
				l2 = testLocker(t, dir)
			}
			holder, waiter := newLock(t, l1, "abc"), newLock(t, l2, "abc")
			release, released, calls := signal()
			if err := holder.Lock(context.Background(), release); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got := lockAsync(t, waiter, ctx, nil)
			waitFor(t, released, "release request")
			notYet(t, got, "waiter acquiring while holder holds")
			if err := holder.Unlock(); err != nil {
				t.Fatal(err)
			}
			if err := result(t, got); err != nil {
				t.Fatalf("waiter Lock: %v", err)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("release called %d times, want 1", n)
			}
			if err := waiter.Unlock(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, "abc.release")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("release marker left after everything unlocked: %v", err)
			}
		})
	}
}

func TestLockTimeout(t *testing.T) {
	for _, sameLocker := range []bool{true, false} {
		t.Run(map[bool]string{true: "same process", false: "other process"}[sameLocker], func(t *testing.T) {
			dir := t.TempDir()
			l1 := testLocker(t, dir)
			l2 := l1
			if !sameLocker {
				l2 = testLocker(t, dir)
			}
			holder := newLock(t, l1, "abc")
			if err := holder.Lock(context.Background(), func() {}); err != nil { // ignores requests
				t.Fatal(err)
			}
			defer holder.Unlock()
			waiter := newLock(t, l2, "abc")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := waiter.Lock(ctx, nil)
			if !errors.Is(err, tus.ErrLockTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Lock = %v, want ErrLockTimeout and DeadlineExceeded", err)
			}
			if d := time.Since(start); d < 50*time.Millisecond || d > 2*time.Second {
				t.Errorf("Lock returned after %v, want about 60ms", d)
			}
			// A failed Lock leaves nothing held: the waiter can retry later.
			if err := waiter.Unlock(); !errors.Is(err, memorylocker.ErrNotLocked) {
				t.Errorf("Unlock after failed Lock = %v", err)
			}
			if err := holder.Unlock(); err != nil {
				t.Fatal(err)
			}
			if err := waiter.Lock(context.Background(), nil); err != nil {
				t.Fatalf("Lock after holder left: %v", err)
			}
			if err := waiter.Unlock(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLockFreeWithDoneContext: a free lock is taken even with a done ctx,
// like memorylocker does.
func TestLockFreeWithDoneContext(t *testing.T) {
	k := newLock(t, testLocker(t, t.TempDir()), "abc")
	if err := k.Lock(cancelled(), nil); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	if err := k.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// TestLockReleaseAtMostOnce has a waiter in the holder's process and one in
// another process ask at the same time; the holder hears it once. Both
// waiters then get the lock, one after the other.
func TestLockReleaseAtMostOnce(t *testing.T) {
	dir := t.TempDir()
	l1, l2 := testLocker(t, dir), testLocker(t, dir)
	holder := newLock(t, l1, "abc")
	release, released, calls := signal()
	if err := holder.Lock(context.Background(), release); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nearK, farK := newLock(t, l1, "abc"), newLock(t, l2, "abc")
	near := lockAsync(t, nearK, ctx, nil)
	far := lockAsync(t, farK, ctx, nil)
	waitFor(t, released, "release request")
	// Give the far waiter's marker time to reach the watcher as well.
	time.Sleep(10 * l1.ReleaseCheckInterval)
	if n := calls.Load(); n != 1 {
		t.Errorf("release called %d times, want 1", n)
	}
	if err := holder.Unlock(); err != nil {
		t.Fatal(err)
	}
	first, second := nearK, far
	select {
	case err := <-near:
		if err != nil {
			t.Fatal(err)
		}
	case err := <-far:
		if err != nil {
			t.Fatal(err)
		}
		first, second = farK, near
	case <-time.After(5 * time.Second):
		t.Fatal("no waiter got the lock")
	}
	notYet(t, second, "second waiter acquiring while the first holds")
	if err := first.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := result(t, second); err != nil {
		t.Fatal(err)
	}
	if err := nearK.Unlock(); err != nil && first != nearK {
		t.Fatal(err)
	}
	if err := farK.Unlock(); err != nil && first != farK {
		t.Fatal(err)
	}
}

// TestLockChainOfWaiters: while one holder is asked to let go, two waiters in
// two other processes wait; after the first waiter gets the lock, the second
// one's request reaches it too (stale requests are cleared on acquisition,
// live waiters renew theirs).
func TestLockChainOfWaiters(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	type party struct {
		lock     tus.Lock
		release  func()
		released <-chan struct{}
		got      <-chan error
	}
	parties := make([]*party, 3)
	for i := range parties {
		p := &party{lock: newLock(t, testLocker(t, dir), "abc")}
		p.release, p.released, _ = signal()
		parties[i] = p
	}
	if err := parties[0].lock.Lock(ctx, parties[0].release); err != nil {
		t.Fatal(err)
	}
	parties[1].got = lockAsync(t, parties[1].lock, ctx, parties[1].release)
	parties[2].got = lockAsync(t, parties[2].lock, ctx, parties[2].release)
	waitFor(t, parties[0].released, "release request to the first holder")
	if err := parties[0].lock.Unlock(); err != nil {
		t.Fatal(err)
	}
	// One of the waiters gets the lock; the other must then ask it to let go.
	var next, last *party
	select {
	case err := <-parties[1].got:
		if err != nil {
			t.Fatal(err)
		}
		next, last = parties[1], parties[2]
	case err := <-parties[2].got:
		if err != nil {
			t.Fatal(err)
		}
		next, last = parties[2], parties[1]
	case <-time.After(5 * time.Second):
		t.Fatal("no waiter got the lock")
	}
	waitFor(t, next.released, "release request to the second holder")
	notYet(t, last.got, "last waiter acquiring while the second holds")
	if err := next.lock.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := result(t, last.got); err != nil {
		t.Fatal(err)
	}
	if err := last.lock.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// TestLockStaleMarkerIgnored: a release request left behind by a waiter that
// is gone does not make the next holder let go.
func TestLockStaleMarkerIgnored(t *testing.T) {
	dir := t.TempDir()
	l := testLocker(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "abc.release"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	k := newLock(t, l, "abc")
	release, _, calls := signal()
	if err := k.Lock(context.Background(), release); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * l.ReleaseCheckInterval)
	if n := calls.Load(); n != 0 {
		t.Errorf("stale marker triggered %d release requests", n)
	}
	if err := k.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// TestLockMutualExclusion hammers one ID from two "processes" with several
// goroutines each and checks that no two ever hold it together.
func TestLockMutualExclusion(t *testing.T) {
	dir := t.TempDir()
	lockers := []*FileLocker{testLocker(t, dir), testLocker(t, dir)}
	var inside, maxInside, acquired atomic.Int32
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := lockers[g%2]
			for range 15 {
				k, err := l.NewLock("abc")
				if err != nil {
					t.Error(err)
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err = k.Lock(ctx, nil)
				cancel()
				if err != nil {
					t.Error(err)
					return
				}
				n := inside.Add(1)
				for {
					m := maxInside.Load()
					if n <= m || maxInside.CompareAndSwap(m, n) {
						break
					}
				}
				acquired.Add(1)
				time.Sleep(100 * time.Microsecond)
				inside.Add(-1)
				if err := k.Unlock(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if m := maxInside.Load(); m != 1 {
		t.Errorf("%d holders at once", m)
	}
	if a := acquired.Load(); a != 8*15 {
		t.Errorf("acquired %d times, want %d", a, 8*15)
	}
}

// TestLockFileRemovedWhileHeld covers the flock+unlink race. A holder holds
// the lock file; a waiter has opened that same file and polls its flock. The
// file is then removed, and a newcomer creates and locks a fresh one. When
// the old holder lets go, the waiter's flock on the removed file succeeds;
// without the inode check it would hold the lock together with the
// newcomer. It must instead notice and wait for the newcomer.
func TestLockFileRemovedWhileHeld(t *testing.T) {
	dir := t.TempDir()
	holder := newLock(t, testLocker(t, dir), "abc")
	waiter := newLock(t, testLocker(t, dir), "abc")
	newcomer := newLock(t, testLocker(t, dir), "abc")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := holder.Lock(ctx, nil); err != nil {
		t.Fatal(err)
	}
	got := lockAsync(t, waiter, ctx, nil)
	// The marker appears after the waiter's first failed flock, so by then
	// it has the old lock file open.
	marker := filepath.Join(dir, "abc.release")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("waiter never asked for the lock")
		}
		time.Sleep(time.Millisecond)
	}
	if err := os.Remove(filepath.Join(dir, "abc.lock")); err != nil {
		t.Fatal(err)
	}
	if err := newcomer.Lock(ctx, nil); err != nil {
		t.Fatal(err) // gets a fresh file: removing lock files breaks exclusion for newcomers
	}
	if err := holder.Unlock(); err != nil {
		t.Fatal(err)
	}
	notYet(t, got, "waiter acquiring the removed file while the newcomer holds the new one")
	if err := newcomer.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := result(t, got); err != nil {
		t.Fatalf("waiter Lock: %v", err)
	}
	if err := waiter.Unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestIsSameFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if same, err := isSameFile(f, path); err != nil || !same {
		t.Errorf("isSameFile on the same file = %v, %v", same, err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if same, err := isSameFile(f, path); err != nil || same {
		t.Errorf("isSameFile after remove = %v, %v", same, err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if same, err := isSameFile(f, path); err != nil || same {
		t.Errorf("isSameFile after replace = %v, %v", same, err)
	}
}

// TestLockPermissionError: an unusable lock directory is reported, not
// waited on, and leaves nothing held.
func TestLockPermissionError(t *testing.T) {
	dir := t.TempDir()
	l := testLocker(t, dir)
	// Make the lock path a directory: opening it for flock works on some
	// systems, so use a path below a file instead.
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l.dir = filepath.Join(dir, "file")
	k := newLock(t, l, "abc")
	err := k.Lock(context.Background(), nil)
	if err == nil || errors.Is(err, tus.ErrLockTimeout) || !strings.Contains(err.Error(), "lock file") {
		t.Fatalf("Lock = %v, want an open error", err)
	}
	if l.mem.Len() != 0 {
		t.Error("failed Lock left the in-process lock held")
	}
}

func TestAtMostOnce(t *testing.T) {
	atMostOnce(nil)() // must not panic
	var n atomic.Int32
	f := atMostOnce(func() { n.Add(1) })
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	wg.Wait()
	if n.Load() != 1 {
		t.Errorf("called %d times", n.Load())
	}
}

func TestLockZeroIntervals(t *testing.T) {
	dir := t.TempDir()
	l1, l2 := testLocker(t, dir), testLocker(t, dir)
	l1.RetryInterval, l1.ReleaseCheckInterval = 0, -1 // defaults, no panic
	l2.RetryInterval, l2.ReleaseCheckInterval = -5, 0
	holder := newLock(t, l1, "abc")
	release, released, _ := signal()
	if err := holder.Lock(context.Background(), release); err != nil {
		t.Fatal(err)
	}
	got := lockAsync(t, newLock(t, l2, "abc"), context.Background(), nil)
	waitFor(t, released, "release request")
	if err := holder.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := result(t, got); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkLockUnlock measures an uncontended Lock/Unlock cycle of a
// FileLocker (in-process lock, open, flock, inode check, marker cleanup,
// watcher start and stop), with the in-process memorylocker as baseline.
func BenchmarkLockUnlock(b *testing.B) {
	ctx := context.Background()
	lockers := []struct {
		name   string
		locker tus.Locker
	}{
		{"filelocker", testLocker(b, b.TempDir())},
		{"memorylocker", memorylocker.New()},
	}
	for _, l := range lockers {
		b.Run(l.name, func(b *testing.B) {
			k, err := l.locker.NewLock("abc")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := k.Lock(ctx, nil); err != nil {
					b.Fatal(err)
				}
				if err := k.Unlock(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLockHandOver measures how long a waiter in another process waits
// for a holder that unlocks as soon as it is asked, with the default
// intervals.
func BenchmarkLockHandOver(b *testing.B) {
	dir := b.TempDir()
	l1, err := NewLocker(dir)
	if err != nil {
		b.Fatal(err)
	}
	l2, err := NewLocker(dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	holder, _ := l1.NewLock("abc")
	waiter, _ := l2.NewLock("abc")
	b.ReportAllocs()
	for b.Loop() {
		asked := make(chan struct{})
		if err := holder.Lock(ctx, func() { close(asked) }); err != nil {
			b.Fatal(err)
		}
		unlocked := make(chan error, 1)
		go func() {
			<-asked
			unlocked <- holder.Unlock()
		}()
		if err := waiter.Lock(ctx, nil); err != nil {
			b.Fatal(err)
		}
		if err := <-unlocked; err != nil {
			b.Fatal(err)
		}
		if err := waiter.Unlock(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLockExclusionAcrossLockers: several lockers on one directory stand for
// several processes. Lock files come and go with every Unlock; still, never
// two holders at once.
func TestLockExclusionAcrossLockers(t *testing.T) {
	dir := t.TempDir()
	checkExclusion(t, []*FileLocker{testLocker(t, dir), testLocker(t, dir), testLocker(t, dir), testLocker(t, dir)}, 8)
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("directory holds %q after every lock was released", got)
	}
}

// checkExclusion has goroutines take turns, through lockers, at one lock,
// and fails if two ever hold it at once.
func checkExclusion(t *testing.T, lockers []*FileLocker, goroutines int) {
	t.Helper()
	var inside, violations atomic.Int32
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 60 {
				k := newLock(t, lockers[g%len(lockers)], "hot")
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err := k.Lock(ctx, nil)
				cancel()
				if err != nil {
					t.Error(err)
					return
				}
				if inside.Add(1) != 1 {
					violations.Add(1)
				}
				time.Sleep(50 * time.Microsecond)
				inside.Add(-1)
				if err := k.Unlock(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v := violations.Load(); v != 0 {
		t.Fatalf("%d times two holders held the lock at once", v)
	}
}

// lockerKind is one implementation of FileLocker's cross-process lock, for
// tests that run against each.
type lockerKind struct {
	// new returns a locker of this kind on dir with short intervals; two
	// lockers on one directory stand for two processes.
	new func(testing.TB, string) *FileLocker
	// requested reports whether a release request for id is visible to a
	// holder in another process.
	requested func(*testing.T, *FileLocker, string) bool
	// leftovers are the names a locker of this kind leaves in its directory
	// when every lock is released.
	leftovers []string
}

// flockKind is the flock(2) implementation, forced even where OFD locks
// exist.
var flockKind = lockerKind{
	new: testLocker,
	requested: func(t *testing.T, l *FileLocker, id string) bool {
		_, err := os.Lstat(filepath.Join(l.dir, id+releaseSuffix))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return err == nil
	},
}

// tryLocker returns k as a tus.TryLocker.
func tryLocker(t *testing.T, k tus.Lock) tus.TryLocker {
	t.Helper()
	tl, ok := k.(tus.TryLocker)
	if !ok {
		t.Fatalf("%T does not implement tus.TryLocker", k)
	}
	return tl
}

// hangCtx returns a context that ends only when the test would have hung:
// an error wrapping tus.ErrLockTimeout from a TryLock under it means that
// TryLock waited.
func hangCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustBeHeld checks that err is TryLock's failure for a lock held by
// someone else, returned without waiting.
func mustBeHeld(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, tus.ErrLockHeld) || errors.Is(err, tus.ErrLockTimeout) {
		t.Fatalf("%s = %v, want an error wrapping tus.ErrLockHeld (and not ErrLockTimeout)", what, err)
	}
}

func TestTryLock(t *testing.T) { runTryLockTests(t, flockKind) }

// runTryLockTests runs the TryLock tests against one kind of locker.
func runTryLockTests(t *testing.T, kind lockerKind) {
	t.Run("free", func(t *testing.T) { testTryLockFree(t, kind) })
	t.Run("held does not ask", func(t *testing.T) { testTryLockHeldDoesNotAsk(t, kind) })
	t.Run("waiters get it after Unlock", func(t *testing.T) { testLockWaitsForTryLockHolder(t, kind) })
	t.Run("done context", func(t *testing.T) {
		k := newLock(t, kind.new(t, t.TempDir()), "abc")
		if err := tryLocker(t, k).TryLock(cancelled()); err != nil {
			t.Fatalf("TryLock of a free lock with a done ctx: %v", err)
		}
		if err := k.Unlock(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("exclusion", func(t *testing.T) {
		dir := t.TempDir()
		checkExclusionWithTry(t, []*FileLocker{kind.new(t, dir), kind.new(t, dir), kind.new(t, dir)}, 8)
		if got := listDir(t, dir); !slices.Equal(got, kind.leftovers) {
			t.Errorf("directory holds %q after every lock was released, want %q", got, kind.leftovers)
		}
	})
}

// testTryLockFree: TryLock takes a free lock, which then excludes TryLock and
// Lock from this process and another until Unlock, and Unlock leaves
// nothing behind.
func testTryLockFree(t *testing.T, kind lockerKind) {
	dir := t.TempDir()
	l1, l2 := kind.new(t, dir), kind.new(t, dir)
	k := newLock(t, l1, "abc")
	for i := range 2 { // a lock can be reused
		if err := tryLocker(t, k).TryLock(hangCtx(t)); err != nil {
			t.Fatalf("TryLock %d of a free lock: %v", i, err)
		}
		if err := tryLocker(t, k).TryLock(hangCtx(t)); err == nil || errors.Is(err, tus.ErrLockHeld) {
			t.Errorf("second TryLock on the same value = %v, want a misuse error", err)
		}
		if err := k.Lock(hangCtx(t), nil); err == nil || errors.Is(err, tus.ErrLockTimeout) {
			t.Errorf("Lock on the value that TryLocked = %v, want a misuse error", err)
		}
		for _, l := range []*FileLocker{l1, l2} {
			other := newLock(t, l, "abc")
			mustBeHeld(t, tryLocker(t, other).TryLock(hangCtx(t)), "TryLock of a held lock")
			if err := other.Unlock(); !errors.Is(err, memorylocker.ErrNotLocked) {
				t.Errorf("Unlock after a failed TryLock = %v, want ErrNotLocked", err)
			}
		}
		if n := l2.mem.Len(); n != 0 {
			t.Errorf("a failed TryLock in the other process kept its in-process lock (%d held)", n)
		}
		if kind.requested(t, l1, "abc") {
			t.Error("a failed TryLock left a release request")
		}
		for _, l := range []*FileLocker{l1, l2} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			err := newLock(t, l, "abc").Lock(ctx, nil)
			cancel()
			if !errors.Is(err, tus.ErrLockTimeout) {
				t.Errorf("Lock while a TryLock holder holds = %v, want ErrLockTimeout", err)
			}
		}
		if err := k.Unlock(); err != nil {
			t.Fatalf("Unlock %d: %v", i, err)
		}
		// The other process gets it now, by TryLock as by Lock.
		other := newLock(t, l2, "abc")
		if err := tryLocker(t, other).TryLock(hangCtx(t)); err != nil {
			t.Fatalf("TryLock after Unlock: %v", err)
		}
		mustBeHeld(t, tryLocker(t, newLock(t, l1, "abc")).TryLock(hangCtx(t)), "TryLock of a lock held by the other process")
		if err := other.Unlock(); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Unlock(); !errors.Is(err, memorylocker.ErrNotLocked) {
		t.Errorf("double Unlock = %v, want ErrNotLocked", err)
	}
	if l1.mem.Len() != 0 || l2.mem.Len() != 0 {
		t.Errorf("in-process locks held after Unlock: %d, %d", l1.mem.Len(), l2.mem.Len())
	}
	if got := listDir(t, dir); !slices.Equal(got, kind.leftovers) {
		t.Errorf("directory holds %q after Unlock, want %q", got, kind.leftovers)
	}
}

// testTryLockHeldDoesNotAsk: TryLock of a lock held through Lock, from the
// holder's process and from another, fails at once and does not ask the
// holder to let go, while a Lock does ask.
func testTryLockHeldDoesNotAsk(t *testing.T, kind lockerKind) {
	dir := t.TempDir()
	l1, l2 := kind.new(t, dir), kind.new(t, dir)
	// The holder never looks for requests from other processes, so one
	// left by TryLock would stay visible.
	l1.ReleaseCheckInterval = time.Hour
	holder := newLock(t, l1, "abc")
	release, _, calls := signal()
	if err := holder.Lock(hangCtx(t), release); err != nil {
		t.Fatal(err)
	}
	for _, l := range []*FileLocker{l1, l2} {
		for range 3 {
			mustBeHeld(t, tryLocker(t, newLock(t, l, "abc")).TryLock(hangCtx(t)), "TryLock of a held lock")
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("TryLock called the holder's release callback %d times, want 0", n)
	}
	if kind.requested(t, l1, "abc") {
		t.Error("TryLock left a release request for the holder")
	}
	if l1.mem.Len() != 1 || l2.mem.Len() != 0 {
		t.Errorf("in-process locks held: %d, %d, want 1, 0", l1.mem.Len(), l2.mem.Len())
	}
	// A Lock from the other process does ask: the check above can see it.
	ctx, cancel := context.WithCancel(context.Background())
	got := lockAsync(t, newLock(t, l2, "abc"), ctx, nil)
	for deadline := time.Now().Add(5 * time.Second); !kind.requested(t, l1, "abc"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a waiting Lock's release request never became visible")
		}
	}
	cancel()
	if err := result(t, got); !errors.Is(err, tus.ErrLockTimeout) {
		t.Fatalf("cancelled Lock = %v, want ErrLockTimeout", err)
	}
	// And a Lock from the holder's process asks through the callback.
	ctx, cancel = context.WithCancel(context.Background())
	got = lockAsync(t, newLock(t, l1, "abc"), ctx, nil)
	for deadline := time.Now().Add(5 * time.Second); calls.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a waiting Lock never asked the holder")
		}
	}
	cancel()
	if err := result(t, got); !errors.Is(err, tus.ErrLockTimeout) {
		t.Fatalf("cancelled Lock = %v, want ErrLockTimeout", err)
	}
	if err := holder.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// testLockWaitsForTryLockHolder: Locks waiting, in the holder's process and
// in another, for a lock taken by TryLock get it one after the other once
// the holder unlocks.
func testLockWaitsForTryLockHolder(t *testing.T, kind lockerKind) {
	dir := t.TempDir()
	l1, l2 := kind.new(t, dir), kind.new(t, dir)
	holder := newLock(t, l1, "abc")
	if err := tryLocker(t, holder).TryLock(hangCtx(t)); err != nil {
		t.Fatal(err)
	}
	nearK, farK := newLock(t, l1, "abc"), newLock(t, l2, "abc")
	near := lockAsync(t, nearK, hangCtx(t), nil)
	far := lockAsync(t, farK, hangCtx(t), nil)
	// The far waiter's request shows that it is waiting; the holder,
	// with no callback, ignores it.
	for deadline := time.Now().Add(5 * time.Second); !kind.requested(t, l1, "abc"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the waiter in the other process never asked")
		}
	}
	notYet(t, near, "waiter in the holder's process acquiring while the TryLock holder holds")
	notYet(t, far, "waiter in another process acquiring while the TryLock holder holds")
	if err := holder.Unlock(); err != nil {
		t.Fatal(err)
	}
	first, second := nearK, far
	select {
	case err := <-near:
		if err != nil {
			t.Fatal(err)
		}
	case err := <-far:
		if err != nil {
			t.Fatal(err)
		}
		first, second = farK, near
	case <-time.After(5 * time.Second):
		t.Fatal("no waiter got the lock after the TryLock holder unlocked")
	}
	notYet(t, second, "second waiter acquiring while the first holds")
	if err := first.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := result(t, second); err != nil {
		t.Fatal(err)
	}
	for _, k := range []tus.Lock{nearK, farK} {
		if k != first {
			if err := k.Unlock(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := listDir(t, dir); !slices.Equal(got, kind.leftovers) {
		t.Errorf("directory holds %q after every lock was released, want %q", got, kind.leftovers)
	}
}

// TestTryLockError: a lock that cannot be tried for another reason than a
// holder fails without tus.ErrLockHeld and leaves nothing held.
func TestTryLockError(t *testing.T) {
	dir := t.TempDir()
	l := testLocker(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l.dir = filepath.Join(dir, "file")
	k := newLock(t, l, "abc")
	err := tryLocker(t, k).TryLock(hangCtx(t))
	if err == nil || errors.Is(err, tus.ErrLockHeld) || !strings.Contains(err.Error(), "lock file") {
		t.Fatalf("TryLock = %v, want an open error", err)
	}
	if l.mem.Len() != 0 {
		t.Error("failed TryLock left the in-process lock held")
	}
}

// checkExclusionWithTry is checkExclusion with every other goroutine taking
// the lock by TryLock, trying again after a short pause while it is held.
func checkExclusionWithTry(t *testing.T, lockers []*FileLocker, goroutines int) {
	t.Helper()
	const turns = 40
	var inside, violations, acquired, busy atomic.Int32
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range turns {
				k := newLock(t, lockers[g%len(lockers)], "hot")
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				var err error
				if g%2 == 1 {
					for {
						err = k.(tus.TryLocker).TryLock(ctx)
						if !errors.Is(err, tus.ErrLockHeld) || ctx.Err() != nil {
							break
						}
						busy.Add(1)
						time.Sleep(100 * time.Microsecond)
					}
				} else {
					err = k.Lock(ctx, nil)
				}
				cancel()
				if err != nil {
					t.Error(err)
					return
				}
				acquired.Add(1)
				if inside.Add(1) != 1 {
					violations.Add(1)
				}
				time.Sleep(50 * time.Microsecond)
				inside.Add(-1)
				if err := k.Unlock(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v := violations.Load(); v != 0 {
		t.Fatalf("%d times two holders held the lock at once", v)
	}
	if a := acquired.Load(); a != int32(goroutines*turns) {
		t.Errorf("acquired %d times, want %d", a, goroutines*turns)
	}
	t.Logf("TryLock found the lock held %d times", busy.Load())
}
