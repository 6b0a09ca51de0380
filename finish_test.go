package tus_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
)

// A finish that fails is retried by the next request under the lock, so a
// resuming client never takes an unfinished upload for done, and the
// completion is announced exactly once.
func TestFailedFinishIsRetried(t *testing.T) {
	for _, retry := range []string{"HEAD", "empty PATCH"} {
		t.Run(retry, func(t *testing.T) {
			h, store, locker := newMemHandler(t, tus.Config{})
			store.put(tus.FileInfo{ID: "up1", Size: 5}, "")
			store.finishFails = 2
			sub := h.Subscribe(10, tus.EventCompleted)
			defer sub.Close()

			w := serve(t, h, newReq(http.MethodPatch, "/up1", strings.NewReader("hello"), hdr{"Content-Type": octet, "Upload-Offset": "0"}))
			eq(t, "PATCH status", w.Code, http.StatusInternalServerError)
			eq(t, "PATCH Upload-Offset", w.Header().Get("Upload-Offset"), "5")

			retryReq := func() *http.Request {
				if retry == "HEAD" {
					return newReq(http.MethodHead, "/up1", nil, nil)
				}
				return newReq(http.MethodPatch, "/up1", strings.NewReader(""), hdr{"Content-Type": octet, "Upload-Offset": "5"})
			}
			// The second finish fails too: the client must not see success.
			w = serve(t, h, retryReq())
			eq(t, "first retry status", w.Code, http.StatusInternalServerError)
			// The third succeeds.
			w = serve(t, h, retryReq())
			if w.Code >= 300 {
				t.Fatalf("second retry: status %d %q", w.Code, w.Body.String())
			}
			// Nothing left to retry: later requests do not finish again.
			serve(t, h, retryReq())
			_, finishes, _ := store.state("up1")
			eq(t, "FinishUpload calls", finishes, 3)
			eq(t, "completed events", len(drain(sub, 20*time.Millisecond)), 1)
			eq(t, "locks held", locker.Len(), 0)
		})
	}
}

// An upload whose finish failed in an earlier process (the handler's
// memory of it is gone) is finished by the next HEAD, because the store
// reports it unfinished.
func TestUnfinishedAfterRestart(t *testing.T) {
	h, store, _ := newMemHandler(t, tus.Config{})
	store.put(tus.FileInfo{ID: "up1", Size: 5}, "")
	store.finishFails = 1
	w := serve(t, h, newReq(http.MethodPatch, "/up1", strings.NewReader("hello"), hdr{"Content-Type": octet, "Upload-Offset": "0"}))
	eq(t, "PATCH status", w.Code, http.StatusInternalServerError)

	c := tus.NewStoreComposer()
	store.UseIn(c)
	memorylocker.New().UseIn(c)
	restarted, err := tus.NewHandler(tus.Config{StoreComposer: c, BasePath: "/files/"})
	noErr(t, err)
	w = serve(t, restarted, newReq(http.MethodHead, "/up1", nil, nil))
	eq(t, "HEAD status", w.Code, http.StatusOK)
	_, finishes, _ := store.state("up1")
	eq(t, "FinishUpload calls", finishes, 2)
}

// A callback that panics while HEAD holds the lock does not leave the
// upload locked forever.
func TestHeadReleasesLockOnPanic(t *testing.T) {
	h, store, locker := newMemHandler(t, tus.Config{
		PreFinishResponseCallback: func(tus.HookEvent) (tus.HTTPResponse, error) { panic("callback bug") },
	})
	store.put(tus.FileInfo{ID: "up1", Size: 5}, "hello")
	store.finishFails = 1
	// Make the finish fail once, through a PATCH that completes the upload.
	store.put(tus.FileInfo{ID: "up2", Size: 1}, "")
	func() {
		defer func() { _ = recover() }()
		serve(t, h, newReq(http.MethodPatch, "/up2", strings.NewReader("x"), hdr{"Content-Type": octet, "Upload-Offset": "0"}))
	}()
	func() {
		defer func() { _ = recover() }()
		serve(t, h, newReq(http.MethodHead, "/up2", nil, nil))
	}()
	eq(t, "locks held after a panic", locker.Len(), 0)
}

// Malformed checksums are refused before anything changes.
func TestChecksumHeaderCheckedFirst(t *testing.T) {
	h, store, _ := newMemHandler(t, tus.Config{})
	w := serve(t, h, newReq(http.MethodPost, "/", strings.NewReader("hello"), hdr{
		"Upload-Length": "5", "Content-Type": octet, "Upload-Checksum": "whirlpool AAAA",
	}))
	eq(t, "POST status", w.Code, http.StatusBadRequest)
	absent(t, w.Header(), "Location")
	store.mu.Lock()
	n := len(store.uploads)
	store.mu.Unlock()
	eq(t, "uploads created", n, 0)

	store.put(tus.FileInfo{ID: "d1", SizeIsDeferred: true}, "")
	w = serve(t, h, newReq(http.MethodPatch, "/d1", strings.NewReader("abc"), hdr{
		"Content-Type": octet, "Upload-Offset": "0", "Upload-Length": "10", "Upload-Checksum": "sha1 !!!",
	}))
	eq(t, "PATCH status", w.Code, http.StatusBadRequest)
	w = serve(t, h, newReq(http.MethodHead, "/d1", nil, nil))
	eq(t, "length after a refused PATCH", w.Header().Get("Upload-Defer-Length"), "1")
}

// brokenBody returns its data and then fails, like a dropped connection.
type brokenBody struct{ data string }

func (b *brokenBody) Read(p []byte) (int, error) {
	if b.data == "" {
		return 0, errors.New("connection reset by peer")
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

// Creation-with-upload whose body breaks off still answers 201 with the
// offset stored, so a client still listening can resume; a PATCH whose
// body breaks off answers 400, not 500.
func TestBodyBreaksOff(t *testing.T) {
	h, _, _ := newMemHandler(t, tus.Config{})
	w := serve(t, h, newReq(http.MethodPost, "/", &brokenBody{data: "hel"}, hdr{"Upload-Length": "5", "Content-Type": octet}))
	eq(t, "POST status", w.Code, http.StatusCreated)
	eq(t, "POST Upload-Offset", w.Header().Get("Upload-Offset"), "3")
	id := idFromLocation(t, w.Header().Get("Location"))

	w = serve(t, h, newReq(http.MethodPatch, "/"+id, &brokenBody{data: "l"}, hdr{"Content-Type": octet, "Upload-Offset": "3"}))
	wantError(t, w, http.StatusBadRequest, "ERR_READ_BODY")
	eq(t, "PATCH Upload-Offset", w.Header().Get("Upload-Offset"), "4")
}
