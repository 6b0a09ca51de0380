package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusgo/tus/internal/benchkit"
)

// Workload names, in the order they run: small ones first, so that the
// peak RSS after each is not that of a larger one.
const (
	wSmall    = "small"
	wSmallCWU = "small-cwu"
	wChunks   = "chunks"
	wLarge    = "large"
	wMany     = "many"
	wScale    = "scale"
	wS3Large  = "s3-large"
	wS3Chunks = "s3-chunks"
	wS3Many   = "s3-many"
)

// workloadOrder lists every workload in the order they run.
var workloadOrder = []string{wSmall, wSmallCWU, wChunks, wLarge, wMany, wScale, wS3Large, wS3Chunks, wS3Many}

// diskWorkloads and s3Workloads are the workloads of each storage; scale
// stands alone.
var (
	diskWorkloads = []string{wSmall, wSmallCWU, wChunks, wLarge, wMany}
	s3Workloads   = []string{wS3Large, wS3Chunks, wS3Many}
)

// shape is the uploads of a workload: n at once (for small ones, conc in
// flight), each of size bytes in PATCHes of chunk bytes, or with cwu in
// the POST.
type shape struct {
	n, conc int
	size    int64
	chunk   int64
	cwu     bool
	perOp   bool // the figure is operations/s with latencies, not MB/s
}

// patches returns the PATCHes of one upload.
func (s shape) patches() int {
	if s.cwu {
		return 0
	}
	return int((s.size + s.chunk - 1) / s.chunk)
}

// describe says what the shape does.
func (s shape) describe() string {
	size := benchkit.FormatBytes(s.size)
	switch {
	case s.cwu:
		return fmt.Sprintf("%d × %s, %d in flight, one POST with the body each", s.n, size, s.conc)
	case s.perOp:
		return fmt.Sprintf("%d × %s, %d in flight, POST + PATCH each", s.n, size, s.conc)
	case s.chunk < s.size:
		return fmt.Sprintf("%d × %s at once, in %s PATCHes", s.n, size, benchkit.FormatBytes(s.chunk))
	}
	return fmt.Sprintf("%d × %s at once, one PATCH each", s.n, size)
}

// shapeOf returns the uploads of workload w.
func shapeOf(w string, cfg config) shape {
	switch w {
	case wSmall:
		return shape{n: cfg.smallN, conc: cfg.smallConc, size: cfg.smallSize, chunk: cfg.smallSize, perOp: true}
	case wSmallCWU:
		return shape{n: cfg.smallN, conc: cfg.smallConc, size: cfg.smallSize, chunk: cfg.smallSize, cwu: true, perOp: true}
	case wChunks:
		return shape{n: cfg.chunkedN, conc: cfg.chunkedN, size: cfg.chunkedSize, chunk: cfg.chunkSize}
	case wLarge:
		return shape{n: cfg.largeN, conc: cfg.largeN, size: cfg.largeSize, chunk: cfg.largeSize}
	case wMany:
		return shape{n: cfg.manyN, conc: cfg.manyN, size: cfg.manySize, chunk: cfg.manySize}
	case wScale:
		return shape{n: cfg.scaleOps, conc: cfg.smallConc, size: cfg.smallSize, chunk: cfg.smallSize, perOp: true}
	case wS3Large:
		return shape{n: 1, conc: 1, size: cfg.s3LargeSize, chunk: cfg.s3LargeSize}
	case wS3Chunks:
		return shape{n: 1, conc: 1, size: cfg.s3ChunkedSize, chunk: min(cfg.s3ChunkSize, cfg.s3ChunkedSize)}
	case wS3Many:
		return shape{n: cfg.s3ManyN, conc: cfg.s3ManyN, size: cfg.s3ManySize, chunk: cfg.s3ManySize}
	}
	panic("unknown workload " + w)
}

// result is what one run did.
type result struct {
	elapsed time.Duration
	uploads []upload
	lat     []time.Duration // per upload (or HEAD), perOp shapes only
	// S3 only: the calls made during the PATCHes, as the proxy counted
	// them and, for ours, as its tusd_s3_calls_total counted them (-1 if
	// not read).
	patchCalls     map[string]int64
	promPatchCalls float64
}

// runUploads makes the uploads of sh through c: each a POST (with the
// body for cwu) and its PATCHes one after the other, sh.conc at a time.
func runUploads(ctx context.Context, c *client, sh shape) (result, error) {
	r := result{uploads: make([]upload, sh.n)}
	if sh.perOp {
		r.lat = make([]time.Duration, sh.n)
	}
	start := time.Now()
	err := parallel(ctx, sh.n, sh.conc, func(ctx context.Context, i int) error {
		t0 := time.Now()
		var first int64
		if sh.cwu {
			first = sh.size
		}
		url, err := c.create(ctx, sh.size, first)
		if err != nil {
			return err
		}
		for off := first; off < sh.size; off += sh.chunk {
			if err := c.patch(ctx, url, off, min(sh.chunk, sh.size-off)); err != nil {
				return err
			}
		}
		if r.lat != nil {
			r.lat[i] = time.Since(t0)
		}
		r.uploads[i] = upload{id: benchkit.UploadID(url), size: sh.size}
		return nil
	})
	r.elapsed = time.Since(start)
	return r, err
}

// runHeads sends a HEAD for every upload, conc at a time, and checks its
// offset.
func runHeads(ctx context.Context, c *client, ups []upload, conc int) (result, error) {
	r := result{lat: make([]time.Duration, len(ups))}
	base := strings.TrimSuffix(c.base, "/") + "/"
	start := time.Now()
	err := parallel(ctx, len(ups), conc, func(ctx context.Context, i int) error {
		t0 := time.Now()
		if err := c.head(ctx, base+ups[i].id, ups[i].size); err != nil {
			return err
		}
		r.lat[i] = time.Since(t0)
		return nil
	})
	r.elapsed = time.Since(start)
	return r, err
}

// runS3Uploads makes the uploads of sh on a tus server storing in S3: every
// POST first, then every upload's PATCHes (the uploads at once, each's
// PATCHes in sequence), counting the S3 calls of the PATCHes at proxy and,
// with prom set, in the server's own metrics.
func runS3Uploads(ctx context.Context, c *client, sh shape, proxy *countingProxy, bucket string, prom func(context.Context) (float64, error)) (result, error) {
	r := result{uploads: make([]upload, sh.n), promPatchCalls: -1}
	urls := make([]string, sh.n)
	start := time.Now()
	err := parallel(ctx, sh.n, sh.conc, func(ctx context.Context, i int) error {
		url, err := c.create(ctx, sh.size, 0)
		urls[i] = url
		return err
	})
	if err != nil {
		return r, err
	}
	var promBefore float64
	if prom != nil {
		if promBefore, err = prom(ctx); err != nil {
			return r, err
		}
	}
	before := proxy.snapshot(bucket)
	err = parallel(ctx, sh.n, sh.conc, func(ctx context.Context, i int) error {
		for off := int64(0); off < sh.size; off += sh.chunk {
			if err := c.patch(ctx, urls[i], off, min(sh.chunk, sh.size-off)); err != nil {
				return err
			}
		}
		r.uploads[i] = upload{id: benchkit.UploadID(urls[i]), size: sh.size}
		return nil
	})
	r.elapsed = time.Since(start)
	r.patchCalls = diffCounts(proxy.snapshot(bucket), before)
	if prom != nil && err == nil {
		after, perr := prom(ctx)
		if perr != nil {
			return r, perr
		}
		r.promPatchCalls = after - promBefore
	}
	return r, err
}

// s3CallsMetric returns the sum of tusd_s3_calls_total (every operation
// and outcome) in the Prometheus text served at url, as ours serves it.
func s3CallsMetric(ctx context.Context, hc *http.Client, url string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	var total float64
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "tusd_s3_calls_total{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("GET %s: %q: %w", url, line, err)
		}
		total += v
	}
	return total, sc.Err()
}

// runSDK uploads the bytes of sh with the SDK's upload manager: sh.n
// uploads at once, each one Upload of a plain stream.
func runSDK(ctx context.Context, up *manager.Uploader, bucket string, sh shape, gen *benchkit.Generator) (result, error) {
	r := result{uploads: make([]upload, sh.n)}
	start := time.Now()
	err := parallel(ctx, sh.n, sh.conc, func(ctx context.Context, i int) error {
		key := fmt.Sprintf("sdk-%d", i)
		_, err := up.Upload(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket),
			Key:    aws.String(key),
			Body:   gen.Reader(0, sh.size),
		})
		if err != nil {
			return fmt.Errorf("manager.Upload of %d bytes to %s: %w", sh.size, key, err)
		}
		r.uploads[i] = upload{id: key, size: sh.size}
		return nil
	})
	r.elapsed = time.Since(start)
	return r, err
}

// diffCounts returns after minus before for each operation, leaving zeros
// out.
func diffCounts(after, before map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for op, n := range after {
		if n -= before[op]; n != 0 {
			d[op] = n
		}
	}
	return d
}

// objectKey returns the S3 key of the upload with URL ID id: tusd's IDs
// are "objectID+multipartID".
func objectKey(id string) string {
	key, _, _ := strings.Cut(id, "+")
	return key
}
