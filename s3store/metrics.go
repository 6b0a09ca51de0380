package s3store

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// OpStats counts the calls of one S3 operation.
type OpStats struct {
	// Calls is how many calls were made, failed ones included.
	Calls int64
	// Errors is how many of them failed (after the SDK's retries).
	Errors int64
	// Duration is the time spent in them, retries included.
	Duration time.Duration
}

// meteredAPI is the store's only way to S3. It bounds every call in time
// (Options.CallTimeout, Options.PartTimeout), turns storage faults into
// protocol errors (see classify), counts and times every call, and passes
// each to an optional observer (the binary's metrics).
type meteredAPI struct {
	api         S3API
	observe     func(op string, d time.Duration, err error)
	callTimeout time.Duration // <= 0: none
	partTimeout time.Duration // <= 0: none
	mu          sync.Mutex
	stats       map[string]OpStats
}

func (m *meteredAPI) record(op string, start time.Time, err error) {
	d := time.Since(start)
	m.mu.Lock()
	st := m.stats[op]
	st.Calls++
	if err != nil {
		st.Errors++
	}
	st.Duration += d
	m.stats[op] = st
	m.mu.Unlock()
	if m.observe != nil {
		m.observe(op, d, err)
	}
}

func (m *meteredAPI) snapshot() map[string]OpStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]OpStats, len(m.stats))
	for k, v := range m.stats {
		out[k] = v
	}
	return out
}

// bulkThreshold is the body size from which a PutObject counts as moving
// upload bytes (Options.PartTimeout) rather than as a small call.
const bulkThreshold = 1 << 20

// partTimeoutUnit is the amount of bytes Options.PartTimeout is for: a
// call that moves more gets PartTimeout for every started unit.
const partTimeoutUnit = 64 << 20

// limit returns the time limit of one call: CallTimeout for calls without
// upload bytes, PartTimeout for each started 64 MiB of those that move
// them (bulk). Zero means none.
func (m *meteredAPI) limit(bulk bool, size int64) time.Duration {
	if !bulk {
		return max(m.callTimeout, 0)
	}
	if m.partTimeout <= 0 {
		return 0
	}
	units := max(1, (size+partTimeoutUnit-1)/partTimeoutUnit)
	return m.partTimeout * time.Duration(units)
}

// bound is the time limit of one call in progress.
type bound struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	fired  *timeoutError // the cause the timer cancels with
}

// newBound derives a context for one call of op that is canceled after d
// (never if d is zero).
func newBound(ctx context.Context, op string, d time.Duration) *bound {
	b := &bound{fired: &timeoutError{op: op, limit: d}}
	b.ctx, b.cancel = context.WithCancelCause(ctx)
	if d > 0 {
		b.timer = time.AfterFunc(d, func() { b.cancel(b.fired) })
	}
	return b
}

// stop stops the timer and reports the timeout if it fired.
func (b *bound) stop() *timeoutError {
	if b.timer != nil {
		b.timer.Stop()
	}
	if context.Cause(b.ctx) == error(b.fired) {
		return b.fired
	}
	return nil
}

// call runs one S3 operation within its time limit, records it, and
// returns its error classified (see classify).
func call[In, Out any](ctx context.Context, m *meteredAPI, op string, limit time.Duration, f func(context.Context, In, ...func(*s3.Options)) (Out, error), in In, opts []func(*s3.Options)) (Out, error) {
	start := time.Now()
	b := newBound(ctx, op, limit)
	out, err := f(b.ctx, in, opts...)
	fired := b.stop()
	b.cancel(nil)
	m.record(op, start, err)
	return out, classify(ctx, op, err, fired)
}

func (m *meteredAPI) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	size := aws.ToInt64(in.ContentLength)
	return call(ctx, m, "PutObject", m.limit(size > bulkThreshold, size), m.api.PutObject, in, o)
}

// GetObject waits CallTimeout for the response; its body then fails if one
// read waits that long for bytes (the stream is not bounded as a whole: a
// download goes at the client's pace).
func (m *meteredAPI) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	const op = "GetObject"
	start := time.Now()
	d := m.limit(false, 0)
	b := newBound(ctx, op, d)
	out, err := m.api.GetObject(b.ctx, in, o...)
	fired := b.stop()
	m.record(op, start, err)
	if err != nil || out == nil || out.Body == nil {
		b.cancel(nil)
		return out, classify(ctx, op, err, fired)
	}
	out.Body = &watchedBody{rc: out.Body, parent: ctx, b: b, idle: d}
	return out, nil
}

func (m *meteredAPI) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return call(ctx, m, "HeadObject", m.limit(false, 0), m.api.HeadObject, in, o)
}

func (m *meteredAPI) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, o ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	return call(ctx, m, "DeleteObjects", m.limit(false, 0), m.api.DeleteObjects, in, o)
}

func (m *meteredAPI) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, o ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return call(ctx, m, "ListObjectsV2", m.limit(false, 0), m.api.ListObjectsV2, in, o)
}

func (m *meteredAPI) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, o ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	return call(ctx, m, "CreateMultipartUpload", m.limit(false, 0), m.api.CreateMultipartUpload, in, o)
}

func (m *meteredAPI) UploadPart(ctx context.Context, in *s3.UploadPartInput, o ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	return call(ctx, m, "UploadPart", m.limit(true, aws.ToInt64(in.ContentLength)), m.api.UploadPart, in, o)
}

func (m *meteredAPI) UploadPartCopy(ctx context.Context, in *s3.UploadPartCopyInput, o ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error) {
	return call(ctx, m, "UploadPartCopy", m.limit(true, copySize(aws.ToString(in.CopySourceRange))), m.api.UploadPartCopy, in, o)
}

func (m *meteredAPI) ListParts(ctx context.Context, in *s3.ListPartsInput, o ...func(*s3.Options)) (*s3.ListPartsOutput, error) {
	return call(ctx, m, "ListParts", m.limit(false, 0), m.api.ListParts, in, o)
}

func (m *meteredAPI) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, o ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	return call(ctx, m, "CompleteMultipartUpload", m.limit(true, 0), m.api.CompleteMultipartUpload, in, o)
}

func (m *meteredAPI) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, o ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	return call(ctx, m, "AbortMultipartUpload", m.limit(false, 0), m.api.AbortMultipartUpload, in, o)
}

func (m *meteredAPI) ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, o ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error) {
	return call(ctx, m, "ListMultipartUploads", m.limit(false, 0), m.api.ListMultipartUploads, in, o)
}

// copySize returns the size of a CopySourceRange "bytes=first-last", or 0.
func copySize(r string) int64 {
	var first, last int64
	if _, err := fmt.Sscanf(r, "bytes=%d-%d", &first, &last); err != nil || last < first {
		return 0
	}
	return last - first + 1
}

// watchedBody is the body of a GetObject response: each read that waits
// longer than idle for bytes cancels the request, and its error is
// classified like a call's. Close releases the request's context.
type watchedBody struct {
	rc     io.ReadCloser
	parent context.Context
	b      *bound
	idle   time.Duration
}

func (w *watchedBody) Read(p []byte) (int, error) {
	if w.idle > 0 {
		w.b.fired = &timeoutError{op: "GetObject (reading the body)", limit: w.idle}
		fired := w.b.fired
		w.b.timer = time.AfterFunc(w.idle, func() { w.b.cancel(fired) })
	}
	n, err := w.rc.Read(p)
	fired := w.b.stop()
	if err != nil && err != io.EOF {
		err = classify(w.parent, "GetObject", err, fired)
	}
	return n, err
}

func (w *watchedBody) Close() error {
	err := w.rc.Close()
	w.b.cancel(nil)
	return err
}
