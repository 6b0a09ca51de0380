package redislocker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tusgo/tus"
)

// Defaults of Options.
const (
	// DefaultKeyPrefix is the prefix of lock keys and channel names.
	DefaultKeyPrefix = "tus:lock:"
	// DefaultLease is how long a lock outlives a holder that stopped
	// renewing it.
	DefaultLease = 30 * time.Second
	// DefaultCallTimeout bounds every Redis call.
	DefaultCallTimeout = 2 * time.Second
)

// Timing that Options do not set.
const (
	// resendInterval is how long a waiter waits before it tries again and
	// repeats its release request, unless a release notification or the end
	// of the holder's lease comes first. Pub/sub messages can be lost
	// (while a connection is re-established), so the request is repeated.
	resendInterval = time.Second
	// pingInterval is how long the subscription connection may be silent
	// before the receiver pings it; an unanswered ping counts as a lost
	// connection.
	pingInterval = 3 * time.Second
	// maxReconnectDelay caps the wait between attempts to receive from a
	// failed subscription connection.
	maxReconnectDelay = time.Second
)

var (
	// ErrNotLocked is returned by Unlock on a lock that is not held.
	ErrNotLocked = errors.New("redislocker: lock is not held")
	// ErrLockLost is returned (wrapped) by Unlock when the lock's key no
	// longer held the lock's token: the lease ran out or Redis lost the key,
	// and someone else may have held the lock meanwhile. The holder was
	// asked to let go when that was noticed.
	ErrLockLost = errors.New("redislocker: the lock was lost before Unlock")
	// ErrClosed is returned (wrapped) by Lock and Unlock after Close. Lock
	// wraps tus.ErrUnavailable too.
	ErrClosed = errors.New("redislocker: locker is closed")
)

// Options configure a Locker. The zero value of each field selects its
// default.
type Options struct {
	// KeyPrefix is prepended to an upload ID to form its lock key. The
	// locker's two pub/sub channels are KeyPrefix+"~release-request" and
	// KeyPrefix+"~released", so one ACL pattern can cover keys and
	// channels. Default DefaultKeyPrefix ("tus:lock:"). Every instance
	// sharing the locks must use the same prefix.
	KeyPrefix string
	// Lease is how long a lock stays taken after its holder's last renewal:
	// a holder that dies loses its lock after at most this long. Default
	// DefaultLease (30s); it must be at least a millisecond.
	Lease time.Duration
	// RenewInterval is how often a holder renews its lease. Default
	// Lease/3; it must be less than Lease/2, because a holder that has not
	// renewed for Lease/2 is asked to let go.
	RenewInterval time.Duration
	// CallTimeout bounds every Redis call. Default DefaultCallTimeout (2s).
	CallTimeout time.Duration
	// Logger receives the locker's diagnostics: renewal failures, lost
	// locks, the subscription's connection. Nil discards them.
	Logger *slog.Logger
	// Observer receives events for metrics. Nil means none.
	Observer Observer
}

// Observer receives a Locker's events, for example to count them as
// metrics. Its methods are called synchronously from the goroutine where the
// event happens (a request's, a renewer's or the subscription receiver's),
// possibly concurrently, and must return quickly. Embed NopObserver to
// implement only some of them.
type Observer interface {
	// LockAcquired is called after each successful Lock or TryLock with
	// the time it took, including the wait for another holder.
	LockAcquired(wait time.Duration)
	// ReleaseRequestSent is called each time this locker asks the holder of
	// a lock to let go: once per attempt of a Lock that finds the lock
	// taken, in this process or another. A waiter repeats its request about
	// once a second.
	ReleaseRequestSent()
	// ReleaseRequestReceived is called for each release request that
	// reaches a lock held through this locker, repeated requests included.
	// The holder's release callback runs only for the first.
	ReleaseRequestReceived()
	// RenewalFailed is called for each failed lease renewal: a Redis error,
	// or the key gone or holding another token.
	RenewalFailed()
	// RedisError is called for every Redis call that failed, with the
	// operation: "acquire", "renew", "unlock", "subscribe", "receive",
	// "ping" or "close".
	RedisError(op string)
}

// NopObserver is an Observer that does nothing. Embed it in an Observer to
// implement only some methods.
type NopObserver struct{}

// LockAcquired does nothing.
func (NopObserver) LockAcquired(time.Duration) {}

// ReleaseRequestSent does nothing.
func (NopObserver) ReleaseRequestSent() {}

// ReleaseRequestReceived does nothing.
func (NopObserver) ReleaseRequestReceived() {}

// RenewalFailed does nothing.
func (NopObserver) RenewalFailed() {}

// RedisError does nothing.
func (NopObserver) RedisError(string) {}

// Locker is a tus.Locker whose locks are Redis keys, shared by every process
// that uses the same Redis and KeyPrefix. Create it with New and stop it
// with Close. It is safe for concurrent use.
type Locker struct {
	client     redis.UniversalClient
	opts       Options
	log        *slog.Logger
	obs        Observer
	ping       time.Duration // see pingInterval
	requestCh  string        // channel of release requests; payload: upload ID
	releasedCh string        // channel of release notifications; payload: upload ID

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the receiver and every renewer

	mu      sync.Mutex
	closed  bool
	ps      *redis.PubSub                         // the receiver's current subscription
	held    map[string]map[*held]struct{}         // locks held through this locker, by upload ID
	waiters map[string]map[chan struct{}]struct{} // closed when the ID's release is seen
}

// New returns a Locker using client, which must have been created with
// ContextTimeoutEnabled set: otherwise go-redis bounds calls by its own
// read and write timeouts and retries instead of CallTimeout, and New
// fails. New validates opts and starts the goroutine that receives release
// requests and notifications; it does not wait for Redis, which may be
// unreachable at first.
func New(client redis.UniversalClient, opts Options) (*Locker, error) {
	return newLocker(client, opts, pingInterval)
}

// newLocker is New with the interval after which a silent subscription
// connection is pinged (tests shorten it).
func newLocker(client redis.UniversalClient, opts Options, ping time.Duration) (*Locker, error) {
	if client == nil {
		return nil, errors.New("redislocker: nil client")
	}
	if err := checkClient(client); err != nil {
		return nil, err
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
	if opts.Lease == 0 {
		opts.Lease = DefaultLease
	}
	if opts.Lease < time.Millisecond {
		return nil, fmt.Errorf("redislocker: Lease %v: must be at least 1ms", opts.Lease)
	}
	if opts.RenewInterval == 0 {
		opts.RenewInterval = opts.Lease / 3
	}
	if opts.RenewInterval <= 0 || opts.RenewInterval >= opts.Lease/2 {
		return nil, fmt.Errorf("redislocker: RenewInterval %v: must be positive and less than Lease/2 (%v)", opts.RenewInterval, opts.Lease/2)
	}
	if opts.CallTimeout == 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.CallTimeout < 0 {
		return nil, fmt.Errorf("redislocker: CallTimeout %v: must not be negative", opts.CallTimeout)
	}
	l := &Locker{
		client:     client,
		opts:       opts,
		log:        opts.Logger,
		obs:        opts.Observer,
		ping:       ping,
		requestCh:  opts.KeyPrefix + "~release-request",
		releasedCh: opts.KeyPrefix + "~released",
		held:       make(map[string]map[*held]struct{}),
		waiters:    make(map[string]map[chan struct{}]struct{}),
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.obs == nil {
		l.obs = NopObserver{}
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.ps = client.Subscribe(l.ctx) // no channels yet: no I/O
	l.wg.Add(1)
	go l.receive(l.ps)
	return l, nil
}

// checkClient fails for the client types known to lack
// ContextTimeoutEnabled. Other implementations are taken on trust.
func checkClient(client redis.UniversalClient) error {
	var enabled bool
	switch c := client.(type) {
	case *redis.Client:
		enabled = c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		enabled = c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		enabled = c.Options().ContextTimeoutEnabled
	default:
		return nil
	}
	if !enabled {
		return errors.New("redislocker: the client must have ContextTimeoutEnabled set, so that CallTimeout bounds every Redis call")
	}
	return nil
}

// UseIn registers the locker in c.
func (l *Locker) UseIn(c *tus.StoreComposer) { c.UseLocker(l) }

// NewLock returns a lock for id; it does not acquire it and does no I/O. The
// lock implements tus.TryLocker as well.
func (l *Locker) NewLock(id string) (tus.Lock, error) {
	return &lock{l: l, id: id, key: l.opts.KeyPrefix + id}, nil
}

// Len returns how many locks are held through this locker. It is meant for
// tests and metrics.
func (l *Locker) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, hs := range l.held {
		n += len(hs)
	}
	return n
}

// Close stops the locker and waits for every goroutine it started. Locks
// still held are asked to let go (their release callbacks) and deleted
// from Redis, best effort, within CallTimeout; call Close after the
// server stopped serving requests. Waiting Lock calls fail with ErrClosed.
// Close does not close the client. Closing twice does nothing.
func (l *Locker) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.cancel()
	var locks []*held
	for _, hs := range l.held {
		for h := range hs {
			locks = append(locks, h)
		}
	}
	clear(l.held)
	ps := l.ps
	l.mu.Unlock()

	for _, h := range locks {
		h.requestRelease()
		h.cancel()
	}
	_ = ps.Close() // ends the receiver's wait for a message
	l.wg.Wait()

	if len(locks) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.CallTimeout)
	defer cancel()
	pipe := l.client.Pipeline()
	for _, h := range locks {
		unlockScript.Eval(ctx, pipe, []string{h.key}, h.token, l.releasedCh, h.id)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		l.obs.RedisError("close")
		return fmt.Errorf("redislocker: close: releasing %d held locks (their keys expire when their leases end): %w", len(locks), err)
	}
	return nil
}

// addHeld registers h, unless the locker is closed.
func (l *Locker) addHeld(h *held) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	hs := l.held[h.id]
	if hs == nil {
		hs = make(map[*held]struct{})
		l.held[h.id] = hs
	}
	hs[h] = struct{}{}
	l.wg.Add(1) // the renewer, started by the caller
	return true
}

// removeHeld unregisters h and reports whether it was registered (Close
// unregisters every lock).
func (l *Locker) removeHeld(h *held) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	hs := l.held[h.id]
	if _, ok := hs[h]; !ok {
		return false
	}
	delete(hs, h)
	if len(hs) == 0 {
		delete(l.held, h.id)
	}
	return true
}

// heldLocks returns the locks held for id, or every held lock if all.
func (l *Locker) heldLocks(id string, all bool) []*held {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*held
	for hid, hs := range l.held {
		if all || hid == id {
			for h := range hs {
				out = append(out, h)
			}
		}
	}
	return out
}

// watch returns a channel that is closed when a release of id is seen (or
// the subscription was re-established and releases may have been missed).
// The caller must unwatch it when it stops waiting.
func (l *Locker) watch(id string) (chan struct{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	ws := l.waiters[id]
	if ws == nil {
		ws = make(map[chan struct{}]struct{})
		l.waiters[id] = ws
	}
	ch := make(chan struct{})
	ws[ch] = struct{}{}
	return ch, nil
}

// unwatch removes ch, if wake has not already.
func (l *Locker) unwatch(id string, ch chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ws := l.waiters[id]
	delete(ws, ch)
	if len(ws) == 0 {
		delete(l.waiters, id)
	}
}

// wake wakes every waiter for id, or every waiter if all.
func (l *Locker) wake(id string, all bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for wid, ws := range l.waiters {
		if all || wid == id {
			for ch := range ws {
				close(ch)
			}
			delete(l.waiters, wid)
		}
	}
}

// receive is the subscription receiver: it delivers release requests to
// the holders in this locker and release notifications to its waiters, and
// watches the connection. It runs until Close.
func (l *Locker) receive(ps *redis.PubSub) {
	defer l.wg.Done()
	subscribe := func(ps *redis.PubSub) {
		ctx, cancel := context.WithTimeout(l.ctx, l.opts.CallTimeout)
		defer cancel()
		// On failure go-redis keeps the channels and subscribes again when
		// the next receive connects.
		if err := ps.Subscribe(ctx, l.requestCh, l.releasedCh); err != nil && l.ctx.Err() == nil {
			l.obs.RedisError("subscribe")
			l.log.Warn("redislocker: subscribing failed; retrying", "error", err)
		}
	}
	subscribe(ps)
	var (
		connected   bool // subscribed, and no failure seen since
		pingPending bool
		delay       time.Duration
	)
	lost := func(op string, err error) {
		if l.ctx.Err() != nil {
			return
		}
		l.obs.RedisError(op)
		if connected {
			connected = false
			l.connectionLost(err)
		}
	}
	for {
		msg, err := ps.ReceiveTimeout(l.ctx, l.ping)
		if l.ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if !pingPending {
					ctx, cancel := context.WithTimeout(l.ctx, l.opts.CallTimeout)
					err = ps.Ping(ctx)
					cancel()
					if err == nil {
						pingPending = true
						continue
					}
				}
				// The ping was not answered within l.ping, or could
				// not be sent: the connection may be half-open, and go-redis
				// would keep it. Start over with a new subscription.
				lost("ping", fmt.Errorf("no answer to ping: %w", err))
				pingPending = false
				if ps = l.resubscribe(ps); ps == nil {
					return
				}
				subscribe(ps)
				continue
			}
			// go-redis drops the broken connection and connects again on
			// the next receive; wait a little so a Redis that is down is
			// not hammered.
			lost("receive", err)
			pingPending = false
			delay = min(max(2*delay, 50*time.Millisecond), maxReconnectDelay)
			select {
			case <-l.ctx.Done():
				return
			case <-time.After(delay):
			}
			continue
		}
		delay, pingPending = 0, false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && !connected {
				connected = true
				l.log.Debug("redislocker: subscribed", "channel", m.Channel)
				// Releases may have been missed while disconnected.
				l.wake("", true)
			}
		case *redis.Message:
			switch m.Channel {
			case l.requestCh:
				for _, h := range l.heldLocks(m.Payload, false) {
					l.obs.ReleaseRequestReceived()
					h.requestRelease()
				}
			case l.releasedCh:
				l.wake(m.Payload, false)
			}
		}
	}
}

// resubscribe replaces the receiver's subscription old with a new one and
// returns it, or nil if the locker is closed.
func (l *Locker) resubscribe(old *redis.PubSub) *redis.PubSub {
	_ = old.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.ps = l.client.Subscribe(l.ctx)
	return l.ps
}

// connectionLost asks every holder in this locker to let go: Redis may
// have restarted without the lock keys, and release requests may be
// missed while the subscription is down.
func (l *Locker) connectionLost(err error) {
	locks := l.heldLocks("", true)
	l.log.Warn("redislocker: subscription connection lost; asking every holder to let go", "error", err, "held", len(locks))
	for _, h := range locks {
		h.requestRelease()
	}
}

// callContext returns a context for one Redis call: ctx bounded by
// CallTimeout.
func (l *Locker) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, l.opts.CallTimeout)
}
