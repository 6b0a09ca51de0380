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
	// Size is the total length in bytes. While SizeIsDeferred is true it is
	// 0, or the length an IETF client announced for an upload it has not
	// completed (the drafts from -05 on keep such an upload incomplete
	// until the client says it is complete, even when its offset reaches
	// the length): the handler holds the content to it and declares it
	// when the client completes the upload. Stores keep it as given.
	Size int64 `json:"Size"`
	// SizeIsDeferred is true while the client has not yet declared the length
	// (creation-defer-length).
	SizeIsDeferred bool `json:"SizeIsDeferred"`
	// Offset is the number of bytes the store holds.
	Offset int64 `json:"Offset"`
	// MetaData holds the decoded Upload-Metadata pairs exactly as sent.
	MetaData MetaData `json:"MetaData"`
	// IsPartial marks a partial upload of the concatenation extension.
	IsPartial bool `json:"IsPartial"`
	// IsFinal marks a final upload: the concatenation of PartialUploads.
	IsFinal bool `json:"IsFinal"`
	// PartialUploads lists, in order, the IDs a final upload is made of.
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
	// ErrNotFound.
	GetUpload(ctx context.Context, id string) (Upload, error)
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
	// there), with one exception: if the error wraps ErrChecksumMismatch, the
	// chunk is rejected and none of its bytes may be kept; WriteChunk then
	// returns 0 and that error.
	WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error)
	// FinishUpload is called once every byte has been written. When it
	// returns, the upload's bytes are durable and complete.
	FinishUpload(ctx context.Context) error
}

// FinishReporter is implemented by uploads that know whether FinishUpload
// has succeeded: stores whose finish does work that can fail after the last
// byte is stored (completing an S3 multipart upload, for one). When a
// complete upload reports false, the next request that holds its lock (HEAD
// or PATCH) finishes it, also after a restart of the server.
type FinishReporter interface {
	// Finished reports whether FinishUpload has succeeded.
	Finished() bool
}

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
	// upload, whose Size is their sum. Every partial is complete. When it
	// returns nil, the final upload's offset equals its size.
	ConcatUploads(ctx context.Context, partials []Upload) error
}

// LengthDeferrerDataStore is implemented by stores that accept uploads whose
// length is declared after creation (creation-defer-length).
type LengthDeferrerDataStore interface {
	AsLengthDeclarableUpload(upload Upload) LengthDeclarableUpload
}

// LengthDeclarableUpload is an upload whose length can be declared once.
type LengthDeclarableUpload interface {
	// DeclareLength records the upload's final length. The handler calls it
	// at most once, with a length no smaller than the current offset.
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

// Locker hands out exclusive locks on upload IDs. Every request that changes
// an upload holds its lock for the whole request.
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
