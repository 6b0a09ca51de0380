package filestore_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/memorylocker"
)

// newServer serves a handler over a FileStore in dir with a MemoryLocker
// at /files/.
func newServer(t *testing.T, dir string) *httptest.Server {
	t.Helper()
	store, err := filestore.New(dir)
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
	srv := httptest.NewServer(http.StripPrefix("/files/", h))
	t.Cleanup(srv.Close)
	return srv
}

// do sends a tus request and returns the response with its body read.
func do(t *testing.T, method, url string, hdr map[string]string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestCorruptUploadOverHTTP damages an upload's record behind the
// handler's back: HEAD, PATCH and GET answer 500 ERR_UPLOAD_CORRUPT, and
// DELETE answers 204 and removes every file of the upload.
func TestCorruptUploadOverHTTP(t *testing.T) {
	tests := []struct {
		name string
		info string // written over the info file; "" leaves it
		drop bool   // remove the data file
	}{
		{name: "truncated", info: `{"ID":"%s","Size":5,"Me`},
		{name: "garbage", info: "\x00garbage"},
		{name: "negative size", info: `{"ID":"%s","Size":-5}`},
		{name: "partial and final", info: `{"ID":"%s","Size":5,"IsPartial":true,"IsFinal":true,"PartialUploads":["a"]}`},
		{name: "info without data", drop: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			srv := newServer(t, dir)
			resp, _ := do(t, http.MethodPost, srv.URL+"/files/", map[string]string{"Upload-Length": "5"}, nil)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("POST: %s", resp.Status)
			}
			url := resp.Header.Get("Location")
			id := url[strings.LastIndexByte(url, '/')+1:]
			resp, _ = do(t, http.MethodPatch, url, map[string]string{
				"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}, strings.NewReader("he"))
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("PATCH: %s", resp.Status)
			}
			if tt.info != "" {
				content := strings.ReplaceAll(tt.info, "%s", id)
				if err := os.WriteFile(filepath.Join(dir, id+".info"), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tt.drop {
				if err := os.Remove(filepath.Join(dir, id)); err != nil {
					t.Fatal(err)
				}
			}

			resp, _ = do(t, http.MethodHead, url, nil, nil)
			if resp.StatusCode != http.StatusInternalServerError {
				t.Errorf("HEAD: %s, want 500", resp.Status)
			}
			resp, body := do(t, http.MethodPatch, url, map[string]string{
				"Upload-Offset": "2", "Content-Type": "application/offset+octet-stream"}, strings.NewReader("llo"))
			if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "ERR_UPLOAD_CORRUPT") {
				t.Errorf("PATCH: %s %q, want 500 ERR_UPLOAD_CORRUPT", resp.Status, body)
			}
			resp, body = do(t, http.MethodGet, url, nil, nil)
			if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "ERR_UPLOAD_CORRUPT") {
				t.Errorf("GET: %s %q, want 500 ERR_UPLOAD_CORRUPT", resp.Status, body)
			}
			resp, body = do(t, http.MethodDelete, url, nil, nil)
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DELETE: %s %q, want 204", resp.Status, body)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				t.Errorf("DELETE left %q", e.Name())
			}
			resp, _ = do(t, http.MethodHead, url, nil, nil)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("HEAD after DELETE: %s, want 404", resp.Status)
			}
		})
	}
}
