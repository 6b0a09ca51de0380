package tus

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Error is a protocol error: it carries the HTTP status the handler answers
// with, a stable machine-readable code and a one-line message for the client.
//
// Two Errors match with errors.Is when their codes are equal, so a store can
// wrap a sentinel (fmt.Errorf("open: %w", tus.ErrNotFound)) and the handler
// still answers 404.
type Error struct {
	// Status is the HTTP status code of the response.
	Status int
	// Code is a stable identifier such as "ERR_UPLOAD_NOT_FOUND".
	Code string
	// Message is a one-line, human-readable explanation. It is sent to the
	// client and must not contain internals.
	Message string

	// discard makes the error match ErrDiscardChunk (ErrChecksumMismatch).
	discard bool
	// retryAfter is the Retry-After of a 503 or 429 (see WithRetryAfter).
	retryAfter time.Duration
}

// NewError returns a protocol error with the given status, code and message.
func NewError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Error returns the code and the message.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is reports whether target is an *Error with the same code, or
// ErrDiscardChunk for an error that refuses a whole chunk
// (ErrChecksumMismatch).
func (e *Error) Is(target error) bool {
	if target == ErrDiscardChunk {
		return e.discard
	}
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// ErrDiscardChunk is the store contract's signal to keep nothing of a
// chunk. When the reader that Upload.WriteChunk reads fails with an error
// that matches it (errors.Is), the store drops every byte of the chunk and
// returns 0 and that error. The handler's readers fail so for a checksum
// mismatch (ErrChecksumMismatch matches it), for a tus chunk that goes past
// the upload's length or Config.MaxSize, and a wrapping store's reader may
// too (limitedstore, for a chunk far past its limit): see DiscardChunk.
// It is never answered by itself; the response is that of the error it
// comes with.
var ErrDiscardChunk = errors.New("tus: the chunk is refused whole and none of it may be kept")

// DiscardChunk returns an error that matches ErrDiscardChunk and otherwise
// is cause: errors.Is and errors.As see cause, and the handler answers with
// cause's status. A reader handed to a store returns it to refuse a whole
// chunk.
func DiscardChunk(cause error) error { return &discardError{cause: cause} }

// discardError is the error DiscardChunk returns.
type discardError struct{ cause error }

func (e *discardError) Error() string        { return e.cause.Error() }
func (e *discardError) Unwrap() error        { return e.cause }
func (e *discardError) Is(target error) bool { return target == ErrDiscardChunk }

// WithMessage returns a copy of e with another message; the copy still
// matches e with errors.Is.
func (e *Error) WithMessage(message string) *Error {
	c := *e
	c.Message = message
	return &c
}

// WithRetryAfter returns a copy of e that tells the client to retry after d
// (the Retry-After header, in whole seconds, at least 1). It matters for
// 503 and 429 responses, which without it say DefaultRetryAfter.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	c := *e
	c.retryAfter = d
	return &c
}

// DefaultRetryAfter is the Retry-After of a 503 or 429 response whose error
// does not say (WithRetryAfter).
const DefaultRetryAfter = 5 * time.Second

// retryAfterHeader returns the Retry-After value for e, or "" if its status
// takes none.
func (e *Error) retryAfterHeader() string {
	if e.Status != http.StatusServiceUnavailable && e.Status != http.StatusTooManyRequests {
		return ""
	}
	d := e.retryAfter
	if d <= 0 {
		d = DefaultRetryAfter
	}
	return strconv.FormatInt(int64(max(d.Round(time.Second), time.Second)/time.Second), 10)
}

// Sentinel protocol errors. Compare with errors.Is; the handler answers each
// with the status shown.
var (
	// ErrNotFound (404): no upload has this ID.
	ErrNotFound = NewError(http.StatusNotFound, "ERR_UPLOAD_NOT_FOUND", "upload not found")
	// ErrUploadExists (409): a new upload would reuse an existing ID.
	ErrUploadExists = NewError(http.StatusConflict, "ERR_UPLOAD_EXISTS", "an upload with this ID already exists")
	// ErrInvalidID (404): the URL does not name a valid upload ID.
	ErrInvalidID = NewError(http.StatusNotFound, "ERR_INVALID_UPLOAD_ID", "upload not found: invalid upload ID")
	// ErrUnsupportedVersion (412): Tus-Resumable names a version we do not speak.
	ErrUnsupportedVersion = NewError(http.StatusPreconditionFailed, "ERR_UNSUPPORTED_VERSION", "unsupported version: this server speaks tus 1.0.0")
	// ErrMethodNotAllowed (405): the method is not served on this URL.
	ErrMethodNotAllowed = NewError(http.StatusMethodNotAllowed, "ERR_METHOD_NOT_ALLOWED", "method not allowed")
	// ErrInvalidContentType (415): a PATCH without application/offset+octet-stream.
	ErrInvalidContentType = NewError(http.StatusUnsupportedMediaType, "ERR_INVALID_CONTENT_TYPE", "Content-Type must be application/offset+octet-stream")
	// ErrInvalidOffset (400): Upload-Offset is missing or not a non-negative integer.
	ErrInvalidOffset = NewError(http.StatusBadRequest, "ERR_INVALID_OFFSET", "missing or invalid Upload-Offset header")
	// ErrMismatchOffset (409): Upload-Offset differs from the stored offset.
	ErrMismatchOffset = NewError(http.StatusConflict, "ERR_MISMATCHED_OFFSET", "Upload-Offset does not match the upload's current offset")
	// ErrInvalidUploadLength (400): Upload-Length is not a non-negative integer,
	// or is missing, or contradicts Upload-Defer-Length.
	ErrInvalidUploadLength = NewError(http.StatusBadRequest, "ERR_INVALID_UPLOAD_LENGTH", "missing or invalid Upload-Length header")
	// ErrInvalidUploadDeferLength (400): Upload-Defer-Length is present but not 1.
	ErrInvalidUploadDeferLength = NewError(http.StatusBadRequest, "ERR_INVALID_UPLOAD_LENGTH_DEFER", "Upload-Defer-Length must be 1")
	// ErrUploadLengthAlreadySet (400): a PATCH re-declares a known length.
	ErrUploadLengthAlreadySet = NewError(http.StatusBadRequest, "ERR_UPLOAD_LENGTH_ALREADY_SET", "the upload's length is already set and cannot change")
	// ErrInvalidMetadata (400): Upload-Metadata is malformed.
	ErrInvalidMetadata = NewError(http.StatusBadRequest, "ERR_INVALID_METADATA", "invalid Upload-Metadata header")
	// ErrMaxSizeExceeded (413): the upload would exceed the server's Tus-Max-Size.
	ErrMaxSizeExceeded = NewError(http.StatusRequestEntityTooLarge, "ERR_MAX_SIZE_EXCEEDED", "upload exceeds the server's maximum size")
	// ErrSizeExceeded (413): the body would go past the upload's length.
	ErrSizeExceeded = NewError(http.StatusRequestEntityTooLarge, "ERR_UPLOAD_SIZE_EXCEEDED", "request body goes past the upload's length")
	// ErrUploadGone (410): the unfinished upload has expired.
	ErrUploadGone = NewError(http.StatusGone, "ERR_UPLOAD_EXPIRED", "upload has expired")
	// ErrLockTimeout (423): another request holds the upload's lock and did
	// not let go within the acquire timeout. Lock.Lock returns it when its
	// context ends first.
	ErrLockTimeout = NewError(http.StatusLocked, "ERR_LOCK_TIMEOUT", "upload is in use by another request; try again later")
	// ErrLockHeld (423): the upload's lock is held by somebody else.
	// TryLocker.TryLock returns it instead of waiting.
	ErrLockHeld = NewError(http.StatusLocked, "ERR_LOCK_HELD", "upload is in use by another request; try again later")
	// ErrUploadInterrupted (400): a newer request for the same upload took
	// over; the bytes read so far are stored.
	ErrUploadInterrupted = NewError(http.StatusBadRequest, "ERR_UPLOAD_INTERRUPTED", "upload was interrupted by a newer request for the same upload")
	// ErrReadTimeout (408): the client sent nothing within the network timeout;
	// the bytes read so far are stored.
	ErrReadTimeout = NewError(http.StatusRequestTimeout, "ERR_READ_TIMEOUT", "timed out reading the request body")
	// ErrTransferTooSlow (408): the request body arrived slower than
	// Config.MinTransferRate over Config.MinTransferRateWindow; the bytes
	// read so far are stored and the upload can be resumed.
	ErrTransferTooSlow = NewError(http.StatusRequestTimeout, "ERR_TRANSFER_TOO_SLOW", "the request body arrived slower than the server's minimum transfer rate; the bytes received are stored")
	// ErrServerShutdown (503): the server is shutting down (Handler.Shutdown):
	// an upload in progress was stopped, its bytes stored (resume at the
	// response's Upload-Offset, here or on another server), or a new upload
	// request was refused. It carries Retry-After: 1.
	ErrServerShutdown = &Error{Status: http.StatusServiceUnavailable, Code: "ERR_SERVER_SHUTDOWN",
		Message: "the server is shutting down; the bytes received are stored: resume at Upload-Offset", retryAfter: time.Second}
	// ErrBodyRead (400): the request body broke off; the bytes received
	// before are stored.
	ErrBodyRead = NewError(http.StatusBadRequest, "ERR_READ_BODY", "the request body broke off; the bytes received before are stored")
	// ErrUploadStopped (400): the server stopped the upload on purpose
	// (Event.StopUpload); the upload is terminated if the store supports it.
	ErrUploadStopped = NewError(http.StatusBadRequest, "ERR_UPLOAD_STOPPED", "upload was stopped by the server")
	// ErrChecksumMismatch (460): the chunk's checksum did not match; the chunk
	// was not stored. It matches ErrDiscardChunk.
	ErrChecksumMismatch = &Error{Status: 460, Code: "ERR_CHECKSUM_MISMATCH", Message: "checksum mismatch: the chunk was not stored", discard: true}
	// ErrUnsupportedChecksumAlgorithm (400): Upload-Checksum names an algorithm
	// we do not support.
	ErrUnsupportedChecksumAlgorithm = NewError(http.StatusBadRequest, "ERR_UNSUPPORTED_CHECKSUM_ALGORITHM", "unsupported checksum algorithm")
	// ErrInvalidChecksum (400): Upload-Checksum is malformed.
	ErrInvalidChecksum = NewError(http.StatusBadRequest, "ERR_INVALID_CHECKSUM", "invalid Upload-Checksum header")
	// ErrInvalidConcat (400): Upload-Concat is malformed or names unusable uploads.
	ErrInvalidConcat = NewError(http.StatusBadRequest, "ERR_INVALID_CONCAT", "invalid Upload-Concat header")
	// ErrModifyFinal (403): PATCH against a final upload.
	ErrModifyFinal = NewError(http.StatusForbidden, "ERR_MODIFY_FINAL", "a final upload cannot be modified")
	// ErrUploadNotFinished (409): GET of an upload that has not received all bytes.
	ErrUploadNotFinished = NewError(http.StatusConflict, "ERR_UPLOAD_NOT_FINISHED", "upload is not finished; it can be downloaded once every byte has arrived")
	// ErrNotImplemented (501): the store does not support what was asked.
	ErrNotImplemented = NewError(http.StatusNotImplemented, "ERR_NOT_IMPLEMENTED", "not supported by this server")
	// ErrAccessDenied (403): the access callback refused the request.
	ErrAccessDenied = NewError(http.StatusForbidden, "ERR_ACCESS_DENIED", "access denied")
	// ErrUnavailable (503): a service the upload depends on (its storage,
	// the locker) did not answer in time or refused for now; the request
	// changed nothing it did not report, and the client may retry after
	// the response's Retry-After. Stores and lockers wrap it.
	ErrUnavailable = NewError(http.StatusServiceUnavailable, "ERR_SERVICE_UNAVAILABLE", "a service this upload depends on is unavailable; try again later")
	// ErrInsufficientStorage (507): the storage is full (a disk with no
	// space left). Stores wrap it; the bytes a chunk stored before are kept
	// and counted, and the response says the offset.
	ErrInsufficientStorage = NewError(http.StatusInsufficientStorage, "ERR_INSUFFICIENT_STORAGE", "insufficient storage: the server has no room for more bytes now")
	// ErrCorruptUpload (500): the upload's record in the store is damaged
	// (truncated, unreadable or inconsistent). Stores return it from
	// GetInfo, with the cause for the log; the upload can still be
	// terminated (DELETE, or TerminateUpload), which removes what is left.
	ErrCorruptUpload = NewError(http.StatusInternalServerError, "ERR_UPLOAD_CORRUPT", "the upload's record is damaged; it can only be deleted")
	// ErrInternal (500): anything unexpected. The client sees only this
	// message and a request ID; the cause is logged.
	ErrInternal = NewError(http.StatusInternalServerError, "ERR_INTERNAL_SERVER_ERROR", "internal server error")
)

// asError returns the protocol error that err is or wraps, or nil.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
