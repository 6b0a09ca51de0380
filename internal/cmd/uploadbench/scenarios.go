package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tusgo/tus/internal/benchkit"
)

// Scenario names, in the order they run.
const (
	scSmall    = "small1k"
	scSmallCWU = "small1k-cwu"
	scChunks   = "chunks256k"
	scLarge    = "large"
)

// scenarioOrder lists every scenario in the order they run: the small ones
// first, so that the peak RSS after them is not the peak of a large upload.
var scenarioOrder = []string{scSmall, scSmallCWU, scChunks, scLarge}

// scenario is one workload, run once per server and round.
type scenario struct {
	name string
	desc string
	// perUpload makes the value uploads/s and the CPU cost µs per upload;
	// otherwise they are MB/s and CPU seconds per GB.
	perUpload bool
	run       func(ctx context.Context, c *client) (runStats, error)
}

// unit is the unit of the scenario's value.
func (sc scenario) unit() string {
	if sc.perUpload {
		return "uploads/s"
	}
	return "MB/s"
}

// cpuUnit is the unit of the scenario's server CPU cost.
func (sc scenario) cpuUnit() string {
	if sc.perUpload {
		return "CPU µs/upload"
	}
	return "CPU s/GB"
}

// runStats is what one run of a scenario did.
type runStats struct {
	elapsed   time.Duration
	uploads   []upload
	bytes     int64
	latencies []time.Duration // per upload, small scenarios only
}

// makeScenario returns the scenario called name, sized by cfg.
func makeScenario(name string, cfg config) scenario {
	switch name {
	case scSmall:
		return scenario{
			name:      name,
			desc:      fmt.Sprintf("%d uploads of %s, each a POST then a PATCH, %d concurrent", cfg.smallN, benchkit.FormatBytes(cfg.smallSize), cfg.conc),
			perUpload: true,
			run: func(ctx context.Context, c *client) (runStats, error) {
				return runSmall(ctx, c, cfg.smallN, cfg.conc, cfg.smallSize, false)
			},
		}
	case scSmallCWU:
		return scenario{
			name:      name,
			desc:      fmt.Sprintf("%d uploads of %s, each one POST with the body (creation-with-upload), %d concurrent", cfg.smallN, benchkit.FormatBytes(cfg.smallSize), cfg.conc),
			perUpload: true,
			run: func(ctx context.Context, c *client) (runStats, error) {
				return runSmall(ctx, c, cfg.smallN, cfg.conc, cfg.smallSize, true)
			},
		}
	case scChunks:
		return scenario{
			name: name,
			desc: fmt.Sprintf("%s of %s in sequential PATCHes of %s", howMany(cfg.largeConc), benchkit.FormatBytes(cfg.chunkedSize), benchkit.FormatBytes(cfg.chunkSize)),
			run: func(ctx context.Context, c *client) (runStats, error) {
				return runBig(ctx, c, cfg.largeConc, cfg.chunkedSize, cfg.chunkSize)
			},
		}
	case scLarge:
		return scenario{
			name: name,
			desc: fmt.Sprintf("%s of %s in a single PATCH", howMany(cfg.largeConc), benchkit.FormatBytes(cfg.largeSize)),
			run: func(ctx context.Context, c *client) (runStats, error) {
				return runBig(ctx, c, cfg.largeConc, cfg.largeSize, cfg.largeSize)
			},
		}
	}
	panic("unknown scenario " + name)
}

// howMany describes n concurrent uploads.
func howMany(n int) string {
	if n == 1 {
		return "one upload"
	}
	return fmt.Sprintf("%d concurrent uploads", n)
}

// runSmall makes n uploads of size bytes with conc workers: each a POST and
// a PATCH, or with cwu one POST carrying the body.
func runSmall(ctx context.Context, c *client, n, conc int, size int64, cwu bool) (runStats, error) {
	st := runStats{
		uploads:   make([]upload, n),
		latencies: make([]time.Duration, n),
		bytes:     int64(n) * size,
	}
	start := time.Now()
	err := parallel(ctx, n, conc, func(ctx context.Context, i int) error {
		t0 := time.Now()
		var url string
		var err error
		if cwu {
			url, err = c.create(ctx, size, size)
		} else {
			url, err = c.create(ctx, size, 0)
			if err == nil {
				err = c.patch(ctx, url, 0, size)
			}
		}
		if err != nil {
			return err
		}
		st.latencies[i] = time.Since(t0)
		st.uploads[i] = upload{id: benchkit.UploadID(url), size: size}
		return nil
	})
	st.elapsed = time.Since(start)
	return st, err
}

// runBig makes conc concurrent uploads of size bytes each, sent in PATCHes
// of chunk bytes one after the other.
func runBig(ctx context.Context, c *client, conc int, size, chunk int64) (runStats, error) {
	st := runStats{uploads: make([]upload, conc), bytes: int64(conc) * size}
	start := time.Now()
	err := parallel(ctx, conc, conc, func(ctx context.Context, i int) error {
		url, err := c.create(ctx, size, 0)
		if err != nil {
			return err
		}
		for off := int64(0); off < size; off += chunk {
			if err := c.patch(ctx, url, off, min(chunk, size-off)); err != nil {
				return err
			}
		}
		st.uploads[i] = upload{id: benchkit.UploadID(url), size: size}
		return nil
	})
	st.elapsed = time.Since(start)
	return st, err
}

// parallel runs job(0) to job(n-1) on conc workers and returns the first
// error; after an error no further jobs start and the others' context is
// canceled.
func parallel(ctx context.Context, n, conc int, job func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := job(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
