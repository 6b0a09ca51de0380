package benchkit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"time"
)

const (
	// StartTimeout bounds how long a child may take to print its address.
	StartTimeout = 30 * time.Second
	// StopTimeout bounds how long a child may take to exit once its stdin
	// is closed; then it is killed.
	StopTimeout = 10 * time.Second
)

// Child is a child server process as the parent sees it: a program that
// serves until its stdin is closed (ServeChild is its side).
type Child struct {
	// Name names the child in errors, which use it as it is: "tus server"
	// gives "tus server exited: …".
	Name string
	// Addr is the host:port the child printed.
	Addr string

	cmd      *exec.Cmd
	stdin    io.WriteCloser
	waitDone chan struct{}
	waitErr  error

	stopOnce sync.Once
	stopErr  error
}

// StartChild starts cmd, reads the address it prints as the first line of
// its stdout and checks that it is a host:port. cmd's Stdin and Stdout
// must be unset: the child's stdin stays open until Stop, so it ends also
// if the parent dies. If the child prints no address within StartTimeout,
// or ctx ends first, it is killed and StartChild returns an error.
func StartChild(ctx context.Context, name string, cmd *exec.Cmd) (*Child, error) {
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
	timer := time.NewTimer(StartTimeout)
	defer timer.Stop()
	select {
	case l := <-lines:
		addr, err = strings.TrimSpace(l.s), l.err
		if err == nil {
			_, _, err = net.SplitHostPort(addr)
		}
		if err != nil {
			err = fmt.Errorf("reading %s's address: %w", name, err)
		}
	case <-timer.C:
		err = fmt.Errorf("%s did not print its address in time", name)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, err
	}

	c := &Child{
		Name:     name,
		Addr:     addr,
		cmd:      cmd,
		stdin:    stdin,
		waitDone: make(chan struct{}),
	}
	// Every read from stdout is done, so Wait may close it.
	go func() {
		c.waitErr = cmd.Wait()
		close(c.waitDone)
	}()
	return c, nil
}

// PID returns the child's process ID.
func (c *Child) PID() int { return c.cmd.Process.Pid }

// Alive reports an error if the child has exited.
func (c *Child) Alive() error {
	select {
	case <-c.waitDone:
		return fmt.Errorf("%s exited: %v", c.Name, c.waitErr)
	default:
		return nil
	}
}

// Stop ends the child (closing its stdin, then killing it after
// StopTimeout) and waits for it. It returns an error if the child had to
// be killed or exited with one. It is safe to call more than once.
func (c *Child) Stop() error {
	c.stopOnce.Do(func() {
		_ = c.stdin.Close()
		timer := time.NewTimer(StopTimeout)
		defer timer.Stop()
		select {
		case <-c.waitDone:
		case <-timer.C:
			_ = c.cmd.Process.Kill()
			<-c.waitDone
			c.stopErr = fmt.Errorf("%s did not exit in time; killed", c.Name)
		}
		if c.stopErr == nil && c.waitErr != nil {
			c.stopErr = fmt.Errorf("%s: %w", c.Name, c.waitErr)
		}
	})
	return c.stopErr
}
