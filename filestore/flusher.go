package filestore

import (
	"os"
	"sync"
)

// maxPendingFlushes bounds the data files waiting for a background flush.
// A kick that finds the queue full is dropped: the flush is only an
// advance on the fsync of FinishUpload, which still writes everything.
const maxPendingFlushes = 256

// flusher forces data files to stable storage in the background while
// their uploads stream in, so that the fsync of FinishUpload, which the
// client waits for, has little left to do.
//
// Starting write-back with sync_file_range(2) (startWriteback) is not
// enough for that: it moves the bytes from the page cache to the device,
// but a device with a volatile write cache (most disks and SSDs, and the
// virtual disks of cloud machines, whose cache is the host's page cache)
// still holds them there until the fsync's cache flush, which then takes
// about as long as writing them. A background fdatasync(2) flushes that
// cache while the upload goes on.
//
// The worker goroutine runs only while files wait, and FileStore.Close waits
// for it. Flushes change nothing that can be observed but durability, so
// they need no lock: a file removed or replaced meanwhile is flushed or
// skipped harmlessly.
type flusher struct {
	mu      sync.Mutex
	pending map[string]struct{} // data file paths, at most maxPendingFlushes
	order   []string            // pending paths in the order they came
	running bool                // the worker is running
	closed  bool                // Close was called: no more kicks
	wg      sync.WaitGroup      // the worker
}

// kick asks for path to be flushed soon; it never blocks.
func (fl *flusher) kick(path string) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.closed || len(fl.pending) >= maxPendingFlushes {
		return
	}
	if _, ok := fl.pending[path]; ok {
		return
	}
	if fl.pending == nil {
		fl.pending = make(map[string]struct{})
	}
	fl.pending[path] = struct{}{}
	fl.order = append(fl.order, path)
	if !fl.running {
		fl.running = true
		fl.wg.Add(1)
		go fl.run()
	}
}

// run flushes the pending files one after the other, oldest first, and
// returns when none is left.
func (fl *flusher) run() {
	defer fl.wg.Done()
	for {
		fl.mu.Lock()
		if len(fl.order) == 0 {
			fl.running = false
			fl.order = nil // let a grown slice go
			fl.mu.Unlock()
			return
		}
		path := fl.order[0]
		fl.order = fl.order[1:]
		delete(fl.pending, path)
		fl.mu.Unlock()
		// Errors are not reported: FinishUpload's fsync meets them again.
		if f, err := openFile(path, os.O_WRONLY, 0); err == nil {
			_ = datasync(f)
			_ = f.Close()
		}
	}
}

// close stops new kicks and waits for the worker to finish the flushes
// already asked for.
func (fl *flusher) close() {
	fl.mu.Lock()
	fl.closed = true
	fl.mu.Unlock()
	fl.wg.Wait()
}
