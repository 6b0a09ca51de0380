package limitedstore_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io/fs"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/internal/testhttp"
	"github.com/tusgo/tus/limitedstore"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/storetest"
)

// compose returns a composition of a filestore in dir, limited to limit
// bytes, with a memorylocker.
func compose(t *testing.T, dir string, limit int64) (*tus.StoreComposer, *limitedstore.Store) {
	t.Helper()
	fs, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := tus.NewStoreComposer()
	fs.UseIn(c)
	memorylocker.New().UseIn(c)
	ls, err := limitedstore.New(context.Background(), limit, c)
	if err != nil {
		t.Fatal(err)
	}
	ls.UseIn(c)
	return c, ls
}

// harness opens limited filestores over one directory, with a limit never
// reached.
type harness struct {
	t   *testing.T
	dir string
}

func (h harness) MakeComposer(context.Context) (*tus.StoreComposer, error) {
	c, _ := compose(h.t, h.dir, 1<<40)
	return c, nil
}

// Contents lists every file under the directory.
func (h harness) Contents(context.Context) ([]string, error) {
	var names []string
	err := filepath.WalkDir(h.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, path)
		return nil
	})
	return names, err
}

func (h harness) Close(context.Context) error { return nil }

func newHarness(_ context.Context, t *testing.T) (storetest.Harness, error) {
	return harness{t: t, dir: t.TempDir()}, nil
}

// TestConformance runs the store conformance suite over a limited
// filestore whose limit is never reached.
func TestConformance(t *testing.T) { storetest.RunConformanceTests(t, newHarness) }

// TestProtocol runs the protocol suite over a limited filestore whose limit
// is never reached.
func TestProtocol(t *testing.T) { storetest.RunProtocolTests(t, newHarness) }

// client talks tus to a test server.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

// serve starts a tus server over a limited filestore in dir.
func serve(t *testing.T, dir string, limit int64) (*client, *limitedstore.Store) {
	t.Helper()
	c, ls := compose(t, dir, limit)
	h, err := tus.NewHandler(tus.Config{StoreComposer: c, BasePath: "/files/"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &client{t: t, base: srv.URL + "/files/", http: srv.Client()}, ls
}

// do sends a request with tus headers (name, value pairs) and returns the
// response and its body.
func (c *client) do(method, url string, body []byte, headers ...string) (*http.Response, string) {
	c.t.Helper()
	resp, b := testhttp.Do(c.t, c.http, method, url, body, append([]string{"Tus-Resumable", "1.0.0"}, headers...)...)
	return resp, string(b)
}

// create sends a creation request and returns the response, its body and
// the upload's absolute URL (empty without Location).
func (c *client) create(headers ...string) (*http.Response, string, string) {
	c.t.Helper()
	resp, body := c.do(http.MethodPost, c.base, nil, headers...)
	loc := resp.Header.Get("Location")
	if loc != "" {
		u, err := resp.Request.URL.Parse(loc)
		if err != nil {
			c.t.Fatal(err)
		}
		loc = u.String()
	}
	return resp, body, loc
}

// mustCreate creates an upload of the given length and returns its URL.
func (c *client) mustCreate(length int64, headers ...string) string {
	c.t.Helper()
	resp, body, loc := c.create(append([]string{"Upload-Length", strconv.FormatInt(length, 10)}, headers...)...)
	if resp.StatusCode != http.StatusCreated || loc == "" {
		c.t.Fatalf("create %d bytes: %s %q", length, resp.Status, body)
	}
	return loc
}

// mustCreateDeferred creates an upload with a deferred length.
func (c *client) mustCreateDeferred() string {
	c.t.Helper()
	resp, body, loc := c.create("Upload-Defer-Length", "1")
	if resp.StatusCode != http.StatusCreated || loc == "" {
		c.t.Fatalf("create deferred: %s %q", resp.Status, body)
	}
	return loc
}

// patch sends data at offset.
func (c *client) patch(url string, offset int64, data []byte, headers ...string) (*http.Response, string) {
	c.t.Helper()
	h := append([]string{"Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.FormatInt(offset, 10)}, headers...)
	return c.do(http.MethodPatch, url, data, h...)
}

// mustPatch sends data at offset and expects 204.
func (c *client) mustPatch(url string, offset int64, data []byte, headers ...string) {
	c.t.Helper()
	if resp, body := c.patch(url, offset, data, headers...); resp.StatusCode != http.StatusNoContent {
		c.t.Fatalf("PATCH at %d: %s %q", offset, resp.Status, body)
	}
}

// head returns the HEAD response of url, which must be 200.
func (c *client) head(url string) *http.Response {
	c.t.Helper()
	resp, _ := c.do(http.MethodHead, url, nil)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("HEAD %s: %s", url, resp.Status)
	}
	return resp
}

// offset returns the upload's offset according to HEAD.
func (c *client) offset(url string) int64 {
	c.t.Helper()
	v := c.head(url).Header.Get("Upload-Offset")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		c.t.Fatalf("HEAD %s: Upload-Offset %q", url, v)
	}
	return n
}

// terminate deletes the upload and expects 204.
func (c *client) terminate(url string) {
	c.t.Helper()
	if resp, body := c.do(http.MethodDelete, url, nil); resp.StatusCode != http.StatusNoContent {
		c.t.Fatalf("DELETE %s: %s %q", url, resp.Status, body)
	}
}

// mustBeFull checks that a response is the 507 of ErrStoreFull.
func mustBeFull(t *testing.T, what string, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Fatalf("%s: %s %q, want 507", what, resp.Status, body)
	}
	if !strings.HasPrefix(body, limitedstore.ErrStoreFull.Code+": insufficient storage") || strings.Count(body, "\n") != 1 {
		t.Fatalf("%s: body %q, want one line with ErrStoreFull", what, body)
	}
}

// checkUsed compares the Store's count with want and with what a fresh look
// at the directory counts.
func checkUsed(t *testing.T, ls *limitedstore.Store, dir string, want int64) {
	t.Helper()
	if got := ls.Used(); got != want {
		t.Errorf("Used() = %d, want %d", got, want)
	}
	fs, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fs.Usage(context.Background()); err != nil || got != want {
		t.Errorf("filestore Usage() = %d, %v; want %d", got, err, want)
	}
}

// data returns n reproducible pseudo-random bytes.
func data(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// dataFile returns the bytes the filestore in dir holds for upload url.
func dataFile(t *testing.T, dir, url string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, path.Base(url)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCreation(t *testing.T) {
	dir := t.TempDir()
	c, ls := serve(t, dir, 100)

	a := c.mustCreate(60)
	checkUsed(t, ls, dir, 60)

	resp, body, loc := c.create("Upload-Length", "41")
	mustBeFull(t, "creation of 41 bytes with 40 left", resp, body)
	if loc != "" {
		t.Errorf("refused creation has Location %q", loc)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("the store holds %d files, want the 2 of the first upload", len(entries))
	}
	checkUsed(t, ls, dir, 60)

	b := c.mustCreate(40) // exactly what is left
	checkUsed(t, ls, dir, 100)
	c.mustCreate(0) // nothing always fits

	// Bytes of a created upload always fit: they were counted at creation.
	c.mustPatch(a, 0, data(60, 1))
	c.mustPatch(b, 0, data(40, 2))
	checkUsed(t, ls, dir, 100)

	// Creation with upload: refused before any byte is read.
	resp, body, _ = c.create("Upload-Length", "1", "Content-Type", "application/offset+octet-stream")
	mustBeFull(t, "creation with upload", resp, body)
}

func TestTerminationFreesRoom(t *testing.T) {
	dir := t.TempDir()
	c, ls := serve(t, dir, 100)
	a := c.mustCreate(70)
	c.mustPatch(a, 0, data(30, 1)) // unfinished: it still counts 70
	resp, body, _ := c.create("Upload-Length", "50")
	mustBeFull(t, "creation before termination", resp, body)

	c.terminate(a)
	checkUsed(t, ls, dir, 0)
	b := c.mustCreate(100)
	checkUsed(t, ls, dir, 100)

	// A deferred upload releases the bytes it holds.
	c.terminate(b)
	d := c.mustCreateDeferred()
	c.mustPatch(d, 0, data(25, 2))
	checkUsed(t, ls, dir, 25)
	c.terminate(d)
	checkUsed(t, ls, dir, 0)
}

func TestDeferredLengthHitsLimit(t *testing.T) {
	dir := t.TempDir()
	c, ls := serve(t, dir, 100)
	c.mustCreate(40)
	u := c.mustCreateDeferred()
	want := data(150, 1)

	c.mustPatch(u, 0, want[:20])
	checkUsed(t, ls, dir, 60)

	resp, body := c.patch(u, 20, want[20:])
	mustBeFull(t, "PATCH past the limit", resp, body)
	if got := resp.Header.Get("Upload-Offset"); got != "60" {
		t.Errorf("Upload-Offset of the refused PATCH = %q, want 60", got)
	}
	if got := c.offset(u); got != 60 {
		t.Fatalf("offset = %d, want 60", got)
	}
	if got := dataFile(t, dir, u); !bytes.Equal(got, want[:60]) {
		t.Fatalf("stored %d bytes that differ from the first 60 sent", len(got))
	}
	checkUsed(t, ls, dir, 100)

	// Nothing more fits, but declaring the length it has completes it.
	resp, body = c.patch(u, 60, want[60:61])
	mustBeFull(t, "PATCH at the limit", resp, body)
	c.mustPatch(u, 60, nil, "Upload-Length", "60")
	if h := c.head(u); h.Header.Get("Upload-Length") != "60" {
		t.Fatalf("Upload-Length = %q after declaring 60", h.Header.Get("Upload-Length"))
	}
	checkUsed(t, ls, dir, 100)
}

// TestDeferredLengthLongRestDropped refuses a chunk that goes on far past
// the limit without reading it to its end: nothing of it is stored, and
// the room its first bytes took is free again.
func TestDeferredLengthLongRestDropped(t *testing.T) {
	dir := t.TempDir()
	c, ls := serve(t, dir, 100)
	u := c.mustCreateDeferred()
	c.mustPatch(u, 0, data(20, 1))
	resp, body := c.patch(u, 20, data(3<<20, 2))
	mustBeFull(t, "a long PATCH past the limit", resp, body)
	if !strings.Contains(body, "nothing of it was stored") {
		t.Errorf("body %q does not say the chunk was dropped", body)
	}
	if got := c.offset(u); got != 20 {
		t.Fatalf("offset = %d, want 20: the chunk is dropped whole", got)
	}
	checkUsed(t, ls, dir, 20)
}

func TestCreationWithUploadDeferred(t *testing.T) {
	dir := t.TempDir()
	c, ls := serve(t, dir, 100)
	want := data(120, 1)
	resp, body := c.do(http.MethodPost, c.base, want,
		"Upload-Defer-Length", "1", "Content-Type", "application/offset+octet-stream")
	mustBeFull(t, "creation with 120 bytes", resp, body)
	loc := resp.Header.Get("Location")
	if loc == "" || resp.Header.Get("Upload-Offset") != "100" {
		t.Fatalf("Location %q, Upload-Offset %q; want the upload and 100", loc, resp.Header.Get("Upload-Offset"))
	}
	if got := dataFile(t, dir, loc); !bytes.Equal(got, want[:100]) {
		t.Fatalf("stored %d bytes that differ from the first 100 sent", len(got))
	}
	checkUsed(t, ls, dir, 100)
}

func TestDeferredLengthEndsAtLimit(t *testing.T) {
	dir := t.TempDir()
	c, ls := serve(t, dir, 100)
	u := c.mustCreateDeferred()
	want := data(100, 1)
	c.mustPatch(u, 0, want) // exactly the limit: no error
	if got := c.offset(u); got != 100 {
		t.Fatalf("offset = %d, want 100", got)
	}
	checkUsed(t, ls, dir, 100)
}

func TestDeferredLengthChecksum(t *testing.T) {
	dir := t.TempDir()
	c, ls := serve(t, dir, 100)
	u := c.mustCreateDeferred()
	want := data(150, 1)
	sum := func(b []byte) string {
		s := sha1.Sum(b)
		return "sha1 " + base64.StdEncoding.EncodeToString(s[:])
	}

	// A wrong checksum: the chunk is dropped whole, also the part that fit.
	bad := bytes.Clone(want)
	bad[140] ^= 1
	resp, body := c.patch(u, 0, want, "Upload-Checksum", sum(bad))
	if resp.StatusCode != 460 {
		t.Fatalf("PATCH past the limit with a wrong checksum: %s %q, want 460", resp.Status, body)
	}
	if got := c.offset(u); got != 0 {
		t.Fatalf("offset = %d after a checksum mismatch, want 0", got)
	}
	checkUsed(t, ls, dir, 0)

	// A right checksum: the chunk is verified whole and what fits is kept.
	resp, body = c.patch(u, 0, want, "Upload-Checksum", sum(want))
	mustBeFull(t, "PATCH past the limit with a right checksum", resp, body)
	if got := dataFile(t, dir, u); !bytes.Equal(got, want[:100]) {
		t.Fatalf("stored %d bytes that differ from the first 100 sent", len(got))
	}
	checkUsed(t, ls, dir, 100)
}

func TestDeclareLengthBeyondCapacity(t *testing.T) {
	dir := t.TempDir()
	c, ls := serve(t, dir, 100)
	c.mustCreate(50)
	u := c.mustCreateDeferred()
	want := data(50, 1)
	c.mustPatch(u, 0, want[:10])

	// 10 held + 41 more > 50 left.
	resp, body := c.patch(u, 10, want[10:20], "Upload-Length", "51")
	mustBeFull(t, "declaring 51 bytes", resp, body)
	h := c.head(u)
	if h.Header.Get("Upload-Defer-Length") != "1" || h.Header.Get("Upload-Offset") != "10" {
		t.Fatalf("after the refused declaration: Upload-Defer-Length %q, Upload-Offset %q; want 1 and 10",
			h.Header.Get("Upload-Defer-Length"), h.Header.Get("Upload-Offset"))
	}
	checkUsed(t, ls, dir, 60)

	c.mustPatch(u, 10, want[10:20], "Upload-Length", "50")
	checkUsed(t, ls, dir, 100)
	resp, body, _ = c.create("Upload-Length", "1")
	mustBeFull(t, "creation after the declaration", resp, body)
	c.mustPatch(u, 20, want[20:])
	if got := dataFile(t, dir, u); !bytes.Equal(got, want) {
		t.Fatal("stored bytes differ from the bytes sent")
	}
	checkUsed(t, ls, dir, 100)
}

func TestConcatenation(t *testing.T) {
	dir := t.TempDir()
	c, ls := serve(t, dir, 150)
	want := data(60, 1)
	p1 := c.mustCreate(30, "Upload-Concat", "partial")
	p2 := c.mustCreate(30, "Upload-Concat", "partial")
	c.mustPatch(p1, 0, want[:30])
	c.mustPatch(p2, 0, want[30:])
	checkUsed(t, ls, dir, 60)

	c.mustCreate(50) // 40 left: the final upload of 60 does not fit
	concat := "final;" + p1 + " " + p2
	resp, body, _ := c.create("Upload-Concat", concat)
	mustBeFull(t, "final upload of 60 bytes with 40 left", resp, body)
	checkUsed(t, ls, dir, 110)

	ls2Dir := t.TempDir()
	c2, ls2 := serve(t, ls2Dir, 120)
	q1 := c2.mustCreate(30, "Upload-Concat", "partial")
	q2 := c2.mustCreate(30, "Upload-Concat", "partial")
	c2.mustPatch(q1, 0, want[:30])
	c2.mustPatch(q2, 0, want[30:])
	resp, body, final := c2.create("Upload-Concat", "final;"+q1+" "+q2)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("final upload that fits exactly: %s %q", resp.Status, body)
	}
	if got := c2.offset(final); got != 60 {
		t.Fatalf("final offset = %d, want 60", got)
	}
	if _, got := c2.do(http.MethodGet, final, nil); got != string(want) {
		t.Fatal("final upload's content differs")
	}
	checkUsed(t, ls2, ls2Dir, 120) // the partials stay
	resp, body, _ = c2.create("Upload-Length", "1")
	mustBeFull(t, "creation after concatenation", resp, body)

	c2.terminate(final)
	checkUsed(t, ls2, ls2Dir, 60)
}

// TestConcatenationRepeatedPartial: a final upload that names a partial
// twice (tus 1.0 allows it) counts its whole size, the partial's bytes
// twice, and terminating it releases exactly that.
func TestConcatenationRepeatedPartial(t *testing.T) {
	dir := t.TempDir()
	const sizeA, sizeB = 30, 20
	c, ls := serve(t, dir, (sizeA+sizeB)+(2*sizeA+sizeB)+(sizeA+sizeB))
	a, b := data(sizeA, 1), data(sizeB, 2)
	pa := c.mustCreate(sizeA, "Upload-Concat", "partial")
	pb := c.mustCreate(sizeB, "Upload-Concat", "partial")
	c.mustPatch(pa, 0, a)
	c.mustPatch(pb, 0, b)
	checkUsed(t, ls, dir, sizeA+sizeB)

	final := func(want []byte, partials ...string) string {
		t.Helper()
		resp, body, u := c.create("Upload-Concat", "final;"+strings.Join(partials, " "))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("final upload of %d bytes: %s %q", len(want), resp.Status, body)
		}
		if _, got := c.do(http.MethodGet, u, nil); got != string(want) {
			t.Fatalf("final upload holds %q, want %q", got, want)
		}
		return u
	}
	aba := final(slices.Concat(a, b, a), pa, pb, pa)
	checkUsed(t, ls, dir, (sizeA+sizeB)+(2*sizeA+sizeB))

	// 50 bytes are left: B, A, A (80 bytes) does not fit, A, B (50) does.
	resp, body, _ := c.create("Upload-Concat", "final;"+pb+" "+pa+" "+pa)
	mustBeFull(t, "final upload B A A of 80 bytes with 50 left", resp, body)
	checkUsed(t, ls, dir, (sizeA+sizeB)+(2*sizeA+sizeB))
	ab := final(slices.Concat(a, b), pa, pb)
	checkUsed(t, ls, dir, (sizeA+sizeB)+(2*sizeA+sizeB)+(sizeA+sizeB))

	// Terminating A, B, A releases its 80 bytes, room for B, A, A.
	c.terminate(aba)
	checkUsed(t, ls, dir, (sizeA+sizeB)+(sizeA+sizeB))
	baa := final(slices.Concat(b, a, a), pb, pa, pa)
	checkUsed(t, ls, dir, (sizeA+sizeB)+(sizeA+sizeB)+(2*sizeA+sizeB))

	for _, u := range []string{baa, ab, pa, pb} {
		c.terminate(u)
	}
	checkUsed(t, ls, dir, 0)
}

func TestConcatenationUnfinished(t *testing.T) {
	dir := t.TempDir()
	c, ls := serve(t, dir, 120)
	want := data(60, 1)
	p1 := c.mustCreate(30, "Upload-Concat", "partial")
	p2 := c.mustCreate(30, "Upload-Concat", "partial")
	// The final upload counts its whole size before the partials are done.
	_, body, final := c.create("Upload-Concat", "final;"+p1+" "+p2)
	if final == "" {
		t.Fatalf("final upload of unfinished partials: %q", body)
	}
	checkUsed(t, ls, dir, 120)
	c.mustPatch(p1, 0, want[:30])
	c.mustPatch(p2, 0, want[30:])
	if _, got := c.do(http.MethodGet, final, nil); got != string(want) {
		t.Fatal("final upload's content differs")
	}
	checkUsed(t, ls, dir, 120)
}

func TestRestartCountsExistingUploads(t *testing.T) {
	dir := t.TempDir()
	c, _ := serve(t, dir, 100)
	c.mustCreate(50)
	d := c.mustCreateDeferred()
	c.mustPatch(d, 0, data(20, 1))
	p := c.mustCreate(10)
	c.mustPatch(p, 0, data(3, 2)) // counts 10, not 3

	c2, ls2 := serve(t, dir, 100)
	checkUsed(t, ls2, dir, 80)
	resp, body, _ := c2.create("Upload-Length", "21")
	mustBeFull(t, "creation after restart", resp, body)
	c2.mustCreate(20)

	// Terminating an upload of the earlier process releases what it counted.
	c2.terminate(c2.base + path.Base(d))
	checkUsed(t, ls2, dir, 80)
}

func TestConcurrentCreations(t *testing.T) {
	dir := t.TempDir()
	const limit = 1000
	c, ls := serve(t, dir, limit)
	var (
		mu       sync.Mutex
		accepted int64
		refused  int
		wg       sync.WaitGroup
	)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			size := int64(10 + i*7%90)
			resp, body, _ := c.create("Upload-Length", strconv.FormatInt(size, 10))
			mu.Lock()
			defer mu.Unlock()
			switch resp.StatusCode {
			case http.StatusCreated:
				accepted += size
			case http.StatusInsufficientStorage:
				refused++
			default:
				t.Errorf("creation of %d bytes: %s %q", size, resp.Status, body)
			}
		}()
	}
	wg.Wait()
	if accepted > limit {
		t.Fatalf("accepted %d bytes, limit %d", accepted, limit)
	}
	if refused == 0 {
		t.Fatalf("no creation was refused; the test needs more than %d bytes asked", limit)
	}
	checkUsed(t, ls, dir, accepted)
}

func TestConcurrentDeferredWrites(t *testing.T) {
	dir := t.TempDir()
	const limit = 1 << 20
	c, ls := serve(t, dir, limit)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		full int
	)
	urls := make([]string, 8)
	for i := range urls {
		urls[i] = c.mustCreateDeferred()
	}
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := data(300<<10, int64(i)) // 8 × 300 KiB > 1 MiB
			resp, body := c.patch(u, 0, b)
			switch resp.StatusCode {
			case http.StatusNoContent:
			case http.StatusInsufficientStorage:
				mu.Lock()
				full++
				mu.Unlock()
			default:
				t.Errorf("PATCH: %s %q", resp.Status, body)
			}
			if got := dataFile(t, dir, u); !bytes.Equal(got, b[:len(got)]) {
				t.Errorf("upload %d: stored bytes differ from the bytes sent", i)
			}
		}()
	}
	wg.Wait()
	var total int64
	for _, u := range urls {
		total += c.offset(u)
	}
	// Bytes another write has counted but not yet read can make a write
	// stop short of the limit, so the total may stay below it.
	if total > limit || total == 0 || full == 0 {
		t.Fatalf("uploads hold %d bytes together and %d PATCHes were refused; want at most the limit %d and some refused",
			total, full, limit)
	}
	checkUsed(t, ls, dir, total)
}

// coreOnly hides everything of a store but its tus.DataStore methods.
type coreOnly struct{ tus.DataStore }

func TestStoreWithoutUsageReporterStartsAtZero(t *testing.T) {
	dir := t.TempDir()
	fs, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := fs.NewUpload(ctx, tus.FileInfo{ID: "existing", Size: 80}); err != nil {
		t.Fatal(err)
	}
	c := tus.NewStoreComposer()
	c.UseCore(coreOnly{fs})
	ls, err := limitedstore.New(ctx, 100, c)
	if err != nil {
		t.Fatal(err)
	}
	ls.UseIn(c)
	if got := ls.Used(); got != 0 {
		t.Fatalf("Used() = %d without a UsageReporter, want 0", got)
	}
	if c.UsesTerminater() || c.UsesConcater() || c.UsesLengthDeferrer() || c.UsesContentServer() {
		t.Fatal("UseIn registered parts the inner composition lacks")
	}
	if _, err := c.Core.NewUpload(ctx, tus.FileInfo{ID: "new", Size: 100}); err != nil {
		t.Fatalf("creation of 100 bytes: %v", err)
	}
	_, err = c.Core.NewUpload(ctx, tus.FileInfo{ID: "more", Size: 1})
	if !errors.Is(err, limitedstore.ErrStoreFull) {
		t.Fatalf("creation past the limit: %v, want ErrStoreFull", err)
	}
	var te *tus.Error
	if !errors.As(err, &te) || te.Status != http.StatusInsufficientStorage {
		t.Fatalf("creation past the limit: %v, want a 507 *tus.Error", err)
	}
}

// failingCore fails every NewUpload.
type failingCore struct{ tus.DataStore }

func (failingCore) NewUpload(context.Context, tus.FileInfo) (tus.Upload, error) {
	return nil, errors.New("disk on fire")
}

func TestFailedCreationReleases(t *testing.T) {
	fs, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := tus.NewStoreComposer()
	c.UseCore(failingCore{fs})
	ls, err := limitedstore.New(context.Background(), 100, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ls.NewUpload(context.Background(), tus.FileInfo{ID: "x", Size: 100}); err == nil || errors.Is(err, limitedstore.ErrStoreFull) {
		t.Fatalf("NewUpload = %v, want the inner store's error", err)
	}
	if got := ls.Used(); got != 0 {
		t.Fatalf("Used() = %d after a failed creation, want 0", got)
	}
}

// failingUsage reports an error from Usage.
type failingUsage struct{ tus.DataStore }

func (failingUsage) Usage(context.Context) (int64, error) { return 0, errors.New("cannot count") }

func TestNewFails(t *testing.T) {
	ctx := context.Background()
	fs, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	withCore := func(core tus.DataStore) *tus.StoreComposer {
		c := tus.NewStoreComposer()
		c.UseCore(core)
		return c
	}
	withUsage := func(core tus.DataStore, u tus.UsageReporter) *tus.StoreComposer {
		c := withCore(core)
		c.UseUsageReporter(u)
		return c
	}
	limited, err := limitedstore.New(ctx, 1, withCore(fs))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		limit int64
		c     *tus.StoreComposer
	}{
		"zero limit":      {0, withCore(fs)},
		"negative limit":  {-1, withCore(fs)},
		"no core":         {1, tus.NewStoreComposer()},
		"nil composer":    {1, nil},
		"failing usage":   {1, withUsage(fs, failingUsage{fs})},
		"already limited": {1, withCore(limited)},
	} {
		if ls, err := limitedstore.New(ctx, tc.limit, tc.c); err == nil || ls != nil {
			t.Errorf("%s: New = %v, %v; want an error", name, ls, err)
		}
	}
}
