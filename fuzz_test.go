package tus_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/tusgo/tus"
)

func FuzzParseMetadata(f *testing.F) {
	for _, s := range []string{"", "a", "a YQ==", "a YQ,b Yg==,c", "filename d29ybGQ=", " a YQ== ,b",
		"a YQ==,a YQ==", ",", "a !!!", "k\x00 YQ==", "a\tYQ==", "é YQ==", "a YQ==\n", "a Y Q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		meta, err := tus.ParseMetadata(s)
		if err != nil {
			if !errors.Is(err, tus.ErrInvalidMetadata) {
				t.Fatalf("ParseMetadata(%q) error %v is not ErrInvalidMetadata", s, err)
			}
			if meta != nil {
				t.Fatalf("ParseMetadata(%q) returned %v with an error", s, meta)
			}
			return
		}
		if strings.TrimSpace(s) == "" {
			if meta != nil {
				t.Fatalf("ParseMetadata(%q) = %v, want nil", s, meta)
			}
			return
		}
		if len(meta) == 0 {
			t.Fatalf("ParseMetadata(%q) = empty map without error", s)
		}
		for k := range meta {
			if k == "" || strings.ContainsAny(k, " ,\t") {
				t.Fatalf("ParseMetadata(%q) accepted key %q", s, k)
			}
		}
		enc := tus.EncodeMetadata(meta)
		back, err := tus.ParseMetadata(enc)
		if err != nil {
			t.Fatalf("ParseMetadata(EncodeMetadata(%v)) = %v (encoded %q)", meta, err, enc)
		}
		if !reflect.DeepEqual(back, meta) {
			t.Fatalf("round trip: %v -> %q -> %v", meta, enc, back)
		}
		if tus.EncodeMetadata(back) != enc {
			t.Fatalf("EncodeMetadata is not deterministic for %v", meta)
		}
	})
}

// fuzzStore returns a handler over a fresh in-memory store holding uploads
// in every interesting state.
func fuzzHandler(t testing.TB) (*tus.Handler, *memStore, interface{ Len() int }) {
	h, store, locker := newMemHandler(t, tus.Config{
		MaxSize:            1000,
		Expiration:         time.Hour,
		AcquireLockTimeout: time.Second,
		NetworkTimeout:     time.Second,
	})
	store.put(tus.FileInfo{ID: "up1", Size: 10, MetaData: tus.MetaData{"filename": "a.txt", "filetype": "text/plain"}}, "abc")
	store.put(tus.FileInfo{ID: "def", SizeIsDeferred: true}, "ab")
	store.put(tus.FileInfo{ID: "p1", Size: 2, IsPartial: true}, "pp")
	store.put(tus.FileInfo{ID: "p2", Size: 5, IsPartial: true}, "q")
	store.put(tus.FileInfo{ID: "fin", Size: 7, IsFinal: true, PartialUploads: []string{"p1", "p2"}}, "")
	store.put(tus.FileInfo{ID: "done", Size: 4, MetaData: tus.MetaData{"filetype": "image/png", "filename": "x.png"}}, "done")
	store.put(tus.FileInfo{ID: "old", Size: 9, ExpiresAt: time.Now().Add(-time.Hour)}, "o")
	return h, store, locker
}

// validHeaderValue reports whether net/http would accept v in a request.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// FuzzHandler builds requests from fuzzed parts and checks that the handler
// never panics, answers with a valid status, never answers 5xx (the store
// never fails), always sends Tus-Resumable outside preflights, answers
// errors with one line, releases every lock and keeps the store contract
// (see memStore.checkInvariants).
func FuzzHandler(f *testing.F) {
	type seed struct {
		method, path, headers string
		body                  []byte
		chunked               bool
	}
	seeds := []seed{
		{"POST", "/", "Upload-Length: 5\nUpload-Metadata: filename YS50eHQ=", nil, false},
		{"POST", "/", "Upload-Length: 5\nContent-Type: application/offset+octet-stream", []byte("hello"), false},
		{"POST", "/", "Upload-Defer-Length: 1\nContent-Type: application/offset+octet-stream", []byte("hello"), true},
		{"POST", "/", "Upload-Concat: final;/files/p1 /files/p2", nil, false},
		{"POST", "/", "Upload-Concat: partial\nUpload-Length: 3", nil, false},
		{"PATCH", "/up1", "Upload-Offset: 3\nContent-Type: application/offset+octet-stream", []byte("defg"), false},
		{"PATCH", "/up1", "Upload-Offset: 3\nContent-Type: application/offset+octet-stream\nUpload-Checksum: sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=", []byte("d"), false},
		{"PATCH", "/def", "Upload-Offset: 2\nUpload-Length: 4\nContent-Type: application/offset+octet-stream", []byte("cd"), true},
		{"PATCH", "/fin", "Upload-Offset: 0\nContent-Type: application/offset+octet-stream", []byte("x"), false},
		// A client retrying a PATCH whose response it lost.
		{"PATCH", "/done", "Upload-Offset: 4\nContent-Type: application/offset+octet-stream", nil, false},
		{"HEAD", "/fin", "", nil, false},
		{"HEAD", "/old", "", nil, false},
		{"GET", "/done", "Range: bytes=1-2\nTus-Resumable: ", nil, false},
		{"GET", "/up1", "", nil, false},
		{"DELETE", "/up1", "", nil, false},
		{"OPTIONS", "/", "Origin: https://x\nAccess-Control-Request-Method: PATCH", nil, false},
		{"POST", "/up1", "X-HTTP-Method-Override: PATCH\nUpload-Offset: 3\nContent-Type: application/offset+octet-stream", []byte("z"), false},
		{"PATCH", "/..%2F..%2Fetc%2Fpasswd", "Upload-Offset: 0", nil, false},
		{"BREW", "/up1", "Tus-Resumable: 0.2.2", nil, false},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.headers, s.body, s.chunked)
	}
	f.Fuzz(func(t *testing.T, method, path, headers string, body []byte, chunked bool) {
		if len(body) > 1<<16 || len(headers) > 1<<14 || len(path) > 1<<12 {
			return
		}
		h, store, locker := fuzzHandler(t)
		r := httptest.NewRequest(http.MethodGet, "http://"+testHost+"/", nil)
		if method == "" || !validHeaderValue(method) || strings.ContainsAny(method, " \t") {
			method = http.MethodGet
		}
		r.Method = method
		r.URL = &url.URL{Path: path}
		r.RequestURI = path
		r.Header.Set("Tus-Resumable", tusVersion)
		for line := range strings.SplitSeq(headers, "\n") {
			k, v, ok := strings.Cut(line, ":")
			k = strings.TrimSpace(k)
			if !ok || k == "" || !validHeaderValue(k) || strings.ContainsAny(k, " \t:") || !validHeaderValue(v) {
				continue
			}
			r.Header.Set(k, strings.TrimSpace(v))
		}
		var rd io.Reader = bytes.NewReader(body)
		r.ContentLength = int64(len(body))
		if chunked {
			rd = iotest.HalfReader(rd)
			r.ContentLength = -1
		}
		r.Body = io.NopCloser(rd)

		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		status := w.Code
		if status < 100 || status > 599 {
			t.Fatalf("invalid status %d", status)
		}
		if status >= 500 {
			t.Fatalf("%s %q with %q: status %d: %q", method, path, headers, status, w.Body.String())
		}
		preflight := strings.EqualFold(r.Method, http.MethodOptions) && r.Header.Get("Origin") != "" &&
			r.Header.Get("Access-Control-Request-Method") != ""
		if !preflight && w.Header().Get("Tus-Resumable") != tusVersion {
			t.Fatalf("response %d without Tus-Resumable", status)
		}
		if status >= 400 && r.Method != http.MethodHead && r.Method != http.MethodGet {
			if b := w.Body.String(); !errLine.MatchString(b) {
				t.Fatalf("error body %q is not one line", b)
			}
		}
		if n := locker.Len(); n != 0 {
			t.Fatalf("%d locks held after the request", n)
		}
		store.checkInvariants(t, 1000)
	})
}
