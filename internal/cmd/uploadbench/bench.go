package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tusgo/tus/internal/benchkit"
)

// warmupUploads is how many small uploads every server gets before the
// first measurement, to open connections and warm caches.
const warmupUploads = 200

// runResult is one measured run of a scenario on a server.
type runResult struct {
	value   float64 // uploads/s or MB/s
	elapsed time.Duration
	cpu     time.Duration // server CPU time during the run
	cpuOK   bool
	p50     time.Duration
	p99     time.Duration
	disk    dirStats
}

// cpuCost returns the server CPU cost: µs per upload or seconds per GB.
func (r runResult) cpuCost(sc scenario, st runStats) float64 {
	if sc.perUpload {
		return float64(r.cpu.Microseconds()) / float64(len(st.uploads))
	}
	return r.cpu.Seconds() / (float64(st.bytes) / 1e9)
}

// bench starts the servers, runs the scenarios and prints the report.
func bench(cfg config, stdout, stderr io.Writer) (err error) {
	ctx, stop := benchkit.RunContext(cfg.timeout)
	defer stop()

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if cfg.profileDir != "" {
		if cfg.profileDir, err = filepath.Abs(cfg.profileDir); err != nil {
			return err
		}
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return err
		}
	}
	gen := newGenerator()

	var servers []*server
	defer func() {
		// Stops whatever is still running, also on error and panic.
		for _, s := range servers {
			if serr := s.stop(); serr != nil && err == nil {
				err = serr
			}
		}
	}()
	for _, kind := range cfg.servers {
		s, err := startServer(ctx, exe, cfg.tmpDir, kind, profilePath(cfg.profileDir, kind), max(cfg.conc, cfg.largeConc)+2, gen)
		if err != nil {
			return err
		}
		servers = append(servers, s)
		fmt.Fprintf(stderr, "started %-10s pid %d  %s  dir %s\n", kind, s.PID(), s.base, s.dir)
	}

	rep := newReport(cfg)
	for _, s := range servers {
		if err := warmUp(ctx, cfg, s); err != nil {
			return fmt.Errorf("warm-up of %s server: %w", s.name, err)
		}
	}
	rep.addMemory("after warm-up", servers)

	for _, name := range cfg.scenarios {
		sc := makeScenario(name, cfg)
		fmt.Fprintf(stderr, "== %s: %s\n", sc.name, sc.desc)
		res, err := runScenario(ctx, cfg, sc, servers, stderr)
		if err != nil {
			return err
		}
		rep.Scenarios = append(rep.Scenarios, res)
		rep.addMemory("after "+name, servers)
	}

	// Stop the servers now, so their profiles are complete when we say so.
	var stopErrs []error
	for _, s := range servers {
		stopErrs = append(stopErrs, s.stop())
	}
	if err := errors.Join(stopErrs...); err != nil {
		return err
	}
	if cfg.profileDir != "" {
		for _, s := range servers {
			rep.Profiles = append(rep.Profiles, profilePath(cfg.profileDir, s.name))
		}
	}
	if cfg.jsonOut {
		return rep.writeJSON(stdout)
	}
	return rep.writeText(stdout)
}

// warmUp makes a few small uploads and one chunked upload on s, checks them
// and removes them.
func warmUp(ctx context.Context, cfg config, s *server) error {
	st, err := runSmall(ctx, s.client, min(warmupUploads, cfg.smallN), cfg.conc, cfg.smallSize, false)
	if err != nil {
		return err
	}
	big, err := runBig(ctx, s.client, 1, 8*cfg.chunkSize, cfg.chunkSize)
	if err != nil {
		return err
	}
	if _, err := verifyDir(s.dir, s.isTus, append(st.uploads, big.uploads...)); err != nil {
		return err
	}
	return cleanDir(s.dir)
}

// runScenario runs sc cfg.rounds times on every server, alternating the
// order of the servers between rounds.
func runScenario(ctx context.Context, cfg config, sc scenario, servers []*server, log io.Writer) (scenarioResult, error) {
	runs := make(map[string][]runResult, len(servers))
	costs := make(map[string][]float64, len(servers))
	for round := range cfg.rounds {
		for _, s := range benchkit.RoundOrder(servers, round) {
			r, cost, err := measure(ctx, cfg, sc, s)
			if err != nil {
				return scenarioResult{}, fmt.Errorf("%s, round %d, %s server: %w", sc.name, round+1, s.name, err)
			}
			runs[s.name] = append(runs[s.name], r)
			if r.cpuOK {
				costs[s.name] = append(costs[s.name], cost)
			}
			cpu := "n/a"
			if r.cpuOK {
				cpu = fmt.Sprintf("%.2fs", r.cpu.Seconds())
			}
			fmt.Fprintf(log, "   round %d/%d %-10s %10.1f %-9s  %6.2fs  server CPU %s  [%s]\n",
				round+1, cfg.rounds, s.name, r.value, sc.unit(), r.elapsed.Seconds(), cpu, r.disk)
		}
	}
	return summarize(sc, servers, runs, costs), nil
}

// measure runs sc once on s: settle, run, verify the files, remove them.
func measure(ctx context.Context, cfg config, sc scenario, s *server) (runResult, float64, error) {
	var r runResult
	if err := s.Alive(); err != nil {
		return r, 0, err
	}
	if cfg.settle {
		benchkit.SettleDisk()
	}
	cpu0, err0 := benchkit.ReadCPU(s.PID())
	st, err := sc.run(ctx, s.client)
	cpu1, err1 := benchkit.ReadCPU(s.PID())
	if err != nil {
		if aerr := s.Alive(); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return r, 0, err
	}
	r.elapsed = st.elapsed
	r.cpu, r.cpuOK = cpu1-cpu0, err0 == nil && err1 == nil
	if sc.perUpload {
		r.value = float64(len(st.uploads)) / st.elapsed.Seconds()
	} else {
		r.value = benchkit.MBps(st.bytes, st.elapsed)
	}
	if len(st.latencies) > 0 {
		r.p50, r.p99 = benchkit.Percentiles(st.latencies)
	}
	r.disk, err = verifyDir(s.dir, s.isTus, st.uploads)
	if err != nil {
		return r, 0, fmt.Errorf("the files on disk do not match what was sent: %w", err)
	}
	if err := cleanDir(s.dir); err != nil {
		return r, 0, err
	}
	return r, r.cpuCost(sc, st), nil
}
