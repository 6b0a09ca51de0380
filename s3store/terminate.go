package s3store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tusgo/tus"
)

// Terminate deletes the upload: it first marks the info object as
// terminated, so the upload is gone for every request from then on, then
// aborts the multipart upload (which deletes its parts) and deletes the
// final object, the tail objects and, last, the info object. A termination
// cut short by a failure or a crash is finished by the next request that
// finds the marked info object.
func (u *upload) Terminate(ctx context.Context) error {
	if u.corrupt != nil {
		return u.s.removeDamaged(ctx, u.doc.ID)
	}
	// Part uploads of this process must not outlive the upload.
	u.s.compact.waitAll(u.doc.ID)
	u.s.owned.drop(u.doc.ID)
	doc := *u.doc
	doc.Terminated = true
	if _, err := u.s.putInfo(ctx, &doc, false); err != nil {
		return fmt.Errorf("s3store: terminating %q: %w", doc.ID, err)
	}
	u.s.infos.drop(doc.ID)
	return u.s.deleteUpload(ctx, &doc)
}

// deleteUpload deletes every object of doc's upload, the info object last.
func (s *Store) deleteUpload(ctx context.Context, doc *infoDoc) error {
	id := doc.ID
	if err := s.abort(ctx, doc); err != nil {
		return err
	}
	side, err := s.listSide(ctx, id)
	if err != nil {
		return err
	}
	keys := []string{s.objectKey(id)}
	for k := range side {
		if k != s.infoKey(id) {
			keys = append(keys, k)
		}
	}
	if err := s.deleteKeys(ctx, keys); err != nil {
		return fmt.Errorf("s3store: terminating %q: %w", id, err)
	}
	if err := s.deleteKeys(ctx, []string{s.infoKey(id)}); err != nil {
		return fmt.Errorf("s3store: terminating %q: %w", id, err)
	}
	s.infos.drop(id)
	return nil
}

// finishTermination completes the deletion of an upload whose termination
// was cut short; a failure is logged and left for the next request.
func (s *Store) finishTermination(ctx context.Context, doc *infoDoc) {
	s.infos.drop(doc.ID)
	if err := s.deleteUpload(ctx, doc); err != nil {
		s.opts.Logger.Warn("s3store: finishing a termination", "id", doc.ID, "error", err)
	}
}

// removeDamaged deletes every object of upload id, whose info object is
// damaged: the multipart uploads of its key (listed, since the info that
// names them cannot be read), the final object, the tail objects and the
// info object, last.
func (s *Store) removeDamaged(ctx context.Context, id string) error {
	s.compact.waitAll(id)
	s.owned.drop(id)
	s.infos.drop(id)
	key := s.objectKey(id)
	in := &s3.ListMultipartUploadsInput{Bucket: &s.opts.Bucket, Prefix: &key}
	for {
		out, err := s.api.ListMultipartUploads(ctx, in)
		if err != nil {
			return fmt.Errorf("s3store: removing damaged %q: listing its multipart uploads: %w", id, err)
		}
		for _, mu := range out.Uploads {
			if aws.ToString(mu.Key) != key { // another upload's key with this prefix
				continue
			}
			if err := s.abort(ctx, &infoDoc{FileInfo: tus.FileInfo{ID: id}, MultipartUploadID: aws.ToString(mu.UploadId)}); err != nil {
				return fmt.Errorf("s3store: removing damaged %q: %w", id, err)
			}
		}
		if !aws.ToBool(out.IsTruncated) || (out.NextKeyMarker == nil && out.NextUploadIdMarker == nil) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	side, err := s.listSide(ctx, id)
	if err != nil {
		return err
	}
	keys := []string{key}
	for k := range side {
		if k != s.infoKey(id) {
			keys = append(keys, k)
		}
	}
	if err := s.deleteKeys(ctx, keys); err != nil {
		return fmt.Errorf("s3store: removing damaged %q: %w", id, err)
	}
	if err := s.deleteKeys(ctx, []string{s.infoKey(id)}); err != nil {
		return fmt.Errorf("s3store: removing damaged %q: %w", id, err)
	}
	return nil
}
