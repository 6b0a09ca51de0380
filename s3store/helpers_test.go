package s3store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/internal/s3test"
	"github.com/tusgo/tus/s3store"
)

const mib = 1 << 20

// env is one store on a fresh bucket of one real server.
type env struct {
	t      *testing.T
	srv    s3test.Server
	client *s3.Client
	bucket string
	store  *s3store.Store
	opts   s3store.Options
}

// forEachServer runs fn against every real S3 server, each with a fresh
// bucket and a store with opts (Bucket filled in). PartSize defaults to the
// 5 MiB minimum so that tests cross part boundaries with little data.
func forEachServer(t *testing.T, opts s3store.Options, fn func(t *testing.T, e *env)) {
	for _, srv := range s3test.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			client := srv.Client(t)
			o := opts
			o.Bucket = srv.NewBucket(t, client)
			if o.PartSize == 0 {
				o.PartSize = s3store.DefaultMinPartSize
			}
			e := &env{t: t, srv: srv, client: client, bucket: o.Bucket, opts: o}
			e.store = e.newStore(client)
			fn(t, e)
		})
	}
}

// newStore returns a store with the env's options over api: a second store
// on the same bucket acts like another process (no shared caches).
func (e *env) newStore(api s3store.S3API) *s3store.Store {
	s, err := s3store.New(api, e.opts)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { require.NoError(e.t, s.Close()) })
	return s
}

// create makes an upload of size bytes (-1: deferred) in store s.
func (e *env) create(s *s3store.Store, id string, size int64, md tus.MetaData) tus.Upload {
	info := tus.FileInfo{ID: id, Size: size, MetaData: md}
	if size < 0 {
		info.Size, info.SizeIsDeferred = 0, true
	}
	up, err := s.NewUpload(context.Background(), info)
	require.NoError(e.t, err)
	return up
}

// load reads upload id from S3 the way a new request does.
func (e *env) load(s *s3store.Store, id string) (tus.Upload, tus.FileInfo) {
	e.t.Helper()
	up, err := s.GetUpload(context.Background(), id)
	require.NoError(e.t, err)
	info, err := up.GetInfo(context.Background())
	require.NoError(e.t, err)
	return up, info
}

// write loads upload id afresh and appends b, checking every byte is stored.
func (e *env) write(s *s3store.Store, id string, b []byte) {
	e.t.Helper()
	up, info := e.load(s, id)
	n, err := up.WriteChunk(context.Background(), info.Offset, bytes.NewReader(b))
	require.NoError(e.t, err)
	require.Equal(e.t, int64(len(b)), n)
}

// finish loads upload id afresh and finishes it.
func (e *env) finish(s *s3store.Store, id string) {
	e.t.Helper()
	up, info := e.load(s, id)
	require.True(e.t, info.IsComplete(), "offset %d of %d", info.Offset, info.Size)
	require.NoError(e.t, up.FinishUpload(context.Background()))
}

// finishAndCheck finishes upload id, the only one in the bucket, and checks
// the object holds exactly src and nothing else is left.
func (e *env) finishAndCheck(s *s3store.Store, id string, src []byte) {
	e.t.Helper()
	e.finish(s, id)
	require.Equal(e.t, sha256.Sum256(src), sha256.Sum256(e.object(id)), "object bytes")
	e.requireClean(id, id+".info")
}

// object returns the final object's bytes.
func (e *env) object(id string) []byte {
	e.t.Helper()
	out, err := e.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &e.bucket, Key: aws.String(e.opts.ObjectPrefix + id)})
	require.NoError(e.t, err)
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	require.NoError(e.t, err)
	return b
}

// requireClean checks that the bucket holds only the given keys and no
// multipart upload.
func (e *env) requireClean(keys ...string) {
	e.t.Helper()
	got := s3test.Objects(e.t, e.client, e.bucket)
	slices.Sort(got)
	slices.Sort(keys)
	require.ElementsMatch(e.t, keys, got, "objects in the bucket")
	require.Empty(e.t, s3test.MultipartUploads(e.t, e.client, e.bucket), "multipart uploads in the bucket")
}

// tailObjects returns the keys of upload id's tail objects.
func (e *env) tailObjects(id string) []string {
	var out []string
	for _, k := range s3test.Objects(e.t, e.client, e.bucket) {
		if strings.HasPrefix(k, e.opts.ObjectPrefix+id+".t.") {
			out = append(out, k)
		}
	}
	return out
}

// data returns n deterministic pseudo-random bytes.
func data(n int, seed uint64) []byte {
	b := make([]byte, n)
	fill(rand.NewChaCha8(seedOf(seed)), b)
	return b
}

func seedOf(seed uint64) [32]byte {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return s
}

func fill(r *rand.ChaCha8, b []byte) { _, _ = r.Read(b) }

// stream is an io.Reader of n pseudo-random bytes that hashes what it
// hands out, for uploads too large to keep in memory.
type stream struct {
	r    *rand.ChaCha8
	left int64
	sum  hashWriter
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

func newStream(n int64, seed uint64) *stream {
	return &stream{r: rand.NewChaCha8(seedOf(seed)), left: n, sum: sha256.New()}
}

func (s *stream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.left)]
	fill(s.r, p)
	s.left -= int64(len(p))
	s.sum.Write(p)
	return len(p), nil
}

// failingReader hands out b, then fails with err instead of io.EOF.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, f.err
	}
	return n, err
}

// calls returns the store's call counts by operation.
func calls(s *s3store.Store) map[string]int64 {
	out := map[string]int64{}
	for op, st := range s.CallStats() {
		out[op] = st.Calls
	}
	return out
}

// callsSince returns the calls made since before, by operation.
func callsSince(s *s3store.Store, before map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for op, n := range calls(s) {
		if d := n - before[op]; d > 0 {
			out[op] = d
		}
	}
	return out
}
