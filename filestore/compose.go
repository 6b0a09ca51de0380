package filestore

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/tusgo/tus"
)

// AsTerminatableUpload returns up as a tus.TerminatableUpload. up must come
// from a FileStore; for any other value the result's Terminate fails.
func (s *FileStore) AsTerminatableUpload(up tus.Upload) tus.TerminatableUpload {
	if u, ok := up.(*upload); ok && u != nil {
		return u
	}
	return foreignUpload{up}
}

// AsConcatableUpload returns up as a tus.ConcatableUpload. up must come from
// a FileStore; for any other value the result's ConcatUploads fails.
func (s *FileStore) AsConcatableUpload(up tus.Upload) tus.ConcatableUpload {
	if u, ok := up.(*upload); ok && u != nil {
		return u
	}
	return foreignUpload{up}
}

// AsLengthDeclarableUpload returns up as a tus.LengthDeclarableUpload. up
// must come from a FileStore; for any other value the result's
// DeclareLength fails.
func (s *FileStore) AsLengthDeclarableUpload(up tus.Upload) tus.LengthDeclarableUpload {
	if u, ok := up.(*upload); ok && u != nil {
		return u
	}
	return foreignUpload{up}
}

// AsServableUpload returns up as a tus.ServableUpload. up must come from a
// FileStore; for any other value the result's ServeContent fails without
// writing anything.
func (s *FileStore) AsServableUpload(up tus.Upload) tus.ServableUpload {
	if u, ok := up.(*upload); ok && u != nil {
		return u
	}
	return foreignUpload{up}
}

// AsExtendableUpload returns up as a tus.ExtendableUpload. up must come
// from a FileStore; for any other value the result's ExtendExpiry fails.
func (s *FileStore) AsExtendableUpload(up tus.Upload) tus.ExtendableUpload {
	if u, ok := up.(*upload); ok && u != nil {
		return u
	}
	return foreignUpload{up}
}

// foreignUpload stands for an upload that does not belong to a FileStore;
// every method fails.
type foreignUpload struct{ up tus.Upload }

func (f foreignUpload) err() error {
	return fmt.Errorf("filestore: upload of type %T does not belong to a FileStore", f.up)
}

func (f foreignUpload) Terminate(context.Context) error { return f.err() }

func (f foreignUpload) ConcatUploads(context.Context, []tus.Upload) error { return f.err() }

func (f foreignUpload) DeclareLength(context.Context, int64) error { return f.err() }

func (f foreignUpload) ExtendExpiry(context.Context, time.Time) error { return f.err() }

func (f foreignUpload) ServeContent(context.Context, http.ResponseWriter, *http.Request) error {
	return f.err()
}

// Interface checks.
var (
	_ tus.DataStore               = (*FileStore)(nil)
	_ tus.TerminaterDataStore     = (*FileStore)(nil)
	_ tus.ConcaterDataStore       = (*FileStore)(nil)
	_ tus.LengthDeferrerDataStore = (*FileStore)(nil)
	_ tus.ContentServerDataStore  = (*FileStore)(nil)
	_ tus.Upload                  = (*upload)(nil)
	_ tus.TerminatableUpload      = (*upload)(nil)
	_ tus.ConcatableUpload        = (*upload)(nil)
	_ tus.LengthDeclarableUpload  = (*upload)(nil)
	_ tus.ServableUpload          = (*upload)(nil)
)
