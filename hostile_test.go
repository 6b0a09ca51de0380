package tus_test

// Hostile requests (issue 14, "What it must show"): path and ID abuse,
// header abuse, body and length disagreements, checksum and trailer abuse
// and method overrides, each with its status, a one-line answer, no panic,
// no lock left held and nothing changed in the store.

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/tusgo/tus"
)

// hostileSeed fills a store with the uploads the hostile requests aim at:
// "up" (10 bytes, 3 stored, with metadata), "def" (deferred length, 2
// stored), "part" (a complete partial), "done" (complete) and "z0"
// (deferred length, empty).
func hostileSeed(s *memStore) {
	s.put(tus.FileInfo{ID: "up", Size: 10, MetaData: tus.MetaData{"filename": "a.txt"}}, "abc")
	s.put(tus.FileInfo{ID: "def", SizeIsDeferred: true}, "ab")
	s.put(tus.FileInfo{ID: "part", Size: 3, IsPartial: true}, "xyz")
	s.put(tus.FileInfo{ID: "done", Size: 3}, "fin")
	s.put(tus.FileInfo{ID: "z0", SizeIsDeferred: true}, "")
}

// snapshot describes every upload of s: its record, bytes and finishes.
func (s *memStore) snapshot() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.uploads))
	for id := range s.uploads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	fmt.Fprintf(&b, "%d uploads\n", len(ids))
	for _, id := range ids {
		u := s.uploads[id]
		i := u.info
		fmt.Fprintf(&b, "%s: size=%d deferred=%v announced=%d partial=%v final=%v%v meta=%v data=%q finishes=%d finished=%v\n",
			id, i.Size, i.SizeIsDeferred, i.AnnouncedSize, i.IsPartial, i.IsFinal, i.PartialUploads, i.MetaData, u.data, u.finishes, u.finished)
	}
	return b.String()
}

// chunkedReader hides its length, so the request has none (chunked).
type chunkedReader struct{ io.Reader }

func sha1Sum(s string) string {
	d := sha1.Sum([]byte(s))
	return "sha1 " + base64.StdEncoding.EncodeToString(d[:])
}

func TestHostileRequests(t *testing.T) {
	const partialType = "application/partial-upload"
	bigMeta := "k " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 70<<10))
	type H = http.Header
	tests := []struct {
		name    string
		method  string
		target  string // as the handler sees it behind http.StripPrefix: "/" or "/<id>", may be escaped
		hdr     H      // tus requests get Tus-Resumable unless ietf
		ietf    bool   // an IETF request (interop version 8)
		body    string
		chunked bool // the body has no Content-Length
		trailer bool // an Upload-Checksum trailer is announced (and not sent)
		cfg     func(*tus.Config)
		status  int
		code    string // the error code (tus)
		changes bool   // the request is accepted and may change the store
	}{
		// Path and ID abuse: 404 before any store sees the ID.
		{name: "dot-dot", method: "PATCH", target: "/../up", hdr: H{"Upload-Offset": {"3"}, "Content-Type": {octet}}, body: "de", status: 404, code: "ERR_INVALID_UPLOAD_ID"},
		{name: "encoded slash", method: "PATCH", target: "/up%2F..%2Fdef", hdr: H{"Upload-Offset": {"2"}, "Content-Type": {octet}}, body: "de", status: 404, code: "ERR_INVALID_UPLOAD_ID"},
		{name: "encoded dot-dot", method: "DELETE", target: "/%2e%2e", status: 404, code: "ERR_INVALID_UPLOAD_ID"},
		{name: "two segments", method: "DELETE", target: "/up/def", status: 404, code: "ERR_INVALID_UPLOAD_ID"},
		{name: "overlong ID", method: "HEAD", target: "/" + strings.Repeat("a", tus.MaxIDLength+1), status: 404},
		{name: "NUL in ID", method: "PATCH", target: "/up%00", hdr: H{"Upload-Offset": {"3"}, "Content-Type": {octet}}, body: "de", status: 404, code: "ERR_INVALID_UPLOAD_ID"},
		{name: "unicode ID", method: "GET", target: "/%C3%BCp", status: 404, code: "ERR_INVALID_UPLOAD_ID"},
		{name: "IETF dot-dot", ietf: true, method: "DELETE", target: "/../up", status: 404},

		// Header abuse.
		{name: "conflicting Upload-Length", method: "POST", target: "/", hdr: H{"Upload-Length": {"5", "8"}}, status: 400, code: "ERR_INVALID_HEADER"},
		{name: "conflicting Upload-Offset", method: "PATCH", target: "/up", hdr: H{"Upload-Offset": {"3", "0"}, "Content-Type": {octet}}, body: "de", status: 400, code: "ERR_INVALID_HEADER"},
		{name: "conflicting Content-Type", method: "PATCH", target: "/up", hdr: H{"Upload-Offset": {"3"}, "Content-Type": {octet, "text/plain"}}, body: "de", status: 400, code: "ERR_INVALID_HEADER"},
		{name: "conflicting Upload-Metadata", method: "POST", target: "/", hdr: H{"Upload-Length": {"5"}, "Upload-Metadata": {"a", "b"}}, status: 400, code: "ERR_INVALID_HEADER"},
		{name: "conflicting Upload-Defer-Length", method: "POST", target: "/", hdr: H{"Upload-Defer-Length": {"1", "0"}}, status: 400, code: "ERR_INVALID_HEADER"},
		{name: "conflicting Upload-Concat", method: "POST", target: "/", hdr: H{"Upload-Length": {"5"}, "Upload-Concat": {"partial", "final;/files/part"}}, status: 400, code: "ERR_INVALID_HEADER"},
		{name: "conflicting Upload-Checksum", method: "PATCH", target: "/up", hdr: H{"Upload-Offset": {"3"}, "Content-Type": {octet}, "Upload-Checksum": {sha1Sum("de"), sha1Sum("xx")}}, body: "de", status: 400, code: "ERR_INVALID_HEADER"},
		{name: "conflicting Tus-Resumable", method: "PATCH", target: "/up", hdr: H{"Tus-Resumable": {"1.0.0", "0.2.2"}, "Upload-Offset": {"3"}, "Content-Type": {octet}}, body: "de", status: 400, code: "ERR_INVALID_HEADER"},
		{name: "identical repeats are accepted", method: "PATCH", target: "/up", hdr: H{"Upload-Offset": {"3", "3"}, "Content-Type": {octet, octet}}, body: "de", status: 204, changes: true},
		{name: "Upload-Length overflows", method: "POST", target: "/", hdr: H{"Upload-Length": {"99999999999999999999"}}, status: 400, code: "ERR_INVALID_UPLOAD_LENGTH"},
		{name: "negative Upload-Length", method: "POST", target: "/", hdr: H{"Upload-Length": {"-1"}}, status: 400, code: "ERR_INVALID_UPLOAD_LENGTH"},
		{name: "huge Upload-Defer-Length", method: "POST", target: "/", hdr: H{"Upload-Defer-Length": {strings.Repeat("1", 10000)}}, status: 400, code: "ERR_INVALID_UPLOAD_LENGTH_DEFER"},
		{name: "negative Upload-Offset", method: "PATCH", target: "/up", hdr: H{"Upload-Offset": {"-3"}, "Content-Type": {octet}}, body: "de", status: 400, code: "ERR_INVALID_OFFSET"},
		{name: "overflowing Upload-Offset", method: "PATCH", target: "/up", hdr: H{"Upload-Offset": {"9223372036854775808"}, "Content-Type": {octet}}, body: "de", status: 400, code: "ERR_INVALID_OFFSET"},
		{name: "garbage Upload-Concat", method: "POST", target: "/", hdr: H{"Upload-Length": {"5"}, "Upload-Concat": {"partial;final"}}, status: 400, code: "ERR_INVALID_CONCAT"},
		{name: "partial on a foreign host", method: "POST", target: "/", hdr: H{"Upload-Concat": {"final;http://evil.example/files/part"}}, status: 400, code: "ERR_INVALID_CONCAT"},
		{name: "partial under a foreign path", method: "POST", target: "/", hdr: H{"Upload-Concat": {"final;/elsewhere/part"}}, status: 400, code: "ERR_INVALID_CONCAT"},
		{name: "partial through an encoded slash", method: "POST", target: "/", hdr: H{"Upload-Concat": {"final;/files/x%2F..%2Fpart"}}, status: 400, code: "ERR_INVALID_CONCAT"},
		{name: "oversize metadata", method: "POST", target: "/", hdr: H{"Upload-Length": {"5"}, "Upload-Metadata": {bigMeta}}, status: 400, code: "ERR_INVALID_METADATA"},
		{name: "metadata over a configured limit", method: "POST", target: "/", cfg: func(c *tus.Config) { c.MaxMetadataSize = 16 },
			hdr: H{"Upload-Length": {"5"}, "Upload-Metadata": {"filename " + base64.StdEncoding.EncodeToString([]byte("long-name.txt"))}}, status: 400, code: "ERR_INVALID_METADATA"},
		{name: "IETF oversize metadata", ietf: true, method: "POST", target: "/", hdr: H{"Upload-Complete": {"?0"}, "Upload-Length": {"5"}, "Upload-Metadata": {bigMeta}}, status: 400},
		{name: "IETF metadata and representation over the limit", ietf: true, method: "POST", target: "/", cfg: func(c *tus.Config) { c.MaxMetadataSize = 20 },
			hdr: H{"Upload-Complete": {"?0"}, "Upload-Length": {"5"}, "Upload-Metadata": {"k " + base64.StdEncoding.EncodeToString([]byte("0123456"))}, "Content-Type": {"image/png"}}, status: 400},
		{name: "IETF conflicting Upload-Complete", ietf: true, method: "PATCH", target: "/def", hdr: H{"Upload-Offset": {"2"}, "Upload-Complete": {"?1", "?0"}, "Content-Type": {partialType}}, body: "cd", status: 400},
		{name: "IETF conflicting interop versions", ietf: true, method: "PATCH", target: "/def", hdr: H{"Upload-Draft-Interop-Version": {"8", "7"}, "Upload-Offset": {"2"}, "Upload-Complete": {"?1"}, "Content-Type": {partialType}}, body: "cd", status: 400},
		{name: "IETF negative Upload-Offset", ietf: true, method: "PATCH", target: "/def", hdr: H{"Upload-Offset": {"-2"}, "Upload-Complete": {"?1"}, "Content-Type": {partialType}}, body: "cd", status: 400},

		// Body and length disagreements.
		{name: "Content-Length past the length", method: "PATCH", target: "/up", hdr: H{"Upload-Offset": {"3"}, "Content-Type": {octet}}, body: "defghijk", status: 413, code: "ERR_UPLOAD_SIZE_EXCEEDED"},
		{name: "chunked past the length", method: "PATCH", target: "/up", hdr: H{"Upload-Offset": {"3"}, "Content-Type": {octet}}, body: "defghijk", chunked: true, status: 413, code: "ERR_UPLOAD_SIZE_EXCEEDED"},
		{name: "chunked past a declared length", method: "PATCH", target: "/def", hdr: H{"Upload-Offset": {"2"}, "Upload-Length": {"5"}, "Content-Type": {octet}}, body: "cdefghij", chunked: true, status: 413, code: "ERR_UPLOAD_SIZE_EXCEEDED"},
		{name: "chunked body with a length equal to the offset", method: "PATCH", target: "/def", hdr: H{"Upload-Offset": {"2"}, "Upload-Length": {"2"}, "Content-Type": {octet}}, body: "c", chunked: true, status: 413, code: "ERR_UPLOAD_SIZE_EXCEEDED"},
		{name: "chunked past a declared zero length", method: "PATCH", target: "/z0", hdr: H{"Upload-Offset": {"0"}, "Upload-Length": {"0"}, "Content-Type": {octet}}, body: "x", chunked: true, status: 413, code: "ERR_UPLOAD_SIZE_EXCEEDED"},
		{name: "Content-Length past a declared length", method: "PATCH", target: "/def", hdr: H{"Upload-Offset": {"2"}, "Upload-Length": {"5"}, "Content-Type": {octet}}, body: "cdefghij", status: 413, code: "ERR_UPLOAD_SIZE_EXCEEDED"},
		{name: "declared length below the offset", method: "PATCH", target: "/def", hdr: H{"Upload-Offset": {"2"}, "Upload-Length": {"1"}, "Content-Type": {octet}}, body: "c", chunked: true, status: 400, code: "ERR_INVALID_UPLOAD_LENGTH"},
		{name: "length declared again, differently", method: "PATCH", target: "/up", hdr: H{"Upload-Offset": {"3"}, "Upload-Length": {"11"}, "Content-Type": {octet}}, body: "d", status: 400, code: "ERR_UPLOAD_LENGTH_ALREADY_SET"},
		{name: "declared length over MaxSize", method: "PATCH", target: "/def", cfg: func(c *tus.Config) { c.MaxSize = 4 }, hdr: H{"Upload-Offset": {"2"}, "Upload-Length": {"5"}, "Content-Type": {octet}}, body: "c", chunked: true, status: 413, code: "ERR_MAX_SIZE_EXCEEDED"},
		{name: "creation body past Upload-Length", method: "POST", target: "/", hdr: H{"Upload-Length": {"3"}, "Content-Type": {octet}}, body: "hello", status: 413, code: "ERR_UPLOAD_SIZE_EXCEEDED"},
		{name: "Upload-Length with Upload-Defer-Length", method: "POST", target: "/", hdr: H{"Upload-Length": {"3"}, "Upload-Defer-Length": {"1"}}, status: 400, code: "ERR_INVALID_UPLOAD_LENGTH"},
		{name: "PATCH of a complete upload at a wrong offset", method: "PATCH", target: "/done", hdr: H{"Upload-Offset": {"0"}, "Content-Type": {octet}}, body: "x", status: 409, code: "ERR_MISMATCHED_OFFSET"},
		{name: "IETF content past the stated length", ietf: true, method: "PATCH", target: "/def", hdr: H{"Upload-Offset": {"2"}, "Upload-Length": {"4"}, "Upload-Complete": {"?0"}, "Content-Type": {partialType}}, body: "cdefgh", status: 400},
		{name: "IETF creation content past Upload-Length", ietf: true, method: "POST", target: "/", hdr: H{"Upload-Length": {"3"}, "Upload-Complete": {"?1"}}, body: "hello", status: 400},
		{name: "IETF append to a complete upload", ietf: true, method: "PATCH", target: "/done", hdr: H{"Upload-Offset": {"3"}, "Upload-Complete": {"?1"}, "Content-Type": {partialType}}, body: "x", status: 400},

		// Checksum and trailer abuse: nothing of the chunk is kept.
		{name: "checksum header and trailer", method: "PATCH", target: "/up", hdr: H{"Upload-Offset": {"3"}, "Content-Type": {octet}, "Upload-Checksum": {sha1Sum("de")}}, body: "de", chunked: true, trailer: true, status: 400, code: "ERR_INVALID_CHECKSUM"},
		{name: "creation with checksum header and trailer", method: "POST", target: "/", hdr: H{"Upload-Length": {"5"}, "Content-Type": {octet}, "Upload-Checksum": {sha1Sum("hello")}}, body: "hello", chunked: true, trailer: true, status: 400, code: "ERR_INVALID_CHECKSUM"},
		{name: "checksum mismatch", method: "PATCH", target: "/up", hdr: H{"Upload-Offset": {"3"}, "Content-Type": {octet}, "Upload-Checksum": {sha1Sum("xx")}}, body: "de", status: 460, code: "ERR_CHECKSUM_MISMATCH"},
		{name: "chunked checksum mismatch with a declared length", method: "PATCH", target: "/def", hdr: H{"Upload-Offset": {"2"}, "Upload-Length": {"4"}, "Content-Type": {octet}, "Upload-Checksum": {sha1Sum("xx")}}, body: "cd", chunked: true, status: 460, code: "ERR_CHECKSUM_MISMATCH"},
		{name: "announced trailer never sent", method: "PATCH", target: "/up", hdr: H{"Upload-Offset": {"3"}, "Content-Type": {octet}}, body: "de", chunked: true, trailer: true, status: 460, code: "ERR_CHECKSUM_MISMATCH"},
		{name: "unsupported algorithm", method: "PATCH", target: "/up", hdr: H{"Upload-Offset": {"3"}, "Content-Type": {octet}, "Upload-Checksum": {"whirlpool AAAA"}}, body: "de", status: 400, code: "ERR_UNSUPPORTED_CHECKSUM_ALGORITHM"},
		{name: "malformed checksum", method: "PATCH", target: "/up", hdr: H{"Upload-Offset": {"3"}, "Content-Type": {octet}, "Upload-Checksum": {"sha1"}}, body: "de", status: 400, code: "ERR_INVALID_CHECKSUM"},
		{name: "IETF checksum header and trailer", ietf: true, method: "PATCH", target: "/def", hdr: H{"Upload-Offset": {"2"}, "Upload-Complete": {"?0"}, "Content-Type": {partialType}, "Upload-Checksum": {sha1Sum("cd")}}, body: "cd", chunked: true, trailer: true, status: 400},
		{name: "IETF creation with a malformed checksum", ietf: true, method: "POST", target: "/", hdr: H{"Upload-Complete": {"?1"}, "Upload-Checksum": {"sha1 !!"}}, body: "hello", status: 400},

		// Method override: only a POST, to PATCH or DELETE.
		{name: "GET overridden to HEAD", method: "GET", target: "/done", hdr: H{"X-Http-Method-Override": {"HEAD"}}, status: 400, code: "ERR_INVALID_HEADER"},
		{name: "POST overridden to HEAD", method: "POST", target: "/up", hdr: H{"X-Http-Method-Override": {"HEAD"}}, status: 400, code: "ERR_INVALID_HEADER"},
		{name: "POST overridden to GET", method: "POST", target: "/done", hdr: H{"X-Http-Method-Override": {"GET"}}, status: 400, code: "ERR_INVALID_HEADER"},
		{name: "POST overridden to OPTIONS", method: "POST", target: "/", hdr: H{"X-Http-Method-Override": {"OPTIONS"}}, status: 400, code: "ERR_INVALID_HEADER"},
		{name: "PATCH overridden to DELETE", method: "PATCH", target: "/up", hdr: H{"X-Http-Method-Override": {"DELETE"}, "Upload-Offset": {"3"}, "Content-Type": {octet}}, body: "de", status: 400, code: "ERR_INVALID_HEADER"},
		{name: "POST overridden to PUT", method: "POST", target: "/up", hdr: H{"X-Http-Method-Override": {"PUT"}}, status: 400, code: "ERR_INVALID_HEADER"},
		{name: "garbage override", method: "POST", target: "/up", hdr: H{"X-Http-Method-Override": {"\x01PATCH" + strings.Repeat("x", 1000)}}, status: 400, code: "ERR_INVALID_HEADER"},
		{name: "conflicting overrides", method: "POST", target: "/up", hdr: H{"X-Http-Method-Override": {"PATCH", "DELETE"}}, status: 400, code: "ERR_INVALID_HEADER"},
		{name: "override without Tus-Resumable", method: "POST", target: "/up", hdr: H{"X-Http-Method-Override": {"DELETE"}, "Tus-Resumable": nil}, status: 412, code: "ERR_UNSUPPORTED_VERSION"},
		{name: "override to PATCH at a wrong offset", method: "POST", target: "/up", hdr: H{"X-Http-Method-Override": {"PATCH"}, "Upload-Offset": {"0"}, "Content-Type": {octet}}, body: "de", status: 409, code: "ERR_MISMATCHED_OFFSET"},
		{name: "IETF GET overridden to HEAD", ietf: true, method: "GET", target: "/done", hdr: H{"X-Http-Method-Override": {"HEAD"}}, status: 400},
		{name: "POST overridden to PATCH is honoured", method: "POST", target: "/up", hdr: H{"X-Http-Method-Override": {" patch "}, "Upload-Offset": {"3"}, "Content-Type": {octet}}, body: "de", status: 204, changes: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg tus.Config
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			h, store, locker := newMemHandler(t, cfg)
			hostileSeed(store)
			before := store.snapshot()

			var body io.Reader
			if tt.body != "" || tt.chunked {
				body = strings.NewReader(tt.body)
				if tt.chunked {
					body = chunkedReader{body}
				}
			}
			r := httptest.NewRequest(tt.method, "http://"+testHost+tt.target, body)
			r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
			if tt.ietf {
				r.Header.Set("Upload-Draft-Interop-Version", "8")
			} else {
				r.Header.Set("Tus-Resumable", tusVersion)
			}
			for k, vs := range tt.hdr {
				if vs == nil {
					r.Header.Del(k)
					continue
				}
				r.Header[http.CanonicalHeaderKey(k)] = vs
			}
			if tt.trailer {
				r.Trailer = http.Header{"Upload-Checksum": nil}
			}
			w := httptest.NewRecorder()
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("handler panicked: %v", p)
					}
				}()
				h.ServeHTTP(w, r)
			}()

			eq(t, "status", w.Code, tt.status)
			if tt.status >= 400 && tt.method != http.MethodHead {
				b := w.Body.String()
				if strings.Count(b, "\n") != 1 || !strings.HasSuffix(b, "\n") || len(b) > 400 {
					t.Errorf("error body %q is not one short line", b)
				}
				if tt.code != "" && !strings.HasPrefix(b, tt.code+": ") {
					t.Errorf("body = %q, want error code %s", b, tt.code)
				}
			}
			if !tt.ietf {
				eq(t, "Tus-Resumable", w.Header().Get("Tus-Resumable"), tusVersion)
			}
			eq(t, "locks held", locker.Len(), 0)
			store.checkInvariants(t, cfg.MaxSize)
			if after := store.snapshot(); !tt.changes && after != before {
				t.Errorf("the refused request changed the store:\nbefore:\n%safter:\n%s", before, after)
			}
		})
	}
}

// Item 5 of issue 14 over HTTP: a chunked PATCH that declares a length
// its body overruns is answered 413 and leaves the length open and the
// bytes as they were; the same PATCH that fits declares it. An IETF append
// that states a length its chunked content overruns keeps the content up
// to the length (the drafts stop appending there), reports it, and leaves
// the length open too.
func TestRefusedPatchLeavesLengthOpenOverHTTP(t *testing.T) {
	h, store, _ := newMemHandler(t, tus.Config{})
	srv := httptest.NewServer(http.StripPrefix("/files/", h))
	defer srv.Close()
	store.put(tus.FileInfo{ID: "def", SizeIsDeferred: true}, "")
	store.put(tus.FileInfo{ID: "ietf", SizeIsDeferred: true}, "")

	patch := func(id string, hdr map[string]string, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPatch, srv.URL+"/files/"+id, chunkedReader{strings.NewReader(body)})
		noErr(t, err)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		noErr(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	tusHdr := map[string]string{"Tus-Resumable": tusVersion, "Content-Type": octet, "Upload-Offset": "0", "Upload-Length": "5"}
	res := patch("def", tusHdr, "12345678")
	eq(t, "status", res.StatusCode, http.StatusRequestEntityTooLarge)
	eq(t, "Upload-Offset", res.Header.Get("Upload-Offset"), "0")
	info, err := store.uploads["def"].GetInfo(t.Context())
	noErr(t, err)
	eq(t, "deferred after the refused PATCH", info.SizeIsDeferred, true)
	eq(t, "offset after the refused PATCH", info.Offset, int64(0))

	res = patch("def", tusHdr, "12345")
	eq(t, "status", res.StatusCode, http.StatusNoContent)
	info, _ = store.uploads["def"].GetInfo(t.Context())
	eq(t, "length after the PATCH that fits", info.Size, int64(5))
	eq(t, "deferred", info.SizeIsDeferred, false)
	data, finishes, _ := store.state("def")
	eq(t, "data", data, "12345")
	eq(t, "finishes", finishes, 1)

	res = patch("ietf", map[string]string{"Upload-Draft-Interop-Version": "8", "Content-Type": "application/partial-upload",
		"Upload-Offset": "0", "Upload-Length": "4", "Upload-Complete": "?0"}, "12345678")
	eq(t, "IETF status", res.StatusCode, http.StatusBadRequest)
	eq(t, "IETF Upload-Offset", res.Header.Get("Upload-Offset"), "4")
	info, _ = store.uploads["ietf"].GetInfo(t.Context())
	eq(t, "IETF deferred after the refused append", info.SizeIsDeferred, true)
	eq(t, "IETF offset", info.Offset, int64(4))
	store.checkInvariants(t, 0)
}

// X-HTTP-Method-Override: HEAD on a GET (or a POST) used to be answered as
// a HEAD: a Content-Length and no body, which leaves the client waiting
// for bytes that never come. Now it is a 400 the client reads whole, and
// the connection stays usable.
func TestMethodOverrideOverHTTP(t *testing.T) {
	h, store, _ := newMemHandler(t, tus.Config{})
	srv := httptest.NewServer(http.StripPrefix("/files/", h))
	defer srv.Close()
	store.put(tus.FileInfo{ID: "done", Size: 3}, "fin")

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	noErr(t, err)
	defer conn.Close()
	br := bufio.NewReader(conn)
	for _, m := range []string{"GET", "POST", "GET"} {
		_, err := fmt.Fprintf(conn, "%s /files/done HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nX-HTTP-Method-Override: HEAD\r\nContent-Length: 0\r\n\r\n", m)
		noErr(t, err)
		res, err := http.ReadResponse(br, &http.Request{Method: m})
		noErr(t, err)
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatalf("%s overridden to HEAD: reading the body: %v (Content-Length %q)", m, err, res.Header.Get("Content-Length"))
		}
		eq(t, m+" status", res.StatusCode, http.StatusBadRequest)
		contains(t, m+" body", string(b), "ERR_INVALID_HEADER: ")
	}
}

// A final upload names its partials by this server's URLs only: with an
// absolute BasePath, its host; behind a proxy (RespectForwardedHeaders),
// the forwarded host.
func TestConcatOwnURLs(t *testing.T) {
	tests := []struct {
		name   string
		cfg    tus.Config
		hdr    hdr
		concat string
		status int
	}{
		{"request host", tus.Config{}, nil, "final;http://" + testHost + "/files/part", 201},
		{"relative", tus.Config{}, nil, "final;/files/part part", 201},
		{"foreign host", tus.Config{}, nil, "final;http://evil.example/files/part", 400},
		{"forwarded host ignored", tus.Config{}, hdr{"X-Forwarded-Host": "up.example"}, "final;https://up.example/files/part", 400},
		{"forwarded host", tus.Config{RespectForwardedHeaders: true}, hdr{"X-Forwarded-Host": "up.example", "X-Forwarded-Proto": "https"},
			"final;https://up.example/files/part", 201},
		{"absolute base path", tus.Config{BasePath: "https://cdn.example/up/"}, nil, "final;https://cdn.example/up/part /up/part", 201},
		{"absolute base path, other path", tus.Config{BasePath: "https://cdn.example/up/"}, nil, "final;/files/part", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, store, _ := newMemHandler(t, tt.cfg)
			store.put(tus.FileInfo{ID: "part", Size: 3, IsPartial: true}, "xyz")
			before := store.snapshot()
			hd := hdr{"Upload-Concat": tt.concat}
			for k, v := range tt.hdr {
				hd[k] = v
			}
			w := serve(t, h, newReq(http.MethodPost, "/", nil, hd))
			eq(t, "status", w.Code, tt.status)
			if tt.status == 400 {
				wantError(t, w, 400, "ERR_INVALID_CONCAT")
				contains(t, "message", w.Body.String(), "not an upload URL of this server")
				eq(t, "store", store.snapshot(), before)
			}
		})
	}
}

// Metadata is bounded by Config.MaxMetadataSize: at the limit it is taken,
// past it refused; a HEAD never sends more than the limit, even for an
// upload whose metadata grew past it otherwise.
func TestMaxMetadataSize(t *testing.T) {
	if _, _, err := func() (*tus.Handler, *memStore, error) {
		c := tus.NewStoreComposer()
		newMemStore().UseIn(c)
		h, err := tus.NewHandler(tus.Config{StoreComposer: c, MaxMetadataSize: -1})
		return h, nil, err
	}(); err == nil || !strings.Contains(err.Error(), "MaxMetadataSize") {
		t.Errorf("NewHandler with a negative MaxMetadataSize: %v, want an error naming it", err)
	}

	h, store, _ := newMemHandler(t, tus.Config{MaxMetadataSize: 40})
	atLimit := "k " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("v"), 27)) // 2 + 36 = 38 bytes
	atLimit += ",ab"                                                                   // 41: one too many
	w := serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "1", "Upload-Metadata": atLimit}))
	wantError(t, w, 400, "ERR_INVALID_METADATA")
	contains(t, "message", w.Body.String(), "at most 40")
	w = serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "1", "Upload-Metadata": strings.TrimSuffix(atLimit, "b")}))
	eq(t, "status at the limit", w.Code, http.StatusCreated)
	// Unpadded base64 is re-encoded padded: what would be sent back counts.
	w = serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "1",
		"Upload-Metadata": "k " + base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte("v"), 28))}))
	wantError(t, w, 400, "ERR_INVALID_METADATA")

	big := tus.MetaData{"a": "small", "b": strings.Repeat("x", 100), "c": "tiny"}
	store.put(tus.FileInfo{ID: "big", Size: 1, MetaData: big}, "")
	w = serve(t, h, newReq(http.MethodHead, "/big", nil, nil))
	eq(t, "HEAD status", w.Code, http.StatusOK)
	got := w.Header().Get("Upload-Metadata")
	if len(got) > 40 {
		t.Errorf("HEAD sent %d bytes of Upload-Metadata, the limit is 40", len(got))
	}
	eq(t, "HEAD Upload-Metadata", got, tus.EncodeMetadata(tus.MetaData{"a": "small", "c": "tiny"}))

	// The default is 64 KiB.
	h, store, _ = newMemHandler(t, tus.Config{})
	store.put(tus.FileInfo{ID: "huge", Size: 1, MetaData: tus.MetaData{"k": strings.Repeat("x", 900<<10), "name": "a"}}, "")
	w = serve(t, h, newReq(http.MethodHead, "/huge", nil, nil))
	eq(t, "HEAD Upload-Metadata of huge metadata", w.Header().Get("Upload-Metadata"), tus.EncodeMetadata(tus.MetaData{"name": "a"}))
}
