package filestore

import "sync"

// dirSyncer makes changes of the store's directory durable with as few
// fsyncs of the directory as concurrent callers allow (group commit).
//
// An fsync of a directory makes durable every change of its entries made
// before the fsync started. So a caller whose change is done needs an
// fsync that starts after it calls sync, not one of its own: sync waits
// for the fsync running, if any (it may have started before the change),
// and then either starts the next one or, if another caller started it
// meanwhile, waits for that one. However many callers arrive while an
// fsync runs, they share the next one, so at most two are ever waited for
// and one runs at a time.
//
// It starts no goroutine: the fsync runs in the goroutine of the caller
// that starts it, and every waiter is a caller of sync, so nothing outlives
// the calls and there is nothing to stop.
type dirSyncer struct {
	dir  string
	mu   sync.Mutex
	cond sync.Cond // signalled when an fsync ends; uses mu
	// started counts the fsyncs started, finished those ended; running is
	// started != finished.
	started, finished uint64
	err               error // the result of fsync number finished
	waiting           int   // callers waiting for an fsync another one runs
	sync              func(dir string) error
}

// init prepares d to sync dir with syncDir.
func (d *dirSyncer) init(dir string) {
	d.dir = dir
	d.cond.L = &d.mu
	d.sync = syncDir
}

// syncDir returns once an fsync of the directory that started after the
// call has ended, with that fsync's error. (If a later one has ended by
// the time the caller wakes up, its result is returned: it started after
// the call too.)
func (d *dirSyncer) syncDir() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	// The first fsync that may start after this point is number started+1.
	want := d.started + 1
	for d.finished < want {
		if d.started != d.finished {
			d.waiting++
			d.cond.Wait() // one is running; it may have started too early
			d.waiting--
			continue
		}
		d.started++
		n := d.started
		d.mu.Unlock()
		err := d.sync(d.dir)
		d.mu.Lock()
		d.finished, d.err = n, err
		d.cond.Broadcast()
	}
	return d.err
}
