package s3store

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// mergeFanout is how many tail objects of one level are merged into one of
// the next level. It bounds the tail objects of an upload to about
// mergeFanout per level, and each byte is written again once per level, so
// uploads in tiny PATCHes do not pile up thousands of objects.
const mergeFanout = 16

// tailCache keeps the bytes of recently written tail objects, bounded in
// total size, so that the PATCH which completes a part does not download
// them again. Entries are found by key and must match the object's ETag: a
// key can come back with other bytes when an upload ID is used again.
type tailCache struct {
	lru  *lru[*tailBytes]
	pool *sync.Pool // of *[blockSize]byte, shared with the part buffers
}

// pooledTailMin is the size from which the cached copy of a tail object the
// store writes is kept in blocks of the block pool rather than in a slice
// of its own. Smaller ones would hold a whole block for a few bytes.
const pooledTailMin = blockSize / 2

// tailBytes holds the cached bytes of one tail object: in blocks of the
// store's block pool when the store wrote them and they are at least
// pooledTailMin long, so that they go back to the pool, for the next part
// buffer or tail, once the cache has let them go and no reader holds them
// (a PATCH of a MiB then leaves nothing to collect); else in one slice.
// refs counts the cache's reference and each reader's.
type tailBytes struct {
	etag   string
	b      []byte             // the bytes, when not pooled
	blocks []*[blockSize]byte // the bytes, when pooled
	n      int64
	refs   atomic.Int32
	pool   *sync.Pool // where blocks go back; nil when not pooled
	// recycled is set when the blocks went back to the pool (for tests).
	recycled bool
}

// ReadAt implements io.ReaderAt over the bytes. It must only be called
// while the caller holds a reference.
func (t *tailBytes) ReadAt(p []byte, off int64) (int, error) {
	if t.pool == nil {
		return bytesAt(t.b).ReadAt(p, off)
	}
	return readBlocks(t.blocks, t.n, p, off)
}

// weight is the memory t holds, which the cache counts.
func (t *tailBytes) weight() int64 {
	if t.pool == nil {
		return t.n
	}
	return int64(len(t.blocks)) * blockSize
}

// unref gives back a reference; the last one returns the blocks to the pool.
// t.blocks is left as it is: an HTTP transport may still read a request
// body after the request returned (of a request that failed early), like
// a part buffer's, and must then read stale bytes into a failed request,
// not crash.
func (t *tailBytes) unref() {
	if t.refs.Add(-1) == 0 && t.pool != nil {
		for _, blk := range t.blocks {
			t.pool.Put(blk)
		}
		t.recycled = true
	}
}

func newTailCache(max int64, pool *sync.Pool) *tailCache {
	c := &tailCache{lru: newLRU[*tailBytes](max), pool: pool}
	c.lru.onDrop = (*tailBytes).unref
	return c
}

// get returns the cached bytes of key if they are those of ETag etag, with a
// reference that the caller gives back with unref once it has read them.
func (c *tailCache) get(key, etag string) (*tailBytes, bool) {
	if etag == "" {
		return nil, false
	}
	return c.lru.getIf(key, func(t *tailBytes) bool {
		if t.etag != etag {
			return false
		}
		t.refs.Add(1)
		return true
	})
}

// copyOf returns a copy of the n bytes of r for the cache, with one
// reference, in pooled blocks if n is at least pooledTailMin.
func (c *tailCache) copyOf(r io.Reader, n int64) (*tailBytes, error) {
	t := &tailBytes{n: n}
	t.refs.Store(1)
	if n < pooledTailMin {
		t.b = make([]byte, n)
		if _, err := io.ReadFull(r, t.b); err != nil {
			return nil, err
		}
		return t, nil
	}
	t.pool = c.pool
	for left := n; left > 0; left -= blockSize {
		blk := c.pool.Get().(*[blockSize]byte)
		t.blocks = append(t.blocks, blk)
		if _, err := io.ReadFull(r, blk[:min(left, blockSize)]); err != nil {
			t.unref()
			return nil, err
		}
	}
	return t, nil
}

// fits reports whether n bytes can be cached at all.
func (c *tailCache) fits(n int64) bool {
	if n >= pooledTailMin {
		n = (n + blockSize - 1) / blockSize * blockSize
	}
	return n <= c.lru.max
}

// put caches t, handing the cache the caller's reference to it.
func (c *tailCache) put(key string, t *tailBytes) {
	if t.etag == "" {
		t.unref()
		return
	}
	c.lru.put(key, t, t.weight())
}

func (c *tailCache) drop(keys ...string) { c.lru.drop(keys...) }

// segmentBytes returns the bytes of tail object g, from the cache or S3,
// with a reference the caller gives back with unref once it has read them.
func (s *Store) segmentBytes(ctx context.Context, g segment) (*tailBytes, error) {
	if t, ok := s.tails.get(g.key, g.etag); ok {
		return t, nil
	}
	out, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.opts.Bucket, Key: aws.String(g.key)})
	if err != nil {
		return nil, fmt.Errorf("s3store: reading tail object %q: %w", g.key, err)
	}
	defer out.Body.Close()
	b := make([]byte, g.size())
	if _, err := io.ReadFull(out.Body, b); err != nil {
		return nil, fmt.Errorf("s3store: reading tail object %q: %w", g.key, err)
	}
	if n, _ := out.Body.Read(make([]byte, 1)); n > 0 {
		return nil, fmt.Errorf("s3store: tail object %q is longer than its name says", g.key)
	}
	t := &tailBytes{etag: aws.ToString(out.ETag), b: b, n: int64(len(b))}
	t.refs.Store(2) // the cache's and the caller's
	s.tails.put(g.key, t)
	return t, nil
}

// segmentPieces returns the bytes of segs as pieces of a part body, and the
// function that gives back the references to them: call it once the body
// is no longer read. On failure nothing is held.
func (s *Store) segmentPieces(ctx context.Context, segs []segment) ([]piece, func(), error) {
	pieces := make([]piece, 0, len(segs))
	held := make([]*tailBytes, 0, len(segs))
	release := func() {
		for _, t := range held {
			t.unref()
		}
		held = nil
	}
	for _, g := range segs {
		t, err := s.segmentBytes(ctx, g)
		if err != nil {
			release()
			return nil, nil, err
		}
		held = append(held, t)
		pieces = append(pieces, piece{r: t, n: t.n})
	}
	return pieces, release, nil
}

// putSegment stores body, the bytes [start, end) of upload id, as a tail
// object and caches them.
func (s *Store) putSegment(ctx context.Context, id string, start, end int64, level int, body *sections) (segment, error) {
	g := segment{start: start, end: end, level: level, key: s.tailKey(id, start, end, level)}
	out, err := s.api.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.opts.Bucket,
		Key:           &g.key,
		Body:          body,
		ContentLength: aws.Int64(end - start),
	}, s.bodyOptions()...)
	if err != nil {
		return segment{}, fmt.Errorf("s3store: writing tail object of %q: %w", id, err)
	}
	g.etag = aws.ToString(out.ETag)
	if s.tails.fits(end - start) {
		if _, err := body.Seek(0, io.SeekStart); err == nil {
			if t, err := s.tails.copyOf(body, end-start); err == nil {
				t.etag = g.etag
				s.tails.put(g.key, t)
			}
		}
	}
	return g, nil
}

// mergeTail merges trailing tail objects of the same level once there are
// mergeFanout of them, level by level, and returns the new tail. A failure
// leaves the tail as it was (the bytes are stored either way).
func (u *upload) mergeTail(ctx context.Context, tail []segment) []segment {
	for level := 0; ; level++ {
		// Only objects of the same part merge: none crosses a part boundary.
		i := len(tail)
		part := u.doc.Parts.partOf(tail[len(tail)-1].start)
		for i > 0 && tail[i-1].level == level && u.doc.Parts.partOf(tail[i-1].start) == part {
			i--
		}
		if len(tail)-i < mergeFanout {
			return tail
		}
		run := tail[i:]
		pieces, release, err := u.s.segmentPieces(ctx, run)
		if err == nil {
			var g segment
			g, err = u.s.putSegment(ctx, u.doc.ID, run[0].start, run[len(run)-1].end, level+1, newSections(pieces...))
			release()
			if err == nil {
				keys := make([]string, len(run))
				for j, r := range run {
					keys[j] = r.key
				}
				u.s.deleteKeys(ctx, keys) // leftovers are garbage to the next request
				tail = append(tail[:i:i], g)
				continue
			}
		}
		u.s.opts.Logger.Warn("s3store: merging tail objects", "id", u.doc.ID, "error", err)
		return tail
	}
}

// deleteKeys deletes objects in batches of 1000, the most DeleteObjects
// takes, and reports the first failure.
func (s *Store) deleteKeys(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	keys = slices.Compact(slices.Sorted(slices.Values(keys))) // once each
	s.tails.drop(keys...)
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		objs := make([]types.ObjectIdentifier, n)
		for i, k := range keys[:n] {
			objs[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := s.api.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &s.opts.Bucket,
			Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("s3store: deleting objects: %w", err)
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) != "NoSuchKey" {
				return fmt.Errorf("s3store: deleting %q: %s: %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
			}
		}
		keys = keys[n:]
	}
	return nil
}

// bytesAt adapts a byte slice to io.ReaderAt.
type bytesAt []byte

func (b bytesAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) || off+int64(n) == int64(len(b)) {
		return n, io.EOF
	}
	return n, nil
}
