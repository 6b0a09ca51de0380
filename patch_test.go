package tus_test

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tusgo/tus"
)

func TestPatch(t *testing.T) {
	future := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	past := time.Now().Add(-time.Minute)
	base := tus.FileInfo{ID: "up1", Size: 10, Offset: 3}
	with := func(f func(*tus.FileInfo)) tus.FileInfo { i := base; f(&i); return i }

	tests := []struct {
		name    string
		opts    []envOpt
		info    *tus.FileInfo // nil: the upload does not exist
		hdr     hdr
		body    io.Reader
		status  int
		code    string
		offset  string // Upload-Offset in the response; "" means absent
		write   string // what WriteChunk must see; "-" means no WriteChunk
		finish  bool
		declare int64 // DeclareLength argument; 0 means not called
		expires string
		discard bool // WriteChunk's source must end with the discard signal
	}{
		{name: "append", info: &base, hdr: hdr{"Upload-Offset": "3"}, body: strings.NewReader("abcd"),
			status: 204, offset: "7", write: "abcd"},
		{name: "append to the end", info: &base, hdr: hdr{"Upload-Offset": "3"}, body: strings.NewReader("abcdefg"),
			status: 204, offset: "10", write: "abcdefg", finish: true},
		{name: "chunked append to the end", info: &base, hdr: hdr{"Upload-Offset": "3"},
			body:   iotest.OneByteReader(strings.NewReader("abcdefg")),
			status: 204, offset: "10", write: "abcdefg", finish: true},
		{name: "content type with parameters", info: &base,
			hdr:  hdr{"Upload-Offset": "3", "Content-Type": "Application/Offset+Octet-Stream; charset=binary"},
			body: strings.NewReader("ab"), status: 204, offset: "5", write: "ab"},
		{name: "empty body", info: &base, hdr: hdr{"Upload-Offset": "3"}, body: nil,
			status: 204, offset: "3", write: "-"},

		// 415: checked before anything else; the store is never asked.
		{name: "no content type", hdr: hdr{"Upload-Offset": "3", "Content-Type": ""}, body: strings.NewReader("x"),
			status: 415, code: "ERR_INVALID_CONTENT_TYPE", write: "-"},
		{name: "octet-stream content type", hdr: hdr{"Upload-Offset": "3", "Content-Type": "application/octet-stream"},
			body: strings.NewReader("x"), status: 415, code: "ERR_INVALID_CONTENT_TYPE", write: "-"},

		// 400 on Upload-Offset: the store is never asked.
		{name: "missing offset", hdr: hdr{}, body: strings.NewReader("x"), status: 400, code: "ERR_INVALID_OFFSET", write: "-"},
		{name: "offset -1", hdr: hdr{"Upload-Offset": "-1"}, body: strings.NewReader("x"), status: 400, code: "ERR_INVALID_OFFSET", write: "-"},
		{name: "offset +5", hdr: hdr{"Upload-Offset": "+5"}, body: strings.NewReader("x"), status: 400, code: "ERR_INVALID_OFFSET", write: "-"},
		{name: "offset abc", hdr: hdr{"Upload-Offset": "abc"}, body: strings.NewReader("x"), status: 400, code: "ERR_INVALID_OFFSET", write: "-"},
		{name: "offset with space", hdr: hdr{"Upload-Offset": "3 4"}, body: strings.NewReader("x"), status: 400, code: "ERR_INVALID_OFFSET", write: "-"},
		{name: "offset 3.0", hdr: hdr{"Upload-Offset": "3.0"}, body: strings.NewReader("x"), status: 400, code: "ERR_INVALID_OFFSET", write: "-"},
		{name: "offset hex", hdr: hdr{"Upload-Offset": "0x3"}, body: strings.NewReader("x"), status: 400, code: "ERR_INVALID_OFFSET", write: "-"},
		{name: "offset overflow", hdr: hdr{"Upload-Offset": "9223372036854775808"}, body: strings.NewReader("x"), status: 400, code: "ERR_INVALID_OFFSET", write: "-"},
		{name: "offset 20 digits", hdr: hdr{"Upload-Offset": "18446744073709551616"}, body: strings.NewReader("x"), status: 400, code: "ERR_INVALID_OFFSET", write: "-"},

		{name: "offset behind", info: &base, hdr: hdr{"Upload-Offset": "2"}, body: strings.NewReader("x"),
			status: 409, code: "ERR_MISMATCHED_OFFSET", write: "-"},
		{name: "offset ahead", info: &base, hdr: hdr{"Upload-Offset": "4"}, body: strings.NewReader("x"),
			status: 409, code: "ERR_MISMATCHED_OFFSET", write: "-"},
		{name: "unknown upload", info: nil, hdr: hdr{"Upload-Offset": "0"}, body: strings.NewReader("x"),
			status: 404, code: "ERR_UPLOAD_NOT_FOUND", write: "-"},
		{name: "expired upload", info: ptr(with(func(i *tus.FileInfo) { i.ExpiresAt = past })),
			hdr: hdr{"Upload-Offset": "3"}, body: strings.NewReader("x"), status: 410, code: "ERR_UPLOAD_EXPIRED", write: "-"},
		{name: "final upload", opts: []envOpt{withConcater},
			info: ptr(with(func(i *tus.FileInfo) { i.IsFinal = true; i.Offset = 0; i.PartialUploads = []string{"a", "b"} })),
			hdr:  hdr{"Upload-Offset": "0"}, body: strings.NewReader("x"), status: 403, code: "ERR_MODIFY_FINAL", write: "-"},
		{name: "partial upload is writable", opts: []envOpt{withConcater},
			info: ptr(with(func(i *tus.FileInfo) { i.IsPartial = true })),
			hdr:  hdr{"Upload-Offset": "3"}, body: strings.NewReader("x"), status: 204, offset: "4", write: "x"},

		// 413
		{name: "Content-Length past the length", info: &base, hdr: hdr{"Upload-Offset": "3"}, body: strings.NewReader("abcdefgh"),
			status: 413, code: "ERR_UPLOAD_SIZE_EXCEEDED", offset: "3", write: "-"},
		{name: "chunked body past the length is discarded", info: &base, hdr: hdr{"Upload-Offset": "3"},
			body:   iotest.HalfReader(strings.NewReader("abcdefgh")),
			status: 413, code: "ERR_UPLOAD_SIZE_EXCEEDED", offset: "3", write: "abcdefg", discard: true},

		// creation-defer-length
		{name: "declare length with the first chunk", opts: []envOpt{withDeferrer},
			info: ptr(with(func(i *tus.FileInfo) { i.Size = 0; i.SizeIsDeferred = true })),
			hdr:  hdr{"Upload-Offset": "3", "Upload-Length": "10"}, body: strings.NewReader("abcd"),
			status: 204, offset: "7", write: "abcd", declare: 10},
		{name: "declare length finishing the upload", opts: []envOpt{withDeferrer},
			info: ptr(with(func(i *tus.FileInfo) { i.Size = 0; i.SizeIsDeferred = true })),
			hdr:  hdr{"Upload-Offset": "3", "Upload-Length": "5"}, body: strings.NewReader("ab"),
			status: 204, offset: "5", write: "ab", declare: 5, finish: true},
		{name: "declare length equal to offset with an empty body", opts: []envOpt{withDeferrer},
			info:   ptr(with(func(i *tus.FileInfo) { i.Size = 0; i.SizeIsDeferred = true })),
			hdr:    hdr{"Upload-Offset": "3", "Upload-Length": "3"},
			status: 204, offset: "3", write: "-", declare: 3, finish: true},
		{name: "deferred upload without declaration", opts: []envOpt{withDeferrer},
			info: ptr(with(func(i *tus.FileInfo) { i.Size = 0; i.SizeIsDeferred = true })),
			hdr:  hdr{"Upload-Offset": "3"}, body: strings.NewReader("abcd"),
			status: 204, offset: "7", write: "abcd"},
		{name: "re-declare a different length", opts: []envOpt{withDeferrer},
			info: &base, hdr: hdr{"Upload-Offset": "3", "Upload-Length": "11"}, body: strings.NewReader("ab"),
			status: 400, code: "ERR_UPLOAD_LENGTH_ALREADY_SET", write: "-"},
		{name: "re-declare the same length", opts: []envOpt{withDeferrer},
			info: &base, hdr: hdr{"Upload-Offset": "3", "Upload-Length": "10"}, body: strings.NewReader("ab"),
			status: 204, offset: "5", write: "ab"},
		{name: "declare a length below the offset", opts: []envOpt{withDeferrer},
			info: ptr(with(func(i *tus.FileInfo) { i.Size = 0; i.SizeIsDeferred = true })),
			hdr:  hdr{"Upload-Offset": "3", "Upload-Length": "2"}, body: strings.NewReader("ab"),
			status: 400, code: "ERR_INVALID_UPLOAD_LENGTH", write: "-"},
		{name: "declare a length the body overruns", opts: []envOpt{withDeferrer},
			info: ptr(with(func(i *tus.FileInfo) { i.Size = 0; i.SizeIsDeferred = true })),
			hdr:  hdr{"Upload-Offset": "3", "Upload-Length": "4"}, body: strings.NewReader("ab"),
			status: 413, code: "ERR_UPLOAD_SIZE_EXCEEDED", write: "-"},
		{name: "declare a length above max size", opts: []envOpt{withDeferrer, withConfig(func(c *tus.Config) { c.MaxSize = 100 })},
			info: ptr(with(func(i *tus.FileInfo) { i.Size = 0; i.SizeIsDeferred = true })),
			hdr:  hdr{"Upload-Offset": "3", "Upload-Length": "101"}, body: strings.NewReader("ab"),
			status: 413, code: "ERR_MAX_SIZE_EXCEEDED", write: "-"},
		{name: "malformed Upload-Length", opts: []envOpt{withDeferrer},
			hdr: hdr{"Upload-Offset": "3", "Upload-Length": "ten"}, body: strings.NewReader("ab"),
			status: 400, code: "ERR_INVALID_UPLOAD_LENGTH", write: "-"},
		{name: "deferred chunk past max size is discarded", opts: []envOpt{withDeferrer, withConfig(func(c *tus.Config) { c.MaxSize = 5 })},
			info: ptr(with(func(i *tus.FileInfo) { i.Size = 0; i.SizeIsDeferred = true })),
			hdr:  hdr{"Upload-Offset": "3"}, body: iotest.OneByteReader(strings.NewReader("abcd")),
			status: 413, code: "ERR_UPLOAD_SIZE_EXCEEDED", offset: "3", write: "ab", discard: true},

		// expiration
		{name: "Upload-Expires on an unfinished upload", info: ptr(with(func(i *tus.FileInfo) { i.ExpiresAt = future })),
			hdr: hdr{"Upload-Offset": "3"}, body: strings.NewReader("ab"),
			status: 204, offset: "5", write: "ab", expires: future.Format(http.TimeFormat)},
		{name: "no Upload-Expires once finished", info: ptr(with(func(i *tus.FileInfo) { i.ExpiresAt = future })),
			hdr: hdr{"Upload-Offset": "3"}, body: strings.NewReader("abcdefg"),
			status: 204, offset: "10", write: "abcdefg", finish: true},
		{name: "a finished upload past its expiry is not gone", info: ptr(with(func(i *tus.FileInfo) { i.ExpiresAt = past; i.Offset = 10 })),
			hdr: hdr{"Upload-Offset": "10"}, status: 204, offset: "10", write: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newMockEnv(t, tt.opts...)
			var c *chunk
			if tt.info != nil {
				up := e.upload(*tt.info)
				if tt.write != "-" {
					c = expectWrite(up)
				}
				if tt.finish {
					up.EXPECT().FinishUpload(gomock.Any()).Return(nil).Times(1)
				}
				if tt.declare != 0 {
					dl := NewMockLengthDeclarableUpload(e.ctrl)
					e.deferrer.EXPECT().AsLengthDeclarableUpload(up).Return(dl)
					dl.EXPECT().DeclareLength(gomock.Any(), tt.declare).Return(nil).Times(1)
				}
			} else if tt.code == "ERR_UPLOAD_NOT_FOUND" {
				e.missing("up1")
			}
			h := hdr{"Content-Type": octet}
			for k, v := range tt.hdr {
				h[k] = v
			}
			w := e.serve(newReq(http.MethodPatch, "/up1", tt.body, h))
			eq(t, "status", w.Code, tt.status)
			if tt.code != "" {
				wantError(t, w, tt.status, tt.code)
			} else if tt.status < 300 {
				eq(t, "body", w.Body.String(), "")
			}
			switch {
			case tt.offset != "":
				eq(t, "Upload-Offset", w.Header().Get("Upload-Offset"), tt.offset)
			case tt.status == 404 || tt.status == 410:
				absent(t, w.Header(), "Upload-Offset")
			}
			if tt.status < 300 {
				eq(t, "Upload-Expires", w.Header().Get("Upload-Expires"), tt.expires)
			}
			if c != nil {
				calls, off, data, err := c.get()
				eq(t, "WriteChunk calls", calls, 1)
				eq(t, "WriteChunk offset", off, tt.info.Offset)
				eq(t, "WriteChunk data", data, tt.write)
				if tt.discard {
					if !errors.Is(err, tus.ErrDiscardChunk) {
						t.Errorf("WriteChunk source error = %v, want the discard signal", err)
					}
				} else {
					noErr(t, err)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestPatchStoreErrors(t *testing.T) {
	t.Run("WriteChunk fails after storing some bytes", func(t *testing.T) {
		e := newMockEnv(t)
		up := e.upload(tus.FileInfo{ID: "up1", Size: 10, Offset: 3})
		up.EXPECT().WriteChunk(gomock.Any(), int64(3), gomock.Any()).DoAndReturn(
			func(_ any, _ int64, src io.Reader) (int64, error) {
				b := make([]byte, 2)
				_, err := io.ReadFull(src, b)
				noErr(t, err)
				return 2, errors.New("s3: connection reset")
			})
		w := e.serve(newReq(http.MethodPatch, "/up1", strings.NewReader("abcd"), hdr{"Content-Type": octet, "Upload-Offset": "3"}))
		wantError(t, w, http.StatusInternalServerError, "ERR_INTERNAL_SERVER_ERROR")
		eq(t, "Upload-Offset", w.Header().Get("Upload-Offset"), "5")
	})
	t.Run("WriteChunk returns a protocol error", func(t *testing.T) {
		e := newMockEnv(t)
		up := e.upload(tus.FileInfo{ID: "up1", Size: 10, Offset: 3})
		up.EXPECT().WriteChunk(gomock.Any(), int64(3), gomock.Any()).
			Return(int64(0), fmt.Errorf("gone meanwhile: %w", tus.ErrNotFound))
		w := e.serve(newReq(http.MethodPatch, "/up1", strings.NewReader("abcd"), hdr{"Content-Type": octet, "Upload-Offset": "3"}))
		wantError(t, w, http.StatusNotFound, "ERR_UPLOAD_NOT_FOUND")
	})
	t.Run("DeclareLength fails", func(t *testing.T) {
		e := newMockEnv(t, withDeferrer)
		up := e.upload(tus.FileInfo{ID: "up1", SizeIsDeferred: true})
		dl := NewMockLengthDeclarableUpload(e.ctrl)
		e.deferrer.EXPECT().AsLengthDeclarableUpload(up).Return(dl)
		dl.EXPECT().DeclareLength(gomock.Any(), int64(4)).Return(errors.New("boom"))
		w := e.serve(newReq(http.MethodPatch, "/up1", strings.NewReader("abcd"),
			hdr{"Content-Type": octet, "Upload-Offset": "0", "Upload-Length": "4"}))
		wantError(t, w, http.StatusInternalServerError, "ERR_INTERNAL_SERVER_ERROR")
	})
}

// FinishUpload is called once, when the last byte arrives. A later PATCH on
// the complete upload (a client retrying after a lost response) must answer
// 204 with the offset without finishing it again, and must not announce a
// second completion.
func TestPatchOnCompleteUploadDoesNotFinishAgain(t *testing.T) {
	complete := tus.FileInfo{ID: "up1", Size: 5, Offset: 5}
	tests := []struct {
		name string
		body io.Reader
		hdr  hdr
	}{
		{"empty body", nil, nil},
		{"empty body re-declaring the length", nil, hdr{"Upload-Length": "5"}},
		{"empty chunked body", iotest.OneByteReader(strings.NewReader("")), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newMockEnv(t, withDeferrer)
			up := e.upload(complete)
			up.EXPECT().WriteChunk(gomock.Any(), int64(5), gomock.Any()).Return(int64(0), nil).AnyTimes()
			// No FinishUpload expected: gomock fails the test on a call.
			sub := e.h.Subscribe(10, tus.EventCompleted)
			defer sub.Close()
			h := hdr{"Content-Type": octet, "Upload-Offset": "5"}
			for k, v := range tt.hdr {
				h[k] = v
			}
			w := e.serve(newReq(http.MethodPatch, "/up1", tt.body, h))
			eq(t, "status", w.Code, http.StatusNoContent)
			eq(t, "Upload-Offset", w.Header().Get("Upload-Offset"), "5")
			select {
			case ev := <-sub.C:
				t.Errorf("got a second %s event for an upload that was already complete", ev.Type)
			default:
			}
		})
	}
}

// TestPatchBodyRemaining: the reader WriteChunk gets is a
// tus.RemainingReader that bounds what is still to come by the declared
// body length and by the room left in the upload, also through checksum
// verification, and knows nothing of a chunked body on a deferred length.
func TestPatchBodyRemaining(t *testing.T) {
	for _, tc := range []struct {
		name     string
		info     tus.FileInfo
		body     string
		chunked  bool
		checksum bool
		want     [2]int64 // before any read, after reading 2 bytes
	}{
		{name: "content length", info: tus.FileInfo{ID: "up1", Size: 10, Offset: 3}, body: "abcd", want: [2]int64{4, 2}},
		{name: "room in the upload", info: tus.FileInfo{ID: "up1", Size: 10, Offset: 3}, body: "abcd", chunked: true, want: [2]int64{7, 5}},
		{name: "checksum", info: tus.FileInfo{ID: "up1", Size: 10, Offset: 3}, body: "abcd", checksum: true, want: [2]int64{4, 2}},
		{name: "deferred length", info: tus.FileInfo{ID: "up1", SizeIsDeferred: true}, body: "abcd", chunked: true, want: [2]int64{-1, -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newMockEnv(t, withDeferrer)
			up := e.upload(tc.info)
			var got [2]int64
			up.EXPECT().WriteChunk(gomock.Any(), tc.info.Offset, gomock.Any()).DoAndReturn(
				func(_ any, _ int64, src io.Reader) (int64, error) {
					r, ok := src.(tus.RemainingReader)
					if !ok {
						t.Fatalf("WriteChunk got a %T, not a tus.RemainingReader", src)
					}
					got[0] = r.Remaining()
					b := make([]byte, 2)
					_, err := io.ReadFull(src, b)
					noErr(t, err)
					got[1] = r.Remaining()
					rest, err := io.ReadAll(src)
					noErr(t, err)
					return int64(2 + len(rest)), nil
				})
			h := hdr{"Content-Type": octet, "Upload-Offset": strconv.FormatInt(tc.info.Offset, 10)}
			if tc.checksum {
				sum := sha1.Sum([]byte(tc.body))
				h["Upload-Checksum"] = "sha1 " + base64.StdEncoding.EncodeToString(sum[:])
			}
			r := newReq(http.MethodPatch, "/up1", strings.NewReader(tc.body), h)
			if tc.chunked {
				r.ContentLength = -1
			}
			w := e.serve(r)
			eq(t, "status", w.Code, http.StatusNoContent)
			eq(t, "Remaining before and after 2 bytes", got, tc.want)
		})
	}
}
