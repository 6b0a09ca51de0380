// Package clienttest checks the handler with real tus clients: tus-js-client
// in Node (this file). The test script installs the client with npm; without
// it the tests skip, unless TUS_CLIENT_TESTS=1 demands them.
package clienttest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/memorylocker"
)

// nodeClient returns the directory with tus-js-client installed, or skips.
func nodeClient(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("js")
	if err != nil {
		t.Fatal(err)
	}
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "tus-js-client"))
	if nodeErr != nil || modErr != nil {
		if os.Getenv("TUS_CLIENT_TESTS") == "1" {
			t.Fatalf("TUS_CLIENT_TESTS=1 but node or tus-js-client is missing (node: %v, module: %v); run npm ci in %s", nodeErr, modErr, dir)
		}
		t.Skip("node or tus-js-client not installed; the test script installs them")
	}
	return dir
}

// server starts a tus server on a fresh filestore.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	store, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	memorylocker.New().UseIn(composer)
	h, err := tus.NewHandler(tus.Config{StoreComposer: composer, BasePath: "/files/"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type result struct {
	URL         string `json:"url"`
	Aborted     int64  `json:"aborted"`
	ResumedFrom int64  `json:"resumedFrom"`
}

// runNode runs one scenario of upload.mjs and returns its result. protocol
// is tus-js-client's protocol option, if given.
func runNode(t *testing.T, dir, scenario, endpoint, file string, protocol ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{filepath.Join(dir, "upload.mjs"), scenario, endpoint, file}, protocol...)
	cmd := exec.CommandContext(ctx, "node", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", scenario, err, stderr.String())
	}
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("node %s printed %q: %v", scenario, out, err)
	}
	return r
}

func download(t *testing.T, url string) (int, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

func TestTusJSClient(t *testing.T) {
	runScenarios(t, "", 5<<20+123, 1, "basic", "single-request", "resume", "parallel", "deferred")
}

// TestTusJSClientIETF runs tus-js-client in its IETF draft modes:
// ietf-draft-03 speaks interop version 5, ietf-draft-05 version 6.
func TestTusJSClientIETF(t *testing.T) {
	for _, protocol := range []string{"ietf-draft-03", "ietf-draft-05"} {
		t.Run(protocol, func(t *testing.T) {
			runScenarios(t, protocol, 3<<20+77, 2, "basic", "single-request", "resume", "deferred")
		})
	}
}

// runScenarios uploads size pseudo-random bytes in each scenario with
// tus-js-client speaking protocol ("" for its default, tus 1.0), checks the
// downloads, and then terminates an upload.
func runScenarios(t *testing.T, protocol string, size int, seed int64, scenarios ...string) {
	dir := nodeClient(t)
	srv := server(t)
	want := make([]byte, size)
	rand.New(rand.NewSource(seed)).Read(want)
	file := filepath.Join(t.TempDir(), "payload.bin")
	if err := os.WriteFile(file, want, 0o600); err != nil {
		t.Fatal(err)
	}
	endpoint := srv.URL + "/files/"
	var proto []string
	if protocol != "" {
		proto = []string{protocol}
	}
	for _, scenario := range scenarios {
		t.Run(scenario, func(t *testing.T) {
			r := runNode(t, dir, scenario, endpoint, file, proto...)
			status, got := download(t, r.URL)
			if status != http.StatusOK || !bytes.Equal(got, want) {
				t.Fatalf("download after %s: status %d, %d bytes, want %d identical bytes", scenario, status, len(got), len(want))
			}
			if scenario == "resume" && (r.Aborted < 1<<20 || r.ResumedFrom < r.Aborted) {
				t.Fatalf("resume: aborted at %d, resumed from %d: the client started over", r.Aborted, r.ResumedFrom)
			}
		})
	}
	t.Run("terminate", func(t *testing.T) {
		r := runNode(t, dir, "terminate", endpoint, file, proto...)
		if status, _ := download(t, r.URL); status != http.StatusNotFound {
			t.Fatalf("GET after terminate: %d, want 404", status)
		}
	})
}
