package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus/internal/testhttp"
)

// binDir holds the tusd binary the tests build; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tusd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// tusdBinary builds this command once per test run and returns the
// binary's path. It uses the go command first in PATH, which go test makes
// the one of the toolchain running the tests, and builds with -race when
// the tests run with it, so that races in the server show in its log.
func tusdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		bin := filepath.Join(binDir, "tusd")
		args := []string{"build", "-o", bin}
		if raceEnabled() {
			args = append(args, "-race")
		}
		start := time.Now()
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			return
		}
		t.Logf("built %s in %v", bin, time.Since(start).Round(time.Millisecond))
		binPath = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// tusdProcess is a tusd binary running as a child process.
type tusdProcess struct {
	cmd    *exec.Cmd
	base   string // collection URL: http://127.0.0.1:PORT/files/
	logs   *logWriter
	exited chan struct{} // closed once the process is waited for
}

// listeningRE finds the address in tusd's startup log line, in the text
// or the JSON format.
var listeningRE = regexp.MustCompile(`msg="tusd listening" address=((?:https?://|unix:)\S+)|"msg":"tusd listening","address":"((?:https?://|unix:)[^"]+)"`)

// startProcess runs tusd with args on a free port of 127.0.0.1 with the
// environment env (and nothing else), and waits until it listens. The
// process is killed at the end of the test; its log is shown if the test
// failed, and a data race or any of secrets in it fails the test.
func startProcess(t *testing.T, env []string, secrets []string, args ...string) *tusdProcess {
	t.Helper()
	cmd := exec.Command(tusdBinary(t), append([]string{"-host", "127.0.0.1", "-port", "0"}, args...)...)
	cmd.Env = env
	logs := &logWriter{addr: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	p := &tusdProcess{cmd: cmd, logs: logs, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill(t)
		out := logs.String()
		if strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("data race in tusd (pid %d):\n%s", cmd.Process.Pid, out)
		} else if t.Failed() {
			t.Logf("log of tusd (pid %d):\n%s", cmd.Process.Pid, out)
		}
		for _, s := range secrets {
			assert.NotContains(t, out, s, "tusd logged a secret")
		}
	})
	select {
	case p.base = <-logs.addr:
	case <-p.exited:
		t.Fatalf("tusd exited before listening: %v\n%s", cmd.ProcessState, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("tusd did not report its address in 30 s:\n%s", logs)
	}
	return p
}

// kill ends the process with SIGKILL (on Unix; it cannot clean up) and
// waits for it.
func (p *tusdProcess) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("killing tusd: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("tusd (pid %d) did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}

// logWriter collects a process's output and sends the address of its
// "tusd listening" line to addr.
type logWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	scanned int // bytes of buf searched for the address line
	addr    chan string
	found   bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for !w.found {
		rest := w.buf.Bytes()[w.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		if m := listeningRE.FindSubmatch(rest[:i]); m != nil {
			w.found = true
			w.addr <- string(m[1]) + string(m[2])
		}
		w.scanned += i + 1
	}
	return len(p), nil
}

func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// httpClient bounds every request but the streamed PATCH of the kill test.
var httpClient = &http.Client{Timeout: 45 * time.Second}

// tusDo sends a tus request with the given headers (name, value pairs)
// through httpClient and returns the response with its body read.
func tusDo(t *testing.T, method, u string, body []byte, headers ...string) (*http.Response, []byte) {
	t.Helper()
	return do(t, httpClient, method, u, body, append([]string{"Tus-Resumable", "1.0.0"}, headers...)...)
}

// do sends a request with the given headers (name, value pairs) through
// client and returns the response with its body read.
func do(t *testing.T, client *http.Client, method, u string, body []byte, headers ...string) (*http.Response, []byte) {
	t.Helper()
	return testhttp.Do(t, client, method, u, body, headers...)
}

// patchAnswer is how a streamed PATCH ended: its status and body, or the
// error of a client that got no answer.
type patchAnswer struct {
	status int
	header http.Header
	close  bool // the response closes the connection
	body   string
	err    error
}

// streamPatch starts a PATCH at offset 0 of u that declares length bytes;
// its body is what the test writes to the returned pipe. The answer arrives
// on the channel when the request ends. A client still sending notices a
// cut connection only once the pipe is closed.
func streamPatch(t *testing.T, u string, length int64) (*io.PipeWriter, <-chan patchAnswer) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPatch, u, pr)
	require.NoError(t, err)
	req.ContentLength = length
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", "0")
	done := make(chan patchAnswer, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- patchAnswer{err: err}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		done <- patchAnswer{status: res.StatusCode, header: res.Header, close: res.Close, body: string(b)}
	}()
	return pw, done
}

// create makes an upload of size bytes under base and returns its URL.
func create(t *testing.T, base string, size int) string {
	t.Helper()
	res, body := tusDo(t, http.MethodPost, base, nil, "Upload-Length", strconv.Itoa(size))
	require.Equal(t, http.StatusCreated, res.StatusCode, "POST: %s", body)
	loc := res.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, base), "Location %q is not under %q", loc, base)
	return loc
}

// patch sends data at offset and checks that all of it is stored.
func patch(t *testing.T, u string, offset int, data []byte) {
	t.Helper()
	res, body := tusDo(t, http.MethodPatch, u, data,
		"Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.Itoa(offset))
	require.Equal(t, http.StatusNoContent, res.StatusCode, "PATCH at %d: %s", offset, body)
	require.Equal(t, strconv.Itoa(offset+len(data)), res.Header.Get("Upload-Offset"))
}

// headOffset returns the upload's offset.
func headOffset(t *testing.T, u string) int {
	t.Helper()
	res, body := tusDo(t, http.MethodHead, u, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, "HEAD: %s", body)
	off, err := strconv.Atoi(res.Header.Get("Upload-Offset"))
	require.NoError(t, err, "Upload-Offset")
	return off
}

// download GETs the upload and checks it is exactly want.
func download(t *testing.T, u string, want []byte) {
	t.Helper()
	res, got := tusDo(t, http.MethodGet, u, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, "GET")
	require.Equal(t, len(want), len(got), "downloaded length")
	require.Equal(t, sha256.Sum256(want), sha256.Sum256(got), "downloaded bytes differ")
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}
