package tus_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tusgo/tus"
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
			srv := httptest.NewServer(http.StripPrefix("/files/", h))
			defer srv.Close()
			sub := h.Subscribe(16)
			defer sub.Close()

			w := serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "1000"}))
			mustEq(t, "POST", w.Code, http.StatusCreated)
			id := idFromLocation(t, w.Header().Get("Location"))

			// The body sends 10 bytes and then waits: only the stop ends it.
			pr, pw := io.Pipe()
			defer pw.Close()
			go func() { _, _ = pw.Write([]byte("0123456789")) }()
			req, err := http.NewRequest(http.MethodPatch, srv.URL+"/files/"+id, pr)
			noErr(t, err)
			req.ContentLength = 1000
			req.Header.Set("Tus-Resumable", tus.TusVersion)
			req.Header.Set("Content-Type", octet)
			req.Header.Set("Upload-Offset", "0")

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
			w = serve(t, h, newReq(http.MethodHead, "/"+id, nil, nil))
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
