package filestore

import (
	"sync"
	"time"
)

// releaseWatcher looks, every ReleaseCheckInterval, for release requests
// that waiters in other processes made for the locks a FileLocker holds
// through Lock, and calls the holders' release callbacks.
//
// One goroutine serves every held lock of the locker: a goroutine and a
// ticker per held lock cost about 8 KiB each and a wake-up per interval,
// which with thousands of uploads in flight adds up. The goroutine runs only
// while locks are watched: watch starts it, it returns at the first tick
// that finds nothing to watch (so within one interval of the last unwatch),
// and close stops it and waits for it.
type releaseWatcher struct {
	mu      sync.Mutex
	watched map[*watchedLock]struct{}
	running bool          // the goroutine runs (or is about to)
	closed  bool          // close was called: watch starts nothing
	quit    chan struct{} // closed by close to stop the goroutine
	wg      sync.WaitGroup
}

// watchedLock is one held lock that a releaseWatcher checks.
type watchedLock struct {
	// mu is held while asked and release run and by unwatch, so that once
	// unwatch returns, release neither runs nor will be called.
	mu      sync.Mutex
	asked   func() bool // reports whether a waiter in another process asked
	release func()      // the holder's release callback; must not block
	done    bool        // release was called, or unwatch was
}

// newReleaseWatcher returns a watcher that checks nothing yet.
func newReleaseWatcher() *releaseWatcher {
	return &releaseWatcher{quit: make(chan struct{})}
}

// watch starts checking asked until unwatch; when asked reports a request,
// release is called once and the lock is no longer checked. If the
// goroutine is not running, watch starts it with a tick of interval. After
// close, watch checks nothing (the locker refuses new locks by then; see
// isClosed).
func (rw *releaseWatcher) watch(interval time.Duration, asked func() bool, release func()) *watchedLock {
	w := &watchedLock{asked: asked, release: release}
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.closed {
		w.done = true
		return w
	}
	if rw.watched == nil {
		rw.watched = make(map[*watchedLock]struct{})
	}
	rw.watched[w] = struct{}{}
	if !rw.running {
		rw.running = true
		rw.wg.Add(1)
		go rw.run(interval)
	}
	return w
}

// unwatch stops checking w. Once it returns, w's release callback is not
// running and will not be called.
func (rw *releaseWatcher) unwatch(w *watchedLock) {
	rw.mu.Lock()
	delete(rw.watched, w)
	rw.mu.Unlock()
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// run checks every watched lock once per interval, and returns when a tick
// finds none or close is called.
func (rw *releaseWatcher) run(interval time.Duration) {
	defer rw.wg.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var batch []*watchedLock // reused between ticks
	for {
		select {
		case <-rw.quit:
			return
		case <-tick.C:
		}
		rw.mu.Lock()
		if len(rw.watched) == 0 {
			rw.running = false
			rw.mu.Unlock()
			return
		}
		batch = batch[:0]
		for w := range rw.watched {
			batch = append(batch, w)
		}
		rw.mu.Unlock()
		// The checks run without rw.mu, so that locks are taken and given
		// back meanwhile; a lock unwatched since the batch was made is
		// skipped (done), or waited for by unwatch (w.mu).
		for i, w := range batch {
			if rw.check(w) {
				rw.mu.Lock()
				delete(rw.watched, w)
				rw.mu.Unlock()
			}
			batch[i] = nil // let the lock go
		}
	}
}

// check calls w's release callback if w is still watched and a waiter
// asked for it, and reports whether it did.
func (rw *releaseWatcher) check(w *watchedLock) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done || !w.asked() {
		return false
	}
	w.done = true
	w.release()
	return true
}

// isClosed reports whether close was called.
func (rw *releaseWatcher) isClosed() bool {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.closed
}

// close stops the goroutine, waits for it, and makes later calls of watch
// check nothing.
func (rw *releaseWatcher) close() {
	rw.mu.Lock()
	if !rw.closed {
		rw.closed = true
		close(rw.quit)
	}
	rw.mu.Unlock()
	rw.wg.Wait()
}
