// The browser tests drive the demo page in headless Chromium through
// testdata/drive.mjs (node with playwright-core). They skip unless node,
// chromium (looked up on PATH, as scripts/test-all checks it) and
// playwright-core (internal/clienttest/js/node_modules, from npm ci there)
// are present; TUS_BROWSER_TESTS=1, which scripts/test-all sets, makes a
// missing tool fail them instead.
//
// Screenshots go to the test's temporary directory and are removed with
// it: a test run never changes the tree. To regenerate docs/demo.png (the
// page after a finished upload, 760 px wide), from the repository's root:
//
//	TUS_DEMO_SCREENSHOT="$PWD/docs/demo.png" go test -count=1 -run 'TestBrowserUpload$' ./cmd/tusd/internal/demo/
//
// A relative TUS_DEMO_SCREENSHOT is taken from this package's directory,
// where go test runs the test.

package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/cmd/tusd/internal/demo"
	"github.com/tusgo/tus/filestore"
)

// nodeDir holds the npm packages of the project's tests, playwright-core
// among them; the test script installs them with npm ci.
var nodeDir = filepath.Join("..", "..", "..", "..", "internal", "clienttest", "js")

// browserTools returns node, Chromium and the directory with
// playwright-core, or skips the test when one is missing, unless
// TUS_BROWSER_TESTS=1 demands it.
func browserTools(t *testing.T) (node, chromium, dir string) {
	t.Helper()
	dir, err := filepath.Abs(nodeDir)
	if err != nil {
		t.Fatal(err)
	}
	node, nodeErr := exec.LookPath("node")
	chromium, chromiumErr := exec.LookPath("chromium")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json"))
	if nodeErr != nil || chromiumErr != nil || modErr != nil {
		if os.Getenv("TUS_BROWSER_TESTS") == "1" {
			t.Fatalf("TUS_BROWSER_TESTS=1 but a tool is missing (node: %v; chromium: %v; playwright-core: %v); scripts/test-all installs them",
				nodeErr, chromiumErr, modErr)
		}
		t.Skip("node, chromium or playwright-core is missing; scripts/test-all installs them")
	}
	return node, chromium, dir
}

// request is one request that reached the tus handler, or a probe of
// drive.mjs for the stored offset.
type request struct {
	method string
	probe  bool
	offset string // Upload-Offset of a PATCH
	short  bool   // a PATCH whose body ended before its Content-Length
	drop   bool   // a PATCH whose connection the recorder closed at once
}

// recorder logs the requests to the tus handler and slows down the reading
// of PATCH bodies, so that the page's Pause lands in the middle of the
// upload.
type recorder struct {
	mu   sync.Mutex
	reqs []request
	// dropPatches makes the recorder close the connection of every PATCH
	// until the first HEAD, as a network failure would.
	dropPatches bool
}

// throttleRate is how fast PATCH bodies are read, in bytes per second.
const throttleRate = 4 << 20

func (rec *recorder) add(r request) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	switch r.method {
	case http.MethodHead:
		rec.dropPatches = false
	case http.MethodPatch:
		r.drop = rec.dropPatches
	}
	rec.reqs = append(rec.reqs, r)
	return len(rec.reqs) - 1
}

func (rec *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := rec.add(request{method: r.Method, offset: r.Header.Get("Upload-Offset")})
		if r.Method != http.MethodPatch {
			h.ServeHTTP(w, r)
			return
		}
		rec.mu.Lock()
		drop := rec.reqs[i].drop
		rec.mu.Unlock()
		if drop {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err) // HTTP/1.1 on httptest: cannot happen
			}
			conn.Close()
			return
		}
		body := &slowBody{ReadCloser: r.Body, start: time.Now()}
		r.Body = body
		h.ServeHTTP(w, r)
		rec.mu.Lock()
		rec.reqs[i].short = body.n < r.ContentLength
		rec.mu.Unlock()
	})
}

// probe answers the stored offset of the upload whose ID ends the path,
// read from the store without a lock.
func (rec *recorder) probe(store tus.DataStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(request{method: r.Method, probe: true})
		up, err := store.GetUpload(r.Context(), path.Base(r.URL.Path))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		info, err := up.GetInfo(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, info.Offset)
	})
}

func (rec *recorder) log() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.reqs...)
}

// slowBody reads at most throttleRate bytes per second.
type slowBody struct {
	io.ReadCloser
	start time.Time
	n     int64
}

func (b *slowBody) Read(p []byte) (int, error) {
	if len(p) > 32<<10 {
		p = p[:32<<10]
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	due := time.Duration(float64(b.n) / throttleRate * float64(time.Second))
	if wait := due - time.Since(b.start); wait > 0 {
		time.Sleep(wait)
	}
	return n, err
}

// pause is what drive.mjs saw at one click on Pause.
type pause struct {
	Progress     float64 `json:"progress"` // the page's progress bar at the click
	Status       string  `json:"status"`
	URL          string  `json:"url"`          // the upload's URL, from localStorage
	ServerOffset int64   `json:"serverOffset"` // once the server stopped storing
	LaterOffset  int64   `json:"laterOffset"`  // 1.5 s after that
}

// driveResult is the JSON drive.mjs prints; each scenario fills its part.
type driveResult struct {
	Pauses          []pause  `json:"pauses"`
	ReloadStatus    string   `json:"reloadStatus"`
	Link            string   `json:"link"`
	LinkText        string   `json:"linkText"`
	FinalStatus     string   `json:"finalStatus"`
	Percent         string   `json:"percent"`
	RememberedAfter string   `json:"rememberedAfter"`
	ResumeEnabled   bool     `json:"resumeEnabled"`
	RetryStatus     string   `json:"retryStatus"`
	ConsoleErrors   []string `json:"consoleErrors"`
	PageErrors      []string `json:"pageErrors"`
}

// testServer serves the demo page and, at /files/, the tus handler on a
// filestore with its file locker, as tusd does, plus /probe/ID for the
// stored offset.
func testServer(t *testing.T, maxSize int64, dropPatches bool) (*httptest.Server, *recorder) {
	t.Helper()
	storeDir := t.TempDir()
	store, err := filestore.New(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	locker, err := filestore.NewLocker(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	locker.UseIn(composer)
	h, err := tus.NewHandler(tus.Config{StoreComposer: composer, BasePath: "/files/", MaxSize: maxSize})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{dropPatches: dropPatches}
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", rec.wrap(h)))
	mux.Handle("/probe/", rec.probe(store))
	mux.Handle("/", demo.Handler("/files/"))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, rec
}

// writeFile writes size random bytes to a new file called name.
func writeFile(t *testing.T, name string, size int) ([]byte, string) {
	t.Helper()
	b := make([]byte, size)
	rand.New(rand.NewSource(int64(size))).Read(b)
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b, file
}

// drive runs one scenario of drive.mjs against srv, uploading file and
// writing the screenshot to shot; the one pause-resume takes mid-upload
// goes to the test's temporary directory.
func drive(t *testing.T, scenario string, srv *httptest.Server, file, shot string) driveResult {
	t.Helper()
	node, chromium, jsDir := browserTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "drive.mjs"))
	cmd.Env = append(os.Environ(),
		"DEMO_SCENARIO="+scenario,
		"DEMO_URL="+srv.URL+"/",
		"DEMO_FILE="+file,
		"DEMO_SCREENSHOT="+shot,
		"DEMO_SCREENSHOT_RUNNING="+filepath.Join(t.TempDir(), "running.png"),
		"DEMO_PROBE="+srv.URL+"/probe/",
		"DEMO_CHROMIUM="+chromium,
		"DEMO_NODE_DIR="+jsDir,
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("drive.mjs %s: %v\n%s", scenario, err, stderr.String())
	}
	var res driveResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("drive.mjs %s printed %q: %v", scenario, out, err)
	}
	t.Logf("drive.mjs %s: %+v", scenario, res)
	t.Logf("screenshot: %s", shot)
	return res
}

// TestBrowserUpload uploads a file through the demo page in headless
// Chromium, with a pause and resume on the page and a pause, reload and
// resume, and checks what reached the server. The screenshot of the
// finished upload is written to $TUS_DEMO_SCREENSHOT if it is set (this is
// how docs/demo.png is made; see the top of this file), else to a
// temporary directory.
func TestBrowserUpload(t *testing.T) {
	browserTools(t)
	srv, rec := testServer(t, 0, false)
	// A name beyond ASCII checks the UTF-8 in Upload-Metadata.
	const name = "démo upload ✓.bin"
	want, file := writeFile(t, name, 20<<20+12345)
	shot := filepath.Join(t.TempDir(), "demo.png")
	if p := os.Getenv("TUS_DEMO_SCREENSHOT"); p != "" {
		var err error
		if shot, err = filepath.Abs(p); err != nil {
			t.Fatal(err)
		}
	}
	res := drive(t, "pause-resume", srv, file, shot)
	reqs := rec.log()

	// The page.
	if len(res.PageErrors) > 0 || len(res.ConsoleErrors) > 0 {
		t.Errorf("the page reported errors: %q; console: %q", res.PageErrors, res.ConsoleErrors)
	}
	if len(res.Pauses) != 2 {
		t.Fatalf("%d pauses, want 2", len(res.Pauses))
	}
	uploadURL := res.Pauses[0].URL
	if !strings.HasPrefix(uploadURL, srv.URL+"/files/") {
		t.Fatalf("upload URL %q is not under %s/files/", uploadURL, srv.URL)
	}
	for i, p := range res.Pauses {
		if p.URL != uploadURL {
			t.Errorf("pause %d: upload URL %q, want the first one, %q", i+1, p.URL, uploadURL)
		}
		if !strings.Contains(p.Status, "Paused") {
			t.Errorf("pause %d: status %q does not say paused", i+1, p.Status)
		}
		if p.ServerOffset <= 0 || p.ServerOffset >= int64(len(want)) {
			t.Errorf("pause %d: the server stopped at %d of %d bytes, not in the middle", i+1, p.ServerOffset, len(want))
		}
		if p.LaterOffset != p.ServerOffset {
			t.Errorf("pause %d: the server's offset went on from %d to %d while paused", i+1, p.ServerOffset, p.LaterOffset)
		}
	}
	if !strings.Contains(res.ReloadStatus, "sent before") {
		t.Errorf("after the reload the page says %q, not that the file can go on", res.ReloadStatus)
	}
	if res.Link != uploadURL || res.LinkText != name {
		t.Errorf("download link %q (%q), want %q (%q)", res.Link, res.LinkText, uploadURL, name)
	}
	if !strings.Contains(res.FinalStatus, "complete") || res.Percent != "100%" {
		t.Errorf("at the end the page says %q, %s", res.FinalStatus, res.Percent)
	}
	if res.RememberedAfter != "" {
		t.Errorf("localStorage still holds %q after the upload completed", res.RememberedAfter)
	}

	// The requests: one upload; each pause (where drive.mjs probes) cut
	// the running PATCH short; after it the page asks for the offset with
	// HEAD and goes on from exactly there.
	var posts int
	for _, r := range reqs {
		if r.method == http.MethodPost {
			posts++
		}
	}
	if posts != 1 {
		t.Errorf("%d POST requests, want 1", posts)
	}
	resumed := 0
	for i := 0; i < len(reqs); i++ {
		if !reqs[i].probe {
			continue
		}
		if last := lastPatch(reqs[:i]); last == nil || !last.short {
			t.Errorf("pause %d did not cut the running PATCH short: %+v", resumed+1, last)
		}
		for i < len(reqs) && reqs[i].probe {
			i++
		}
		if resumed == len(res.Pauses) {
			t.Fatalf("more probing than pauses in %+v", reqs)
		}
		after := reqs[i:]
		if len(after) < 2 || after[0].method != http.MethodHead || after[1].method != http.MethodPatch {
			t.Fatalf("after pause %d the page sent %+v, want HEAD then PATCH", resumed+1, after)
		}
		if off := strconv.FormatInt(res.Pauses[resumed].ServerOffset, 10); after[1].offset != off {
			t.Errorf("after pause %d the page went on from %s, want the server's %s", resumed+1, after[1].offset, off)
		}
		resumed++
	}
	if resumed != len(res.Pauses) {
		t.Errorf("saw %d resumes in the requests, want %d: %+v", resumed, len(res.Pauses), reqs)
	}

	// The stored upload.
	if got := download(t, res.Link); !bytes.Equal(got, want) {
		t.Errorf("GET %s: %d bytes, want %d identical bytes", res.Link, len(got), len(want))
	}
	head, err := http.NewRequest(http.MethodHead, res.Link, nil)
	if err != nil {
		t.Fatal(err)
	}
	head.Header.Set("Tus-Resumable", "1.0.0")
	resp, err := http.DefaultClient.Do(head)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	meta, err := tus.ParseMetadata(resp.Header.Get("Upload-Metadata"))
	if err != nil || meta["filename"] != name {
		t.Errorf("Upload-Metadata %q: filename %q (%v), want %q", resp.Header.Get("Upload-Metadata"), meta["filename"], err, name)
	}

	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot %s: %d bytes, %v; want a PNG", shot, len(png), err)
	}
}

func lastPatch(reqs []request) *request {
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].method == http.MethodPatch {
			return &reqs[i]
		}
	}
	return nil
}

// TestBrowserRefused checks that the page shows the server's refusal: the
// status code and the server's message, with Resume to try again.
func TestBrowserRefused(t *testing.T) {
	browserTools(t)
	srv, rec := testServer(t, 1<<20, false)
	_, file := writeFile(t, "big.bin", 2<<20)
	res := drive(t, "refused", srv, file, filepath.Join(t.TempDir(), "refused.png"))
	if len(res.PageErrors) > 0 {
		t.Errorf("the page threw: %q", res.PageErrors)
	}
	const want = "Error 413: ERR_MAX_SIZE_EXCEEDED: upload exceeds the server's maximum size."
	if res.FinalStatus != want || !res.ResumeEnabled {
		t.Errorf("the page says %q (Resume enabled: %v), want %q and Resume enabled", res.FinalStatus, res.ResumeEnabled, want)
	}
	if reqs := rec.log(); len(reqs) != 1 || reqs[0].method != http.MethodPost {
		t.Errorf("requests %+v, want one POST", reqs)
	}
}

// TestBrowserNetworkError checks that the page retries a PATCH whose
// connection broke: after a pause it asks for the offset with HEAD and
// finishes the upload.
func TestBrowserNetworkError(t *testing.T) {
	browserTools(t)
	srv, rec := testServer(t, 0, true)
	want, file := writeFile(t, "flaky.bin", 3<<20+7)
	res := drive(t, "network-error", srv, file, filepath.Join(t.TempDir(), "network-error.png"))
	if len(res.PageErrors) > 0 {
		t.Errorf("the page threw: %q", res.PageErrors)
	}
	if !strings.HasPrefix(res.RetryStatus, "Network error") || !strings.Contains(res.FinalStatus, "complete") {
		t.Errorf("the page said %q, then %q", res.RetryStatus, res.FinalStatus)
	}
	// POST, the dropped PATCH (Chromium resends it on a new connection
	// before it reports the failure, so one or more), HEAD, then PATCH from
	// 0 to the end.
	reqs := rec.log()
	t.Logf("requests: %+v", reqs)
	i := 1
	for i < len(reqs) && reqs[i].drop {
		i++
	}
	if len(reqs) < 4 || reqs[0].method != http.MethodPost || i == 1 ||
		reqs[i].method != http.MethodHead || reqs[i+1].method != http.MethodPatch || reqs[i+1].offset != "0" {
		t.Errorf("requests %+v, want POST, dropped PATCH, HEAD, PATCH from 0", reqs)
	}
	if got := download(t, res.Link); !bytes.Equal(got, want) {
		t.Errorf("GET %s: %d bytes, want %d identical bytes", res.Link, len(got), len(want))
	}
}

// download returns the body of a successful GET of url.
func download(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	return b
}
