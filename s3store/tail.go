package s3store

import (
	"context"
	"fmt"
	"io"
	"slices"

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
type tailCache struct{ lru *lru[tailEntry] }

type tailEntry struct {
	etag string
	b    []byte
}

func newTailCache(max int64) *tailCache { return &tailCache{lru: newLRU[tailEntry](max)} }

func (c *tailCache) get(key, etag string) ([]byte, bool) {
	e, ok := c.lru.get(key)
	if !ok || etag == "" || e.etag != etag {
		return nil, false
	}
	return e.b, true
}

// fits reports whether n bytes can be cached at all.
func (c *tailCache) fits(n int64) bool { return n <= c.lru.max }

func (c *tailCache) put(key, etag string, b []byte) {
	if etag != "" {
		c.lru.put(key, tailEntry{etag: etag, b: b}, int64(len(b)))
	}
}

func (c *tailCache) drop(keys ...string) { c.lru.drop(keys...) }

// segmentBytes returns the bytes of tail object g, from the cache or S3.
func (s *Store) segmentBytes(ctx context.Context, g segment) ([]byte, error) {
	if b, ok := s.tails.get(g.key, g.etag); ok {
		return b, nil
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
	s.tails.put(g.key, aws.ToString(out.ETag), b)
	return b, nil
}

// segmentPieces returns the bytes of segs as pieces of a part body.
func (s *Store) segmentPieces(ctx context.Context, segs []segment) ([]piece, error) {
	pieces := make([]piece, 0, len(segs))
	for _, g := range segs {
		b, err := s.segmentBytes(ctx, g)
		if err != nil {
			return nil, err
		}
		pieces = append(pieces, piece{r: bytesAt(b), n: int64(len(b))})
	}
	return pieces, nil
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
		b := make([]byte, end-start)
		if _, err := body.Seek(0, io.SeekStart); err == nil {
			if _, err := io.ReadFull(body, b); err == nil {
				s.tails.put(g.key, g.etag, b)
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
		pieces, err := u.s.segmentPieces(ctx, run)
		if err == nil {
			var g segment
			g, err = u.s.putSegment(ctx, u.doc.ID, run[0].start, run[len(run)-1].end, level+1, newSections(pieces...))
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
