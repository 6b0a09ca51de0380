// Command s3bench measures the tus server of this module on S3 (package
// s3store) against the AWS SDK's own multipart upload of the same bytes, in
// one run, against the same S3 server and bucket (MinIO during development).
//
// Usage:
//
//	go run ./internal/cmd/s3bench [flags]
//
// For example, with the servers of scripts/s3-servers run:
//
//	export TUS_S3_SERVERS=versitygw=http://127.0.0.1:17070,minio=http://127.0.0.1:19000
//	export TUS_S3_ACCESS_KEY=tusadmin TUS_S3_SECRET_KEY=tussecret123
//	go run ./internal/cmd/s3bench -rounds 3
//	go run ./internal/cmd/s3bench -scenarios patch1m -size-patch 64MiB -json
//	go run ./internal/cmd/s3bench -part-size 8MiB -concurrency 8
//
// # What is compared
//
//   - SDK: manager.NewUploader(client) with PartSize P and Concurrency C, and
//     one Upload(&s3.PutObjectInput{Bucket, Key, Body}) of the N bytes. The
//     body is a plain io.Reader streaming the bytes (neither io.Seeker nor
//     io.ReaderAt), so the manager copies each part into a buffer, as a
//     server copies from its socket. It runs in this process.
//   - tus: tus.NewHandler over s3store.New(client, Options{Bucket, PartSize:
//     P, ConcurrentPartUploads: C}) and memorylocker, in a child process
//     (this program re-executed with -serve) listening on 127.0.0.1. This
//     process is the tus client: a POST with Upload-Length, then PATCHes with
//     the bytes, checking every status and Upload-Offset. The time runs from
//     the POST to the answer of the last PATCH, which includes completing
//     the multipart upload, as the SDK's time does.
//
// Both use the same client setup: static credentials, region us-east-1,
// path-style addressing, BaseEndpoint, the SDK's defaults otherwise. P and C
// default to s3store.DefaultPartSize (16 MiB) and
// s3store.DefaultConcurrentPartUploads (4).
//
// # Scenarios
//
//   - large: one upload of -size-large bytes (1 GiB), tus in a single PATCH.
//   - patch1m: one upload of -size-patch bytes (256 MiB), tus in sequential
//     PATCHes of -patch-size bytes (1 MiB), as a tus client sends it.
//
// The bytes are deterministic pseudo-random data (ChaCha8, a pattern of
// 16 MiB + 4099 bytes cycled, so no part repeats another and nothing
// compresses). Each scenario gets a fresh child server, a warm-up upload on
// both sides, then -rounds rounds, the SDK first in odd rounds and tus first
// in even ones; tables show the median. Before every timed upload the
// program calls sync(2) (-settle=false disables it), so that the S3
// server's write-back of an earlier upload is not charged to the next (it
// matters when the server runs on this machine). After every upload (not timed) the
// object is read back with GetObject and its length and SHA-256 compared
// with the bytes sent (on a mismatch the first differing byte is reported),
// the keys the store left under the upload are checked (only the object and
// its .info may remain once an upload is complete), and then every object
// of the run is deleted.
//
// Reported per scenario: MB/s (MB = 10^6 bytes) of each side and their
// ratio tus/SDK; the child's peak RSS (VmHWM from /proc/PID/status, read just
// before it is stopped, so the peak over its warm-up and every round);
// the S3 calls per PATCH and per upload, by operation, from
// s3store.Store.CallStats, which the child serves as JSON on GET
// /debug/calls, and for the SDK from a wrapper counting the calls of the
// manager; and for many PATCHes their latency.
//
// # Connection
//
// -endpoint, -access-key and -secret-key default to the minio= entry of
// TUS_S3_SERVERS, TUS_S3_ACCESS_KEY and TUS_S3_SECRET_KEY (as
// internal/s3test reads them). -bucket is created if missing and kept; the
// objects of a run are under a random prefix "s3bench-XXXXXXXX/" in it, and
// removed.
//
// A tus failure or a mismatch stops that scenario: the report shows the
// request and answer, or what differed, and the program exits with status 1.
// Progress goes to stderr; -json prints the results as JSON instead of
// tables.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tusgo/tus/internal/benchkit"
	"github.com/tusgo/tus/s3store"
)

// Environment variables the connection flags default from (as in
// internal/s3test).
const (
	envServers   = "TUS_S3_SERVERS"
	envAccessKey = "TUS_S3_ACCESS_KEY"
	envSecretKey = "TUS_S3_SECRET_KEY"
)

// serverName is the entry of TUS_S3_SERVERS the endpoint defaults to.
const serverName = "minio"

// defaultBucket is the bucket used without -bucket.
const defaultBucket = "tus-s3bench"

// s3Conn says how to reach the S3 server.
type s3Conn struct {
	endpoint  string
	accessKey string
	secretKey string
	bucket    string
}

// config holds the settings of a benchmark run.
type config struct {
	conn        s3Conn
	scenarios   []string
	rounds      int
	largeSize   int64
	patchTotal  int64 // size of the upload of the patch1m scenario
	patchSize   int64 // size of its PATCHes
	partSize    int64
	concurrency int
	single      bool // the store's Options.SingleProcess
	noHashes    bool // the store's Options.DisableContentHashes
	jsonOut     bool
	settle      bool
	timeout     time.Duration
	// exe is the program started as the tus server (os.Executable() by
	// default); childEnv is added to its environment.
	exe      string
	childEnv []string
}

// serveOptions are the settings of the child server process.
type serveOptions struct {
	addr        string
	prefix      string
	partSize    int64
	concurrency int
	single      bool
	noHashes    bool
}

func main() { benchkit.Main("s3bench", run) }

// run parses the command line and either serves (child mode) or runs the
// benchmark.
func run(args []string, stdout, stderr io.Writer) error {
	var (
		cfg       config
		so        serveOptions
		serveMode bool
		scenarios string
		large     = benchkit.ByteSize(1 << 30)
		patchTot  = benchkit.ByteSize(256 << 20)
		patch     = benchkit.ByteSize(1 << 20)
		part      = benchkit.ByteSize(s3store.DefaultPartSize)
	)
	endpoint, _ := endpointFromEnv(os.Getenv(envServers), serverName)
	fs := benchkit.NewFlagSet("s3bench", stderr)
	fs.StringVar(&cfg.conn.endpoint, "endpoint", endpoint, "S3 endpoint URL; defaults to the "+serverName+"= entry of $"+envServers)
	fs.StringVar(&cfg.conn.accessKey, "access-key", os.Getenv(envAccessKey), "S3 access key; defaults to $"+envAccessKey)
	fs.StringVar(&cfg.conn.secretKey, "secret-key", "", "S3 secret key; defaults to $"+envSecretKey)
	fs.StringVar(&cfg.conn.bucket, "bucket", defaultBucket, "bucket to upload into, created if missing")
	fs.StringVar(&scenarios, "scenarios", strings.Join(scenarioOrder, ","), "comma-separated scenarios to run ("+strings.Join(scenarioOrder, ", ")+")")
	fs.IntVar(&cfg.rounds, "rounds", 3, "rounds per scenario; the median is reported")
	fs.Var(&large, "size-large", "size of the upload of the large scenario (e.g. 1GiB, 256MiB)")
	fs.Var(&patchTot, "size-patch", "size of the upload of the patch1m scenario")
	fs.Var(&patch, "patch-size", "size of each PATCH of the patch1m scenario")
	fs.Var(&part, "part-size", "part size P of both the store and the SDK uploader")
	fs.IntVar(&cfg.concurrency, "concurrency", s3store.DefaultConcurrentPartUploads, "concurrent part uploads C of both the store and the SDK uploader")
	fs.BoolVar(&cfg.single, "single-process", true, "run the store with Options.SingleProcess, as tusd does (it keeps its locks in memory)")
	fs.BoolVar(&cfg.noHashes, "disable-content-hashes", false, "run the store with Options.DisableContentHashes (the SDK baseline keeps its defaults)")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print results as JSON instead of tables")
	fs.BoolVar(&cfg.settle, "settle", true, "call sync(2) before every timed upload")
	fs.DurationVar(&cfg.timeout, "timeout", time.Hour, "abort the whole benchmark after this long")
	fs.BoolVar(&serveMode, "serve", false, "child mode: serve tus on S3 and print the address on stdout")
	fs.StringVar(&so.addr, "addr", "127.0.0.1:0", "child mode: address to listen on")
	fs.StringVar(&so.prefix, "prefix", "", "child mode: s3store ObjectPrefix")
	if err := benchkit.ParseFlags(fs, args); err != nil {
		return err
	}
	if cfg.conn.secretKey == "" {
		// Not the flag's default, so that -help does not print it.
		cfg.conn.secretKey = os.Getenv(envSecretKey)
	}
	cfg.largeSize, cfg.patchTotal, cfg.patchSize, cfg.partSize = int64(large), int64(patchTot), int64(patch), int64(part)

	switch {
	case cfg.conn.endpoint == "":
		return fmt.Errorf("no S3 endpoint: use -endpoint, or set %s with a %s= entry", envServers, serverName)
	case cfg.conn.accessKey == "" || cfg.conn.secretKey == "":
		return fmt.Errorf("no S3 credentials: use -access-key and -secret-key, or set %s and %s", envAccessKey, envSecretKey)
	case cfg.conn.bucket == "":
		return errors.New("-bucket must not be empty")
	case cfg.partSize < s3store.DefaultMinPartSize || cfg.partSize > s3store.DefaultMaxPartSize:
		return fmt.Errorf("-part-size must be between %s and %s", benchkit.FormatBytes(s3store.DefaultMinPartSize), benchkit.FormatBytes(s3store.DefaultMaxPartSize))
	case cfg.concurrency < 1:
		return errors.New("-concurrency must be at least 1")
	}
	if serveMode {
		so.partSize, so.concurrency, so.single, so.noHashes = cfg.partSize, cfg.concurrency, cfg.single, cfg.noHashes
		return serve(cfg.conn, so, stderr)
	}

	var err error
	if cfg.scenarios, err = benchkit.PickList("scenario", scenarios, scenarioOrder); err != nil {
		return err
	}
	switch {
	case cfg.rounds < 1:
		return errors.New("-rounds must be at least 1")
	case cfg.largeSize < 1 || cfg.patchTotal < 1 || cfg.patchSize < 1:
		return errors.New("sizes must be positive")
	}
	return bench(cfg, stdout, stderr)
}

// endpointFromEnv returns the endpoint of the entry called name in a
// TUS_S3_SERVERS list ("versitygw=http://…,minio=http://…").
func endpointFromEnv(list, name string) (string, bool) {
	for item := range strings.SplitSeq(list, ",") {
		n, endpoint, ok := strings.Cut(strings.TrimSpace(item), "=")
		if ok && strings.TrimSpace(n) == name {
			return strings.TrimSpace(endpoint), true
		}
	}
	return "", false
}
