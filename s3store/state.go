package s3store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tusgo/tus"
)

// part is one listed part of the multipart upload.
type part struct {
	num  int32
	size int64
	etag string
}

// listed is an object as ListObjectsV2 shows it.
type listed struct {
	etag string
	size int64
}

// segment is one tail object: bytes [start, end) of the upload. Merged
// segments have a higher level (see tail.go).
type segment struct {
	start, end int64
	level      int
	key        string
	etag       string
}

func (g segment) size() int64 { return g.end - g.start }

// upload is the state of one upload as loaded for one request. The handler
// holds the upload's lock while using it.
type upload struct {
	s        *Store
	doc      *infoDoc
	infoETag string
	// corrupt, if set, is why the info object cannot be used: doc holds
	// only the ID, and every method but Terminate fails with it.
	corrupt error

	chain  []part         // parts 1..K, each whole for the schedule
	final  bool           // chain holds every byte (the last part is the last)
	done   bool           // the multipart upload is completed
	others map[int32]part // listed parts beyond the chain (never counted)

	tail     []segment       // tail objects continuing the chain, in order
	garbage  []string        // tail objects that are not part of the upload's bytes
	stale    []string        // garbage whose bytes the parts hold: never taken again
	consumed map[string]bool // tail objects this request made into parts and deleted
}

// partsEnd returns the number of bytes held by the chain of parts.
func (u *upload) partsEnd() int64 {
	if len(u.chain) == 0 {
		return 0
	}
	if u.doc.IsFinal { // parts copied from partials have their sizes
		var sum int64
		for _, p := range u.chain {
			sum += p.size
		}
		return sum
	}
	last := u.chain[len(u.chain)-1]
	return u.doc.Parts.start(int(last.num)) + last.size
}

// offset returns the number of bytes stored.
func (u *upload) offset() int64 {
	if u.done {
		return u.doc.Size
	}
	off := u.partsEnd()
	if len(u.tail) > 0 {
		off = u.tail[len(u.tail)-1].end
	}
	return off
}

// GetInfo returns the upload's info with its offset.
func (u *upload) GetInfo(ctx context.Context) (tus.FileInfo, error) {
	if u.corrupt != nil {
		return tus.FileInfo{ID: u.doc.ID}, u.corrupt
	}
	fi := u.doc.FileInfo
	fi.Offset = u.offset()
	return fi, nil
}

// load reads the state of upload id from S3. An upload whose info object
// is damaged is returned with corrupt set (see damagedUpload).
func (s *Store) load(ctx context.Context, id string) (*upload, error) {
	u, err := s.loadState(ctx, id)
	if err != nil && errors.Is(err, tus.ErrCorruptUpload) {
		s.infos.drop(id)
		s.opts.Logger.Error("s3store: damaged upload: it can only be terminated", "id", id, "error", err)
		return s.damagedUpload(id, err), nil
	}
	return u, err
}

// damagedUpload returns the upload id whose info object cannot be used for
// cause (wrapping tus.ErrCorruptUpload): GetInfo and every other method
// fail with cause, and Terminate removes whatever is left of it.
func (s *Store) damagedUpload(id string, cause error) *upload {
	return &upload{s: s, doc: &infoDoc{FileInfo: tus.FileInfo{ID: id}}, corrupt: cause, others: map[int32]part{}}
}

// loadState reads the state of upload id from S3.
func (s *Store) loadState(ctx context.Context, id string) (*upload, error) {
	ci, cached := s.infos.get(id)
	if !cached {
		doc, etag, err := s.getInfo(ctx, id)
		if err != nil {
			return nil, err
		}
		ci = cachedInfo{doc: doc, etag: etag}
	}
	var (
		parts    []part
		partsErr error
		objects  map[string]listed
		listErr  error
	)
	listedFor := ci.doc.MultipartUploadID
	done := make(chan struct{})
	go func() {
		defer close(done)
		parts, partsErr = s.listParts(ctx, ci.doc)
	}()
	objects, listErr = s.listSide(ctx, id)
	<-done
	if listErr != nil {
		return nil, listErr
	}
	if s.opts.InfoPrefix == s.opts.ObjectPrefix {
		obj, ok := objects[s.infoKey(id)]
		switch {
		case !ok:
			s.infos.drop(id)
			return nil, fmt.Errorf("s3store: info of %q: %w", id, tus.ErrNotFound)
		case obj.etag != ci.etag:
			doc, etag, err := s.getInfo(ctx, id)
			if err != nil {
				return nil, err
			}
			ci = cachedInfo{doc: doc, etag: etag}
		}
		delete(objects, s.infoKey(id))
	} else if cached {
		// The info object is elsewhere: read it again, it may have changed.
		doc, etag, err := s.getInfo(ctx, id)
		if err != nil {
			return nil, err
		}
		ci = cachedInfo{doc: doc, etag: etag}
	}
	if ci.doc.Terminated {
		s.finishTermination(ctx, ci.doc)
		return nil, fmt.Errorf("s3store: %q was terminated: %w", id, tus.ErrNotFound)
	}
	if listedFor != ci.doc.MultipartUploadID {
		// The cached info was stale (the ID was used again after a
		// termination): list the parts of the multipart upload it names.
		parts, partsErr = s.listParts(ctx, ci.doc)
	}
	s.infos.put(ci.doc, ci.etag)
	doc := *ci.doc // replaced, never changed in place
	u := &upload{s: s, doc: &doc, infoETag: ci.etag, others: map[int32]part{}}

	switch {
	case partsErr == nil:
		u.buildChain(parts)
	case isNoSuchUpload(partsErr):
		// Completed, or aborted by a termination that did not get further.
		ok, err := s.completed(ctx, &doc)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("s3store: %q has neither a multipart upload nor an object: %w", id, tus.ErrNotFound)
		}
		u.done, u.final = true, true
	default:
		return nil, fmt.Errorf("s3store: listing parts of %q: %w", id, partsErr)
	}
	u.buildTail(objects)
	if partsErr == nil && len(parts) > 0 && !u.final && !doc.SizeIsDeferred && len(u.tail)+len(u.stale)+len(u.garbage) == 0 {
		// A part upload of another process (see compact.go) that was under
		// way while the upload was completed can bring the multipart
		// upload back with that part on some services (versitygw): the
		// upload would look unfinished, with fewer bytes than acknowledged.
		// Completing deletes every tail object, so look for the object
		// when there is none (and parts are listed).
		ok, err := s.completed(ctx, &doc)
		if err != nil && !errors.Is(err, tus.ErrNotFound) {
			return nil, err
		}
		if ok {
			if err := s.abort(ctx, &doc); err != nil {
				s.opts.Logger.Warn("s3store: multipart upload of a complete upload left behind", "id", id, "error", err)
			}
			u.done, u.final = true, true
			u.chain, u.others, u.tail = nil, map[int32]part{}, nil
		}
	}
	return u, nil
}

// completed reports whether doc's upload has its final object, which only
// completing its multipart upload makes. An object of another size than
// the upload's makes the upload damaged (tus.ErrCorruptUpload).
func (s *Store) completed(ctx context.Context, doc *infoDoc) (bool, error) {
	head, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.opts.Bucket, Key: aws.String(s.objectKey(doc.ID))})
	if err != nil {
		if isNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("s3store: looking up object of %q: %w", doc.ID, err)
	}
	if doc.SizeIsDeferred || aws.ToInt64(head.ContentLength) != doc.Size {
		return false, fmt.Errorf("s3store: object of %q has %d bytes, its info says %d: %w", doc.ID, aws.ToInt64(head.ContentLength), doc.Size, tus.ErrCorruptUpload)
	}
	return true, nil
}

// listParts lists every part of doc's multipart upload, in order.
func (s *Store) listParts(ctx context.Context, doc *infoDoc) ([]part, error) {
	var parts []part
	in := &s3.ListPartsInput{Bucket: &s.opts.Bucket, Key: aws.String(s.objectKey(doc.ID)), UploadId: &doc.MultipartUploadID}
	for {
		out, err := s.api.ListParts(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, p := range out.Parts {
			parts = append(parts, part{num: aws.ToInt32(p.PartNumber), size: aws.ToInt64(p.Size), etag: aws.ToString(p.ETag)})
		}
		if !aws.ToBool(out.IsTruncated) || out.NextPartNumberMarker == nil || aws.ToString(out.NextPartNumberMarker) == aws.ToString(in.PartNumberMarker) {
			break
		}
		in.PartNumberMarker = out.NextPartNumberMarker
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].num < parts[j].num })
	return parts, nil
}

// listSide lists the objects under the upload's side prefix (its tail
// objects and, with the default prefixes, its info object).
func (s *Store) listSide(ctx context.Context, id string) (map[string]listed, error) {
	objects := map[string]listed{}
	in := &s3.ListObjectsV2Input{Bucket: &s.opts.Bucket, Prefix: aws.String(s.sidePrefix(id))}
	for {
		out, err := s.api.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("s3store: listing objects of %q: %w", id, err)
		}
		for _, o := range out.Contents {
			objects[aws.ToString(o.Key)] = listed{etag: aws.ToString(o.ETag), size: aws.ToInt64(o.Size)}
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	return objects, nil
}

// buildChain finds the parts that hold the upload's first bytes: parts 1, 2,
// … each exactly the size the schedule gives it, up to the first missing
// or differently sized one, and a last, shorter part only if it ends the
// upload. Every other listed part is left out: it may be from a request
// that failed or whose chunk was rejected.
//
// A final upload (concatenation) has no schedule: its parts are counted only
// once they add up to its size.
func (u *upload) buildChain(parts []part) {
	byNum := make(map[int32]part, len(parts))
	for _, p := range parts {
		byNum[p.num] = p
	}
	sched, size, known := u.doc.Parts, u.doc.Size, !u.doc.SizeIsDeferred
	if u.doc.IsFinal {
		var sum int64
		for n := int32(1); ; n++ {
			p, ok := byNum[n]
			if !ok || (sum+p.size > size) {
				break
			}
			sum += p.size
			if sum == size && (p.size > 0 || n == 1) {
				u.chain, u.final = parts[:n], true
				break
			}
		}
	} else {
		for n := int32(1); ; n++ {
			p, ok := byNum[n]
			if !ok {
				break
			}
			start := sched.start(int(n))
			whole := p.size == sched.size(int(n)) && (!known || start+p.size <= size)
			last := known && start+p.size == size && (p.size > 0 || n == 1)
			if !whole && !last {
				break
			}
			u.chain = append(u.chain, p)
			if last {
				u.final = true
				break
			}
		}
	}
	for _, p := range parts {
		if int(p.num) > len(u.chain) {
			u.others[p.num] = p
		}
	}
}

// tailKey returns the key of the tail object for bytes [start, end).
func (s *Store) tailKey(id string, start, end int64, level int) string {
	return fmt.Sprintf("%st.%020d.%020d.%d", s.sidePrefix(id), start, end, level)
}

// parseTailKey reads a tail object key back; ok is false for other keys.
func parseTailKey(prefix, key string) (segment, bool) {
	rest, ok := strings.CutPrefix(key, prefix+"t.")
	if !ok {
		return segment{}, false
	}
	f := strings.Split(rest, ".")
	if len(f) != 3 {
		return segment{}, false
	}
	start, err1 := strconv.ParseInt(f[0], 10, 64)
	end, err2 := strconv.ParseInt(f[1], 10, 64)
	level, err3 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil || err3 != nil || start < 0 || end <= start || level < 0 {
		return segment{}, false
	}
	return segment{start: start, end: end, level: level, key: key}, true
}

// buildTail picks the tail objects that continue the chain of parts: from
// the chain's end, each the longest one starting where the previous ended.
// Others (left by a crash between writing a part or a merged tail object
// and deleting what it replaced) are garbage.
func (u *upload) buildTail(objects map[string]listed) {
	prefix := u.s.sidePrefix(u.doc.ID)
	var segs []segment
	for key, obj := range objects {
		if g, ok := parseTailKey(prefix, key); ok {
			g.etag = obj.etag
			if obj.size != g.size() {
				u.garbage = append(u.garbage, key) // not what its name says
				continue
			}
			segs = append(segs, g)
		} else {
			u.s.opts.Logger.Warn("s3store: unknown object beside upload", "id", u.doc.ID, "key", key)
		}
	}
	sort.Slice(segs, func(i, j int) bool {
		if segs[i].start != segs[j].start {
			return segs[i].start < segs[j].start
		}
		return segs[i].end > segs[j].end
	})
	pos := u.partsEnd()
	if u.doc.IsFinal && !u.final {
		pos = -1 // a final upload has bytes only once concatenated whole
	}
	limit := int64(-1)
	if !u.final && !u.doc.SizeIsDeferred {
		limit = u.doc.Size
	}
	partsEnd := u.partsEnd()
	for _, g := range segs {
		switch {
		case !u.final && g.start == pos && (limit < 0 || g.end <= limit):
			u.tail = append(u.tail, g)
			pos = g.end
		case pos >= 0 && g.end <= partsEnd:
			// Left by a part upload that had not deleted its tail objects
			// yet (maybe it is doing so now): the chain of parts only grows,
			// so they are never taken again and need not go first.
			u.stale = append(u.stale, g.key)
		default:
			u.garbage = append(u.garbage, g.key)
		}
	}
}
