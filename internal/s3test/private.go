package s3test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Credentials of the private servers (MinIO wants a secret of 8 bytes or
// more).
const (
	privateAccessKey = "tusgo-private"
	privateSecretKey = "tusgo-private-secret"
)

// PrivateNames are the servers StartPrivate can start.
var PrivateNames = []string{"versitygw", "minio"}

// Private is an S3 server of one test's own, which the test may pause,
// stop and restart without disturbing the shared servers (see Servers).
// Its data survives Stop and Restart.
type Private struct {
	Server
	t    testing.TB
	bin  string
	dir  string
	addr string // host:port, the same after a restart
	cmd  *exec.Cmd
	log  *os.File
	exit chan struct{} // closed when cmd has exited
}

// BinDir returns the directory of the server binaries that
// scripts/s3-servers installs: ${TUS_CACHE_DIR:-$HOME/.cache/tusgo}/bin.
func BinDir() string {
	dir := os.Getenv("TUS_CACHE_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "tusgo")
	}
	return filepath.Join(dir, "bin")
}

// StartPrivate starts server name ("versitygw" or "minio") from the binary
// in BinDir on a free port of 127.0.0.1, with its data in a temporary
// directory, and waits until it answers. It is stopped when the test ends.
// A missing binary skips the test (install it with scripts/s3-servers
// install), or fails it with TUS_S3_TESTS=1.
func StartPrivate(t testing.TB, name string) *Private {
	t.Helper()
	bin := filepath.Join(BinDir(), name)
	if _, err := os.Stat(bin); err != nil {
		msg := fmt.Sprintf("no %s binary at %s: run scripts/s3-servers install", name, bin)
		if os.Getenv(EnvRequired) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	p := &Private{t: t, bin: bin, dir: t.TempDir()}
	p.Name, p.AccessKey, p.SecretKey = name, privateAccessKey, privateSecretKey
	t.Cleanup(func() { p.Stop() })
	// A port found free can be taken by another test's server before ours
	// binds it: then try another one.
	for attempt := 1; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		p.addr = l.Addr().String()
		_ = l.Close()
		p.Endpoint = "http://" + p.addr
		if p.start(attempt < 5) {
			return p
		}
		t.Logf("%s could not bind %s (taken meanwhile); trying another port", name, p.addr)
	}
}

// start launches the server and waits until it answers. With portRetry,
// a server that exits at once because its port is in use makes start
// return false; any other failure fails the test.
func (p *Private) start(portRetry bool) bool {
	p.t.Helper()
	var args, env []string
	switch p.Name {
	case "versitygw":
		args = []string{"--port", p.addr, "--quiet", "posix", filepath.Join(p.dir, "data")}
		env = []string{"ROOT_ACCESS_KEY=" + privateAccessKey, "ROOT_SECRET_KEY=" + privateSecretKey}
	case "minio":
		console, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			p.t.Fatalf("finding a free port: %v", err)
		}
		caddr := console.Addr().String()
		_ = console.Close()
		args = []string{"server", filepath.Join(p.dir, "data"), "--address", p.addr,
			"--console-address", caddr, "--certs-dir", filepath.Join(p.dir, "certs")}
		env = []string{"MINIO_ROOT_USER=" + privateAccessKey, "MINIO_ROOT_PASSWORD=" + privateSecretKey,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off"}
	default:
		p.t.Fatalf("unknown server %q (want one of %v)", p.Name, PrivateNames)
	}
	if err := os.MkdirAll(filepath.Join(p.dir, "data"), 0o755); err != nil {
		p.t.Fatal(err)
	}
	log, err := os.OpenFile(filepath.Join(p.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(p.bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		p.t.Fatalf("starting %s: %v", p.Name, err)
	}
	p.cmd, p.log, p.exit = cmd, log, make(chan struct{})
	go func(exit chan struct{}) { _ = cmd.Wait(); close(exit) }(p.exit)

	deadline := time.Now().Add(60 * time.Second)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := hc.Get(p.Endpoint + "/")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable && strings.Contains(strings.ToLower(resp.Header.Get("Server")), p.Name) {
				return true
			}
		}
		select {
		case <-p.exit:
			b, _ := os.ReadFile(log.Name())
			if portRetry && bytes.Contains(bytes.ToLower(b), []byte("in use")) {
				_ = log.Close()
				p.cmd = nil
				return false
			}
			p.t.Fatalf("%s exited before answering on %s; its log:\n%s", p.Name, p.addr, b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			p.Stop()
			p.t.Fatalf("%s did not answer on %s within 60s; its log:\n%s", p.Name, p.addr, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// signal sends sig to the running server.
func (p *Private) signal(sig syscall.Signal) {
	p.t.Helper()
	// Errorf, not Fatalf: a test may pause the server from a body reader's
	// goroutine.
	if p.cmd == nil {
		p.t.Errorf("%s is not running", p.Name)
		return
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Errorf("signalling %s: %v", p.Name, err)
	}
}

// Pause stops the server's process (SIGSTOP): connections are accepted by
// the kernel, but nothing answers.
func (p *Private) Pause() { p.t.Helper(); p.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT); a stopped one stays
// stopped.
func (p *Private) Resume() {
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// Stop ends the server (it is resumed first if paused): connections are
// then refused. Stopping a stopped server does nothing.
func (p *Private) Stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exit:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exit
	}
	_ = p.log.Close()
	p.cmd = nil
}

// NewBucket is Server.NewBucket for the private server: the bucket is
// removed at the end of the test, after the server is resumed if the test
// left it paused.
func (p *Private) NewBucket(t testing.TB, c *s3.Client) string {
	t.Helper()
	b := p.Server.NewBucket(t, c)
	t.Cleanup(func() {
		if p.cmd != nil {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
		}
	})
	return b
}

// LogPath returns the file that holds the server's output, of every start.
func (p *Private) LogPath() string { return filepath.Join(p.dir, "server.log") }

// Restart starts a stopped server again on the same address with the same
// data.
func (p *Private) Restart() {
	p.t.Helper()
	p.Stop()
	p.start(false)
}
