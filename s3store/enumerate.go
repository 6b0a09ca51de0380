package s3store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/tusgo/tus"
)

// The enumeration of the store's uploads (ListUploads, Usage,
// RemoveLeftovers) streams S3 listings and never holds more than a page of
// each, plus the entries of a few uploads.
//
// Sources, each one paginated call per page of up to 1000 entries:
//
//   - ListObjectsV2 of InfoPrefix: the info objects "<InfoPrefix><id>.info";
//   - ListObjectsV2 of ObjectPrefix: final objects "<ObjectPrefix><id>" and
//     tail objects "<ObjectPrefix><id>.t.…" (one listing for both when the
//     prefixes are equal, as by default);
//   - for RemoveLeftovers only, ListMultipartUploads of ObjectPrefix.
//
// Each entry's sort key is its key without its prefix ("<id>",
// "<id>.info", "<id>.t.…"), and the sources are merged in byte order of
// it, the order S3 lists keys in. The entries of one upload are not
// adjacent in that order: '-' sorts before '.', so the keys of upload
// "a-b" come between "a" (the final object or multipart upload of "a") and
// "a.info". But they nest: every key between "x" and the last key of x
// ("x.t.…") begins with "x-" (IDs have only letters, digits, '-' and '_',
// which but '-' all sort after '.'), so the keys of x-… uploads lie
// entirely inside the range of x. The walker keeps a stack of the uploads
// whose range is open: an entry of upload y closes every open upload x on
// top of the stack unless y is x or begins with x+"-", since no later key
// can belong to x. The stack holds a chain of IDs each the last one plus
// "-…", so it is at most 64 deep (IDs have at most 128 bytes). When it is
// closed, an upload has been seen whole: its final object, multipart
// uploads, info object (after those) and tail objects (after its info).
//
// The merged order is checked: an object listing that is not in key order
// (as on S3 directory buckets) fails the enumeration. The multipart upload
// listing of some services is not in key order (MinIO lists in the order
// of creation), or lists only one exact key for a prefix (MinIO again: its
// prefix is an object name; with an empty ObjectPrefix it lists the
// uploads it has cached since it started); a multipart upload that comes
// out of order is handed to the visitor alone (stray), which looks its
// upload up.

// entryKind says what an enumerated key is.
type entryKind uint8

const (
	entryObject entryKind = iota // "<ObjectPrefix><id>", the final object
	entryUpload                  // a multipart upload of "<ObjectPrefix><id>"
	entryInfo                    // "<InfoPrefix><id>.info"
	entryTail                    // "<ObjectPrefix><id>.t.…"
)

// entry is one enumerated object or multipart upload.
type entry struct {
	kind     entryKind
	id       string
	sortKey  string // the key without its prefix
	key      string
	size     int64
	etag     string
	modified time.Time // LastModified, or Initiated for a multipart upload
	uploadID string    // of a multipart upload
}

// group is the entries of one upload seen so far (see walk).
type group struct {
	id    string
	final *entry // its final object
	info  *entry // its info object
	// Kept by the visitors.
	mpus    []entry // multipart uploads held until the group closes
	tails   []entry // tail objects held until the group closes
	doc     *infoDoc
	collect bool // hold tail objects
	noInfo  int8 // 0 unknown, 1 confirmed missing (HEAD), -1 found
}

// visitor is told of the entries of an enumeration.
type visitor interface {
	// entry is called for every entry of g, in key order, after the walker
	// has recorded a final or info object in g.
	entry(ctx context.Context, g *group, e entry) error
	// close is called once all of g's entries have been seen.
	close(ctx context.Context, g *group) error
	// stray is called for a multipart upload listed out of key order.
	stray(ctx context.Context, e entry) error
}

// maxListPage is the most entries S3 returns per listing call.
const maxListPage = 1000

// source is one paginated listing.
type source struct {
	fetch func(ctx context.Context) ([]entry, bool, error) // one page; false: no more
	buf   []entry
	done  bool
}

// peek returns the source's next entry, fetching a page when needed; nil
// when it has no more.
func (src *source) peek(ctx context.Context) (*entry, error) {
	for len(src.buf) == 0 && !src.done {
		page, more, err := src.fetch(ctx)
		if err != nil {
			return nil, err
		}
		src.buf, src.done = page, !more
	}
	if len(src.buf) == 0 {
		return nil, nil
	}
	return &src.buf[0], nil
}

func (src *source) pop() { src.buf = src.buf[1:] }

// pageSize returns the MaxKeys of listing calls: nil means the service's
// default (1000).
func (s *Store) pageSize() *int32 {
	if s.listPage <= 0 {
		return nil
	}
	return aws.Int32(s.listPage)
}

// objectSource lists the keys under prefix; parse turns the key without
// prefix into an entry (ok false: not one of the store's keys).
func (s *Store) objectSource(prefix string, parse func(rest string) (entry, bool)) *source {
	in := &s3.ListObjectsV2Input{Bucket: &s.opts.Bucket, Prefix: aws.String(prefix), MaxKeys: s.pageSize()}
	return &source{fetch: func(ctx context.Context) ([]entry, bool, error) {
		out, err := s.api.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, false, fmt.Errorf("s3store: listing objects under %q: %w", prefix, err)
		}
		page := make([]entry, 0, len(out.Contents))
		for _, o := range out.Contents {
			key := aws.ToString(o.Key)
			rest, ok := strings.CutPrefix(key, prefix)
			if !ok {
				continue
			}
			e, ok := parse(rest)
			if !ok {
				continue
			}
			e.sortKey, e.key, e.size, e.etag, e.modified = rest, key, aws.ToInt64(o.Size), aws.ToString(o.ETag), aws.ToTime(o.LastModified)
			page = append(page, e)
		}
		more := aws.ToBool(out.IsTruncated) && out.NextContinuationToken != nil
		in.ContinuationToken = out.NextContinuationToken
		return page, more, nil
	}}
}

// uploadSource lists the multipart uploads under ObjectPrefix.
func (s *Store) uploadSource() *source {
	prefix := s.opts.ObjectPrefix
	in := &s3.ListMultipartUploadsInput{Bucket: &s.opts.Bucket, MaxUploads: s.pageSize()}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	return &source{fetch: func(ctx context.Context) ([]entry, bool, error) {
		out, err := s.api.ListMultipartUploads(ctx, in)
		if err != nil && in.UploadIdMarker != nil && errorCode(err) == "InvalidArgument" {
			// versitygw refuses an upload ID marker (see below), needed
			// only when a page holds uploads of one key alone: go on
			// after the key. Its further uploads are left to a later
			// listing.
			in.UploadIdMarker = nil
			out, err = s.api.ListMultipartUploads(ctx, in)
		}
		if err != nil {
			return nil, false, fmt.Errorf("s3store: listing multipart uploads under %q: %w", prefix, err)
		}
		uploads, more := out.Uploads, aws.ToBool(out.IsTruncated)
		if i := lastKeyStart(uploads); more && i > 0 {
			// Resume with the page's last key whole, after the key before
			// it, rather than after one of its upload IDs: versitygw
			// refuses an upload ID marker (it drops the marker's key before
			// looking for it).
			uploads = uploads[:i]
			in.KeyMarker, in.UploadIdMarker = uploads[i-1].Key, nil
		} else {
			more = more && (out.NextKeyMarker != nil || out.NextUploadIdMarker != nil)
			if more && aws.ToString(out.NextKeyMarker) == aws.ToString(in.KeyMarker) && aws.ToString(out.NextUploadIdMarker) == aws.ToString(in.UploadIdMarker) {
				more = false // no progress: do not loop
			}
			in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
		}
		page := make([]entry, 0, len(uploads))
		for _, mu := range uploads {
			key := aws.ToString(mu.Key)
			id, ok := strings.CutPrefix(key, prefix)
			if !ok || !tus.ValidID(id) {
				continue
			}
			page = append(page, entry{kind: entryUpload, id: id, sortKey: id, key: key, uploadID: aws.ToString(mu.UploadId), modified: aws.ToTime(mu.Initiated)})
		}
		return page, more, nil
	}}
}

// lastKeyStart returns the index of the first of the trailing uploads
// with the same key.
func lastKeyStart(uploads []types.MultipartUpload) int {
	i := len(uploads)
	for i > 0 && aws.ToString(uploads[i-1].Key) == aws.ToString(uploads[len(uploads)-1].Key) {
		i--
	}
	return i
}

// parseInfo parses "<id>.info".
func parseInfo(rest string) (entry, bool) {
	id, ok := strings.CutSuffix(rest, ".info")
	if !ok || !tus.ValidID(id) {
		return entry{}, false
	}
	return entry{kind: entryInfo, id: id}, true
}

// parseObject parses "<id>" and "<id>.t.<start>.<end>.<level>".
func parseObject(rest string) (entry, bool) {
	if tus.ValidID(rest) {
		return entry{kind: entryObject, id: rest}, true
	}
	id, _, ok := strings.Cut(rest, ".")
	if !ok || !tus.ValidID(id) {
		return entry{}, false
	}
	if _, ok := parseTailKey(id+".", rest); !ok {
		return entry{}, false
	}
	return entry{kind: entryTail, id: id}, true
}

// errListingOrder is the failure of an enumeration over a listing that is
// not in key order.
var errListingOrder = errors.New("s3store: the service does not list objects in key order, which enumerating uploads needs")

// walk enumerates the store's keys (and, with uploads, its multipart
// uploads) as the comment at the top of this file describes, telling v.
func (s *Store) walk(ctx context.Context, uploads bool, v visitor) error {
	var sources []*source
	if s.opts.InfoPrefix == s.opts.ObjectPrefix {
		sources = append(sources, s.objectSource(s.opts.ObjectPrefix, func(rest string) (entry, bool) {
			if e, ok := parseInfo(rest); ok {
				return e, true
			}
			return parseObject(rest)
		}))
	} else {
		sources = append(sources, s.objectSource(s.opts.InfoPrefix, parseInfo), s.objectSource(s.opts.ObjectPrefix, parseObject))
	}
	if uploads {
		sources = append(sources, s.uploadSource())
	}
	var (
		stack []*group
		last  string
		begun bool
	)
	closeTop := func() error {
		g := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		return v.close(ctx, g)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var (
			min   *entry
			minAt *source
		)
		for _, src := range sources {
			e, err := src.peek(ctx)
			if err != nil {
				return err
			}
			if e != nil && (min == nil || e.sortKey < min.sortKey || (e.sortKey == min.sortKey && e.kind < min.kind)) {
				min, minAt = e, src
			}
		}
		if min == nil {
			break
		}
		e := *min
		minAt.pop()
		if begun && e.sortKey < last {
			if e.kind == entryUpload {
				if err := v.stray(ctx, e); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("%w (%q after %q)", errListingOrder, e.key, last)
		}
		begun, last = true, e.sortKey
		for len(stack) > 0 {
			top := stack[len(stack)-1].id
			if top == e.id || strings.HasPrefix(e.id, top+"-") {
				break
			}
			if err := closeTop(); err != nil {
				return err
			}
		}
		if len(stack) == 0 || stack[len(stack)-1].id != e.id {
			stack = append(stack, &group{id: e.id})
		}
		g := stack[len(stack)-1]
		switch e.kind {
		case entryObject:
			g.final = &e
		case entryInfo:
			g.info = &e
		}
		if err := v.entry(ctx, g, e); err != nil {
			return err
		}
	}
	for len(stack) > 0 {
		if err := closeTop(); err != nil {
			return err
		}
	}
	return nil
}

// uploadState is what an enumerated upload with an info object is.
type uploadState uint8

const (
	stateGone       uploadState = iota // no info, or terminated
	stateFinished                      // its final object exists
	stateUnfinished                    // doc holds its info
	stateDamaged                       // its info object cannot be used
)

// resolve tells what g, whose info object has just been listed, is. An
// upload with a final object is finished, read from its info only if that
// was written after the object (a termination may have marked it); any
// other has its info read (from the cache if the listed ETag matches). An
// upload whose info is marked terminated has its termination finished
// here, as any request that finds it does.
func (s *Store) resolve(ctx context.Context, g *group) (uploadState, *infoDoc, error) {
	if g.info == nil {
		return stateGone, nil, nil
	}
	if g.final != nil && !g.info.modified.After(g.final.modified) {
		return stateFinished, nil, nil
	}
	doc, err := s.readInfo(ctx, g.id, g.info.etag)
	switch {
	case errors.Is(err, tus.ErrNotFound):
		return stateGone, nil, nil
	case errors.Is(err, tus.ErrCorruptUpload):
		return stateDamaged, nil, nil
	case err != nil:
		return 0, nil, err
	case doc.Terminated:
		s.finishTermination(ctx, doc)
		return stateGone, nil, nil
	case g.final != nil:
		return stateFinished, doc, nil
	}
	return stateUnfinished, doc, nil
}

// readInfo returns the info document of id: the cached one if its ETag is
// etag, else the object's. Documents read here are not cached: an
// enumeration would push out those of the uploads in use.
func (s *Store) readInfo(ctx context.Context, id, etag string) (*infoDoc, error) {
	if ci, ok := s.infos.get(id); ok && etag != "" && ci.etag == etag {
		return ci.doc, nil
	}
	doc, _, err := s.getInfo(ctx, id)
	return doc, err
}
