package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/tusgo/tus/internal/benchkit"
)

// startTimeout bounds how long a server may take to answer HTTP.
const startTimeout = 60 * time.Second

// proc is a server process: started with its output in a log file,
// stopped with SIGTERM (then SIGKILL after benchkit.StopTimeout).
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	stdin   io.WriteCloser // held open: the raw child serves until EOF
	done    chan struct{}
	err     error
}

// startProc starts cmd with stdout and stderr into logPath and waits until
// url answers OPTIONS with a status below 500.
func startProc(ctx context.Context, name string, cmd *exec.Cmd, logPath, url string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, stdin: stdin, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	if err := p.waitReady(ctx, url); err != nil {
		return nil, errors.Join(err, p.stop())
	}
	return p, nil
}

// waitReady polls url until it answers.
func (p *proc) waitReady(ctx context.Context, url string) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		if err := p.alive(); err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodOptions, url, nil)
		if err != nil {
			return err
		}
		if res, err := hc.Do(req); err == nil {
			benchkit.Drain(res)
			if res.StatusCode < 500 { // MinIO answers 503 while it starts
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer at %s within %v%s", p.name, url, startTimeout, p.logTail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pid returns the process ID.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// alive reports an error, with the end of the log, if the process exited.
func (p *proc) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v%s", p.name, p.err, p.logTail())
	default:
		return nil
	}
}

// logTail returns the last lines of the log, for errors.
func (p *proc) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return "; its log ends:\n    " + strings.Join(lines[max(0, len(lines)-15):], "\n    ")
}

// stop ends the process and waits for it. Safe to call more than once.
func (p *proc) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.stdin.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(benchkit.StopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %v; killed", p.name, benchkit.StopTimeout)
	}
}

// freePort returns a TCP port of 127.0.0.1 that nothing listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
