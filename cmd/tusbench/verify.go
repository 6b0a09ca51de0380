package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/tusgo/tus/internal/benchkit"
)

// upload is one upload a run made: its ID (the last segment of its URL,
// or the S3 key for the SDK) and the bytes it must hold.
type upload struct {
	id   string
	size int64
}

// verifyDisk reads the data file of every upload in dir (every server here
// names it by the upload's ID) and compares it with the bytes sent.
func verifyDisk(ctx context.Context, dir string, ups []upload, gen *benchkit.Generator) error {
	return parallel(ctx, len(ups), 4, func(_ context.Context, i int) error {
		u := ups[i]
		f, err := os.Open(filepath.Join(dir, u.id))
		if err != nil {
			return fmt.Errorf("upload %s: %w", u.id, err)
		}
		defer f.Close()
		cmp, err := gen.Compare(f, u.size)
		if err != nil {
			return fmt.Errorf("upload %s: %w", u.id, err)
		}
		if !cmp.Match(gen, u.size) {
			return fmt.Errorf("upload %s: stored %d bytes, sent %d; first difference at byte %d", u.id, cmp.N, u.size, cmp.FirstDiff)
		}
		return nil
	})
}

// removeUploads removes the files of the uploads from dir: the data file
// and those the stores keep beside it (<id>.info of ours and tusd, <id>.json
// of node, <id>.lock and <id>.release of ours' locker). Names, not a glob:
// the directory may hold 100,000 other uploads.
func removeUploads(dir string, ups []upload) error {
	var errs []error
	for _, u := range ups {
		for _, suffix := range []string{"", ".info", ".json", ".lock", ".release"} {
			if err := os.Remove(filepath.Join(dir, u.id+suffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// cleanDir removes everything inside dir, keeping dir.
func cleanDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}

// syncFS writes back every dirty page of the file system holding dir
// (syncfs(2)).
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}

// bytesReader returns a reader of b.
func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// parallel runs job(0) to job(n-1) on conc workers and returns the first
// error; after an error no further jobs start and the others' context is
// canceled.
func parallel(ctx context.Context, n, conc int, job func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := job(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	if n > 0 {
		return ctx.Err()
	}
	return nil
}
