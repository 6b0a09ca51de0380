// Package redislocker provides a tus.Locker shared through Redis by several
// processes, for tus servers behind a load balancer without sticky
// sessions: consecutive requests for one upload land on different
// instances, and instances die, yet at most one request writes an upload at
// a time.
//
// # How it works
//
// The lock of an upload is the key KeyPrefix+ID ("tus:lock:" by default)
// holding a random token. Lock takes it with SET key token NX PX Lease (in
// a Lua script, see below); a goroutine of the holder renews the lease
// every RenewInterval with a script that extends it only while the key
// still holds the token; Unlock stops that goroutine and, in one script,
// deletes the key if it still holds the token and publishes the upload ID
// on the channel KeyPrefix+"~released".
//
// When the key is taken, the same script that tried the SET publishes the
// upload ID on KeyPrefix+"~release-request" and answers the key's remaining
// TTL. Every Locker keeps one pub/sub connection subscribed to both
// channels; the one whose process holds the lock calls the holder's release
// callback (once per held lock), and the handler then ends the request and
// unlocks. The waiter meanwhile waits, without polling, for a release
// notification of that ID, for the holder's lease to end (the holder may
// have died), or for a second to pass, and tries again; each try that finds
// the lock taken repeats the release request, since a pub/sub message can
// be lost. So a client that resumes on another instance, after its
// connection to the first one dropped, gets the lock within about a second
// if the first instance is alive, and within a lease if it died.
//
// TryLock (tus.TryLocker, for the expiry sweep) is a single SET key token
// NX PX Lease without the script: it takes a free lock or fails at once
// with tus.ErrLockHeld, publishing no release request. A lock it took has
// no release callback but is renewed and unlocked like any other; waiters
// wait for its Unlock.
//
// Pub/sub on two fixed channels carrying the upload ID, rather than
// keyspace notifications, because those need notify-keyspace-events in the
// server's configuration, which managed Redis services often do not let
// one change; rather than a channel per upload, because subscribing and
// unsubscribing for every lock would cost round trips and state to restore
// after a reconnect, while the messages are few and small; rather than a
// pattern subscription, because a fixed channel costs the server a lookup
// and a pattern a match against every published message.
//
// # Guarantees
//
// The key is the lock: two holders can only overlap if the key is lost
// while held, and the locker makes a holder stop before that can happen.
// Its renewer asks the holder to let go (calls the release callback) at
// once when a renewal finds the key gone or holding another token, and,
// when renewals fail (Redis unreachable or slow), as soon as half a lease
// has passed since the last successful renewal was sent. Since the lease
// runs from when Redis executed that renewal, at least half a lease is then
// left before anyone else can take the key. The remaining risk is a holder
// that keeps writing for more than half a lease (15s by default) after
// being asked to stop; the tus handler stops reading a request's body
// within a fraction of a second.
//
// Locks are for cooperating processes on one Redis: with Sentinel or
// Cluster, a failover can lose a lock key that was not replicated yet, as
// with any lock on asynchronously replicated Redis. The scripts touch one
// key each and the channels are not sharded, so Cluster works.
//
// # Defaults
//
// KeyPrefix "tus:lock:", Lease 30s, RenewInterval Lease/3, CallTimeout 2s.
// A waiter repeats its release request every second; the subscription
// connection is pinged after 3s of silence.
//
// # Failures
//
// Every Redis call is bounded by CallTimeout, which requires a client
// created with ContextTimeoutEnabled (New checks it). When Redis does not
// answer, Lock retries once and then fails with an error wrapping
// tus.ErrUnavailable (the handler answers 503 with Retry-After), within
// about two CallTimeouts; when its context ends first, it fails with an
// error wrapping tus.ErrLockTimeout and the context's error. A SET whose
// reply was lost may have taken the key: the retry uses the same token and
// accepts it; if that fails too, the key expires when its lease ends.
// Unlock's delete may fail the same way; the key then expires too, and
// waiters get in after at most a lease.
//
// When the subscription connection breaks (Redis restarted, a network
// failure, an unanswered ping), the locker asks every holder in its process
// to let go: a restarted Redis without persistence has lost every lock key,
// and a new request could take one at once. The lock itself stays with its
// holder until Unlock if the key survived; Unlock then answers ErrLockLost
// if it had not. go-redis connects again by itself, the locker subscribes
// again, wakes its waiters (notifications may have been missed) and works
// as before, without a restart of the process.
//
// An instance that dies holds its locks until their leases end; one whose
// Redis connection breaks stops writing before its leases end. Close asks
// the locker's remaining holders to let go, deletes their keys, and stops
// and waits for every goroutine the locker started: the subscription
// receiver and one renewer per held lock.
package redislocker
