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
// Like every tus.Upload, it is used by one request at a time.
type upload struct {
	store    *FileStore
	info     tus.FileInfo // Offset is ignored; see GetInfo
	dataPath string
	infoPath string
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
// It fails with an error wrapping tus.ErrUploadExists if the ID is taken and
// with one wrapping tus.ErrInvalidID if info.ID is not a valid ID. When it
// fails it leaves no file behind.
func (s *FileStore) NewUpload(ctx context.Context, info tus.FileInfo) (tus.Upload, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("filestore: new upload: %w", err)
	}
	if !tus.ValidID(info.ID) {
		return nil, fmt.Errorf("filestore: new upload %s: %w", shownID(info.ID), tus.ErrInvalidID)
	}
	u := s.newUploadValue(info)
	f, err := os.OpenFile(u.dataPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("filestore: new upload %q: %w", info.ID, tus.ErrUploadExists)
		}
		return nil, fmt.Errorf("filestore: new upload %q: create data file: %w", info.ID, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(u.dataPath)
		return nil, fmt.Errorf("filestore: new upload %q: close data file: %w", info.ID, err)
	}
	if err := createInfo(u.infoPath, u.info); err != nil {
		_ = os.Remove(u.dataPath)
		return nil, fmt.Errorf("filestore: new upload %q: %w", info.ID, err)
	}
	return u, nil
}

// GetUpload returns the upload with the given ID. It reads and parses the
// info file once; the returned upload serves GetInfo from that copy and only
// asks the data file for the offset.
//
// It fails with an error wrapping tus.ErrNotFound if there is no such upload
// or id is not a valid ID, and with a plain error if the info file cannot be
// read or parsed.
func (s *FileStore) GetUpload(ctx context.Context, id string) (tus.Upload, error) {
	if !tus.ValidID(id) {
		return nil, fmt.Errorf("filestore: get upload: invalid ID %s: %w", shownID(id), tus.ErrNotFound)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("filestore: get upload %q: %w", id, err)
	}
	raw, err := os.ReadFile(s.infoPath(id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("filestore: get upload %q: %w", id, tus.ErrNotFound)
		}
		return nil, fmt.Errorf("filestore: get upload %q: read info file: %w", id, err)
	}
	info, err := decodeInfo(raw)
	if err != nil {
		return nil, fmt.Errorf("filestore: get upload %q: corrupt info file: %w", id, err)
	}
	if info.ID != id {
		return nil, fmt.Errorf("filestore: get upload %q: corrupt info file: it describes upload %s", id, shownID(info.ID))
	}
	return s.newUploadValue(info), nil
}

// GetInfo returns the cached info with Offset set to the current size of the
// data file. It fails with an error wrapping tus.ErrNotFound if the data file
// is gone.
func (u *upload) GetInfo(ctx context.Context) (tus.FileInfo, error) {
	fi, err := os.Stat(u.dataPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return tus.FileInfo{}, fmt.Errorf("filestore: get info %q: %w", u.info.ID, tus.ErrNotFound)
		}
		return tus.FileInfo{}, fmt.Errorf("filestore: get info %q: %w", u.info.ID, err)
	}
	if !fi.Mode().IsRegular() {
		return tus.FileInfo{}, fmt.Errorf("filestore: get info %q: data file is not a regular file", u.info.ID)
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
// the data file does not hold exactly offset bytes, and with one wrapping
// tus.ErrNotFound if the data file is gone.
//
// If src fails, the bytes read before the failure are kept and counted, and
// src's error is returned as it is; but if that error matches
// tus.ErrDiscardChunk, the file is cut back to offset and WriteChunk
// returns 0 with the error. If writing to disk fails, the file is cut back to
// the bytes the system reported as written, so the offset never counts bytes
// of unknown content.
//
// ctx is checked before anything is written; once copying has started, src
// decides when to stop.
func (u *upload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("filestore: write chunk %q: %w", u.info.ID, err)
	}
	f, err := os.OpenFile(u.dataPath, os.O_WRONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("filestore: write chunk %q: %w", u.info.ID, tus.ErrNotFound)
		}
		return 0, fmt.Errorf("filestore: write chunk %q: open data file: %w", u.info.ID, err)
	}
	n, err := u.writeAt(f, offset, src)
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("filestore: write chunk %q: close data file: %w", u.info.ID, cerr)
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

	bp := u.store.bufs.Get().(*[]byte)
	defer u.store.bufs.Put(bp)
	buf := *bp

	// While an upload streams in, each full window of writebackSize bytes
	// is handed to the disk in the background, so the fsync at the end has
	// little left to wait for. Windows are aligned to the file, so uploads
	// sent in many small chunks are written back too.
	osFile, _ := f.(*os.File)
	writeback := osFile != nil && !u.store.noSync
	flushed := offset - offset%writebackSize

	var n int64
	empty := 0
	for {
		if end := offset + n - (offset+n)%writebackSize; writeback && end > flushed {
			startWriteback(osFile, flushed, end-flushed)
			flushed = end
		}
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
					werr = errors.Join(werr, fmt.Errorf("filestore: write chunk %q: cut back to %d bytes: %w", id, offset+n, terr))
				}
				return n, werr
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
// fsyncs the data file, the info file and the directory, so the bytes and
// both directory entries survive a power loss. It fails with an error
// wrapping tus.ErrNotFound if the data file is gone.
//
// It deliberately ignores ctx: once every byte has arrived, the upload is
// completed even if the client has gone.
func (u *upload) FinishUpload(ctx context.Context) error {
	if u.store.noSync {
		if _, err := os.Stat(u.dataPath); err != nil {
			return u.finishErr(err)
		}
		return nil
	}
	// The three fsyncs run at once: the file system can then commit them
	// together (one journal commit on ext4 and XFS instead of three).
	var dataErr, infoErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); dataErr = syncFile(u.dataPath) }()
	go func() { defer wg.Done(); infoErr = syncFile(u.infoPath) }()
	dirErr := syncDir(u.store.dir)
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
	return fmt.Errorf("filestore: finish upload %q: %w", u.info.ID, err)
}

// Terminate removes the data file and the info file. It removes whichever
// exists even if the other is missing, and fails with an error wrapping
// tus.ErrNotFound only if neither exists. It does not touch lock files.
func (u *upload) Terminate(ctx context.Context) error {
	derr := os.Remove(u.dataPath)
	ierr := os.Remove(u.infoPath)
	dmissing := errors.Is(derr, fs.ErrNotExist)
	imissing := errors.Is(ierr, fs.ErrNotExist)
	if dmissing && imissing {
		return fmt.Errorf("filestore: terminate %q: %w", u.info.ID, tus.ErrNotFound)
	}
	var errs []error
	if derr != nil && !dmissing {
		errs = append(errs, derr)
	}
	if ierr != nil && !imissing {
		errs = append(errs, ierr)
	}
	if len(errs) > 0 {
		return fmt.Errorf("filestore: terminate %q: %w", u.info.ID, errors.Join(errs...))
	}
	return nil
}
