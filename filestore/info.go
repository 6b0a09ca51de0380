package filestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"unicode/utf8"

	"github.com/tusgo/tus"
)

// infoFile is the content of an info file: a tus.FileInfo marshalled as
// JSON, plus the metadata pairs JSON strings cannot carry exactly.
//
// JSON strings hold UTF-8 only (encoding/json replaces invalid bytes with
// U+FFFD), but Upload-Metadata values are arbitrary bytes. Pairs whose key
// or value is not valid UTF-8 are therefore kept in BinaryMetaData, where
// []byte marshals as base64, instead of in MetaData. For ordinary metadata
// BinaryMetaData is absent and the file is exactly a marshalled FileInfo.
type infoFile struct {
	tus.FileInfo
	BinaryMetaData []metaPair `json:"BinaryMetaData,omitempty"`
}

// metaPair is one metadata pair that is not valid UTF-8.
type metaPair struct {
	Key   []byte `json:"Key"`
	Value []byte `json:"Value"`
}

// encodeInfo returns the info file content for info.
func encodeInfo(info tus.FileInfo) ([]byte, error) {
	f := infoFile{FileInfo: info}
	for k, v := range info.MetaData {
		if utf8.ValidString(k) && utf8.ValidString(v) {
			continue
		}
		if len(f.BinaryMetaData) == 0 {
			// Copy before the first removal: info's map is the caller's.
			f.MetaData = maps.Clone(info.MetaData)
		}
		delete(f.MetaData, k)
		f.BinaryMetaData = append(f.BinaryMetaData, metaPair{Key: []byte(k), Value: []byte(v)})
	}
	slices.SortFunc(f.BinaryMetaData, func(a, b metaPair) int { return slices.Compare(a.Key, b.Key) })
	return json.Marshal(f)
}

// decodeInfo parses the content of the info file of upload id and checks
// it with checkInfo. The returned info has Offset 0.
func decodeInfo(id string, raw []byte) (tus.FileInfo, error) {
	var f infoFile
	if err := json.Unmarshal(raw, &f); err != nil {
		if len(raw) == 0 {
			return tus.FileInfo{}, errors.New("empty file")
		}
		return tus.FileInfo{}, fmt.Errorf("unparsable JSON (%d bytes): %w", len(raw), err)
	}
	info := f.FileInfo
	if len(f.BinaryMetaData) > 0 && info.MetaData == nil {
		info.MetaData = make(tus.MetaData, len(f.BinaryMetaData))
	}
	for _, p := range f.BinaryMetaData {
		info.MetaData[string(p.Key)] = string(p.Value)
	}
	if err := checkInfo(id, info); err != nil {
		return tus.FileInfo{}, err
	}
	info.Offset = 0
	return info, nil
}

// cloneInfo returns a copy of info that shares no map or slice with it.
func cloneInfo(info tus.FileInfo) tus.FileInfo {
	info.MetaData = maps.Clone(info.MetaData)
	info.PartialUploads = slices.Clone(info.PartialUploads)
	info.Storage = maps.Clone(info.Storage)
	return info
}

// createInfo writes the info file of a new upload at path, which must not
// exist yet. On failure nothing is left at path.
func createInfo(path string, info tus.FileInfo) error {
	raw, err := encodeInfo(info)
	if err != nil {
		return fmt.Errorf("encode info: %w", err)
	}
	f, err := openFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create info file: %w", tus.ErrUploadExists)
		}
		return fmt.Errorf("create info file: %w", err)
	}
	_, err = f.Write(raw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write info file: %w", err)
	}
	return nil
}

// writeInfo replaces the info file at path atomically: it writes the
// upload's temporary info file (tempInfoPath) in the store's directory,
// fsyncs it if sync is set, and renames it over path. The temporary file's
// name starts with '.', so it never collides with a file of an upload, and
// is the same for every write of the upload: writes hold the upload's
// lock, so one at a time uses it, and Terminate removes one path instead
// of searching the directory. On failure the temporary file is removed.
// The directory is not fsynced.
func (s *FileStore) writeInfo(path string, info tus.FileInfo, sync bool) (err error) {
	raw, err := encodeInfo(info)
	if err != nil {
		return fmt.Errorf("encode info: %w", err)
	}
	tmpPath := s.tempInfoPath(info.ID)
	tmp, err := os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, filePerm)
	if err != nil {
		return fmt.Errorf("create temporary info file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close() // may already be closed; the error is irrelevant then
			_ = os.Remove(tmpPath)
		}
	}()
	if filepath.Dir(tmpPath) != s.dir {
		return fmt.Errorf("temporary info file %q is outside the store", tmpPath)
	}
	if _, err := tmp.Write(raw); err != nil {
		return fmt.Errorf("write temporary info file: %w", err)
	}
	if err := tmp.Chmod(filePerm); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("chmod temporary info file: %w", err)
	}
	if sync {
		if err := fsync(tmp, true); err != nil {
			return fmt.Errorf("sync temporary info file: %w", err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temporary info file: %w", err)
	}
	if err := os.Rename(tmpPath, path); err != nil {
		return fmt.Errorf("replace info file: %w", err)
	}
	return nil
}

// DeclareLength sets the upload's Size to length and clears SizeIsDeferred
// and AnnouncedSize.
// It replaces the info file atomically and, unless the store has NoSync set,
// durably (the new file and the directory are fsynced). The cached info is
// updated only on success.
//
// It fails with an error wrapping tus.ErrInvalidUploadLength if length is
// negative, with one wrapping tus.ErrNotFound if the data file is gone, with
// one wrapping tus.ErrCorruptUpload if the upload's record is damaged, and
// with one wrapping tus.ErrInsufficientStorage if the disk is full; then
// the old info file stays as it was.
func (u *upload) DeclareLength(ctx context.Context, length int64) error {
	if u.corrupt != nil {
		return fmt.Errorf("filestore: declare length %q: %w", u.info.ID, u.corrupt)
	}
	if length < 0 {
		return fmt.Errorf("filestore: declare length %q: length %d: %w", u.info.ID, length, tus.ErrInvalidUploadLength)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("filestore: declare length %q: %w", u.info.ID, err)
	}
	// Do not resurrect the info file of a terminated upload.
	if _, err := os.Stat(u.dataPath); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("filestore: declare length %q: %w", u.info.ID, tus.ErrNotFound)
		}
		return fmt.Errorf("filestore: declare length %q: %w", u.info.ID, err)
	}
	info := cloneInfo(u.info)
	info.Size = length
	info.SizeIsDeferred = false
	info.AnnouncedSize = 0
	sync := !u.store.noSync
	if err := u.store.writeInfo(u.infoPath, info, sync); err != nil {
		return noSpace(fmt.Errorf("filestore: declare length %q: %w", u.info.ID, err))
	}
	if sync {
		if err := u.store.dirs.syncDir(); err != nil {
			return noSpace(fmt.Errorf("filestore: declare length %q: %w", u.info.ID, err))
		}
	}
	u.info = info
	return nil
}

// syncFile forces the content of the file at path, and the metadata needed
// to read it back (its size and blocks, not its times), to stable storage
// (fdatasync(2) where there is one).
func syncFile(path string) error {
	// Write access: some systems (Windows) refuse to flush read-only handles.
	f, err := openFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	serr := fsync(f, true)
	cerr := f.Close()
	if serr != nil {
		return fmt.Errorf("sync %s: %w", filepath.Base(path), serr)
	}
	return cerr
}

// syncDir fsyncs the directory dir, making the creation, renaming and
// removal of its entries durable. Systems and file systems that cannot sync
// a directory (Windows, some network and FUSE file systems) are skipped:
// there the entries are as durable as the system makes them.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := openFile(dir, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	serr := fsync(d, false)
	cerr := d.Close()
	if serr != nil && !errors.Is(serr, errors.ErrUnsupported) && !errors.Is(serr, syscall.EINVAL) {
		return fmt.Errorf("sync directory: %w", serr)
	}
	if cerr != nil {
		return fmt.Errorf("close directory: %w", cerr)
	}
	return nil
}
