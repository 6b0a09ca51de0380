package s3store

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Size limits of Amazon S3 multipart uploads; the defaults of Options.
const (
	// DefaultMinPartSize is the smallest part S3 accepts, but for the last.
	DefaultMinPartSize = 5 << 20
	// DefaultMaxPartSize is the largest part S3 accepts.
	DefaultMaxPartSize = 5 << 30
	// DefaultMaxParts is the most parts one multipart upload may have.
	DefaultMaxParts = 10000
	// DefaultMaxObjectSize is the largest object S3 stores.
	DefaultMaxObjectSize = 5 << 40
	// DefaultPartSize is the part size the store prefers.
	DefaultPartSize = 16 << 20
	// DefaultConcurrentPartUploads is how many parts of one request upload
	// at the same time. Each holds a part buffer (PartSize bytes), so a
	// large PATCH keeps up to DefaultConcurrentPartUploads+1 parts in
	// memory, and the Go heap grows to about twice what is live: 2 keeps a
	// 256 MiB PATCH at 64 MiB peak RSS where 4 took 97 MiB, at the same
	// throughput against a local MinIO. Against a distant service, where
	// each part upload waits longer for the network, more may be faster:
	// raise ConcurrentPartUploads (and MaxBufferedBytes) there.
	DefaultConcurrentPartUploads = 2
	// DefaultMaxBufferedBytes is the store-wide budget for part buffers:
	// room for one large PATCH's part uploads at full speed
	// (DefaultConcurrentPartUploads+1 parts of 16 MiB: 48 MiB), and some
	// to spare. More concurrent bodies wait in line for it: tusbench's 100
	// uploads of 16 MiB at once ran at 214 MB/s with it against tusd v2's
	// 162 (medians of 3 rounds), peaking at 116 MiB RSS; 96 MiB was no
	// faster.
	DefaultMaxBufferedBytes = 64 << 20
	// DefaultTailCacheBytes is the store-wide budget of the tail cache.
	DefaultTailCacheBytes = 64 << 20
	// DefaultCallTimeout bounds an S3 call that moves no upload bytes.
	DefaultCallTimeout = 15 * time.Second
	// DefaultPartTimeout bounds an S3 call that moves up to 64 MiB of upload
	// bytes (at least about 0.5 MiB/s).
	DefaultPartTimeout = 2 * time.Minute
)

// Options configures a Store. Only Bucket is required; zero values take the
// defaults above.
type Options struct {
	// Bucket is the bucket that holds every object of the store.
	Bucket string
	// ObjectPrefix is put before every upload's object keys: the final
	// object "<ObjectPrefix><id>" and the tail objects
	// "<ObjectPrefix><id>.t.…" that hold bytes not yet filling a part.
	ObjectPrefix string
	// InfoPrefix is put before the info object "<InfoPrefix><id>.info".
	// Empty means ObjectPrefix.
	InfoPrefix string

	// PartSize is the preferred size of a part. The store uses larger parts
	// when an upload would otherwise need more than MaxParts parts.
	PartSize int64
	// MinPartSize is the smallest part the service accepts, but for the
	// last (5 MiB on AWS).
	MinPartSize int64
	// MaxPartSize is the largest part the service accepts (5 GiB on AWS).
	MaxPartSize int64
	// MaxParts is the most parts the service allows in one multipart upload
	// (10,000 on AWS; some services allow 1,000).
	MaxParts int
	// MaxObjectSize is the largest object the service stores (5 TiB on
	// AWS). Larger uploads are refused with 413 at creation; a deferred
	// length upload is stopped with 413 when it grows past it.
	MaxObjectSize int64
	// EqualParts makes every part but the last the same size, as Cloudflare
	// R2 requires. The write path always does this; the option also keeps
	// concatenation from copying partials as parts of their own sizes (it
	// streams them instead), and makes deferred-length uploads use one part
	// size large enough for MaxObjectSize instead of a growing one.
	EqualParts bool

	// ConcurrentPartUploads is how many parts one request uploads at the
	// same time.
	ConcurrentPartUploads int
	// MaxBufferedBytes bounds the bytes held in part buffers across the
	// whole store. Before it reads the bytes of a part, a request reserves
	// room for the whole part (or for as much of it as the body can still
	// bring), waiting in line, first come first served, while it holds no
	// buffer: many uploads at once take turns, each reading and uploading
	// whole parts, instead of storing scraps as tail objects. Memory blocks
	// are taken as bytes arrive, so a reservation costs memory only as it
	// fills. Slow clients cannot keep the others waiting: once a request
	// has waited 2 s, reservations at least that old give back the room
	// their clients would not fill within 2 s at the pace they have shown
	// (a stalled client keeps only the blocks it has bytes in); such a
	// request stores what it holds as a tail object when it needs more
	// room while others wait, and queues again. If the first in line still
	// waits and no bytes came back for 2 s, it takes the whole blocks that
	// are free. With a budget smaller than a part, buffers grow a block at
	// a time and store their bytes as tail objects when it runs out.
	//
	// Parts uploaded from tail objects (after a response, see WriteChunk,
	// or by a request that stored its bytes as tail objects) read those
	// bytes from the tail cache or from S3 and are not counted here; at
	// most ConcurrentPartUploads such parts are in memory at once,
	// store-wide.
	MaxBufferedBytes int64
	// TempDir, if set, makes part buffers temporary files in this directory
	// instead of memory. The files have no name while in use, so nothing is
	// left behind by a crash; files of an earlier process that died between
	// creating and unlinking one are removed by New.
	TempDir string
	// TailCacheBytes bounds the store-wide cache of tail bytes (the bytes of
	// an upload that do not yet fill a part), which spares downloading them
	// again when the next PATCH completes the part. Negative disables it.
	TailCacheBytes int64

	// SingleProcess tells the store that this process is the only one
	// using the bucket's uploads (as with a locker that lives in this
	// process, such as memorylocker). The store then trusts what it knows
	// of an upload it has created, loaded or changed, and a request for it
	// makes no S3 call before writing: a small PATCH is one PutObject. A
	// request that fails, a restart and every upload it has not seen yet
	// still read the truth from S3. Nothing else may change the uploads'
	// multipart uploads either (a bucket lifecycle rule that aborts them,
	// for one: then a PATCH may succeed and the finish fail). With several
	// processes on one bucket, leave it off: each request then lists the
	// upload's parts and tail, and looks for the final object when parts
	// but no tail objects are listed (see "Several processes" in the
	// package documentation for what is guaranteed and what the lock must
	// cover).
	SingleProcess bool

	// DisableContentHashes sends the bodies of parts and tail objects with
	// an unsigned payload: the SDK does not hash them with SHA-256 for the
	// request signature, and the service does not check that hash, which
	// saves CPU on both sides. The CRC32 checksum the SDK sends by default
	// still guards the bytes against corruption, but not against tampering
	// on an unencrypted connection: use it with HTTPS or a trusted network.
	DisableContentHashes bool

	// DisablePartCopy makes concatenation stream the partials instead of
	// copying them on the server with UploadPartCopy. Services without
	// UploadPartCopy are also detected from their NotImplemented answer.
	DisablePartCopy bool

	// CallTimeout bounds each S3 call that moves no upload bytes (reading
	// and writing info objects, listings, deletions, small tail objects,
	// creating and aborting multipart uploads) and, for GetObject, the wait
	// for the response and each wait for more of its body. The SDK's
	// retries count within it. A call that runs out fails with an error
	// wrapping tus.ErrUnavailable, which the handler answers with 503 and
	// Retry-After; the request then ends and its lock is released, and the
	// next request reads the upload's offset from S3. Zero means
	// DefaultCallTimeout; negative, no limit.
	CallTimeout time.Duration
	// PartTimeout bounds each S3 call that moves upload bytes: UploadPart,
	// UploadPartCopy, CompleteMultipartUpload and PutObject of more than
	// 1 MiB. It is the limit for 64 MiB; a call that moves more gets it for
	// every 64 MiB started, so it sets a minimum throughput. Its end is
	// answered as for CallTimeout. Zero means DefaultPartTimeout; negative,
	// no limit.
	PartTimeout time.Duration

	// ObserveCall, if set, is told of every S3 call (for metrics); the
	// store also keeps totals, see Store.CallStats.
	ObserveCall CallObserver

	// Logger receives the store's own log records; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns o with zero fields set to their defaults, or an error
// for settings that cannot work.
func (o Options) withDefaults() (Options, error) {
	if o.Bucket == "" {
		return o, errors.New("s3store: Options.Bucket is required")
	}
	if o.InfoPrefix == "" {
		o.InfoPrefix = o.ObjectPrefix
	}
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MinPartSize, DefaultMinPartSize)
	def(&o.MaxPartSize, DefaultMaxPartSize)
	def(&o.PartSize, DefaultPartSize)
	def(&o.MaxBufferedBytes, DefaultMaxBufferedBytes)
	def(&o.TailCacheBytes, DefaultTailCacheBytes)
	if o.MaxParts == 0 {
		o.MaxParts = DefaultMaxParts
	}
	if o.MaxObjectSize == 0 {
		o.MaxObjectSize = DefaultMaxObjectSize
		if o.MaxPartSize <= DefaultMaxObjectSize/int64(o.MaxParts) {
			o.MaxObjectSize = o.MaxPartSize * int64(o.MaxParts)
		}
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.PartTimeout == 0 {
		o.PartTimeout = DefaultPartTimeout
	}
	if o.ConcurrentPartUploads == 0 {
		o.ConcurrentPartUploads = DefaultConcurrentPartUploads
	}
	switch {
	case o.MinPartSize < 0 || o.MaxPartSize < 0 || o.MaxObjectSize < 0 || o.PartSize < 0 || o.MaxBufferedBytes < 0:
		return o, errors.New("s3store: sizes in Options must not be negative")
	case o.MaxParts < 1 || o.ConcurrentPartUploads < 1:
		return o, errors.New("s3store: MaxParts and ConcurrentPartUploads must be positive")
	case o.MinPartSize > o.MaxPartSize:
		return o, fmt.Errorf("s3store: MinPartSize %d is larger than MaxPartSize %d", o.MinPartSize, o.MaxPartSize)
	case o.MaxPartSize*int64(o.MaxParts)/int64(o.MaxParts) != o.MaxPartSize || o.MaxPartSize*int64(o.MaxParts) < o.MaxObjectSize:
		if o.MaxPartSize > o.MaxObjectSize/int64(o.MaxParts) {
			break // the product overflowed: it is certainly large enough
		}
		return o, fmt.Errorf("s3store: MaxObjectSize %d does not fit in MaxParts %d parts of MaxPartSize %d", o.MaxObjectSize, o.MaxParts, o.MaxPartSize)
	}
	if o.PartSize < o.MinPartSize {
		o.PartSize = o.MinPartSize
	}
	if o.PartSize > o.MaxPartSize {
		o.PartSize = o.MaxPartSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// CallObserver is told of every S3 call the store makes: the operation's
// name (as in the S3 API, for example "UploadPart"), how long it took with
// the SDK's retries, and its error. It must not block.
type CallObserver func(op string, d time.Duration, err error)
