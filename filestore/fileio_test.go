package filestore

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestReadFile: readFile returns exactly the content, for files shorter and
// longer than its first buffer, and the error of a missing file matches
// fs.ErrNotExist.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 1023, 1024, 1025, 5000} {
		want := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, want, filePerm); err != nil {
			t.Fatal(err)
		}
		got, err := readFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%d bytes: readFile = %d bytes, %v", n, len(got), err)
		}
	}
	if _, err := readFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

// TestOpenFileExclusive: openFile keeps O_EXCL's meaning and its error
// matches fs.ErrExist, as the store's creation relies on.
func TestOpenFileExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := openFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := openFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second exclusive create: %v, want fs.ErrExist", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm()&^filePerm != 0 {
		t.Errorf("stat: %v, %v; want at most mode %v", fi, err, fs.FileMode(filePerm))
	}
}
