package tus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tusgo/tus"
)

func TestPostCreation(t *testing.T) {
	type result struct {
		status   int
		code     string   // error code, for errors
		offset   string   // Upload-Offset; "" means absent
		info     FileInfo // what NewUpload must see (ID is checked separately)
		write    string   // bytes WriteChunk must see; "-" for no WriteChunk
		finish   bool     // FinishUpload expected
		noCreate bool     // NewUpload must not be called
	}
	tests := []struct {
		name string
		opts []envOpt
		hdr  hdr
		body io.Reader
		want result
	}{
		{
			name: "length and metadata",
			hdr:  hdr{"Upload-Length": "100", "Upload-Metadata": "filename aGVsbG8udHh0,empty,filetype dGV4dC9wbGFpbg=="},
			want: result{status: 201, offset: "0", write: "-",
				info: FileInfo{Size: 100, MetaData: tus.MetaData{"filename": "hello.txt", "empty": "", "filetype": "text/plain"}}},
		},
		{
			name: "unpadded base64 metadata",
			hdr:  hdr{"Upload-Length": "1", "Upload-Metadata": "name YQ"},
			want: result{status: 201, offset: "0", write: "-", info: FileInfo{Size: 1, MetaData: tus.MetaData{"name": "a"}}},
		},
		{
			name: "deferred length",
			opts: []envOpt{withDeferrer},
			hdr:  hdr{"Upload-Defer-Length": "1"},
			want: result{status: 201, offset: "0", write: "-", info: FileInfo{SizeIsDeferred: true}},
		},
		{
			name: "deferred length, store cannot defer",
			hdr:  hdr{"Upload-Defer-Length": "1"},
			want: result{status: 400, code: "ERR_INVALID_UPLOAD_LENGTH_DEFER", noCreate: true},
		},
		{
			name: "Upload-Defer-Length 2",
			opts: []envOpt{withDeferrer},
			hdr:  hdr{"Upload-Defer-Length": "2"},
			want: result{status: 400, code: "ERR_INVALID_UPLOAD_LENGTH_DEFER", noCreate: true},
		},
		{
			name: "both length headers",
			opts: []envOpt{withDeferrer},
			hdr:  hdr{"Upload-Defer-Length": "1", "Upload-Length": "5"},
			want: result{status: 400, code: "ERR_INVALID_UPLOAD_LENGTH", noCreate: true},
		},
		{
			name: "no length header",
			want: result{status: 400, code: "ERR_INVALID_UPLOAD_LENGTH", noCreate: true},
		},
		{name: "negative length", hdr: hdr{"Upload-Length": "-1"}, want: result{status: 400, code: "ERR_INVALID_UPLOAD_LENGTH", noCreate: true}},
		{name: "plus sign", hdr: hdr{"Upload-Length": "+5"}, want: result{status: 400, code: "ERR_INVALID_UPLOAD_LENGTH", noCreate: true}},
		{name: "not a number", hdr: hdr{"Upload-Length": "abc"}, want: result{status: 400, code: "ERR_INVALID_UPLOAD_LENGTH", noCreate: true}},
		{name: "exponent", hdr: hdr{"Upload-Length": "1e3"}, want: result{status: 400, code: "ERR_INVALID_UPLOAD_LENGTH", noCreate: true}},
		{name: "overflow", hdr: hdr{"Upload-Length": "9223372036854775808"}, want: result{status: 400, code: "ERR_INVALID_UPLOAD_LENGTH", noCreate: true}},
		{name: "20 digits", hdr: hdr{"Upload-Length": "99999999999999999999"}, want: result{status: 400, code: "ERR_INVALID_UPLOAD_LENGTH", noCreate: true}},
		{
			name: "max int64 length",
			hdr:  hdr{"Upload-Length": "9223372036854775807"},
			want: result{status: 201, offset: "0", write: "-", info: FileInfo{Size: 1<<63 - 1}},
		},
		{
			name: "length above max size",
			opts: []envOpt{withConfig(func(c *tus.Config) { c.MaxSize = 1000 })},
			hdr:  hdr{"Upload-Length": "1001"},
			want: result{status: 413, code: "ERR_MAX_SIZE_EXCEEDED", noCreate: true},
		},
		{
			name: "length equal to max size",
			opts: []envOpt{withConfig(func(c *tus.Config) { c.MaxSize = 1000 })},
			hdr:  hdr{"Upload-Length": "1000"},
			want: result{status: 201, offset: "0", write: "-", info: FileInfo{Size: 1000}},
		},
		{
			name: "metadata not base64",
			hdr:  hdr{"Upload-Length": "1", "Upload-Metadata": "filename not*base64"},
			want: result{status: 400, code: "ERR_INVALID_METADATA", noCreate: true},
		},
		{
			name: "metadata duplicate key",
			hdr:  hdr{"Upload-Length": "1", "Upload-Metadata": "a YQ==,a Yg=="},
			want: result{status: 400, code: "ERR_INVALID_METADATA", noCreate: true},
		},
		{
			name: "metadata empty key",
			hdr:  hdr{"Upload-Length": "1", "Upload-Metadata": "a YQ==,,b"},
			want: result{status: 400, code: "ERR_INVALID_METADATA", noCreate: true},
		},
		{
			name: "zero length finishes at creation",
			hdr:  hdr{"Upload-Length": "0"},
			want: result{status: 201, offset: "0", write: "-", finish: true, info: FileInfo{Size: 0}},
		},
		{
			name: "creation-with-upload, partial body",
			hdr:  hdr{"Upload-Length": "10", "Content-Type": octet},
			body: strings.NewReader("hello"),
			want: result{status: 201, offset: "5", write: "hello", info: FileInfo{Size: 10}},
		},
		{
			name: "creation-with-upload, whole body",
			hdr:  hdr{"Upload-Length": "5", "Content-Type": octet + "; foo=bar"},
			body: strings.NewReader("hello"),
			want: result{status: 201, offset: "5", write: "hello", finish: true, info: FileInfo{Size: 5}},
		},
		{
			name: "creation-with-upload, chunked whole body",
			hdr:  hdr{"Upload-Length": "5", "Content-Type": octet},
			body: iotest.OneByteReader(strings.NewReader("hello")),
			want: result{status: 201, offset: "5", write: "hello", finish: true, info: FileInfo{Size: 5}},
		},
		{
			name: "creation-with-upload, deferred length",
			opts: []envOpt{withDeferrer},
			hdr:  hdr{"Upload-Defer-Length": "1", "Content-Type": octet},
			body: strings.NewReader("hello"),
			want: result{status: 201, offset: "5", write: "hello", info: FileInfo{SizeIsDeferred: true}},
		},
		{
			name: "creation-with-upload, Content-Length past Upload-Length",
			hdr:  hdr{"Upload-Length": "4", "Content-Type": octet},
			body: strings.NewReader("hello"),
			want: result{status: 413, code: "ERR_UPLOAD_SIZE_EXCEEDED", noCreate: true},
		},
		{
			name: "body without offset+octet-stream is ignored",
			hdr:  hdr{"Upload-Length": "10", "Content-Type": "text/plain"},
			body: strings.NewReader("hello"),
			want: result{status: 201, offset: "0", write: "-", info: FileInfo{Size: 10}},
		},
		{
			name: "partial upload",
			opts: []envOpt{withConcater},
			hdr:  hdr{"Upload-Length": "10", "Upload-Concat": "partial"},
			want: result{status: 201, offset: "0", write: "-", info: FileInfo{Size: 10, IsPartial: true}},
		},
		{
			name: "partial upload without concatenation support",
			hdr:  hdr{"Upload-Length": "10", "Upload-Concat": "partial"},
			want: result{status: 400, code: "ERR_INVALID_CONCAT", noCreate: true},
		},
		{
			name: "partial upload with concatenation disabled",
			opts: []envOpt{withConcater, withConfig(func(c *tus.Config) { c.DisableConcatenation = true })},
			hdr:  hdr{"Upload-Length": "10", "Upload-Concat": "partial"},
			want: result{status: 400, code: "ERR_INVALID_CONCAT", noCreate: true},
		},
		{
			name: "malformed Upload-Concat",
			opts: []envOpt{withConcater},
			hdr:  hdr{"Upload-Length": "10", "Upload-Concat": "parts"},
			want: result{status: 400, code: "ERR_INVALID_CONCAT", noCreate: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newMockEnv(t, tt.opts...)
			var up *MockUpload
			var seen *tus.FileInfo
			var c *chunk
			if !tt.want.noCreate {
				up, seen = e.expectNew()
				if tt.want.write != "-" {
					c = expectWrite(up)
				}
				if tt.want.finish {
					up.EXPECT().FinishUpload(gomock.Any()).Return(nil).Times(1)
				}
			}
			w := e.serve(newReq(http.MethodPost, "/", tt.body, tt.hdr))
			eq(t, "status", w.Code, tt.want.status)
			if tt.want.code != "" {
				wantError(t, w, tt.want.status, tt.want.code)
				absent(t, w.Header(), "Location", "Upload-Offset")
				return
			}
			eq(t, "body", w.Body.String(), "")
			eq(t, "Upload-Offset", w.Header().Get("Upload-Offset"), tt.want.offset)
			absent(t, w.Header(), "Upload-Expires")
			if !tus.ValidID(seen.ID) || len(seen.ID) != 32 {
				t.Errorf("store saw ID %q, want a generated 32-character ID", seen.ID)
			}
			eq(t, "Location", w.Header().Get("Location"), "http://"+testHost+"/files/"+seen.ID)
			got := fileInfo(*seen)
			got.ID = ""
			if !reflect.DeepEqual(got, tt.want.info) {
				t.Errorf("NewUpload info = %+v, want %+v", got, tt.want.info)
			}
			if c != nil {
				calls, off, data, err := c.get()
				eq(t, "WriteChunk calls", calls, 1)
				eq(t, "WriteChunk offset", off, int64(0))
				eq(t, "WriteChunk data", data, tt.want.write)
				noErr(t, err)
			}
		})
	}
}

// FileInfo is tus.FileInfo without the fields tests compare separately.
type FileInfo struct {
	ID             string
	Size           int64
	SizeIsDeferred bool
	MetaData       tus.MetaData
	IsPartial      bool
	IsFinal        bool
	PartialUploads []string
}

func fileInfo(i tus.FileInfo) FileInfo {
	return FileInfo{i.ID, i.Size, i.SizeIsDeferred, i.MetaData, i.IsPartial, i.IsFinal, i.PartialUploads}
}

// A chunked creation body longer than Upload-Length is refused whole: the
// store sees the discard signal and the answer is 413.
func TestPostChunkedBodyPastLength(t *testing.T) {
	e := newMockEnv(t)
	up, _ := e.expectNew()
	c := expectWrite(up)
	body := iotest.HalfReader(strings.NewReader("hello world"))
	w := e.serve(newReq(http.MethodPost, "/", body, hdr{"Upload-Length": "5", "Content-Type": octet}))
	wantError(t, w, http.StatusRequestEntityTooLarge, "ERR_UPLOAD_SIZE_EXCEEDED")
	eq(t, "Upload-Offset", w.Header().Get("Upload-Offset"), "0")
	_, _, _, err := c.get()
	if !errors.Is(err, tus.ErrDiscardChunk) {
		t.Errorf("WriteChunk read error = %v, want the discard signal (errors.Is ErrDiscardChunk)", err)
	}
	if !errors.Is(err, tus.ErrSizeExceeded) {
		t.Errorf("WriteChunk read error = %v, want it to wrap ErrSizeExceeded", err)
	}
}

func TestPostExpiration(t *testing.T) {
	e := newMockEnv(t, withConfig(func(c *tus.Config) { c.Expiration = 2 * time.Hour }))
	_, seen := e.expectNew()
	before := time.Now()
	w := e.serve(newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "10"}))
	eq(t, "status", w.Code, http.StatusCreated)
	exp := w.Header().Get("Upload-Expires")
	at, err := http.ParseTime(exp)
	noErr(t, err)
	if !strings.HasSuffix(exp, " GMT") {
		t.Errorf("Upload-Expires = %q, want an RFC 9110 HTTP-date", exp)
	}
	lo, hi := before.Add(2*time.Hour-time.Second), time.Now().Add(2*time.Hour+time.Second)
	if at.Before(lo) || at.After(hi) {
		t.Errorf("Upload-Expires = %v, want between %v and %v", at, lo, hi)
	}
	if !seen.ExpiresAt.Equal(at) {
		t.Errorf("store ExpiresAt = %v, header says %v", seen.ExpiresAt, at)
	}

	// A zero-length upload is complete at once and does not expire.
	e2 := newMockEnv(t, withConfig(func(c *tus.Config) { c.Expiration = time.Hour }))
	up, _ := e2.expectNew()
	up.EXPECT().FinishUpload(gomock.Any()).Return(nil)
	w = e2.serve(newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "0"}))
	eq(t, "status", w.Code, http.StatusCreated)
	absent(t, w.Header(), "Upload-Expires")
}

func TestPostStoreErrors(t *testing.T) {
	t.Run("ID taken", func(t *testing.T) {
		e := newMockEnv(t)
		e.store.EXPECT().NewUpload(gomock.Any(), gomock.Any()).Return(nil, fmt.Errorf("create: %w", tus.ErrUploadExists))
		w := e.serve(newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "1"}))
		wantError(t, w, http.StatusConflict, "ERR_UPLOAD_EXISTS")
		absent(t, w.Header(), "Location")
	})
	t.Run("creation-with-upload write fails", func(t *testing.T) {
		e := newMockEnv(t)
		up, _ := e.expectNew()
		up.EXPECT().WriteChunk(gomock.Any(), int64(0), gomock.Any()).Return(int64(2), errors.New("disk full"))
		w := e.serve(newReq(http.MethodPost, "/", strings.NewReader("hello"), hdr{"Upload-Length": "5", "Content-Type": octet}))
		wantError(t, w, http.StatusInternalServerError, "ERR_INTERNAL_SERVER_ERROR")
		eq(t, "Upload-Offset counts the stored bytes", w.Header().Get("Upload-Offset"), "2")
		notContains(t, "body", w.Body.String(), "disk")
	})
	t.Run("lock fails", func(t *testing.T) {
		e := newMockEnv(t)
		locker := NewMockLocker(e.ctrl)
		e.composer.UseLocker(locker)
		h, err := tus.NewHandler(e.cfg)
		noErr(t, err)
		locker.EXPECT().NewLock(gomock.Any()).Return(nil, errors.New("redis down"))
		// creation-with-upload writes under the new upload's lock.
		w := serve(t, h, newReq(http.MethodPost, "/", strings.NewReader("a"), hdr{"Upload-Length": "1", "Content-Type": octet}))
		wantError(t, w, http.StatusInternalServerError, "ERR_INTERNAL_SERVER_ERROR")
	})
}

func TestLocation(t *testing.T) {
	tests := []struct {
		name     string
		basePath string
		forward  bool
		target   string // request URL
		hdr      hdr
		want     string // Location without the ID
	}{
		{"default base path", "", false, "http://tus.example.org/", nil, "http://tus.example.org/files/"},
		{"relative base path without slashes", "uploads", false, "http://tus.example.org/", nil, "http://tus.example.org/uploads/"},
		{"TLS", "/files/", false, "https://secure.example.org/", nil, "https://secure.example.org/files/"},
		{"host with port", "/files/", false, "http://tus.example.org:8080/", nil, "http://tus.example.org:8080/files/"},
		{"absolute base path", "https://cdn.example.com/up", false, "http://internal:8080/", nil, "https://cdn.example.com/up/"},
		{"forwarded headers ignored by default", "/files/", false, "http://tus.example.org/",
			hdr{"X-Forwarded-Host": "proxy.example.com", "X-Forwarded-Proto": "https", "Forwarded": "host=fwd.example.com;proto=https"},
			"http://tus.example.org/files/"},
		{"X-Forwarded-Host and Proto", "/files/", true, "http://tus.example.org/",
			hdr{"X-Forwarded-Host": "proxy.example.com", "X-Forwarded-Proto": "https"}, "https://proxy.example.com/files/"},
		{"X-Forwarded lists use the first value", "/files/", true, "http://tus.example.org/",
			hdr{"X-Forwarded-Host": "a.example.com:444, b.example.com", "X-Forwarded-Proto": "HTTPS, http"}, "https://a.example.com:444/files/"},
		{"RFC 7239 Forwarded", "/files/", true, "http://tus.example.org/",
			hdr{"Forwarded": `for=192.0.2.60;proto=https;host="fwd.example.com:8443", for=10.0.0.1;host=inner.example;proto=http`},
			"https://fwd.example.com:8443/files/"},
		{"Forwarded wins over X-Forwarded", "/files/", true, "http://tus.example.org/",
			hdr{"Forwarded": "Host=fwd.example.com;Proto=https", "X-Forwarded-Host": "xfh.example.com", "X-Forwarded-Proto": "http"},
			"https://fwd.example.com/files/"},
		{"Forwarded IPv6 host", "/files/", true, "http://tus.example.org/",
			hdr{"Forwarded": `proto=http;host="[2001:db8::1]:8080"`}, "http://[2001:db8::1]:8080/files/"},
		{"malicious forwarded values ignored", "/files/", true, "http://tus.example.org/",
			hdr{"X-Forwarded-Host": "evil.example.com/steal?x=", "X-Forwarded-Proto": "javascript"}, "http://tus.example.org/files/"},
		{"malicious Forwarded host ignored", "/files/", true, "http://tus.example.org/",
			hdr{"Forwarded": `host="evil.example.com@x";proto=ftp`}, "http://tus.example.org/files/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newMockEnv(t, withConfig(func(c *tus.Config) {
				c.BasePath = tt.basePath
				c.RespectForwardedHeaders = tt.forward
			}))
			_, seen := e.expectNew()
			r := httptest.NewRequest(http.MethodPost, tt.target, nil)
			r.Header.Set("Tus-Resumable", tusVersion)
			r.Header.Set("Upload-Length", "3")
			for k, v := range tt.hdr {
				r.Header.Set(k, v)
			}
			w := e.serve(r)
			eq(t, "status", w.Code, http.StatusCreated)
			eq(t, "Location", w.Header().Get("Location"), tt.want+seen.ID)
		})
	}
}

func TestPostRequestCanceledWhileWaitingForLock(t *testing.T) {
	e := newMockEnv(t)
	lock := NewMockLock(e.ctrl)
	locker := NewMockLocker(e.ctrl)
	e.composer.UseLocker(locker)
	h, err := tus.NewHandler(e.cfg)
	noErr(t, err)
	locker.EXPECT().NewLock(gomock.Any()).Return(lock, nil)
	ctx, cancel := context.WithCancel(context.Background())
	lock.EXPECT().Lock(gomock.Any(), gomock.Any()).DoAndReturn(func(lctx context.Context, _ func()) error {
		cancel()
		<-lctx.Done()
		return fmt.Errorf("lock: %w", tus.ErrLockTimeout)
	})
	r := newReq(http.MethodPost, "/", strings.NewReader("a"), hdr{"Upload-Length": "1", "Content-Type": octet}).WithContext(ctx)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r) // no NewUpload, no Unlock expected
	if w.Code == http.StatusCreated || w.Code == http.StatusLocked {
		t.Errorf("status = %d for a request canceled while waiting for its lock", w.Code)
	}
}
