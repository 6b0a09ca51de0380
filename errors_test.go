package tus_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
)

// failingCore fails every lookup with err.
type failingCore struct {
	tus.DataStore
	err error
}

func (f failingCore) GetUpload(context.Context, string) (tus.Upload, error) { return nil, f.err }

// TestUnavailableAnswers503: a store or locker that wraps ErrUnavailable
// gets 503 with Retry-After, its own or the default, in both protocols.
func TestUnavailableAnswers503(t *testing.T) {
	for name, tc := range map[string]struct {
		err   error
		retry string
	}{
		"default":     {fmt.Errorf("redis: dial tcp: %w", tus.ErrUnavailable), "5"},
		"store's own": {fmt.Errorf("s3: slow down: %w", tus.ErrUnavailable.WithRetryAfter(30*time.Second)), "30"},
		"rounded up":  {tus.ErrUnavailable.WithRetryAfter(10 * time.Millisecond), "1"},
	} {
		t.Run(name, func(t *testing.T) {
			c := tus.NewStoreComposer()
			c.UseCore(failingCore{newMemStore(), tc.err})
			memorylocker.New().UseIn(c)
			h, err := tus.NewHandler(tus.Config{StoreComposer: c, BasePath: "/files/"})
			noErr(t, err)
			w := serve(t, h, newReq(http.MethodHead, "/files/abc", nil, nil))
			eq(t, "tus HEAD status", w.Code, http.StatusServiceUnavailable)
			eq(t, "Retry-After", w.Header().Get("Retry-After"), tc.retry)
			r := newReq(http.MethodPatch, "/files/abc", nil, hdr{"Upload-Offset": "0", "Upload-Complete": "?1",
				"Content-Type": "application/partial-upload", "Upload-Draft-Interop-Version": "8"})
			r.Header.Del("Tus-Resumable")
			w = httptest.NewRecorder()
			h.ServeHTTP(w, r)
			eq(t, "IETF append status", w.Code, http.StatusServiceUnavailable)
			eq(t, "IETF Retry-After", w.Header().Get("Retry-After"), tc.retry)
		})
	}
	// Other statuses carry none.
	c := tus.NewStoreComposer()
	c.UseCore(failingCore{newMemStore(), tus.ErrNotFound})
	memorylocker.New().UseIn(c)
	h, err := tus.NewHandler(tus.Config{StoreComposer: c, BasePath: "/files/"})
	noErr(t, err)
	w := serve(t, h, newReq(http.MethodHead, "/files/abc", nil, nil))
	eq(t, "404 status", w.Code, http.StatusNotFound)
	absent(t, w.Header(), "Retry-After")
}
