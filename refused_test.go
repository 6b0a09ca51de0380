package tus_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tusgo/tus"
)

// TestChecksumMismatchLeavesLengthOpen: a PATCH that declares the length of
// a deferred-length upload and whose body fails its checksum is refused
// whole (460) and leaves the length open, although its Content-Length fit.
func TestChecksumMismatchLeavesLengthOpen(t *testing.T) {
	h, store, _ := newMemHandler(t, tus.Config{})
	w := serve(t, h, newReq(http.MethodPost, "/files/", nil, hdr{"Upload-Defer-Length": "1"}))
	mustEq(t, "POST", w.Code, http.StatusCreated)
	id := idFromLocation(t, w.Header().Get("Location"))
	patch := func(sum string) *httptest.ResponseRecorder {
		return serve(t, h, newReq(http.MethodPatch, "/files/"+id, strings.NewReader("hello"), hdr{
			"Upload-Offset": "0", "Upload-Length": "5", "Content-Type": "application/offset+octet-stream",
			"Upload-Checksum": "sha1 " + sum}))
	}
	w = patch("AAAAAAAAAAAAAAAAAAAAAAAAAAA=") // sha1 of something else
	eq(t, "PATCH with a wrong checksum", w.Code, 460)
	if info := store.info(t, id); !info.SizeIsDeferred || info.Offset != 0 {
		t.Fatalf("the refused PATCH changed the upload: %+v", info)
	}
	w = patch("qvTGHdzF6KLavt4PO0gs2a6pQ00=") // sha1("hello")
	eq(t, "PATCH with the right checksum", w.Code, http.StatusNoContent)
	if info := store.info(t, id); info.SizeIsDeferred || info.Size != 5 || info.Offset != 5 || !store.finishedUpload(id) {
		t.Fatalf("the PATCH did not declare and complete the upload: %+v", info)
	}
}
