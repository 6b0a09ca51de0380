package benchkit

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// ChildLogger returns the logger of a child server: text to w, warnings and
// errors only, each record tagged with server=name.
func ChildLogger(w io.Writer, name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})).With("server", name)
}

// ServeChild is the child's side of StartChild: it serves h on addr, prints
// the listening address on stdout and serves until stdin is closed (the
// parent is done or gone) or SIGINT or SIGTERM arrives. The server's own
// errors go to logger.
func ServeChild(addr string, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if _, err := fmt.Fprintln(os.Stdout, ln.Addr().String()); err != nil {
		_ = srv.Close()
		return err
	}

	// The parent holds our stdin open; EOF means it is done or gone.
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)

	select {
	case err := <-serveErr:
		return err
	case <-stdinClosed:
	case <-sig:
	}
	_ = srv.Close()
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
