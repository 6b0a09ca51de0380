package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
)

// ofdLockFile is the file in the lock directory whose byte ranges are the
// locks where open file description locks exist. Its leading '.' keeps it
// apart from every upload's files.
const ofdLockFile = ".tus-locks"

const (
	lockSuffix    = ".lock"
	releaseSuffix = ".release"

	// DefaultRetryInterval is how often a waiting Lock retries the flock.
	DefaultRetryInterval = 20 * time.Millisecond
	// DefaultReleaseCheckInterval is how often a holder looks for a release
	// request from another process.
	DefaultReleaseCheckInterval = 50 * time.Millisecond
)

// FileLocker is a tus.Locker that serialises requests for the same upload
// across goroutines and across processes on one host sharing a directory.
// Its locks are kernel locks tied to open files, so a process that dies
// holds nothing (unlike PID files, which break in containers).
//
// Inside a process, locks go through a memorylocker.MemoryLocker, which
// hands the lock over and delivers release requests between goroutines at
// once. Across processes:
//
//   - On Linux, every lock is a one-byte open file description lock
//     (fcntl F_OFD_SETLK, the byte-range sibling of flock(2)) in one file,
//     <dir>/.tus-locks, at a position hashed from the upload ID: two system
//     calls per lock, and no file created or removed. A waiter in another
//     process read-locks a second range of the upload to ask the holder to
//     let go; holders check for it every ReleaseCheckInterval.
//   - Elsewhere (and on Linux kernels before 3.15), the holder of a lock on
//     id holds flock(2) on <dir>/<id>.lock. A waiter retries every
//     RetryInterval and meanwhile keeps a marker file <dir>/<id>.release in
//     place; holders look for it every ReleaseCheckInterval. The holder
//     removes its lock file in Unlock while it still holds the flock; a
//     waiter that had opened the removed file notices, once it gets the
//     flock, that the path no longer names that file, and starts over.
//     Lock files must not be removed by anyone else.
//
// One goroutine per locker looks for the release requests of all the locks
// it holds through Lock, every ReleaseCheckInterval; it returns within one
// interval once no such lock is held, and Close stops it and waits for it.
//
// Its locks implement tus.TryLocker too: TryLock takes a lock that nobody
// holds, with one non-blocking attempt at each level, and asks no holder to
// let go.
//
// FileLocker works on Unix systems; elsewhere NewLocker fails.
// FileLocker is safe for concurrent use. Change its fields only before the
// first call to NewLock.
type FileLocker struct {
	// RetryInterval is how often a waiting Lock retries the flock and renews
	// its release request. NewLocker sets DefaultRetryInterval, which is
	// also used if RetryInterval is not positive.
	RetryInterval time.Duration
	// ReleaseCheckInterval is how often the holder of a lock looks for a
	// release request from another process. NewLocker sets
	// DefaultReleaseCheckInterval, which is also used if
	// ReleaseCheckInterval is not positive.
	ReleaseCheckInterval time.Duration

	dir     string
	mem     *memorylocker.MemoryLocker
	ofd     *ofdTable // nil: flock on a file per upload
	watcher *releaseWatcher
}

// NewLocker returns a FileLocker keeping its lock files in dir, which it
// creates (mode 0750) if it is missing. dir may be the directory of a
// FileStore: the store never touches the locker's files. It fails on systems
// without flock(2).
func NewLocker(dir string) (*FileLocker, error) {
	return newLocker(dir, true)
}

// newLocker is NewLocker; useOFD false forces flock even where open file
// description locks exist (for tests of that path).
func newLocker(dir string, useOFD bool) (*FileLocker, error) {
	if err := flockSupported(); err != nil {
		return nil, err
	}
	abs, err := prepareDir(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: locker: %w", err)
	}
	l := &FileLocker{
		RetryInterval:        DefaultRetryInterval,
		ReleaseCheckInterval: DefaultReleaseCheckInterval,
		dir:                  abs,
		mem:                  memorylocker.New(),
		watcher:              newReleaseWatcher(),
	}
	if useOFD {
		if l.ofd, err = openOFD(abs); err != nil && !errors.Is(err, errors.ErrUnsupported) {
			return nil, fmt.Errorf("filestore: locker: %w", err)
		}
	}
	return l, nil
}

// Close stops the goroutine that looks for release requests and waits for
// it, and releases the locker's lock file. Locks still held are lost; call
// it only when no request uses the locker any more. Lock and TryLock fail
// after Close with an error wrapping fs.ErrClosed.
func (l *FileLocker) Close() error {
	l.watcher.close()
	if l.ofd == nil {
		return nil
	}
	return l.ofd.close()
}

// UseIn registers the locker in c.
func (l *FileLocker) UseIn(c *tus.StoreComposer) { c.UseLocker(l) }

// NewLock returns a lock for id without acquiring it; the lock implements
// tus.TryLocker as well. It fails if id is neither a valid upload ID nor
// one of the handler's own lock names ('~' and a valid ID; see
// tus.Locker).
func (l *FileLocker) NewLock(id string) (tus.Lock, error) {
	if name, own := strings.CutPrefix(id, "~"); !tus.ValidID(name) || !own && !tus.ValidID(id) {
		return nil, fmt.Errorf("filestore: new lock: invalid ID %s: %w", shownID(id), tus.ErrInvalidID)
	}
	ml, err := l.mem.NewLock(id)
	if err != nil {
		return nil, fmt.Errorf("filestore: new lock %q: %w", id, err)
	}
	mem, ok := ml.(memLock)
	if !ok {
		return nil, fmt.Errorf("filestore: new lock %q: the in-process lock %T cannot be tried", id, ml)
	}
	if l.ofd != nil {
		return l.newOFDLock(id, mem), nil
	}
	return &fileLock{
		lockLife:    lockLife{id: id, locker: l},
		mem:         mem,
		lockPath:    filepath.Join(l.dir, id+lockSuffix),
		releasePath: filepath.Join(l.dir, id+releaseSuffix),
	}, nil
}

// memLock is the in-process half of a FileLocker's lock: a memorylocker
// lock, which can also be tried.
type memLock interface {
	tus.Lock
	tus.TryLocker
}

// lockState is where a fileLock is in its life.
type lockState int

const (
	unlocked  lockState = iota
	acquiring           // inside Lock
	locked
)

// fileLock is one lock of a FileLocker.
type fileLock struct {
	lockLife
	mem         memLock
	lockPath    string
	releasePath string
	file        *os.File // the flocked lock file while locked; guarded by mu
}

// lockLife is what both kinds of lock share: one Lock at a time, and while
// a lock taken by Lock is held, a place among the locks the locker's
// releaseWatcher checks, which Unlock gives up. A lock taken by TryLock is
// not checked: nobody is there to be asked to let go.
type lockLife struct {
	id     string
	locker *FileLocker
	mu     sync.Mutex // guards the fields below and the lock's own
	state  lockState
	watch  *watchedLock // while locked by Lock
}

// lock runs acquire (without mu) for a lock that is neither held nor being
// acquired, then asks the locker's watcher to check asked (which reports
// whether a waiter in another process asked for the lock) until unlock.
// release is releaseRequested called at most once. With asked nil
// (TryLock) nothing is checked.
func (l *lockLife) lock(ctx context.Context, releaseRequested func(),
	acquire func(ctx context.Context, release func()) error, asked func() bool) error {
	if l.locker.watcher.isClosed() {
		return fmt.Errorf("filestore: lock %q: the locker is closed: %w", l.id, fs.ErrClosed)
	}
	l.mu.Lock()
	if l.state != unlocked {
		l.mu.Unlock()
		return fmt.Errorf("filestore: lock %q: already held or being acquired by this Lock", l.id)
	}
	l.state = acquiring
	l.mu.Unlock()

	release := atMostOnce(releaseRequested)
	err := acquire(ctx, release)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.state = unlocked
		return err
	}
	l.state = locked
	if asked != nil {
		l.watch = l.locker.watcher.watch(positive(l.locker.ReleaseCheckInterval, DefaultReleaseCheckInterval), asked, release)
	}
	return nil
}

// unlock stops the checks of a held lock (once it returns, the release
// callback neither runs nor will be called) and runs free with mu held.
func (l *lockLife) unlock(free func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != locked {
		return fmt.Errorf("filestore: unlock %q: %w", l.id, memorylocker.ErrNotLocked)
	}
	if l.watch != nil {
		l.locker.watcher.unwatch(l.watch)
		l.watch = nil
	}
	err := free()
	l.state = unlocked
	if err != nil {
		return fmt.Errorf("filestore: unlock %q: %w", l.id, err)
	}
	return nil
}

// Lock acquires the lock: first in this process, then across processes. It
// waits until ctx is done and then fails with an error wrapping
// tus.ErrLockTimeout. A holder in this process is asked to let go at once, a
// holder in another process within about RetryInterval plus
// ReleaseCheckInterval.
//
// releaseRequested (which may be nil) is called at most once, from another
// goroutine, when someone else wants the lock. It may be called while this
// Lock is still waiting for another process, when a newer request in this
// process already wants the lock. It must not block, and in particular must
// not call Unlock itself: Unlock waits for the goroutine that calls it, which
// serves the release requests of every lock the locker holds.
func (k *fileLock) Lock(ctx context.Context, releaseRequested func()) error {
	return k.lock(ctx, releaseRequested, func(ctx context.Context, release func()) error {
		f, err := k.acquire(ctx, release)
		if err == nil {
			k.file = f // published by lock taking mu
		}
		return err
	}, k.asked)
}

// TryLock acquires the lock if nobody holds it, in this process or another;
// if somebody does, it fails at once with an error wrapping tus.ErrLockHeld.
// It asks no holder to let go: it leaves no release marker, and the
// in-process holder's callback is not called. It takes the in-process lock
// without waiting, then tries the cross-process lock once; if that is held,
// it gives the in-process lock back.
//
// A lock taken by TryLock watches for no release requests: its holder (the
// expiry sweep) passes no release callback and holds it briefly, so
// waiters, here or in another process, get it when it calls Unlock. Unlock
// works as after Lock. TryLock does not wait, so ctx is consulted only
// between the immediate retries needed when the lock file is removed under
// it.
func (k *fileLock) TryLock(ctx context.Context) error {
	return k.lock(ctx, nil, func(ctx context.Context, _ func()) error {
		f, err := k.tryAcquire(ctx)
		if err == nil {
			k.file = f // published by lock taking mu
		}
		return err
	}, nil)
}

// tryAcquire tries the in-process lock and then the flock once each, and
// returns the flocked lock file.
func (k *fileLock) tryAcquire(ctx context.Context) (*os.File, error) {
	if err := k.mem.TryLock(ctx); err != nil {
		return nil, fmt.Errorf("filestore: lock %q: %w", k.id, err)
	}
	f, err := k.flock(ctx, true)
	if err != nil {
		if uerr := k.mem.Unlock(); uerr != nil {
			err = errors.Join(err, uerr)
		}
		return nil, err
	}
	// A release marker present is left alone: it belongs to a waiter in
	// another process, and Unlock removes it as after Lock.
	return f, nil
}

// acquire takes the in-process lock and then the flock, and returns the
// flocked lock file.
func (k *fileLock) acquire(ctx context.Context, release func()) (*os.File, error) {
	if err := k.mem.Lock(ctx, release); err != nil {
		return nil, fmt.Errorf("filestore: lock %q: %w", k.id, err)
	}
	f, err := k.flock(ctx, false)
	if err != nil {
		if uerr := k.mem.Unlock(); uerr != nil {
			err = errors.Join(err, uerr)
		}
		return nil, err
	}
	// Release requests still present were meant for the previous holder;
	// waiters that still wait renew theirs.
	if err := os.Remove(k.releasePath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		_ = unflock(f)
		_ = f.Close()
		if uerr := k.mem.Unlock(); uerr != nil {
			err = errors.Join(err, uerr)
		}
		return nil, fmt.Errorf("filestore: lock %q: remove release request: %w", k.id, err)
	}
	return f, nil
}

// flock opens the lock file and waits until it holds flock on it, asking the
// holder to let go meanwhile. It starts over if the file it locked is no
// longer the one at lockPath, because someone removed or replaced it. With
// try set it neither waits nor asks: a flock held by someone else fails it
// at once with an error wrapping tus.ErrLockHeld.
func (k *fileLock) flock(ctx context.Context, try bool) (*os.File, error) {
	var tick *time.Ticker
	defer func() {
		if tick != nil {
			tick.Stop()
		}
	}()
	wait := func() error {
		if tick == nil {
			tick = time.NewTicker(positive(k.locker.RetryInterval, DefaultRetryInterval))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("filestore: lock %q: %w: %w", k.id, tus.ErrLockTimeout, ctx.Err())
		case <-tick.C:
			return nil
		}
	}
	for {
		f, err := os.OpenFile(k.lockPath, os.O_RDONLY|os.O_CREATE, filePerm)
		if err != nil {
			return nil, fmt.Errorf("filestore: lock %q: open lock file: %w", k.id, err)
		}
		for {
			ok, err := tryFlock(f)
			if err != nil {
				_ = f.Close()
				return nil, fmt.Errorf("filestore: lock %q: flock: %w", k.id, err)
			}
			if ok {
				break
			}
			if try {
				_ = f.Close()
				return nil, fmt.Errorf("filestore: lock %q: %w", k.id, tus.ErrLockHeld)
			}
			k.requestRelease()
			if err := wait(); err != nil {
				_ = f.Close()
				return nil, err
			}
		}
		same, err := isSameFile(f, k.lockPath)
		if err == nil && same {
			return f, nil
		}
		_ = unflock(f)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("filestore: lock %q: check lock file: %w", k.id, err)
		}
		// The file was removed or replaced after we opened it: whoever
		// opens the path now locks another file. Start over on that one.
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("filestore: lock %q: %w: %w", k.id, tus.ErrLockTimeout, err)
		}
	}
}

// requestRelease puts the release marker in place, asking the holder in
// another process to let go. Failing to do so only makes the wait longer, so
// errors are ignored.
func (k *fileLock) requestRelease() {
	f, err := os.OpenFile(k.releasePath, os.O_WRONLY|os.O_CREATE, filePerm)
	if err == nil {
		_ = f.Close()
	}
}

// asked reports whether a waiter in another process left a release marker,
// and removes the marker if one did. The locker's watcher calls it every
// ReleaseCheckInterval while the lock is held.
func (k *fileLock) asked() bool {
	if _, err := os.Lstat(k.releasePath); err != nil {
		return false
	}
	_ = os.Remove(k.releasePath)
	return true
}

// Unlock releases the lock: it stops watching for release requests, removes
// a pending release request (waiters still waiting renew it), releases the
// flock, closes the lock file and releases the in-process lock. It removes
// the lock file before releasing its flock. It fails with an error wrapping
// memorylocker.ErrNotLocked if the lock is not held; otherwise it does every
// step and reports the errors of all of them.
func (k *fileLock) Unlock() error {
	return k.unlock(func() error {
		var errs []error
		if err := os.Remove(k.releasePath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove release request: %w", err))
		}
		// Removing the lock file while still holding its flock is safe: a
		// waiter that opened it finds, once it gets the flock, that the path
		// no longer names its file, and starts over (see flock). If the path
		// names another file already, it belongs to someone else and stays.
		if same, err := isSameFile(k.file, k.lockPath); err != nil {
			errs = append(errs, fmt.Errorf("check lock file: %w", err))
		} else if same {
			if err := os.Remove(k.lockPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove lock file: %w", err))
			}
		}
		if err := unflock(k.file); err != nil {
			errs = append(errs, fmt.Errorf("release flock: %w", err))
		}
		if err := k.file.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close lock file: %w", err))
		}
		if err := k.mem.Unlock(); err != nil {
			errs = append(errs, err)
		}
		k.file = nil
		return errors.Join(errs...)
	})
}

// isSameFile reports whether the open file f is still the file at path.
func isSameFile(f *os.File, path string) (bool, error) {
	ffi, err := f.Stat()
	if err != nil {
		return false, err
	}
	pfi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return os.SameFile(ffi, pfi), nil
}

// positive returns d, or def if d is not positive.
func positive(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// atMostOnce returns a function that calls f on its first call only, and
// never blocks on concurrent calls. f may be nil.
func atMostOnce(f func()) func() {
	if f == nil {
		return func() {}
	}
	var called atomic.Bool
	return func() {
		if called.CompareAndSwap(false, true) {
			f()
		}
	}
}

// Interface checks.
var (
	_ tus.Locker    = (*FileLocker)(nil)
	_ tus.Lock      = (*fileLock)(nil)
	_ tus.TryLocker = (*fileLock)(nil)
)
