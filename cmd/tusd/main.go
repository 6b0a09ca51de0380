// Command tusd serves tus resumable uploads into a local directory.
//
// Usage:
//
//	tusd [-dir ./data] [-host 127.0.0.1] [-port 1080] [-base-path /files/] [-max-size 0]
//
// Uploads are created at http://HOST:PORT/files/ (the base path). The server
// stops gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
)

// options are the command-line settings.
type options struct {
	dir      string
	host     string
	port     int
	basePath string
	maxSize  int64
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "tusd:", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("tusd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dir, "dir", "./data", "directory to store uploads in (created if missing)")
	fs.StringVar(&o.host, "host", "0.0.0.0", "host or address to listen on")
	fs.IntVar(&o.port, "port", 1080, "port to listen on (0 picks a free one)")
	fs.StringVar(&o.basePath, "base-path", "/files/", "URL path the uploads are served under")
	fs.Int64Var(&o.maxSize, "max-size", 0, "largest upload accepted, in bytes (0: no limit)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.maxSize < 0 {
		return o, errors.New("-max-size must not be negative")
	}
	if o.port < 0 || o.port > 65535 {
		return o, errors.New("-port must be between 0 and 65535")
	}
	if !strings.HasPrefix(o.basePath, "/") {
		o.basePath = "/" + o.basePath
	}
	if !strings.HasSuffix(o.basePath, "/") {
		o.basePath += "/"
	}
	return o, nil
}

// shutdownTimeout bounds how long in-flight requests may take to finish
// once the server is asked to stop.
const shutdownTimeout = 10 * time.Second

// run starts the server and serves until ctx ends. ready, if not nil, is
// called with the listening address once requests are accepted.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(addr string)) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	store, err := filestore.New(o.dir)
	if err != nil {
		return err
	}
	locker, err := filestore.NewLocker(o.dir)
	if err != nil {
		return err
	}
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	locker.UseIn(composer)

	h, err := tus.NewHandler(tus.Config{
		StoreComposer: composer,
		BasePath:      o.basePath,
		MaxSize:       o.maxSize,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(o.basePath, http.StripPrefix(o.basePath, h))
	if trimmed := strings.TrimSuffix(o.basePath, "/"); trimmed != "" {
		// POST to the base path without its trailing slash, as many clients send.
		mux.Handle(trimmed, http.StripPrefix(trimmed, h))
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(o.host, strconv.Itoa(o.port)))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("tusd listening", "address", "http://"+ln.Addr().String()+o.basePath, "dir", store.Dir(), "max_size", o.maxSize)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if err != nil {
		// Requests still running are cut off; what they read is stored.
		err = errors.Join(fmt.Errorf("shutdown: %w", err), srv.Close())
	}
	if serr := <-serveErr; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
