package tus_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tusgo/tus"
)

// TestIETFZeroLengthAppend: an append that states Upload-Length: 0 for an
// empty upload whose length is open, with content of unknown length, is
// refused if the content has a byte, and then changes nothing (the length
// stays open); with empty content it completes the upload, finished once.
func TestIETFZeroLengthAppend(t *testing.T) {
	e := newIETFEnv(t, 8, tus.Config{})
	res := e.create("", 0, false, nil)
	mustEq(t, "creation", res.status, http.StatusCreated)
	url := res.hdr.Get("Location")
	id := idFromLocation(t, url)
	appendHeaders := hdr{"Upload-Offset": "0", "Upload-Length": "0", "Upload-Complete": "?1",
		"Content-Type": "application/partial-upload"}
	chunked := func(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }

	res = e.do(http.MethodPatch, url, chunked("abc"), -1, appendHeaders)
	eq(t, "append with content past length 0", res.status, http.StatusBadRequest)
	info := e.store.info(t, id)
	if !info.SizeIsDeferred || info.Offset != 0 || e.store.finishedUpload(id) {
		t.Fatalf("the refused append changed the upload: %+v", info)
	}

	res = e.do(http.MethodPatch, url, chunked(""), -1, appendHeaders)
	eq(t, "empty completing append", res.status, http.StatusNoContent)
	eq(t, "Upload-Complete", res.hdr.Get("Upload-Complete"), "?1")
	info = e.store.info(t, id)
	if info.SizeIsDeferred || info.Size != 0 || !e.store.finishedUpload(id) {
		t.Fatalf("the empty append did not complete the upload: %+v, finished %v", info, e.store.finishedUpload(id))
	}
}
