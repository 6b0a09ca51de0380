// Command tusd serves tus resumable uploads into a local directory or an S3
// bucket.
//
// Usage:
//
//	tusd [flags]
//
// Run tusd -help for every flag, grouped (listening, protocol, CORS,
// storage, timeouts, hooks, metrics, operations); each can also be set by
// an environment variable TUSD_<NAME>. README.md documents them with the
// hook protocol.
//
// Uploads are created at http://HOST:PORT/files/ (the base path; the
// startup log line "tusd listening" names it, with localhost for the
// default wildcard -host 0.0.0.0, and the listen address); GET /
// serves a demo page and GET /metrics Prometheus metrics. The server stops
// gracefully on SIGINT or SIGTERM: it stops accepting, stops the uploads
// in progress at once (their bytes are stored, and they are answered 503
// ERR_SERVER_SHUTDOWN with Upload-Offset, so that their clients resume
// elsewhere), lets other requests finish, and cuts those still running
// shortly before -shutdown-timeout. It exits as soon as every request is
// answered.
//
// With -s3-bucket, uploads go to that bucket instead of -dir. Credentials and
// region come from the standard AWS environment variables (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_PROFILE, …) and shared
// configuration files; without a configured region, us-east-1 is used.
// -s3-endpoint selects an S3-compatible service (MinIO, versitygw, Cloudflare
// R2, …), addressed path-style. Locks are then held in the process's memory
// (one tusd per bucket) unless -redis-url names a Redis server, which lets
// any number of tusd instances serve one bucket, or one shared -dir, behind
// any load balancer.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"strings"
	"syscall"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/cmd/tusd/internal/demo"
	"github.com/tusgo/tus/hooks"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A second signal during the shutdown ends the process at once.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "tusd:", err)
		os.Exit(1)
	}
}

// run starts the server and serves until ctx ends. getenv reads the TUSD_
// variables; -version prints to stdout, logs go to stderr. ready, if not
// nil, is called with the listening address once requests are accepted.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready func(addr string)) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if o.version {
		fmt.Fprintln(stdout, versionString())
		return nil
	}
	logger := newLogger(stderr, o.logFormat, o.verbose)
	if o.exposePprof {
		// The process's own settings: this is its main function.
		runtime.SetBlockProfileRate(o.pprofBlockRate)
		runtime.SetMutexProfileFraction(o.pprofMutexRate)
	}
	m := newMetrics()

	composer := tus.NewStoreComposer()
	storeAttrs, closeStore, err := useStore(ctx, composer, o, logger, m)
	if err != nil {
		return err
	}

	cfg := tus.Config{
		StoreComposer:           composer,
		BasePath:                o.basePath,
		MaxSize:                 o.maxSize,
		MaxMetadataSize:         o.maxMetadataSize,
		DisableIETFDrafts:       o.disableIETF,
		DisableDownload:         o.disableDownload,
		DisableTermination:      o.disableTermination,
		DisableConcatenation:    o.disableConcatenation,
		RespectForwardedHeaders: o.behindProxy,
		NetworkTimeout:          o.networkTimeout,
		MinTransferRate:         o.minTransferRate,
		MinTransferRateWindow:   o.minTransferRateWindow,
		AcquireLockTimeout:      o.acquireLockTimeout,
		Expiration:              o.expiration,
		ExpirationSliding:       o.expirationSliding,
		ProgressInterval:        o.hooks.progressInterval,
		Cors:                    corsConfig(o.cors),
		Logger:                  logger,
		ErrorObserver:           m.observeError,
	}
	if o.networkTimeout == 0 {
		cfg.NetworkTimeout = -1 // 0 on the command line means no timeout
	}
	dispatcher, hookAttrs, err := newHooks(o.hooks, logger, m)
	if err != nil {
		return err
	}
	if dispatcher != nil {
		dispatcher.Configure(&cfg)
		m.countDroppedHooks(dispatcher)
	}
	h, err := tus.NewHandler(cfg)
	if err != nil {
		return err
	}

	reqs := &inflight{}
	demoOn := !o.disableDemo && o.basePath != "/" // the uploads would own "/"
	srv := newServer(o, reqs.wrap(routes(o, h, m, logger, demoOn)), logger, m.connState)

	ln, addr, listenAddr, err := listen(o)
	if err != nil {
		return errors.Join(err, closeStore())
	}
	stopCounting := m.countUploads(h)
	if dispatcher != nil {
		if err := dispatcher.Start(h); err != nil {
			return errors.Join(err, ln.Close(), closeStore())
		}
	}
	stopCleaner, cleanupAttr := startCleaner(h, o, logger)
	stopRelease := startMemoryRelease(reqs, idleCheck, releaseMemory)
	defer stopRelease()
	attrs := []any{"address", addr + o.basePath, "listen", listenAddr, "version", versionString()}
	attrs = append(attrs, storeAttrs...)
	attrs = append(attrs, "max_size", o.maxSize, "max_metadata_size", o.maxMetadataSize, "store_size", o.storeSize, "expiration", o.expiration, "expiration_sliding", o.expirationSliding, "cleanup", cleanupAttr, "ietf_drafts", !o.disableIETF,
		"download", !o.disableDownload, "termination", !o.disableTermination, "concatenation", !o.disableConcatenation,
		"cors", corsSummary(o.cors), "behind_proxy", o.behindProxy, "tls", o.tlsCert != "", "h2c", o.h2c,
		"network_timeout", o.networkTimeout, "min_transfer_rate", o.minTransferRate, "min_transfer_rate_window", o.minTransferRateWindow,
		"shutdown_timeout", o.shutdownTimeout, "acquire_lock_timeout", o.acquireLockTimeout)
	attrs = append(attrs, hookAttrs...)
	metricsAt := "off"
	if o.exposeMetrics {
		metricsAt = o.metricsPath
	}
	pprofAt := "off"
	if o.exposePprof {
		pprofAt = o.pprofPath
	}
	attrs = append(attrs, "metrics", metricsAt, "pprof", pprofAt, "demo", demoOn)
	logger.Info("tusd listening", attrs...)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if ready != nil {
		ready(addr)
	}
	select {
	case err = <-serveErr:
	case <-ctx.Done():
		logger.Info("shutting down", "timeout", o.shutdownTimeout)
		shutdownCtx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
		defer cancel()
		stopCleaner()
		err = shutdown(shutdownCtx, srv, h, reqs, logger)
		if serr := <-serveErr; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		// Post hooks already queued, and the S3 part uploads that run after
		// some responses, get what is left of the shutdown time.
		if dispatcher != nil {
			if herr := dispatcher.Close(shutdownCtx); herr != nil {
				logger.Warn("shutdown: post hooks not run", "error", herr)
			}
		}
		err = errors.Join(err, closeWithin(shutdownCtx, closeStore, logger))
		stopCounting()
		logger.Info("stopped")
		return err
	}
	// The server failed on its own.
	stopCleaner()
	if dispatcher != nil {
		_ = dispatcher.Close(context.Background())
	}
	stopCounting()
	return errors.Join(err, closeStore())
}

// startCleaner starts the expiry sweep when -expiration is set: it removes
// expired uploads and crash leftovers every -cleanup-interval. stop ends it
// and waits for it (a sweep in progress stops at its next store call).
// attr says what is swept and how often, for the startup log.
func startCleaner(h *tus.Handler, o options, logger *slog.Logger) (stop func(), attr string) {
	if o.expiration == 0 {
		return func() {}, "off"
	}
	interval := o.cleanupInterval
	if interval == 0 {
		interval = tus.DefaultCleanupInterval(o.expiration)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := h.RunCleaner(ctx, interval); err != nil {
			logger.Warn("expired uploads are not removed", "error", err)
		}
	}()
	what := "expired unfinished uploads"
	if o.dir != "" || o.s3.bucket != "" {
		what += " and crash leftovers older than -expiration"
	}
	return func() { cancel(); <-done }, fmt.Sprintf("every %s: %s", interval, what)
}

// routes returns every route of tusd with its request log: the tus
// handler h at the base path (counted in the metrics), the metrics and the
// demo page.
func routes(o options, h *tus.Handler, m *metrics, logger *slog.Logger, demoOn bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(o.basePath, m.instrument(http.StripPrefix(o.basePath, h)))
	if trimmed := strings.TrimSuffix(o.basePath, "/"); trimmed != "" {
		// POST to the base path without its trailing slash, as many clients send.
		mux.Handle(trimmed, m.instrument(http.StripPrefix(trimmed, h)))
	}
	if o.exposeMetrics {
		mux.Handle(o.metricsPath, m.handler())
	}
	if o.exposePprof {
		mux.Handle(o.pprofPath, pprofHandler(o.pprofPath))
	}
	if demoOn {
		mux.Handle("/", demo.Handler(o.basePath))
	}
	return logRequests(logger, m.bodyRead, mux)
}

// closeWithin runs closeStore until ctx ends. A store still busy then keeps
// its bytes: what is left over is finished by the next start.
func closeWithin(ctx context.Context, closeStore func() error, logger *slog.Logger) error {
	closed := make(chan error, 1)
	go func() { closed <- closeStore() }()
	select {
	case err := <-closed:
		return err
	case <-ctx.Done():
		logger.Warn("shutdown: store work still running is left to the next start")
		return nil
	}
}

// useStore puts the store of o into composer: the S3 bucket or the
// directory, within -store-size if it is set. It returns what the startup
// log says of it and the function that closes it.
func useStore(ctx context.Context, composer *tus.StoreComposer, o options, logger *slog.Logger, m *metrics) ([]any, func() error, error) {
	var attrs []any
	closeStore := func() error { return nil }
	var err error
	shared := o.redis.url != ""
	if o.s3.bucket != "" {
		attrs, closeStore, err = useS3(ctx, composer, o.s3, shared, logger, m.observeS3Call)
	} else {
		attrs, closeStore, err = useDir(composer, o.dir, o.fileSync, shared)
	}
	if err != nil {
		return nil, nil, err
	}
	if shared {
		lockAttrs, closeLocker, err := useRedisLocker(ctx, composer, o.redis, logger, m)
		if err != nil {
			return nil, nil, errors.Join(err, closeStore())
		}
		attrs = append(attrs, lockAttrs...)
		closeOnlyStore := closeStore
		closeStore = func() error { return errors.Join(closeOnlyStore(), closeLocker()) }
	}
	if o.storeSize > 0 {
		if err := useStoreSize(ctx, composer, o.storeSize); err != nil {
			return nil, nil, errors.Join(err, closeStore())
		}
	}
	return attrs, closeStore, nil
}

// corsConfig turns the CORS flags into the handler's settings: the allowed
// and exposed headers add to the tus defaults.
func corsConfig(c corsOptions) *tus.CorsConfig {
	cfg := tus.DefaultCorsConfig()
	cfg.Disable = c.disable
	if c.allowOrigin != ".*" && c.allowOrigin != "" {
		// Checked by parseFlags; anchored so that the whole origin must match.
		cfg.AllowOrigin = regexp.MustCompile("^(?:" + c.allowOrigin + ")$")
	}
	cfg.AllowCredentials = c.allowCredentials
	cfg.AllowMethods = c.allowMethods
	if c.allowHeaders != "" {
		cfg.AllowHeaders += ", " + c.allowHeaders
	}
	if c.exposeHeaders != "" {
		cfg.ExposeHeaders += ", " + c.exposeHeaders
	}
	cfg.MaxAge = c.maxAge
	return cfg
}

// corsSummary describes the CORS settings for the startup log.
func corsSummary(c corsOptions) string {
	if c.disable {
		return "off"
	}
	return "origin=" + c.allowOrigin
}

// newHooks returns the hook dispatcher of the hook flags, or nil if no
// backend is set, and what the startup log says of it.
func newHooks(o hookOptions, logger *slog.Logger, m *metrics) (*hooks.Dispatcher, []any, error) {
	var backend hooks.Backend
	var attrs []any
	switch {
	case o.dir != "":
		backend = &hooks.FileBackend{Dir: o.dir, Timeout: o.fileTimeout, Logger: logger}
		attrs = []any{"hooks", "file", "hooks_dir", o.dir}
	case o.httpURL != "":
		var forward []string
		for _, h := range strings.Split(o.forwardHeaders, ",") {
			if h = strings.TrimSpace(h); h != "" {
				forward = append(forward, h)
			}
		}
		backend = &hooks.HTTPBackend{
			URL: o.httpURL, Retry: o.httpRetry, Backoff: o.httpBackoff, Timeout: o.httpTimeout,
			ForwardHeaders: forward, MaxResponseSize: o.maxResponseSize,
		}
		attrs = []any{"hooks", "http", "hooks_url", redactURL(o.httpURL), "hooks_retry", o.httpRetry}
	default:
		return nil, []any{"hooks", "off"}, nil
	}
	enabled, err := hooks.ParseTypes(o.enabledEvents)
	if err != nil {
		return nil, nil, err
	}
	d, err := hooks.New(hooks.Config{Backend: backend, Enabled: enabled, Logger: logger, OnInvoke: m.observeHook})
	if err != nil {
		return nil, nil, err
	}
	return d, append(attrs, "hooks_enabled", strings.Join(typeNames(enabled), ",")), nil
}
