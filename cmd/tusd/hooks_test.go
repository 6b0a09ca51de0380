package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hookCall is one hook request as a backend received it.
type hookCall struct {
	Type  string
	Event struct {
		Expired bool
		Upload  struct {
			ID       string
			Size     int64
			Offset   int64
			MetaData map[string]string
		}
		HTTPRequest struct {
			Method string
			URI    string
			Header map[string][]string
		}
		Access *struct {
			Mode   string
			Action string
		}
	}
}

// hookScript is one file hook for every event. It keeps each request in
// the log directory and answers by the upload's file name:
//   - reject.bin: pre-create rejects with 403 and its own body;
//   - rename.bin: pre-create changes the ID and the metadata;
//   - fail.bin: pre-create fails (exit 1);
//   - stop.bin: post-receive stops the upload with 422.
const hookScript = `#!/bin/sh
in=$(cat)
name=$(basename "$0")
printf '%s\n' "$in" > "LOGDIR/$name.$$.json"
case "$name" in
pre-create)
	case "$in" in
	*'"filename":"reject.bin"'*) echo '{"RejectUpload":true,"HTTPResponse":{"StatusCode":403,"Body":"quota exceeded for this user"}}' ;;
	*'"filename":"rename.bin"'*) echo '{"ChangeFileInfo":{"ID":"renamed-by-hook","MetaData":{"filename":"renamed.bin","owner":"hook"}},"HTTPResponse":{"Header":{"X-Hook":"pre-create"}}}' ;;
	*'"filename":"fail.bin"'*) echo "secret-hook-diagnostics" >&2; exit 1 ;;
	esac ;;
post-receive)
	case "$in" in
	*'"filename":"stop.bin"'*) echo '{"StopUpload":true,"HTTPResponse":{"StatusCode":422,"Body":"stopped by the post-receive hook"}}' ;;
	esac ;;
esac
exit 0
`

// allHooks enables every event.
const allHooks = "pre-create,post-create,post-receive,pre-finish,post-finish,pre-terminate,post-terminate,pre-access"

// fileHooks writes hookScript for every event into a new directory and
// returns the tusd flags and a function returning the calls so far.
func fileHooks(t *testing.T) ([]string, func() []hookCall) {
	t.Helper()
	dir, logDir := t.TempDir(), t.TempDir()
	script := strings.ReplaceAll(hookScript, "LOGDIR", logDir)
	for _, name := range strings.Split(allHooks, ",") {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755))
	}
	calls := func() []hookCall {
		entries, err := os.ReadDir(logDir)
		require.NoError(t, err)
		var out []hookCall
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(logDir, e.Name()))
			require.NoError(t, err)
			var c hookCall
			if json.Unmarshal(b, &c) == nil { // a file being written is read next time
				out = append(out, c)
			}
		}
		return out
	}
	return []string{"-hooks-dir", dir, "-hooks-enabled-events", allHooks, "-progress-hooks-interval", "10ms"}, calls
}

// httpHooks starts a hook endpoint that answers like hookScript (failing
// with 503 where the script exits 1) and returns the tusd flags and a
// function returning the calls so far.
func httpHooks(t *testing.T) ([]string, func() []hookCall) {
	t.Helper()
	var mu sync.Mutex
	var calls []hookCall
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var c hookCall
		if err := json.Unmarshal(b, &c); err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad hook request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		calls = append(calls, c)
		mu.Unlock()
		name := c.Event.Upload.MetaData["filename"]
		switch {
		case c.Type == "pre-create" && name == "reject.bin":
			io.WriteString(w, `{"RejectUpload":true,"HTTPResponse":{"StatusCode":403,"Body":"quota exceeded for this user"}}`)
		case c.Type == "pre-create" && name == "rename.bin":
			io.WriteString(w, `{"ChangeFileInfo":{"ID":"renamed-by-hook","MetaData":{"filename":"renamed.bin","owner":"hook"}},"HTTPResponse":{"Header":{"X-Hook":"pre-create"}}}`)
		case c.Type == "pre-create" && name == "fail.bin":
			http.Error(w, "secret-hook-diagnostics", http.StatusServiceUnavailable)
		case c.Type == "post-receive" && name == "stop.bin":
			io.WriteString(w, `{"StopUpload":true,"HTTPResponse":{"StatusCode":422,"Body":"stopped by the post-receive hook"}}`)
		}
	}))
	t.Cleanup(srv.Close)
	get := func() []hookCall {
		mu.Lock()
		defer mu.Unlock()
		return append([]hookCall(nil), calls...)
	}
	return []string{"-hooks-http", srv.URL + "/hook", "-hooks-http-retry", "2", "-hooks-http-backoff", "10ms",
		"-hooks-http-forward-headers", "Authorization", "-hooks-enabled-events", allHooks, "-progress-hooks-interval", "10ms"}, get
}

// metadata encodes Upload-Metadata with a file name.
func metadata(filename string) string {
	return "filename " + b64(filename)
}

// TestHooks runs every hook event and the hook replies through the real
// binary, with file hooks and with HTTP hooks.
func TestHooks(t *testing.T) {
	for _, backend := range []struct {
		name  string
		setup func(t *testing.T) ([]string, func() []hookCall)
	}{
		{"file", fileHooks},
		{"http", httpHooks},
	} {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			args, calls := backend.setup(t)
			p, dir := startLocal(t, args...)
			callsOf := func(typ, id string) []hookCall {
				var out []hookCall
				for _, c := range calls() {
					if c.Type == typ && (id == "" || c.Event.Upload.ID == id) {
						out = append(out, c)
					}
				}
				return out
			}
			waitCalls := func(typ, id string) []hookCall {
				t.Helper()
				require.Eventually(t, func() bool { return len(callsOf(typ, id)) > 0 }, 20*time.Second, 10*time.Millisecond,
					"no %s hook for %q", typ, id)
				return callsOf(typ, id)
			}

			t.Run("every event", func(t *testing.T) {
				data := randomBytes(5000, 9)
				res, body := tusDo(t, http.MethodPost, p.base, nil, "Upload-Length", "5000",
					"Upload-Metadata", metadata("report.pdf"), "Authorization", "Bearer token-1")
				require.Equal(t, http.StatusCreated, res.StatusCode, "%s", body)
				u := res.Header.Get("Location")
				id := path.Base(u)
				patch(t, u, 0, data)
				assert.Equal(t, 5000, headOffset(t, u))
				res, _ = tusDo(t, http.MethodDelete, u, nil)
				require.Equal(t, http.StatusNoContent, res.StatusCode)

				pre := waitCalls("pre-create", "")
				var sawCreate bool
				for _, c := range pre {
					if c.Event.Upload.MetaData["filename"] == "report.pdf" {
						sawCreate = true
						assert.Equal(t, int64(5000), c.Event.Upload.Size)
						assert.Equal(t, "POST", c.Event.HTTPRequest.Method)
					}
				}
				assert.True(t, sawCreate, "pre-create with the metadata")
				for _, typ := range []string{"post-create", "post-receive", "pre-finish", "post-finish", "pre-terminate", "post-terminate", "pre-access"} {
					c := waitCalls(typ, id)[0]
					assert.Equal(t, "report.pdf", c.Event.Upload.MetaData["filename"], typ)
				}
				fin := waitCalls("post-finish", id)[0]
				assert.Equal(t, int64(5000), fin.Event.Upload.Offset)
				assert.Equal(t, "PATCH", fin.Event.HTTPRequest.Method)
				assert.Equal(t, "DELETE", waitCalls("post-terminate", id)[0].Event.HTTPRequest.Method)
				modes := map[string]string{}
				for _, c := range callsOf("pre-access", id) {
					require.NotNil(t, c.Event.Access, "pre-access carries Access")
					modes[c.Event.HTTPRequest.Method] = c.Event.Access.Mode
				}
				assert.Equal(t, map[string]string{"POST": "write", "HEAD": "read", "PATCH": "write", "DELETE": "write"}, modes)
				if backend.name == "http" {
					assert.Equal(t, []string{"Bearer token-1"}, pre[0].Event.HTTPRequest.Header["Authorization"], "the event carries the request's headers")
				}
			})

			t.Run("pre-create rejects", func(t *testing.T) {
				res, body := tusDo(t, http.MethodPost, p.base, nil, "Upload-Length", "10", "Upload-Metadata", metadata("reject.bin"))
				assert.Equal(t, http.StatusForbidden, res.StatusCode)
				assert.Equal(t, "quota exceeded for this user", strings.TrimSpace(string(body)))
				assert.Empty(t, res.Header.Get("Location"))
			})

			t.Run("pre-create changes ID and metadata", func(t *testing.T) {
				res, body := tusDo(t, http.MethodPost, p.base, nil, "Upload-Length", "3", "Upload-Metadata", metadata("rename.bin"))
				require.Equal(t, http.StatusCreated, res.StatusCode, "%s", body)
				assert.Equal(t, p.base+"renamed-by-hook", res.Header.Get("Location"))
				assert.Equal(t, "pre-create", res.Header.Get("X-Hook"), "the hook's header reaches the client")
				patch(t, p.base+"renamed-by-hook", 0, []byte("abc"))
				stored, err := os.ReadFile(filepath.Join(dir, "renamed-by-hook"))
				require.NoError(t, err)
				assert.Equal(t, "abc", string(stored))
				res, _ = tusDo(t, http.MethodHead, p.base+"renamed-by-hook", nil)
				md := res.Header.Get("Upload-Metadata")
				assert.Contains(t, md, "filename "+b64("renamed.bin"))
				assert.Contains(t, md, "owner "+b64("hook"))
			})

			t.Run("post-receive stops the upload", func(t *testing.T) {
				res, body := tusDo(t, http.MethodPost, p.base, nil, "Upload-Length", "1000000", "Upload-Metadata", metadata("stop.bin"))
				require.Equal(t, http.StatusCreated, res.StatusCode, "%s", body)
				u := res.Header.Get("Location")
				pw, done := streamPatch(t, u, 1000000)
				_, err := pw.Write(randomBytes(50_000, 10)) // then the body stalls: only the hook ends it
				require.NoError(t, err)
				// Only the hook ends the PATCH (a HEAD meanwhile would take
				// the upload over and end it first).
				var a patchAnswer
				select {
				case a = <-done:
				case <-time.After(20 * time.Second):
					pw.Close()
					t.Fatal("the post-receive hook did not stop the PATCH")
				}
				pw.Close()
				if a.err == nil { // a client still sending may miss the answer
					assert.Equal(t, http.StatusUnprocessableEntity, a.status)
					assert.Equal(t, "stopped by the post-receive hook", strings.TrimSpace(a.body))
				} else {
					assert.Regexp(t, `method=PATCH path=/files/`+path.Base(u)+` status=422 `, p.logs.String(), "the server's answer")
				}
				res, _ = tusDo(t, http.MethodHead, u, nil)
				assert.Equal(t, http.StatusNotFound, res.StatusCode, "the stopped upload is terminated")
				waitCalls("post-terminate", path.Base(u))
			})

			t.Run("failing hook", func(t *testing.T) {
				before := len(callsOf("pre-create", ""))
				res, body := tusDo(t, http.MethodPost, p.base, nil, "Upload-Length", "10", "Upload-Metadata", metadata("fail.bin"))
				assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
				assert.NotContains(t, string(body), "secret-hook-diagnostics", "hook output must not reach the client")
				attempts := len(callsOf("pre-create", "")) - before
				if backend.name == "http" {
					assert.Equal(t, 3, attempts, "-hooks-http-retry 2: three attempts")
				} else {
					assert.Equal(t, 1, attempts)
				}
				m := scrape(t, p.base)
				assert.Equal(t, 1.0, metricValue(m, "tusd_hook_failures_total", "hooktype", "pre-create"))
				assert.GreaterOrEqual(t, metricValue(m, "tusd_hook_invocations_total", "hooktype", "pre-create"), 4.0)
				assert.Contains(t, p.logs.String(), "hook failed")
			})
		})
	}
}

// TestHTTPHookRecovers retries a hook endpoint that fails twice and then
// answers: the upload is created, and nothing counts as failed.
func TestHTTPHookRecovers(t *testing.T) {
	var mu sync.Mutex
	var attempts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c hookCall
		_ = json.NewDecoder(r.Body).Decode(&c)
		mu.Lock()
		attempts = append(attempts, c.Type)
		n := len(attempts)
		mu.Unlock()
		if n <= 2 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		io.WriteString(w, `{"HTTPResponse":{"Header":{"X-Attempt":"third"}}}`)
	}))
	defer srv.Close()
	p, _ := startLocal(t, "-hooks-http", srv.URL, "-hooks-http-retry", "3", "-hooks-http-backoff", "50ms", "-hooks-enabled-events", "pre-create")
	res, body := tusDo(t, http.MethodPost, p.base, nil, "Upload-Length", "1")
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", body)
	assert.Equal(t, "third", res.Header.Get("X-Attempt"))
	mu.Lock()
	got := append([]string(nil), attempts...)
	mu.Unlock()
	sort.Strings(got)
	assert.Equal(t, []string{"pre-create", "pre-create", "pre-create"}, got)
	m := scrape(t, p.base)
	assert.Equal(t, 1.0, metricValue(m, "tusd_hook_invocations_total", "hooktype", "pre-create"))
	assert.Equal(t, -1.0, metricValue(m, "tusd_hook_failures_total", "hooktype", "pre-create"))
}

// b64 is the base64 of s, as Upload-Metadata carries values.
func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
