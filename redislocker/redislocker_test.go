package redislocker_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/internal/redistest"
	"github.com/tusgo/tus/redislocker"
)

// hang bounds every wait of these tests: long enough never to be reached
// when things work, so no test depends on timing.
const hang = 20 * time.Second

// newClient returns a client of srv, closed when the test ends.
func newClient(t testing.TB, srv *redistest.Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:                  srv.Addr(),
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newLocker returns a Locker with its own client of srv (standing for one
// instance), closed when the test ends. Its log goes to the test's log.
func newLocker(t testing.TB, srv *redistest.Server, opts redislocker.Options) (*redislocker.Locker, *redis.Client) {
	t.Helper()
	c := newClient(t, srv)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	l, err := redislocker.New(c, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l, c
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// signal returns a release callback that closes the returned channel, once,
// and a counter of its calls.
func signal() (func(), <-chan struct{}, *atomic.Int32) {
	ch := make(chan struct{})
	var calls atomic.Int32
	return func() {
		if calls.Add(1) == 1 {
			close(ch)
		}
	}, ch, &calls
}

// await waits for ch and returns how long that took, failing after hang.
func await(t *testing.T, ch <-chan struct{}, what string) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-ch:
		return time.Since(start)
	case <-time.After(hang):
		t.Fatalf("%s did not happen within %v", what, hang)
		return 0
	}
}

func lockCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	t.Cleanup(cancel)
	return ctx
}

func mustLock(t *testing.T, l *redislocker.Locker, id string, release func()) tus.Lock {
	t.Helper()
	k, err := l.NewLock(id)
	require.NoError(t, err)
	require.NoError(t, k.Lock(lockCtx(t), release))
	return k
}

// counter is an Observer that counts.
type counter struct {
	acquired, sent, received, renewFailed atomic.Int64
	mu                                    sync.Mutex
	errs                                  map[string]int
}

func (c *counter) LockAcquired(time.Duration) { c.acquired.Add(1) }
func (c *counter) ReleaseRequestSent()        { c.sent.Add(1) }
func (c *counter) ReleaseRequestReceived()    { c.received.Add(1) }
func (c *counter) RenewalFailed()             { c.renewFailed.Add(1) }
func (c *counter) RedisError(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errs == nil {
		c.errs = make(map[string]int)
	}
	c.errs[op]++
}

func (c *counter) redisErrors(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errs[op]
}

func TestLockUnlock(t *testing.T) {
	srv := redistest.Start(t)
	l, c := newLocker(t, srv, redislocker.Options{KeyPrefix: "test:"})
	a := mustLock(t, l, "a", nil)
	b := mustLock(t, l, "b", nil)
	assert.Equal(t, 2, l.Len())
	n, err := c.Exists(context.Background(), "test:a", "test:b").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 2, n, "each lock is a key KeyPrefix+ID")

	assert.Error(t, a.Lock(lockCtx(t), nil), "Lock on a held Lock")
	require.NoError(t, a.Unlock())
	require.NoError(t, b.Unlock())
	assert.Equal(t, 0, l.Len())
	n, err = c.Exists(context.Background(), "test:a", "test:b").Result()
	require.NoError(t, err)
	assert.Zero(t, n, "Unlock deletes the key")
	assert.ErrorIs(t, a.Unlock(), redislocker.ErrNotLocked)

	// A Lock can be taken again after Unlock.
	require.NoError(t, a.Lock(lockCtx(t), nil))
	require.NoError(t, a.Unlock())
}

func TestNewValidates(t *testing.T) {
	srv := redistest.Start(t)
	good := newClient(t, srv)
	for _, tc := range []struct {
		name string
		opts redislocker.Options
	}{
		{"negative lease", redislocker.Options{Lease: -time.Second}},
		{"lease under a millisecond", redislocker.Options{Lease: time.Microsecond}},
		{"renew interval of half the lease", redislocker.Options{Lease: time.Second, RenewInterval: 500 * time.Millisecond}},
		{"negative renew interval", redislocker.Options{RenewInterval: -time.Second}},
		{"negative call timeout", redislocker.Options{CallTimeout: -time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redislocker.New(good, tc.opts)
			assert.Error(t, err)
		})
	}
	_, err := redislocker.New(nil, redislocker.Options{})
	assert.Error(t, err, "nil client")

	plain := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer plain.Close()
	_, err = redislocker.New(plain, redislocker.Options{})
	assert.ErrorContains(t, err, "ContextTimeoutEnabled")

	l, err := redislocker.New(good, redislocker.Options{})
	require.NoError(t, err, "defaults are valid")
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "closing twice")
}

// Goroutines in several Lockers, each with its own client (standing for
// instances), contend for a few IDs; no ID ever has two holders.
func TestMutualExclusion(t *testing.T) {
	srv := redistest.Start(t)
	const (
		lockers    = 4
		perLocker  = 6
		iterations = 25
	)
	ids := []string{"hot-1", "hot-2", "hot-3"}
	inside := make(map[string]*atomic.Int32)
	for _, id := range ids {
		inside[id] = new(atomic.Int32)
	}
	obs := make([]*counter, lockers)
	var maxInside, total atomic.Int32
	var wg sync.WaitGroup
	start := time.Now()
	for i := range lockers {
		obs[i] = &counter{}
		l, _ := newLocker(t, srv, redislocker.Options{Observer: obs[i]})
		for range perLocker {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range iterations {
					id := ids[rand.IntN(len(ids))]
					k, _ := l.NewLock(id)
					ctx, cancel := context.WithTimeout(context.Background(), hang)
					err := k.Lock(ctx, func() {})
					cancel()
					if err != nil {
						t.Errorf("Lock %s: %v", id, err)
						return
					}
					n := inside[id].Add(1)
					for {
						m := maxInside.Load()
						if n <= m || maxInside.CompareAndSwap(m, n) {
							break
						}
					}
					time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
					inside[id].Add(-1)
					total.Add(1)
					if err := k.Unlock(); err != nil {
						t.Errorf("Unlock %s: %v", id, err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	assert.EqualValues(t, 1, maxInside.Load(), "most holders of one ID at once")
	assert.EqualValues(t, lockers*perLocker*iterations, total.Load())
	var sent, received int64
	for _, o := range obs {
		sent += o.sent.Load()
		received += o.received.Load()
	}
	t.Logf("%d lock/unlock pairs by %d goroutines in %d lockers on %d IDs in %v (%v each); %d release requests sent, %d received by holders",
		total.Load(), lockers*perLocker, lockers, len(ids), elapsed.Round(time.Millisecond),
		(elapsed / time.Duration(total.Load())).Round(time.Microsecond), sent, received)
}

// A waiter in one Locker asks the holder in another to let go; the holder's
// callback unlocks, and the waiter gets in at once.
func TestReleaseRequestAcrossLockers(t *testing.T) {
	srv := redistest.Start(t)
	obsA, obsB := &counter{}, &counter{}
	a, _ := newLocker(t, srv, redislocker.Options{Observer: obsA})
	b, _ := newLocker(t, srv, redislocker.Options{Observer: obsB})

	var latencies []time.Duration
	for i := range 5 {
		release, asked, calls := signal()
		holder := mustLock(t, a, "upload", release)
		unlocked := make(chan error, 1)
		go func() {
			<-asked
			unlocked <- holder.Unlock()
		}()
		start := time.Now()
		waiter := mustLock(t, b, "upload", nil)
		latencies = append(latencies, time.Since(start))
		require.NoError(t, <-unlocked)
		assert.EqualValues(t, 1, calls.Load(), "round %d: release callback calls", i)
		require.NoError(t, waiter.Unlock())
	}
	slices.Sort(latencies)
	t.Logf("waiter in another locker got the lock after: min %v, median %v, max %v",
		latencies[0], latencies[len(latencies)/2], latencies[len(latencies)-1])
	assert.GreaterOrEqual(t, obsB.sent.Load(), int64(5))
	assert.GreaterOrEqual(t, obsA.received.Load(), int64(5))
	assert.EqualValues(t, 5, obsA.acquired.Load())
	assert.EqualValues(t, 5, obsB.acquired.Load())
}

// Many waiters, repeated requests: the holder's callback runs once.
func TestReleaseRequestedOnce(t *testing.T) {
	srv := redistest.Start(t)
	a, _ := newLocker(t, srv, redislocker.Options{})
	b, _ := newLocker(t, srv, redislocker.Options{})
	release, asked, calls := signal()
	holder := mustLock(t, a, "u", release)

	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _ := b.NewLock("u")
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			err := k.Lock(ctx, nil)
			assert.ErrorIs(t, err, tus.ErrLockTimeout)
		}()
	}
	await(t, asked, "release request")
	wg.Wait() // the waiters repeated their requests for more than a second
	assert.EqualValues(t, 1, calls.Load())
	require.NoError(t, holder.Unlock())
}

// A holder that stops renewing without Unlock (its process died) keeps the
// lock until its lease ends; then a waiter gets in without any message.
func TestDeadHolderLosesLockAtLeaseEnd(t *testing.T) {
	srv := redistest.Start(t)
	const lease = time.Second

	t.Run("key left behind", func(t *testing.T) {
		raw := newClient(t, srv)
		require.NoError(t, raw.Set(context.Background(), "tus:lock:dead", "a-dead-token", lease).Err())
		obs := &counter{}
		b, _ := newLocker(t, srv, redislocker.Options{Observer: obs})
		start := time.Now()
		k := mustLock(t, b, "dead", nil)
		t.Logf("waiter got in %v after a dead holder's %v lease was set (%d release requests sent)",
			time.Since(start).Round(time.Millisecond), lease, obs.sent.Load())
		assert.Positive(t, obs.sent.Load())
		require.NoError(t, k.Unlock())
	})

	t.Run("holder's client closed", func(t *testing.T) {
		a, ca := newLocker(t, srv, redislocker.Options{Lease: lease, CallTimeout: 200 * time.Millisecond})
		release, asked, _ := signal()
		mustLock(t, a, "vanishing", release) // never unlocked
		require.NoError(t, ca.Close())
		closed := time.Now()
		b, _ := newLocker(t, srv, redislocker.Options{Lease: lease})
		k := mustLock(t, b, "vanishing", nil)
		t.Logf("waiter got in %v after the holder's client was closed (lease %v)", time.Since(closed).Round(time.Millisecond), lease)
		select {
		case <-asked:
		default:
			t.Error("the holder whose renewals fail was not asked to let go before the waiter got in")
		}
		require.NoError(t, k.Unlock())
	})
}

// A holder whose key is deleted or taken behind its back is asked to let
// go at its next renewal, and Unlock does not touch the other's key.
func TestRenewalFindsLockLost(t *testing.T) {
	srv := redistest.Start(t)
	raw := newClient(t, srv)
	obs := &counter{}
	l, _ := newLocker(t, srv, redislocker.Options{Lease: 3 * time.Second, RenewInterval: 200 * time.Millisecond, Observer: obs})
	ctx := context.Background()

	t.Run("deleted", func(t *testing.T) {
		release, asked, calls := signal()
		k := mustLock(t, l, "deleted", release)
		require.NoError(t, raw.Del(ctx, "tus:lock:deleted").Err())
		t.Logf("holder asked to let go %v after its key was deleted", await(t, asked, "release callback").Round(time.Millisecond))
		assert.ErrorIs(t, k.Unlock(), redislocker.ErrLockLost)
		assert.EqualValues(t, 1, calls.Load())
	})

	t.Run("taken", func(t *testing.T) {
		release, asked, _ := signal()
		k := mustLock(t, l, "taken", release)
		require.NoError(t, raw.Set(ctx, "tus:lock:taken", "someone-else", 0).Err())
		t.Logf("holder asked to let go %v after its key was taken", await(t, asked, "release callback").Round(time.Millisecond))
		assert.ErrorIs(t, k.Unlock(), redislocker.ErrLockLost)
		v, err := raw.Get(ctx, "tus:lock:taken").Result()
		require.NoError(t, err)
		assert.Equal(t, "someone-else", v, "Unlock must not delete another holder's key")
	})
	// The holder may unlock from its callback, which then runs on the
	// renewer's goroutine.
	t.Run("callback unlocks", func(t *testing.T) {
		k, err := l.NewLock("self")
		require.NoError(t, err)
		unlocked := make(chan error, 1)
		require.NoError(t, k.Lock(lockCtx(t), func() { unlocked <- k.Unlock() }))
		require.NoError(t, raw.Del(ctx, "tus:lock:self").Err())
		select {
		case err := <-unlocked:
			assert.ErrorIs(t, err, redislocker.ErrLockLost)
		case <-time.After(hang):
			t.Fatal("Unlock from the release callback did not return")
		}
	})
	assert.GreaterOrEqual(t, obs.renewFailed.Load(), int64(3))
}

// While Redis does not answer (SIGSTOP), the holder is asked to let go
// before its lease ends, and Lock fails with tus.ErrUnavailable within a
// bound. Once Redis answers again, the lock it kept is still its own.
func TestRedisPaused(t *testing.T) {
	srv := redistest.Start(t)
	const (
		lease       = 5 * time.Second
		callTimeout = 300 * time.Millisecond
	)
	obs := &counter{}
	a, _ := newLocker(t, srv, redislocker.Options{Lease: lease, RenewInterval: 300 * time.Millisecond, CallTimeout: callTimeout, Observer: obs})
	b, _ := newLocker(t, srv, redislocker.Options{Lease: lease, CallTimeout: callTimeout})
	release, asked, _ := signal()
	holder := mustLock(t, a, "u", release)

	srv.Pause()
	paused := time.Now()
	waited := await(t, asked, "release callback")
	t.Logf("holder asked to let go %v after Redis stopped answering (lease %v); %d failed renewals",
		waited.Round(time.Millisecond), lease, obs.renewFailed.Load())
	assert.Less(t, time.Since(paused), lease, "the holder must be asked before its lease ends")

	k, _ := b.NewLock("other")
	start := time.Now()
	err := k.Lock(lockCtx(t), nil)
	elapsed := time.Since(start)
	t.Logf("Lock failed after %v (CallTimeout %v): %v", elapsed.Round(time.Millisecond), callTimeout, err)
	assert.ErrorIs(t, err, tus.ErrUnavailable)
	assert.NotErrorIs(t, err, tus.ErrLockTimeout)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "the handler would answer 423 for it")
	assert.Less(t, elapsed, 3*callTimeout)

	srv.Resume()
	// The lease had not run out, so the key survived; the renewer renews
	// it again and Unlock finds it.
	require.NoError(t, holder.Unlock())
	mustLock(t, b, "u", nil)
}

// Redis stops: Lock fails with ErrUnavailable within a bound. After a
// restart, Lock works again without anything being restarted.
func TestRedisStopped(t *testing.T) {
	srv := redistest.Start(t)
	const callTimeout = 500 * time.Millisecond
	obs := &counter{}
	l, _ := newLocker(t, srv, redislocker.Options{CallTimeout: callTimeout, Observer: obs})
	require.NoError(t, mustLock(t, l, "before", nil).Unlock())

	srv.Stop()
	k, _ := l.NewLock("u")
	start := time.Now()
	err := k.Lock(lockCtx(t), nil)
	elapsed := time.Since(start)
	t.Logf("Lock failed after %v (CallTimeout %v): %v", elapsed.Round(time.Millisecond), callTimeout, err)
	assert.ErrorIs(t, err, tus.ErrUnavailable)
	assert.Less(t, elapsed, 3*callTimeout)
	assert.Positive(t, obs.redisErrors("acquire"))
	assert.Zero(t, l.Len(), "a failed Lock holds nothing")

	srv.Restart()
	start = time.Now()
	require.NoError(t, k.Lock(lockCtx(t), nil))
	t.Logf("first Lock after the restart took %v", time.Since(start).Round(time.Millisecond))
	require.NoError(t, k.Unlock())
}

// Redis restarts, without persistence, while locks are held: every holder
// is asked to let go as soon as its locker's connection breaks, before
// another instance can take the lost key. Unlock then reports the loss,
// and another locker's lock is left alone.
func TestRedisRestartedWhileHeld(t *testing.T) {
	srv := redistest.Start(t)
	a, _ := newLocker(t, srv, redislocker.Options{})
	b, _ := newLocker(t, srv, redislocker.Options{})
	releaseX, askedX, _ := signal()
	releaseY, askedY, _ := signal()
	x := mustLock(t, a, "x", releaseX)
	y := mustLock(t, a, "y", releaseY)

	start := time.Now()
	srv.Restart()
	t.Logf("Redis restarted in %v", time.Since(start).Round(time.Millisecond))
	await(t, askedX, "release callback of x")
	await(t, askedY, "release callback of y")
	t.Logf("both holders asked to let go within %v of the restart's start", time.Since(start).Round(time.Millisecond))

	// The keys are gone: another instance gets x at once...
	bx := mustLock(t, b, "x", nil)
	// ...and the old holders learn that they lost their locks.
	assert.ErrorIs(t, x.Unlock(), redislocker.ErrLockLost)
	assert.ErrorIs(t, y.Unlock(), redislocker.ErrLockLost)
	require.NoError(t, bx.Unlock(), "the old holder's Unlock must not delete the new holder's key")

	// Release requests reach a's holders again after its resubscription.
	release, asked, _ := signal()
	again := mustLock(t, a, "x", release)
	go func() {
		<-asked
		_ = again.Unlock()
	}()
	require.NoError(t, mustLock(t, b, "x", nil).Unlock())
}

// The subscription connection alone breaks (the keys survive): the holders
// are asked to let go, keep their locks until Unlock, and release requests
// work again once the locker has subscribed again.
func TestSubscriptionLost(t *testing.T) {
	srv := redistest.Start(t)
	raw := newClient(t, srv)
	a, _ := newLocker(t, srv, redislocker.Options{})
	b, _ := newLocker(t, srv, redislocker.Options{})
	release, asked, _ := signal()
	holder := mustLock(t, a, "u", release)

	// Both lockers' subscriptions are killed.
	require.NoError(t, raw.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err())
	await(t, asked, "release callback")
	require.NoError(t, holder.Unlock(), "the key survived; the lock was still held")

	release, asked, _ = signal()
	holder = mustLock(t, a, "u", release)
	go func() {
		<-asked
		_ = holder.Unlock()
	}()
	start := time.Now()
	require.NoError(t, mustLock(t, b, "u", nil).Unlock())
	t.Logf("after resubscribing, a waiter got in after %v", time.Since(start).Round(time.Millisecond))
}

func TestContextEndsFirst(t *testing.T) {
	srv := redistest.Start(t)
	raw := newClient(t, srv)
	a, _ := newLocker(t, srv, redislocker.Options{})
	b, _ := newLocker(t, srv, redislocker.Options{})
	holder := mustLock(t, a, "u", nil) // ignores release requests

	w, _ := b.NewLock("u")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := w.Lock(ctx, nil)
	assert.ErrorIs(t, err, tus.ErrLockTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, tus.ErrUnavailable)

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	err = w.Lock(ctx, nil)
	assert.ErrorIs(t, err, tus.ErrLockTimeout)
	assert.ErrorIs(t, err, context.Canceled)

	// The holder still holds; the waiter left nothing behind.
	assert.Equal(t, 0, b.Len())
	assert.ErrorIs(t, w.Unlock(), redislocker.ErrNotLocked)
	n, err := raw.Exists(context.Background(), "tus:lock:u").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	require.NoError(t, holder.Unlock())
}

// Close asks holders to let go, deletes their keys, ends waiting Locks, and
// stops every goroutine the locker started.
func TestClose(t *testing.T) {
	srv := redistest.Start(t)
	raw := newClient(t, srv)
	other, _ := newLocker(t, srv, redislocker.Options{})
	blocker := mustLock(t, other, "blocked", nil)

	before := runtime.NumGoroutine()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	l, err := redislocker.New(c, redislocker.Options{})
	require.NoError(t, err)
	var locks []tus.Lock
	var asked []<-chan struct{}
	for i := range 3 {
		release, ch, _ := signal()
		locks = append(locks, mustLock(t, l, fmt.Sprintf("held-%d", i), release))
		asked = append(asked, ch)
	}
	waiter, _ := l.NewLock("blocked")
	waitErr := make(chan error, 1)
	go func() { waitErr <- waiter.Lock(context.Background(), nil) }()
	during := runtime.NumGoroutine()

	require.NoError(t, l.Close())
	for i, ch := range asked {
		await(t, ch, fmt.Sprintf("release callback %d", i))
	}
	select {
	case err := <-waitErr:
		assert.ErrorIs(t, err, redislocker.ErrClosed)
		assert.ErrorIs(t, err, tus.ErrUnavailable)
	case <-time.After(hang):
		t.Fatal("a waiting Lock did not return after Close")
	}
	n, err := raw.Exists(context.Background(), "tus:lock:held-0", "tus:lock:held-1", "tus:lock:held-2").Result()
	require.NoError(t, err)
	assert.Zero(t, n, "Close deletes the held keys")
	assert.ErrorIs(t, locks[0].Unlock(), redislocker.ErrClosed)
	k, _ := l.NewLock("new")
	assert.ErrorIs(t, k.Lock(context.Background(), nil), tus.ErrUnavailable)
	require.NoError(t, c.Close())

	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); after > before && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		after = runtime.NumGoroutine()
	}
	t.Logf("goroutines: %d before New, %d with 3 locks held and a waiter, %d after Close", before, during, after)
	assert.LessOrEqual(t, after, before, "goroutines left after Close")
	require.NoError(t, blocker.Unlock())
}

// newPingLocker is newLocker with a short ping interval.
func newPingLocker(t testing.TB, srv *redistest.Server, opts redislocker.Options, ping time.Duration) *redislocker.Locker {
	t.Helper()
	c := newClient(t, srv)
	opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	l, err := redislocker.NewWithPing(c, opts, ping)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// A subscription that stays silent for many ping intervals is kept: pings
// are answered, nobody is asked to let go, and requests still arrive.
func TestIdleSubscriptionKept(t *testing.T) {
	srv := redistest.Start(t)
	obs := &counter{}
	a := newPingLocker(t, srv, redislocker.Options{Observer: obs}, 50*time.Millisecond)
	b, _ := newLocker(t, srv, redislocker.Options{})
	release, asked, calls := signal()
	holder := mustLock(t, a, "u", release)
	time.Sleep(time.Second) // about 20 ping intervals without a message
	assert.Zero(t, calls.Load(), "a holder was asked to let go while nothing failed")
	assert.Zero(t, obs.redisErrors("ping")+obs.redisErrors("receive"))
	go func() {
		<-asked
		_ = holder.Unlock()
	}()
	require.NoError(t, mustLock(t, b, "u", nil).Unlock())
}

// A subscription connection that stops answering (Redis paused) is noticed
// by an unanswered ping: the holders are asked to let go before the
// renewer's deadline, and the locker subscribes anew once Redis answers.
func TestUnansweredPing(t *testing.T) {
	srv := redistest.Start(t)
	obs := &counter{}
	a := newPingLocker(t, srv, redislocker.Options{Lease: 20 * time.Second, CallTimeout: 200 * time.Millisecond, Observer: obs}, 100*time.Millisecond)
	b, _ := newLocker(t, srv, redislocker.Options{})
	release, asked, _ := signal()
	holder := mustLock(t, a, "u", release)

	srv.Pause()
	waited := await(t, asked, "release callback")
	t.Logf("holder asked to let go %v after Redis stopped answering (ping interval 100ms; the renewer's deadline is 10s)", waited.Round(time.Millisecond))
	assert.Positive(t, obs.redisErrors("ping"))
	srv.Resume()
	require.NoError(t, holder.Unlock(), "the key survived")

	// Release requests reach a's holders through its new subscription.
	release, asked, _ = signal()
	holder = mustLock(t, a, "u", release)
	go func() {
		<-asked
		_ = holder.Unlock()
	}()
	require.NoError(t, mustLock(t, b, "u", nil).Unlock())
}

// A locker created while Redis is down works once Redis is up, release
// requests included: New does not need Redis.
func TestNewWhileRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	a, _ := newLocker(t, srv, redislocker.Options{CallTimeout: 300 * time.Millisecond})
	k, _ := a.NewLock("u")
	assert.ErrorIs(t, k.Lock(lockCtx(t), nil), tus.ErrUnavailable)

	srv.Restart()
	b, _ := newLocker(t, srv, redislocker.Options{})
	release, asked, _ := signal()
	require.NoError(t, k.Lock(lockCtx(t), release))
	go func() {
		<-asked
		_ = k.Unlock()
	}()
	start := time.Now()
	require.NoError(t, mustLock(t, b, "u", nil).Unlock())
	t.Logf("the waiter got in after %v", time.Since(start).Round(time.Millisecond))
}
