package tus_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
)

// silentWrapper mentions no capability at all: it only embeds StoreWrapper.
type silentWrapper struct{ tus.StoreWrapper }

// wrappingUploads wraps every upload of the inner store in its own type and
// mentions no capability either; unwrap is what it gives NewStoreWrapper.
type wrappingUploads struct{ tus.StoreWrapper }

type wrappedUpload struct{ tus.Upload }

func unwrapUpload(up tus.Upload) tus.Upload {
	if w, ok := up.(wrappedUpload); ok {
		return w.Upload
	}
	return up
}

func (s *wrappingUploads) NewUpload(ctx context.Context, info tus.FileInfo) (tus.Upload, error) {
	up, err := s.StoreWrapper.NewUpload(ctx, info)
	if err != nil {
		return nil, err
	}
	return wrappedUpload{up}, nil
}

func (s *wrappingUploads) GetUpload(ctx context.Context, id string) (tus.Upload, error) {
	up, err := s.StoreWrapper.GetUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	return wrappedUpload{up}, nil
}

// TestStoreWrapperForwardsEveryPart: a wrapper that does not mention a
// capability still offers it, through the handler, with its own uploads
// unwrapped for the inner parts (memStore's parts assert their own type, so
// a wrapped upload reaching them would fail the request).
func TestStoreWrapperForwardsEveryPart(t *testing.T) {
	for name, wrap := range map[string]func(*tus.StoreComposer) tus.WrappingStore{
		"no overrides": func(c *tus.StoreComposer) tus.WrappingStore {
			return &silentWrapper{tus.NewStoreWrapper(c, nil)}
		},
		"wrapped uploads": func(c *tus.StoreComposer) tus.WrappingStore {
			return &wrappingUploads{tus.NewStoreWrapper(c, unwrapUpload)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			store := newMemStore()
			c := tus.NewStoreComposer()
			store.UseIn(c)
			locker := memorylocker.New()
			locker.UseIn(c)
			w := wrap(c)
			tus.UseWrapper(c, w)
			if c.Core != w || c.Terminater != w || c.Concater != w || c.LengthDeferrer != w ||
				c.ContentServer != w || c.FinishReporter != w {
				t.Fatalf("UseWrapper did not register the wrapper for every part the inner composition has: %+v", c)
			}
			if c.UsesUsageReporter() {
				t.Error("UseWrapper registered a usage reporter the inner composition lacks")
			}
			if c.Locker != locker {
				t.Error("UseWrapper changed the locker")
			}
			h, err := tus.NewHandler(tus.Config{StoreComposer: c, BasePath: "/files/"})
			noErr(t, err)

			w0 := serve(t, h, newReq(http.MethodOptions, "/files/", nil, nil))
			for _, ext := range []string{"creation-defer-length", "termination", "concatenation"} {
				contains(t, "Tus-Extension", w0.Header().Get("Tus-Extension"), ext)
			}

			// Deferred length and concatenation of the same partial twice.
			rp := serve(t, h, newReq(http.MethodPost, "/files/", strings.NewReader("ab"), hdr{
				"Upload-Defer-Length": "1", "Upload-Concat": "partial", "Content-Type": "application/offset+octet-stream"}))
			mustEq(t, "partial POST", rp.Code, http.StatusCreated)
			partial := rp.Header().Get("Location")
			rd := serve(t, h, newReq(http.MethodPatch, "/files/"+idFromLocation(t, partial), nil, hdr{
				"Upload-Offset": "2", "Upload-Length": "2", "Content-Type": "application/offset+octet-stream"}))
			mustEq(t, "declaring PATCH", rd.Code, http.StatusNoContent)
			rf := serve(t, h, newReq(http.MethodPost, "/files/", nil, hdr{"Upload-Concat": "final;" + partial + " " + partial}))
			mustEq(t, "final POST", rf.Code, http.StatusCreated)
			final := idFromLocation(t, rf.Header().Get("Location"))
			rg := serve(t, h, newReq(http.MethodGet, "/files/"+final, nil, nil))
			eq(t, "GET status", rg.Code, http.StatusOK)
			eq(t, "final content", rg.Body.String(), "abab")

			// A failed finish is reported by the inner store through the
			// wrapper and retried by HEAD.
			store.finishFails = 1
			rc := serve(t, h, newReq(http.MethodPost, "/files/", strings.NewReader("xyz"), hdr{
				"Upload-Length": "3", "Content-Type": "application/offset+octet-stream"}))
			eq(t, "POST whose finish fails", rc.Code, http.StatusInternalServerError)
			id := store.onlyUnfinished(t)
			rh := serve(t, h, newReq(http.MethodHead, "/files/"+id, nil, nil))
			eq(t, "HEAD that retries the finish", rh.Code, http.StatusOK)
			if !store.finishedUpload(id) {
				t.Error("HEAD did not finish the upload the store reported unfinished")
			}

			rt := serve(t, h, newReq(http.MethodDelete, "/files/"+final, nil, nil))
			eq(t, "DELETE", rt.Code, http.StatusNoContent)
		})
	}
}

// TestStoreWrapperMissingParts: a wrapper over a composition without a part
// does not register it, and its forwarding methods fail cleanly instead of
// panicking.
func TestStoreWrapperMissingParts(t *testing.T) {
	c := tus.NewStoreComposer()
	c.UseCore(newMemStore())
	w := &silentWrapper{tus.NewStoreWrapper(c, nil)}
	tus.UseWrapper(c, w)
	if c.UsesTerminater() || c.UsesConcater() || c.UsesLengthDeferrer() || c.UsesContentServer() ||
		c.UsesFinishReporter() || c.UsesUsageReporter() {
		t.Fatalf("UseWrapper registered parts the inner composition lacks: %+v", c)
	}
	ctx := context.Background()
	up, err := w.NewUpload(ctx, tus.FileInfo{ID: "a", Size: 1})
	noErr(t, err)
	for name, err := range map[string]error{
		"Terminate":     w.AsTerminatableUpload(up).Terminate(ctx),
		"ConcatUploads": w.AsConcatableUpload(up).ConcatUploads(ctx, nil),
		"DeclareLength": w.AsLengthDeclarableUpload(up).DeclareLength(ctx, 1),
		"ServeContent":  w.AsServableUpload(up).ServeContent(ctx, nil, nil),
	} {
		if !errors.Is(err, tus.ErrNotImplemented) {
			t.Errorf("%s on a missing part = %v, want ErrNotImplemented", name, err)
		}
	}
	if _, err := w.Usage(ctx); !errors.Is(err, tus.ErrNotImplemented) {
		t.Errorf("Usage on a missing part = %v, want ErrNotImplemented", err)
	}
	empty := &silentWrapper{tus.NewStoreWrapper(tus.NewStoreComposer(), nil)}
	if _, err := empty.GetUpload(ctx, "a"); !errors.Is(err, tus.ErrNotImplemented) {
		t.Errorf("GetUpload without a core store = %v, want ErrNotImplemented", err)
	}
}
