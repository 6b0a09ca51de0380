package s3store

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/tusgo/tus"
)

// The store's parts of a tus.StoreComposer: each turns an upload of this
// store into one of its capabilities. An upload of another store gets a
// value whose methods fail (and which reports itself finished), never a
// panic.

// AsTerminatableUpload returns up for termination.
func (s *Store) AsTerminatableUpload(up tus.Upload) tus.TerminatableUpload {
	return as[tus.TerminatableUpload](up)
}

// AsConcatableUpload returns up for concatenation.
func (s *Store) AsConcatableUpload(up tus.Upload) tus.ConcatableUpload {
	return as[tus.ConcatableUpload](up)
}

// AsLengthDeclarableUpload returns up for declaring its length.
func (s *Store) AsLengthDeclarableUpload(up tus.Upload) tus.LengthDeclarableUpload {
	return as[tus.LengthDeclarableUpload](up)
}

// AsServableUpload returns up for downloads.
func (s *Store) AsServableUpload(up tus.Upload) tus.ServableUpload {
	return as[tus.ServableUpload](up)
}

// AsFinishReporter returns up for telling whether its multipart upload was
// completed (see finish.go).
func (s *Store) AsFinishReporter(up tus.Upload) tus.FinishReporter {
	return as[tus.FinishReporter](up)
}

// AsExtendableUpload returns up for moving its expiry (see expiry.go).
func (s *Store) AsExtendableUpload(up tus.Upload) tus.ExtendableUpload {
	return as[tus.ExtendableUpload](up)
}

// as returns up, an upload of this store, as capability C, or for any
// other upload a foreignUpload, which implements every capability.
func as[C any](up tus.Upload) C {
	if u, ok := up.(*upload); ok && u != nil {
		return any(u).(C)
	}
	return any(foreignUpload{up}).(C)
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
func (f foreignUpload) ExtendExpiry(context.Context, time.Time) error     { return f.err() }
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
	_ tus.ExtenderDataStore       = (*Store)(nil)
	_ tus.UploadLister            = (*Store)(nil)
	_ tus.LeftoverRemover         = (*Store)(nil)
	_ tus.UsageReporter           = (*Store)(nil)

	_ capabilities = (*upload)(nil)
	_ capabilities = foreignUpload{}
)

// capabilities are what as converts to: both of its types must have them.
type capabilities interface {
	tus.TerminatableUpload
	tus.ConcatableUpload
	tus.LengthDeclarableUpload
	tus.ServableUpload
	tus.FinishReporter
	tus.ExtendableUpload
}
