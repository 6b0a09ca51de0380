// Command tusbench measures the tus server of this module (cmd/tusd, built
// from this checkout) against a raw Go upload server, the AWS SDK's own
// multipart upload, and optionally the reference servers tusd v2.9.1 and
// @tus/server 2.4.5, on one machine with one client, and prints one table.
//
// Usage:
//
//	go run ./cmd/tusbench [flags]
//
// For example:
//
//	go run ./cmd/tusbench -peers                  # everything, 3 rounds
//	go run ./cmd/tusbench -peers -rounds 1 -json  # one round, as JSON
//	go run ./cmd/tusbench -workloads small,large  # ours and raw only
//
// # Servers
//
// Every server runs with its defaults, as its own process, listening on
// 127.0.0.1, storing into its own directory under -tmpdir (or its own
// bucket):
//
//   - raw: the least an HTTP upload server in Go can do (this program
//     re-executed with -serve-raw): POST creates a file with a random name
//     (and copies its body into it, the counterpart of creation-with-upload),
//     PATCH opens it for appending and io.Copy's the body, HEAD answers its
//     size. No fsync, no locks, no metadata. The baseline of the disk
//     workloads.
//   - ours: cmd/tusd of this checkout, built with go build (or -ours-bin),
//     with -dir or -s3-bucket and -s3-endpoint.
//   - tusd: github.com/tus/tusd/v2/cmd/tusd@v2.9.1, with -upload-dir or
//     -s3-bucket and -s3-endpoint.
//   - node: @tus/server 2.4.5 with @tus/file-store 2.1.1 (FileStore) or
//     @tus/s3-store 2.0.7 (S3Store, path-style), under node.
//   - sdk: the baseline of the S3 workloads, in this process:
//     feature/s3/manager's Uploader with the part size and concurrency of
//     ours (16 MiB, 4), uploading the same bytes from a plain stream.
//
// With -peers the program installs what is missing into the cache
// directory (${TUS_CACHE_DIR:-~/.cache/tusgo}): tusd with go install into
// bin/tusd-v2.9.1, the npm packages with npm install at exact versions into
// node-tus-server-2.4.5/, MinIO with scripts/s3-servers install into bin/,
// and then starts tusd, node and a MinIO of its own (data under -tmpdir).
// Without -peers only raw, ours and sdk run, and the S3 workloads only with
// an S3 server given by -s3-endpoint or TUS_S3_SERVERS (its minio= entry,
// as internal/s3test reads it).
//
// # Workloads
//
// Each workload runs -rounds times, the order of the servers rotating from
// round to round; the table shows medians over the rounds, and ratios to
// the baseline taken within each round, then their median (higher is
// better, for every unit). Before every timed run the program calls sync(2)
// so that write-back of an earlier run is not charged to the next.
//
//   - small: 1,000 × 1 KiB uploads, 8 in flight, each a POST and a PATCH.
//   - small-cwu: the same, each one POST carrying the body
//     (creation-with-upload).
//   - chunks: 2 uploads of 32 MiB at once, each in 256 KiB PATCHes.
//   - large: 2 uploads of 256 MiB at once, one PATCH each.
//   - many: 100 uploads of 16 MiB at once, one PATCH each.
//   - scale: for every server, one process on an empty store and one on a
//     store holding 100,000 finished 1 KiB uploads written beforehand
//     straight into the directory in the server's own format (ours through
//     filestore's API; tusd's <id> and <id>.info; node's <id> and <id>.json;
//     raw's files); ten of them are read back with HEAD before measuring, so
//     a wrong format fails. Measured: 1,000 × 1 KiB uploads (POST + PATCH, 8
//     in flight) and then a HEAD of each, with their latency percentiles.
//   - s3-large: one 256 MiB upload, one PATCH (sdk: one Upload).
//   - s3-chunks: one 64 MiB upload in 1 MiB PATCHes.
//   - s3-many: 100 uploads of 16 MiB at once.
//
// Disk workloads report the acknowledged throughput (until the last
// answer) and the durable one: the same plus a syncfs(2) of the store's
// file system, inside the timing, which costs little for a server that
// fsyncs itself and the write-back for one that does not. S3 workloads
// create every upload first, then send the PATCHes; their S3 calls are
// counted by a reverse proxy in front of the S3 server that every side goes
// through, by bucket and operation, and the table shows the calls made
// during the PATCHes divided by the PATCHes. For ours the JSON also has the
// same figure from its own tusd_s3_calls_total metric, which TestSmoke
// checks against the proxy's.
//
// Every answer's status (and for tus its Upload-Offset) is checked, and
// after every run each upload's stored bytes are read back (the data file,
// or the object with GetObject) and compared with what was sent, then
// removed; a mismatch stops the program.
//
// The table also shows each server's CPU seconds in the run (utime+stime
// from /proc/PID/stat, median over the rounds) and its peak RSS (VmHWM from
// /proc/PID/status) after the workload's last round: since a process keeps
// its peak, the figure after "many" is the peak through all disk workloads,
// after "s3-chunks" through s3-large and s3-chunks, after "s3-many"
// through all three.
//
// -json prints the results as JSON; progress goes to stderr.
package main

import (
	"errors"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tusgo/tus/internal/benchkit"
)

// config holds the settings of a run.
type config struct {
	workloads []string
	rounds    int
	peers     bool
	jsonOut   bool
	tmpDir    string
	cacheDir  string
	oursBin   string
	timeout   time.Duration
	idleWait  time.Duration

	smallN, smallConc int
	smallSize         int64
	chunkedN          int
	chunkedSize       int64
	chunkSize         int64
	largeN            int
	largeSize         int64
	manyN             int
	manySize          int64
	scaleN, scaleOps  int
	s3LargeSize       int64
	s3ChunkedSize     int64
	s3ChunkSize       int64
	s3ManyN           int
	s3ManySize        int64
	s3Endpoint        string
	s3AccessKey       string
	s3SecretKey       string
	partSize          int64
	partConcurrency   int
}

func main() { benchkit.Main("tusbench", run) }

// run parses the command line and serves (-serve-raw) or benchmarks.
func run(args []string, stdout, stderr io.Writer) error {
	var (
		cfg       config
		workloads string
		serveRaw  string
		addr      string
		small     = benchkit.ByteSize(1 << 10)
		chunked   = benchkit.ByteSize(32 << 20)
		chunk     = benchkit.ByteSize(256 << 10)
		large     = benchkit.ByteSize(256 << 20)
		many      = benchkit.ByteSize(16 << 20)
		s3Large   = benchkit.ByteSize(256 << 20)
		s3Chunked = benchkit.ByteSize(64 << 20)
		s3Chunk   = benchkit.ByteSize(1 << 20)
		s3Many    = benchkit.ByteSize(16 << 20)
	)
	endpoint, _ := endpointFromEnv(os.Getenv(envServers), "minio")
	fs := benchkit.NewFlagSet("tusbench", stderr)
	fs.StringVar(&workloads, "workloads", strings.Join(workloadOrder, ","), "comma-separated workloads to run")
	fs.IntVar(&cfg.rounds, "rounds", 3, "rounds of every workload; the median is reported")
	fs.BoolVar(&cfg.peers, "peers", false, "install (into the cache) and start tusd v2.9.1, @tus/server 2.4.5 and MinIO")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print the results as JSON")
	fs.StringVar(&cfg.tmpDir, "tmpdir", os.TempDir(), "where the servers' directories are made (removed at the end)")
	fs.StringVar(&cfg.cacheDir, "cache", defaultCacheDir(), "where peers are installed")
	fs.StringVar(&cfg.oursBin, "ours-bin", "", "cmd/tusd binary to run as ours (default: go build it from this checkout)")
	fs.DurationVar(&cfg.timeout, "timeout", 2*time.Hour, "abort after this long")
	fs.DurationVar(&cfg.idleWait, "idle-wait", 15*time.Second, "how long the servers rest after the last disk and the last S3 workload before their idle RSS is noted (0: not noted)")
	fs.IntVar(&cfg.smallN, "small-n", 1000, "uploads of the small workloads")
	fs.IntVar(&cfg.smallConc, "c", 8, "uploads in flight in the small and scale workloads")
	fs.Var(&small, "small-size", "size of a small upload")
	fs.IntVar(&cfg.chunkedN, "chunked-n", 2, "concurrent uploads of the chunks workload")
	fs.Var(&chunked, "chunked-size", "size of each upload of the chunks workload")
	fs.Var(&chunk, "chunk-size", "PATCH size of the chunks workload")
	fs.IntVar(&cfg.largeN, "large-n", 2, "concurrent uploads of the large workload")
	fs.Var(&large, "large-size", "size of each upload of the large workload")
	fs.IntVar(&cfg.manyN, "many-n", 100, "concurrent uploads of the many workload")
	fs.Var(&many, "many-size", "size of each upload of the many workload")
	fs.IntVar(&cfg.scaleN, "scale-n", 100_000, "uploads in the full store of the scale workload")
	fs.IntVar(&cfg.scaleOps, "scale-ops", 1000, "uploads (and HEADs) measured in the scale workload")
	fs.Var(&s3Large, "s3-large-size", "size of the upload of s3-large")
	fs.Var(&s3Chunked, "s3-chunked-size", "size of the upload of s3-chunks")
	fs.Var(&s3Chunk, "s3-chunk-size", "PATCH size of s3-chunks")
	fs.IntVar(&cfg.s3ManyN, "s3-many-n", 100, "concurrent uploads of s3-many")
	fs.Var(&s3Many, "s3-many-size", "size of each upload of s3-many")
	fs.StringVar(&cfg.s3Endpoint, "s3-endpoint", endpoint, "S3 server to use instead of starting MinIO (default: the minio= entry of $"+envServers+")")
	fs.StringVar(&cfg.s3AccessKey, "s3-access-key", os.Getenv(envAccessKey), "access key of -s3-endpoint (default $"+envAccessKey+")")
	fs.StringVar(&serveRaw, "serve-raw", "", "child mode: serve the raw baseline storing into `dir`")
	fs.StringVar(&addr, "addr", "127.0.0.1:0", "child mode: address to listen on")
	if err := benchkit.ParseFlags(fs, args); err != nil {
		return err
	}
	if serveRaw != "" {
		return serveRawChild(serveRaw, addr, stderr)
	}
	cfg.s3SecretKey = os.Getenv(envSecretKey) // not a flag: -help would print it
	cfg.smallSize, cfg.chunkedSize, cfg.chunkSize = int64(small), int64(chunked), int64(chunk)
	cfg.largeSize, cfg.manySize = int64(large), int64(many)
	cfg.s3LargeSize, cfg.s3ChunkedSize, cfg.s3ChunkSize, cfg.s3ManySize = int64(s3Large), int64(s3Chunked), int64(s3Chunk), int64(s3Many)
	cfg.partSize, cfg.partConcurrency = 16<<20, 4 // ours' part size; ours uploads up to 2 parts per request
	var err error
	if cfg.workloads, err = benchkit.PickList("workload", workloads, workloadOrder); err != nil {
		return err
	}
	switch {
	case cfg.rounds < 1:
		return errors.New("-rounds must be at least 1")
	case min(cfg.smallN, cfg.smallConc, cfg.chunkedN, cfg.largeN, cfg.manyN, cfg.scaleOps, cfg.s3ManyN) < 1 || cfg.scaleN < 0:
		return errors.New("counts must be at least 1")
	case min(cfg.smallSize, cfg.chunkedSize, cfg.chunkSize, cfg.largeSize, cfg.manySize, cfg.s3LargeSize, cfg.s3ChunkedSize, cfg.s3ChunkSize, cfg.s3ManySize) < 1:
		return errors.New("sizes must be positive")
	}
	return bench(cfg, stdout, stderr)
}
