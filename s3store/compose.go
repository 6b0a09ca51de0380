package s3store

import (
	"context"
	"fmt"
	"net/http"

	"github.com/tusgo/tus"
)

// The store's parts of a tus.StoreComposer: each turns an upload of this
// store into one of its capabilities. An upload of another store gets a
// value whose methods fail (and which reports itself finished), never a
// panic.

// AsTerminatableUpload returns up for termination.
func (s *Store) AsTerminatableUpload(up tus.Upload) tus.TerminatableUpload {
	if u, ok := own(up); ok {
		return u
	}
	return foreignUpload{up}
}

// AsConcatableUpload returns up for concatenation.
func (s *Store) AsConcatableUpload(up tus.Upload) tus.ConcatableUpload {
	if u, ok := own(up); ok {
		return u
	}
	return foreignUpload{up}
}

// AsLengthDeclarableUpload returns up for declaring its length.
func (s *Store) AsLengthDeclarableUpload(up tus.Upload) tus.LengthDeclarableUpload {
	if u, ok := own(up); ok {
		return u
	}
	return foreignUpload{up}
}

// AsServableUpload returns up for downloads.
func (s *Store) AsServableUpload(up tus.Upload) tus.ServableUpload {
	if u, ok := own(up); ok {
		return u
	}
	return foreignUpload{up}
}

// AsFinishReporter returns up for telling whether its multipart upload was
// completed (see finish.go).
func (s *Store) AsFinishReporter(up tus.Upload) tus.FinishReporter {
	if u, ok := own(up); ok {
		return u
	}
	return foreignUpload{up}
}

// own returns up as an upload of this package.
func own(up tus.Upload) (*upload, bool) {
	u, ok := up.(*upload)
	return u, ok && u != nil
}

// foreignUpload stands for an upload that does not belong to an s3store;
// every method fails.
type foreignUpload struct{ up tus.Upload }

func (f foreignUpload) err() error {
	return fmt.Errorf("s3store: upload of type %T does not belong to an s3store: %w", f.up, tus.ErrNotImplemented)
}

func (f foreignUpload) Terminate(context.Context) error                   { return f.err() }
func (f foreignUpload) ConcatUploads(context.Context, []tus.Upload) error { return f.err() }
func (f foreignUpload) DeclareLength(context.Context, int64) error        { return f.err() }
func (f foreignUpload) Finished() bool                                    { return true }
func (f foreignUpload) ServeContent(context.Context, http.ResponseWriter, *http.Request) error {
	return f.err()
}

// Interface checks.
var (
	_ tus.DataStore               = (*Store)(nil)
	_ tus.TerminaterDataStore     = (*Store)(nil)
	_ tus.ConcaterDataStore       = (*Store)(nil)
	_ tus.LengthDeferrerDataStore = (*Store)(nil)
	_ tus.ContentServerDataStore  = (*Store)(nil)
	_ tus.FinishReporterDataStore = (*Store)(nil)
)
