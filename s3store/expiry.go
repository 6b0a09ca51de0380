package s3store

import (
	"context"
	"time"
)

// ExtendExpiry records expiresAt as the upload's ExpiresAt in its info
// object (tus.ExtendableUpload); the caller holds the upload's lock. The
// info object is replaced whole, so its ETag changes and every process
// sees the new expiry at its next request (see the package
// documentation), and ListUploads reports it.
func (u *upload) ExtendExpiry(ctx context.Context, expiresAt time.Time) (err error) {
	if u.corrupt != nil {
		return u.corrupt
	}
	defer func() { u.keep(err) }()
	doc := *u.doc
	doc.ExpiresAt = expiresAt
	etag, err := u.s.putInfo(ctx, &doc, false)
	if err != nil {
		return err
	}
	u.doc, u.infoETag = &doc, etag
	u.s.infos.put(&doc, etag)
	return nil
}
