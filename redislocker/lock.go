package redislocker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tusgo/tus"
)

// lock is the tus.Lock of one upload ID. Like every tus.Lock, it is used by
// one request at a time.
type lock struct {
	l   *Locker
	id  string
	key string

	h *held // while held; guarded by l.mu
}

// held is the state of one held lock: its token, its holder's release
// callback and its renewer.
type held struct {
	id, key, token string
	release        func()
	requested      atomic.Bool
	// inRenewer is true while the renewer runs the release callback, which
	// may call Unlock; Unlock then does not wait for the renewer.
	inRenewer atomic.Bool

	ctx    context.Context // canceled to stop the renewer
	cancel context.CancelFunc
	done   chan struct{} // closed when the renewer has returned
}

// requestRelease calls the holder's release callback, the first time only.
func (h *held) requestRelease() {
	if h.requested.CompareAndSwap(false, true) && h.release != nil {
		h.release()
	}
}

// renewerRequestRelease is requestRelease for the renewer's goroutine.
func (h *held) renewerRequestRelease() {
	h.inRenewer.Store(true)
	defer h.inRenewer.Store(false)
	h.requestRelease()
}

// Lock acquires the lock: a key holding a fresh random token, set only if
// it is missing. If another holder has it, Lock asks that holder to let go
// (over Redis pub/sub, so the holder may be in another process) and waits
// for its release notification or the end of its lease, repeating the
// request about once a second, until ctx is done.
//
// It fails with an error wrapping tus.ErrLockTimeout and ctx's error when
// ctx ends first, and with one wrapping tus.ErrUnavailable when Redis does
// not answer within CallTimeout twice in a row or answers with an error.
func (k *lock) Lock(ctx context.Context, releaseRequested func()) error {
	l := k.l
	l.mu.Lock()
	busy := k.h != nil
	l.mu.Unlock()
	if busy {
		return fmt.Errorf("redislocker: lock %q is already held by this Lock", k.id)
	}
	start := time.Now()
	token := rand.Text()
	failed := false
	for {
		if err := ctx.Err(); err != nil {
			return k.timeout(err)
		}
		// Watch before trying, so that a release between the attempt and
		// the wait is not missed.
		wake, err := l.watch(k.id)
		if err != nil {
			return fmt.Errorf("redislocker: lock %q: %w: %w", k.id, tus.ErrUnavailable, err)
		}
		sent := time.Now()
		acquired, pttl, err := k.acquire(ctx, token)
		if err != nil {
			l.unwatch(k.id, wake)
			if ctx.Err() != nil {
				return k.timeout(ctx.Err())
			}
			l.obs.RedisError("acquire")
			if failed {
				return l.unavailable("lock", k.id, err)
			}
			// One immediate retry with the same token: the acquire script
			// accepts a key that already holds it, so a SET whose reply
			// was lost is not a problem.
			failed = true
			l.log.Debug("redislocker: acquiring failed; retrying once", "id", k.id, "error", err)
			continue
		}
		failed = false
		if acquired {
			l.unwatch(k.id, wake)
			return k.hold(token, releaseRequested, sent, start)
		}
		l.obs.ReleaseRequestSent()
		wait := resendInterval
		if pttl >= 0 && pttl < wait {
			// The holder's lease ends sooner (it may have died).
			wait = pttl + time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-wake:
		case <-t.C:
		case <-ctx.Done():
		case <-l.ctx.Done():
		}
		t.Stop()
		l.unwatch(k.id, wake)
		if l.ctx.Err() != nil {
			return fmt.Errorf("redislocker: lock %q: %w: %w", k.id, tus.ErrUnavailable, ErrClosed)
		}
	}
}

// TryLock acquires the lock if nobody holds it, with one SET key token NX
// PX Lease bounded by ctx and CallTimeout. If somebody holds it, in this
// process or another, TryLock fails at once with an error wrapping
// tus.ErrLockHeld and asks no one to let go: it publishes no release
// request.
//
// A lock taken by TryLock has no release callback; otherwise it is like one
// taken by Lock: its lease is renewed until Unlock, and Unlock works the
// same. Release requests from waiters reach it and are ignored, so they get
// the lock after Unlock (or when the lease ends, if the holder dies). If the
// lease is lost while held, the renewer logs it and Unlock reports
// ErrLockLost.
//
// TryLock fails with an error wrapping tus.ErrLockTimeout and ctx's error
// when ctx ends before Redis answers (or has ended already: then TryLock
// sends nothing), and with one wrapping
// tus.ErrUnavailable when Redis answers with an error or not within
// CallTimeout, or after Close (then also wrapping ErrClosed). A SET whose
// reply was lost may have taken the key: TryLock then deletes the key if it
// holds its token, best effort within CallTimeout even if ctx has ended; if
// that fails too, the key expires when its lease ends. So TryLock returns
// within about two CallTimeouts.
func (k *lock) TryLock(ctx context.Context) error {
	l := k.l
	l.mu.Lock()
	busy := k.h != nil
	l.mu.Unlock()
	if busy {
		return fmt.Errorf("redislocker: lock %q is already held by this Lock", k.id)
	}
	if l.ctx.Err() != nil {
		return fmt.Errorf("redislocker: lock %q: %w: %w", k.id, tus.ErrUnavailable, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return k.timeout(err)
	}
	start := time.Now()
	token := rand.Text()
	cctx, cancel := l.callContext(ctx)
	acquired, err := l.client.SetNX(cctx, k.key, token, l.opts.Lease).Result()
	cancel()
	if err != nil {
		l.obs.RedisError("acquire")
		k.giveBack(token)
		if ctx.Err() != nil {
			return k.timeout(ctx.Err())
		}
		return l.unavailable("try lock", k.id, err)
	}
	if !acquired {
		return fmt.Errorf("redislocker: lock %q: %w", k.id, tus.ErrLockHeld)
	}
	return k.hold(token, nil, start, start)
}

// giveBack deletes the lock's key if it holds token, announcing the release,
// best effort within CallTimeout: a TryLock whose SET failed may have taken
// the key all the same.
func (k *lock) giveBack(token string) {
	l := k.l
	ctx, cancel := l.callContext(context.Background())
	defer cancel()
	if err := unlockScript.Run(ctx, l.client, []string{k.key}, token, l.releasedCh, k.id).Err(); err != nil {
		l.obs.RedisError("unlock")
		l.log.Debug("redislocker: giving back a key a failed TryLock may have taken failed; it expires with its lease", "id", k.id, "error", err)
	}
}

// acquire runs the acquire script once, bounded by CallTimeout. It reports
// whether the key now holds token and, if not, the key's remaining TTL (-1
// if it has none).
func (k *lock) acquire(ctx context.Context, token string) (bool, time.Duration, error) {
	l := k.l
	cctx, cancel := l.callContext(ctx)
	defer cancel()
	res, err := acquireScript.Run(cctx, l.client, []string{k.key},
		token, l.opts.Lease.Milliseconds(), l.requestCh, k.id).Int64Slice()
	if err != nil {
		return false, 0, err
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("acquire script answered %v", res)
	}
	if res[0] == 1 {
		return true, 0, nil
	}
	if res[1] < 0 {
		return false, -1, nil
	}
	return false, time.Duration(res[1]) * time.Millisecond, nil
}

// hold registers the lock acquired with token and starts its renewer. sent
// is when the successful acquire call was sent: the lease runs from no
// earlier than that.
func (k *lock) hold(token string, release func(), sent, start time.Time) error {
	l := k.l
	h := &held{id: k.id, key: k.key, token: token, release: release, done: make(chan struct{})}
	h.ctx, h.cancel = context.WithCancel(l.ctx)
	if !l.addHeld(h) {
		h.cancel()
		// Closed meanwhile: give the key back, best effort.
		ctx, cancel := l.callContext(context.Background())
		defer cancel()
		_ = unlockScript.Run(ctx, l.client, []string{k.key}, token, l.releasedCh, k.id).Err()
		return fmt.Errorf("redislocker: lock %q: %w: %w", k.id, tus.ErrUnavailable, ErrClosed)
	}
	l.mu.Lock()
	k.h = h
	l.mu.Unlock()
	go l.renew(h, sent)
	l.obs.LockAcquired(time.Since(start))
	return nil
}

var (
	_ tus.Lock      = (*lock)(nil)
	_ tus.TryLocker = (*lock)(nil)
)

// Unlock stops renewing the lock, deletes its key if it still holds the
// lock's token and announces the release to waiters, in every process. It
// fails with ErrNotLocked if the lock is not held, with an error wrapping
// ErrLockLost if the key had been lost, with one wrapping ErrClosed if
// Close released it already, and with one wrapping tus.ErrUnavailable if
// Redis did not answer within CallTimeout; then the key expires when its
// lease ends, and waiters get in then.
func (k *lock) Unlock() error {
	l := k.l
	l.mu.Lock()
	h := k.h
	k.h = nil
	l.mu.Unlock()
	if h == nil {
		return ErrNotLocked
	}
	if !l.removeHeld(h) {
		return fmt.Errorf("redislocker: unlock %q: %w", k.id, ErrClosed)
	}
	h.cancel()
	if !h.inRenewer.Load() {
		<-h.done
	}
	// Else the renewer called the callback that called Unlock, or runs it
	// now; it returns when the callback does (its context is canceled), and
	// Close waits for it. A renewal still in flight is harmless: it extends
	// only a key holding the token.
	ctx, cancel := l.callContext(context.Background())
	defer cancel()
	n, err := unlockScript.Run(ctx, l.client, []string{h.key}, h.token, l.releasedCh, h.id).Int()
	if err != nil {
		l.obs.RedisError("unlock")
		return l.unavailable("unlock", k.id, err)
	}
	if n == 0 {
		return fmt.Errorf("redislocker: unlock %q: %w", k.id, ErrLockLost)
	}
	return nil
}

// renew is the renewer of h: it extends the lease every RenewInterval until
// h.ctx is canceled. When the key is found gone or holding another token,
// it asks the holder to let go at once and stops. When renewals fail, it
// keeps trying (every RenewInterval, at most every second) and asks the
// holder to let go once half a lease has passed since the last renewal that
// succeeded was sent: the lease then still has at least half its length to
// run, so the holder has that long to stop before anyone else can get the
// lock.
func (l *Locker) renew(h *held, sent time.Time) {
	defer l.wg.Done()
	defer close(h.done)
	half := l.opts.Lease / 2
	retry := min(l.opts.RenewInterval, time.Second)
	deadline := sent.Add(half)
	renewT := time.NewTimer(l.opts.RenewInterval)
	defer renewT.Stop()
	deadT := time.NewTimer(time.Until(deadline))
	defer deadT.Stop()
	failing := false
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-deadT.C:
			l.log.Warn("redislocker: lease not renewed for half its length; asking the holder to let go", "id", h.id)
			h.renewerRequestRelease()
			continue
		case <-renewT.C:
		}
		start := time.Now()
		// Bound the call by the deadline as well, so the holder is asked
		// to let go on time even while a call hangs.
		callEnd := start.Add(l.opts.CallTimeout)
		if deadline.After(start) && deadline.Before(callEnd) {
			callEnd = deadline
		}
		ctx, cancel := context.WithDeadline(h.ctx, callEnd)
		n, err := renewScript.Run(ctx, l.client, []string{h.key}, h.token, l.opts.Lease.Milliseconds()).Int()
		cancel()
		switch {
		case h.ctx.Err() != nil:
			return
		case err == nil && n == 1:
			if failing {
				l.log.Info("redislocker: lease renewed again", "id", h.id)
				failing = false
			}
			deadline = start.Add(half)
			deadT.Reset(time.Until(deadline))
			renewT.Reset(l.opts.RenewInterval)
		case err == nil:
			l.obs.RenewalFailed()
			l.log.Warn("redislocker: lock lost (key gone or taken); asking the holder to let go", "id", h.id)
			h.renewerRequestRelease()
			return
		default:
			l.obs.RenewalFailed()
			l.obs.RedisError("renew")
			l.log.Warn("redislocker: renewing the lease failed", "id", h.id, "error", err)
			failing = true
			if !time.Now().Before(deadline) {
				h.renewerRequestRelease()
			}
			renewT.Reset(retry)
		}
	}
}

// timeout returns Lock's error for a ctx that ended.
func (k *lock) timeout(err error) error {
	return fmt.Errorf("redislocker: lock %q: %w: %w", k.id, tus.ErrLockTimeout, err)
}

// unavailable returns the error for a Redis call that failed. A call that
// ran out of CallTimeout yields context.DeadlineExceeded, which is not
// wrapped: the handler would take it for the acquire timeout.
func (l *Locker) unavailable(op, id string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("redislocker: %s %q: %w: Redis did not answer within %v", op, id, tus.ErrUnavailable, l.opts.CallTimeout)
	}
	return fmt.Errorf("redislocker: %s %q: %w: %w", op, id, tus.ErrUnavailable, err)
}
