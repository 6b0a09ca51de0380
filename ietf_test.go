package tus_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
)

// ietfEnv is a real HTTP server over a memStore handler, spoken to in one
// interop version of the IETF resumable upload protocol.
type ietfEnv struct {
	t     *testing.T
	v     int
	h     *tus.Handler
	store *memStore
	srv   *httptest.Server
	cfg   tus.Config
}

// newIETFEnv returns an env whose store invariants are checked at the end
// of the test.
func newIETFEnv(t *testing.T, v int, cfg tus.Config) *ietfEnv {
	t.Helper()
	e := newUncheckedIETFEnv(t, v, cfg)
	t.Cleanup(func() { e.store.checkInvariants(t, cfg.MaxSize) })
	return e
}

func newUncheckedIETFEnv(t *testing.T, v int, cfg tus.Config) *ietfEnv {
	t.Helper()
	h, store, _ := newMemHandler(t, cfg)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &ietfEnv{t: t, v: v, h: h, store: store, srv: srv, cfg: cfg}
}

// ietfResp is a response with the informational responses before it.
type ietfResp struct {
	proto  string
	status int
	hdr    http.Header
	body   string
	infos  []ietfInfo
}

type ietfInfo struct {
	code int
	hdr  http.Header
}

// do sends a request in the env's interop version. size is the
// Content-Length (-1 for chunked); h's empty values delete headers.
func (e *ietfEnv) do(method, url string, body io.Reader, size int64, h hdr) ietfResp {
	e.t.Helper()
	if !strings.HasPrefix(url, "http") {
		url = e.srv.URL + url
	}
	var res ietfResp
	var mu sync.Mutex
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, hd textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		res.infos = append(res.infos, ietfInfo{code: code, hdr: http.Header(hd).Clone()})
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(e.t.Context(), trace), method, url, body)
	noErr(e.t, err)
	if body != nil {
		req.ContentLength = size
	}
	req.Header.Set("Upload-Draft-Interop-Version", strconv.Itoa(e.v))
	for k, v := range h {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := e.srv.Client().Do(req)
	noErr(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	noErr(e.t, err)
	mu.Lock()
	defer mu.Unlock()
	res.proto, res.status, res.hdr, res.body = resp.Proto, resp.StatusCode, resp.Header, string(b)
	eq(e.t, "Tus-Resumable of an IETF response", resp.Header.Get("Tus-Resumable"), "")
	return res
}

// completion returns the header saying whether a request completes the
// upload: Upload-Complete, or the inverse Upload-Incomplete in version 3.
func (e *ietfEnv) completion(complete bool) hdr {
	if e.v == 3 {
		return hdr{"Upload-Incomplete": sfBool(!complete)}
	}
	return hdr{"Upload-Complete": sfBool(complete)}
}

func sfBool(b bool) string {
	if b {
		return "?1"
	}
	return "?0"
}

// isComplete reads the completeness of a response in the env's version.
func (e *ietfEnv) isComplete(res ietfResp) bool {
	e.t.Helper()
	name, want := "Upload-Complete", "?1"
	if e.v == 3 {
		name, want = "Upload-Incomplete", "?0"
	}
	got := res.hdr.Get(name)
	if got != "?0" && got != "?1" {
		e.t.Fatalf("%s = %q, want ?0 or ?1", name, got)
	}
	return got == want
}

// create posts body (size as Content-Length, -1 for chunked).
func (e *ietfEnv) create(body string, size int64, complete bool, extra hdr) ietfResp {
	e.t.Helper()
	h := e.completion(complete)
	for k, v := range extra {
		h[k] = v
	}
	var r io.Reader = strings.NewReader(body)
	if size < 0 {
		r = io.MultiReader(strings.NewReader(body)) // hides the length
	}
	return e.do(http.MethodPost, "/files/", r, size, h)
}

// appendTo patches body at offset.
func (e *ietfEnv) appendTo(url string, offset int64, body string, complete bool, extra hdr) ietfResp {
	e.t.Helper()
	h := e.completion(complete)
	h["Upload-Offset"] = strconv.FormatInt(offset, 10)
	if e.v >= 6 {
		h["Content-Type"] = tus.PartialUploadType
	}
	for k, v := range extra {
		h[k] = v
	}
	return e.do(http.MethodPatch, url, strings.NewReader(body), int64(len(body)), h)
}

// head retrieves the offset.
func (e *ietfEnv) head(url string) ietfResp {
	e.t.Helper()
	return e.do(http.MethodHead, url, nil, 0, nil)
}

// stored returns what the store holds for the upload at url and how often
// it was finished.
func (e *ietfEnv) stored(url string) (string, int) {
	e.t.Helper()
	data, finishes, ok := e.store.state(idFromLocation(e.t, url))
	if !ok {
		e.t.Fatalf("upload %s is not in the store", url)
	}
	return data, finishes
}

// wantCreated checks a creation response and returns the upload URL.
func (e *ietfEnv) wantCreated(res ietfResp, offset int64, complete bool) string {
	e.t.Helper()
	mustEq(e.t, "creation status", res.status, http.StatusCreated)
	loc := res.hdr.Get("Location")
	eq(e.t, "creation Upload-Offset", res.hdr.Get("Upload-Offset"), strconv.FormatInt(offset, 10))
	eq(e.t, "creation complete", e.isComplete(res), complete)
	if len(res.infos) == 0 {
		e.t.Fatalf("no 104 response before the creation's final response")
	}
	first := res.infos[0]
	eq(e.t, "first 1xx status", first.code, 104)
	eq(e.t, "104 Location", first.hdr.Get("Location"), loc)
	eq(e.t, "104 Upload-Draft-Interop-Version", first.hdr.Get("Upload-Draft-Interop-Version"), strconv.Itoa(e.v))
	if e.v >= 6 {
		contains(e.t, "104 Upload-Limit", first.hdr.Get("Upload-Limit"), "=")
	}
	return loc
}

// wantAppended checks a successful append response.
func (e *ietfEnv) wantAppended(res ietfResp, offset int64, complete bool) {
	e.t.Helper()
	want := http.StatusCreated
	if e.v >= 7 {
		want = http.StatusNoContent
	}
	mustEq(e.t, "append status", res.status, want)
	eq(e.t, "append Upload-Offset", res.hdr.Get("Upload-Offset"), strconv.FormatInt(offset, 10))
	eq(e.t, "append complete", e.isComplete(res), complete)
	for _, in := range res.infos {
		absent(e.t, in.hdr, "Location")
	}
}

// appendStatus is the status of a successful append in the env's version.
func (e *ietfEnv) appendStatus() int {
	if e.v >= 7 {
		return http.StatusNoContent
	}
	return http.StatusCreated
}

// chunkedAppend patches body at offset without a Content-Length.
func (e *ietfEnv) chunkedAppend(url string, offset int64, body string, complete bool) ietfResp {
	e.t.Helper()
	h := e.completion(complete)
	h["Upload-Offset"] = strconv.FormatInt(offset, 10)
	if e.v >= 6 {
		h["Content-Type"] = tus.PartialUploadType
	}
	return e.do(http.MethodPatch, url, io.MultiReader(strings.NewReader(body)), -1, h)
}

// wantProgressWithin checks that the progress 104s before res never go
// back and never announce more than res and the later offset retrieval
// head say the upload holds.
func (e *ietfEnv) wantProgressWithin(res, head ietfResp) {
	e.t.Helper()
	final, err := strconv.ParseInt(res.hdr.Get("Upload-Offset"), 10, 64)
	if err != nil {
		final = -1 // not sent: only the HEAD counts
	}
	held, err := strconv.ParseInt(head.hdr.Get("Upload-Offset"), 10, 64)
	noErr(e.t, err)
	last := int64(-1)
	for _, in := range res.infos {
		s := in.hdr.Get("Upload-Offset")
		if s == "" {
			continue
		}
		off, err := strconv.ParseInt(s, 10, 64)
		noErr(e.t, err)
		if off < last {
			e.t.Errorf("progress went back from %d to %d", last, off)
		}
		if off > held || final >= 0 && off > final {
			e.t.Errorf("progress announced offset %d; the response says %d, HEAD %d", off, final, held)
		}
		last = off
	}
}

// wantState checks an offset retrieval.
func (e *ietfEnv) wantState(url string, offset int64, complete bool, length string) {
	e.t.Helper()
	res := e.head(url)
	mustEq(e.t, "HEAD status", res.status, http.StatusNoContent)
	eq(e.t, "HEAD Upload-Offset", res.hdr.Get("Upload-Offset"), strconv.FormatInt(offset, 10))
	eq(e.t, "HEAD complete", e.isComplete(res), complete)
	eq(e.t, "HEAD Cache-Control", res.hdr.Get("Cache-Control"), "no-store")
	if e.v >= 6 {
		eq(e.t, "HEAD Upload-Length", res.hdr.Get("Upload-Length"), length)
		contains(e.t, "HEAD Upload-Limit", res.hdr.Get("Upload-Limit"), "=")
	} else {
		absent(e.t, res.hdr, "Upload-Length", "Upload-Limit")
	}
}

// wantProblem checks an error answered as a problem type where the version
// defines it (from fromVersion), else as a one-line text error.
func (e *ietfEnv) wantProblem(res ietfResp, status int, fromVersion int, typ string) map[string]any {
	e.t.Helper()
	eq(e.t, "status", res.status, status)
	if e.v < fromVersion {
		contains(e.t, "Content-Type", res.hdr.Get("Content-Type"), "text/plain")
		if !errLine.MatchString(res.body) {
			e.t.Errorf("error body %q is not one `ERR_CODE: message` line", res.body)
		}
		return nil
	}
	eq(e.t, "Content-Type", res.hdr.Get("Content-Type"), "application/problem+json")
	var p map[string]any
	if err := json.Unmarshal([]byte(res.body), &p); err != nil {
		e.t.Fatalf("problem body %q: %v", res.body, err)
	}
	eq(e.t, "problem type", p["type"], any("https://iana.org/assignments/http-problem-types#"+typ))
	return p
}

// cutBody sends data, then fails the request once the 104 announcing
// the upload has arrived (so the client can resume).
type cutBody struct {
	data    []byte
	gotInfo <-chan struct{}
	sent    bool
}

func (b *cutBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, b.data), nil
	}
	<-b.gotInfo
	return 0, errors.New("client gave up")
}

func TestIETFPerVersion(t *testing.T) {
	cases := []struct {
		name string
		cfg  tus.Config
		run  func(t *testing.T, e *ietfEnv)
	}{
		{"CreateWithAllContentAndLength", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			loc := e.wantCreated(e.create("hello world", 11, true, hdr{"Content-Type": "text/plain", "Content-Disposition": `inline; filename="a b.txt"`, "Upload-Metadata": "k dg=="}), 11, true)
			data, finishes := e.stored(loc)
			eq(t, "stored", data, "hello world")
			eq(t, "finishes", finishes, 1)
			e.wantState(loc, 11, true, "11")
			up, err := e.store.GetUpload(t.Context(), idFromLocation(t, loc))
			noErr(t, err)
			info, err := up.GetInfo(t.Context())
			noErr(t, err)
			eq(t, "filename", info.MetaData["filename"], "a b.txt")
			eq(t, "filetype", info.MetaData["filetype"], "text/plain")
			eq(t, "Upload-Metadata k", info.MetaData["k"], "v")
			eq(t, "invalid Upload-Metadata", e.create("x", 1, true, hdr{"Upload-Metadata": "k,k"}).status, http.StatusBadRequest)
		}},
		{"CreateWithAllContentLengthAtCompletion", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			loc := e.wantCreated(e.create("hello world", -1, true, nil), 11, true)
			data, finishes := e.stored(loc)
			eq(t, "stored", data, "hello world")
			eq(t, "finishes", finishes, 1)
			e.wantState(loc, 11, true, "11")
		}},
		{"CreateEmptyThenAppend", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			loc := e.wantCreated(e.create("", 0, false, nil), 0, false)
			e.wantState(loc, 0, false, "")
			e.wantAppended(e.appendTo(loc, 0, "hello ", false, nil), 6, false)
			e.wantState(loc, 6, false, "")
			e.wantAppended(e.appendTo(loc, 6, "world", true, nil), 11, true)
			e.wantState(loc, 11, true, "11")
			data, finishes := e.stored(loc)
			eq(t, "stored", data, "hello world")
			eq(t, "finishes", finishes, 1)
		}},
		{"CreateWithSomeContentAndUploadLength", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			loc := e.wantCreated(e.create("hello", 5, false, hdr{"Upload-Length": "11"}), 5, false)
			length := "11"
			if e.v < 6 {
				length = "" // Upload-Length came with draft -05
			}
			e.wantState(loc, 5, false, length)
			e.wantAppended(e.appendTo(loc, 5, " world", true, nil), 11, true)
			data, _ := e.stored(loc)
			eq(t, "stored", data, "hello world")
		}},
		{"CreateEmptyComplete", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			loc := e.wantCreated(e.create("", 0, true, nil), 0, true)
			_, finishes := e.stored(loc)
			eq(t, "finishes", finishes, 1)
		}},
		{"InterruptedAndResumed", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			full := strings.Repeat("0123456789", 10000)
			got := make(chan struct{})
			var once sync.Once
			var loc string
			trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				if code == 104 && h.Get("Location") != "" {
					loc = h.Get("Location")
					once.Do(func() { close(got) })
				}
				return nil
			}}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodPost,
				e.srv.URL+"/files/", &cutBody{data: []byte(full[:40000]), gotInfo: got})
			noErr(t, err)
			req.ContentLength = int64(len(full))
			req.Header.Set("Upload-Draft-Interop-Version", strconv.Itoa(e.v))
			for k, v := range e.completion(true) {
				req.Header.Set(k, v)
			}
			if resp, err := e.srv.Client().Do(req); err == nil {
				resp.Body.Close()
				t.Fatalf("the broken request got a response: %d", resp.StatusCode)
			}
			<-got
			res := e.head(loc)
			mustEq(t, "HEAD status", res.status, http.StatusNoContent)
			eq(t, "complete after the break", e.isComplete(res), false)
			off, err := strconv.ParseInt(res.hdr.Get("Upload-Offset"), 10, 64)
			noErr(t, err)
			if off > 40000 {
				t.Fatalf("offset %d is past the 40000 bytes sent", off)
			}
			e.wantAppended(e.appendTo(loc, off, full[off:], true, nil), int64(len(full)), true)
			data, finishes := e.stored(loc)
			eq(t, "stored bytes match", data == full, true)
			eq(t, "finishes", finishes, 1)
		}},
		{"OffsetMismatch", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			loc := e.wantCreated(e.create("abc", 3, false, nil), 3, false)
			res := e.appendTo(loc, 1, "x", false, nil)
			eq(t, "409 Upload-Offset", res.hdr.Get("Upload-Offset"), "3")
			eq(t, "409 complete", e.isComplete(res), false)
			if p := e.wantProblem(res, http.StatusConflict, 6, "mismatching-upload-offset"); p != nil {
				eq(t, "expected-offset", p["expected-offset"], any(3.0))
				eq(t, "provided-offset", p["provided-offset"], any(1.0))
			}
			data, _ := e.stored(loc)
			eq(t, "stored", data, "abc")
		}},
		{"CompletedTwice", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			loc := e.wantCreated(e.create("abc", 3, true, nil), 3, true)
			if e.v >= 6 {
				// Completing again without content succeeds (see
				// CompleteAfterLengthReached).
				e.wantAppended(e.appendTo(loc, 3, "", true, nil), 3, true)
			} else {
				e.wantProblem(e.appendTo(loc, 3, "", true, nil), http.StatusBadRequest, 6, "completed-upload")
			}
			if e.v >= 8 {
				// Draft -10 on: content for a completed upload is an
				// inconsistent length.
				e.wantProblem(e.appendTo(loc, 3, "d", false, nil), http.StatusBadRequest, 7, "inconsistent-upload-length")
			} else {
				e.wantProblem(e.appendTo(loc, 3, "d", false, nil), http.StatusBadRequest, 6, "completed-upload")
			}
			e.wantProblem(e.appendTo(loc, 3, "", false, nil), http.StatusBadRequest, 6, "completed-upload")
			data, finishes := e.stored(loc)
			eq(t, "stored", data, "abc")
			eq(t, "finishes", finishes, 1)
		}},
		{"CompleteAfterLengthReached", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			if e.v < 6 {
				t.Skip("no Upload-Length before draft -05")
			}
			// The content reaches Upload-Length with Upload-Complete: ?0;
			// the client then completes the upload with an empty append.
			loc := e.wantCreated(e.create("ab", 2, false, hdr{"Upload-Length": "3"}), 2, false)
			res := e.appendTo(loc, 2, "c", false, nil)
			// Reaching the length does not complete the upload (-05 on).
			e.wantAppended(res, 3, false)
			e.wantState(loc, 3, false, "3")
			_, finishes := e.stored(loc)
			eq(t, "finishes before the completion", finishes, 0)
			// All content with its length, but incomplete, likewise.
			other := e.wantCreated(e.create("xyz", 3, false, hdr{"Upload-Length": "3"}), 3, false)
			e.wantState(other, 3, false, "3")
			e.wantProblem(e.appendTo(other, 3, "!", false, nil), http.StatusBadRequest, 7, "inconsistent-upload-length")
			e.wantProblem(e.appendTo(other, 3, "", true, hdr{"Upload-Length": "4"}), http.StatusBadRequest, 7, "inconsistent-upload-length")
			e.wantAppended(e.appendTo(other, 3, "", true, nil), 3, true)
			for range 2 { // idempotent: a client that lost the answer sends it again
				e.wantAppended(e.appendTo(loc, 3, "", true, nil), 3, true)
			}
			e.wantState(loc, 3, true, "3")
			e.wantProblem(e.appendTo(loc, 3, "", true, hdr{"Upload-Length": "4"}), http.StatusBadRequest, 7, "inconsistent-upload-length")
			e.wantAppended(e.appendTo(loc, 3, "", true, hdr{"Upload-Length": "3"}), 3, true)
			e.wantProblem(e.appendTo(loc, 2, "", true, nil), http.StatusBadRequest, 6, "completed-upload")
			data, finishes := e.stored(loc)
			eq(t, "stored", data, "abc")
			eq(t, "finishes", finishes, 1)
			data, _ = e.stored(other)
			eq(t, "stored", data, "xyz")
		}},
		{"CreateOpenLengthPastMaxSize", tus.Config{MaxSize: 10}, func(t *testing.T, e *ietfEnv) {
			res := e.create("hello world", 11, false, nil)
			eq(t, "status", res.status, http.StatusRequestEntityTooLarge)
			eq(t, "104 responses", len(res.infos), 0)
			eq(t, "uploads in the store", e.store.count(), 0)
		}},
		{"CompletingShortOfLength", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			if e.v < 6 {
				t.Skip("no Upload-Length before draft -05")
			}
			// A completing request whose content (no Content-Length) ends
			// before the known length: an inconsistent length. The bytes
			// are kept and the answer says how far the upload got, so the
			// client can resume.
			res := e.create("abc", -1, true, hdr{"Upload-Length": "9"})
			e.wantProblem(res, http.StatusBadRequest, 7, "inconsistent-upload-length")
			loc := res.hdr.Get("Location")
			eq(t, "104 Location", len(res.infos) > 0 && res.infos[0].hdr.Get("Location") == loc, true)
			eq(t, "Upload-Offset", res.hdr.Get("Upload-Offset"), "3")
			eq(t, "complete", e.isComplete(res), false)
			res = e.chunkedAppend(loc, 3, "def", true)
			e.wantProblem(res, http.StatusBadRequest, 7, "inconsistent-upload-length")
			eq(t, "Upload-Offset", res.hdr.Get("Upload-Offset"), "6")
			eq(t, "complete", e.isComplete(res), false)
			e.wantState(loc, 6, false, "9")
			e.wantAppended(e.appendTo(loc, 6, "ghi", true, nil), 9, true)
			data, finishes := e.stored(loc)
			eq(t, "stored", data, "abcdefghi")
			eq(t, "finishes", finishes, 1)
		}},
		{"InvalidFieldValues", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			if e.v < 6 {
				t.Skip("no Upload-Length before draft -05")
			}
			res := e.create("hello", 5, false, hdr{"Upload-Length": "1.5"})
			if e.v == 6 {
				eq(t, "invalid Upload-Length", res.status, http.StatusBadRequest)
				eq(t, "uploads", e.store.count(), 0)
			} else {
				// Draft -06 on: the header is ignored, the length stays open.
				loc := e.wantCreated(res, 5, false)
				e.wantState(loc, 5, false, "")
				e.wantAppended(e.appendTo(loc, 5, "!", false, hdr{"Upload-Length": "-6"}), 6, false)
				e.wantState(loc, 6, false, "")
			}
			// Upload-Complete is required: ignored or refused, it fails.
			res = e.create("hello", 5, false, hdr{"Upload-Complete": "true"})
			eq(t, "invalid Upload-Complete", res.status, http.StatusBadRequest)
			eq(t, "no 104", len(res.infos), 0)
		}},
		{"InconsistentLength", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			loc := e.wantCreated(e.create("abc", 3, false, nil), 3, false)
			if e.v >= 6 {
				e.wantAppended(e.appendTo(loc, 3, "de", false, hdr{"Upload-Length": "6"}), 5, false)
				e.wantProblem(e.appendTo(loc, 5, "fg", true, nil), http.StatusBadRequest, 7, "inconsistent-upload-length")
				e.wantProblem(e.appendTo(loc, 5, "f", true, hdr{"Upload-Length": "7"}), http.StatusBadRequest, 7, "inconsistent-upload-length")
				e.wantAppended(e.appendTo(loc, 5, "f", true, nil), 6, true)
				return
			}
			// Before Upload-Length, completing with a known length fixes it.
			e.wantAppended(e.appendTo(loc, 3, "def", true, nil), 6, true)
		}},
		{"LimitsExceeded", tus.Config{MaxSize: 10, Expiration: time.Hour}, func(t *testing.T, e *ietfEnv) {
			res := e.create("hello world", 11, true, nil)
			eq(t, "status", res.status, http.StatusRequestEntityTooLarge)
			if e.v >= 6 {
				contains(t, "413 Upload-Limit", res.hdr.Get("Upload-Limit"), "max-size=10")
			}
			loc := e.wantCreated(e.create("hello", -1, false, nil), 5, false)
			res = e.appendTo(loc, 5, " world", false, nil)
			eq(t, "status", res.status, http.StatusRequestEntityTooLarge)
			// Without Content-Length, the content is stopped at MaxSize.
			res = e.do(http.MethodPatch, loc, io.MultiReader(strings.NewReader(" world")), -1, func() hdr {
				h := e.completion(false)
				h["Upload-Offset"] = "5"
				h["Content-Type"] = tus.PartialUploadType
				return h
			}())
			eq(t, "chunked past MaxSize: status", res.status, http.StatusRequestEntityTooLarge)
			contains(t, "chunked past MaxSize: body", res.body, "ERR_MAX_SIZE_EXCEEDED")
			e.wantState(loc, 5, false, "")
			if e.v >= 6 {
				lim := e.head(loc).hdr.Get("Upload-Limit")
				contains(t, "Upload-Limit", lim, "max-size=10")
				age := "expires="
				if e.v >= 7 {
					age = "max-age="
				}
				contains(t, "Upload-Limit", lim, age)
			}
		}},
		{"Progress104", tus.Config{ProgressInterval: time.Nanosecond}, func(t *testing.T, e *ietfEnv) {
			body := strings.Repeat("x", 512<<10)
			res := e.create(body, -1, false, nil)
			loc := e.wantCreated(res, int64(len(body)), false)
			progress := 0
			last := int64(-1)
			for _, in := range res.infos[1:] {
				eq(t, "1xx code", in.code, 104)
				absent(t, in.hdr, "Location")
				eq(t, "104 interop version", in.hdr.Get("Upload-Draft-Interop-Version"), strconv.Itoa(e.v))
				off, err := strconv.ParseInt(in.hdr.Get("Upload-Offset"), 10, 64)
				noErr(t, err)
				if off < last {
					t.Errorf("progress went back from %d to %d", last, off)
				}
				last = off
				progress++
			}
			if e.v >= 5 && progress == 0 {
				t.Errorf("no progress 104 responses in version %d", e.v)
			}
			if e.v < 5 && progress != 0 {
				t.Errorf("%d progress 104 responses in version %d, whose draft has none", progress, e.v)
			}
			res = e.appendTo(loc, int64(len(body)), body, true, nil)
			e.wantAppended(res, int64(2*len(body)), true)
			if e.v >= 5 && len(res.infos) == 0 {
				t.Errorf("no progress 104 responses to the append")
			}
		}},
		{"ProgressNeverAheadOfStore", tus.Config{ProgressInterval: time.Nanosecond, MaxSize: 1 << 20}, func(t *testing.T, e *ietfEnv) {
			// Every 104 offset is kept by the store: none exceeds the final
			// response's or a later HEAD's, also when the content goes past
			// the upload's length (the bytes up to it are kept) or past
			// MaxSize while the length is open.
			body := strings.Repeat("x", 512<<10)
			length := ""
			if e.v >= 6 {
				length = strconv.Itoa(300 << 10)
			}
			loc := e.wantCreated(e.create("", 0, false, hdr{"Upload-Length": length}), 0, false)
			res := e.chunkedAppend(loc, 0, body+body+body, false)
			e.wantProgressWithin(res, e.head(loc))
			if e.v >= 6 {
				e.wantProblem(res, http.StatusBadRequest, 7, "inconsistent-upload-length")
				eq(t, "Upload-Offset", res.hdr.Get("Upload-Offset"), length)
				// The bytes up to the length are kept; the upload is
				// incomplete until the client completes it.
				e.wantState(loc, 300<<10, false, length)
				data, finishes := e.stored(loc)
				eq(t, "stored", data == body[:300<<10], true)
				eq(t, "finishes", finishes, 0)
				e.wantAppended(e.appendTo(loc, 300<<10, "", true, nil), 300<<10, true)
				_, finishes = e.stored(loc)
				eq(t, "finishes after completion", finishes, 1)
			} else {
				eq(t, "status", res.status, http.StatusRequestEntityTooLarge)
			}
			// An open length past MaxSize.
			loc = e.wantCreated(e.create("", 0, false, nil), 0, false)
			res = e.chunkedAppend(loc, 0, body+body+body, false)
			eq(t, "status", res.status, http.StatusRequestEntityTooLarge)
			head := e.head(loc)
			e.wantProgressWithin(res, head)
			if len(res.infos) > 0 {
				eq(t, "HEAD Upload-Offset", head.hdr.Get("Upload-Offset"), strconv.Itoa(1<<20))
			}
		}},
		{"ProgressPaced", tus.Config{ProgressInterval: time.Hour}, func(t *testing.T, e *ietfEnv) {
			// Within one ProgressInterval, only the announcement is sent.
			res := e.create(strings.Repeat("x", 512<<10), -1, true, nil)
			e.wantCreated(res, 512<<10, true)
			eq(t, "104 responses", len(res.infos), 1)
		}},
		{"Cancel", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			loc := e.wantCreated(e.create("abc", 3, false, nil), 3, false)
			if e.v <= 6 {
				res := e.do(http.MethodDelete, loc, nil, 0, hdr{"Upload-Offset": "3"})
				eq(t, "DELETE with Upload-Offset", res.status, http.StatusBadRequest)
			}
			res := e.do(http.MethodDelete, loc, nil, 0, nil)
			eq(t, "DELETE", res.status, http.StatusNoContent)
			eq(t, "HEAD after DELETE", e.head(loc).status, http.StatusNotFound)
		}},
		{"HeadWithStateHeaders", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			loc := e.wantCreated(e.create("abc", 3, false, nil), 3, false)
			res := e.do(http.MethodHead, loc, nil, 0, hdr{"Upload-Offset": "3"})
			want := http.StatusBadRequest
			if e.v >= 7 {
				want = http.StatusNoContent
			}
			eq(t, "HEAD with Upload-Offset", res.status, want)
		}},
		{"Options", tus.Config{MaxSize: 1 << 20}, func(t *testing.T, e *ietfEnv) {
			res := e.do(http.MethodOptions, "/files/", nil, 0, nil)
			eq(t, "status", res.status, http.StatusNoContent)
			contains(t, "Accept-Patch", res.hdr.Get("Accept-Patch"), tus.PartialUploadType)
			if e.v >= 6 {
				eq(t, "Upload-Limit", res.hdr.Get("Upload-Limit"), "max-size=1048576")
			} else {
				absent(t, res.hdr, "Upload-Limit")
			}
		}},
		{"AppendContentType", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			loc := e.wantCreated(e.create("abc", 3, false, nil), 3, false)
			res := e.appendTo(loc, 3, "d", false, hdr{"Content-Type": "application/offset+octet-stream"})
			if e.v >= 6 {
				eq(t, "status", res.status, http.StatusUnsupportedMediaType)
				return
			}
			e.wantAppended(res, 4, false)
		}},
		{"AppendWithoutCompleteness", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			loc := e.wantCreated(e.create("abc", 3, false, nil), 3, false)
			h := e.completion(true)
			for k := range h {
				h[k] = ""
			}
			res := e.appendTo(loc, 3, "def", false, h)
			switch {
			case e.v == 3: // the last append omits Upload-Incomplete
				e.wantAppended(res, 6, true)
			case e.v <= 6: // drafts -02 to -05 show appends without it that do not complete
				e.wantAppended(res, 6, false)
			default: // required from draft -06
				eq(t, "status", res.status, http.StatusBadRequest)
			}
		}},
		{"MissingCompleteness", tus.Config{}, func(t *testing.T, e *ietfEnv) {
			h := e.completion(true)
			for k := range h {
				h[k] = ""
			}
			res := e.do(http.MethodPost, "/files/", strings.NewReader("abc"), 3, h)
			eq(t, "creation without completeness", res.status, http.StatusBadRequest)
			eq(t, "no 104 for a refused creation", len(res.infos), 0)
		}},
	}
	for v := tus.IETFMinInteropVersion; v <= tus.IETFMaxInteropVersion; v++ {
		t.Run("v"+strconv.Itoa(v), func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, newIETFEnv(t, v, tc.cfg))
				})
			}
		})
	}
}

func TestIETFInteropVersionChecked(t *testing.T) {
	for _, v := range []string{"2", "9", "x", "-3"} {
		e := newIETFEnv(t, 0, tus.Config{})
		res := e.do(http.MethodPost, "/files/", strings.NewReader("abc"), 3, hdr{"Upload-Draft-Interop-Version": v, "Upload-Complete": "?1"})
		eq(t, "status for version "+v, res.status, http.StatusBadRequest)
		contains(t, "body", res.body, "ERR_UNSUPPORTED_INTEROP_VERSION")
		eq(t, "1xx", len(res.infos), 0)
	}
}

// An OPTIONS request without an interop version (tus discovery) says that
// resumable uploads are accepted too, as drafts -04 on require.
func TestIETFDiscoveryWithoutVersion(t *testing.T) {
	for _, disabled := range []bool{false, true} {
		e := newIETFEnv(t, 8, tus.Config{DisableIETFDrafts: disabled})
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, newReq(http.MethodOptions, "/files/", nil, hdr{"Tus-Resumable": ""}))
		eq(t, "status", w.Code, http.StatusNoContent)
		eq(t, "Tus-Version", w.Header().Get("Tus-Version"), tusVersion)
		if disabled {
			absent(t, w.Header(), "Accept-Patch")
		} else {
			eq(t, "Accept-Patch", w.Header().Get("Accept-Patch"), tus.PartialUploadType)
		}
	}
}

func TestIETFDisabled(t *testing.T) {
	e := newIETFEnv(t, 8, tus.Config{DisableIETFDrafts: true})
	w := httptest.NewRecorder()
	r := newReq(http.MethodPost, "/files/", strings.NewReader("abc"), hdr{"Tus-Resumable": "", "Upload-Draft-Interop-Version": "8", "Upload-Complete": "?1"})
	e.h.ServeHTTP(w, r)
	eq(t, "status", w.Code, http.StatusPreconditionFailed)
	eq(t, "Tus-Resumable", w.Header().Get("Tus-Resumable"), tusVersion)
}

// A request carrying both protocols' headers is tus: nothing changes for
// tus clients.
func TestIETFTusWins(t *testing.T) {
	h, _, _ := newMemHandler(t, tus.Config{})
	w := serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "3", "Upload-Draft-Interop-Version": "8"}))
	eq(t, "status", w.Code, http.StatusCreated)
	eq(t, "Upload-Offset", w.Header().Get("Upload-Offset"), "0")
	absent(t, w.Header(), "Upload-Complete")
}

func TestIETFCrossProtocol(t *testing.T) {
	e := newIETFEnv(t, 8, tus.Config{})
	tusDo := func(method, url string, body string, h hdr) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
		noErr(t, err)
		req.Header.Set("Tus-Resumable", tusVersion)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := e.srv.Client().Do(req)
		noErr(t, err)
		resp.Body.Close()
		return resp
	}

	// Created by IETF with an open length, finished by tus.
	loc := e.wantCreated(e.create("abc", 3, false, nil), 3, false)
	resp := tusDo(http.MethodHead, loc, "", nil)
	eq(t, "tus HEAD Upload-Offset", resp.Header.Get("Upload-Offset"), "3")
	eq(t, "tus HEAD Upload-Defer-Length", resp.Header.Get("Upload-Defer-Length"), "1")
	resp = tusDo(http.MethodPatch, loc, "def", hdr{"Upload-Offset": "3", "Upload-Length": "6", "Content-Type": octet})
	eq(t, "tus PATCH", resp.StatusCode, http.StatusNoContent)
	e.wantState(loc, 6, true, "6")

	// Created by tus, finished by IETF.
	resp = tusDo(http.MethodPost, e.srv.URL+"/files/", "", hdr{"Upload-Length": "6"})
	mustEq(t, "tus POST", resp.StatusCode, http.StatusCreated)
	loc = resp.Header.Get("Location")
	e.wantState(loc, 0, false, "6")
	e.wantAppended(e.appendTo(loc, 0, "abc", false, nil), 3, false)
	e.wantAppended(e.appendTo(loc, 3, "def", true, nil), 6, true)
	resp = tusDo(http.MethodHead, loc, "", nil)
	eq(t, "tus HEAD Upload-Offset", resp.Header.Get("Upload-Offset"), "6")
	data, finishes := e.stored(loc)
	eq(t, "stored", data, "abcdef")
	eq(t, "finishes", finishes, 1)
}

func TestIETFCallbacksAndEvents(t *testing.T) {
	var mu sync.Mutex
	var created, finished int
	cfg := tus.Config{
		PreUploadCreateCallback: func(ev tus.HookEvent) (tus.HTTPResponse, tus.FileInfoChanges, error) {
			if ev.HTTPRequest.Header.Get("X-Refuse") != "" {
				return tus.HTTPResponse{}, tus.FileInfoChanges{}, tus.ErrAccessDenied
			}
			mu.Lock()
			created++
			mu.Unlock()
			return tus.HTTPResponse{}, tus.FileInfoChanges{}, nil
		},
		PreFinishResponseCallback: func(ev tus.HookEvent) (tus.HTTPResponse, error) {
			mu.Lock()
			finished++
			mu.Unlock()
			return tus.HTTPResponse{Header: map[string]string{"X-Processed": ev.Upload.ID}}, nil
		},
		AccessCallback: func(ev tus.AccessEvent) error {
			if ev.HTTPRequest.Header.Get("X-Deny") != "" {
				return tus.ErrAccessDenied
			}
			return nil
		},
	}
	e := newIETFEnv(t, 7, cfg)
	sub := e.h.Subscribe(100, tus.EventCreated, tus.EventCompleted, tus.EventTerminated)
	defer sub.Close()

	res := e.create("abc", 3, true, hdr{"X-Refuse": "1"})
	eq(t, "refused creation", res.status, http.StatusForbidden)

	loc := e.wantCreated(e.create("abc", 3, false, nil), 3, false)
	eq(t, "denied HEAD", e.do(http.MethodHead, loc, nil, 0, hdr{"X-Deny": "1"}).status, http.StatusForbidden)
	eq(t, "denied PATCH", e.appendTo(loc, 3, "d", true, hdr{"X-Deny": "1"}).status, http.StatusForbidden)
	res = e.appendTo(loc, 3, "d", true, nil)
	e.wantAppended(res, 4, true)
	eq(t, "X-Processed", res.hdr.Get("X-Processed"), idFromLocation(t, loc))
	eq(t, "DELETE", e.do(http.MethodDelete, loc, nil, 0, nil).status, http.StatusNoContent)

	mu.Lock()
	eq(t, "PreUploadCreateCallback calls", created, 1)
	eq(t, "PreFinishResponseCallback calls", finished, 1)
	mu.Unlock()
	var types []string
	for len(types) < 3 {
		select {
		case ev := <-sub.C:
			types = append(types, string(ev.Type))
		case <-time.After(5 * time.Second):
			t.Fatalf("events so far: %v", types)
		}
	}
	eq(t, "events", strings.Join(types, ","), "created,completed,terminated")
}

// A completing append whose finish failed is retried by sending it again.
func TestIETFRetryFailedFinish(t *testing.T) {
	e := newUncheckedIETFEnv(t, 8, tus.Config{}) // FinishUpload is called twice
	e.store.mu.Lock()
	e.store.finishFails = 1
	e.store.mu.Unlock()
	loc := e.wantCreated(e.create("abc", 3, false, nil), 3, false)
	res := e.appendTo(loc, 3, "def", true, nil)
	eq(t, "failed finish", res.status, http.StatusInternalServerError)
	e.wantAppended(e.appendTo(loc, 6, "", true, nil), 6, true)
	// Sent once more, it succeeds without finishing again.
	e.wantAppended(e.appendTo(loc, 6, "", true, nil), 6, true)
	data, finishes := e.stored(loc)
	eq(t, "stored", data, "abcdef")
	eq(t, "finish attempts", finishes, 2)
}

// A store without a LengthDeferrer takes IETF uploads whose length is known
// at creation, and refuses the others clearly.
func TestIETFStoreWithoutLengthDeferrer(t *testing.T) {
	for _, v := range []int{3, 8} {
		store := newMemStore()
		c := tus.NewStoreComposer()
		c.UseCore(store)
		memorylocker.New().UseIn(c)
		h, err := tus.NewHandler(tus.Config{StoreComposer: c})
		noErr(t, err)
		srv := httptest.NewServer(h)
		e := &ietfEnv{t: t, v: v, h: h, store: store, srv: srv}

		res := e.create("abc", 3, false, nil)
		eq(t, "open length: status", res.status, http.StatusNotImplemented)
		contains(t, "open length: body", res.body, "unknown length")
		eq(t, "open length: no 104", len(res.infos), 0)

		e.wantCreated(e.create("abc", 3, true, nil), 3, true)
		if v >= 6 {
			loc := e.wantCreated(e.create("abc", 3, false, hdr{"Upload-Length": "6"}), 3, false)
			e.wantAppended(e.appendTo(loc, 3, "def", true, nil), 6, true)
		}
		srv.Close()
	}
}

// The 104 response reaches clients over HTTP/2 too.
func TestIETF104OverHTTP2(t *testing.T) {
	h, store, _ := newMemHandler(t, tus.Config{ProgressInterval: time.Nanosecond})
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	e := &ietfEnv{t: t, v: 8, h: h, store: store, srv: srv}
	res := e.create(strings.Repeat("x", 256<<10), -1, true, nil)
	loc := e.wantCreated(res, 256<<10, true)
	mustEq(t, "protocol", res.proto, "HTTP/2.0")
	if len(res.infos) < 2 {
		t.Errorf("%d 104 responses over HTTP/2, want the announcement and progress", len(res.infos))
	}
	data, _ := e.stored(loc)
	eq(t, "stored bytes", len(data), 256<<10)
}
