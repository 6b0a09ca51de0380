package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tusgo/tus"
)

// ConcatUploads fills the final upload u with the bytes of partials, which
// must be complete uploads of a Store on the same bucket.
//
// When every partial but the last is at least MinPartSize, the service
// copies each (in ranges of at most MaxPartSize) into a part with
// UploadPartCopy, and no byte passes through the server. Otherwise, with
// Options.DisablePartCopy or EqualParts, or when the service answers
// NotImplemented, the partials are streamed from GetObject into parts the
// way a PATCH is, with bounded memory. The handler calls FinishUpload next.
//
// The same partial may appear more than once (tus 1.0 allows it), and
// several final uploads may use it at the same time: each occurrence
// becomes parts of its own, and a partial's objects are only read, never
// changed or deleted.
func (u *upload) ConcatUploads(ctx context.Context, partials []tus.Upload) (err error) {
	if u.corrupt != nil {
		return u.corrupt
	}
	defer func() { u.keep(err) }()
	srcs := make([]*upload, len(partials))
	var total int64
	for i, p := range partials {
		pu, ok := p.(*upload)
		if !ok || pu == nil || pu.s.opts.Bucket != u.s.opts.Bucket {
			return fmt.Errorf("s3store: concat into %q: partial %d is not an upload of this bucket", u.doc.ID, i)
		}
		if !pu.done {
			return fmt.Errorf("s3store: concat into %q: partial %q is not complete", u.doc.ID, pu.doc.ID)
		}
		srcs[i] = pu
		total += pu.doc.Size
	}
	if u.doc.SizeIsDeferred || total != u.doc.Size {
		return fmt.Errorf("s3store: concat into %q: partials hold %d bytes, the upload %d", u.doc.ID, total, u.doc.Size)
	}
	if u.canCopy(srcs) {
		err := u.concatCopy(ctx, srcs)
		if err == nil || !isNotImplemented(err) {
			return err
		}
		u.s.noCopy.Store(true)
		u.s.opts.Logger.Info("s3store: the service has no UploadPartCopy; concatenating by streaming", "error", err)
	}
	return u.concatStream(ctx, srcs)
}

// copyRange is one part of a concatenation by copy.
type copyRange struct {
	key        string
	start, end int64 // inclusive start, exclusive end
}

// canCopy reports whether srcs can become parts by server-side copy.
func (u *upload) canCopy(srcs []*upload) bool {
	o := u.s.opts
	if o.DisablePartCopy || o.EqualParts || u.s.noCopy.Load() {
		return false
	}
	n := 0
	for i, src := range srcs {
		if i < len(srcs)-1 && src.doc.Size < o.MinPartSize {
			return false
		}
		n += int(ceilDiv(src.doc.Size, o.MaxPartSize))
	}
	return n <= o.MaxParts
}

// copyRanges cuts srcs into ranges of at most MaxPartSize, each at least
// MinPartSize but for the very last.
func (u *upload) copyRanges(srcs []*upload) []copyRange {
	var out []copyRange
	for _, src := range srcs {
		size := src.doc.Size
		if size == 0 {
			continue
		}
		n := ceilDiv(size, u.s.opts.MaxPartSize)
		step := ceilDiv(size, n)
		for start := int64(0); start < size; start += step {
			out = append(out, copyRange{key: u.s.objectKey(src.doc.ID), start: start, end: min(start+step, size)})
		}
	}
	return out
}

// concatCopy copies the partials into parts with UploadPartCopy, several at
// a time, and makes them the upload's parts.
func (u *upload) concatCopy(ctx context.Context, srcs []*upload) error {
	ranges := u.copyRanges(srcs)
	parts := make([]part, len(ranges))
	errs := make([]error, len(ranges))
	sem := make(chan struct{}, u.s.opts.ConcurrentPartUploads)
	var wg sync.WaitGroup
	for i, r := range ranges {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out, err := u.s.api.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
				Bucket:          &u.s.opts.Bucket,
				Key:             aws.String(u.s.objectKey(u.doc.ID)),
				UploadId:        &u.doc.MultipartUploadID,
				PartNumber:      aws.Int32(int32(i + 1)),
				CopySource:      aws.String(copySource(u.s.opts.Bucket, r.key)),
				CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", r.start, r.end-1)),
			})
			if err != nil {
				errs[i] = fmt.Errorf("s3store: copying %q into part %d of %q: %w", r.key, i+1, u.doc.ID, err)
				return
			}
			etag := ""
			if out.CopyPartResult != nil {
				etag = aws.ToString(out.CopyPartResult.ETag)
			}
			parts[i] = part{num: int32(i + 1), size: r.end - r.start, etag: etag}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, e := range errs {
			if e != nil && isNotImplemented(e) {
				return e
			}
		}
		return err
	}
	// With no bytes at all there is no part: FinishUpload adds an empty one.
	u.chain, u.final, u.tail = parts, len(parts) > 0, nil
	for _, p := range parts {
		delete(u.others, p.num)
	}
	return nil
}

// copySource returns the x-amz-copy-source value of bucket and key.
func copySource(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return url.PathEscape(bucket) + "/" + strings.Join(segs, "/")
}

// concatStream writes the partials' bytes into the upload as one PATCH
// would, reading each partial's object in turn.
func (u *upload) concatStream(ctx context.Context, srcs []*upload) error {
	// What an earlier attempt left is not counted (see buildChain): start
	// over; WriteChunk neutralizes parts it left as it goes.
	for _, p := range u.chain {
		u.others[p.num] = p
	}
	u.chain, u.final = nil, false
	u.garbage, u.tail = append(u.garbage, keysOf(u.tail)...), nil
	r := &objectsReader{ctx: ctx, s: u.s, srcs: srcs}
	defer r.close()
	n, err := u.WriteChunk(ctx, 0, r)
	if err != nil {
		return fmt.Errorf("s3store: concat into %q: %w", u.doc.ID, err)
	}
	if n != u.doc.Size || !u.final {
		return fmt.Errorf("s3store: concat into %q stored %d of %d bytes", u.doc.ID, n, u.doc.Size)
	}
	return nil
}

// objectsReader reads the final objects of srcs one after the other,
// opening each only when the previous one is read.
type objectsReader struct {
	ctx  context.Context
	s    *Store
	srcs []*upload
	body io.ReadCloser
	left int64 // bytes still expected from body
}

func (r *objectsReader) Read(p []byte) (int, error) {
	for {
		if r.body == nil {
			if len(r.srcs) == 0 {
				return 0, io.EOF
			}
			src := r.srcs[0]
			r.srcs = r.srcs[1:]
			if src.doc.Size == 0 {
				continue
			}
			out, err := r.s.api.GetObject(r.ctx, &s3.GetObjectInput{Bucket: &r.s.opts.Bucket, Key: aws.String(r.s.objectKey(src.doc.ID))})
			if err != nil {
				return 0, fmt.Errorf("s3store: reading partial %q: %w", src.doc.ID, err)
			}
			r.body, r.left = out.Body, src.doc.Size
		}
		n, err := r.body.Read(p[:min(int64(len(p)), r.left)])
		r.left -= int64(n)
		if r.left == 0 {
			r.close()
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err == io.EOF {
			return n, fmt.Errorf("s3store: partial object ended %d bytes early: %w", r.left, io.ErrUnexpectedEOF)
		}
		return n, err
	}
}

func (r *objectsReader) close() {
	if r.body != nil {
		_ = r.body.Close()
		r.body = nil
	}
}
