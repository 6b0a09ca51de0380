package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// Defaults for FileBackend fields left zero.
const (
	// DefaultFileTimeout is the default FileBackend.Timeout.
	DefaultFileTimeout = 30 * time.Second
	// DefaultMaxOutput is the default FileBackend.MaxOutput: bytes of a
	// hook program's stdout.
	DefaultMaxOutput = 1 << 20
	// DefaultMaxStderrLog is the default FileBackend.MaxStderrLog: bytes
	// of a hook program's stderr that are logged.
	DefaultMaxStderrLog = 4 << 10
)

// fileHookWaitDelay bounds how long a run waits, once its program has
// exited or been killed, for children that still hold its stdout or stderr.
const fileHookWaitDelay = 2 * time.Second

// FileBackend runs hooks as programs: the hook of type T is the executable
// Dir/T (for example Dir/pre-create), looked up on every invocation, so
// hooks can be added and removed while the server runs. A missing program
// means no hook (ErrNoHook); one that exists but cannot be run (not
// executable, a directory) is a failure, so that a broken pre-create or
// pre-access hook refuses requests rather than letting them all through.
//
// The program gets the Request as JSON on stdin and the environment of the
// server plus TUS_ID, TUS_SIZE and TUS_OFFSET, as in tusd. It runs in the
// server's working directory (as in tusd), not in Dir. If it exits with
// status 0, its stdout is its Response (empty stdout accepts); any other
// exit status, invalid JSON on stdout or more than MaxOutput bytes of it is
// a failure. Its stderr is logged (the first MaxStderrLog bytes).
//
// On unix the program runs in its own process group, and when Timeout
// passes or the context ends, the whole group is killed.
type FileBackend struct {
	// Dir holds the hook programs. Required.
	Dir string
	// Timeout bounds one run (DefaultFileTimeout if zero).
	Timeout time.Duration
	// MaxOutput bounds the stdout read (DefaultMaxOutput if zero).
	MaxOutput int
	// MaxStderrLog bounds the stderr logged (DefaultMaxStderrLog if zero).
	MaxStderrLog int
	// Logger receives the hooks' stderr; nil discards it.
	Logger *slog.Logger
}

// Invoke runs the program for req.Type and decodes its answer, as
// described on FileBackend. It returns ErrNoHook if there is no such
// program, and when ctx ends or Timeout passes it kills the program and
// returns an error wrapping ctx's. It is safe for concurrent use.
func (b *FileBackend) Invoke(ctx context.Context, req Request) (Response, error) {
	if b.Dir == "" {
		return Response{}, errors.New("hooks: FileBackend.Dir is not set")
	}
	if !req.Type.valid() {
		// Not a file name to look up: it could be "../x".
		return Response{}, fmt.Errorf("hooks: unknown hook type %q", req.Type)
	}
	// Absolute, or exec would search PATH for a path without a slash
	// ("-hooks-dir ." gives "pre-create").
	path, err := filepath.Abs(filepath.Join(b.Dir, string(req.Type)))
	if err != nil {
		return Response{}, fmt.Errorf("hook program for %s: %w", req.Type, err)
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Response{}, ErrNoHook
	}
	if err != nil {
		return Response{}, fmt.Errorf("hook program %s: %w", path, err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return Response{}, fmt.Errorf("hook program %s is not an executable file", path)
	}
	input, err := json.Marshal(req)
	if err != nil {
		return Response{}, fmt.Errorf("encoding the hook request: %w", err)
	}

	timeout := b.Timeout
	if timeout <= 0 {
		timeout = DefaultFileTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	maxOut := b.MaxOutput
	if maxOut <= 0 {
		maxOut = DefaultMaxOutput
	}
	maxErr := b.MaxStderrLog
	if maxErr <= 0 {
		maxErr = DefaultMaxStderrLog
	}
	stdout := &cappedBuffer{max: maxOut}
	stderr := &cappedBuffer{max: maxErr}

	cmd := exec.CommandContext(ctx, path)
	cmd.Stdin = bytes.NewReader(input)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.Env = append(os.Environ(),
		"TUS_ID="+req.Event.Upload.ID,
		"TUS_SIZE="+strconv.FormatInt(req.Event.Upload.Size, 10),
		"TUS_OFFSET="+strconv.FormatInt(req.Event.Upload.Offset, 10),
	)
	cmd.WaitDelay = fileHookWaitDelay
	ownProcessGroup(cmd)
	runErr := cmd.Run()

	if stderr.buf.Len() > 0 {
		msg := stderr.buf.String()
		if stderr.overflow {
			msg += "... (truncated)"
		}
		level := slog.LevelInfo
		if runErr != nil {
			level = slog.LevelWarn
		}
		b.logger().LogAttrs(ctx, level, "hook program wrote to stderr",
			slog.String("hook", string(req.Type)), slog.String("upload_id", req.Event.Upload.ID),
			slog.String("stderr", msg))
	}
	if runErr != nil {
		// Killed: say why rather than "signal: killed".
		if cerr := ctx.Err(); errors.Is(cerr, context.DeadlineExceeded) {
			return Response{}, fmt.Errorf("hook program %s: no answer within %s: %w", path, timeout, cerr)
		} else if cerr != nil {
			return Response{}, fmt.Errorf("hook program %s: %w", path, cerr)
		}
		return Response{}, fmt.Errorf("hook program %s: %w", path, runErr)
	}
	if stdout.overflow {
		return Response{}, fmt.Errorf("hook program %s: stdout exceeds %d bytes", path, maxOut)
	}
	return decodeResponse(stdout.buf.Bytes())
}

// logger returns b.Logger or a discarding one.
func (b *FileBackend) logger() *slog.Logger {
	if b.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.Logger
}

// decodeResponse decodes a hook's answer; blank means the empty Response.
func decodeResponse(raw []byte) (Response, error) {
	var resp Response
	if len(bytes.TrimSpace(raw)) == 0 {
		return resp, nil
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return Response{}, fmt.Errorf("invalid hook response: %w", err)
	}
	return resp, nil
}

// cappedBuffer keeps the first max bytes written to it and notes whether
// more came. It never fails a write, so the program is not killed by a
// broken pipe. (It does not embed bytes.Buffer, whose ReadFrom io.Copy
// would use instead of Write.)
type cappedBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room < len(p) {
		c.overflow = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return c.buf.Write(p)
}
