package s3store

import (
	"context"
	"fmt"
)

// Terminate deletes the upload: it first marks the info object as
// terminated, so the upload is gone for every request from then on, then
// aborts the multipart upload (which deletes its parts) and deletes the
// final object, the tail objects and, last, the info object. A termination
// cut short by a failure or a crash is finished by the next request that
// finds the marked info object.
func (u *upload) Terminate(ctx context.Context) error {
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
