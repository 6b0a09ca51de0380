package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestMemoryRelease releases memory once after each burst of requests, when
// none is running and none started for a whole check, and never while a
// request runs or when nothing ran since the last release.
func TestMemoryRelease(t *testing.T) {
	reqs := &inflight{}
	released := make(chan uint64, 16)
	stop := startMemoryRelease(reqs, 2*time.Millisecond, func() { released <- reqs.started.Load() })
	defer stop()
	none := func(when string) {
		t.Helper()
		time.Sleep(40 * time.Millisecond) // 20 checks
		select {
		case n := <-released:
			t.Fatalf("%s: released after %d requests", when, n)
		default:
		}
	}
	once := func(want uint64) {
		t.Helper()
		select {
		case n := <-released:
			if n != want {
				t.Fatalf("released after %d requests, want %d", n, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("memory was not released after request %d", want)
		}
	}
	none("before any request")

	unblock, entered := make(chan struct{}), make(chan struct{})
	h := reqs.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-unblock
		}
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/slow", nil))
	}()
	<-entered
	none("while a request runs")
	close(unblock)
	<-done
	once(1)
	none("with nothing served since")

	for range 3 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/fast", nil))
	}
	once(4)
	none("after the second burst")
}
