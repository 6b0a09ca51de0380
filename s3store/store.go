// Package s3store keeps tus uploads in an S3-compatible object store.
//
// Each upload is one S3 multipart upload whose parts all have the size its
// schedule fixes (stored in the upload's info object). Bytes that do not
// fill a part yet are kept in small "tail" objects beside it, so a PATCH of
// any size is stored before it is acknowledged; when a later PATCH completes
// the part, the tail's bytes, usually still cached in the process, go into
// the part and the tail objects are deleted. The offset of an upload is
// always computed from S3 itself (the listed parts and tail objects), so a
// restarted process, or another one sharing the bucket and a locker, sees
// the truth.
//
// Objects of an upload with ID id:
//
//	<ObjectPrefix><id>                      the final object, once complete
//	<InfoPrefix><id>.info                   the upload's info as JSON
//	<ObjectPrefix><id>.t.<start>.<end>.<l>  tail objects, bytes [start, end)
//
// Request handling needs exclusive access to an upload, which the handler
// gets from a Locker: use one that spans every process sharing the bucket.
//
// # Several processes
//
// Several processes (Stores) may serve the uploads of one bucket, with
// Options.SingleProcess off and a locker shared by all of them, so that the
// requests of one upload may each go to another process. Every request then
// reads the upload from S3 (its info, parts and tail objects): any process
// answers the offset S3 holds, which is never below what was acknowledged
// and never past what was stored, also after a process died in the middle
// of a request. What a process keeps between requests (info documents,
// the bytes of tail objects) is used only while S3 shows the same ETag, so
// a length declared elsewhere, or an upload terminated and created again
// with the same ID, is always seen.
//
// The lock must cover every request that changes an upload (PATCH with its
// finish, DELETE, a declared length, a concatenation, a HEAD that retries a
// finish) until the handler returns, and a lock with a lease (as in Redis)
// must outlast the S3 calls of a request whose process died holding it.
// Downloads need no lock. The part uploads a process runs after a response
// (of a part that small PATCHes completed in tail objects) are not covered:
// they only upload a part from tail objects that already hold its bytes,
// and never write or delete an object. A process that needs the part
// meanwhile uploads it itself from the same bytes; the part's content, and
// so its ETag on services where it is the MD5 of the bytes (on others, a
// completion that names a replaced ETag fails, and the next request
// finishes the upload again), is the same whichever lands last. Such an
// upload that comes after the completion, the termination or the deletion
// of the tail objects fails harmlessly. One that was under way during a
// termination or a completion may bring the multipart upload back with its
// part on some services (AWS documents it for aborts, versitygw does it for
// completions): the part upload then aborts it again, and a request that
// lists parts but no tail object looks for the final object too, so a
// complete upload never looks unfinished.
package s3store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tusgo/tus"
)

// Store is a tus data store on S3. It implements the core storage,
// termination, concatenation, deferred lengths, downloads, finish
// reporting, expiry extension, the enumeration of its uploads (listing and
// usage) and the removal of crash leftovers. It is safe for concurrent use.
type Store struct {
	api     *meteredAPI
	opts    Options
	bufs    *buffers
	tails   *tailCache
	infos   *infoCache
	compact *compactions
	owned   *ownedStates
	noCopy  atomic.Bool // UploadPartCopy answered NotImplemented
	// listPage is the MaxKeys of the enumeration's listing calls; 0 is
	// the service's default (1000). Tests lower it to cross pages.
	listPage int32
}

// New returns a store that keeps uploads in opts.Bucket through api. It
// does not contact S3. With opts.TempDir set, it removes part buffer files
// left there by a process that crashed.
func New(api S3API, opts Options) (*Store, error) {
	if api == nil {
		return nil, errors.New("s3store: nil S3API")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	bufs, err := newBuffers(max(o.MaxBufferedBytes, blockSize), o.TempDir)
	if err != nil {
		return nil, err
	}
	return &Store{
		api:     &meteredAPI{api: api, observe: o.ObserveCall, callTimeout: o.CallTimeout, partTimeout: o.PartTimeout, stats: map[string]OpStats{}},
		opts:    o,
		bufs:    bufs,
		tails:   newTailCache(o.TailCacheBytes, &bufs.pool),
		infos:   newInfoCache(4096),
		compact: newCompactions(opts.ConcurrentPartUploads),
		owned:   newOwnedStates(64 << 20),
	}, nil
}

// Close waits for the part uploads the store runs after responses (see
// WriteChunk). The store must not be used afterwards. A part whose upload
// is cut short by the process ending is uploaded by the next request that
// needs it: its bytes are in tail objects until then.
func (s *Store) Close() error {
	s.compact.close()
	return nil
}

// bodyOptions returns the SDK options of calls that send upload bytes.
func (s *Store) bodyOptions() []func(*s3.Options) {
	if s.opts.DisableContentHashes {
		return []func(*s3.Options){s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)}
	}
	return nil
}

// Options returns the store's options with defaults filled in.
func (s *Store) Options() Options { return s.opts }

// CallStats returns, per S3 operation, how many calls the store made, how
// many failed and how long they took.
func (s *Store) CallStats() map[string]OpStats { return s.api.snapshot() }

// UseIn registers the store as core storage, terminater, concater, length
// deferrer, content server, finish reporter, usage reporter, lister,
// leftover remover and extender of c (see compose.go).
func (s *Store) UseIn(c *tus.StoreComposer) {
	c.UseCore(s)
	c.UseTerminater(s)
	c.UseConcater(s)
	c.UseLengthDeferrer(s)
	c.UseContentServer(s)
	c.UseFinishReporter(s)
	c.UseUsageReporter(s)
	c.UseLister(s)
	c.UseLeftoverRemover(s)
	c.UseExtender(s)
}

// NewUpload creates the upload's multipart upload and info object. Uploads
// longer than Options.MaxObjectSize fail with tus.ErrMaxSizeExceeded.
func (s *Store) NewUpload(ctx context.Context, info tus.FileInfo) (tus.Upload, error) {
	if !tus.ValidID(info.ID) {
		return nil, fmt.Errorf("s3store: invalid upload ID %q", info.ID)
	}
	if max(info.Size, info.AnnouncedSize) > s.opts.MaxObjectSize {
		return nil, tus.ErrMaxSizeExceeded.WithMessage(fmt.Sprintf("upload exceeds the storage's maximum object size of %d bytes", s.opts.MaxObjectSize))
	}
	sched := fixedSchedule(s.opts, info.Size)
	if info.SizeIsDeferred {
		sched = deferredSchedule(s.opts)
	}
	key := s.objectKey(info.ID)
	out, err := s.api.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:      &s.opts.Bucket,
		Key:         &key,
		ContentType: aws.String(contentType(info.MetaData)),
		Metadata:    objectMetadata(info.MetaData),
	})
	if err != nil {
		return nil, fmt.Errorf("s3store: creating multipart upload for %q: %w", info.ID, err)
	}
	info.Offset = 0
	info.Storage = map[string]string{"Type": storageType, "Bucket": s.opts.Bucket, "Key": key}
	doc := &infoDoc{FileInfo: info, MultipartUploadID: aws.ToString(out.UploadId), Parts: sched}
	etag, err := s.putInfo(ctx, doc, true)
	if err != nil {
		if aerr := s.abort(ctx, doc); aerr != nil {
			s.opts.Logger.Warn("s3store: multipart upload left behind", "id", info.ID, "error", aerr)
		}
		return nil, err
	}
	s.infos.put(doc, etag)
	u := &upload{s: s, doc: doc, infoETag: etag, others: map[int32]part{}}
	u.keep(nil)
	return u, nil
}

// GetUpload loads the upload's state from S3: its info, listed parts and
// tail objects. A missing upload is tus.ErrNotFound.
func (s *Store) GetUpload(ctx context.Context, id string) (tus.Upload, error) {
	if !tus.ValidID(id) {
		return nil, fmt.Errorf("s3store: %w", tus.ErrNotFound)
	}
	if s.opts.SingleProcess {
		if u, ok := s.owned.get(id); ok {
			return u, nil
		}
	}
	// Not kept from here: GetUpload may run without the upload's lock (GET,
	// access checks), and a load that a locked request overtakes would put
	// an old state back. Only operations under the lock keep their state.
	return s.load(ctx, id)
}

// abort aborts doc's multipart upload; one that is gone already is fine.
func (s *Store) abort(ctx context.Context, doc *infoDoc) error {
	_, err := s.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: &s.opts.Bucket, Key: aws.String(s.objectKey(doc.ID)), UploadId: &doc.MultipartUploadID,
	})
	if err != nil && !isNoSuchUpload(err) {
		return fmt.Errorf("s3store: aborting multipart upload of %q: %w", doc.ID, err)
	}
	return nil
}

// infoCache keeps info documents by ID with their ETag, so a request whose
// listing shows the same ETag need not read the info object again. Info
// documents are replaced, never changed in place.
type infoCache struct {
	mu    sync.Mutex
	max   int
	items map[string]cachedInfo
}

type cachedInfo struct {
	doc  *infoDoc
	etag string
}

func newInfoCache(max int) *infoCache { return &infoCache{max: max, items: map[string]cachedInfo{}} }

func (c *infoCache) get(id string) (cachedInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ci, ok := c.items[id]
	return ci, ok
}

func (c *infoCache) put(doc *infoDoc, etag string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items) >= c.max {
		for k := range c.items { // drop an arbitrary entry
			delete(c.items, k)
			break
		}
	}
	c.items[doc.ID] = cachedInfo{doc: doc, etag: etag}
}

func (c *infoCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.items, id)
}
