package main

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/tusgo/tus/internal/requestid"
)

// newLogger returns the logger for -log-format and -verbose.
func newLogger(w io.Writer, format string, verbose bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if verbose {
		opts.Level = slog.LevelDebug
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// logRequests logs one line per request: method, path, status, bytes in
// and out, duration and the request ID, which it makes sure the request
// carries (X-Request-ID) so that the tus handler's own log lines and its
// response use the same one. onRead, if not nil, is told of every read of
// a request body.
func logRequests(logger *slog.Logger, onRead func(n int), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestid.Of(r)
		r.Header.Set(requestid.Header, id)
		rw := &recordingWriter{ResponseWriter: w}
		in := countingReader{onRead: onRead}
		if r.Body != nil && r.Body != http.NoBody {
			in.r = r.Body
			r.Body = &in
		}
		next.ServeHTTP(rw, r)
		status := rw.status
		if status == 0 {
			status = http.StatusOK // nothing written: net/http sends 200
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelWarn
		}
		logger.LogAttrs(r.Context(), level, "request",
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Int64("bytes_in", in.n),
			slog.Int64("bytes_out", rw.written),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr),
		)
	})
}

// recordingWriter remembers the final status and counts the body bytes
// written. Unwrap lets http.ResponseController reach the connection (the
// tus handler sets read deadlines through it), and 1xx responses pass
// through without being taken for the final status.
type recordingWriter struct {
	http.ResponseWriter
	status  int
	written int64
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

// ReadFrom keeps the connection's own ReadFrom (sendfile for downloads)
// reachable through the wrapper.
func (w *recordingWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, src)
	w.written += n
	return n, err
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends buffered data, for handlers that test for http.Flusher.
func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// countingReader counts the bytes read from a request body, and tells
// onRead, if set, of each read.
type countingReader struct {
	r      io.ReadCloser
	n      int64
	onRead func(n int)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		if c.onRead != nil {
			c.onRead(n)
		}
	}
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }
