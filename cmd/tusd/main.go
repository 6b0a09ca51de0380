// Command tusd serves tus resumable uploads into a local directory or an S3
// bucket.
//
// Usage:
//
//	tusd [-dir ./data] [-host 0.0.0.0] [-port 1080] [-base-path /files/] [-max-size 0]
//	tusd -s3-bucket NAME [-s3-endpoint URL] [-s3-object-prefix PREFIX] [-s3-part-size BYTES]
//	     [-s3-min-part-size BYTES] [-s3-max-parts N] [-s3-concurrent-part-uploads N]
//	     [-s3-disable-part-copy] [-s3-disable-content-hashes] [-host …] [-port …] [-base-path …] [-max-size …]
//
// Uploads are created at http://HOST:PORT/files/ (the base path). The server
// stops gracefully on SIGINT or SIGTERM.
//
// With -s3-bucket, uploads go to that bucket instead of -dir. Credentials and
// region come from the standard AWS environment variables (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_PROFILE, …) and shared
// configuration files; without a configured region, us-east-1 is used.
// -s3-endpoint selects an S3-compatible service (MinIO, versitygw, Cloudflare
// R2, …), addressed path-style. Locks are then held in the process's memory:
// run one tusd per bucket, since several instances on one bucket need a
// shared locker, which is not available yet.
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
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/s3store"
)

// options are the command-line settings.
type options struct {
	dir      string
	host     string
	port     int
	basePath string
	maxSize  int64
	s3       s3Options
}

// s3Options are the settings of the S3 store; bucket empty means the
// directory store.
type s3Options struct {
	bucket                string
	endpoint              string
	objectPrefix          string
	partSize              int64
	minPartSize           int64
	maxParts              int
	concurrentPartUploads int
	disablePartCopy       bool
	disableContentHashes  bool
}

// defaultRegion is the AWS region used when none is configured.
// S3-compatible services such as MinIO and versitygw accept any.
const defaultRegion = "us-east-1"

// usageHeader comes before the flag list of -help.
const usageHeader = `Usage: tusd [flags]

Serves tus 1.0 resumable uploads at http://HOST:PORT/BASE-PATH, stored in a
local directory (-dir) or, with -s3-bucket, in an S3 bucket.

S3 credentials and region come from the standard AWS environment variables
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,
AWS_PROFILE, ...) and shared config files (~/.aws/config, ~/.aws/credentials);
without a configured region, us-east-1 is used. With S3, upload locks are held
in this process's memory: run one tusd per bucket (several instances on one
bucket need a shared locker, which is not available yet).

Flags:
`

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
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHeader)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.dir, "dir", "./data", "directory to store uploads in (created if missing); not with -s3-bucket")
	fs.StringVar(&o.host, "host", "0.0.0.0", "host or address to listen on")
	fs.IntVar(&o.port, "port", 1080, "port to listen on (0 picks a free one)")
	fs.StringVar(&o.basePath, "base-path", "/files/", "URL path the uploads are served under")
	fs.Int64Var(&o.maxSize, "max-size", 0, "largest upload accepted, in bytes (0: no limit)")
	fs.StringVar(&o.s3.bucket, "s3-bucket", "", "store uploads in this S3 `bucket` instead of -dir (locks are in memory: one tusd per bucket)")
	fs.StringVar(&o.s3.endpoint, "s3-endpoint", "", "`URL` of an S3-compatible service (MinIO, versitygw, R2, ...), addressed path-style (default: AWS)")
	fs.StringVar(&o.s3.objectPrefix, "s3-object-prefix", "", "`prefix` of every object key the S3 store writes, e.g. uploads/")
	fs.Int64Var(&o.s3.partSize, "s3-part-size", 0, "preferred size of an S3 part, in `bytes` (0: 16 MiB)")
	fs.Int64Var(&o.s3.minPartSize, "s3-min-part-size", 0, "smallest part the S3 service accepts but for the last, in `bytes` (0: 5 MiB)")
	fs.IntVar(&o.s3.maxParts, "s3-max-parts", 0, "most parts the S3 service allows in one multipart upload (0: 10000)")
	fs.IntVar(&o.s3.concurrentPartUploads, "s3-concurrent-part-uploads", 0, "parts one request uploads to S3 at the same time (0: 4)")
	fs.BoolVar(&o.s3.disablePartCopy, "s3-disable-part-copy", false, "concatenate uploads by streaming them instead of UploadPartCopy")
	fs.BoolVar(&o.s3.disableContentHashes, "s3-disable-content-hashes", false, "send upload bytes to S3 without a SHA-256 in the signature, to save CPU (the CRC32 checksum still guards them; use with HTTPS)")
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
	if err := checkS3Flags(fs, o.s3); err != nil {
		return o, err
	}
	return o, nil
}

// checkS3Flags reports S3 settings that cannot work, and S3 flags given
// without -s3-bucket or together with -dir.
func checkS3Flags(fs *flag.FlagSet, s s3Options) error {
	var set []string
	fs.Visit(func(f *flag.Flag) { set = append(set, f.Name) })
	for _, name := range set {
		switch {
		case name == "dir" && s.bucket != "":
			return errors.New("-dir and -s3-bucket exclude each other: uploads go to the bucket")
		case name != "s3-bucket" && strings.HasPrefix(name, "s3-") && s.bucket == "":
			return fmt.Errorf("-%s needs -s3-bucket", name)
		}
	}
	if s.bucket == "" {
		return nil
	}
	if strings.TrimSpace(s.bucket) != s.bucket || strings.ContainsAny(s.bucket, "/ ") {
		return fmt.Errorf("-s3-bucket %q is not a bucket name", s.bucket)
	}
	if s.endpoint != "" {
		u, err := url.Parse(s.endpoint)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return fmt.Errorf("-s3-endpoint %q is not an http:// or https:// URL", s.endpoint)
		case u.User != nil:
			// The SDK would ignore them; keep secrets off the command line.
			return errors.New("-s3-endpoint must not contain credentials: use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"-s3-part-size", s.partSize},
		{"-s3-min-part-size", s.minPartSize},
		{"-s3-max-parts", int64(s.maxParts)},
		{"-s3-concurrent-part-uploads", int64(s.concurrentPartUploads)},
	} {
		if f.v < 0 {
			return fmt.Errorf("%s must not be negative", f.name)
		}
	}
	return nil
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

	composer := tus.NewStoreComposer()
	var storeAttrs []any // describe the store in the startup log
	closeStore := func() error { return nil }
	if o.s3.bucket != "" {
		storeAttrs, closeStore, err = useS3(ctx, composer, o.s3, logger)
	} else {
		storeAttrs, err = useDir(composer, o.dir)
	}
	if err != nil {
		return err
	}

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
	attrs := append([]any{"address", "http://" + ln.Addr().String() + o.basePath}, storeAttrs...)
	logger.Info("tusd listening", append(attrs, "max_size", o.maxSize)...)

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
	// The S3 store uploads parts after some responses: let them land, for
	// as long as the shutdown allows (their bytes are stored either way).
	closed := make(chan error, 1)
	go func() { closed <- closeStore() }()
	select {
	case cerr := <-closed:
		err = errors.Join(err, cerr)
	case <-shutdownCtx.Done():
		logger.Warn("shutdown: part uploads still running are left to the next start")
	}
	return err
}

// useDir puts the directory store and its file locker into composer.
func useDir(composer *tus.StoreComposer, dir string) ([]any, error) {
	store, err := filestore.New(dir)
	if err != nil {
		return nil, err
	}
	locker, err := filestore.NewLocker(dir)
	if err != nil {
		return nil, err
	}
	store.UseIn(composer)
	locker.UseIn(composer)
	return []any{"dir", store.Dir()}, nil
}

// useS3 puts the S3 store and an in-memory locker into composer, after
// checking that the bucket can be reached.
func useS3(ctx context.Context, composer *tus.StoreComposer, so s3Options, logger *slog.Logger) ([]any, func() error, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if so.endpoint != "" {
			o.BaseEndpoint = aws.String(so.endpoint)
			o.UsePathStyle = true
		}
	})
	store, err := s3store.New(client, s3store.Options{
		Bucket:                so.bucket,
		ObjectPrefix:          so.objectPrefix,
		PartSize:              so.partSize,
		MinPartSize:           so.minPartSize,
		MaxParts:              so.maxParts,
		ConcurrentPartUploads: so.concurrentPartUploads,
		// The locks are in this process's memory: so is the truth.
		SingleProcess:        true,
		DisablePartCopy:      so.disablePartCopy,
		DisableContentHashes: so.disableContentHashes,
		Logger:               logger,
	})
	if err != nil {
		return nil, nil, err
	}
	// Fail at startup, not at the first upload, if the bucket cannot be
	// reached (missing, wrong credentials or endpoint).
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := client.HeadBucket(hctx, &s3.HeadBucketInput{Bucket: aws.String(so.bucket)}); err != nil {
		return nil, nil, fmt.Errorf("S3 bucket %q cannot be reached: %w", so.bucket, err)
	}
	store.UseIn(composer)
	memorylocker.New().UseIn(composer)

	endpoint := "AWS" // the SDK's endpoint for the region
	if e := client.Options().BaseEndpoint; e != nil {
		// Set by the flag or AWS_ENDPOINT_URL(_S3); never log credentials.
		endpoint = *e
		if u, err := url.Parse(*e); err == nil {
			endpoint = u.Redacted()
		}
	}
	opts := store.Options()
	return []any{
		"store", "s3", "bucket", so.bucket, "endpoint", endpoint, "region", cfg.Region,
		"prefix", so.objectPrefix, "part_size", opts.PartSize, "locker", "memory (one tusd per bucket)",
	}, store.Close, nil
}
