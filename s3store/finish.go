package s3store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/tusgo/tus"
)

// FinishUpload completes the multipart upload, which makes the final
// object appear with exactly the upload's bytes. Bytes still in tail objects
// (an upload whose length was declared after its last byte arrived) are
// uploaded as the last part first. Calling it again after success is a
// no-op.
func (u *upload) FinishUpload(ctx context.Context) (err error) {
	if u.corrupt != nil {
		return u.corrupt
	}
	defer func() { u.keep(err) }()
	if u.done {
		return nil
	}
	if u.doc.SizeIsDeferred || u.offset() != u.doc.Size {
		return fmt.Errorf("s3store: finishing %q at offset %d of %d", u.doc.ID, u.offset(), u.doc.Size)
	}
	if !u.final || len(u.chain) == 0 {
		if err := u.resolvePending(ctx); err != nil {
			return err
		}
		if len(u.chain) > 0 && len(u.tail) == 0 && u.partsEnd() == u.doc.Size {
			u.final = true // the tail held the last part whole
		} else if err := u.uploadLast(ctx, nil); err != nil {
			return err
		}
	}
	parts := make([]types.CompletedPart, len(u.chain))
	for i, p := range u.chain {
		// Only ETag and number: checksums would have to match an algorithm
		// chosen at creation, and some services reject them otherwise.
		parts[i] = types.CompletedPart{ETag: aws.String(p.etag), PartNumber: aws.Int32(p.num)}
	}
	key := u.s.objectKey(u.doc.ID)
	_, err = u.s.api.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &u.s.opts.Bucket,
		Key:             &key,
		UploadId:        &u.doc.MultipartUploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil && isNoSuchUpload(err) {
		// Completed before, by a call whose answer was lost.
		head, herr := u.s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &u.s.opts.Bucket, Key: &key})
		if herr == nil && aws.ToInt64(head.ContentLength) == u.doc.Size {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("s3store: completing %q: %w", u.doc.ID, err)
	}
	u.done = true
	u.s.compact.waitAll(u.doc.ID) // none is running: the chain is complete
	if left := append(u.garbage, u.stale...); len(left) > 0 {
		if err := u.s.deleteKeys(ctx, left); err != nil {
			u.s.opts.Logger.Warn("s3store: deleting leftover tail objects", "id", u.doc.ID, "error", err)
		}
		u.garbage, u.stale = nil, nil
	}
	return nil
}

// Finished reports whether the multipart upload has been completed
// (tus.FinishReporter): the handler then finishes a complete upload whose
// completion failed, even in a later process.
func (u *upload) Finished() bool { return u.done }

// DeclareLength records the upload's length in its info object. Lengths
// past Options.MaxObjectSize fail with tus.ErrMaxSizeExceeded.
func (u *upload) DeclareLength(ctx context.Context, length int64) (err error) {
	if u.corrupt != nil {
		return u.corrupt
	}
	defer func() { u.keep(err) }()
	if length > u.s.opts.MaxObjectSize {
		return tus.ErrMaxSizeExceeded.WithMessage(fmt.Sprintf("upload exceeds the storage's maximum object size of %d bytes", u.s.opts.MaxObjectSize))
	}
	if length > u.doc.Parts.capacity(u.s.opts.MaxParts) {
		return tus.ErrMaxSizeExceeded.WithMessage("upload exceeds what its part size allows")
	}
	doc := *u.doc
	doc.Size, doc.SizeIsDeferred, doc.AnnouncedSize = length, false, 0
	etag, err := u.s.putInfo(ctx, &doc, false)
	if err != nil {
		return err
	}
	u.doc, u.infoETag = &doc, etag
	u.s.infos.put(&doc, etag)
	// The last whole part may now be the upload's last.
	if len(u.chain) > 0 && u.partsEnd() == length && len(u.tail) == 0 {
		u.final = true
	}
	return nil
}
