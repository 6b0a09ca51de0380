package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Usage returns the number of bytes the store's uploads take up, as
// limitedstore counts them: for every upload with a known length its Size
// (the bytes it holds and the bytes it will still receive), and for every
// upload whose length is deferred the bytes its data file holds. It
// implements tus.UsageReporter.
//
// An upload is an info file whose name is a valid upload ID followed by
// ".info"; temporary files, lock files and data files without an info file
// are not counted, and neither are the info files themselves. An upload
// whose record is damaged (see GetUpload), or whose info file cannot be
// read, counts with the size of its data file, the bytes it is known to
// hold: one bad record never makes Usage fail. The result is a snapshot:
// uploads created, written or terminated while Usage runs may or may not
// be counted. The directory is read a batch at a time.
func (s *FileStore) Usage(ctx context.Context) (int64, error) {
	var total int64
	err := s.eachUpload(ctx, func(id string) error {
		n, err := s.uploadUsage(id)
		if err != nil {
			return err
		}
		total += n
		if total < 0 {
			return fmt.Errorf("total overflows int64 at upload %q", id)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("filestore: usage: %w", err)
	}
	return total, nil
}

// uploadUsage returns what upload id counts for Usage. An upload whose files
// vanish meanwhile (it was terminated) counts 0.
func (s *FileStore) uploadUsage(id string) (int64, error) {
	held, err := s.dataSize(id)
	if err != nil {
		return 0, err
	}
	raw, err := readFile(s.infoPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		// Unreadable, but its bytes are still on disk.
		return held, nil
	}
	info, err := decodeInfo(id, raw)
	if err != nil {
		// Damaged, but its bytes are still on disk.
		return held, nil
	}
	if info.SizeIsDeferred {
		return held, nil
	}
	return max(info.Size, held), nil
}

// dataSize returns the size of the data file of id, or 0 if it is missing.
func (s *FileStore) dataSize(id string) (int64, error) {
	fi, err := os.Stat(s.dataPath(id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, fmt.Errorf("upload %q: %w", id, err)
	}
	if !fi.Mode().IsRegular() {
		return 0, nil
	}
	return fi.Size(), nil
}
