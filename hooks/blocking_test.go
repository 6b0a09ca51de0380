package hooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/hooks"
)

// TestPreCreateReject rejects creations with the hook's response and with
// the default one; nothing is created.
func TestPreCreateReject(t *testing.T) {
	for _, kind := range backendKinds {
		for _, tc := range []struct {
			name, reply string
			status      int
			body        string
			header      string
		}{
			{"custom", `{"RejectUpload":true,"HTTPResponse":{"StatusCode":403,"Body":"no uploads today","Header":{"X-Why":"policy"}}}`, 403, "no uploads today", "policy"},
			{"default", `{"RejectUpload":true}`, 400, "ERR_UPLOAD_REJECTED: upload creation was rejected by the server", ""},
			{"body only", `{"RejectUpload":true,"HTTPResponse":{"Body":"name your file"}}`, 400, "name your file", ""},
		} {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				backend, _ := newBackend(t, kind, map[hooks.Type]string{hooks.PreCreate: tc.reply, hooks.PostCreate: ""})
				e := newEnv(t, hooks.Config{Backend: backend, Enabled: hooks.DefaultEnabled()}, nil)
				res := e.do(http.MethodPost, "", nil, map[string]string{"Upload-Length": "3"})
				check(t, "status", res.status, tc.status)
				contains(t, "body", res.body, tc.body)
				check(t, "X-Why", res.header.Get("X-Why"), tc.header)
				check(t, "Location", res.header.Get("Location"), "")
				entries, err := filepathGlob(e.store.Dir(), "*.info")
				if err != nil || len(entries) != 0 {
					t.Errorf("uploads stored after a rejection: %v %v", entries, err)
				}
				check(t, "failures", e.failures(hooks.PreCreate), 0)
			})
		}
	}
}

// TestPreCreateChange changes the ID and the metadata; they land in the
// store, the hook's header reaches the 201, and Storage is ignored with a
// warning.
func TestPreCreateChange(t *testing.T) {
	for _, kind := range backendKinds {
		t.Run(kind, func(t *testing.T) {
			reply := `{"ChangeFileInfo":{"ID":"chosen-id","MetaData":{"owner":"alice"},"Storage":{"Path":"/elsewhere"}},"HTTPResponse":{"Header":{"X-Created-By":"hook"}}}`
			backend, log := newBackend(t, kind, map[hooks.Type]string{hooks.PreCreate: reply, hooks.PostCreate: ""})
			e := newEnv(t, hooks.Config{Backend: backend, Enabled: hooks.DefaultEnabled()}, nil)
			res := e.do(http.MethodPost, "", nil, map[string]string{"Upload-Length": "3", "Upload-Metadata": "filename YQ=="})
			check(t, "status", res.status, http.StatusCreated)
			check(t, "ID", idFromLocation(t, res.header.Get("Location")), "chosen-id")
			check(t, "X-Created-By", res.header.Get("X-Created-By"), "hook")
			info, err := e.info("chosen-id")
			if err != nil {
				t.Fatal(err)
			}
			check(t, "stored metadata", reflect.DeepEqual(info.MetaData, tus.MetaData{"owner": "alice"}), true)
			waitFor(t, "post-create", func() bool { return len(ofType(log(), hooks.PostCreate)) == 1 })
			check(t, "post-create ID", ofType(log(), hooks.PostCreate)[0].Event.Upload.ID, "chosen-id")
			contains(t, "log", e.logs.String(), "Storage, which is not supported")
		})
	}
}

// TestPostReceiveStopUpload stops a PATCH whose body stalls: the client
// gets the hook's response and the upload is gone.
func TestPostReceiveStopUpload(t *testing.T) {
	for _, kind := range backendKinds {
		t.Run(kind, func(t *testing.T) {
			reply := `{"StopUpload":true,"HTTPResponse":{"StatusCode":422,"Body":"over quota"}}`
			backend, log := newBackend(t, kind, map[hooks.Type]string{hooks.PostReceive: reply})
			e := newEnv(t, hooks.Config{Backend: backend, Enabled: []hooks.Type{hooks.PostReceive}},
				func(c *tus.Config) { c.ProgressInterval = time.Nanosecond })
			id := e.create("1000", nil)

			// The body sends 10 bytes and then stalls: only the stop ends it.
			pr, pw := io.Pipe()
			defer pw.Close()
			go func() { _, _ = pw.Write([]byte("0123456789")) }()
			req, err := http.NewRequest(http.MethodPatch, e.srv.URL+"/files/"+id, pr)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = 1000
			req.Header.Set("Tus-Resumable", tus.TusVersion)
			req.Header.Set("Content-Type", "application/offset+octet-stream")
			req.Header.Set("Upload-Offset", "0")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			check(t, "status", res.StatusCode, 422)
			contains(t, "body", string(body), "over quota")
			e.mustBeGone(id)
			check(t, "post-receive offset", ofType(log(), hooks.PostReceive)[0].Event.Upload.Offset > 0, true)
		})
	}
}

// TestPreTerminateReject refuses deletions; the upload stays.
func TestPreTerminateReject(t *testing.T) {
	for _, kind := range backendKinds {
		for _, tc := range []struct {
			name, reply string
			status      int
			body        string
		}{
			{"custom", `{"RejectTermination":true,"HTTPResponse":{"StatusCode":409,"Body":"still in use"}}`, 409, "still in use"},
			{"default", `{"RejectTermination":true}`, 400, "ERR_UPLOAD_TERMINATION_REJECTED"},
		} {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				backend, _ := newBackend(t, kind, map[hooks.Type]string{hooks.PreTerminate: tc.reply})
				e := newEnv(t, hooks.Config{Backend: backend, Enabled: []hooks.Type{hooks.PreTerminate}}, nil)
				id := e.create("3", nil)
				res := e.do(http.MethodDelete, id, nil, nil)
				check(t, "status", res.status, tc.status)
				contains(t, "body", res.body, tc.body)
				if _, err := e.info(id); err != nil {
					t.Errorf("the upload is gone: %v", err)
				}
			})
		}
	}
}

// TestPreTerminateMerge merges an accepting hook's header into the 204.
func TestPreTerminateMerge(t *testing.T) {
	backend, _ := newBackend(t, "http", map[hooks.Type]string{hooks.PreTerminate: `{"HTTPResponse":{"Header":{"X-Bye":"1"}}}`})
	e := newEnv(t, hooks.Config{Backend: backend, Enabled: []hooks.Type{hooks.PreTerminate}}, nil)
	id := e.create("3", nil)
	res := e.do(http.MethodDelete, id, nil, nil)
	check(t, "status", res.status, http.StatusNoContent)
	check(t, "X-Bye", res.header.Get("X-Bye"), "1")
	e.mustBeGone(id)
}

// TestPreAccessReject refuses creation and access to an existing upload,
// with the hook's status and with the default 403.
func TestPreAccessReject(t *testing.T) {
	for _, kind := range backendKinds {
		for _, tc := range []struct {
			name, reply string
			status      int
			body        string
			header      string // WWW-Authenticate of the refusal
		}{
			{"custom", `{"RejectAccess":true,"HTTPResponse":{"StatusCode":401,"Body":"log in first"}}`, 401, "ERR_ACCESS_DENIED: log in first", ""},
			{"default", `{"RejectAccess":true}`, 403, "ERR_ACCESS_DENIED: access denied", ""},
			{"header", `{"RejectAccess":true,"HTTPResponse":{"StatusCode":401,"Header":{"WWW-Authenticate":"Bearer realm=\"uploads\""}}}`,
				401, "ERR_ACCESS_DENIED: access denied", `Bearer realm="uploads"`},
		} {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				backend, log := newBackend(t, kind, map[hooks.Type]string{hooks.PreAccess: tc.reply})
				e := newEnv(t, hooks.Config{Backend: backend, Enabled: []hooks.Type{hooks.PreAccess}}, nil)
				res := e.do(http.MethodPost, "", nil, map[string]string{"Upload-Length": "3"})
				check(t, "POST status", res.status, tc.status)
				contains(t, "POST body", res.body, tc.body)
				check(t, "POST WWW-Authenticate", res.header.Get("WWW-Authenticate"), tc.header)

				// An upload made behind the handler's back.
				if _, err := e.store.NewUpload(context.Background(), tus.FileInfo{ID: "existing", Size: 3}); err != nil {
					t.Fatal(err)
				}
				res = e.do(http.MethodGet, "existing", nil, nil)
				check(t, "GET status", res.status, tc.status)
				contains(t, "GET body", res.body, tc.body)
				check(t, "GET WWW-Authenticate", res.header.Get("WWW-Authenticate"), tc.header)
				res = e.do(http.MethodPatch, "existing", strings.NewReader("abc"), map[string]string{"Upload-Offset": "0"})
				check(t, "PATCH status", res.status, tc.status)
				info, err := e.info("existing")
				if err != nil || info.Offset != 0 {
					t.Errorf("refused PATCH wrote: offset %d, err %v", info.Offset, err)
				}
				modes := make(map[string]bool)
				for _, r := range ofType(log(), hooks.PreAccess) {
					modes[r.Event.Access.Mode] = true
				}
				check(t, "read mode seen", modes[hooks.ModeRead], true)
				check(t, "write mode seen", modes[hooks.ModeWrite], true)
			})
		}
	}
}

// TestPreFinishMerge merges the pre-finish hook's header into the response
// of the PATCH that completes the upload.
func TestPreFinishMerge(t *testing.T) {
	for _, kind := range backendKinds {
		t.Run(kind, func(t *testing.T) {
			backend, _ := newBackend(t, kind, map[hooks.Type]string{hooks.PreFinish: `{"HTTPResponse":{"Header":{"X-Checked":"yes"}}}`})
			e := newEnv(t, hooks.Config{Backend: backend, Enabled: []hooks.Type{hooks.PreFinish}}, nil)
			id := e.create("4", nil)
			res := e.patch(id, "data")
			check(t, "status", res.status, http.StatusNoContent)
			check(t, "X-Checked", res.header.Get("X-Checked"), "yes")
			check(t, "Upload-Offset", res.header.Get("Upload-Offset"), "4")
		})
	}
}

// TestPreFinishFailureRetried fails the pre-finish hook once: the PATCH
// answers 500 without the hook's output, and the next HEAD runs the hook
// again and succeeds. (HEAD does not merge the hook's response: the core's
// choice.)
func TestPreFinishFailureRetried(t *testing.T) {
	dir := t.TempDir()
	marker := dir + "/failed-once"
	writeScript(t, dir, string(hooks.PreFinish), `cat >/dev/null
if [ ! -e '`+marker+`' ]; then : > '`+marker+`'; echo "disk on fire" >&2; exit 1; fi
`)
	e := newEnv(t, hooks.Config{Backend: &hooks.FileBackend{Dir: dir}, Enabled: []hooks.Type{hooks.PreFinish}}, nil)
	id := e.create("4", nil)
	res := e.patch(id, "data")
	check(t, "PATCH status", res.status, http.StatusInternalServerError)
	if strings.Contains(res.body, "disk on fire") || strings.Contains(res.body, "exit status") {
		t.Errorf("hook output leaked to the client: %q", res.body)
	}
	res = e.do(http.MethodHead, id, nil, nil)
	check(t, "HEAD status", res.status, http.StatusOK)
	check(t, "pre-finish runs", len(e.invocations()), 2)
	check(t, "failures", e.failures(hooks.PreFinish), 1)
	contains(t, "log", e.logs.String(), "disk on fire")
}

// TestPreAccessFailure: a failing pre-access hook fails the request with
// 500, not with the 403 of a refusal.
func TestPreAccessFailure(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, string(hooks.PreAccess), "echo 'secret' >&2\nexit 3\n")
	e := newEnv(t, hooks.Config{Backend: &hooks.FileBackend{Dir: dir}, Enabled: []hooks.Type{hooks.PreAccess}}, nil)
	res := e.do(http.MethodPost, "", nil, map[string]string{"Upload-Length": "3"})
	check(t, "status", res.status, http.StatusInternalServerError)
	if strings.Contains(res.body, "secret") || strings.Contains(res.body, "exit status") {
		t.Errorf("hook details leaked to the client: %q", res.body)
	}
	check(t, "failures", e.failures(hooks.PreAccess), 1)
	contains(t, "log", e.logs.String(), "exit status 3")
}

// TestInvalidStatusFails: a reply with an impossible HTTP status is a
// failing hook, not a crash.
func TestInvalidStatusFails(t *testing.T) {
	backend, _ := newBackend(t, "http", map[hooks.Type]string{hooks.PreCreate: `{"RejectUpload":true,"HTTPResponse":{"StatusCode":42}}`})
	e := newEnv(t, hooks.Config{Backend: backend, Enabled: []hooks.Type{hooks.PreCreate}}, nil)
	res := e.do(http.MethodPost, "", nil, map[string]string{"Upload-Length": "3"})
	check(t, "status", res.status, http.StatusInternalServerError)
	check(t, "failures", e.failures(hooks.PreCreate), 1)
	contains(t, "log", e.logs.String(), "invalid HTTP status 42")
}

// TestPostReceiveStopsLate answers a post-receive with StopUpload only
// after its PATCH has ended: the upload is terminated all the same.
func TestPostReceiveStopsLate(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req hooks.Request
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.Type == hooks.PostReceive {
			<-release // until the PATCH has been answered
			_, _ = io.WriteString(w, `{"StopUpload":true}`)
		}
	}))
	defer srv.Close()
	defer close(release)
	e := newEnv(t, hooks.Config{Backend: &hooks.HTTPBackend{URL: srv.URL}, Enabled: []hooks.Type{hooks.PostReceive}},
		func(c *tus.Config) { c.ProgressInterval = time.Nanosecond })
	id := e.create("5", nil)
	check(t, "PATCH status", e.patch(id, "hello").status, http.StatusNoContent)
	release <- struct{}{}
	waitFor(t, "the upload is terminated", func() bool {
		_, err := e.info(id)
		return errors.Is(err, tus.ErrNotFound)
	})
	waitFor(t, "the termination is logged", func() bool {
		return strings.Contains(e.logs.String(), "after its request ended: terminated")
	})
}
