package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"

	"github.com/tusgo/tus/internal/benchkit"
)

// Environment variables of the S3 server (as internal/s3test reads them).
const (
	envServers   = "TUS_S3_SERVERS"
	envAccessKey = "TUS_S3_ACCESS_KEY"
	envSecretKey = "TUS_S3_SECRET_KEY"
)

// Credentials of the MinIO this program starts.
const (
	minioUser     = "tusbench"
	minioPassword = "tusbench-secret"
)

// env is what the whole run shares.
type env struct {
	cfg   config
	work  string // removed at the end
	exe   string
	ours  string
	peers peers
	gen   *benchkit.Generator
	log   io.Writer
	rep   *report
}

// kinds returns the tus servers of the run: ours, and the peers with
// -peers.
func (e *env) kinds() []string {
	if e.cfg.peers {
		return []string{kindOurs, kindTusd, kindNode}
	}
	return []string{kindOurs}
}

// bench prepares the servers, runs the workloads and prints the table.
func bench(cfg config, stdout, stderr io.Writer) (err error) {
	ctx, stop := benchkit.RunContext(cfg.timeout)
	defer stop()
	e := &env{cfg: cfg, gen: benchkit.NewGenerator(patternLen, "tusgo/tusbench"), log: stderr, rep: newReport(cfg)}
	if e.exe, err = os.Executable(); err != nil {
		return err
	}
	if e.work, err = os.MkdirTemp(cfg.tmpDir, "tusbench-"); err != nil {
		return err
	}
	defer func() {
		if rerr := os.RemoveAll(e.work); rerr != nil && err == nil {
			err = rerr
		}
	}()
	if err := os.MkdirAll(filepath.Join(e.work, "logs"), 0o755); err != nil {
		return err
	}
	if cfg.peers {
		if e.peers, err = installPeers(ctx, cfg.cacheDir, stderr); err != nil {
			return fmt.Errorf("installing the peers: %w", err)
		}
	}
	e.ours = cfg.oursBin
	if e.ours == "" {
		if e.ours, err = buildOurs(ctx, e.work, stderr); err != nil {
			return err
		}
	}

	if picked(cfg.workloads, diskWorkloads) {
		if err := e.runDisk(ctx); err != nil {
			return err
		}
	}
	if slices.Contains(cfg.workloads, wScale) {
		if err := e.runScale(ctx); err != nil {
			return err
		}
	}
	if picked(cfg.workloads, s3Workloads) {
		if err := e.runS3(ctx); err != nil {
			return err
		}
	}
	if cfg.jsonOut {
		return benchkit.WriteJSON(stdout, e.rep)
	}
	return e.rep.writeText(stdout)
}

// picked reports whether any of ws was selected.
func picked(selected, ws []string) bool {
	return slices.ContainsFunc(ws, func(w string) bool { return slices.Contains(selected, w) })
}

// rotate returns items rotated left by round, so that each server leads
// some round.
func rotate[T any](items []T, round int) []T {
	k := round % len(items)
	return append(slices.Clone(items[k:]), items[:k]...)
}

// stopAll stops the servers.
func stopAll(servers []*server) error {
	var errs []error
	for _, s := range servers {
		errs = append(errs, s.stop())
	}
	return errors.Join(errs...)
}

// runDisk runs the disk workloads on raw and the tus servers.
func (e *env) runDisk(ctx context.Context) (err error) {
	var servers []*server
	defer func() { err = errors.Join(err, stopAll(servers)) }()
	for _, kind := range append([]string{kindRaw}, e.kinds()...) {
		dir := filepath.Join(e.work, "disk-"+kind)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		s, err := e.startServer(ctx, kind, kind, dir, "", nil)
		if err != nil {
			return err
		}
		servers = append(servers, s)
	}
	for _, w := range diskWorkloads {
		if !slices.Contains(e.cfg.workloads, w) {
			continue
		}
		sh := shapeOf(w, e.cfg)
		fmt.Fprintf(e.log, "== %s: %s\n", w, sh.describe())
		rows := newRows(w, sh, servers, kindRaw)
		for round := range e.cfg.rounds {
			for _, s := range rotate(servers, round) {
				m, err := e.measureDisk(ctx, s, sh)
				if err != nil {
					return fmt.Errorf("%s, round %d, %s: %w", w, round+1, s.label, err)
				}
				rows.add(round, s.label, m)
				fmt.Fprintf(e.log, "   round %d %-6s %s\n", round+1, s.label, m)
			}
		}
		for _, s := range servers {
			rows.setRSS(s.label, s.peakRSS())
		}
		e.rep.add(rows)
	}
	return e.noteIdleRSS(ctx, "disk", servers)
}

// measureDisk runs sh once on s: sync, run, syncfs (durable), check the
// bytes, remove them.
func (e *env) measureDisk(ctx context.Context, s *server, sh shape) (measurement, error) {
	benchkit.SettleDisk()
	cpu0 := s.cpu()
	r, err := runUploads(ctx, s.client, sh)
	if err != nil {
		return measurement{}, errors.Join(err, s.alive())
	}
	t := time.Now()
	if err := syncFS(s.dir); err != nil {
		return measurement{}, err
	}
	durable := r.elapsed + time.Since(t)
	m := measure(sh, r, s.cpu()-cpu0, s.cpu() >= 0)
	m.Durable = figure(sh, r, durable)
	if err := verifyDisk(ctx, s.dir, r.uploads, e.gen); err != nil {
		return m, fmt.Errorf("the stored bytes differ from those sent: %w", err)
	}
	return m, cleanDir(s.dir)
}

// runScale runs the scale workload: every server on an empty store and on
// one populated beforehand.
func (e *env) runScale(ctx context.Context) (err error) {
	var servers []*server
	defer func() {
		err = errors.Join(err, stopAll(servers))
		// Now, not at the very end: removing the populated stores takes a
		// while.
		fmt.Fprintln(e.log, "removing the stores of the scale workload")
		for _, s := range servers {
			err = errors.Join(err, os.RemoveAll(s.dir))
		}
	}()
	for _, kind := range append([]string{kindRaw}, e.kinds()...) {
		for _, full := range []bool{false, true} {
			label, dir := kind+" empty", filepath.Join(e.work, "scale-empty-"+kind)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			var sample []string
			if full {
				label, dir = kind+" "+strconv.Itoa(e.cfg.scaleN), filepath.Join(e.work, "scale-full-"+kind)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
				t := time.Now()
				if sample, err = populate(ctx, kind, dir, e.cfg.scaleN, e.gen); err != nil {
					return err
				}
				fmt.Fprintf(e.log, "populated the store of %s with %d uploads in %.1fs\n", kind, e.cfg.scaleN, time.Since(t).Seconds())
			}
			s, err := e.startServer(ctx, kind, label, dir, "", nil)
			if err != nil {
				return err
			}
			servers = append(servers, s)
			// The server reads what was put there: a wrong format fails here.
			base := s.client.base
			for _, id := range sample {
				if err := s.client.head(ctx, base+id, populatedSize); err != nil {
					return fmt.Errorf("%s does not read the uploads written into its store: %w", label, err)
				}
			}
		}
	}
	sh := shapeOf(wScale, e.cfg)
	fmt.Fprintf(e.log, "== %s: %s, then a HEAD of each; empty store and %d uploads\n", wScale, sh.describe(), e.cfg.scaleN)
	type pair struct{ up, head *rows }
	byState := map[bool]pair{}
	for _, full := range []bool{false, true} {
		var ss []*server
		for i, s := range servers {
			if (i%2 == 1) == full {
				ss = append(ss, s)
			}
		}
		state := "empty"
		if full {
			state = strconv.Itoa(e.cfg.scaleN)
		}
		byState[full] = pair{
			up:   newRows("scale upload, "+state, sh, ss, kindRaw),
			head: newRows("scale HEAD, "+state, sh, ss, kindRaw),
		}
		byState[full].head.desc = fmt.Sprintf("a HEAD of each of those %d uploads, %d in flight", sh.n, sh.conc)
	}
	for round := range e.cfg.rounds {
		for _, s := range rotate(servers, round) {
			full := !strings.HasSuffix(s.label, " empty")
			benchkit.SettleDisk()
			cpu0 := s.cpu()
			up, err := runUploads(ctx, s.client, sh)
			if err != nil {
				return fmt.Errorf("%s, round %d, %s: %w", wScale, round+1, s.label, errors.Join(err, s.alive()))
			}
			cpu1 := s.cpu()
			heads, err := runHeads(ctx, s.client, up.uploads, sh.conc)
			if err != nil {
				return fmt.Errorf("%s HEAD, round %d, %s: %w", wScale, round+1, s.label, errors.Join(err, s.alive()))
			}
			cpu2 := s.cpu()
			mu, mh := measure(sh, up, cpu1-cpu0, cpu0 >= 0), measure(sh, heads, cpu2-cpu1, cpu0 >= 0)
			byState[full].up.add(round, s.label, mu)
			byState[full].head.add(round, s.label, mh)
			fmt.Fprintf(e.log, "   round %d %-12s upload %s; HEAD %s\n", round+1, s.label, mu, mh)
			if err := verifyDisk(ctx, s.dir, up.uploads, e.gen); err != nil {
				return fmt.Errorf("%s, %s: the stored bytes differ from those sent: %w", wScale, s.label, err)
			}
			if err := removeUploads(s.dir, up.uploads); err != nil {
				return err
			}
		}
	}
	for _, full := range []bool{false, true} {
		e.rep.add(byState[full].up)
		e.rep.add(byState[full].head)
	}
	return nil
}

// runS3 runs the S3 workloads on the SDK and the tus servers, all through
// one counting proxy.
func (e *env) runS3(ctx context.Context) (err error) {
	endpoint, access, secret := e.cfg.s3Endpoint, e.cfg.s3AccessKey, e.cfg.s3SecretKey
	if endpoint == "" && e.cfg.peers {
		minio, err := e.startMinio(ctx)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, minio.stop()) }()
		endpoint, access, secret = minio.url, minioUser, minioPassword
	}
	if endpoint == "" {
		fmt.Fprintf(e.log, "no S3 server (-s3-endpoint, %s or -peers): the S3 workloads are left out\n", envServers)
		e.rep.Notes = append(e.rep.Notes, "S3 workloads left out: no S3 server")
		return nil
	}
	if access == "" || secret == "" {
		return fmt.Errorf("no credentials for %s: set %s and %s", endpoint, envAccessKey, envSecretKey)
	}
	proxy, err := startProxy(endpoint)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, proxy.close()) }()
	target := &s3Target{endpoint: proxy.url, accessKey: access, secretKey: secret}
	s3c := newS3Client(proxy.url, access, secret)

	sides := []*server{{kind: kindSDK, label: kindSDK, bucket: "tusbench-sdk"}}
	defer func() { err = errors.Join(err, stopAll(sides)) }()
	for _, kind := range e.kinds() {
		sides = append(sides, &server{kind: kind, label: kind, bucket: "tusbench-" + kind})
	}
	for _, s := range sides {
		if _, err := ensureBucket(ctx, s3c, s.bucket); err != nil {
			return err
		}
		if err := deletePrefix(ctx, s3c, s.bucket, ""); err != nil {
			return err
		}
	}
	for i, s := range sides[1:] {
		started, err := e.startServer(ctx, s.kind, s.label, "", s.bucket, target)
		if err != nil {
			return err
		}
		sides[i+1] = started
	}
	uploader := manager.NewUploader(s3c, func(u *manager.Uploader) {
		u.PartSize = e.cfg.partSize
		u.Concurrency = e.cfg.partConcurrency
	})
	for _, w := range s3Workloads {
		if !slices.Contains(e.cfg.workloads, w) {
			continue
		}
		sh := shapeOf(w, e.cfg)
		fmt.Fprintf(e.log, "== %s: %s\n", w, sh.describe())
		rows := newRows(w, sh, sides, kindSDK)
		for round := range e.cfg.rounds {
			for _, s := range rotate(sides, round) {
				benchkit.SettleDisk()
				cpu0 := s.cpu()
				var r result
				if s.kind == kindSDK {
					r, err = runSDK(ctx, uploader, s.bucket, sh, e.gen)
				} else {
					var prom func(context.Context) (float64, error)
					if s.kind == kindOurs {
						metrics := strings.TrimSuffix(s.client.base, "/files/") + "/metrics"
						prom = func(ctx context.Context) (float64, error) { return s3CallsMetric(ctx, s.client.hc, metrics) }
					}
					r, err = runS3Uploads(ctx, s.client, sh, proxy, s.bucket, prom)
				}
				if err != nil {
					return fmt.Errorf("%s, round %d, %s: %w", w, round+1, s.label, errors.Join(err, s.alive()))
				}
				m := measure(sh, r, s.cpu()-cpu0, cpu0 >= 0)
				if s.kind != kindSDK {
					calls := float64(sumCounts(r.patchCalls)) / float64(sh.n*sh.patches())
					m.CallsPerPatch = &calls
					if r.promPatchCalls >= 0 {
						own := r.promPatchCalls / float64(sh.n*sh.patches())
						m.OwnCallsPerPatch = &own
					}
				}
				rows.add(round, s.label, m)
				fmt.Fprintf(e.log, "   round %d %-6s %s  S3 calls in the PATCHes %v\n", round+1, s.label, m, r.patchCalls)
				err := parallel(ctx, len(r.uploads), 4, func(ctx context.Context, i int) error {
					u := r.uploads[i]
					return verifyObject(ctx, s3c, s.bucket, objectKey(u.id), e.gen, u.size, layout{partSize: e.cfg.partSize, patchSize: sh.chunk})
				})
				if err != nil {
					return fmt.Errorf("%s, %s: %w", w, s.label, err)
				}
				if err := deletePrefix(ctx, s3c, s.bucket, ""); err != nil {
					return err
				}
			}
		}
		for _, s := range sides {
			rows.setRSS(s.label, s.peakRSS())
		}
		e.rep.add(rows)
	}
	return e.noteIdleRSS(ctx, "S3", sides[1:])
}

// sumCounts returns the total of the counts.
func sumCounts(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// minioProc is a MinIO started by this program.
type minioProc struct {
	*proc
	url string
}

// startMinio starts the cached MinIO on a free port with its data under
// the work directory.
func (e *env) startMinio(ctx context.Context) (*minioProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	console, err := freePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(e.work, "minio-data")
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(e.peers.minio, "server", data,
		"--address", "127.0.0.1:"+strconv.Itoa(port), "--console-address", "127.0.0.1:"+strconv.Itoa(console),
		"--certs-dir", filepath.Join(e.work, "minio-certs"))
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioPassword,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	p, err := startProc(ctx, "minio", cmd, filepath.Join(e.work, "logs", "minio.log"), url+"/minio/health/ready")
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(e.log, "started MinIO pid %d at %s\n", p.pid(), url)
	return &minioProc{proc: p, url: url}, nil
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

// noteIdleRSS lets the servers rest for -idle-wait after the last workload
// of a storage, then notes the resident memory of each next to its peak:
// what a server gives back once the load is over.
func (e *env) noteIdleRSS(ctx context.Context, storage string, servers []*server) error {
	if e.cfg.idleWait <= 0 {
		return nil
	}
	select {
	case <-time.After(e.cfg.idleWait):
	case <-ctx.Done():
		return ctx.Err()
	}
	var parts []string
	for _, s := range servers {
		if s.p == nil {
			continue
		}
		m, err := benchkit.ReadMem(s.p.pid())
		if err != nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.0f MiB (peak %.0f)", s.label, m.RSSMiB(), m.HWMMiB()))
	}
	if len(parts) > 0 {
		e.rep.Notes = append(e.rep.Notes, fmt.Sprintf("RSS %s after the last %s workload: %s", e.cfg.idleWait, storage, strings.Join(parts, ", ")))
	}
	return nil
}
