package filestore

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/tusgo/tus"
)

// kindError gives an error of the store the protocol error the handler
// answers it with, without changing its message: errors.Is and errors.As
// find kind first and then the cause, and Error returns the cause's text,
// so the log shows what failed and the client sees kind's message.
type kindError struct {
	kind  *tus.Error
	cause error
}

func (e *kindError) Error() string   { return e.cause.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.cause} }

// noSpace returns err wrapping tus.ErrInsufficientStorage (507) if it comes
// from a full disk or an exhausted quota (ENOSPC, EDQUOT), and err
// otherwise; nil stays nil. Every method of the store passes the errors it
// returns through it, so a full disk is reported as such wherever it is hit:
// creating the files of an upload, writing a chunk, writing or renaming an
// info file, an fsync, or a concatenation.
func noSpace(err error) error {
	if err == nil || errors.Is(err, tus.ErrInsufficientStorage) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return &kindError{kind: tus.ErrInsufficientStorage, cause: err}
	}
	return err
}

// corruptError returns the error of a damaged upload record: it wraps
// tus.ErrCorruptUpload and cause, what is wrong with file.
func corruptError(file string, cause error) error {
	return &kindError{
		kind:  tus.ErrCorruptUpload,
		cause: fmt.Errorf("corrupt upload record: %s: %w", file, cause),
	}
}

// fsync forces f to stable storage: its data and the metadata needed to
// read it (fdatasync) if dataOnly is set, everything (fsync) otherwise.
// Tests replace it to simulate a disk that fails to flush.
var fsync = func(f *os.File, dataOnly bool) error {
	if dataOnly {
		return datasync(f)
	}
	return f.Sync()
}

// checkInfo reports what is wrong with info, read from the info file of
// upload id, or nil if it is a record this store could have written. A
// deferred length with a Size and no AnnouncedSize is accepted: it is how
// records from before FileInfo.AnnouncedSize keep a length an IETF client
// announced, and the handler reads it so.
func checkInfo(id string, info tus.FileInfo) error {
	switch {
	case !tus.ValidID(info.ID):
		return fmt.Errorf("invalid upload ID %s", shownID(info.ID))
	case info.ID != id:
		return fmt.Errorf("it describes upload %s", shownID(info.ID))
	case info.Size < 0:
		return fmt.Errorf("negative Size %d", info.Size)
	case info.AnnouncedSize < 0:
		return fmt.Errorf("negative AnnouncedSize %d", info.AnnouncedSize)
	case info.Offset < 0:
		// The store writes 0 and derives the offset from the data file;
		// a negative value was put there by something else.
		return fmt.Errorf("negative Offset %d", info.Offset)
	case info.AnnouncedSize > 0 && !info.SizeIsDeferred:
		return fmt.Errorf("AnnouncedSize %d but the length is not deferred", info.AnnouncedSize)
	case info.AnnouncedSize > 0 && info.Size > 0:
		return fmt.Errorf("both Size %d and AnnouncedSize %d for a deferred length", info.Size, info.AnnouncedSize)
	case info.IsPartial && info.IsFinal:
		return errors.New("both IsPartial and IsFinal")
	case len(info.PartialUploads) > tus.MaxPartialUploads:
		return fmt.Errorf("%d PartialUploads, more than %d", len(info.PartialUploads), tus.MaxPartialUploads)
	}
	for i, p := range info.PartialUploads {
		if !tus.ValidID(p) {
			return fmt.Errorf("PartialUploads[%d] is an invalid upload ID %s", i, shownID(p))
		}
		if p == id {
			return fmt.Errorf("PartialUploads[%d] is the upload itself", i)
		}
	}
	return nil
}

// lengthLimit returns the most bytes the data file of info may hold: the
// length if it is known, else the announced length (also in its legacy
// form, see checkInfo), else -1 for no limit.
func lengthLimit(info tus.FileInfo) int64 {
	switch {
	case !info.SizeIsDeferred:
		return info.Size
	case info.AnnouncedSize > 0:
		return info.AnnouncedSize
	case info.Size > 0:
		return info.Size
	}
	return -1
}
