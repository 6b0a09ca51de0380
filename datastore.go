package tus

import (
	"context"
	"io"
	"net/http"
	"time"
)

// FileInfo describes one upload: its identity, its length and how far it has
// progressed. Stores persist everything but Offset, which they derive from the
// bytes they actually hold, so the offset can never claim more than was kept.
type FileInfo struct {
	// ID identifies the upload; it is the last segment of the upload URL.
	ID string `json:"ID"`
	// Size is the upload's total length in bytes once it is known. While
	// SizeIsDeferred is true it is 0.
	Size int64 `json:"Size"`
	// SizeIsDeferred is true while the length is not declared yet
	// (creation-defer-length, or an IETF upload its client has not
	// completed).
	SizeIsDeferred bool `json:"SizeIsDeferred"`
	// AnnouncedSize is a length the client announced but has not made
	// final, else 0. Only IETF uploads have one: from draft -05 on, an
	// upload created with Upload-Length and Upload-Complete: ?0 stays
	// incomplete, even once its offset reaches that length, until the
	// client completes it. The handler holds the content to AnnouncedSize
	// and declares it (DeclareLength) when the client completes the
	// upload. It is set only while SizeIsDeferred is true; stores keep it
	// as given and clear it when the length is declared.
	AnnouncedSize int64 `json:"AnnouncedSize,omitempty"`
	// Offset is the number of bytes the store holds.
	Offset int64 `json:"Offset"`
	// MetaData holds the decoded Upload-Metadata pairs exactly as sent.
	MetaData MetaData `json:"MetaData"`
	// IsPartial marks a partial upload of the concatenation extension.
	IsPartial bool `json:"IsPartial"`
	// IsFinal marks a final upload: the concatenation of PartialUploads.
	IsFinal bool `json:"IsFinal"`
	// PartialUploads lists, in order, the IDs a final upload is made of. An
	// ID may appear more than once.
	PartialUploads []string `json:"PartialUploads,omitempty"`
	// ExpiresAt is when an unfinished upload expires; zero means never.
	ExpiresAt time.Time `json:"ExpiresAt,omitzero"`
	// Storage describes where the store keeps the upload (for example a path
	// or a bucket and key). It is informational and set by the store.
	Storage map[string]string `json:"Storage,omitempty"`
}

// IsComplete reports whether every byte of the upload has arrived.
func (fi FileInfo) IsComplete() bool {
	return !fi.SizeIsDeferred && fi.Offset >= fi.Size
}

// IsExpired reports whether the upload is unfinished and past its expiry.
func (fi FileInfo) IsExpired(now time.Time) bool {
	return !fi.ExpiresAt.IsZero() && !fi.IsComplete() && now.After(fi.ExpiresAt)
}

// MetaData holds the key-value pairs of the Upload-Metadata header.
type MetaData map[string]string

// DataStore is the core storage a backend implements: it creates uploads and
// finds them again by ID.
//
// The handler validates IDs before a store sees them: an ID is 1 to 128 bytes
// of ASCII letters, digits, '-' and '_'.
type DataStore interface {
	// NewUpload creates an upload described by info (ID, Size,
	// SizeIsDeferred, MetaData, concatenation fields and ExpiresAt are set;
	// Offset is zero). It fails with an error wrapping ErrUploadExists if the
	// ID is taken.
	NewUpload(ctx context.Context, info FileInfo) (Upload, error)
	// GetUpload returns the upload with the given ID, or an error wrapping
	// ErrNotFound. An upload whose record is damaged is still returned if
	// its ID exists: its GetInfo fails with an error wrapping
	// ErrCorruptUpload, and terminating it removes whatever is left.
	GetUpload(ctx context.Context, id string) (Upload, error)
}

// RemainingReader is a reader that knows the most bytes it can still return:
// the reader the handler gives Upload.WriteChunk is one. Remaining is a
// bound, not a promise: the body may end early or break off, and a store
// must still read to io.EOF or an error. A wrapper of a RemainingReader
// should forward Remaining.
type RemainingReader interface {
	io.Reader
	// Remaining returns the most bytes later Reads return, or -1 if the
	// reader does not know (a body of unknown length, and an upload whose
	// length is deferred).
	Remaining() int64
}

// Upload is one upload inside a DataStore. An Upload value is used by one
// request at a time; the handler serialises writers with a Locker.
type Upload interface {
	// GetInfo returns the upload's current state. Offset is the number of
	// bytes stored.
	GetInfo(ctx context.Context) (FileInfo, error)
	// WriteChunk appends the bytes of src at offset, which the handler has
	// checked equals the current offset, and returns how many it stored.
	//
	// It reads src until io.EOF or an error. Bytes read before a read error
	// are kept and counted in the returned length (the client resumes from
	// there), with one exception: if the error matches ErrDiscardChunk
	// (errors.Is), the chunk is refused whole and none of its bytes may be
	// kept; WriteChunk then returns 0 and that error.
	//
	// The handler's src implements RemainingReader, which a store may use
	// to size its buffers.
	WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error)
	// FinishUpload is called once every byte has been written. When it
	// returns, the upload's bytes are durable and complete.
	FinishUpload(ctx context.Context) error
}

// Optional capabilities. Each is a part of a StoreComposer, registered by
// the store's UseIn, and the handler finds a capability only there: a part
// turns an Upload of the composer's core store into the capability
// (AsTerminatableUpload and the like), or is the capability itself
// (UsageReporter). A store that wraps another composition embeds
// StoreWrapper, which forwards every part the wrapper does not override.

// TerminaterDataStore is implemented by stores that can delete uploads
// (the termination extension).
type TerminaterDataStore interface {
	AsTerminatableUpload(upload Upload) TerminatableUpload
}

// TerminatableUpload is an upload that can be deleted.
type TerminatableUpload interface {
	// Terminate removes every byte and every record of the upload. A later
	// GetUpload fails with ErrNotFound.
	Terminate(ctx context.Context) error
}

// ConcaterDataStore is implemented by stores that can concatenate finished
// partial uploads into a final upload (the concatenation extension).
type ConcaterDataStore interface {
	AsConcatableUpload(upload Upload) ConcatableUpload
}

// ConcatableUpload is a final upload that can be filled from partial uploads.
type ConcatableUpload interface {
	// ConcatUploads writes the bytes of partials, in order, into the final
	// upload, whose Size is their sum. Every partial is complete. The same
	// upload may appear more than once in partials (as separate values),
	// and a partial may be used by several final uploads: the partials are
	// only read. When it returns nil, the final upload's offset equals its
	// size.
	ConcatUploads(ctx context.Context, partials []Upload) error
}

// LengthDeferrerDataStore is implemented by stores that accept uploads whose
// length is declared after creation (creation-defer-length).
type LengthDeferrerDataStore interface {
	AsLengthDeclarableUpload(upload Upload) LengthDeclarableUpload
}

// LengthDeclarableUpload is an upload whose length can be declared once.
type LengthDeclarableUpload interface {
	// DeclareLength records the upload's final length: afterwards GetInfo
	// reports Size = length, SizeIsDeferred false and AnnouncedSize 0. The
	// handler calls it at most once, with a length no smaller than the
	// current offset.
	DeclareLength(ctx context.Context, length int64) error
}

// ContentServerDataStore is implemented by stores that can serve the bytes of
// a finished upload (GET requests).
type ContentServerDataStore interface {
	AsServableUpload(upload Upload) ServableUpload
}

// ServableUpload is an upload whose content can be served over HTTP.
type ServableUpload interface {
	// ServeContent writes the upload's bytes to w, honouring Range and
	// conditional headers of r. The handler has already set Content-Type,
	// Content-Disposition and the security headers; the store sets the
	// status, Content-Length, Content-Range, ETag and Last-Modified as it can.
	ServeContent(ctx context.Context, w http.ResponseWriter, r *http.Request) error
}

// FinishReporterDataStore is implemented by stores whose finish does work
// that can fail after the last byte is stored (completing an S3 multipart
// upload, for one), and that can tell afterwards whether it succeeded.
// When a complete upload reports that it is not finished, the next request
// that holds its lock (HEAD or PATCH) finishes it, also after a restart of
// the server. Without one, the handler remembers failed finishes in the
// process.
type FinishReporterDataStore interface {
	AsFinishReporter(upload Upload) FinishReporter
}

// FinishReporter tells whether an upload's FinishUpload has succeeded.
type FinishReporter interface {
	// Finished reports whether FinishUpload has succeeded.
	Finished() bool
}

// UsageReporter is implemented by stores that can tell how much space their
// existing uploads take up, so that a limit on the store's size
// (limitedstore) counts them from the start.
type UsageReporter interface {
	// Usage returns the bytes the store's existing uploads count: the Size of
	// every upload whose length is known and the bytes held by every upload
	// whose length is deferred.
	Usage(ctx context.Context) (int64, error)
}

// UploadLister is implemented by stores that can enumerate their uploads,
// so that expired uploads can be found and removed (Handler.SweepExpired)
// and a size limit can count what a store already holds.
type UploadLister interface {
	// ListUploads calls fn once for each upload the store holds, in no
	// particular order, and stops at the first error fn returns, which it
	// returns. It streams: its memory does not grow with the number of
	// uploads. An upload created or removed while the listing runs may or
	// may not be reported; one that exists throughout is reported exactly
	// once. An upload whose record is damaged is reported with the zero
	// ExpiresAt and Finished false: it never expires by itself.
	ListUploads(ctx context.Context, fn func(ListedUpload) error) error
}

// ListedUpload is one upload reported by UploadLister.
type ListedUpload struct {
	// ID is the upload's ID.
	ID string
	// Finished is true for an upload whose every byte has arrived and
	// whose FinishUpload succeeded. A finished upload never expires.
	Finished bool
	// ExpiresAt is the expiry in the upload's record (FileInfo.ExpiresAt)
	// for an unfinished upload; zero means never. A store may leave it
	// zero for a finished upload.
	ExpiresAt time.Time
}

// LeftoverRemover is implemented by stores that can find and remove what a
// crash left behind: storage that belongs to no upload record (an S3
// multipart upload or tail object whose upload has no info object, a data
// file without its info file), which no request can reach or terminate.
type LeftoverRemover interface {
	// RemoveLeftovers removes every leftover created or last changed
	// before cutoff and returns how many it removed. It never touches an
	// upload whose record exists, nor anything outside the store's own
	// prefix or directory. The caller chooses cutoff so that an upload
	// being created (storage written, record not yet) is younger.
	RemoveLeftovers(ctx context.Context, cutoff time.Time) (int, error)
}

// ExtenderDataStore is implemented by stores that can move an upload's
// expiry (sliding expiration: Config.ExpirationSliding).
type ExtenderDataStore interface {
	AsExtendableUpload(upload Upload) ExtendableUpload
}

// ExtendableUpload is an upload whose expiry can be moved.
type ExtendableUpload interface {
	// ExtendExpiry records expiresAt as the upload's FileInfo.ExpiresAt.
	// The caller holds the upload's lock.
	ExtendExpiry(ctx context.Context, expiresAt time.Time) error
}

// Locker hands out exclusive locks on upload IDs. Every request that changes
// an upload holds its lock for the whole request.
//
// Besides upload IDs, the handler locks names of its own, which are '~'
// followed by a valid ID (the expiry sweep's "~expiry-sweep"), so that they
// never name an upload; a Locker must accept them too.
type Locker interface {
	// NewLock returns a lock for id. It does not acquire it.
	NewLock(id string) (Lock, error)
}

// Lock is an exclusive lock on one upload.
type Lock interface {
	// Lock acquires the lock, waiting until ctx is done. If another holder
	// has the lock, the locker asks it to let go by calling the release
	// function that holder passed to its own Lock call.
	//
	// releaseRequested is called (at most once, from any goroutine) when a
	// later request wants this lock; the holder should then finish quickly
	// and call Unlock. It must not block.
	//
	// Lock fails with an error wrapping ErrLockTimeout when ctx ends first.
	Lock(ctx context.Context, releaseRequested func()) error
	// Unlock releases the lock.
	Unlock() error
}

// TryLocker is implemented by a Lock that can be acquired without
// disturbing a holder. The expiry sweep (Handler.SweepExpired) needs it:
// it must skip an upload a request is using rather than interrupt it.
type TryLocker interface {
	// TryLock acquires the lock if nobody holds it. If somebody does, it
	// fails at once with an error wrapping ErrLockHeld and does not ask
	// the holder to let go. ctx bounds the attempt (a remote locker's
	// call).
	TryLock(ctx context.Context) error
}
