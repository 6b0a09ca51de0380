package s3store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tusgo/tus"
)

// maxHeldUploads bounds the multipart uploads of one key held during an
// enumeration; further ones are looked up alone (as strays).
const maxHeldUploads = 100

// RemoveLeftovers removes what crashes left behind and no request can
// reach, if it was created (or, for a multipart upload, initiated) before
// cutoff, and returns how many objects and multipart uploads it removed
// (tus.LeftoverRemover):
//
//   - a multipart upload of "<ObjectPrefix><id>" when id has no info
//     object (NewUpload creates the multipart upload, then the info
//     object: a crash or failure between them leaves it), or when the info
//     object names another multipart upload (a failed creation of a taken
//     ID whose abort failed);
//   - the multipart upload of a finished upload (its final object has the
//     size its info says), brought back by a part upload that was under
//     way during the completion (see the package documentation); a request
//     that loads the upload aborts it too;
//   - tail objects "<ObjectPrefix><id>.t.…" of an id without info object
//     (a termination deletes them before the info object, so only a crash
//     or an outside deletion leaves them);
//   - the rest of an upload whose info object marks a termination begun,
//     when it is looked at anyway (as every request that finds one does;
//     ListUploads does it too).
//
// The absence of an info object is checked with a HeadObject call just
// before removing anything for it. Nothing of an upload whose info object
// exists is touched otherwise, and nothing outside the prefixes, nor
// objects under them whose names are not of the store's form. A final
// object without info object is left alone: no crash of the store leaves
// one, so it may well be someone else's object. Everything of the store's
// form under ObjectPrefix is taken as the store's: do not share the prefix
// with other writers.
//
// cutoff must be earlier than the start of every NewUpload still running
// (its multipart upload exists before its info object), with a margin for
// the difference between this machine's clock and the service's, whose
// times (Initiated, LastModified) are compared with it.
//
// Calls: those of ListUploads without the GetObject calls, plus about
// ceil(U/1000) ListMultipartUploads calls for U multipart uploads (a page
// ending inside the uploads of one key is resumed at that key, so its
// uploads are listed again), plus,
// per leftover, one HeadObject and one AbortMultipartUpload (or a share
// of a DeleteObjects of up to 1000 tail objects), plus a GetObject of the
// info for each key with two or more multipart uploads initiated before
// cutoff, or one and a final object. A service whose multipart upload
// listing is not in key order (MinIO) makes every multipart upload
// initiated before cutoff cost a GetObject of its info and a HeadObject
// of its final object; MinIO lists
// multipart uploads under a prefix only for one exact key, so with a
// non-empty ObjectPrefix it lists none here, and with an empty one only
// those it has cached since it started.
//
// It stops at the first failure and returns it with the count so far.
func (s *Store) RemoveLeftovers(ctx context.Context, cutoff time.Time) (int, error) {
	r := &remover{s: s, cutoff: cutoff}
	err := s.walk(ctx, true, r)
	if err == nil {
		err = r.flush(ctx)
	}
	if err != nil {
		return r.removed, fmt.Errorf("s3store: removing leftovers: %w", err)
	}
	return r.removed, nil
}

// remover is the visitor of RemoveLeftovers.
type remover struct {
	s       *Store
	cutoff  time.Time
	removed int
	pending []string // tail objects to delete
}

func (r *remover) old(e entry) bool { return e.modified.Before(r.cutoff) }

func (r *remover) entry(ctx context.Context, g *group, e entry) error {
	switch e.kind {
	case entryUpload:
		if !r.old(e) {
			return nil
		}
		if len(g.mpus) >= maxHeldUploads {
			return r.stray(ctx, e)
		}
		g.mpus = append(g.mpus, e)
	case entryTail:
		if g.info != nil || !r.old(e) {
			return nil
		}
		missing, err := r.infoMissing(ctx, g)
		if err != nil || !missing {
			return err
		}
		r.pending = append(r.pending, e.key)
		if len(r.pending) >= maxListPage {
			return r.flush(ctx)
		}
	}
	return nil
}

// flush deletes the pending tail objects.
func (r *remover) flush(ctx context.Context) error {
	if len(r.pending) == 0 {
		return nil
	}
	if err := r.s.deleteKeys(ctx, r.pending); err != nil {
		return err
	}
	for _, k := range r.pending {
		r.s.opts.Logger.Info("s3store: removed leftover tail object", "key", k)
	}
	r.removed += len(r.pending)
	r.pending = r.pending[:0]
	return nil
}

// infoMissing reports whether g's upload has no info object, asking S3
// once per group.
func (r *remover) infoMissing(ctx context.Context, g *group) (bool, error) {
	if g.noInfo == 0 {
		_, err := r.s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &r.s.opts.Bucket, Key: aws.String(r.s.infoKey(g.id))})
		switch {
		case err == nil:
			g.noInfo = -1
		case isNotFound(err):
			g.noInfo = 1
		default:
			return false, fmt.Errorf("looking up info of %q: %w", g.id, err)
		}
	}
	return g.noInfo == 1, nil
}

func (r *remover) close(ctx context.Context, g *group) error {
	if len(g.mpus) == 0 {
		return nil
	}
	if g.info == nil {
		missing, err := r.infoMissing(ctx, g)
		if err != nil || !missing {
			return err
		}
		for _, mu := range g.mpus {
			if err := r.abort(ctx, mu, "no info object"); err != nil {
				return err
			}
		}
		return nil
	}
	if len(g.mpus) == 1 && g.final == nil {
		return nil // the upload's own, as far as the listing tells
	}
	return r.check(ctx, g.id, g.final, true, g.mpus)
}

// stray looks up the info of a multipart upload listed out of key order.
func (r *remover) stray(ctx context.Context, e entry) error {
	if !r.old(e) {
		return nil
	}
	return r.check(ctx, e.id, nil, false, []entry{e})
}

// check reads the info of id and aborts those of mpus (all initiated
// before cutoff) that it does not name, or that belong to a finished
// upload: final is its listed final object, if any; without listed, it
// is looked up when the info names one of mpus.
func (r *remover) check(ctx context.Context, id string, final *entry, listed bool, mpus []entry) error {
	doc, _, err := r.s.getInfo(ctx, id)
	switch {
	case errors.Is(err, tus.ErrNotFound):
		for _, mu := range mpus {
			if err := r.abort(ctx, mu, "no info object"); err != nil {
				return err
			}
		}
		return nil
	case errors.Is(err, tus.ErrCorruptUpload):
		return nil // it can only be terminated, which removes them all
	case err != nil:
		return err
	case doc.Terminated:
		// Finish it, as a request that finds it does.
		if err := r.s.deleteUpload(ctx, doc); err != nil {
			return err
		}
		r.s.opts.Logger.Info("s3store: finished an interrupted termination", "id", id)
		r.removed++
	}
	complete := final != nil && !doc.SizeIsDeferred && final.size == doc.Size
	if !listed && !doc.Terminated && slices.ContainsFunc(mpus, func(mu entry) bool { return mu.uploadID == doc.MultipartUploadID }) {
		ok, err := r.s.completed(ctx, doc)
		if err != nil && !errors.Is(err, tus.ErrCorruptUpload) {
			return err
		}
		complete = ok
	}
	for _, mu := range mpus {
		switch {
		case mu.uploadID == doc.MultipartUploadID && doc.Terminated:
			// Aborted by the termination.
		case mu.uploadID != doc.MultipartUploadID:
			err = r.abort(ctx, mu, "not named by the info object")
		case complete:
			err = r.abort(ctx, mu, "of a finished upload")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// abort aborts the leftover multipart upload mu.
func (r *remover) abort(ctx context.Context, mu entry, why string) error {
	if err := r.s.abort(ctx, &infoDoc{FileInfo: tus.FileInfo{ID: mu.id}, MultipartUploadID: mu.uploadID}); err != nil {
		return err
	}
	r.s.opts.Logger.Info("s3store: aborted leftover multipart upload", "id", mu.id, "upload_id", mu.uploadID, "initiated", mu.modified, "reason", why)
	r.removed++
	return nil
}
