package tus_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
)

// TestStopUpload stops a PATCH from a progress event's subscriber, as a
// post-receive hook does: the client gets the subscriber's response (or
// ErrUploadStopped), the upload is terminated, and a terminated event
// follows.
func TestStopUpload(t *testing.T) {
	for _, tc := range []struct {
		name   string
		resp   tus.HTTPResponse
		status int
		body   string
	}{
		{"default", tus.HTTPResponse{Header: map[string]string{"X-Reason": "quota"}}, http.StatusBadRequest, "ERR_UPLOAD_STOPPED"},
		{"custom", tus.HTTPResponse{StatusCode: http.StatusUnprocessableEntity, Body: "virus found"}, http.StatusUnprocessableEntity, "virus found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var observed []string
			h, store, _ := newMemHandler(t, tus.Config{
				ProgressInterval: time.Nanosecond,
				ErrorObserver: func(r *http.Request, status int, code string) {
					observed = append(observed, r.Method+" "+itoa(int64(status))+" "+code)
				},
			})
			sub := h.Subscribe(16)
			defer sub.Close()
			// Only the stop ends the body.
			id, req, pw := stalledUpload(t, h)
			defer pw.Close()

			stopped := make(chan bool, 1)
			go func() {
				for ev := range sub.C {
					if ev.Type == tus.EventCreated && ev.StopUpload(tc.resp) {
						t.Error("StopUpload on a created event reported a stop")
					}
					if ev.Type == tus.EventProgress && ev.Upload.ID == id {
						stopped <- ev.StopUpload(tc.resp)
						return
					}
				}
			}()
			res, err := http.DefaultClient.Do(req)
			noErr(t, err)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			mustEq(t, "stopped", <-stopped, true)
			eq(t, "status", res.StatusCode, tc.status)
			contains(t, "body", string(body), tc.body)
			for k, v := range tc.resp.Header {
				eq(t, "header "+k, res.Header.Get(k), v)
			}
			if _, _, ok := store.state(id); ok {
				t.Error("the stopped upload still exists")
			}
			w := serve(t, h, newReq(http.MethodHead, "/"+id, nil, nil))
			eq(t, "HEAD after stop", w.Code, http.StatusNotFound)

			evs := drain(sub, 100*time.Millisecond)
			var kinds []string
			for _, ev := range evs {
				kinds = append(kinds, string(ev.Type))
				if ev.Type == tus.EventProgress && ev.StopUpload(tc.resp) {
					t.Error("StopUpload after the request ended reported a stop")
				}
			}
			contains(t, "events", strings.Join(kinds, " "), string(tus.EventTerminated))
			want := []string{"PATCH " + itoa(int64(tc.status)) + " ERR_UPLOAD_STOPPED", "HEAD 404 ERR_UPLOAD_NOT_FOUND"}
			eq(t, "observed errors", strings.Join(observed, "; "), strings.Join(want, "; "))
		})
	}
}

// gatedStore holds each WriteChunk after it has read its whole source,
// until release is closed; read tells that the source was read.
type gatedStore struct {
	*memStore
	read    chan struct{}
	release chan struct{}
}

func (s *gatedStore) GetUpload(ctx context.Context, id string) (tus.Upload, error) {
	up, err := s.memStore.GetUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	return &gatedUpload{Upload: up, s: s}, nil
}

type gatedUpload struct {
	tus.Upload
	s *gatedStore
}

func (u *gatedUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	data, err := io.ReadAll(src)
	if err != nil {
		return 0, err
	}
	close(u.s.read)
	<-u.s.release
	return u.Upload.WriteChunk(ctx, offset, bytes.NewReader(data))
}

// TestStopUploadTooLate stops a PATCH whose body was already read to its
// end: StopUpload reports false and the upload completes and stays.
func TestStopUploadTooLate(t *testing.T) {
	store := &gatedStore{memStore: newMemStore(), read: make(chan struct{}), release: make(chan struct{})}
	c := tus.NewStoreComposer()
	store.memStore.UseIn(c)
	c.UseCore(store)
	memorylocker.New().UseIn(c)
	h, err := tus.NewHandler(tus.Config{StoreComposer: c, BasePath: "/files/", ProgressInterval: time.Nanosecond})
	noErr(t, err)
	sub := h.Subscribe(16, tus.EventProgress)
	defer sub.Close()

	w := serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "10"}))
	mustEq(t, "POST", w.Code, http.StatusCreated)
	id := idFromLocation(t, w.Header().Get("Location"))
	stopped := make(chan bool, 1)
	go func() {
		ev := <-sub.C // the progress of the body's bytes
		<-store.read  // the body was read to its end
		stopped <- ev.StopUpload(tus.HTTPResponse{StatusCode: http.StatusUnprocessableEntity})
		close(store.release)
	}()
	w = serve(t, h, newReq(http.MethodPatch, "/"+id, strings.NewReader("0123456789"), hdr{"Content-Type": octet, "Upload-Offset": "0"}))
	eq(t, "StopUpload after the last byte", <-stopped, false)
	eq(t, "PATCH", w.Code, http.StatusNoContent)
	data, finishes, ok := store.state(id)
	eq(t, "upload kept", ok, true)
	eq(t, "data", data, "0123456789")
	eq(t, "finished", finishes, 1)
}

// TestTerminateUpload deletes an upload on the server's own decision while
// a PATCH is writing to it: the PATCH lets go, the upload is gone, and
// subscribers see the termination.
func TestTerminateUpload(t *testing.T) {
	h, store, _ := newMemHandler(t, tus.Config{})
	sub := h.Subscribe(16, tus.EventTerminated)
	defer sub.Close()
	id, req, pw := stalledUpload(t, h)
	defer pw.Close()
	done := make(chan int, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	store.waitReading(t, id, 10) // the PATCH holds the lock and is reading

	noErr(t, h.TerminateUpload(context.Background(), id))
	if _, _, ok := store.state(id); ok {
		t.Fatal("the upload still exists")
	}
	ev := <-sub.C
	eq(t, "event", ev.Type, tus.EventTerminated)
	eq(t, "event upload", ev.Upload.ID, id)
	eq(t, "event method", ev.HTTPRequest.Method, "")
	pw.Close()
	if status := <-done; status != 0 {
		eq(t, "the PATCH's status", status, http.StatusBadRequest) // interrupted
	}

	if err := h.TerminateUpload(context.Background(), id); !errors.Is(err, tus.ErrNotFound) {
		t.Errorf("terminating it again: %v, want ErrNotFound", err)
	}
	if err := h.TerminateUpload(context.Background(), "../x"); !errors.Is(err, tus.ErrInvalidID) {
		t.Errorf("an invalid ID: %v, want ErrInvalidID", err)
	}
}

// stalledUpload serves h over real HTTP until the test ends, creates an
// upload of 1000 bytes and returns its ID with a PATCH at offset 0 that
// declares them all but whose body sends 10 and then waits until pw is
// closed.
func stalledUpload(t *testing.T, h http.Handler) (string, *http.Request, *io.PipeWriter) {
	t.Helper()
	srv := httptest.NewServer(http.StripPrefix("/files/", h))
	t.Cleanup(srv.Close)
	w := serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "1000"}))
	mustEq(t, "POST", w.Code, http.StatusCreated)
	id := idFromLocation(t, w.Header().Get("Location"))
	pr, pw := io.Pipe()
	go func() { _, _ = pw.Write([]byte("0123456789")) }()
	req, err := http.NewRequest(http.MethodPatch, srv.URL+"/files/"+id, pr)
	noErr(t, err)
	req.ContentLength = 1000
	req.Header.Set("Tus-Resumable", tus.TusVersion)
	req.Header.Set("Content-Type", octet)
	req.Header.Set("Upload-Offset", "0")
	return id, req, pw
}
