package hooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/hooks"
)

// backendKinds are the backends the shared tests run against.
var backendKinds = []string{"file", "http"}

// hookLog returns the requests the hooks received so far.
type hookLog func() []hooks.Request

// newBackend returns a backend of the given kind with a hook for every
// type in replies, answering with the reply (raw JSON, "" for none), and a
// log of what those hooks received. File hooks are shell scripts; HTTP
// hooks an httptest endpoint (answering 200 and recording every type).
func newBackend(t *testing.T, kind string, replies map[hooks.Type]string) (hooks.Backend, hookLog) {
	t.Helper()
	switch kind {
	case "file":
		dir, logDir := t.TempDir(), t.TempDir()
		for typ, reply := range replies {
			script := "cat > '" + logDir + "/" + string(typ) + ".'$$.json\n"
			if reply != "" {
				script += "cat <<'END_OF_REPLY'\n" + reply + "\nEND_OF_REPLY\n"
			}
			writeScript(t, dir, string(typ), script)
		}
		return &hooks.FileBackend{Dir: dir, Timeout: 20 * time.Second}, func() []hooks.Request {
			return readFileLog(t, logDir)
		}
	case "http":
		var mu sync.Mutex
		var got []hooks.Request
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var req hooks.Request
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				t.Errorf("hook endpoint: decoding the request: %v", err)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			mu.Lock()
			got = append(got, req)
			mu.Unlock()
			_, _ = io.WriteString(w, replies[req.Type])
		}))
		t.Cleanup(srv.Close)
		return &hooks.HTTPBackend{URL: srv.URL, Backoff: time.Millisecond}, func() []hooks.Request {
			mu.Lock()
			defer mu.Unlock()
			return append([]hooks.Request(nil), got...)
		}
	}
	t.Fatalf("unknown backend kind %q", kind)
	return nil, nil
}

// writeScript writes an executable /bin/sh script dir/name.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	// Tests do not run in parallel and write their scripts before their
	// server starts, so no process forked meanwhile can hold the file open
	// for writing (which would make running it fail with ETXTBSY).
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// readFileLog decodes the requests recorded by file hooks; files still
// being written are skipped.
func readFileLog(t *testing.T, dir string) []hooks.Request {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got []hooks.Request
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var req hooks.Request
		if json.Unmarshal(raw, &req) == nil {
			got = append(got, req)
		}
	}
	return got
}

// ofType returns the requests of type typ.
func ofType(reqs []hooks.Request, typ hooks.Type) []hooks.Request {
	var out []hooks.Request
	for _, r := range reqs {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// waitFor polls cond until it holds, failing the test after a generous
// timeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// invocation is one call of Config.OnInvoke.
type invocation struct {
	typ hooks.Type
	err error
}

// env is a tusd-like server with hooks: a tus.Handler over a filestore
// behind httptest.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	h     *tus.Handler
	store *filestore.FileStore
	d     *hooks.Dispatcher
	logs  *syncBuffer

	mu      sync.Mutex
	invoked []invocation
}

// newEnv starts a server whose hooks are dispatched per cfg (OnInvoke and
// Logger are set by newEnv); mod, if not nil, adjusts the handler's config.
func newEnv(t *testing.T, cfg hooks.Config, mod func(*tus.Config)) *env {
	t.Helper()
	e := &env{t: t, logs: &syncBuffer{}}
	cfg.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.OnInvoke = func(typ hooks.Type, err error) {
		e.mu.Lock()
		e.invoked = append(e.invoked, invocation{typ, err})
		e.mu.Unlock()
	}
	if fb, ok := cfg.Backend.(*hooks.FileBackend); ok {
		fb.Logger = cfg.Logger
	}
	d, err := hooks.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.d = d

	dir := t.TempDir()
	store, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	locker, err := filestore.NewLocker(dir)
	if err != nil {
		t.Fatal(err)
	}
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	locker.UseIn(composer)
	e.store = store
	tc := tus.Config{StoreComposer: composer, BasePath: "/files/", Logger: cfg.Logger}
	if mod != nil {
		mod(&tc)
	}
	d.Configure(&tc)
	h, err := tus.NewHandler(tc)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	if err := d.Start(h); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", h))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		e.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// invocations returns the calls of OnInvoke so far.
func (e *env) invocations() []invocation {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]invocation(nil), e.invoked...)
}

// failures returns how many invocations of typ failed.
func (e *env) failures(typ hooks.Type) int {
	n := 0
	for _, inv := range e.invocations() {
		if inv.typ == typ && inv.err != nil {
			n++
		}
	}
	return n
}

// response is a finished client request.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a tus request to the server; path is relative to /files/.
func (e *env) do(method, path string, body io.Reader, hdr map[string]string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+"/files/"+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", tus.TusVersion)
	if body != nil {
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, string(raw)}
}

// create creates an upload of the given length and returns its ID.
func (e *env) create(length string, hdr map[string]string) string {
	e.t.Helper()
	h := map[string]string{"Upload-Length": length}
	for k, v := range hdr {
		h[k] = v
	}
	res := e.do(http.MethodPost, "", nil, h)
	if res.status != http.StatusCreated {
		e.t.Fatalf("POST: status %d, body %q", res.status, res.body)
	}
	return idFromLocation(e.t, res.header.Get("Location"))
}

// patch writes data at offset 0.
func (e *env) patch(id, data string) response {
	e.t.Helper()
	return e.do(http.MethodPatch, id, strings.NewReader(data), map[string]string{"Upload-Offset": "0"})
}

// info returns the stored state of upload id, or an error wrapping
// tus.ErrNotFound.
func (e *env) info(id string) (tus.FileInfo, error) {
	ctx := context.Background()
	up, err := e.store.GetUpload(ctx, id)
	if err != nil {
		return tus.FileInfo{}, err
	}
	return up.GetInfo(ctx)
}

// mustBeGone fails unless upload id does not exist.
func (e *env) mustBeGone(id string) {
	e.t.Helper()
	if _, err := e.info(id); !errors.Is(err, tus.ErrNotFound) {
		e.t.Errorf("upload %s: want it gone, got err %v", id, err)
	}
}

// idFromLocation returns the last path segment of a Location header.
func idFromLocation(t *testing.T, loc string) string {
	t.Helper()
	i := strings.LastIndex(loc, "/")
	if loc == "" || i == len(loc)-1 {
		t.Fatalf("bad Location %q", loc)
	}
	return loc[i+1:]
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// check fails the test if got != want.
func check[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// contains fails the test unless s contains sub.
func contains(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s: %q does not contain %q", what, s, sub)
	}
}

// filepathGlob lists the files of dir matching pattern.
func filepathGlob(dir, pattern string) ([]string, error) {
	return filepath.Glob(filepath.Join(dir, pattern))
}
