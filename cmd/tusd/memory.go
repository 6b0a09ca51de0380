package main

import (
	"runtime/debug"
	"time"
)

// idleCheck is how often tusd looks whether it has gone quiet (see
// startMemoryRelease).
const idleCheck = 5 * time.Second

// startMemoryRelease returns the memory that a burst of uploads left behind
// to the operating system once tusd has gone quiet. Go keeps freed memory
// for reuse and gives it back only slowly, and buffer pools (the S3 part
// buffers and tail cache blocks) keep theirs until two collections have
// passed, which an idle process does not run: after a burst, RSS would stay
// near its peak for minutes. Every check, if no request is running, none
// started since the previous check, and some ran since memory was last
// released, it runs debug.FreeOSMemory twice (the second collection frees
// what the pools kept through the first; release does that). A request
// that arrives meanwhile only finds the heap smaller. stop ends it and waits
// for it.
func startMemoryRelease(reqs *inflight, every time.Duration, release func()) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		var seen, released uint64 // requests started at the last check; at the last release
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			n := reqs.started.Load()
			if n == seen && n != released && reqs.running.Load() == 0 {
				release()
				released = n
			}
			seen = n
		}
	}()
	return func() { close(quit); <-done }
}

// releaseMemory returns the memory the heap does not use to the operating
// system, pooled buffers included (see startMemoryRelease).
func releaseMemory() {
	debug.FreeOSMemory()
	debug.FreeOSMemory()
}
