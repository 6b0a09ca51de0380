//go:build linux

package filestore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tusgo/tus"
)

// ofdLocker returns a FileLocker using OFD locks on dir, with short
// intervals, closed at the end of the test.
func ofdLocker(t testing.TB, dir string) *FileLocker {
	t.Helper()
	l, err := NewLocker(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l.ofd == nil {
		t.Skip("the kernel has no open file description locks")
	}
	l.RetryInterval = 2 * time.Millisecond
	l.ReleaseCheckInterval = 5 * time.Millisecond
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestOFDLockUnlock(t *testing.T) {
	dir := t.TempDir()
	l := ofdLocker(t, dir)
	ctx := context.Background()
	k := newLock(t, l, "abc")
	for i := range 3 { // a lock can be reused
		if err := k.Lock(ctx, nil); err != nil {
			t.Fatalf("Lock %d: %v", i, err)
		}
		if err := k.Lock(ctx, nil); err == nil {
			t.Error("second Lock on the same value succeeded")
		}
		if err := k.Unlock(); err != nil {
			t.Fatalf("Unlock %d: %v", i, err)
		}
	}
	if err := k.Unlock(); err == nil {
		t.Error("double Unlock succeeded")
	}
	if got := listDir(t, dir); len(got) != 1 || got[0] != ofdLockFile {
		t.Errorf("directory holds %q, want only %s: locking creates no file per upload", got, ofdLockFile)
	}
	if len(l.ofd.held) != 0 || len(l.ofd.requests) != 0 || l.mem.Len() != 0 {
		t.Errorf("state left after Unlock: held %v, requests %v, in-process %d", l.ofd.held, l.ofd.requests, l.mem.Len())
	}
}

// Two lockers on one directory stand for two processes: the waiter asks the
// holder to let go and gets the lock when it does; a waiter that gives up
// leaves no request behind.
func TestOFDHandOverAcrossLockers(t *testing.T) {
	dir := t.TempDir()
	a, b := ofdLocker(t, dir), ofdLocker(t, dir)
	holder := newLock(t, a, "up")
	asked := make(chan struct{})
	if err := holder.Lock(context.Background(), func() { close(asked) }); err != nil {
		t.Fatal(err)
	}
	// A waiter that times out.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	err := newLock(t, b, "up").Lock(ctx, nil)
	cancel()
	if !errors.Is(err, tus.ErrLockTimeout) {
		t.Fatalf("Lock while held elsewhere = %v, want ErrLockTimeout", err)
	}
	select {
	case <-asked:
	case <-time.After(5 * time.Second):
		t.Fatal("the holder was never asked to let go")
	}
	if len(b.ofd.requests) != 0 {
		t.Fatalf("the timed-out waiter left its request: %v", b.ofd.requests)
	}
	if asks, _ := a.ofd.conflict(requestBase + rangeOf("up")); asks {
		t.Fatal("a release request is still visible after the waiter gave up")
	}
	// A waiter that succeeds once the holder lets go.
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got <- newLock(t, b, "up").Lock(ctx, nil)
	}()
	select {
	case err := <-got:
		t.Fatalf("Lock returned %v while the lock was held", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := holder.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Lock after the holder let go: %v", err)
	}
}

// Several lockers stand for several processes; never two holders at once.
func TestOFDExclusionAcrossLockers(t *testing.T) {
	dir := t.TempDir()
	checkExclusion(t, []*FileLocker{ofdLocker(t, dir), ofdLocker(t, dir), ofdLocker(t, dir)}, 9)
}

// Two IDs of one process that hash to the same range share its lock: the
// range is unlocked only after the last of them lets go.
func TestOFDSharedRangeCounts(t *testing.T) {
	dir := t.TempDir()
	a, other := ofdLocker(t, dir), ofdLocker(t, dir)
	tab := a.ofd
	const start = 12345
	for range 2 {
		if ok, err := tab.tryLock(start, tab.held, 1 /* F_WRLCK */); err != nil || !ok {
			t.Fatalf("tryLock = %v, %v", ok, err)
		}
	}
	if err := tab.release(start, tab.held); err != nil {
		t.Fatal(err)
	}
	if locked, _ := other.ofd.conflict(start); !locked {
		t.Fatal("range unlocked while one holder remains")
	}
	if err := tab.release(start, tab.held); err != nil {
		t.Fatal(err)
	}
	if locked, _ := other.ofd.conflict(start); locked {
		t.Fatal("range still locked after the last holder let go")
	}
}

// Closing the lock file drops its locks, as a dying process would.
func TestOFDLocksDieWithTheirFile(t *testing.T) {
	dir := t.TempDir()
	a, b := ofdLocker(t, dir), ofdLocker(t, dir)
	if err := newLock(t, a, "up").Lock(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := newLock(t, b, "up").Lock(ctx, nil); err != nil {
		t.Fatalf("Lock after the holder's file closed: %v", err)
	}
}

func BenchmarkOFDLockUnlock(b *testing.B) {
	l := ofdLocker(b, b.TempDir())
	b.ReportAllocs()
	for b.Loop() {
		k, _ := l.NewLock("id")
		if err := k.Lock(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
		if err := k.Unlock(); err != nil {
			b.Fatal(err)
		}
	}
}

// ofdKind is the OFD implementation, for the tests run against each kind.
var ofdKind = lockerKind{
	new: ofdLocker,
	requested: func(t *testing.T, l *FileLocker, id string) bool {
		asked, err := l.ofd.conflict(requestBase + rangeOf(id))
		if err != nil {
			t.Fatal(err)
		}
		return asked
	},
	leftovers: []string{ofdLockFile},
}

func TestOFDTryLock(t *testing.T) { runTryLockTests(t, ofdKind) }
