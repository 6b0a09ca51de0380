package redislocker_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/internal/redistest"
	"github.com/tusgo/tus/redislocker"
)

// tryLocker returns a new lock of l for id as a tus.TryLocker.
func tryLocker(t *testing.T, l *redislocker.Locker, id string) (tus.Lock, tus.TryLocker) {
	t.Helper()
	k, err := l.NewLock(id)
	require.NoError(t, err)
	tl, ok := k.(tus.TryLocker)
	require.True(t, ok, "redislocker locks implement tus.TryLocker")
	return k, tl
}

// assertHeld checks that err is TryLock's failure for a lock someone else
// holds. TryLock runs under lockCtx, so an error wrapping ErrLockTimeout
// would mean that it waited.
func assertHeld(t *testing.T, err error) {
	t.Helper()
	assert.ErrorIs(t, err, tus.ErrLockHeld)
	assert.NotErrorIs(t, err, tus.ErrLockTimeout)
	assert.NotErrorIs(t, err, tus.ErrUnavailable)
}

// TryLock takes a free lock, which then excludes TryLock and Lock in this
// and another Locker until Unlock; the lock is a key like Lock's.
func TestTryLock(t *testing.T) {
	srv := redistest.Start(t)
	obsA, obsB := &counter{}, &counter{}
	a, raw := newLocker(t, srv, redislocker.Options{KeyPrefix: "test:", Observer: obsA})
	b, _ := newLocker(t, srv, redislocker.Options{KeyPrefix: "test:", Observer: obsB})
	ctx := context.Background()

	k, tk := tryLocker(t, a, "u")
	for i := range 2 { // a lock can be reused
		require.NoError(t, tk.TryLock(lockCtx(t)), "TryLock %d of a free lock", i)
		assert.Equal(t, 1, a.Len())
		pttl, err := raw.PTTL(ctx, "test:u").Result()
		require.NoError(t, err)
		assert.Positive(t, pttl, "the key has a lease")

		err = tk.TryLock(lockCtx(t))
		assert.Error(t, err, "TryLock on the value that holds the lock")
		assert.NotErrorIs(t, err, tus.ErrLockHeld, "misuse is not contention")
		assert.Error(t, k.Lock(lockCtx(t), nil), "Lock on the value that holds the lock")

		for _, l := range []*redislocker.Locker{a, b} {
			other, to := tryLocker(t, l, "u")
			assertHeld(t, to.TryLock(lockCtx(t)))
			assert.ErrorIs(t, other.Unlock(), redislocker.ErrNotLocked, "a failed TryLock holds nothing")
		}
		assert.Zero(t, b.Len())
		shortCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		w, _ := b.NewLock("u")
		assert.ErrorIs(t, w.Lock(shortCtx, nil), tus.ErrLockTimeout, "Lock while a TryLock holder holds")
		cancel()

		require.NoError(t, k.Unlock())
		n, err := raw.Exists(ctx, "test:u").Result()
		require.NoError(t, err)
		assert.Zero(t, n, "Unlock deletes the key")
		// The other locker gets it now.
		other, to := tryLocker(t, b, "u")
		require.NoError(t, to.TryLock(lockCtx(t)), "TryLock after Unlock")
		assertHeld(t, tk.TryLock(lockCtx(t)))
		require.NoError(t, other.Unlock())
	}
	assert.ErrorIs(t, k.Unlock(), redislocker.ErrNotLocked)
	assert.Zero(t, a.Len()+b.Len())
	assert.EqualValues(t, 2, obsA.acquired.Load(), "LockAcquired counts TryLock")
	assert.EqualValues(t, 2, obsB.acquired.Load())
	assert.Zero(t, obsA.sent.Load(), "TryLock sends no release request")
}

// TryLock of a lock held through Lock, from the holder's Locker and from
// another, publishes no release request: a subscriber of the request
// channel sees nothing before a marker published after the TryLocks, and
// the holder's callback is not called. A Lock then does ask.
func TestTryLockDoesNotAskHolder(t *testing.T) {
	srv := redistest.Start(t)
	obsB := &counter{}
	a, raw := newLocker(t, srv, redislocker.Options{})
	b, _ := newLocker(t, srv, redislocker.Options{Observer: obsB})
	ctx := context.Background()
	const requestCh = redislocker.DefaultKeyPrefix + "~release-request"
	sub := raw.Subscribe(ctx, requestCh)
	defer sub.Close()
	_, err := sub.Receive(lockCtx(t)) // the subscription's confirmation
	require.NoError(t, err)

	release, asked, calls := signal()
	holder := mustLock(t, a, "u", release)
	for _, l := range []*redislocker.Locker{a, b} {
		for range 3 {
			_, tl := tryLocker(t, l, "u")
			assertHeld(t, tl.TryLock(lockCtx(t)))
		}
	}
	require.NoError(t, raw.Publish(ctx, requestCh, "marker").Err())
	msg := receive(t, sub)
	assert.Equal(t, "marker", msg.Payload, "TryLock published a release request")
	assert.Zero(t, obsB.sent.Load())
	assert.Zero(t, calls.Load(), "TryLock must not call the holder's release callback")

	// A Lock asks, through the same channel.
	unlocked := make(chan error, 1)
	go func() {
		<-asked
		unlocked <- holder.Unlock()
	}()
	w := mustLock(t, b, "u", nil)
	assert.Equal(t, "u", receive(t, sub).Payload)
	require.NoError(t, <-unlocked)
	assert.EqualValues(t, 1, calls.Load())
	require.NoError(t, w.Unlock())
}

// receive returns the next message of sub, failing after hang.
func receive(t *testing.T, sub *redis.PubSub) *redis.Message {
	t.Helper()
	select {
	case msg := <-sub.Channel():
		return msg
	case <-time.After(hang):
		t.Fatal("no message on the request channel")
		return nil
	}
}

// Locks waiting for a TryLock holder, in its Locker and in another, ask it
// in vain (it has no callback) and get the lock once it unlocks, one after
// the other. Meanwhile the holder's lease is renewed.
func TestLockWaitsForTryLockHolder(t *testing.T) {
	srv := redistest.Start(t)
	const lease = 600 * time.Millisecond
	obsA, obsB := &counter{}, &counter{}
	a, raw := newLocker(t, srv, redislocker.Options{Lease: lease, Observer: obsA})
	b, _ := newLocker(t, srv, redislocker.Options{Lease: lease, Observer: obsB})
	holder, th := tryLocker(t, a, "u")
	require.NoError(t, th.TryLock(lockCtx(t)))

	type waiter struct {
		k   tus.Lock
		got chan error
	}
	var waiters []waiter
	for _, l := range []*redislocker.Locker{a, b} {
		k, _ := l.NewLock("u")
		w := waiter{k, make(chan error, 1)}
		go func() { w.got <- k.Lock(lockCtx(t), nil) }()
		waiters = append(waiters, w)
	}
	// Both waiters found the lock taken and asked; the holder heard it.
	for deadline := time.Now().Add(hang); obsA.sent.Load() == 0 || obsB.sent.Load() == 0 || obsA.received.Load() == 0; time.Sleep(time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "the waiters never asked the holder")
	}
	// Hold for several leases: the renewer keeps the key.
	time.Sleep(3 * lease)
	for _, w := range waiters {
		select {
		case err := <-w.got:
			t.Fatalf("a waiter's Lock returned %v while the TryLock holder held the lock", err)
		default:
		}
	}
	n, err := raw.Exists(context.Background(), redislocker.DefaultKeyPrefix+"u").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "the TryLock holder's lease was not renewed")
	require.NoError(t, holder.Unlock(), "the TryLock holder still held its key")

	var first, second waiter
	select {
	case err := <-waiters[0].got:
		require.NoError(t, err)
		first, second = waiters[0], waiters[1]
	case err := <-waiters[1].got:
		require.NoError(t, err)
		first, second = waiters[1], waiters[0]
	case <-time.After(hang):
		t.Fatal("no waiter got the lock after the TryLock holder unlocked")
	}
	select {
	case err := <-second.got:
		t.Fatalf("the second waiter's Lock returned %v while the first held the lock", err)
	default:
	}
	require.NoError(t, first.k.Unlock())
	select {
	case err := <-second.got:
		require.NoError(t, err)
	case <-time.After(hang):
		t.Fatal("the second waiter did not get the lock")
	}
	require.NoError(t, second.k.Unlock())
	assert.Zero(t, a.Len()+b.Len())
}

// A TryLock holder whose key is deleted behind its back has no callback to
// call: the renewer notices and stops, and Unlock reports ErrLockLost.
func TestTryLockHolderLosesLease(t *testing.T) {
	srv := redistest.Start(t)
	obs := &counter{}
	l, raw := newLocker(t, srv, redislocker.Options{Lease: 3 * time.Second, RenewInterval: 100 * time.Millisecond, Observer: obs})
	k, tk := tryLocker(t, l, "u")
	require.NoError(t, tk.TryLock(lockCtx(t)))
	require.NoError(t, raw.Del(context.Background(), redislocker.DefaultKeyPrefix+"u").Err())
	for deadline := time.Now().Add(hang); obs.renewFailed.Load() == 0; time.Sleep(time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "the renewer never noticed the lost key")
	}
	assert.ErrorIs(t, k.Unlock(), redislocker.ErrLockLost)
	assert.Zero(t, l.Len())
}

// TryLock fails with ErrLockTimeout for a ctx that has ended, sending
// nothing; with ErrUnavailable, within a bound, while Redis does not
// answer; and with ErrClosed after Close. It holds nothing after any of
// them.
func TestTryLockFailures(t *testing.T) {
	srv := redistest.Start(t)
	const callTimeout = 300 * time.Millisecond
	obs := &counter{}
	l, raw := newLocker(t, srv, redislocker.Options{Lease: 2 * time.Second, CallTimeout: callTimeout, Observer: obs})
	k, tk := tryLocker(t, l, "u")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := tk.TryLock(ctx)
	assert.ErrorIs(t, err, tus.ErrLockTimeout)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, tus.ErrLockHeld)
	n, err := raw.Exists(context.Background(), redislocker.DefaultKeyPrefix+"u").Result()
	require.NoError(t, err)
	assert.Zero(t, n, "TryLock with a done ctx set the key")

	srv.Pause()
	start := time.Now()
	err = tk.TryLock(lockCtx(t))
	elapsed := time.Since(start)
	srv.Resume()
	t.Logf("TryLock failed after %v (CallTimeout %v, giving the key back included): %v", elapsed.Round(time.Millisecond), callTimeout, err)
	assert.ErrorIs(t, err, tus.ErrUnavailable)
	assert.NotErrorIs(t, err, tus.ErrLockHeld)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "the handler would answer 423 for it")
	assert.Positive(t, obs.redisErrors("acquire"))
	assert.Zero(t, l.Len())
	assert.ErrorIs(t, k.Unlock(), redislocker.ErrNotLocked)
	// The SET sent while Redis was paused may have run after all; the key
	// is then given back or expires with its lease, and Lock gets in.
	require.NoError(t, k.Lock(lockCtx(t), nil))
	require.NoError(t, k.Unlock())

	require.NoError(t, l.Close())
	err = tk.TryLock(lockCtx(t))
	assert.ErrorIs(t, err, tus.ErrUnavailable)
	assert.ErrorIs(t, err, redislocker.ErrClosed)
}
