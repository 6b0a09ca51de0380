package tus_test

import (
	"context"
	"errors"
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

// corruptStore reports the record of every upload in corrupt as damaged.
type corruptStore struct {
	*memStore
	corrupt map[string]bool
}

type corruptUpload struct{ tus.Upload }

func (u corruptUpload) GetInfo(context.Context) (tus.FileInfo, error) {
	return tus.FileInfo{}, fmt.Errorf("memstore: record: unexpected end of JSON input: %w", tus.ErrCorruptUpload)
}

func (s corruptStore) GetUpload(ctx context.Context, id string) (tus.Upload, error) {
	up, err := s.memStore.GetUpload(ctx, id)
	if err != nil || !s.corrupt[id] {
		return up, err
	}
	return corruptUpload{up}, nil
}

func (s corruptStore) AsTerminatableUpload(up tus.Upload) tus.TerminatableUpload {
	if c, ok := up.(corruptUpload); ok {
		up = c.Upload
	}
	return s.memStore.AsTerminatableUpload(up)
}

// TestCorruptUploadCanBeDeleted: an upload whose record is damaged answers
// its own error to everything but DELETE, which removes it.
func TestCorruptUploadCanBeDeleted(t *testing.T) {
	mem := newMemStore()
	s := corruptStore{mem, map[string]bool{}}
	c := tus.NewStoreComposer()
	c.UseCore(s)
	c.UseTerminater(s)
	memorylocker.New().UseIn(c)
	h, err := tus.NewHandler(tus.Config{StoreComposer: c, BasePath: "/files/"})
	noErr(t, err)
	w := serve(t, h, newReq(http.MethodPost, "/files/", nil, hdr{"Upload-Length": "5"}))
	mustEq(t, "POST", w.Code, http.StatusCreated)
	id := idFromLocation(t, w.Header().Get("Location"))
	s.corrupt[id] = true

	w = serve(t, h, newReq(http.MethodHead, "/files/"+id, nil, nil))
	eq(t, "HEAD status", w.Code, http.StatusInternalServerError)
	w = serve(t, h, newReq(http.MethodPatch, "/files/"+id, nil, hdr{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}))
	wantError(t, w, http.StatusInternalServerError, "ERR_UPLOAD_CORRUPT")
	w = serve(t, h, newReq(http.MethodDelete, "/files/"+id, nil, nil))
	eq(t, "DELETE status", w.Code, http.StatusNoContent)
	if _, err := mem.GetUpload(context.Background(), id); !errors.Is(err, tus.ErrNotFound) {
		t.Errorf("after DELETE the upload is still there: %v", err)
	}
	// TerminateUpload removes a damaged upload too.
	w = serve(t, h, newReq(http.MethodPost, "/files/", nil, hdr{"Upload-Length": "5"}))
	id = idFromLocation(t, w.Header().Get("Location"))
	s.corrupt[id] = true
	noErr(t, h.TerminateUpload(context.Background(), id))
	if _, err := mem.GetUpload(context.Background(), id); !errors.Is(err, tus.ErrNotFound) {
		t.Errorf("after TerminateUpload the upload is still there: %v", err)
	}
}
