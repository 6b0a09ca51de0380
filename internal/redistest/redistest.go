// Package redistest starts a real redis-server for tests: its own process on
// a free loopback port, with its files in the test's temporary directory and
// no persistence, stopped when the test ends. Nothing depends on a system
// Redis service.
//
// Start skips the test when redis-server is not on PATH, unless the
// environment variable TUS_REDIS_TESTS is 1 (as scripts/test-all sets it),
// in which case the test fails.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvRequired names the environment variable that, set to 1, makes Start
// fail the test instead of skipping it when redis-server is missing.
const EnvRequired = "TUS_REDIS_TESTS"

// startTimeout bounds how long Start and Restart wait for the server to
// answer PING, and stopTimeout how long Stop waits for it to exit before
// killing it.
const (
	startTimeout = 15 * time.Second
	stopTimeout  = 10 * time.Second
)

// Server is a redis-server process started by Start. Its methods are safe
// for concurrent use; they fail the test (t.Fatal) on errors, so call them
// from the test's goroutine.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	paused bool
}

// Start starts a redis-server on a free port of 127.0.0.1 and waits until it
// answers. The server is stopped when the test ends (t.Cleanup).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server is not on PATH (Debian: apt-get install redis-server)"
		if os.Getenv(EnvRequired) == "1" {
			t.Fatalf("%s, and %s=1 requires the Redis tests", msg, EnvRequired)
		}
		t.Skipf("%s; set %s=1 to make this a failure", msg, EnvRequired)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	t.Cleanup(s.Stop)
	// A port found free can be taken by someone else before the server
	// binds it; try a few.
	var lastErr error
	for range 5 {
		if s.port, err = freePort(); err != nil {
			t.Fatalf("redistest: %v", err)
		}
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("redistest: %v", lastErr)
	return nil
}

// Addr returns the server's address, "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns the server's URL for database 0, "redis://127.0.0.1:port/0".
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Stop stops the server (SIGTERM, then SIGKILL if it does not exit in
// time). Clients see their connections closed. Stopping a stopped server
// does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	if s.paused {
		_ = resume(s.cmd.Process)
		s.paused = false
	}
	_ = terminate(s.cmd.Process)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Restart stops the server if it runs and starts it again on the same port.
// The new server starts empty: nothing is persisted.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	// The old process's port may take a moment to be free.
	for range 20 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restart: %v", err)
}

// Pause stops the server process with SIGSTOP: connections stay open but
// nothing is answered, as with a hung server or a network that drops
// packets. Resume continues it. On systems without SIGSTOP the test is
// skipped.
func (s *Server) Pause() { s.signal("pause", suspend, true) }

// Resume continues a server stopped by Pause (SIGCONT).
func (s *Server) Resume() { s.signal("resume", resume, false) }

func (s *Server) signal(what string, send func(*os.Process) error, paused bool) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatalf("redistest: %s: the server is not running", what)
	}
	if err := send(s.cmd.Process); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			s.t.Skipf("redistest: %s is not supported on this system", what)
		}
		s.t.Fatalf("redistest: %s: %v", what, err)
	}
	s.paused = paused
}

// start starts the process on s.port and waits until it answers PING.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	logFile := filepath.Join(s.dir, "redis.log")
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", logFile,
	)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		err := ping(net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)))
		if err == nil {
			s.cmd, s.exited, s.paused = cmd, exited, false
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server on port %d exited: %s", s.port, tail(logFile))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server on port %d did not answer within %v: %v; log: %s", s.port, startTimeout, err, tail(logFile))
		}
	}
}

// ping sends PING to addr and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("finding a free port: not a TCP address")
	}
	return addr.Port, nil
}

// tail returns the end of the server's log for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return strings.TrimSpace(string(b))
}
