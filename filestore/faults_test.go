package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/tusgo/tus"
)

// assertNoSpace fails unless err wraps tus.ErrInsufficientStorage, answers
// 507 and still says, on one line, what failed.
func assertNoSpace(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, tus.ErrInsufficientStorage) {
		t.Fatalf("%s = %v, want an error wrapping ErrInsufficientStorage", what, err)
	}
	var te *tus.Error
	if !errors.As(err, &te) || te.Status != http.StatusInsufficientStorage {
		t.Errorf("%s: error answers as %v, want 507", what, te)
	}
	if msg := err.Error(); !strings.Contains(msg, "filestore: ") || strings.Contains(msg, "\n") {
		t.Errorf("%s: message %q is not one line from the store", what, msg)
	}
}

func TestNoSpace(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT} {
		cause := fmt.Errorf("filestore: x: %w", &fs.PathError{Op: "write", Path: "/d/x", Err: errno})
		err := noSpace(cause)
		assertNoSpace(t, errno.Error(), err)
		if !errors.Is(err, errno) || err.Error() != cause.Error() {
			t.Errorf("noSpace(%v) = %v: lost the cause", cause, err)
		}
		if again := noSpace(err); again != err {
			t.Errorf("noSpace wrapped twice")
		}
	}
	for _, err := range []error{nil, errors.New("other"), fmt.Errorf("x: %w", syscall.EIO)} {
		if got := noSpace(err); got != err {
			t.Errorf("noSpace(%v) = %v, want it unchanged", err, got)
		}
	}
}

// fullDisk is a data file that takes okBytes and then fails with ENOSPC,
// reporting the bytes of the failing write it did store.
type fullDisk struct {
	*os.File
	okBytes int
}

func (d *fullDisk) Write(p []byte) (int, error) {
	if len(p) <= d.okBytes {
		d.okBytes -= len(p)
		return d.File.Write(p)
	}
	n, err := d.File.Write(p[:d.okBytes])
	d.okBytes = 0
	if err != nil {
		return n, err
	}
	return n, &fs.PathError{Op: "write", Path: d.Name(), Err: syscall.ENOSPC}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r    *bytes.Reader
	read int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

// TestWriteChunkNoSpace fills the disk in the middle of a chunk: WriteChunk
// keeps and counts the bytes the system took, fails with
// ErrInsufficientStorage, and stops reading its source at once.
func TestWriteChunkNoSpace(t *testing.T) {
	const bufSize = 1024
	s, _ := testStore(t, Options{})
	s.setBufferSize(bufSize)
	up := create(t, s, "abc", 1<<20).(*upload)
	write(t, up, 0, []byte("pre"))
	f, err := os.OpenFile(s.dataPath("abc"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src := &countingReader{r: bytes.NewReader(bytes.Repeat([]byte("x"), 100*bufSize))}
	n, err := up.writeAt(&fullDisk{File: f, okBytes: 2*bufSize + 100}, 3, src)
	assertNoSpace(t, "WriteChunk", err)
	if n != 2*bufSize+100 {
		t.Errorf("n = %d, want %d", n, 2*bufSize+100)
	}
	if off := offsetOf(t, up); off != 3+n {
		t.Errorf("data file holds %d bytes, want %d", off, 3+n)
	}
	if src.read != 3*bufSize {
		t.Errorf("WriteChunk read %d bytes of its source after the disk filled up, want %d (no more than the failing buffer)", src.read, 3*bufSize)
	}
}

// TestWriteChunkDevFull writes into /dev/full, which fails every write with
// ENOSPC.
func TestWriteChunkDevFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	s, _ := testStore(t, Options{})
	up := create(t, s, "abc", 10)
	if err := os.Remove(s.dataPath("abc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", s.dataPath("abc")); err != nil {
		t.Skip("cannot symlink:", err)
	}
	n, err := up.WriteChunk(context.Background(), 0, strings.NewReader("hello"))
	if n != 0 {
		t.Errorf("n = %d, want 0", n)
	}
	assertNoSpace(t, "WriteChunk", err)
}

// failSync makes every fsync fail with ENOSPC until the test ends.
func failSync(t *testing.T) {
	orig := fsync
	fsync = func(f *os.File, _ bool) error {
		return &fs.PathError{Op: "sync", Path: f.Name(), Err: syscall.ENOSPC}
	}
	t.Cleanup(func() { fsync = orig })
}

// TestFinishUploadNoSpace: a file system that allocates late reports a full
// disk at the fsync.
func TestFinishUploadNoSpace(t *testing.T) {
	s, _ := testStore(t, Options{})
	up := create(t, s, "abc", 2)
	write(t, up, 0, []byte("hi"))
	failSync(t)
	assertNoSpace(t, "FinishUpload", up.FinishUpload(context.Background()))
}

// TestDeclareLengthNoSpace: the new info file cannot be made durable; the
// old one stays, with no temporary file left, and the cached info is
// unchanged.
func TestDeclareLengthNoSpace(t *testing.T) {
	ctx := context.Background()
	s, _ := testStore(t, Options{})
	up, err := s.NewUpload(ctx, tus.FileInfo{ID: "abc", SizeIsDeferred: true})
	if err != nil {
		t.Fatal(err)
	}
	failSync(t)
	assertNoSpace(t, "DeclareLength", s.AsLengthDeclarableUpload(up).DeclareLength(ctx, 10))
	if got := listDir(t, s.Dir()); !slices.Equal(got, []string{"abc", "abc.info"}) {
		t.Errorf("directory holds %q, want only the upload's files", got)
	}
	if info, err := up.GetInfo(ctx); err != nil || !info.SizeIsDeferred {
		t.Errorf("GetInfo = %+v, %v; want the length still deferred", info, err)
	}
}
