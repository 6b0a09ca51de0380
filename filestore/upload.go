package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/tusgo/tus"
)

// writebackSize is how many written bytes WriteChunk lets pile up before it
// starts writing them to disk in the background.
const writebackSize = 8 << 20

// maxEmptyReads is how many consecutive (0, nil) reads WriteChunk tolerates
// from its source before it gives up with io.ErrNoProgress.
const maxEmptyReads = 100

// upload is one upload of a FileStore. It implements tus.Upload and the
// optional upload interfaces of package tus. It caches the info read when it
// was created or looked up; its offset always comes from the data file.
//
// An upload whose info file is damaged has corrupt set: then info holds
// only the ID, and every method but Terminate fails with corrupt.
//
// Like every tus.Upload, it is used by one request at a time.
type upload struct {
	store    *FileStore
	info     tus.FileInfo // Offset is ignored; see GetInfo
	dataPath string
	infoPath string
	corrupt  error // wraps tus.ErrCorruptUpload; nil for a sound record
}

// newUploadValue returns the upload value for info, whose ID must be valid,
// with Storage filled in and Offset cleared.
func (s *FileStore) newUploadValue(info tus.FileInfo) *upload {
	u := &upload{
		store:    s,
		info:     cloneInfo(info),
		dataPath: s.dataPath(info.ID),
		infoPath: s.infoPath(info.ID),
	}
	u.info.Offset = 0
	u.info.Storage = map[string]string{
		"Type":     storageType,
		"Path":     u.dataPath,
		"InfoPath": u.infoPath,
	}
	return u
}

// NewUpload creates the upload described by info: an empty data file and
// an info file, both created exclusively. (Until NewUpload returns, nobody
// but the caller knows the ID, so the info file needs no temporary file;
// later changes replace it atomically.) info.Offset is ignored and info.Storage is replaced by the
// store's description of the files. Creation is not fsynced; FinishUpload
// makes the upload durable.
//
// It fails with an error wrapping tus.ErrUploadExists if the ID is taken,
// with one wrapping tus.ErrInvalidID if info.ID is not a valid ID, with one
// wrapping tus.ErrInsufficientStorage if the disk is full, and with a plain
// error if info is inconsistent (see GetUpload: the store never writes a
// record it would call damaged). When it fails it leaves no file behind.
func (s *FileStore) NewUpload(ctx context.Context, info tus.FileInfo) (tus.Upload, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("filestore: new upload: %w", err)
	}
	if !tus.ValidID(info.ID) {
		return nil, fmt.Errorf("filestore: new upload %s: %w", shownID(info.ID), tus.ErrInvalidID)
	}
	u := s.newUploadValue(info)
	if err := checkInfo(info.ID, u.info); err != nil {
		return nil, fmt.Errorf("filestore: new upload %q: %w", info.ID, err)
	}
	f, err := openFile(u.dataPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("filestore: new upload %q: %w", info.ID, tus.ErrUploadExists)
		}
		return nil, noSpace(fmt.Errorf("filestore: new upload %q: create data file: %w", info.ID, err))
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(u.dataPath)
		return nil, noSpace(fmt.Errorf("filestore: new upload %q: close data file: %w", info.ID, err))
	}
	if err := createInfo(u.infoPath, u.info); err != nil {
		_ = os.Remove(u.dataPath)
		return nil, noSpace(fmt.Errorf("filestore: new upload %q: %w", info.ID, err))
	}
	return u, nil
}

// GetUpload returns the upload with the given ID. It reads and checks the
// info file once; the returned upload serves GetInfo from that copy and only
// asks the data file for the offset.
//
// An upload exists while its info file does. It fails with an error
// wrapping tus.ErrNotFound if there is no info file or if id is not a valid
// ID, and with a plain error if the info file cannot be read. A data file
// without an info file is not an upload (see the package documentation).
//
// An info file that is damaged (empty, truncated, not JSON, or describing
// something this store never writes: another ID, a negative Size or
// Offset, an AnnouncedSize without a deferred length, an upload both partial
// and final, invalid PartialUploads...) does not make GetUpload fail: it
// returns an upload whose GetInfo, and every other method but Terminate,
// fails with an error wrapping tus.ErrCorruptUpload that says what is wrong.
// Terminate removes what is left of it. GetInfo reports a damaged record as
// well when the data file is missing while the info file is there, is not a
// regular file, or holds more bytes than the upload's length.
func (s *FileStore) GetUpload(ctx context.Context, id string) (tus.Upload, error) {
	if !tus.ValidID(id) {
		return nil, fmt.Errorf("filestore: get upload: invalid ID %s: %w", shownID(id), tus.ErrNotFound)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("filestore: get upload %q: %w", id, err)
	}
	raw, err := readFile(s.infoPath(id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("filestore: get upload %q: %w", id, tus.ErrNotFound)
		}
		return nil, fmt.Errorf("filestore: get upload %q: read info file: %w", id, err)
	}
	info, err := decodeInfo(id, raw)
	if err != nil {
		u := s.newUploadValue(tus.FileInfo{ID: id})
		u.corrupt = corruptError(u.infoPath, err)
		return u, nil
	}
	return s.newUploadValue(info), nil
}

// GetInfo returns the cached info with Offset set to the current size of the
// data file. It fails with an error wrapping tus.ErrNotFound if both files
// are gone (the upload was terminated), and with one wrapping
// tus.ErrCorruptUpload if the record is damaged (see GetUpload).
func (u *upload) GetInfo(ctx context.Context) (tus.FileInfo, error) {
	id := u.info.ID
	if u.corrupt != nil {
		return tus.FileInfo{}, fmt.Errorf("filestore: get info %q: %w", id, u.corrupt)
	}
	fi, err := os.Stat(u.dataPath)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return tus.FileInfo{}, fmt.Errorf("filestore: get info %q: %w", id, err)
		}
		// Terminate removes the info file first, so an info file without
		// its data file is damage, not a termination under way.
		_, ierr := os.Lstat(u.infoPath)
		switch {
		case ierr == nil:
			return tus.FileInfo{}, fmt.Errorf("filestore: get info %q: %w", id,
				corruptError(u.dataPath, errors.New("data file missing while the info file exists")))
		case errors.Is(ierr, fs.ErrNotExist):
			return tus.FileInfo{}, fmt.Errorf("filestore: get info %q: %w", id, tus.ErrNotFound)
		default:
			return tus.FileInfo{}, fmt.Errorf("filestore: get info %q: data file missing: %w", id, ierr)
		}
	}
	if !fi.Mode().IsRegular() {
		return tus.FileInfo{}, fmt.Errorf("filestore: get info %q: %w", id,
			corruptError(u.dataPath, fmt.Errorf("data file is not a regular file (mode %v)", fi.Mode())))
	}
	if limit := lengthLimit(u.info); limit >= 0 && fi.Size() > limit {
		return tus.FileInfo{}, fmt.Errorf("filestore: get info %q: %w", id,
			corruptError(u.dataPath, fmt.Errorf("data file holds %d bytes, more than the upload's length %d", fi.Size(), limit)))
	}
	info := cloneInfo(u.info)
	info.Offset = fi.Size()
	return info, nil
}

// WriteChunk appends src to the data file at offset and returns how many
// bytes it stored. It streams src through one pooled buffer and never holds
// more than that in memory. It does not fsync.
//
// It fails with an error wrapping tus.ErrMismatchOffset, storing nothing, if
// the data file does not hold exactly offset bytes, with one wrapping
// tus.ErrNotFound if the data file is gone, and with one wrapping
// tus.ErrCorruptUpload if the upload's record is damaged.
//
// If src fails, the bytes read before the failure are kept and counted, and
// src's error is returned as it is; but if that error matches
// tus.ErrDiscardChunk, the file is cut back to offset and WriteChunk
// returns 0 with the error. If writing to disk fails, WriteChunk returns at
// once, without reading more of src, and the file is cut back to the bytes
// the system reported as written, so the offset never counts bytes of
// unknown content; those bytes are kept and counted. A full disk (ENOSPC,
// EDQUOT) fails so with an error wrapping tus.ErrInsufficientStorage.
//
// ctx is checked before anything is written; once copying has started, src
// decides when to stop.
func (u *upload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	if u.corrupt != nil {
		return 0, fmt.Errorf("filestore: write chunk %q: %w", u.info.ID, u.corrupt)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("filestore: write chunk %q: %w", u.info.ID, err)
	}
	f, err := openFile(u.dataPath, os.O_WRONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("filestore: write chunk %q: %w", u.info.ID, tus.ErrNotFound)
		}
		return 0, fmt.Errorf("filestore: write chunk %q: open data file: %w", u.info.ID, err)
	}
	n, err := u.writeAt(f, offset, src)
	if cerr := f.Close(); cerr != nil && err == nil {
		err = noSpace(fmt.Errorf("filestore: write chunk %q: close data file: %w", u.info.ID, cerr))
	}
	return n, err
}

// dataFile is the part of *os.File that writeAt uses; tests substitute it
// to simulate failing disks.
type dataFile interface {
	io.WriteSeeker
	Stat() (fs.FileInfo, error)
	Truncate(size int64) error
}

// writeAt does the work of WriteChunk on the open data file f.
func (u *upload) writeAt(f dataFile, offset int64, src io.Reader) (int64, error) {
	id := u.info.ID
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("filestore: write chunk %q: %w", id, err)
	}
	if fi.Size() != offset {
		return 0, fmt.Errorf("filestore: write chunk %q: upload holds %d bytes, chunk starts at %d: %w",
			id, fi.Size(), offset, tus.ErrMismatchOffset)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, fmt.Errorf("filestore: write chunk %q: %w", id, err)
	}

	buf, putBuf := u.store.getBuffer()
	defer putBuf()

	// While an upload streams in, each full window of writebackSize bytes
	// is handed to the disk in the background, and the store's flusher
	// makes it durable, so the fsync at the end has little left to wait
	// for. Windows are aligned to the file, so uploads
	// sent in many small chunks are written back too.
	osFile, _ := f.(*os.File)
	writeback := osFile != nil && !u.store.noSync
	flushed := offset - offset%writebackSize

	var n int64
	empty := 0
	for {
		nr, rerr := src.Read(buf)
		if rerr != nil && errors.Is(rerr, tus.ErrDiscardChunk) {
			return 0, u.discard(f, offset, rerr)
		}
		if nr > 0 {
			empty = 0
			nw, werr := f.Write(buf[:nr])
			if nw > 0 {
				n += int64(nw)
			}
			if werr == nil && nw < nr {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				werr = fmt.Errorf("filestore: write chunk %q: write data file: %w", id, werr)
				if terr := f.Truncate(offset + n); terr != nil {
					werr = fmt.Errorf("%w; then cutting back to %d bytes failed: %w", werr, offset+n, terr)
				}
				return n, noSpace(werr)
			}
			// Checked after every write, not before every read: a chunk
			// that ends on a window's end (the last read of a body often
			// comes with io.EOF) must start that window's write-back too.
			if end := offset + n - (offset+n)%writebackSize; writeback && end > flushed {
				startWriteback(osFile, flushed, end-flushed)
				if backgroundFlush {
					u.store.flush.kick(u.dataPath)
				}
				flushed = end
			}
		} else if rerr == nil {
			if empty++; empty >= maxEmptyReads {
				return n, fmt.Errorf("filestore: write chunk %q: %w", id, io.ErrNoProgress)
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// discard cuts the data file back to offset after src failed with cause, an
// error matching tus.ErrDiscardChunk, and returns the error WriteChunk
// returns: cause itself, or, if the rejected bytes could not be removed, an
// error wrapping tus.ErrInternal first (the bytes are still there, so the
// client must not be told they were not stored) and then cause.
func (u *upload) discard(f dataFile, offset int64, cause error) error {
	if err := f.Truncate(offset); err != nil {
		return fmt.Errorf("filestore: write chunk %q: %w: discard rejected chunk: %w (%w)",
			u.info.ID, tus.ErrInternal, err, cause)
	}
	return cause
}

// FinishUpload makes the upload durable: unless the store has NoSync set, it
// fdatasyncs the data file and the info file and fsyncs the directory (or
// waits for an fsync of it that started after FinishUpload was called), so
// the bytes, the record and both directory entries survive a power loss. It fails with an error
// wrapping tus.ErrNotFound if the data file is gone, with one wrapping
// tus.ErrCorruptUpload if the upload's record is damaged, and with one
// wrapping tus.ErrInsufficientStorage if an fsync reports a full disk
// (file systems that allocate late, network file systems).
//
// It deliberately ignores ctx: once every byte has arrived, the upload is
// completed even if the client has gone.
func (u *upload) FinishUpload(ctx context.Context) error {
	if u.corrupt != nil {
		return fmt.Errorf("filestore: finish upload %q: %w", u.info.ID, u.corrupt)
	}
	if u.store.noSync {
		if _, err := os.Stat(u.dataPath); err != nil {
			return u.finishErr(err)
		}
		return nil
	}
	// The three syncs run at once: the file system can then commit them
	// together (one journal commit on ext4 and XFS instead of three). The
	// files need fdatasync only: their content and size, not their times.
	// The directory's fsync is shared with the uploads finishing at the
	// same time (see dirSyncer).
	var dataErr, infoErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); dataErr = syncFile(u.dataPath) }()
	go func() { defer wg.Done(); infoErr = syncFile(u.infoPath) }()
	dirErr := u.store.dirs.syncDir()
	wg.Wait()
	for _, err := range []error{dataErr, infoErr, dirErr} {
		if err != nil {
			return u.finishErr(err)
		}
	}
	return nil
}

// finishErr wraps an error of FinishUpload.
func (u *upload) finishErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("filestore: finish upload %q: %w: %w", u.info.ID, tus.ErrNotFound, err)
	}
	return noSpace(fmt.Errorf("filestore: finish upload %q: %w", u.info.ID, err))
}

// Terminate removes the info file, the data file and any temporary info
// file a crash left behind, also for an upload whose record is damaged. The
// info file goes first, so that an upload cut short between the two
// removals is not found any more (see GetUpload). It removes whichever
// exists even if another is missing, and fails with an error wrapping
// tus.ErrNotFound only if neither the data nor the info file exists. It
// does not touch lock files: they belong to the locker, whose Unlock
// removes them.
func (u *upload) Terminate(ctx context.Context) error {
	ierr := os.Remove(u.infoPath)
	derr := os.Remove(u.dataPath)
	terr := u.removeTemps()
	dmissing := errors.Is(derr, fs.ErrNotExist)
	imissing := errors.Is(ierr, fs.ErrNotExist)
	if dmissing && imissing && terr == nil {
		return fmt.Errorf("filestore: terminate %q: %w", u.info.ID, tus.ErrNotFound)
	}
	var errs []error
	if ierr != nil && !imissing {
		errs = append(errs, ierr)
	}
	if derr != nil && !dmissing {
		errs = append(errs, derr)
	}
	if terr != nil {
		errs = append(errs, terr)
	}
	if len(errs) > 0 {
		return fmt.Errorf("filestore: terminate %q: %w", u.info.ID, errors.Join(errs...))
	}
	return nil
}

// removeTemps removes the temporary info file of the upload (see
// writeInfo) that a crash left behind. Those of older versions, named with
// a random part, are left to RemoveLeftovers.
func (u *upload) removeTemps() error {
	if err := os.Remove(u.store.tempInfoPath(u.info.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
