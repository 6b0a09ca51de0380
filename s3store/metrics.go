package s3store

import (
	"context"
	"sync"
	"time"

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

// meteredAPI counts and times every call to the S3 API, and passes each to
// an optional observer (the binary's metrics).
type meteredAPI struct {
	api     S3API
	observe func(op string, d time.Duration, err error)
	mu      sync.Mutex
	stats   map[string]OpStats
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

// call runs one S3 operation and records it.
func call[In, Out any](ctx context.Context, m *meteredAPI, op string, f func(context.Context, In, ...func(*s3.Options)) (Out, error), in In, opts []func(*s3.Options)) (Out, error) {
	start := time.Now()
	out, err := f(ctx, in, opts...)
	m.record(op, start, err)
	return out, err
}

func (m *meteredAPI) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return call(ctx, m, "PutObject", m.api.PutObject, in, o)
}

func (m *meteredAPI) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return call(ctx, m, "GetObject", m.api.GetObject, in, o)
}

func (m *meteredAPI) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return call(ctx, m, "HeadObject", m.api.HeadObject, in, o)
}

func (m *meteredAPI) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, o ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	return call(ctx, m, "DeleteObjects", m.api.DeleteObjects, in, o)
}

func (m *meteredAPI) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, o ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return call(ctx, m, "ListObjectsV2", m.api.ListObjectsV2, in, o)
}

func (m *meteredAPI) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, o ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	return call(ctx, m, "CreateMultipartUpload", m.api.CreateMultipartUpload, in, o)
}

func (m *meteredAPI) UploadPart(ctx context.Context, in *s3.UploadPartInput, o ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	return call(ctx, m, "UploadPart", m.api.UploadPart, in, o)
}

func (m *meteredAPI) UploadPartCopy(ctx context.Context, in *s3.UploadPartCopyInput, o ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error) {
	return call(ctx, m, "UploadPartCopy", m.api.UploadPartCopy, in, o)
}

func (m *meteredAPI) ListParts(ctx context.Context, in *s3.ListPartsInput, o ...func(*s3.Options)) (*s3.ListPartsOutput, error) {
	return call(ctx, m, "ListParts", m.api.ListParts, in, o)
}

func (m *meteredAPI) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, o ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	return call(ctx, m, "CompleteMultipartUpload", m.api.CompleteMultipartUpload, in, o)
}

func (m *meteredAPI) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, o ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	return call(ctx, m, "AbortMultipartUpload", m.api.AbortMultipartUpload, in, o)
}
