package tus_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/tusgo/tus"
)

// drain reads the events available within a short time.
func drain(sub *tus.Subscription, wait time.Duration) []tus.Event {
	var evs []tus.Event
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		case <-time.After(wait):
			return evs
		}
	}
}

func TestEventsLifecycle(t *testing.T) {
	h, _, _ := newMemHandler(t, tus.Config{ProgressInterval: time.Nanosecond})
	sub := h.Subscribe(100)
	defer sub.Close()

	w := serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "10", "Upload-Metadata": "k dg=="}))
	mustEq(t, "POST", w.Code, http.StatusCreated)
	id := idFromLocation(t, w.Header().Get("Location"))
	w = serve(t, h, newReq(http.MethodPatch, "/"+id, iotest.OneByteReader(strings.NewReader("abcd")),
		hdr{"Content-Type": octet, "Upload-Offset": "0"}))
	mustEq(t, "PATCH 1", w.Code, http.StatusNoContent)
	w = serve(t, h, newReq(http.MethodPatch, "/"+id, strings.NewReader("efghij"), hdr{"Content-Type": octet, "Upload-Offset": "4"}))
	mustEq(t, "PATCH 2", w.Code, http.StatusNoContent)
	w = serve(t, h, newReq(http.MethodDelete, "/"+id, nil, nil))
	mustEq(t, "DELETE", w.Code, http.StatusNoContent)

	evs := drain(sub, 50*time.Millisecond)
	// Collapse runs of progress events; check their offsets on the way.
	var kinds []string
	var last int64
	for _, ev := range evs {
		eq(t, "event upload ID", ev.Upload.ID, id)
		eq(t, "event size", ev.Upload.Size, int64(10))
		eq(t, "event metadata", ev.Upload.MetaData["k"], "v")
		if ev.Context == nil {
			t.Error("event without context")
		}
		switch ev.Type {
		case tus.EventProgress:
			if ev.Upload.Offset < last || ev.Upload.Offset <= 0 || ev.Upload.Offset > 10 {
				t.Errorf("progress offset %d after %d", ev.Upload.Offset, last)
			}
			last = ev.Upload.Offset
			if len(kinds) > 0 && kinds[len(kinds)-1] == "progress@"+itoa(last) {
				continue
			}
			kinds = append(kinds, "progress@"+itoa(last))
		default:
			kinds = append(kinds, string(ev.Type)+"@"+itoa(ev.Upload.Offset))
		}
	}
	got := strings.Join(kinds, " ")
	// PATCH 1 is read a byte at a time: a progress event per byte.
	want := "created@0 progress@1 progress@2 progress@3 progress@4 progress@10 completed@10 terminated@10"
	eq(t, "events", got, want)
	eq(t, "dropped", sub.Dropped(), uint64(0))
	eq(t, "created method", evs[0].HTTPRequest.Method, http.MethodPost)
	eq(t, "terminated method", evs[len(evs)-1].HTTPRequest.Method, http.MethodDelete)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestEventsFilterAndCreationWithUpload(t *testing.T) {
	h, _, _ := newMemHandler(t, tus.Config{})
	completed := h.Subscribe(10, tus.EventCompleted)
	defer completed.Close()
	created := h.Subscribe(10, tus.EventCreated, tus.EventTerminated)
	defer created.Close()

	w := serve(t, h, newReq(http.MethodPost, "/", strings.NewReader("hey"), hdr{"Upload-Length": "3", "Content-Type": octet}))
	mustEq(t, "POST", w.Code, http.StatusCreated)
	id := idFromLocation(t, w.Header().Get("Location"))

	evs := drain(completed, 20*time.Millisecond)
	if len(evs) != 1 || evs[0].Type != tus.EventCompleted || evs[0].Upload.Offset != 3 || evs[0].Upload.ID != id {
		t.Errorf("completed subscription got %+v, want one completed event at offset 3", evs)
	}
	evs = drain(created, 20*time.Millisecond)
	if len(evs) != 1 || evs[0].Type != tus.EventCreated || evs[0].Upload.Offset != 0 || evs[0].Upload.ID != id {
		t.Errorf("created subscription got %+v, want one created event at offset 0", evs)
	}
}

func TestEventsProgressDropped(t *testing.T) {
	h, store, _ := newMemHandler(t, tus.Config{ProgressInterval: time.Nanosecond})
	sub := h.Subscribe(1, tus.EventProgress) // never read until the end
	defer sub.Close()
	store.put(tus.FileInfo{ID: "up1", Size: 100}, "")
	done := make(chan struct{})
	go func() {
		defer close(done)
		w := httptestServe(h, newReq(http.MethodPatch, "/up1", iotest.OneByteReader(strings.NewReader(strings.Repeat("x", 20))),
			hdr{"Content-Type": octet, "Upload-Offset": "0"}))
		eq(t, "status", w.Code, http.StatusNoContent)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("PATCH blocked on a full progress subscription")
	}
	// 20 one-byte reads and a final event; one fits in the buffer.
	eq(t, "dropped", sub.Dropped(), uint64(20))
	ev := <-sub.C
	eq(t, "buffered event offset", ev.Upload.Offset, int64(1))
}

func TestEventsNoSubscriberDoesNotBlock(t *testing.T) {
	h, _, _ := newMemHandler(t, tus.Config{})
	// A subscription that was closed does not count either.
	h.Subscribe(1).Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			w := httptestServe(h, newReq(http.MethodPost, "/", strings.NewReader("ab"), hdr{"Upload-Length": "2", "Content-Type": octet}))
			if w.Code != http.StatusCreated {
				t.Errorf("status = %d", w.Code)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("requests blocked without subscribers")
	}
}

// A subscriber that does not read holds created/completed events until the
// producing request ends; it does not hold them forever.
func TestEventsSlowSubscriberBlocksOnlyUntilRequestEnds(t *testing.T) {
	h, _, _ := newMemHandler(t, tus.Config{})
	sub := h.Subscribe(1, tus.EventCreated)
	defer sub.Close()
	// Fill the buffer.
	w := httptestServe(h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "1"}))
	mustEq(t, "first POST", w.Code, http.StatusCreated)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "1"}).WithContext(ctx)
	w = httptestServe(h, r)
	elapsed := time.Since(start)
	eq(t, "second POST", w.Code, http.StatusCreated)
	if elapsed < 80*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("second POST took %v; want it to wait for room until its context ended (~100ms)", elapsed)
	}
	evs := drain(sub, 20*time.Millisecond)
	eq(t, "events delivered", len(evs), 1)
}

// Closing subscriptions while requests emit events must neither panic
// (send on closed channel) nor race (run with -race), and must close C.
func TestEventsCloseWhileSending(t *testing.T) {
	h, _, _ := newMemHandler(t, tus.Config{ProgressInterval: time.Nanosecond})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				w := httptestServe(h, newReq(http.MethodPost, "/", iotest.OneByteReader(strings.NewReader("abc")),
					hdr{"Upload-Length": "3", "Content-Type": octet}))
				if w.Code != http.StatusCreated {
					t.Errorf("POST status %d", w.Code)
					return
				}
			}
		}()
	}
	for i := range 200 {
		sub := h.Subscribe(1 + i%3)
		if i%2 == 0 {
			// Read a little, then close mid-stream.
			select {
			case <-sub.C:
			case <-time.After(100 * time.Millisecond):
			}
		}
		sub.Close()
		sub.Close() // idempotent
		// C is closed: ranging ends after the buffered events.
		timeout := time.After(2 * time.Second)
	loop:
		for {
			select {
			case _, ok := <-sub.C:
				if !ok {
					break loop
				}
			case <-timeout:
				t.Fatal("C not closed after Close")
			}
		}
	}
	close(stop)
	wg.Wait()
}
