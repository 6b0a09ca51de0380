// Package limitedstore enforces a limit on the total size of the uploads of
// any tus store composition (tusd's -store-size flag).
//
// A Store wraps the core store and the termination, concatenation, length
// deferral and download parts of a tus.StoreComposer. It never deletes or
// shortens an upload to make room: when bytes do not fit, it refuses them
// with ErrStoreFull, which the handler answers with 507 Insufficient Storage.
//
// What counts against the limit is the space an upload may take up:
//
//   - An upload with a known length counts its whole length from its
//     creation on, whether its bytes have arrived or not. Creation fails with
//     ErrStoreFull if the length does not fit, so an upload that was created
//     can always be completed.
//   - An upload whose length is deferred counts the bytes it holds. A PATCH
//     stores the bytes that fit and then fails with ErrStoreFull; the client
//     sees the new offset with HEAD. Declaring the length counts the rest of
//     it, or fails with ErrStoreFull and leaves the upload unchanged.
//   - A final upload of the concatenation extension counts its length, the
//     sum of its partial uploads, which keep counting as well: the store
//     keeps them.
//   - Terminating an upload releases what it counted.
//
// Only upload bytes count; the records a store keeps beside them (info
// files, metadata) do not.
//
// The count lives in the process. At startup it is taken from the inner
// composition's UsageReporter, if it has one (filestore and s3store register one).
// A store without it starts at 0: uploads that already exist are not
// counted, so the total can exceed the limit by their size (see New).
// Several processes sharing one store each keep their own count and
// together can exceed the limit.
//
// A Store is built on tus.StoreWrapper: it overrides creation, writes,
// termination and length declaration, and every other part of the inner
// composition (concatenation, downloads, finish and usage reports, and any
// part added later) is forwarded as it is.
package limitedstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/tusgo/tus"
)

// ErrStoreFull (507 Insufficient Storage) is returned when bytes do not fit
// into the storage limit: by NewUpload for an upload whose length does not
// fit, by DeclareLength for a declared length that does not fit, and by
// WriteChunk, after storing the bytes that fit, for a deferred-length upload
// that reaches the limit. Compare with errors.Is.
var ErrStoreFull = tus.NewError(http.StatusInsufficientStorage, "ERR_STORE_FULL",
	"insufficient storage: the server's storage limit leaves no room for these bytes")

// errChunkFull is the ErrStoreFull of a chunk that was cut short.
var errChunkFull = ErrStoreFull.WithMessage(
	"insufficient storage: the server's storage limit was reached; the bytes before Upload-Offset were stored")

// errChunkDropped ends a chunk that went on too far past the limit: it
// matches tus.ErrDiscardChunk, the stores' signal to keep nothing of the
// chunk, and answers as ErrStoreFull.
var errChunkDropped = tus.DiscardChunk(ErrStoreFull.WithMessage(
	"insufficient storage: the server's storage limit leaves no room for this chunk; nothing of it was stored"))

// Store enforces a limit on the total size of the uploads of a store
// composition. Create it with New and register it with UseIn. It is safe for
// concurrent use; its count is kept under a mutex.
type Store struct {
	tus.StoreWrapper
	limit int64

	mu   sync.Mutex
	used int64 // bytes counted, including bytes reserved by running writes
}

// New returns a Store that limits the uploads of the parts registered in
// inner to limit bytes in total. It takes those parts as they are now, so
// call it after the inner store's UseIn; then register the Store with
// UseIn, usually in inner itself.
//
// If inner has a UsageReporter, New asks it with ctx for the space
// existing uploads take up and starts counting from there; it fails if that
// fails. Otherwise the count starts at 0: existing uploads are not counted,
// and terminating one of them releases space it never counted, so the total
// can then exceed the limit by up to the size of the uploads that existed
// before.
//
// The count may start above the limit (the limit was lowered, for example);
// new bytes are then refused until terminations bring it below. New fails if
// limit is not positive or inner has no Core.
func New(ctx context.Context, limit int64, inner *tus.StoreComposer) (*Store, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("limitedstore: limit must be positive, not %d", limit)
	}
	if inner == nil || inner.Core == nil {
		return nil, errors.New("limitedstore: the composer has no core store; call the store's UseIn first")
	}
	if _, ok := inner.Core.(*Store); ok {
		return nil, errors.New("limitedstore: the composer's core store is already limited")
	}
	s := &Store{limit: limit, StoreWrapper: tus.NewStoreWrapper(inner, unwrap)}
	if r := inner.UsageReporter; r != nil {
		used, err := r.Usage(ctx)
		if err != nil {
			return nil, fmt.Errorf("limitedstore: usage of the existing uploads: %w", err)
		}
		if used < 0 {
			return nil, fmt.Errorf("limitedstore: the store reports a negative usage of %d bytes", used)
		}
		s.used = used
	}
	return s, nil
}

// UseIn registers the Store in c in place of every part of the inner
// composition (tus.UseWrapper). c's locker is left alone.
func (s *Store) UseIn(c *tus.StoreComposer) { tus.UseWrapper(c, s) }

// Limit returns the limit in bytes.
func (s *Store) Limit() int64 { return s.limit }

// Used returns the bytes counted now: the space uploads take up as the
// package documentation describes, plus bytes being written right now.
func (s *Store) Used() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// reserve counts n more bytes if they fit and reports whether they did.
// Nothing (n == 0) always fits.
func (s *Store) reserve(n int64) bool {
	if n <= 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > s.limit-s.used {
		return false
	}
	s.used += n
	return true
}

// reserveUpTo counts up to n more bytes, as many as fit, and returns how
// many it counted.
func (s *Store) reserveUpTo(n int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = max(min(n, s.limit-s.used), 0)
	s.used += n
	return n
}

// adjust changes the count by n, which may be negative, without checking
// the limit; the count never goes below zero.
func (s *Store) adjust(n int64) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used = max(s.used+n, 0)
}

// charge returns what an upload in state info counts.
func charge(info tus.FileInfo) int64 {
	if info.SizeIsDeferred {
		return max(info.Offset, 0)
	}
	return max(info.Size, info.Offset, 0)
}

// NewUpload counts info.Size, unless the length is deferred, and creates the
// upload in the inner store. It fails with an error wrapping ErrStoreFull,
// before the inner store sees anything, if the size does not fit. If the
// inner store fails, the size is released.
func (s *Store) NewUpload(ctx context.Context, info tus.FileInfo) (tus.Upload, error) {
	var n int64
	if !info.SizeIsDeferred {
		n = max(info.Size, 0)
	}
	if !s.reserve(n) {
		return nil, fmt.Errorf("limitedstore: new upload of %d bytes: %w", n, ErrStoreFull)
	}
	up, err := s.StoreWrapper.NewUpload(ctx, info)
	if err != nil {
		s.adjust(-n)
		return nil, err
	}
	known := info
	known.Offset = 0
	return &upload{store: s, inner: up, info: &known}, nil
}

// GetUpload returns the upload with the given ID from the inner store.
func (s *Store) GetUpload(ctx context.Context, id string) (tus.Upload, error) {
	up, err := s.StoreWrapper.GetUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	return &upload{store: s, inner: up}, nil
}

// AsTerminatableUpload returns up as a tus.TerminatableUpload whose
// Terminate releases what the upload counted once the inner store has
// terminated it.
func (s *Store) AsTerminatableUpload(up tus.Upload) tus.TerminatableUpload {
	u, ok := up.(*upload)
	if !ok || u == nil {
		return s.StoreWrapper.AsTerminatableUpload(up)
	}
	return terminatable{u: u, inner: s.StoreWrapper.AsTerminatableUpload(u)}
}

// AsLengthDeclarableUpload returns up as a tus.LengthDeclarableUpload whose
// DeclareLength counts the rest of the declared length.
func (s *Store) AsLengthDeclarableUpload(up tus.Upload) tus.LengthDeclarableUpload {
	u, ok := up.(*upload)
	if !ok || u == nil {
		return s.StoreWrapper.AsLengthDeclarableUpload(up)
	}
	return declarable{u: u, inner: s.StoreWrapper.AsLengthDeclarableUpload(u)}
}

// unwrap returns the inner store's upload of up.
func unwrap(up tus.Upload) tus.Upload {
	if u, ok := up.(*upload); ok && u != nil {
		return u.inner
	}
	return up
}

// upload wraps an upload of the inner store. Like every tus.Upload it is
// used by one request at a time, so its fields need no lock.
type upload struct {
	store *Store
	inner tus.Upload
	// info is the last state seen, kept up to date by WriteChunk and
	// DeclareLength, or nil before GetInfo or NewUpload told it.
	info *tus.FileInfo
}

// GetInfo returns the inner upload's state.
func (u *upload) GetInfo(ctx context.Context) (tus.FileInfo, error) {
	info, err := u.inner.GetInfo(ctx)
	if err != nil {
		return info, err
	}
	known := info
	u.info = &known
	return info, nil
}

// state returns the upload's state, asking the inner upload if it is not
// known yet.
func (u *upload) state(ctx context.Context) (tus.FileInfo, error) {
	if u.info != nil {
		return *u.info, nil
	}
	return u.GetInfo(ctx)
}

// WriteChunk writes src to the inner upload. An upload with a known length
// counted its bytes at creation and writes src as it is. For an upload whose
// length is deferred, the bytes are counted as they are read: src is read
// only as far as the limit allows, and if it goes on past the limit, the
// bytes that fit are stored and WriteChunk fails with an error wrapping
// ErrStoreFull.
//
// To find out whether src goes on, and because a chunk with a checksum must
// be stored whole or not at all, the rest of src is then read to its end
// and thrown away: if src then fails with an error matching
// tus.ErrDiscardChunk, that error goes to the inner upload, which drops
// the whole chunk. A src that ends exactly at the limit is no error. A rest
// longer than 1 MiB is not read: the whole chunk is dropped and answered
// with ErrStoreFull.
func (u *upload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	info, err := u.state(ctx)
	if err != nil {
		return 0, err
	}
	if !info.SizeIsDeferred {
		n, err := u.inner.WriteChunk(ctx, offset, src)
		u.info.Offset = offset + n
		return n, err
	}
	lr := &limitReader{store: u.store, src: src}
	n, err := u.inner.WriteChunk(ctx, offset, lr)
	// Count what the inner upload stored, not what it read.
	u.store.adjust(n - lr.reserved)
	u.info.Offset = offset + n
	if lr.full && err == nil {
		// The inner store swallowed the error; the client must still learn
		// that the rest was refused.
		err = fmt.Errorf("limitedstore: write chunk at %d: %w", offset, errChunkFull)
	}
	return n, err
}

// FinishUpload finishes the inner upload.
func (u *upload) FinishUpload(ctx context.Context) error { return u.inner.FinishUpload(ctx) }

// limitReader reads src for WriteChunk of a deferred-length upload, counting
// each byte before it reads it.
type limitReader struct {
	store    *Store
	src      io.Reader
	reserved int64 // bytes counted for what src returned
	full     bool  // src went on past the limit
	done     error // what every further Read returns
}

// Remaining implements tus.RemainingReader for the reader it wraps.
func (r *limitReader) Remaining() int64 {
	if r.done != nil {
		return 0
	}
	if rr, ok := r.src.(tus.RemainingReader); ok {
		return rr.Remaining()
	}
	return -1
}

func (r *limitReader) Read(p []byte) (int, error) {
	if r.done != nil {
		return 0, r.done
	}
	if len(p) == 0 {
		return r.src.Read(p)
	}
	if k := r.store.reserveUpTo(int64(len(p))); k > 0 {
		n, err := r.src.Read(p[:k])
		n = max(n, 0)
		r.store.adjust(int64(n) - k)
		r.reserved += int64(n)
		return n, err
	}
	r.done = r.drain()
	return 0, r.done
}

// maxDrain bounds what drain reads past the limit: a longer rest drops
// the whole chunk at once instead of reading it into nothing.
const maxDrain = 1 << 20

// drain reads the rest of src once the limit is reached and returns the
// error that ends the chunk: io.EOF if src ended there, src's error if it
// matches tus.ErrDiscardChunk (the chunk must be dropped), and an error
// wrapping ErrStoreFull if src went on. A rest longer than maxDrain is not
// read: the whole chunk is dropped (errChunkDropped), as the handler drops
// a chunk past Config.MaxSize, so a client cannot stream without end into a
// full store, and a checksummed chunk is never kept unverified.
func (r *limitReader) drain() error {
	var buf [32 << 10]byte
	empty := 0
	var drained int64
	for {
		n, err := r.src.Read(buf[:])
		if drained += int64(n); drained > maxDrain {
			return errChunkDropped
		}
		if n > 0 {
			r.full = true
			empty = 0
		} else if err == nil {
			// A source that never makes progress must not hold us forever.
			if empty++; empty >= 100 {
				err = io.ErrNoProgress
			}
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, tus.ErrDiscardChunk):
			return err
		case !r.full && err == io.EOF:
			return io.EOF
		case !r.full:
			// src failed exactly at the limit: nothing was refused.
			return err
		case err == io.EOF:
			return errChunkFull
		default:
			// Only ErrStoreFull decides the answer; the client learns the
			// stored offset with HEAD either way.
			return fmt.Errorf("%w (then: %v)", errChunkFull, err)
		}
	}
}

// terminatable terminates an upload and releases what it counted.
type terminatable struct {
	u     *upload
	inner tus.TerminatableUpload
}

// Terminate terminates the inner upload and, if that succeeds, releases
// what the upload counted. If the upload's state cannot be read, the last
// state seen is used; with none, nothing is released (the count stays too
// high rather than too low).
func (t terminatable) Terminate(ctx context.Context) error {
	info, err := t.u.inner.GetInfo(ctx)
	known := err == nil
	if !known && t.u.info != nil {
		info, known = *t.u.info, true
	}
	if err := t.inner.Terminate(ctx); err != nil {
		return err
	}
	if known {
		t.u.store.adjust(-charge(info))
	}
	t.u.info = nil
	return nil
}

// declarable declares the length of a deferred-length upload.
type declarable struct {
	u     *upload
	inner tus.LengthDeclarableUpload
}

// DeclareLength counts the part of length the upload does not hold yet and
// declares the length to the inner upload. It fails with an error wrapping
// ErrStoreFull, leaving the upload unchanged, if that part does not fit, and
// releases it again if the inner upload fails.
func (d declarable) DeclareLength(ctx context.Context, length int64) error {
	info, err := d.u.inner.GetInfo(ctx)
	if err != nil {
		return err
	}
	if !info.SizeIsDeferred {
		// Not ours to count: let the inner upload answer.
		return d.inner.DeclareLength(ctx, length)
	}
	extra := max(length-charge(info), 0)
	if !d.u.store.reserve(extra) {
		return fmt.Errorf("limitedstore: declare length %d: %w", length, ErrStoreFull)
	}
	if err := d.inner.DeclareLength(ctx, length); err != nil {
		d.u.store.adjust(-extra)
		return err
	}
	info.Size, info.SizeIsDeferred, info.AnnouncedSize = length, false, 0
	d.u.info = &info
	return nil
}

// Interface checks.
var (
	_ tus.WrappingStore = (*Store)(nil)
	_ tus.Upload        = (*upload)(nil)
)
