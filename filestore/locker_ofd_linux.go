//go:build linux

package filestore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/tusgo/tus"
)

// Open file description locks (fcntl F_OFD_*, Linux 3.15 and later). Like
// flock(2) they belong to an open file description and vanish when the
// process dies, but they lock byte ranges: one shared file holds every
// upload's lock, so locking creates and removes no files at all.
const (
	fOFDGetLk = 36 // F_OFD_GETLK
	fOFDSetLk = 37 // F_OFD_SETLK
)

// requestBase separates the two ranges an upload has: its lock at h, and
// at requestBase+h the range waiters in other processes read-lock to ask
// the holder to let go.
const requestBase = 1 << 61

// ofdTable is a FileLocker's open lock file and what this process holds
// in it.
type ofdTable struct {
	file *os.File

	mu       sync.Mutex
	held     map[int64]int // lock range -> holders in this process
	requests map[int64]int // request range -> waiters in this process
}

// openOFD opens (creating it if needed) the lock file in dir and checks that
// the kernel supports OFD locks.
func openOFD(dir string) (*ofdTable, error) {
	f, err := os.OpenFile(filepath.Join(dir, ofdLockFile), os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, err
	}
	t := &ofdTable{file: f, held: make(map[int64]int), requests: make(map[int64]int)}
	if _, err := t.conflict(0); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EINVAL) {
			return nil, errors.ErrUnsupported // a kernel older than 3.15
		}
		return nil, err
	}
	return t, nil
}

// rangeOf returns the lock range of id: 61 bits of its FNV-1a hash. Two IDs
// that share a range only wait for each other; see ofdTable.held.
func rangeOf(id string) int64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return int64(h.Sum64() & (requestBase - 1))
}

// fcntl applies an OFD lock command to the one-byte range at start.
func (t *ofdTable) fcntl(cmd int, typ int16, start int64) (syscall.Flock_t, error) {
	lk := syscall.Flock_t{Type: typ, Whence: 0, Start: start, Len: 1}
	rc, err := t.file.SyscallConn()
	if err != nil {
		return lk, err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.FcntlFlock(fd, cmd, &lk)
			if !errors.Is(ferr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		return lk, err
	}
	return lk, ferr
}

// tryLock takes the write lock on start without waiting. It reports false
// if another open file description holds it.
func (t *ofdTable) tryLock(start int64, counts map[int64]int, typ int16) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if counts[start] > 0 {
		// This process holds the range already (for an ID with the same
		// hash): locks of one open file description never conflict.
		counts[start]++
		return true, nil
	}
	_, err := t.fcntl(fOFDSetLk, typ, start)
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("fcntl lock: %w", err)
	}
	counts[start] = 1
	return true, nil
}

// release drops one holder of the range at start and unlocks it after the
// last.
func (t *ofdTable) release(start int64, counts map[int64]int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if counts[start]--; counts[start] > 0 {
		return nil
	}
	delete(counts, start)
	if _, err := t.fcntl(fOFDSetLk, syscall.F_UNLCK, start); err != nil {
		return fmt.Errorf("fcntl unlock: %w", err)
	}
	return nil
}

// conflict reports whether another open file description holds a lock on
// the range at start.
func (t *ofdTable) conflict(start int64) (bool, error) {
	lk, err := t.fcntl(fOFDGetLk, syscall.F_WRLCK, start)
	if err != nil {
		return false, fmt.Errorf("fcntl getlk: %w", err)
	}
	return lk.Type != syscall.F_UNLCK, nil
}

// ofdLock is one lock of a FileLocker using OFD locks.
type ofdLock struct {
	lockLife
	start int64
	mem   memLock
}

// Lock acquires the lock: first in this process, then across processes. A
// holder in another process is asked to let go within about
// ReleaseCheckInterval. See fileLock.Lock for the contract.
func (k *ofdLock) Lock(ctx context.Context, releaseRequested func()) error {
	return k.lock(ctx, releaseRequested, k.acquire, k.asked)
}

// TryLock acquires the lock if nobody holds it, in this process or another;
// if somebody does, it fails at once with an error wrapping tus.ErrLockHeld.
// It asks no holder to let go: it does not read-lock the request range, and
// the in-process holder's callback is not called. A lock taken by TryLock
// watches for no release requests (see fileLock.TryLock); Unlock works as
// after Lock. TryLock makes one non-blocking system call at most and does
// not consult ctx.
func (k *ofdLock) TryLock(ctx context.Context) error {
	return k.lock(ctx, nil, func(ctx context.Context, _ func()) error {
		if err := k.mem.TryLock(ctx); err != nil {
			return fmt.Errorf("filestore: lock %q: %w", k.id, err)
		}
		t := k.locker.ofd
		ok, err := t.tryLock(k.start, t.held, syscall.F_WRLCK)
		if err == nil && !ok {
			err = tus.ErrLockHeld
		}
		if err != nil {
			return errors.Join(fmt.Errorf("filestore: lock %q: %w", k.id, err), k.mem.Unlock())
		}
		return nil
	}, nil)
}

// acquire takes the in-process lock and then the range lock, read-locking
// the request range while it waits so that the holder lets go.
func (k *ofdLock) acquire(ctx context.Context, release func()) (err error) {
	if err := k.mem.Lock(ctx, release); err != nil {
		return fmt.Errorf("filestore: lock %q: %w", k.id, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, k.mem.Unlock())
		}
	}()
	t := k.locker.ofd
	requesting := false
	defer func() {
		if requesting {
			// Failing to withdraw the request only makes the next holder let
			// go once for nothing; it must not undo a lock just taken.
			_ = t.release(requestBase+k.start, t.requests)
		}
	}()
	var tick *time.Ticker
	for {
		ok, err := t.tryLock(k.start, t.held, syscall.F_WRLCK)
		if err != nil {
			return fmt.Errorf("filestore: lock %q: %w", k.id, err)
		}
		if ok {
			return nil
		}
		if !requesting {
			if requesting, err = t.tryLock(requestBase+k.start, t.requests, syscall.F_RDLCK); err != nil {
				return fmt.Errorf("filestore: lock %q: ask holder to release: %w", k.id, err)
			}
		}
		if tick == nil {
			tick = time.NewTicker(positive(k.locker.RetryInterval, DefaultRetryInterval))
			defer tick.Stop()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("filestore: lock %q: %w: %w", k.id, tus.ErrLockTimeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// asked reports whether a waiter in another process asks for the lock: it
// read-locks the upload's request range. The locker's watcher calls it
// every ReleaseCheckInterval while the lock is held.
func (k *ofdLock) asked() bool {
	asked, err := k.locker.ofd.conflict(requestBase + k.start)
	return err == nil && asked
}

// Unlock stops watching for release requests, releases the range lock and
// then the in-process lock.
func (k *ofdLock) Unlock() error {
	return k.unlock(func() error {
		return errors.Join(k.locker.ofd.release(k.start, k.locker.ofd.held), k.mem.Unlock())
	})
}

var (
	_ tus.Lock      = (*ofdLock)(nil)
	_ tus.TryLocker = (*ofdLock)(nil)
)

// close closes the lock file, dropping every lock this table holds.
func (t *ofdTable) close() error { return t.file.Close() }

// newOFDLock returns an unacquired OFD lock for id.
func (l *FileLocker) newOFDLock(id string, mem memLock) tus.Lock {
	return &ofdLock{lockLife: lockLife{id: id, locker: l}, start: rangeOf(id), mem: mem}
}
