// Package memorylocker provides an in-process tus.Locker. It serialises
// requests for the same upload inside one process and asks the current holder
// to let go when another request wants the lock, so a client that resumes
// after a dropped connection does not wait for the old request to time out.
//
// Use it when a single process serves a store; for several processes on one
// host sharing a directory use the filestore locker instead.
package memorylocker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tusgo/tus"
)

// ErrNotLocked is returned by Unlock on a lock that is not held.
var ErrNotLocked = errors.New("memorylocker: lock is not held")

// MemoryLocker is an in-process tus.Locker. The zero value is not usable;
// call New. It is safe for concurrent use and starts no goroutines.
type MemoryLocker struct {
	mu    sync.Mutex
	locks map[string]*holder
}

// holder is the state of one held lock.
type holder struct {
	release   func()        // the holder's release request; nil once called
	freed     chan struct{} // closed by Unlock
	requested bool
}

// New returns an empty MemoryLocker.
func New() *MemoryLocker {
	return &MemoryLocker{locks: make(map[string]*holder)}
}

// UseIn registers the locker in composer.
func (l *MemoryLocker) UseIn(composer *tus.StoreComposer) { composer.UseLocker(l) }

// NewLock returns a lock for id; it does not acquire it. The lock also
// implements tus.TryLocker.
func (l *MemoryLocker) NewLock(id string) (tus.Lock, error) {
	return &lock{locker: l, id: id}, nil
}

// Len returns how many locks are held. It is meant for tests and metrics.
func (l *MemoryLocker) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.locks)
}

type lock struct {
	locker *MemoryLocker
	id     string
	held   *holder
}

// Lock acquires the lock, asking the current holder to release it, and waits
// until it is free or ctx is done.
func (k *lock) Lock(ctx context.Context, releaseRequested func()) error {
	l := k.locker
	for {
		l.mu.Lock()
		if k.held != nil {
			l.mu.Unlock()
			return fmt.Errorf("memorylocker: lock %q is already held by this Lock", k.id)
		}
		h, busy := l.locks[k.id]
		if !busy {
			h = &holder{release: releaseRequested, freed: make(chan struct{})}
			l.locks[k.id] = h
			k.held = h
			l.mu.Unlock()
			return nil
		}
		var release func()
		if !h.requested {
			h.requested = true
			release = h.release
		}
		l.mu.Unlock()
		if release != nil {
			release()
		}
		select {
		case <-h.freed:
		case <-ctx.Done():
			return fmt.Errorf("memorylocker: %w: %w", tus.ErrLockTimeout, ctx.Err())
		}
	}
}

// TryLock acquires the lock if nobody holds it. If somebody does, it fails
// at once with an error wrapping tus.ErrLockHeld and does not ask the holder
// to let go. A lock acquired by TryLock has no release callback: a later
// Lock waits for Unlock without asking anything. Like Lock, it fails (with
// an error not wrapping tus.ErrLockHeld) if this value holds the lock
// already. TryLock never waits, so ctx is not consulted.
func (k *lock) TryLock(ctx context.Context) error {
	l := k.locker
	l.mu.Lock()
	defer l.mu.Unlock()
	if k.held != nil {
		return fmt.Errorf("memorylocker: lock %q is already held by this Lock", k.id)
	}
	if _, busy := l.locks[k.id]; busy {
		return fmt.Errorf("memorylocker: lock %q: %w", k.id, tus.ErrLockHeld)
	}
	h := &holder{freed: make(chan struct{})}
	l.locks[k.id] = h
	k.held = h
	return nil
}

// Unlock releases the lock and wakes every waiter.
func (k *lock) Unlock() error {
	l := k.locker
	l.mu.Lock()
	defer l.mu.Unlock()
	h := k.held
	if h == nil || l.locks[k.id] != h {
		return ErrNotLocked
	}
	delete(l.locks, k.id)
	k.held = nil
	close(h.freed)
	return nil
}

// Interface checks.
var (
	_ tus.Locker    = (*MemoryLocker)(nil)
	_ tus.Lock      = (*lock)(nil)
	_ tus.TryLocker = (*lock)(nil)
)
