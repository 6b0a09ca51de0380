package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusgo/tus/internal/benchkit"
	"github.com/tusgo/tus/s3store"
)

// Scenario names, in the order they run.
const (
	scLarge = "large"
	scPatch = "patch1m"
)

// scenarioOrder lists every scenario in the order they run.
var scenarioOrder = []string{scLarge, scPatch}

// Sides of the comparison.
const (
	sideSDK = "SDK"
	sideTus = "tus"
)

// cleanupTimeout bounds the final removal of a run's objects, which also
// runs after the benchmark's context is canceled.
const cleanupTimeout = 2 * time.Minute

// scenario is one workload: an upload of size bytes, sent to tus in PATCHes
// of patch bytes.
type scenario struct {
	name  string
	desc  string
	size  int64
	patch int64
}

// patches returns how many PATCHes the tus side sends.
func (sc scenario) patches() int { return int((sc.size + sc.patch - 1) / sc.patch) }

// makeScenario returns the scenario called name, sized by cfg.
func makeScenario(name string, cfg config) scenario {
	sc := scenario{name: name}
	switch name {
	case scLarge:
		sc.size, sc.patch = cfg.largeSize, cfg.largeSize
	case scPatch:
		sc.size, sc.patch = cfg.patchTotal, min(cfg.patchSize, cfg.patchTotal)
	default:
		panic("unknown scenario " + name)
	}
	how := "a single PATCH"
	if n := sc.patches(); n > 1 {
		how = fmt.Sprintf("%d sequential PATCHes of %s", n, benchkit.FormatBytes(sc.patch))
	}
	sc.desc = fmt.Sprintf("one upload of %s; tus: POST, then %s; SDK: one manager.Upload", benchkit.FormatBytes(sc.size), how)
	return sc
}

// env is what every scenario of a run shares.
type env struct {
	cfg    config
	client *s3.Client
	gen    *benchkit.Generator
	prefix string // "s3bench-XXXXXXXX/": every key of the run is under it
	log    io.Writer
}

func (e *env) tusPrefix() string { return e.prefix + "tus/" }

// bench checks the bucket, runs the scenarios and prints the report.
func bench(cfg config, stdout, stderr io.Writer) error {
	ctx, stop := benchkit.RunContext(cfg.timeout)
	defer stop()
	// The child's stderr is copied into the same writer from another
	// goroutine.
	stderr = &lockedWriter{w: stderr}

	if cfg.exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		cfg.exe = exe
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	e := &env{
		cfg:    cfg,
		client: newS3Client(cfg.conn),
		gen:    newGenerator(),
		prefix: "s3bench-" + hex.EncodeToString(rnd[:]) + "/",
		log:    stderr,
	}
	created, err := ensureBucket(ctx, e.client, cfg.conn.bucket)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stderr, "created bucket %s\n", cfg.conn.bucket)
	}
	defer func() {
		// Also after a failure or an interrupt.
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := deletePrefix(ctx, e.client, cfg.conn.bucket, e.prefix); err != nil {
			fmt.Fprintf(stderr, "s3bench: removing the objects under %s: %v\n", e.prefix, err)
		}
	}()
	fmt.Fprintf(stderr, "S3 %s, bucket %s, keys under %s\n", cfg.conn.endpoint, cfg.conn.bucket, e.prefix)

	rep := newReport(cfg)
	var failed []string
	for _, name := range cfg.scenarios {
		sc := makeScenario(name, cfg)
		fmt.Fprintf(stderr, "== %s: %s\n", sc.name, sc.desc)
		res, err := runScenario(ctx, e, sc)
		if err != nil {
			res.Error = err.Error()
			fmt.Fprintf(stderr, "%s FAILED: %v\n", sc.name, err)
			failed = append(failed, sc.name)
		}
		if len(res.Problems) > 0 && err == nil {
			failed = append(failed, sc.name)
		}
		rep.Scenarios = append(rep.Scenarios, res)
		if ctx.Err() != nil {
			break
		}
	}
	if cfg.jsonOut {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeText(stdout)
	}
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("scenarios with failures or problems: %v (see the report)", failed)
	}
	return ctx.Err()
}

// sideRun is one measured upload of one side.
type sideRun struct {
	elapsed time.Duration
	calls   map[string]int64 // S3 calls of the whole upload, by operation
	// tus only:
	postCalls  map[string]int64 // of the POST
	patchCalls map[string]int64 // of all PATCHes together
	s3Errors   int64            // failed S3 calls of the store
	patchLat   []time.Duration
}

// runScenario starts a tus server for sc, warms both sides up and runs the
// rounds. The result holds what was measured even when it fails.
func runScenario(ctx context.Context, e *env, sc scenario) (res scenarioResult, err error) {
	cfg := e.cfg
	runs := map[string][]sideRun{}
	var mem, startMem *benchkit.MemStat
	defer func() { res = summarize(sc, runs, startMem, mem, res.Problems) }()

	srv, err := startServer(ctx, cfg, e.tusPrefix(), e.log)
	if err != nil {
		return res, fmt.Errorf("starting the tus server: %w", err)
	}
	defer func() {
		if serr := srv.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	if m, err := benchkit.ReadMem(srv.PID()); err == nil {
		startMem = &m
	}
	tc := newTusClient(srv, e.gen)
	defer tc.close()
	api := newCountingAPI(e.client)
	uploader := manager.NewUploader(api, func(u *manager.Uploader) {
		u.PartSize = cfg.partSize
		u.Concurrency = cfg.concurrency
	})

	// Warm-up: connections, buffers, caches; checked, not recorded.
	warm := scenario{name: sc.name + "-warmup", size: min(sc.size, cfg.partSize+1<<20)}
	warm.patch = min(sc.patch, warm.size)
	if _, err := runSDK(ctx, e, api, uploader, warm, "warmup"); err != nil {
		return res, fmt.Errorf("warm-up, SDK: %w", err)
	}
	_, problems, err := runTus(ctx, e, tc, srv, warm)
	res.Problems = append(res.Problems, problems...)
	if err != nil {
		return res, fmt.Errorf("warm-up, tus: %w", err)
	}

	for round := range cfg.rounds {
		for _, side := range benchkit.RoundOrder([]string{sideSDK, sideTus}, round) {
			var r sideRun
			var problems []string
			if side == sideSDK {
				r, err = runSDK(ctx, e, api, uploader, sc, fmt.Sprint(round+1))
			} else {
				r, problems, err = runTus(ctx, e, tc, srv, sc)
				res.Problems = append(res.Problems, problems...)
			}
			if err != nil {
				return res, fmt.Errorf("round %d, %s: %w", round+1, side, err)
			}
			runs[side] = append(runs[side], r)
			logRun(e.log, round+1, cfg.rounds, side, sc, r)
		}
	}
	// The peak over the server's life, just before it is stopped.
	m, err := benchkit.ReadMem(srv.PID())
	if err != nil {
		return res, err
	}
	mem = &m
	return res, nil
}

// logRun prints the progress line of one run.
func logRun(w io.Writer, round, rounds int, side string, sc scenario, r sideRun) {
	line := fmt.Sprintf("   round %d/%d %-3s %8.1f MB/s  %6.2fs  S3 calls/upload %d",
		round, rounds, side, benchkit.MBps(sc.size, r.elapsed), r.elapsed.Seconds(), sum(r.calls))
	if side == sideTus {
		line += fmt.Sprintf(", per PATCH %.2f", float64(sum(r.patchCalls))/float64(sc.patches()))
		if len(r.patchLat) > 1 {
			p50, p99 := benchkit.Percentiles(r.patchLat)
			line += fmt.Sprintf(", PATCH p50 %.1f ms p99 %.1f ms", ms(p50), ms(p99))
		}
		if r.s3Errors > 0 {
			line += fmt.Sprintf(", %d failed S3 calls", r.s3Errors)
		}
	}
	fmt.Fprintln(w, line)
}

// runSDK uploads the bytes of sc with the SDK's upload manager, checks the
// object and removes it.
func runSDK(ctx context.Context, e *env, api *countingAPI, up *manager.Uploader, sc scenario, tag string) (sideRun, error) {
	var r sideRun
	key := e.prefix + "sdk/" + sc.name + "-" + tag
	if e.cfg.settle {
		benchkit.SettleDisk()
	}
	before := api.snapshot()
	start := time.Now()
	_, err := up.Upload(ctx, &s3.PutObjectInput{
		Bucket: aws.String(e.cfg.conn.bucket),
		Key:    aws.String(key),
		Body:   e.gen.Reader(0, sc.size),
	})
	r.elapsed = time.Since(start)
	r.calls = diff(api.snapshot(), before)
	if err != nil {
		return r, fmt.Errorf("manager.Upload of %d bytes to %s: %w", sc.size, key, err)
	}
	if err := verifyObject(ctx, e.client, e.cfg.conn.bucket, key, e.gen, sc.size, layout{partSize: e.cfg.partSize}); err != nil {
		return r, err
	}
	return r, deletePrefix(ctx, e.client, e.cfg.conn.bucket, e.prefix)
}

// runTus uploads the bytes of sc through the tus server, checks the object
// and what else the store left, and removes it all. Problems are findings
// that do not stop the benchmark (keys left behind, failed S3 calls).
func runTus(ctx context.Context, e *env, tc *tusClient, srv *server, sc scenario) (r sideRun, problems []string, err error) {
	defer func() {
		if err != nil {
			if aerr := srv.Alive(); aerr != nil {
				err = errors.Join(err, aerr)
			}
		}
	}()
	s0, err := tc.calls(ctx)
	if err != nil {
		return r, nil, err
	}
	if e.cfg.settle {
		benchkit.SettleDisk()
	}
	start := time.Now()
	url, err := tc.create(ctx, sc.size)
	postTime := time.Since(start)
	if err != nil {
		return r, nil, err
	}
	// Read between the POST and the PATCHes, outside the timed spans.
	s1, err := tc.calls(ctx)
	if err != nil {
		return r, nil, err
	}
	start = time.Now()
	for off := int64(0); off < sc.size; off += sc.patch {
		t := time.Now()
		if err := tc.patch(ctx, url, off, min(sc.patch, sc.size-off)); err != nil {
			return r, nil, err
		}
		r.patchLat = append(r.patchLat, time.Since(t))
	}
	r.elapsed = postTime + time.Since(start)
	s2, err := tc.calls(ctx)
	if err != nil {
		return r, nil, err
	}
	r.postCalls, r.patchCalls, r.calls = callDiff(s1, s0), callDiff(s2, s1), callDiff(s2, s0)
	for op, st := range s2 {
		if d := st.Errors - s0[op].Errors; d > 0 {
			r.s3Errors += d
			problems = append(problems, fmt.Sprintf("%s: %d failed %s calls in the store during one upload (the tus requests succeeded)", sc.name, d, op))
		}
	}

	id := benchkit.UploadID(url)
	key := e.tusPrefix() + id
	lay := layout{partSize: e.cfg.partSize, patchSize: sc.patch}
	if err := verifyObject(ctx, e.client, e.cfg.conn.bucket, key, e.gen, sc.size, lay); err != nil {
		return r, problems, fmt.Errorf("upload %s (%s): %w", id, url, err)
	}
	objects, uploads, err := listKeys(ctx, e.client, e.cfg.conn.bucket, key)
	if err != nil {
		return r, problems, err
	}
	var extra []string
	for _, k := range objects {
		if k != key && k != key+".info" {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		problems = append(problems, fmt.Sprintf("%s: upload %s is complete, but the store left %d objects besides the object and its .info: %v",
			sc.name, id, len(extra), extra[:min(len(extra), 5)]))
	}
	if len(uploads) > 0 {
		problems = append(problems, fmt.Sprintf("%s: upload %s is complete, but %d multipart uploads are still open under its key (first: %s, upload ID %s)",
			sc.name, id, len(uploads), aws.ToString(uploads[0].Key), aws.ToString(uploads[0].UploadId)))
	}
	return r, problems, deletePrefix(ctx, e.client, e.cfg.conn.bucket, e.prefix)
}

// callDiff returns the calls of each operation made between two snapshots
// of the store's counters; operations without calls are left out.
func callDiff(after, before map[string]s3store.OpStats) map[string]int64 {
	d := map[string]int64{}
	for op, st := range after {
		if n := st.Calls - before[op].Calls; n != 0 {
			d[op] = n
		}
	}
	return d
}

// diff returns after minus before for each operation, leaving zeros out.
func diff(after, before map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for op, n := range after {
		if n -= before[op]; n != 0 {
			d[op] = n
		}
	}
	return d
}

// sum returns the total of m's values (call counts, or their averages).
func sum[N int64 | float64](m map[string]N) N {
	var t N
	for _, n := range m {
		t += n
	}
	return t
}

// ms returns d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// lockedWriter serializes the writes to w. It has no ReadFrom, so io.Copy
// into it holds no part of w's memory between writes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
