package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tusgo/tus"
)

// Store keeps uploads in memory. Its zero value is not ready: use New. It
// is safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	uploads map[string]*record
}

// record is what the store holds of one upload.
type record struct {
	info     tus.FileInfo // Offset is always len(data)
	data     []byte
	finished bool // FinishUpload succeeded
	modTime  time.Time
}

// New returns an empty store.
func New() *Store { return &Store{uploads: map[string]*record{}} }

// UseIn registers the store in c as its core and as every optional part it
// implements: termination, concatenation, deferred lengths, downloads,
// usage reports, listing and expiry extension. The locker is left to the
// caller.
func (s *Store) UseIn(c *tus.StoreComposer) {
	c.UseCore(s)
	c.UseTerminater(s)
	c.UseConcater(s)
	c.UseLengthDeferrer(s)
	c.UseContentServer(s)
	c.UseUsageReporter(s)
	c.UseLister(s)
	c.UseExtender(s)
}

// IDs returns the IDs of every upload the store holds, sorted: a test can
// see what is left after terminations.
func (s *Store) IDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.uploads))
	for id := range s.uploads {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// NewUpload creates an empty upload described by info, or fails with an
// error wrapping tus.ErrUploadExists if its ID is taken.
func (s *Store) NewUpload(_ context.Context, info tus.FileInfo) (tus.Upload, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.uploads[info.ID]; ok {
		return nil, fmt.Errorf("memstore: upload %s: %w", info.ID, tus.ErrUploadExists)
	}
	info.Offset = 0
	info.MetaData = cloneMeta(info.MetaData)
	info.PartialUploads = slices.Clone(info.PartialUploads)
	info.Storage = map[string]string{"Type": "memstore"}
	s.uploads[info.ID] = &record{info: info, modTime: time.Now()}
	return &upload{store: s, id: info.ID}, nil
}

// GetUpload returns upload id, or an error wrapping tus.ErrNotFound.
func (s *Store) GetUpload(_ context.Context, id string) (tus.Upload, error) {
	if _, err := s.record(id); err != nil {
		return nil, err
	}
	return &upload{store: s, id: id}, nil
}

// record returns the record of id, taking s.mu.
func (s *Store) record(id string) (*record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recordLocked(id)
}

// recordLocked returns the record of id; the caller holds s.mu.
func (s *Store) recordLocked(id string) (*record, error) {
	r, ok := s.uploads[id]
	if !ok {
		return nil, fmt.Errorf("memstore: upload %s: %w", id, tus.ErrNotFound)
	}
	return r, nil
}

// upload is a handle on one upload of a Store, by ID: an upload terminated
// meanwhile is not found.
type upload struct {
	store *Store
	id    string
}

// GetInfo returns the upload's state; Offset is the number of bytes held.
func (u *upload) GetInfo(context.Context) (tus.FileInfo, error) {
	u.store.mu.Lock()
	defer u.store.mu.Unlock()
	r, err := u.store.recordLocked(u.id)
	if err != nil {
		return tus.FileInfo{}, err
	}
	info := r.info
	info.Offset = int64(len(r.data))
	info.MetaData = cloneMeta(info.MetaData)
	info.PartialUploads = slices.Clone(info.PartialUploads)
	info.Storage = map[string]string{"Type": "memstore"}
	return info, nil
}

// WriteChunk appends what it reads from src, each read as it comes, so
// that GetInfo counts the bytes taken so far while the chunk is still
// arriving (the handler answers a monitoring HEAD and announces progress
// from that). The bytes read before a read error are kept and counted,
// unless the error matches tus.ErrDiscardChunk: then the chunk is taken
// back whole.
func (u *upload) WriteChunk(_ context.Context, offset int64, src io.Reader) (int64, error) {
	u.store.mu.Lock()
	r, err := u.store.recordLocked(u.id)
	if err == nil && offset != int64(len(r.data)) {
		err = fmt.Errorf("memstore: upload %s: write at %d, but it holds %d bytes: %w", u.id, offset, len(r.data), tus.ErrMismatchOffset)
	}
	u.store.mu.Unlock()
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 32<<10)
	var n int64
	for {
		m, readErr := src.Read(buf)
		if m > 0 {
			u.store.mu.Lock()
			r.data = append(r.data, buf[:m]...)
			r.modTime = time.Now()
			u.store.mu.Unlock()
			n += int64(m)
		}
		switch {
		case readErr == io.EOF:
			return n, nil
		case errors.Is(readErr, tus.ErrDiscardChunk):
			u.store.mu.Lock()
			// A full slice expression: later appends get a new array, so
			// bytes a download already took never change under it.
			r.data = r.data[:offset:offset]
			u.store.mu.Unlock()
			return 0, readErr
		case readErr != nil:
			return n, fmt.Errorf("memstore: upload %s: reading the chunk: %w", u.id, readErr)
		}
	}
}

// FinishUpload marks the complete upload finished.
func (u *upload) FinishUpload(context.Context) error {
	u.store.mu.Lock()
	defer u.store.mu.Unlock()
	r, err := u.store.recordLocked(u.id)
	if err != nil {
		return err
	}
	r.finished = true
	return nil
}

// AsTerminatableUpload returns up as an upload that can be deleted.
func (s *Store) AsTerminatableUpload(up tus.Upload) tus.TerminatableUpload { return asUpload(s, up) }

// AsConcatableUpload returns up as a final upload that can be filled.
func (s *Store) AsConcatableUpload(up tus.Upload) tus.ConcatableUpload { return asUpload(s, up) }

// AsLengthDeclarableUpload returns up as an upload whose length can be
// declared.
func (s *Store) AsLengthDeclarableUpload(up tus.Upload) tus.LengthDeclarableUpload {
	return asUpload(s, up)
}

// AsServableUpload returns up as an upload whose bytes can be served.
func (s *Store) AsServableUpload(up tus.Upload) tus.ServableUpload { return asUpload(s, up) }

// AsExtendableUpload returns up as an upload whose expiry can be moved.
func (s *Store) AsExtendableUpload(up tus.Upload) tus.ExtendableUpload { return asUpload(s, up) }

// asUpload returns up as one of s's uploads; an upload of another store
// becomes a handle that finds nothing.
func asUpload(s *Store, up tus.Upload) *upload {
	if u, ok := up.(*upload); ok && u.store == s {
		return u
	}
	return &upload{store: s, id: "\x00foreign"} // no ID has a NUL: never found
}

// Terminate removes the upload.
func (u *upload) Terminate(context.Context) error {
	u.store.mu.Lock()
	defer u.store.mu.Unlock()
	if _, err := u.store.recordLocked(u.id); err != nil {
		return err
	}
	delete(u.store.uploads, u.id)
	return nil
}

// ConcatUploads appends the bytes of partials, in order, to the final
// upload.
func (u *upload) ConcatUploads(_ context.Context, partials []tus.Upload) error {
	u.store.mu.Lock()
	defer u.store.mu.Unlock()
	r, err := u.store.recordLocked(u.id)
	if err != nil {
		return err
	}
	var joined []byte
	for _, p := range partials {
		pr, err := u.store.recordLocked(asUpload(u.store, p).id)
		if err != nil {
			return err
		}
		joined = append(joined, pr.data...)
	}
	if int64(len(joined)) != r.info.Size || len(r.data) != 0 {
		return fmt.Errorf("memstore: final upload %s of %d bytes, holding %d: its partials hold %d", u.id, r.info.Size, len(r.data), len(joined))
	}
	r.data, r.modTime = joined, time.Now()
	return nil
}

// DeclareLength records the upload's length.
func (u *upload) DeclareLength(_ context.Context, length int64) error {
	u.store.mu.Lock()
	defer u.store.mu.Unlock()
	r, err := u.store.recordLocked(u.id)
	if err != nil {
		return err
	}
	r.info.Size, r.info.SizeIsDeferred, r.info.AnnouncedSize = length, false, 0
	return nil
}

// ServeContent writes the upload's bytes with http.ServeContent, which
// honours Range and conditional requests.
func (u *upload) ServeContent(_ context.Context, w http.ResponseWriter, r *http.Request) error {
	u.store.mu.Lock()
	rec, err := u.store.recordLocked(u.id)
	var data []byte
	var mod time.Time
	if err == nil {
		// Bytes once appended never change (a discarded chunk is taken
		// back by shortening the slice's capacity too), so the slice is
		// read unlocked.
		data, mod = rec.data[:len(rec.data):len(rec.data)], rec.modTime
	}
	u.store.mu.Unlock()
	if err != nil {
		return err
	}
	w.Header().Set("ETag", `"`+u.id+"-"+strconv.Itoa(len(data))+`"`)
	http.ServeContent(w, r, "", mod, bytes.NewReader(data))
	return nil
}

// ExtendExpiry records expiresAt as the upload's expiry.
func (u *upload) ExtendExpiry(_ context.Context, expiresAt time.Time) error {
	u.store.mu.Lock()
	defer u.store.mu.Unlock()
	r, err := u.store.recordLocked(u.id)
	if err != nil {
		return err
	}
	r.info.ExpiresAt = expiresAt
	return nil
}

// Usage returns the Size of every upload whose length is known and the
// bytes held by every other.
func (s *Store) Usage(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, r := range s.uploads {
		if r.info.SizeIsDeferred {
			n += int64(len(r.data))
		} else {
			n += r.info.Size
		}
	}
	return n, nil
}

// ListUploads calls fn for each upload. It takes a snapshot first, so fn
// may use the store; the snapshot is as large as the store's index, which
// for a store in memory is small beside the uploads' bytes.
func (s *Store) ListUploads(ctx context.Context, fn func(tus.ListedUpload) error) error {
	s.mu.Lock()
	list := make([]tus.ListedUpload, 0, len(s.uploads))
	for id, r := range s.uploads {
		done := r.finished && !r.info.SizeIsDeferred && int64(len(r.data)) >= r.info.Size
		list = append(list, tus.ListedUpload{ID: id, Finished: done, ExpiresAt: r.info.ExpiresAt})
	}
	s.mu.Unlock()
	for _, lu := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(lu); err != nil {
			return err
		}
	}
	return nil
}

// cloneMeta returns a copy of m, so that callers never share the store's.
func cloneMeta(m tus.MetaData) tus.MetaData { return maps.Clone(m) }
