package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

const (
	// startTimeout bounds how long a child may take to print its address.
	startTimeout = 30 * time.Second
	// stopTimeout bounds how long a child may take to exit once its stdin
	// is closed; then it is killed.
	stopTimeout = 10 * time.Second
)

// server is a child server process as the parent sees it.
type server struct {
	name   string
	isTus  bool
	dir    string // the child's storage directory, owned by the parent
	base   string // collection URL, http://ADDR/files/
	client *client

	cmd      *exec.Cmd
	stdin    io.WriteCloser
	waitDone chan struct{}
	waitErr  error

	stopOnce sync.Once
	stopErr  error
}

// pid returns the child's process ID.
func (s *server) pid() int { return s.cmd.Process.Pid }

// startServer creates a fresh storage directory, starts exe in serve mode
// for kind and waits for its address. On error nothing is left behind.
func startServer(ctx context.Context, exe, tmpDir, kind, profile string, conns int, pattern []byte) (*server, error) {
	dir, err := os.MkdirTemp(tmpDir, "uploadbench-"+kind+"-")
	if err != nil {
		return nil, err
	}
	s, err := startChild(ctx, exe, kind, dir, profile)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s server: %w", kind, err)
	}
	s.client = newClient(s.base, s.isTus, conns, pattern)
	return s, nil
}

// startChild starts the child process and reads its address.
func startChild(ctx context.Context, exe, kind, dir, profile string) (*server, error) {
	args := []string{"-serve", kind, "-dir", dir, "-addr", "127.0.0.1:0", "-cleanup"}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}

	type line struct {
		s   string
		err error
	}
	lines := make(chan line, 1)
	go func() {
		s, err := bufio.NewReader(stdout).ReadString('\n')
		lines <- line{s, err}
	}()
	var addr string
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case l := <-lines:
		addr, err = strings.TrimSpace(l.s), l.err
		if err == nil {
			_, _, err = net.SplitHostPort(addr)
		}
		if err != nil {
			err = fmt.Errorf("reading the child's address: %w", err)
		}
	case <-timer.C:
		err = errors.New("the child did not print its address in time")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, err
	}

	s := &server{
		name:     kind,
		isTus:    kind != kindBaseline,
		dir:      dir,
		base:     "http://" + addr + basePath,
		cmd:      cmd,
		stdin:    stdin,
		waitDone: make(chan struct{}),
	}
	// Every read from stdout is done, so Wait may close it.
	go func() {
		s.waitErr = cmd.Wait()
		close(s.waitDone)
	}()
	return s, nil
}

// alive reports an error if the child has exited.
func (s *server) alive() error {
	select {
	case <-s.waitDone:
		return fmt.Errorf("%s server exited: %v", s.name, s.waitErr)
	default:
		return nil
	}
}

// stop ends the child (closing its stdin, then killing it after
// stopTimeout), waits for it and removes its directory. It is safe to call
// more than once.
func (s *server) stop() error {
	s.stopOnce.Do(func() {
		if s.client != nil {
			s.client.close()
		}
		_ = s.stdin.Close()
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		select {
		case <-s.waitDone:
		case <-timer.C:
			_ = s.cmd.Process.Kill()
			<-s.waitDone
			s.stopErr = fmt.Errorf("%s server did not exit in time; killed", s.name)
		}
		if s.stopErr == nil && s.waitErr != nil {
			s.stopErr = fmt.Errorf("%s server: %w", s.name, s.waitErr)
		}
		if err := os.RemoveAll(s.dir); err != nil && s.stopErr == nil {
			s.stopErr = err
		}
	})
	return s.stopErr
}

// profilePath returns where the child of kind writes its CPU profile, or ""
// without profiling.
func profilePath(dir, kind string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, kind+".pprof")
}
