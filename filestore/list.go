package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tusgo/tus"
)

// listBatch is how many directory entries the store reads at a time when
// it walks its directory: memory stays the same whatever the number of
// uploads.
const listBatch = 256

// walkDir calls fn for each entry of the store's directory, reading it
// listBatch entries at a time, until fn returns an error (which it
// returns) or ctx ends. Entries added or removed meanwhile may or may not
// be seen.
func (s *FileStore) walkDir(ctx context.Context, fn func(fs.DirEntry) error) error {
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err := d.ReadDir(listBatch)
		for _, e := range entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// eachUpload calls fn with the ID of each upload: each regular info file
// whose name is a valid ID followed by ".info".
func (s *FileStore) eachUpload(ctx context.Context, fn func(id string) error) error {
	return s.walkDir(ctx, func(e fs.DirEntry) error {
		id, ok := strings.CutSuffix(e.Name(), infoSuffix)
		if !ok || !tus.ValidID(id) || !e.Type().IsRegular() {
			return nil
		}
		return fn(id)
	})
}

// ListUploads calls fn for every upload of the store (see tus.UploadLister):
// every info file, read and checked, with the size of its data file.
// Memory does not grow with the number of uploads: the directory is read
// a batch at a time. An upload is finished when its data file holds its
// whole length. An upload whose record is damaged or unreadable is reported
// with neither Finished nor ExpiresAt set; one removed while the listing
// runs is left out.
func (s *FileStore) ListUploads(ctx context.Context, fn func(tus.ListedUpload) error) error {
	err := s.eachUpload(ctx, func(id string) error {
		lu, ok := s.listed(id)
		if !ok {
			return nil
		}
		return fn(lu)
	})
	if err != nil {
		return fmt.Errorf("filestore: list uploads: %w", err)
	}
	return nil
}

// listed describes upload id for ListUploads; ok is false if it vanished.
func (s *FileStore) listed(id string) (lu tus.ListedUpload, ok bool) {
	lu.ID = id
	raw, err := readFile(s.infoPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return lu, false
	}
	if err != nil {
		return lu, true
	}
	info, err := decodeInfo(id, raw)
	if err != nil {
		return lu, true
	}
	held, err := s.dataSize(id)
	if err != nil {
		return lu, true
	}
	info.Offset = held
	if info.IsComplete() {
		lu.Finished = true
	} else {
		lu.ExpiresAt = info.ExpiresAt
	}
	return lu, true
}

// RemoveLeftovers removes what crashes left in the store's directory and
// was last modified before cutoff: data files without an info file (a
// creation or termination cut short; see the package documentation) and
// temporary info files (a replacement cut short). It implements
// tus.LeftoverRemover. It never touches an upload's info file, lock files
// or anything whose name is not one the store gives. It returns how many
// files it removed; one that vanished meanwhile is not counted.
func (s *FileStore) RemoveLeftovers(ctx context.Context, cutoff time.Time) (int, error) {
	removed := 0
	err := s.walkDir(ctx, func(e fs.DirEntry) error {
		name := e.Name()
		if !e.Type().IsRegular() || !s.leftover(name) {
			return nil
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !fi.ModTime().Before(cutoff) {
			return nil
		}
		if tus.ValidID(name) {
			// Checked again just before: a data file whose upload got
			// its info file meanwhile is an upload.
			if _, err := os.Stat(s.infoPath(name)); !errors.Is(err, fs.ErrNotExist) {
				return nil
			}
		}
		switch err := os.Remove(filepath.Join(s.dir, name)); {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		default:
			removed++
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("filestore: remove leftovers: %w", err)
	}
	return removed, nil
}

// leftover tells whether the file called name can be a leftover: a data
// file (a valid ID) without an info file, or a temporary info file
// (".<id>.info.tmp", or ".<id>.info.<random>.tmp" from older versions).
func (s *FileStore) leftover(name string) bool {
	if tus.ValidID(name) {
		_, err := os.Stat(s.infoPath(name))
		return errors.Is(err, fs.ErrNotExist)
	}
	rest, ok := strings.CutPrefix(name, ".")
	if !ok || !strings.HasSuffix(rest, ".tmp") {
		return false
	}
	id, _, ok := strings.Cut(rest, infoSuffix+".")
	return ok && tus.ValidID(id)
}

// ExtendExpiry records expiresAt as the upload's expiry (sliding
// expiration; see tus.ExtendableUpload). It replaces the info file
// atomically but does not fsync it: after a power loss the upload may have
// its previous expiry, which only shortens its life. It fails with an error
// wrapping tus.ErrNotFound if the upload is gone and tus.ErrCorruptUpload
// if its record is damaged.
func (u *upload) ExtendExpiry(ctx context.Context, expiresAt time.Time) error {
	if u.corrupt != nil {
		return fmt.Errorf("filestore: extend expiry %q: %w", u.info.ID, u.corrupt)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("filestore: extend expiry %q: %w", u.info.ID, err)
	}
	// Do not resurrect the info file of a terminated upload.
	if _, err := os.Stat(u.infoPath); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("filestore: extend expiry %q: %w", u.info.ID, tus.ErrNotFound)
		}
		return fmt.Errorf("filestore: extend expiry %q: %w", u.info.ID, err)
	}
	info := cloneInfo(u.info)
	info.ExpiresAt = expiresAt
	if err := u.store.writeInfo(u.infoPath, info, false); err != nil {
		return noSpace(fmt.Errorf("filestore: extend expiry %q: %w", u.info.ID, err))
	}
	u.info = info
	return nil
}
