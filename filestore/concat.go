package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/tusgo/tus"
)

// ConcatUploads fills the receiver, a final upload, with the bytes of
// partials in order. Each partial must be an upload of a FileStore (any
// FileStore); the copy goes file to file, which on Linux uses
// copy_file_range and keeps the bytes out of user space. The same partial
// may appear more than once (tus 1.0 allows it) and may be used by other
// final uploads at the same time: each occurrence is copied in full, and a
// partial's data file is only opened for reading, never moved, cut or
// locked.
//
// The final data file is cut to zero bytes before the copy and again if the
// copy fails, so a failed concatenation leaves an empty final upload. When
// the final upload's size is known, ConcatUploads checks that the partials
// add up to it, so that on success the offset equals the size. It does not
// fsync; the handler calls FinishUpload afterwards. ctx is checked before
// each partial.
//
// It fails with an error wrapping tus.ErrCorruptUpload if the record of the
// final upload or of a partial is damaged, and with one wrapping
// tus.ErrInsufficientStorage if the disk fills up.
func (u *upload) ConcatUploads(ctx context.Context, partials []tus.Upload) error {
	id := u.info.ID
	if u.corrupt != nil {
		return fmt.Errorf("filestore: concat into %q: %w", id, u.corrupt)
	}
	srcs := make([]*upload, len(partials))
	for i, p := range partials {
		pu, ok := p.(*upload)
		if !ok || pu == nil {
			return fmt.Errorf("filestore: concat into %q: partial upload %d is a %T, not an upload of a FileStore", id, i, p)
		}
		if pu.dataPath == u.dataPath {
			return fmt.Errorf("filestore: concat into %q: partial upload %d is the final upload itself", id, i)
		}
		if pu.corrupt != nil {
			return fmt.Errorf("filestore: concat into %q: partial upload %d: %w", id, i, pu.corrupt)
		}
		srcs[i] = pu
	}

	f, err := openFile(u.dataPath, os.O_WRONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("filestore: concat into %q: %w", id, tus.ErrNotFound)
		}
		return fmt.Errorf("filestore: concat into %q: open data file: %w", id, err)
	}
	err = u.concatInto(ctx, f, srcs)
	if err != nil {
		if terr := f.Truncate(0); terr != nil {
			err = fmt.Errorf("%w; then cutting back to 0 bytes failed: %w", err, terr)
		}
	}
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("filestore: concat into %q: close data file: %w", id, cerr)
	}
	return noSpace(err)
}

// concatInto empties f, the final data file, and appends the data files of
// srcs to it.
func (u *upload) concatInto(ctx context.Context, f *os.File, srcs []*upload) error {
	id := u.info.ID
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("filestore: concat into %q: empty data file: %w", id, err)
	}
	var total int64
	for i, src := range srcs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("filestore: concat into %q: %w", id, err)
		}
		n, err := appendFile(f, src.dataPath)
		total += n
		if err != nil {
			return fmt.Errorf("filestore: concat into %q: partial upload %d (%q): %w", id, i, src.info.ID, err)
		}
	}
	if !u.info.SizeIsDeferred && total != u.info.Size {
		return fmt.Errorf("filestore: concat into %q: partial uploads hold %d bytes, final upload has size %d", id, total, u.info.Size)
	}
	return nil
}

// appendFile copies the file at path to the current position of dst.
func appendFile(dst *os.File, path string) (int64, error) {
	src, err := openFile(path, os.O_RDONLY, 0)
	if err != nil {
		return 0, err
	}
	defer src.Close() // read-only: a close error cannot lose data
	// *os.File to *os.File: io.Copy ends in dst.ReadFrom, which uses
	// copy_file_range on Linux.
	return io.Copy(dst, src)
}
