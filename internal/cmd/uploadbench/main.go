// Command uploadbench measures the tus server of this module against a
// baseline that is the least an HTTP upload server in Go can do, in one run,
// on one machine, with the same client.
//
// Usage:
//
//	go run ./internal/cmd/uploadbench [flags]
//
// For example:
//
//	go run ./internal/cmd/uploadbench -rounds 3
//	go run ./internal/cmd/uploadbench -scenarios large -large-size 256MiB
//	go run ./internal/cmd/uploadbench -scenarios small1k -cpuprofile /tmp/prof -json
//	go run ./internal/cmd/uploadbench -tmpdir /dev/shm   # tmpfs: no disk, no fsync cost
//
// # Servers
//
// The program starts one child process per server by re-executing itself
// with -serve. Each child serves http://127.0.0.1:PORT/files/, stores into
// its own fresh directory under -tmpdir (default: os.TempDir(), usually /tmp;
// removed at the end) and prints its
// address on stdout. A child ends when its stdin is closed (so it also ends
// if the parent dies) or on SIGINT/SIGTERM, and then removes its directory.
//
//   - baseline: POST creates an empty file with a random name (O_CREATE|O_EXCL)
//     and answers 201 with Location; PATCH opens the file for appending,
//     io.Copy's the body into it and answers 204. A POST with a body copies
//     it into the new file (for the creation-with-upload comparison). No
//     fsync, no locking, no metadata.
//   - tus: tus.NewHandler over filestore.New and filestore.NewLocker, as
//     cmd/tusd assembles it (fsync when an upload finishes).
//   - tus-nosync: the same with filestore.Options{NoSync: true}.
//
// # Scenarios
//
// Scenarios always run in this order, each against every server, -rounds
// times with the server order alternating between rounds; tables report
// the median:
//
//   - small1k: -small-n uploads of -small-size bytes (3000 × 1 KiB), each a
//     POST and a PATCH, with -c concurrent clients. Uploads/s.
//   - small1k-cwu: the same as one POST carrying the body (tus
//     creation-with-upload). Uploads/s.
//   - chunks256k: one upload of -chunked-size bytes (256 MiB) sent as
//     sequential PATCHes of -chunk-size bytes (256 KiB). MB/s.
//   - large: one upload of -large-size bytes (1 GiB) in a single PATCH,
//     streamed from a 4 MiB pseudo-random buffer. MB/s.
//
// -large-c runs that many large or chunked uploads at once. MB is 10^6
// bytes, MiB 2^20. Every response status (and for tus Upload-Offset) is
// checked, and after every run the files on disk are checked against what
// was sent, so a broken server cannot look fast; then they are deleted.
// Before each timed run the program calls sync(2) (disable with
// -settle=false) so that write-back of an earlier run is not charged to the
// next.
//
// Besides the throughput the tables show the server's CPU time per upload or
// per GB (from /proc/PID/stat, 10 ms resolution) and, for small uploads,
// latency percentiles. The peak RSS table shows each child's VmHWM (the peak
// since it started) and VmRSS after warm-up and after each scenario.
//
// -cpuprofile DIR makes every child write a CPU profile of its whole life to
// DIR/<server>.pprof; run one scenario at a time to profile it, then
//
//	go tool pprof -top DIR/tus.pprof
//
// -json prints the results as JSON instead of tables. Progress goes to
// stderr.
package main

import (
	"errors"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tusgo/tus/internal/benchkit"
)

// config holds the settings of a benchmark run.
type config struct {
	scenarios   []string
	servers     []string
	rounds      int
	conc        int
	largeConc   int
	largeSize   int64
	chunkedSize int64
	chunkSize   int64
	smallN      int
	smallSize   int64
	jsonOut     bool
	settle      bool
	profileDir  string
	tmpDir      string
	timeout     time.Duration
}

// serveOptions are the settings of a child server process.
type serveOptions struct {
	kind       string
	dir        string
	addr       string
	cpuprofile string
	cleanup    bool
}

func main() { benchkit.Main("uploadbench", run) }

// run parses the command line and either serves (child mode) or runs the
// benchmark.
func run(args []string, stdout, stderr io.Writer) error {
	var (
		cfg       config
		so        serveOptions
		scenarios string
		servers   string
		large     = benchkit.ByteSize(1 << 30)
		chunked   = benchkit.ByteSize(256 << 20)
		chunk     = benchkit.ByteSize(256 << 10)
		small     = benchkit.ByteSize(1 << 10)
	)
	fs := benchkit.NewFlagSet("uploadbench", stderr)
	fs.StringVar(&so.kind, "serve", "", "child mode: serve `KIND` (baseline, tus, tus-nosync) and print the address on stdout")
	fs.StringVar(&so.dir, "dir", "", "child mode: directory to store uploads in")
	fs.StringVar(&so.addr, "addr", "127.0.0.1:0", "child mode: address to listen on")
	fs.BoolVar(&so.cleanup, "cleanup", false, "child mode: remove -dir on exit")
	fs.StringVar(&so.cpuprofile, "cpuprofile", "", "child mode: write a CPU profile to this `file`; benchmark mode: write one profile per server into this directory")
	fs.StringVar(&scenarios, "scenarios", strings.Join(scenarioOrder, ","), "comma-separated scenarios to run")
	fs.StringVar(&servers, "servers", strings.Join(serverKinds, ","), "comma-separated servers to compare (ratios need baseline)")
	fs.IntVar(&cfg.rounds, "rounds", 3, "rounds per scenario and server; the median is reported")
	fs.IntVar(&cfg.conc, "c", 4, "concurrent clients in the small-upload scenarios")
	fs.IntVar(&cfg.largeConc, "large-c", 1, "concurrent uploads in the large and chunked scenarios")
	fs.Var(&large, "large-size", "size of the upload in the large scenario (e.g. 1GiB, 256MiB)")
	fs.Var(&chunked, "chunked-size", "size of the upload in the chunked scenario")
	fs.Var(&chunk, "chunk-size", "PATCH size in the chunked scenario")
	fs.IntVar(&cfg.smallN, "small-n", 3000, "uploads per round in the small-upload scenarios")
	fs.Var(&small, "small-size", "size of each small upload")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print results as JSON instead of tables")
	fs.BoolVar(&cfg.settle, "settle", true, "call sync(2) before every timed run")
	fs.StringVar(&cfg.tmpDir, "tmpdir", os.TempDir(), "where the servers' storage directories are created")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Minute, "abort the whole benchmark after this long")
	if err := benchkit.ParseFlags(fs, args); err != nil {
		return err
	}
	if so.kind != "" {
		return serve(so, stderr)
	}

	var err error
	if cfg.scenarios, err = benchkit.PickList("scenario", scenarios, scenarioOrder); err != nil {
		return err
	}
	if cfg.servers, err = benchkit.PickList("server", servers, serverKinds); err != nil {
		return err
	}
	cfg.largeSize, cfg.chunkedSize, cfg.chunkSize, cfg.smallSize = int64(large), int64(chunked), int64(chunk), int64(small)
	cfg.profileDir = so.cpuprofile
	switch {
	case cfg.rounds < 1:
		return errors.New("-rounds must be at least 1")
	case cfg.conc < 1 || cfg.largeConc < 1:
		return errors.New("-c and -large-c must be at least 1")
	case cfg.smallN < 1:
		return errors.New("-small-n must be at least 1")
	case cfg.largeSize < 1 || cfg.chunkedSize < 1 || cfg.chunkSize < 1 || cfg.smallSize < 1:
		return errors.New("sizes must be positive")
	}
	return bench(cfg, stdout, stderr)
}
