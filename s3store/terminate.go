package s3store

import (
	"context"
	"fmt"
)

// Terminate aborts the multipart upload (which deletes its parts) and
// deletes the final object, the tail objects and, last, the info object, so
// a termination cut short can be repeated.
func (u *upload) Terminate(ctx context.Context) error {
	s, id := u.s, u.doc.ID
	if err := s.abort(ctx, u.doc); err != nil {
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
