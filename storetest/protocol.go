package storetest

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tusgo/tus"
)

// RunProtocolTests runs the tus protocol suite over real HTTP connections
// against a handler on the store that newHarness's harness composes: tus
// 1.0 with its extensions, the IETF resumable upload drafts through a proxy
// that cuts connections, broken and stalled requests. Each check uses a
// harness of its own and skips, with its reason, what the store's
// composition does not register. The composition must include a Locker.
func RunProtocolTests(t *testing.T, newHarness NewHarness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newHarness NewHarness)
	}{
		{"UploadInOnePatch", testUploadInOnePatch},
		{"UploadInManyPatches", testUploadInManyPatches},
		{"CreationWithUpload", testCreationWithUpload},
		{"ZeroLength", testZeroLength},
		{"OffsetMismatch", testOffsetMismatch},
		{"BodyPastLength", testBodyPastLength},
		{"DeferredLength", testDeferredLength},
		{"Checksum", testChecksum},
		{"ChecksumTrailer", testChecksumTrailer},
		{"Concatenation", testConcatenation},
		{"ConcatenationUnfinished", testConcatenationUnfinished},
		{"ConcatenationSkipsRejectedChunk", testConcatenationSkipsRejectedChunk},
		{"ConcatenationRepeatedPartial", testConcatenationRepeatedPartial},
		{"ConcatenationRepeatedPartialUnfinished", testConcatenationRepeatedPartialUnfinished},
		{"Termination", testTermination},
		{"UnicodeMetadata", testUnicodeMetadata},
		{"RangeDownload", testRangeDownload},
		{"ConcurrentUploads", testConcurrentUploads},
		{"ResumeAfterBrokenConnection", testResumeAfterBrokenConnection},
		{"NewRequestTakesOver", testNewRequestTakesOver},
		{"ReadTimeoutKeepsBytes", testReadTimeoutKeepsBytes},
		{"Expiration", testExpiration},
		{"PathTraversal", testPathTraversal},
		{"IETFThroughCuttingProxy", testIETFThroughCuttingProxy},
		{"IETFLostFinalResponse", testIETFLostFinalResponse},
		{"IETFBodyPastLength", testIETFBodyPastLength},
		{"IETFIncompleteAtLength", testIETFIncompleteAtLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newHarness) })
	}
}

// serve starts a server for a handler on a fresh composition and returns a
// client for it. change, if not nil, edits the Config first.
func serve(t *testing.T, newHarness NewHarness, change func(*tus.Config)) (*client, *tus.StoreComposer) {
	t.Helper()
	c, composer, _ := serveHarness(t, newHarness, change)
	return c, composer
}

// serveHarness is serve that also returns the harness, whose storage a
// check can look at.
func serveHarness(t *testing.T, newHarness NewHarness, change func(*tus.Config)) (*client, *tus.StoreComposer, Harness) {
	t.Helper()
	h, composer := openHarness(t, newHarness)
	if composer.Locker == nil {
		t.Fatal("the harness's composition has no Locker: the handler needs one (memorylocker.New().UseIn(composer))")
	}
	cfg := tus.Config{StoreComposer: composer, BasePath: "/files/"}
	if change != nil {
		change(&cfg)
	}
	handler, err := tus.NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", handler))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &client{t: t, base: srv.URL + "/files/", http: srv.Client()}, composer, h
}

// data returns n reproducible pseudo-random bytes.
func data(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func testUploadInOnePatch(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	want := data(8<<20+13, 1)
	u := c.create(int64(len(want)))
	if got := c.offset(u); got != 0 {
		t.Fatalf("offset of a new upload = %d", got)
	}
	c.mustPatch(u, 0, want)
	if got := c.offset(u); got != int64(len(want)) {
		t.Fatalf("offset = %d, want %d", got, len(want))
	}
	if composer.UsesContentServer() {
		if got := c.download(u); !bytes.Equal(got, want) {
			t.Fatalf("download differs: %d bytes, want %d", len(got), len(want))
		}
	}
}

func testUploadInManyPatches(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	want := data(3<<20+7, 2)
	u := c.create(int64(len(want)))
	rng := rand.New(rand.NewSource(3))
	for off := 0; off < len(want); {
		n := 1 + rng.Intn(300<<10)
		if rng.Intn(4) == 0 {
			n = 1 + rng.Intn(1024) // small chunks too
		}
		n = min(n, len(want)-off)
		c.mustPatch(u, int64(off), want[off:off+n])
		off += n
	}
	// A PATCH on a finished upload with no body is answered, not an error.
	res, body := c.patch(u, int64(len(want)), nil)
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("empty PATCH at the end: %d %q", res.StatusCode, body)
	}
	if composer.UsesContentServer() {
		if got := c.download(u); !bytes.Equal(got, want) {
			t.Fatal("download differs")
		}
	}
}

func testCreationWithUpload(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	want := data(100<<10, 4)
	res, body := c.do(http.MethodPost, c.base, want[:40<<10],
		"Upload-Length", strconv.Itoa(len(want)), "Content-Type", "application/offset+octet-stream")
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d %q", res.StatusCode, body)
	}
	if got := res.Header.Get("Upload-Offset"); got != strconv.Itoa(40<<10) {
		t.Fatalf("POST Upload-Offset = %q", got)
	}
	u := res.Header.Get("Location")
	c.mustPatch(u, 40<<10, want[40<<10:])
	if composer.UsesContentServer() && !bytes.Equal(c.download(u), want) {
		t.Fatal("download differs")
	}
	// A whole small upload in one request.
	small := data(1024, 5)
	res, body = c.do(http.MethodPost, c.base, small,
		"Upload-Length", "1024", "Content-Type", "application/offset+octet-stream")
	if res.StatusCode != http.StatusCreated || res.Header.Get("Upload-Offset") != "1024" {
		t.Fatalf("POST 1 KiB: %d offset %q %q", res.StatusCode, res.Header.Get("Upload-Offset"), body)
	}
	if composer.UsesContentServer() && !bytes.Equal(c.download(res.Header.Get("Location")), small) {
		t.Fatal("download of the 1 KiB upload differs")
	}
}

func testZeroLength(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	u := c.create(0)
	if got := c.offset(u); got != 0 {
		t.Fatalf("offset = %d", got)
	}
	if composer.UsesContentServer() {
		if got := c.download(u); len(got) != 0 {
			t.Fatalf("download of an empty upload returned %d bytes", len(got))
		}
	}
}

func testOffsetMismatch(t *testing.T, nc NewHarness) {
	c, _ := serve(t, nc, nil)
	u := c.create(100)
	c.mustPatch(u, 0, data(10, 6))
	for _, off := range []int64{0, 5, 11, 100} {
		res, body := c.patch(u, off, data(10, 7))
		if res.StatusCode != http.StatusConflict {
			t.Fatalf("PATCH at %d: status %d %q, want 409", off, res.StatusCode, body)
		}
	}
	if got := c.offset(u); got != 10 {
		t.Fatalf("offset after refused PATCHes = %d, want 10", got)
	}
}

func testBodyPastLength(t *testing.T, nc NewHarness) {
	c, _ := serve(t, nc, nil)
	u := c.create(100)
	res, _ := c.patch(u, 0, data(101, 8))
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("PATCH of 101 bytes into 100: status %d", res.StatusCode)
	}
	// The same with a chunked body, whose length is not announced.
	req, _ := http.NewRequest(http.MethodPatch, u, io.MultiReader(bytes.NewReader(data(150, 9))))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", "0")
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked PATCH past the length: status %d", res.StatusCode)
	}
	if got := c.offset(u); got != 0 {
		t.Fatalf("offset after a refused chunk = %d, want 0 (the chunk must be discarded)", got)
	}
}

func testDeferredLength(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	if !composer.UsesLengthDeferrer() {
		t.Skip(skipReason(composer, []capability{needLengthDeferrer}))
	}
	want := data(300<<10, 10)
	res, body := c.do(http.MethodPost, c.base, nil, "Upload-Defer-Length", "1")
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d %q", res.StatusCode, body)
	}
	u := res.Header.Get("Location")
	c.mustPatch(u, 0, want[:100<<10])
	res, _ = c.do(http.MethodHead, u, nil)
	if res.Header.Get("Upload-Defer-Length") != "1" || res.Header.Get("Upload-Length") != "" {
		t.Fatalf("HEAD of a deferred upload: %v", res.Header)
	}
	c.mustPatch(u, 100<<10, want[100<<10:200<<10])
	c.mustPatch(u, 200<<10, want[200<<10:], "Upload-Length", strconv.Itoa(len(want)))
	res, _ = c.do(http.MethodHead, u, nil)
	if res.Header.Get("Upload-Length") != strconv.Itoa(len(want)) || res.Header.Get("Upload-Defer-Length") != "" {
		t.Fatalf("HEAD after declaring the length: %v", res.Header)
	}
	if composer.UsesContentServer() && !bytes.Equal(c.download(u), want) {
		t.Fatal("download differs")
	}
	// Declaring the length in an empty PATCH at the end finishes the upload.
	res, _ = c.do(http.MethodPost, c.base, nil, "Upload-Defer-Length", "1")
	u2 := res.Header.Get("Location")
	c.mustPatch(u2, 0, want[:1000])
	c.mustPatch(u2, 1000, nil, "Upload-Length", "1000")
	if composer.UsesContentServer() && !bytes.Equal(c.download(u2), want[:1000]) {
		t.Fatal("download after an empty declaring PATCH differs")
	}
}

func sha1Header(b []byte) string {
	s := sha1.Sum(b)
	return "sha1 " + base64.StdEncoding.EncodeToString(s[:])
}

func testChecksum(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	want := data(64<<10, 11)
	u := c.create(int64(len(want)))
	c.mustPatch(u, 0, want[:1000], "Upload-Checksum", sha1Header(want[:1000]))
	res, body := c.patch(u, 1000, want[1000:], "Upload-Checksum", sha1Header(want[:10]))
	if res.StatusCode != 460 {
		t.Fatalf("PATCH with a wrong checksum: %d %q, want 460", res.StatusCode, body)
	}
	if got := c.offset(u); got != 1000 {
		t.Fatalf("offset after a checksum mismatch = %d, want 1000", got)
	}
	res, _ = c.patch(u, 1000, want[1000:], "Upload-Checksum", "whirlpool AAAA")
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("unsupported algorithm: %d, want 400", res.StatusCode)
	}
	c.mustPatch(u, 1000, want[1000:], "Upload-Checksum", sha1Header(want[1000:]))
	if composer.UsesContentServer() && !bytes.Equal(c.download(u), want) {
		t.Fatal("download differs")
	}
}

// chunkedPatch sends body with chunked encoding and an Upload-Checksum
// trailer.
func chunkedPatch(t *testing.T, c *client, u string, offset int64, body []byte, trailer string) int {
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPatch, u, pr)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	req.Trailer = http.Header{"Upload-Checksum": nil}
	go func() {
		pw.Write(body)
		req.Trailer.Set("Upload-Checksum", trailer)
		pw.Close()
	}()
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func testChecksumTrailer(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	want := data(50<<10, 12)
	u := c.create(int64(len(want)))
	if st := chunkedPatch(t, c, u, 0, want, sha1Header(want[:5])); st != 460 {
		t.Fatalf("wrong trailer checksum: status %d, want 460", st)
	}
	if got := c.offset(u); got != 0 {
		t.Fatalf("offset after a trailer mismatch = %d, want 0", got)
	}
	if st := chunkedPatch(t, c, u, 0, want, sha1Header(want)); st != http.StatusNoContent {
		t.Fatalf("right trailer checksum: status %d", st)
	}
	if composer.UsesContentServer() && !bytes.Equal(c.download(u), want) {
		t.Fatal("download differs")
	}
}

func testConcatenation(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	if !composer.UsesConcater() {
		t.Skip(skipReason(composer, []capability{needConcater}))
	}
	parts := [][]byte{data(70<<10, 13), data(1, 14), data(200<<10+3, 15)}
	var urls []string
	var want []byte
	for _, p := range parts {
		u := c.create(int64(len(p)), "Upload-Concat", "partial")
		c.mustPatch(u, 0, p)
		urls = append(urls, u)
		want = append(want, p...)
	}
	// Relative and absolute URLs both name partial uploads.
	rel, _ := url.Parse(urls[1])
	concat := "final;" + urls[0] + " " + rel.Path + " " + urls[2]
	res, body := c.do(http.MethodPost, c.base, nil, "Upload-Concat", concat)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST final: %d %q", res.StatusCode, body)
	}
	final := res.Header.Get("Location")
	res, _ = c.do(http.MethodHead, final, nil)
	if res.Header.Get("Upload-Offset") != strconv.Itoa(len(want)) || res.Header.Get("Upload-Length") != strconv.Itoa(len(want)) {
		t.Fatalf("HEAD final: %v", res.Header)
	}
	if !strings.HasPrefix(res.Header.Get("Upload-Concat"), "final;") {
		t.Fatalf("HEAD final: Upload-Concat %q", res.Header.Get("Upload-Concat"))
	}
	if res, _ := c.patch(final, int64(len(want)), []byte("x")); res.StatusCode != http.StatusForbidden {
		t.Fatalf("PATCH on a final upload: %d, want 403", res.StatusCode)
	}
	if composer.UsesContentServer() && !bytes.Equal(c.download(final), want) {
		t.Fatal("download of the final upload differs")
	}
	// A final upload that names a plain upload is refused.
	plain := c.create(1)
	if res, _ := c.do(http.MethodPost, c.base, nil, "Upload-Concat", "final;"+plain); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("final of a non-partial upload: %d, want 400", res.StatusCode)
	}
}

func testConcatenationUnfinished(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	if !composer.UsesConcater() {
		t.Skip(skipReason(composer, []capability{needConcater}))
	}
	a, b := data(5000, 16), data(7000, 17)
	ua := c.create(int64(len(a)), "Upload-Concat", "partial")
	ub := c.create(int64(len(b)), "Upload-Concat", "partial")
	c.mustPatch(ua, 0, a)
	c.mustPatch(ub, 0, b[:100])
	res, body := c.do(http.MethodPost, c.base, nil, "Upload-Concat", "final;"+ua+" "+ub)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST final: %d %q", res.StatusCode, body)
	}
	final := res.Header.Get("Location")
	res, _ = c.do(http.MethodHead, final, nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Upload-Offset") != "" {
		t.Fatalf("HEAD of an unfinished final upload: %d, Upload-Offset %q (must be absent)", res.StatusCode, res.Header.Get("Upload-Offset"))
	}
	if res.Header.Get("Upload-Length") != "12000" {
		t.Fatalf("HEAD of an unfinished final upload: Upload-Length %q", res.Header.Get("Upload-Length"))
	}
	c.mustPatch(ub, 100, b[100:])
	if got := c.offset(final); got != 12000 {
		t.Fatalf("final offset after the partials finished = %d", got)
	}
	if composer.UsesContentServer() && !bytes.Equal(c.download(final), append(a, b...)) {
		t.Fatal("download differs")
	}
}

// A final upload must never take bytes of a partial that are still on
// trial: here the partial's last chunk arrives, the final is asked for, and
// only then does the chunk's checksum trailer fail.
func testConcatenationSkipsRejectedChunk(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	if !composer.UsesConcater() {
		t.Skip(skipReason(composer, []capability{needConcater}))
	}
	p := c.create(5, "Upload-Concat", "partial")
	res, body := c.do(http.MethodPost, c.base, nil, "Upload-Concat", "final;"+p)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST final: %d %q", res.StatusCode, body)
	}
	final := res.Header.Get("Location")

	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPatch, p, pr)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", "0")
	req.Trailer = http.Header{"Upload-Checksum": nil}
	patched := make(chan int, 1)
	go func() {
		res, err := c.http.Do(req)
		if err != nil {
			patched <- 0
			return
		}
		res.Body.Close()
		patched <- res.StatusCode
	}()
	if _, err := pw.Write([]byte("EVIL!")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the server has stored the five bytes
	res, _ = c.do(http.MethodHead, final, nil)
	headOffset := res.Header.Get("Upload-Offset")
	req.Trailer.Set("Upload-Checksum", sha1Header([]byte("other")))
	pw.Close()
	if st := <-patched; st == http.StatusNoContent {
		t.Fatalf("the rejected chunk was accepted")
	}
	if headOffset != "" {
		t.Fatalf("HEAD of the final upload while its partial's last chunk was unverified: Upload-Offset %q, want none", headOffset)
	}
	if composer.UsesContentServer() {
		if res, body := c.do(http.MethodGet, final, nil); res.StatusCode == http.StatusOK {
			t.Fatalf("the final upload serves %q, bytes that were rejected", body)
		}
	}
	// The partial, sent again correctly, completes the final upload.
	if got := c.offset(p); got != 0 {
		t.Fatalf("partial offset after the rejected chunk = %d", got)
	}
	c.mustPatch(p, 0, []byte("good!"))
	if composer.UsesContentServer() && string(c.download(final)) != "good!" {
		t.Fatal("final upload differs")
	}
}

// repeatSizes are the sizes of the two partials of the tests of a partial
// named several times: small ones, which S3 stores must stream, and ones
// past S3's 5 MiB minimum part size, which they may copy part by part.
var repeatSizes = []struct {
	name string
	a, b int
}{
	{"small", 3<<10 + 5, 5<<10 + 1},
	{"part-copy", 5<<20 + 123, 5<<20 + 7},
}

// pattern returns n bytes of a repeating pattern that starts with tag, so
// that the bytes of different partials and their order tell apart.
func pattern(n int, tag string) []byte {
	b := make([]byte, n)
	unit := []byte(tag + "-0123456789abcdefghijklmnopqrstuvwxyz|")
	for i := range b {
		b[i] = unit[i%len(unit)]
	}
	// A different last byte catches a copy that is one byte short or long.
	if n > 0 {
		b[n-1] = '$'
	}
	return b
}

// concatOf returns the concatenation of parts.
func concatOf(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// createFinal creates a final upload of the partials at urls and returns
// its URL and the creation response.
func (c *client) createFinal(urls ...string) (string, *http.Response) {
	c.t.Helper()
	res, body := c.do(http.MethodPost, c.base, nil, "Upload-Concat", "final;"+strings.Join(urls, " "))
	if res.StatusCode != http.StatusCreated {
		c.t.Fatalf("POST final of %d partials: %d %q", len(urls), res.StatusCode, body)
	}
	loc := res.Header.Get("Location")
	if loc == "" {
		c.t.Fatal("POST final: no Location")
	}
	return loc, res
}

// checkFinal checks with HEAD and, where the store serves content, GET that
// the final upload at u is complete and holds exactly want, and that its
// Upload-Concat header names the partials in order.
func checkFinal(t *testing.T, c *client, composer *tus.StoreComposer, u string, want []byte, partials ...string) {
	t.Helper()
	res, _ := c.do(http.MethodHead, u, nil)
	n := strconv.Itoa(len(want))
	if res.StatusCode != http.StatusOK || res.Header.Get("Upload-Offset") != n || res.Header.Get("Upload-Length") != n {
		t.Fatalf("HEAD final: %d, Upload-Offset %q, Upload-Length %q; want 200 and %s for both",
			res.StatusCode, res.Header.Get("Upload-Offset"), res.Header.Get("Upload-Length"), n)
	}
	named := strings.Fields(strings.TrimPrefix(res.Header.Get("Upload-Concat"), "final;"))
	if len(named) != len(partials) {
		t.Fatalf("HEAD final: Upload-Concat %q names %d uploads, want %d", res.Header.Get("Upload-Concat"), len(named), len(partials))
	}
	for i, p := range partials {
		if path.Base(named[i]) != path.Base(p) {
			t.Fatalf("HEAD final: Upload-Concat %q: upload %d is %s, want %s", res.Header.Get("Upload-Concat"), i, named[i], p)
		}
	}
	if composer.UsesContentServer() {
		if got := c.download(u); !bytes.Equal(got, want) {
			t.Fatalf("download of the final upload: %d bytes, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
		}
	}
}

// checkPartial checks that the partial upload at u is still complete and
// holds exactly want.
func checkPartial(t *testing.T, c *client, composer *tus.StoreComposer, u string, want []byte) {
	t.Helper()
	if got := c.offset(u); got != int64(len(want)) {
		t.Fatalf("partial offset after concatenation = %d, want %d", got, len(want))
	}
	if composer.UsesContentServer() {
		if got := c.download(u); !bytes.Equal(got, want) {
			t.Fatalf("partial upload changed by concatenation: %d bytes, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
		}
	}
}

// firstDiff returns the index of the first byte where a and b differ.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// tus 1.0, Concatenation: "The same partial upload MAY be present multiple
// times in the Upload-Concat header in one upload creation request or MAY
// be used in multiple upload creation requests."
func testConcatenationRepeatedPartial(t *testing.T, nc NewHarness) {
	for _, sz := range repeatSizes {
		t.Run(sz.name, func(t *testing.T) {
			c, composer := serve(t, nc, nil)
			if !composer.UsesConcater() {
				t.Skip(skipReason(composer, []capability{needConcater}))
			}
			a, b := pattern(sz.a, "A"), pattern(sz.b, "B")
			ua := c.create(int64(len(a)), "Upload-Concat", "partial")
			ub := c.create(int64(len(b)), "Upload-Concat", "partial")
			c.mustPatch(ua, 0, a)
			c.mustPatch(ub, 0, b)

			aba := concatOf(a, b, a)
			final, res := c.createFinal(ua, ub, ua)
			if got := res.Header.Get("Upload-Offset"); got != strconv.Itoa(len(aba)) {
				t.Fatalf("POST final A B A: Upload-Offset %q, want %d", got, len(aba))
			}
			checkFinal(t, c, composer, final, aba, ua, ub, ua)

			// The same partials in two more final uploads.
			final1, _ := c.createFinal(ua, ub)
			final2, _ := c.createFinal(ub, ua, ua)
			checkFinal(t, c, composer, final1, concatOf(a, b), ua, ub)
			checkFinal(t, c, composer, final2, concatOf(b, a, a), ub, ua, ua)

			// Nothing was taken from the partials or the earlier final.
			checkPartial(t, c, composer, ua, a)
			checkPartial(t, c, composer, ub, b)
			checkFinal(t, c, composer, final, aba, ua, ub, ua)
		})
	}
}

// A partial named twice by final uploads created before it is complete
// (concatenation-unfinished): each is filled once the partial is.
func testConcatenationRepeatedPartialUnfinished(t *testing.T, nc NewHarness) {
	for _, sz := range repeatSizes {
		t.Run(sz.name, func(t *testing.T) {
			c, composer := serve(t, nc, nil)
			if !composer.UsesConcater() {
				t.Skip(skipReason(composer, []capability{needConcater}))
			}
			a, b := pattern(sz.a, "A"), pattern(sz.b, "B")
			ua := c.create(int64(len(a)), "Upload-Concat", "partial")
			ub := c.create(int64(len(b)), "Upload-Concat", "partial")
			c.mustPatch(ub, 0, b)
			c.mustPatch(ua, 0, a[:1000])

			aba, baa := concatOf(a, b, a), concatOf(b, a, a)
			final, res := c.createFinal(ua, ub, ua)
			if got := res.Header.Get("Upload-Offset"); got != "" {
				t.Fatalf("POST final of an unfinished partial: Upload-Offset %q, want none", got)
			}
			final2, _ := c.createFinal(ub, ua, ua)
			res, _ = c.do(http.MethodHead, final, nil)
			if res.StatusCode != http.StatusOK || res.Header.Get("Upload-Offset") != "" || res.Header.Get("Upload-Length") != strconv.Itoa(len(aba)) {
				t.Fatalf("HEAD of an unfinished final upload: %d, Upload-Offset %q (must be absent), Upload-Length %q (want %d)",
					res.StatusCode, res.Header.Get("Upload-Offset"), res.Header.Get("Upload-Length"), len(aba))
			}

			c.mustPatch(ua, 1000, a[1000:])
			checkFinal(t, c, composer, final, aba, ua, ub, ua)
			checkFinal(t, c, composer, final2, baa, ub, ua, ua)
			checkPartial(t, c, composer, ua, a)
			checkPartial(t, c, composer, ub, b)
		})
	}
}

func testTermination(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	if !composer.UsesTerminater() {
		t.Skip(skipReason(composer, []capability{needTerminater}))
	}
	u := c.create(1000)
	c.mustPatch(u, 0, data(500, 18))
	if res, body := c.do(http.MethodDelete, u, nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d %q", res.StatusCode, body)
	}
	for _, m := range []string{http.MethodHead, http.MethodGet, http.MethodDelete} {
		if res, _ := c.do(m, u, nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("%s after DELETE: %d, want 404", m, res.StatusCode)
		}
	}
	if res, _ := c.patch(u, 500, data(10, 19)); res.StatusCode != http.StatusNotFound {
		t.Fatalf("PATCH after DELETE: %d, want 404", res.StatusCode)
	}
}

func testUnicodeMetadata(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	meta := map[string]string{
		"filename": "résumé 📄 \"final\".txt",
		"filetype": "text/plain",
		"note":     "línea uno\nzweite Zeile ✓",
		"empty":    "",
	}
	var pairs []string
	for k, v := range meta {
		if v == "" {
			pairs = append(pairs, k)
			continue
		}
		pairs = append(pairs, k+" "+base64.StdEncoding.EncodeToString([]byte(v)))
	}
	u := c.create(5, "Upload-Metadata", strings.Join(pairs, ","))
	c.mustPatch(u, 0, []byte("hello"))
	res, _ := c.do(http.MethodHead, u, nil)
	got, err := tus.ParseMetadata(res.Header.Get("Upload-Metadata"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(meta) {
		t.Fatalf("metadata = %q, want %q", got, meta)
	}
	for k, v := range meta {
		if got[k] != v {
			t.Fatalf("metadata[%s] = %q, want %q", k, got[k], v)
		}
	}
	if !composer.UsesContentServer() {
		return
	}
	res, body := c.do(http.MethodGet, u, nil)
	if string(body) != "hello" {
		t.Fatalf("download = %q", body)
	}
	cd := res.Header.Get("Content-Disposition")
	if !strings.Contains(cd, "filename*=UTF-8''r%C3%A9sum%C3%A9%20%F0%9F%93%84%20%22final%22.txt") {
		t.Fatalf("Content-Disposition = %q", cd)
	}
	if res.Header.Get("Content-Type") != "text/plain; charset=utf-8" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("download headers: %v", res.Header)
	}
}

func testRangeDownload(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	if !composer.UsesContentServer() {
		t.Skip(skipReason(composer, []capability{needContentServer}))
	}
	want := data(10000, 20)
	u := c.create(int64(len(want)))
	c.mustPatch(u, 0, want)
	res, body := c.do(http.MethodGet, u, nil, "Range", "bytes=100-199")
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want[100:200]) {
		t.Fatalf("Range GET: %d, %d bytes", res.StatusCode, len(body))
	}
	// An unfinished upload is not served.
	u2 := c.create(10)
	if res, _ := c.do(http.MethodGet, u2, nil); res.StatusCode != http.StatusConflict {
		t.Fatalf("GET of an unfinished upload: %d, want 409", res.StatusCode)
	}
}

func testConcurrentUploads(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := data(1<<20, int64(100+i))
			u := c.create(int64(len(want)))
			for off := 0; off < len(want); off += 64 << 10 {
				res, body := c.patch(u, int64(off), want[off:off+64<<10])
				if res.StatusCode != http.StatusNoContent {
					errs <- fmt.Errorf("upload %d PATCH at %d: %d %q", i, off, res.StatusCode, body)
					return
				}
			}
			if composer.UsesContentServer() {
				res, got := c.do(http.MethodGet, u, nil)
				if res.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
					errs <- fmt.Errorf("upload %d: download differs", i)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// rawPatch opens a connection and sends the head of a PATCH announcing
// length bytes, then the first part of them. The caller closes the
// connection or leaves it open.
func rawPatch(t *testing.T, u string, offset int64, length int, part []byte) net.Conn {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", pu.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: %d\r\nContent-Length: %d\r\n\r\n",
		pu.Path, pu.Host, offset, length)
	if _, err := conn.Write(part); err != nil {
		t.Fatal(err)
	}
	return conn
}

func testResumeAfterBrokenConnection(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	want := data(2<<20, 21)
	u := c.create(int64(len(want)))
	conn := rawPatch(t, u, 0, len(want), want[:700<<10])
	conn.Close() // the client dies mid-body
	// The server may not have started on the PATCH when the HEAD arrives;
	// once it has, every byte sent must be counted.
	var got int64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if got = c.offset(u); got == 700<<10 || time.Now().After(deadline) {
			break
		}
	}
	if got != 700<<10 {
		t.Fatalf("offset after a broken PATCH = %d, want %d (every byte sent must be kept)", got, 700<<10)
	}
	c.mustPatch(u, got, want[got:])
	if composer.UsesContentServer() && !bytes.Equal(c.download(u), want) {
		t.Fatal("download differs")
	}
}

func testNewRequestTakesOver(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, func(cfg *tus.Config) {
		cfg.AcquireLockTimeout = 5 * time.Second
		cfg.NetworkTimeout = time.Minute
	})
	want := data(1<<20, 22)
	u := c.create(int64(len(want)))
	// A stale request keeps its connection open and sends nothing more.
	conn := rawPatch(t, u, 0, len(want), want[:300<<10])
	defer conn.Close()
	time.Sleep(50 * time.Millisecond)
	// The resuming client's HEAD must not wait for the stale one to time out.
	res, body := c.do(http.MethodHead, u, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("HEAD while a stale PATCH holds the upload: %d %q", res.StatusCode, body)
	}
	off, _ := strconv.ParseInt(res.Header.Get("Upload-Offset"), 10, 64)
	if off < 0 || off > 300<<10 {
		t.Fatalf("offset = %d, outside what was sent", off)
	}
	// The stale request was answered (and its connection ended).
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if st, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil && st.StatusCode < 400 {
		t.Fatalf("stale PATCH answered %d, want an error", st.StatusCode)
	}
	c.mustPatch(u, off, want[off:])
	if composer.UsesContentServer() && !bytes.Equal(c.download(u), want) {
		t.Fatal("download differs")
	}
}

func testReadTimeoutKeepsBytes(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, func(cfg *tus.Config) { cfg.NetworkTimeout = 300 * time.Millisecond })
	want := data(1<<20, 23)
	u := c.create(int64(len(want)))
	conn := rawPatch(t, u, 0, len(want), want[:100<<10])
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled PATCH: %v", err)
	}
	if res.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("stalled PATCH: %d, want 408", res.StatusCode)
	}
	if got := c.offset(u); got != 100<<10 {
		t.Fatalf("offset after a timeout = %d, want %d", got, 100<<10)
	}
	c.mustPatch(u, 100<<10, want[100<<10:])
	if composer.UsesContentServer() && !bytes.Equal(c.download(u), want) {
		t.Fatal("download differs")
	}
}

func testExpiration(t *testing.T, nc NewHarness) {
	// Long enough that a loaded machine (CI with the race detector) gets
	// the first requests done before the upload expires.
	const expiration = 4 * time.Second
	c, _ := serve(t, nc, func(cfg *tus.Config) { cfg.Expiration = expiration })
	created := time.Now()
	u := c.create(10)
	res, _ := c.do(http.MethodHead, u, nil)
	exp, err := http.ParseTime(res.Header.Get("Upload-Expires"))
	if err != nil || exp.Before(created) || exp.After(time.Now().Add(expiration+time.Second)) {
		t.Fatalf("HEAD %d %.1fs after creating: Upload-Expires %q: %v", res.StatusCode, time.Since(created).Seconds(), res.Header.Get("Upload-Expires"), err)
	}
	done := c.create(3)
	c.mustPatch(done, 0, []byte("abc"))
	time.Sleep(time.Until(created.Add(expiration + 1100*time.Millisecond)))
	if res, _ := c.do(http.MethodHead, u, nil); res.StatusCode != http.StatusGone {
		t.Fatalf("HEAD of an expired upload: %d, want 410", res.StatusCode)
	}
	if res, _ := c.patch(u, 0, []byte("x")); res.StatusCode != http.StatusGone {
		t.Fatalf("PATCH of an expired upload: %d, want 410", res.StatusCode)
	}
	// A finished upload does not expire.
	if got := c.offset(done); got != 3 {
		t.Fatalf("finished upload offset = %d", got)
	}
}

func testPathTraversal(t *testing.T, nc NewHarness) {
	c, _ := serve(t, nc, nil)
	for _, p := range []string{"..%2F..%2Fetc%2Fpasswd", "..", "a%2Fb", "x.info", "%2e%2e"} {
		for _, m := range []string{http.MethodHead, http.MethodGet, http.MethodDelete} {
			res, _ := c.do(m, c.base+p, nil)
			if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("%s %s: %d, want 404", m, p, res.StatusCode)
			}
		}
		if res, _ := c.patch(c.base+p, 0, []byte("x")); res.StatusCode != http.StatusNotFound {
			t.Fatalf("PATCH %s: %d, want 404", p, res.StatusCode)
		}
	}
}
