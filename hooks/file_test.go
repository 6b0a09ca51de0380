package hooks_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tusgo/tus/hooks"
)

// TestFileHookFailures makes pre-create fail in every way a program can:
// the request fails with 500, the hook's output does not reach the client,
// and the failure is logged and counted.
func TestFileHookFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		cause string
	}{
		{"exit 1", func(t *testing.T, dir string) {
			writeScript(t, dir, "pre-create", "echo 'secret detail' >&2\necho '{\"RejectUpload\":false}'\nexit 1\n")
		}, "exit status 1"},
		{"invalid JSON", func(t *testing.T, dir string) {
			writeScript(t, dir, "pre-create", "echo 'secret detail, not JSON'\n")
		}, "invalid hook response"},
		{"missing interpreter", func(t *testing.T, dir string) {
			path := filepath.Join(dir, "pre-create")
			if err := os.WriteFile(path, []byte("#!/nonexistent/interpreter\nsecret detail\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, "no such file"},
		{"not executable", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "pre-create"), []byte("#!/bin/sh\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not an executable file"},
		{"directory", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "pre-create"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, "not an executable file"},
		{"too much output", func(t *testing.T, dir string) {
			writeScript(t, dir, "pre-create", "i=0; while [ $i -lt 200 ]; do echo '                    '; i=$((i+1)); done\necho '{}'\n")
		}, "stdout exceeds 1000 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			e := newEnv(t, hooks.Config{Backend: &hooks.FileBackend{Dir: dir, MaxOutput: 1000}, Enabled: hooks.DefaultEnabled()}, nil)
			res := e.do(http.MethodPost, "", nil, map[string]string{"Upload-Length": "3"})
			check(t, "status", res.status, http.StatusInternalServerError)
			contains(t, "body", res.body, "request ID")
			if strings.Contains(res.body, "secret") || strings.Contains(res.body, "pre-create") {
				t.Errorf("hook details leaked to the client: %q", res.body)
			}
			check(t, "failures", e.failures(hooks.PreCreate), 1)
			logs := e.logs.String()
			contains(t, "log", logs, "hook failed")
			contains(t, "log", logs, "hook=pre-create")
			contains(t, "log", logs, "upload_id=")
			contains(t, "log", logs, tc.cause)
		})
	}
}

// TestFileHookMissing: without a program for an event, the event is
// accepted and not counted as an invocation.
func TestFileHookMissing(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "post-finish", "cat >/dev/null\n")
	e := newEnv(t, hooks.Config{Backend: &hooks.FileBackend{Dir: dir}, Enabled: hooks.AllTypes()}, nil)
	id := e.create("1", nil)
	check(t, "PATCH status", e.patch(id, "x").status, http.StatusNoContent)
	waitFor(t, "post-finish", func() bool { return len(e.invocations()) == 1 })
	e.srv.Close()
	if err := e.d.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	invs := e.invocations()
	if len(invs) != 1 || invs[0].typ != hooks.PostFinish || invs[0].err != nil {
		t.Errorf("invocations: %+v, want one successful post-finish", invs)
	}
}

// TestFileHookEnvironmentAndStderr checks the TUS_* variables and that
// stderr of a successful hook is logged, truncated.
func TestFileHookEnvironmentAndStderr(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	writeScript(t, dir, "pre-finish", `cat >/dev/null
echo "$TUS_ID $TUS_SIZE $TUS_OFFSET" > '`+out+`/env'
i=0; while [ $i -lt 100 ]; do printf 'noise-%03d ' $i >&2; i=$((i+1)); done
`)
	e := newEnv(t, hooks.Config{Backend: &hooks.FileBackend{Dir: dir, MaxStderrLog: 50}, Enabled: []hooks.Type{hooks.PreFinish}}, nil)
	id := e.create("2", nil)
	check(t, "PATCH status", e.patch(id, "ab").status, http.StatusNoContent)
	raw, err := os.ReadFile(filepath.Join(out, "env"))
	if err != nil {
		t.Fatal(err)
	}
	check(t, "environment", strings.TrimSpace(string(raw)), id+" 2 2")
	logs := e.logs.String()
	contains(t, "log", logs, "noise-000")
	contains(t, "log", logs, "(truncated)")
	if strings.Contains(logs, "noise-099") {
		t.Error("stderr was not truncated in the log")
	}
}

// TestFileHookTimeout kills a hook that runs too long, with the children
// it started, and fails the request.
func TestFileHookTimeout(t *testing.T) {
	dir := t.TempDir()
	// The background sleep holds stdout open: only killing the process
	// group (or WaitDelay) ends the run.
	writeScript(t, dir, "pre-create", "sleep 600 &\nsleep 600\n")
	e := newEnv(t, hooks.Config{Backend: &hooks.FileBackend{Dir: dir, Timeout: 100 * time.Millisecond}, Enabled: hooks.DefaultEnabled()}, nil)
	res := e.do(http.MethodPost, "", nil, map[string]string{"Upload-Length": "3"})
	check(t, "status", res.status, http.StatusInternalServerError)
	check(t, "failures", e.failures(hooks.PreCreate), 1)
	contains(t, "log", e.logs.String(), "deadline exceeded")
}

// TestFileHookRelativeDir runs hooks from a directory given relative to
// the working directory, as "-hooks-dir ." gives it.
func TestFileHookRelativeDir(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "pre-create", "cat >/dev/null\necho '{\"RejectUpload\":true}'\n")
	t.Chdir(dir)
	resp, err := (&hooks.FileBackend{Dir: "."}).Invoke(t.Context(), hooks.Request{Type: hooks.PreCreate})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.RejectUpload {
		t.Errorf("reply %+v, want the hook's RejectUpload", resp)
	}
}

// TestFileHookUnknownType: a Request whose Type is not a hook type is an
// error, and no program outside Dir is looked up or run.
func TestFileHookUnknownType(t *testing.T) {
	root := t.TempDir()
	out := t.TempDir()
	dir := filepath.Join(root, "hooks")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeScript(t, root, "evil", "touch '"+out+"/ran'\n")
	_, err := (&hooks.FileBackend{Dir: dir}).Invoke(t.Context(), hooks.Request{Type: "../evil"})
	if err == nil || errors.Is(err, hooks.ErrNoHook) {
		t.Fatalf("error %v, want a failure", err)
	}
	contains(t, "error", err.Error(), "unknown hook type")
	if _, err := os.Stat(filepath.Join(out, "ran")); err == nil {
		t.Error("the program outside Dir ran")
	}
}
