package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus/internal/s3test"
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

// listeningRE finds the address in tusd's startup log line.
var listeningRE = regexp.MustCompile(`msg="tusd listening" address=(http://\S+)`)

// startTusd runs tusd with args on a free port of 127.0.0.1 in a clean
// environment that holds only srv's credentials (see s3Env), and waits until
// it listens. The process is killed at the end of the test; its log is shown
// if the test failed, and a data race or srv's secret key in it fails the
// test.
func startTusd(t *testing.T, srv s3test.Server, args ...string) *tusdProcess {
	t.Helper()
	cmd := exec.Command(tusdBinary(t), append([]string{"-host", "127.0.0.1", "-port", "0"}, args...)...)
	cmd.Env = s3Env(t, srv)
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
		assert.NotContains(t, out, srv.SecretKey, "tusd logged the secret key")
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

// s3Env returns the whole environment of a tusd child process: srv's
// credentials and region in the standard AWS variables, and empty shared
// config and credentials files, so that nothing of the developer's AWS
// setup is used.
func s3Env(t *testing.T, srv s3test.Server) []string {
	t.Helper()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	return []string{
		"AWS_ACCESS_KEY_ID=" + srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"AWS_REGION=" + s3test.Region,
		"AWS_CONFIG_FILE=" + empty,
		"AWS_SHARED_CREDENTIALS_FILE=" + empty,
		"AWS_EC2_METADATA_DISABLED=true",
		"HOME=" + dir,
		"TMPDIR=" + dir,
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
			w.addr <- string(m[1])
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

// tusDo sends a tus request with the given headers (name, value pairs) and
// returns the response with its body read.
func tusDo(t *testing.T, method, u string, body []byte, headers ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(t, err)
	req.Header.Set("Tus-Resumable", "1.0.0")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := httpClient.Do(req)
	require.NoError(t, err, "%s %s", method, u)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err, "%s %s: reading the body", method, u)
	return res, b
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

// TestS3EndToEnd runs the real binary on every test S3 server, uploads in
// two PATCHes (a tail object, then the rest across parts), downloads, and
// terminates a second upload.
func TestS3EndToEnd(t *testing.T) {
	for _, srv := range s3test.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			client := srv.Client(t)
			bucket := srv.NewBucket(t, client)
			p := startTusd(t, srv, "-s3-bucket", bucket, "-s3-endpoint", srv.Endpoint,
				"-s3-object-prefix", "tus/", "-s3-part-size", "5242880", "-s3-concurrent-part-uploads", "2")
			logs := p.logs.String()
			for _, s := range []string{"store=s3", "bucket=" + bucket, "endpoint=" + srv.Endpoint,
				"prefix=tus/", "region=us-east-1", "part_size=5242880"} {
				assert.Contains(t, logs, s, "startup log")
			}

			src := randomBytes(12<<20+777, 1)
			u := create(t, p.base, len(src))
			id := path.Base(u)
			patch(t, u, 0, src[:1000])
			assert.Equal(t, 1000, headOffset(t, u))
			patch(t, u, 1000, src[1000:])
			assert.Equal(t, len(src), headOffset(t, u))
			download(t, u, src)

			// Termination removes everything of an upload.
			other := create(t, p.base, 100)
			patch(t, other, 0, src[:10])
			res, body := tusDo(t, http.MethodDelete, other, nil)
			require.Equal(t, http.StatusNoContent, res.StatusCode, "DELETE: %s", body)
			res, _ = tusDo(t, http.MethodHead, other, nil)
			assert.Equal(t, http.StatusNotFound, res.StatusCode, "HEAD after DELETE")

			assert.Equal(t, []string{"tus/" + id, "tus/" + id + ".info"}, s3test.Objects(t, client, bucket))
			assert.Empty(t, s3test.MultipartUploads(t, client, bucket))
		})
	}
}

// TestS3ResumeAfterKill kills tusd with SIGKILL in the middle of a PATCH
// that has sent about 13 MiB of a 24 MiB upload in 5 MiB parts, starts
// another tusd on the bucket, and resumes the upload from the offset it
// reports: the bytes stored before the crash must be exactly the file's
// first bytes, and the completed upload must leave only its object and
// info behind.
//
// "parts stored" kills once S3 lists two whole parts of the upload (which
// the offset must then count); "at once" kills as soon as the bytes are
// handed to the connection, with part uploads likely still under way.
func TestS3ResumeAfterKill(t *testing.T) {
	const (
		partSize = 5 << 20
		size     = 24<<20 + 4321
		sent     = 13 << 20
	)
	servers := s3test.Servers(t)
	src := randomBytes(size, 2)
	for _, srv := range servers {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			client := srv.Client(t)
			for _, mode := range []struct {
				name      string
				waitParts int // whole parts S3 must list before the kill
			}{
				{"parts stored", 2},
				{"at once", 0},
			} {
				t.Run(mode.name, func(t *testing.T) {
					bucket := srv.NewBucket(t, client)
					args := []string{"-s3-bucket", bucket, "-s3-endpoint", srv.Endpoint, "-s3-part-size", strconv.Itoa(partSize)}
					p1 := startTusd(t, srv, args...)
					u := create(t, p1.base, size)
					id := path.Base(u)

					// One PATCH declaring the whole rest, of which only the
					// first sent bytes ever come.
					pr, pw := io.Pipe()
					req, err := http.NewRequest(http.MethodPatch, u, pr)
					require.NoError(t, err)
					req.ContentLength = size
					req.Header.Set("Tus-Resumable", "1.0.0")
					req.Header.Set("Content-Type", "application/offset+octet-stream")
					req.Header.Set("Upload-Offset", "0")
					patchErr := make(chan error, 1)
					go func() {
						res, err := http.DefaultClient.Do(req)
						if err == nil {
							b, _ := io.ReadAll(res.Body)
							res.Body.Close()
							err = fmt.Errorf("PATCH answered %s: %s", res.Status, b)
						}
						patchErr <- err
					}()
					wrote := make(chan error, 1)
					go func() {
						_, err := pw.Write(src[:sent])
						wrote <- err
					}()
					select {
					case err := <-wrote:
						require.NoError(t, err, "streaming the PATCH body")
					case <-time.After(30 * time.Second):
						t.Fatalf("tusd did not read %d bytes in 30 s", sent)
					}

					stored := 0
					if mode.waitParts > 0 {
						stored = waitForParts(t, client, bucket, id, partSize, mode.waitParts)
					}
					p1.kill(t)
					pw.CloseWithError(errors.New("tusd was killed"))
					select {
					case err := <-patchErr:
						require.Error(t, err)
						t.Logf("interrupted PATCH: %v", err)
					case <-time.After(20 * time.Second):
						t.Fatal("the PATCH did not end after tusd was killed")
					}

					p2 := startTusd(t, srv, args...)
					u = p2.base + id
					off := headOffset(t, u)
					t.Logf("offset after the restart: %d of %d sent (%d in whole parts listed before the kill)", off, sent, stored)
					require.LessOrEqual(t, off, sent, "offset counts bytes never sent")
					require.GreaterOrEqual(t, off, stored, "offset lost parts S3 had listed")

					patch(t, u, off, src[off:])
					assert.Equal(t, size, headOffset(t, u))
					// The bytes stored before the crash are checked here too:
					// the object is exactly the source only if they were its
					// first off bytes.
					download(t, u, src)
					assert.Empty(t, s3test.MultipartUploads(t, client, bucket))
					assert.Equal(t, []string{id, id + ".info"}, s3test.Objects(t, client, bucket))
				})
			}
		})
	}
}

// waitForParts waits until S3 lists parts 1 to n (at least) of the
// multipart upload of object key, each of partSize bytes, and returns the
// bytes in that run of parts.
func waitForParts(t *testing.T, client *s3.Client, bucket, key string, partSize int64, n int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var uploadID *string
	for {
		if uploadID == nil {
			out, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket, Prefix: &key})
			require.NoError(t, err, "listing multipart uploads")
			for _, up := range out.Uploads {
				if aws.ToString(up.Key) == key {
					uploadID = up.UploadId
				}
			}
		}
		if uploadID != nil {
			out, err := client.ListParts(ctx, &s3.ListPartsInput{Bucket: &bucket, Key: &key, UploadId: uploadID})
			require.NoError(t, err, "listing parts")
			// Whole parts from part 1 on, in a row: the bytes they hold are
			// the upload's first.
			whole := map[int32]bool{}
			for _, p := range out.Parts {
				whole[aws.ToInt32(p.PartNumber)] = aws.ToInt64(p.Size) == partSize
			}
			run := 0
			for whole[int32(run+1)] {
				run++
			}
			if run >= n {
				return run * int(partSize)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("S3 did not list %d whole parts of %s in 30 s", n, key)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestRunS3MissingBucket refuses to start when the bucket cannot be
// reached, naming it, instead of failing the first upload.
func TestRunS3MissingBucket(t *testing.T) {
	for _, srv := range s3test.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			isolateAWS(t)
			t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
			t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
			var logs bytes.Buffer
			err := run(context.Background(), []string{"-s3-bucket", "tus-no-such-bucket", "-s3-endpoint", srv.Endpoint, "-port", "0"}, &logs,
				func(string) { t.Error("server started") })
			require.Error(t, err)
			assert.Contains(t, err.Error(), `S3 bucket "tus-no-such-bucket" cannot be reached`)
			assert.NotContains(t, logs.String(), "tusd listening")
		})
	}
}
