package memorylocker_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
)

func TestLockUnlock(t *testing.T) {
	l := memorylocker.New()
	a, err := l.NewLock("a")
	require.NoError(t, err)
	require.NoError(t, a.Lock(context.Background(), nil))
	assert.Equal(t, 1, l.Len())

	// Another ID is independent.
	b, _ := l.NewLock("b")
	require.NoError(t, b.Lock(context.Background(), nil))
	assert.Equal(t, 2, l.Len())

	require.NoError(t, a.Unlock())
	require.NoError(t, b.Unlock())
	assert.Equal(t, 0, l.Len(), "unlocked entries must not stay in the map")
	assert.ErrorIs(t, a.Unlock(), memorylocker.ErrNotLocked)
}

func TestLockTwiceWithSameLockFails(t *testing.T) {
	l := memorylocker.New()
	a, _ := l.NewLock("a")
	require.NoError(t, a.Lock(context.Background(), nil))
	assert.Error(t, a.Lock(context.Background(), nil))
	require.NoError(t, a.Unlock())
}

func TestWaiterAsksHolderToRelease(t *testing.T) {
	l := memorylocker.New()
	holder, _ := l.NewLock("u")
	released := make(chan struct{})
	var calls atomic.Int32
	require.NoError(t, holder.Lock(context.Background(), func() {
		calls.Add(1)
		close(released)
	}))
	go func() {
		<-released
		_ = holder.Unlock()
	}()
	waiter, _ := l.NewLock("u")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, waiter.Lock(ctx, nil))
	assert.EqualValues(t, 1, calls.Load())
	require.NoError(t, waiter.Unlock())
}

func TestReleaseRequestedOnceForManyWaiters(t *testing.T) {
	l := memorylocker.New()
	holder, _ := l.NewLock("u")
	var calls atomic.Int32
	require.NoError(t, holder.Lock(context.Background(), func() { calls.Add(1) }))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, _ := l.NewLock("u")
			err := w.Lock(ctx, nil)
			assert.True(t, errors.Is(err, tus.ErrLockTimeout), "got %v", err)
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 1, calls.Load())
	require.NoError(t, holder.Unlock())
	assert.Equal(t, 0, l.Len())
}

func TestTimeoutWrapsContextError(t *testing.T) {
	l := memorylocker.New()
	holder, _ := l.NewLock("u")
	require.NoError(t, holder.Lock(context.Background(), nil))
	w, _ := l.NewLock("u")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := w.Lock(ctx, nil)
	assert.ErrorIs(t, err, tus.ErrLockTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	// The holder still holds; the failed waiter left nothing behind.
	assert.Equal(t, 1, l.Len())
	require.NoError(t, holder.Unlock())
}

// Many goroutines contend for one lock; at most one may hold it at a time.
func TestMutualExclusion(t *testing.T) {
	l := memorylocker.New()
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				k, _ := l.NewLock("hot")
				if err := k.Lock(context.Background(), nil); err != nil {
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
				inside.Add(-1)
				if err := k.Unlock(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 1, maxInside.Load())
	assert.Equal(t, 0, l.Len())
}

func BenchmarkLockUnlock(b *testing.B) {
	l := memorylocker.New()
	b.ReportAllocs()
	for b.Loop() {
		k, _ := l.NewLock("id")
		_ = k.Lock(context.Background(), nil)
		_ = k.Unlock()
	}
}

// tryLock returns k as a tus.TryLocker.
func tryLock(t *testing.T, k tus.Lock) tus.TryLocker {
	t.Helper()
	tl, ok := k.(tus.TryLocker)
	require.True(t, ok, "memorylocker locks implement tus.TryLocker")
	return tl
}

// A free lock is taken by TryLock and then excludes TryLock and Lock of
// other values until Unlock; the same value can neither take it twice.
func TestTryLockFree(t *testing.T) {
	l := memorylocker.New()
	a, _ := l.NewLock("u")
	require.NoError(t, tryLock(t, a).TryLock(context.Background()))
	assert.Equal(t, 1, l.Len())

	err := tryLock(t, a).TryLock(context.Background())
	require.Error(t, err, "TryLock on the value that holds the lock")
	assert.NotErrorIs(t, err, tus.ErrLockHeld, "misuse is not contention")
	assert.Error(t, a.Lock(context.Background(), nil), "Lock on the value that holds the lock")

	b, _ := l.NewLock("u")
	assert.ErrorIs(t, tryLock(t, b).TryLock(context.Background()), tus.ErrLockHeld)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, b.Lock(ctx, nil), tus.ErrLockTimeout)

	// Another ID is independent.
	c, _ := l.NewLock("v")
	require.NoError(t, tryLock(t, c).TryLock(context.Background()))
	require.NoError(t, c.Unlock())

	require.NoError(t, a.Unlock())
	assert.Equal(t, 0, l.Len())
	require.NoError(t, tryLock(t, b).TryLock(context.Background()), "TryLock after Unlock")
	require.NoError(t, b.Unlock())
	assert.ErrorIs(t, a.Unlock(), memorylocker.ErrNotLocked)
}

// TryLock on a lock held by Lock fails with ErrLockHeld without calling the
// holder's release callback, however often it is tried, even with a ctx
// that would never end: it does not wait.
func TestTryLockHeldDoesNotAskHolder(t *testing.T) {
	l := memorylocker.New()
	holder, _ := l.NewLock("u")
	var calls atomic.Int32
	asked := make(chan struct{})
	require.NoError(t, holder.Lock(context.Background(), func() {
		if calls.Add(1) == 1 {
			close(asked)
		}
	}))
	for range 3 {
		k, _ := l.NewLock("u")
		err := tryLock(t, k).TryLock(context.Background())
		assert.ErrorIs(t, err, tus.ErrLockHeld)
		assert.NotErrorIs(t, err, tus.ErrLockTimeout)
		assert.ErrorIs(t, k.Unlock(), memorylocker.ErrNotLocked, "a failed TryLock holds nothing")
	}
	assert.Zero(t, calls.Load(), "TryLock must not ask the holder to let go")
	assert.Equal(t, 1, l.Len())

	// The holder's callback still works for a real waiter.
	go func() {
		<-asked
		_ = holder.Unlock()
	}()
	w, _ := l.NewLock("u")
	require.NoError(t, w.Lock(context.Background(), nil))
	assert.EqualValues(t, 1, calls.Load())
	require.NoError(t, w.Unlock())
}

// A Lock waiting for a TryLock holder asks nothing (there is no callback)
// and gets the lock once the holder unlocks.
func TestLockWaitsForTryLockHolder(t *testing.T) {
	l := memorylocker.New()
	holder, _ := l.NewLock("u")
	require.NoError(t, tryLock(t, holder).TryLock(context.Background()))

	waiter, _ := l.NewLock("u")
	got := make(chan error, 1)
	go func() { got <- waiter.Lock(context.Background(), nil) }()
	// A second waiter's TryLock still sees it held while the first waits.
	other, _ := l.NewLock("u")
	assert.ErrorIs(t, tryLock(t, other).TryLock(context.Background()), tus.ErrLockHeld)
	select {
	case err := <-got:
		t.Fatalf("Lock returned %v while a TryLock holder held the lock", err)
	default:
	}
	require.NoError(t, holder.Unlock())
	require.NoError(t, <-got)
	assert.ErrorIs(t, tryLock(t, other).TryLock(context.Background()), tus.ErrLockHeld)
	require.NoError(t, waiter.Unlock())
	assert.Equal(t, 0, l.Len())
}

// Goroutines mixing Lock and TryLock (tried again while held) on one ID
// never hold it together, and each gets every turn.
func TestTryLockMutualExclusion(t *testing.T) {
	const turns = 200
	l := memorylocker.New()
	var inside, violations, acquired, busy atomic.Int32
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range turns {
				k, _ := l.NewLock("hot")
				var err error
				if g%2 == 0 {
					err = k.Lock(context.Background(), nil)
				} else {
					for {
						err = k.(tus.TryLocker).TryLock(context.Background())
						if !errors.Is(err, tus.ErrLockHeld) {
							break
						}
						busy.Add(1)
						runtime.Gosched()
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
				acquired.Add(1)
				if inside.Add(1) != 1 {
					violations.Add(1)
				}
				inside.Add(-1)
				if err := k.Unlock(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, violations.Load())
	assert.EqualValues(t, 8*turns, acquired.Load())
	assert.Equal(t, 0, l.Len())
	t.Logf("TryLock found the lock held %d times", busy.Load())
}
