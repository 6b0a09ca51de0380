package memorylocker_test

import (
	"context"
	"errors"
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
