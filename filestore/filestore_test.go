package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tusgo/tus"
)

// testStore returns a store in <root>/store and root, a fresh temporary
// directory holding nothing else, so tests can check that nothing appears
// outside the store's directory.
func testStore(t *testing.T, opts Options) (*FileStore, string) {
	t.Helper()
	root := t.TempDir()
	s, err := NewWithOptions(filepath.Join(root, "store"), opts)
	if err != nil {
		t.Fatalf("NewWithOptions: %v", err)
	}
	return s, root
}

// listDir returns the sorted names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// assertOnlyStore fails unless root holds only the store directory.
func assertOnlyStore(t *testing.T, root string) {
	t.Helper()
	if got := listDir(t, root); !slices.Equal(got, []string{"store"}) {
		t.Errorf("root holds %q, want only the store directory", got)
	}
}

// create makes an upload with the given ID and size.
func create(t *testing.T, s *FileStore, id string, size int64) tus.Upload {
	t.Helper()
	up, err := s.NewUpload(context.Background(), tus.FileInfo{ID: id, Size: size})
	if err != nil {
		t.Fatalf("NewUpload(%q): %v", id, err)
	}
	return up
}

// write writes data at offset and fails the test on error.
func write(t *testing.T, up tus.Upload, offset int64, data []byte) {
	t.Helper()
	n, err := up.WriteChunk(context.Background(), offset, bytes.NewReader(data))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("WriteChunk: n=%d err=%v, want %d, nil", n, err, len(data))
	}
}

// offsetOf returns the upload's offset.
func offsetOf(t *testing.T, up tus.Upload) int64 {
	t.Helper()
	info, err := up.GetInfo(context.Background())
	if err != nil {
		t.Fatalf("GetInfo: %v", err)
	}
	return info.Offset
}

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// invalidIDs are IDs that tus.ValidID rejects, several of which would name
// a path outside the store or a file of another upload.
var invalidIDs = []string{
	"", "../x", "a/b", "..", ".", "/etc/passwd", `a\b`, "x.info", ".hidden",
	"a\x00b", "ü", strings.Repeat("a", tus.MaxIDLength+1), "../store/x",
}

func TestNew(t *testing.T) {
	root := t.TempDir()
	nested := filepath.Join(root, "a", "b", "c")
	s, err := New(nested)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if fi, err := os.Stat(nested); err != nil || !fi.IsDir() {
		t.Fatalf("directory not created: %v", err)
	}
	if !filepath.IsAbs(s.Dir()) || s.Dir() != nested {
		t.Errorf("Dir() = %q, want %q", s.Dir(), nested)
	}
	if _, err := New(nested); err != nil {
		t.Errorf("New on existing directory: %v", err)
	}

	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"", file, filepath.Join(file, "sub")} {
		if _, err := New(dir); err == nil {
			t.Errorf("New(%q) succeeded, want error", dir)
		}
	}

	t.Chdir(root)
	s, err = NewWithOptions("rel", Options{Sync: SyncNone})
	if err != nil {
		t.Fatalf("NewWithOptions: %v", err)
	}
	if s.Dir() != filepath.Join(root, "rel") || !s.noSync {
		t.Errorf("Dir() = %q, noSync = %v", s.Dir(), s.noSync)
	}
}

func TestUseIn(t *testing.T) {
	s, _ := testStore(t, Options{})
	c := tus.NewStoreComposer()
	s.UseIn(c)
	if c.Core != s || c.Terminater != s || c.Concater != s || c.LengthDeferrer != s || c.ContentServer != s ||
		c.UsageReporter != s || c.Lister != s || c.Leftovers != s || c.Extender != s {
		t.Errorf("UseIn did not register every part: %+v", c)
	}
	if c.UsesLocker() {
		t.Error("UseIn registered a locker")
	}
}

func TestNewUpload(t *testing.T) {
	tests := []struct {
		name    string
		ctx     context.Context
		info    tus.FileInfo
		prepare func(t *testing.T, s *FileStore)
		wantErr error // nil: success; errAny: any error
	}{
		{name: "ok", info: tus.FileInfo{ID: "abc", Size: 10, MetaData: tus.MetaData{"k": "v"}}},
		{name: "offset and storage ignored", info: tus.FileInfo{ID: "abc", Offset: 7, Storage: map[string]string{"Path": "/etc/passwd"}}},
		{name: "deferred", info: tus.FileInfo{ID: "abc", SizeIsDeferred: true}},
		{name: "exists", info: tus.FileInfo{ID: "abc"}, prepare: func(t *testing.T, s *FileStore) {
			create(t, s, "abc", 1)
		}, wantErr: tus.ErrUploadExists},
		{name: "data file exists alone", info: tus.FileInfo{ID: "abc"}, prepare: func(t *testing.T, s *FileStore) {
			if err := os.WriteFile(s.dataPath("abc"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, wantErr: tus.ErrUploadExists},
		{name: "cancelled", ctx: cancelled(), info: tus.FileInfo{ID: "abc"}, wantErr: context.Canceled},
	}
	for _, id := range invalidIDs {
		tests = append(tests, struct {
			name    string
			ctx     context.Context
			info    tus.FileInfo
			prepare func(t *testing.T, s *FileStore)
			wantErr error
		}{name: "invalid " + id, info: tus.FileInfo{ID: id}, wantErr: tus.ErrInvalidID})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, root := testStore(t, Options{})
			if tt.prepare != nil {
				tt.prepare(t, s)
			}
			before := listDir(t, s.Dir())
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			up, err := s.NewUpload(ctx, tt.info)
			defer assertOnlyStore(t, root)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || up != nil {
					t.Fatalf("NewUpload = %v, %v; want error wrapping %v", up, err, tt.wantErr)
				}
				if after := listDir(t, s.Dir()); !slices.Equal(before, after) {
					t.Errorf("failed NewUpload changed the directory: %q -> %q", before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewUpload: %v", err)
			}
			id := tt.info.ID
			if got, want := listDir(t, s.Dir()), []string{id, id + ".info"}; !slices.Equal(got, want) {
				t.Errorf("directory holds %q, want %q", got, want)
			}
			info, err := up.GetInfo(context.Background())
			if err != nil {
				t.Fatalf("GetInfo: %v", err)
			}
			want := tt.info
			want.Offset = 0
			want.Storage = map[string]string{
				"Type":     "filestore",
				"Path":     filepath.Join(s.Dir(), id),
				"InfoPath": filepath.Join(s.Dir(), id+".info"),
			}
			assertInfo(t, info, want)

			// The info file is a marshalled tus.FileInfo.
			raw, err := os.ReadFile(s.infoPath(id))
			if err != nil {
				t.Fatal(err)
			}
			var onDisk tus.FileInfo
			if err := json.Unmarshal(raw, &onDisk); err != nil {
				t.Fatalf("info file is not a FileInfo: %v", err)
			}
			assertInfo(t, onDisk, want)
		})
	}
}

// assertInfo compares two FileInfos field by field.
func assertInfo(t *testing.T, got, want tus.FileInfo) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("info = %s\nwant   %s", g, w)
	}
}

func TestNewUploadDoesNotAliasCallerMaps(t *testing.T) {
	s, _ := testStore(t, Options{})
	md := tus.MetaData{"k": "v", "bad": "\xff"}
	up, err := s.NewUpload(context.Background(), tus.FileInfo{ID: "abc", MetaData: md})
	if err != nil {
		t.Fatal(err)
	}
	md["k"] = "changed"
	if len(md) != 2 || md["bad"] != "\xff" {
		t.Errorf("NewUpload changed the caller's metadata: %q", md)
	}
	info, _ := up.GetInfo(context.Background())
	if info.MetaData["k"] != "v" {
		t.Errorf("upload shares the caller's metadata map")
	}
	info.MetaData["k"] = "mutated"
	info2, _ := up.GetInfo(context.Background())
	if info2.MetaData["k"] != "v" {
		t.Errorf("GetInfo returns the cached metadata map")
	}
}

func TestGetUpload(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		info    string // if set, written as the info file of id before GetUpload
		data    bool   // create the data file as well
		wantErr error  // nil: success; errCorrupt: found, but GetInfo fails with ErrCorruptUpload
	}{
		{name: "ok", id: "abc", info: `{"ID":"abc","Size":5,"MetaData":{"a":"b"}}`, data: true},
		{name: "unknown", id: "nope", wantErr: tus.ErrNotFound},
		{name: "data only", id: "abc", data: true, wantErr: tus.ErrNotFound},
		{name: "garbage", id: "abc", info: "not json", data: true, wantErr: errCorrupt},
		{name: "truncated", id: "abc", info: `{"ID":"abc","Si`, data: true, wantErr: errCorrupt},
		{name: "empty", id: "abc", info: " ", data: true, wantErr: errCorrupt},
		{name: "null", id: "abc", info: "null", data: true, wantErr: errCorrupt},
		{name: "wrong type", id: "abc", info: `{"ID":"abc","Size":"big"}`, data: true, wantErr: errCorrupt},
		{name: "other ID", id: "abc", info: `{"ID":"other","Size":5}`, data: true, wantErr: errCorrupt},
		{name: "invalid ID inside", id: "abc", info: `{"ID":"../abc","Size":5}`, data: true, wantErr: errCorrupt},
		{name: "bad binary metadata", id: "abc", info: `{"ID":"abc","BinaryMetaData":[{"Key":"%%%","Value":""}]}`, data: true, wantErr: errCorrupt},
	}
	for _, id := range invalidIDs {
		tests = append(tests, struct {
			name    string
			id      string
			info    string
			data    bool
			wantErr error
		}{name: "invalid " + id, id: id, wantErr: tus.ErrNotFound})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, root := testStore(t, Options{})
			defer assertOnlyStore(t, root)
			// A file right outside the store named like the traversal
			// target, to show it is never read.
			if err := os.WriteFile(filepath.Join(root, "x.info"), []byte(`{"ID":"x"}`), 0o600); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(filepath.Join(root, "x.info"))
			if tt.info != "" {
				if err := os.WriteFile(s.infoPath(tt.id), []byte(tt.info), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tt.data {
				if err := os.WriteFile(s.dataPath(tt.id), []byte("hel"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			up, err := s.GetUpload(context.Background(), tt.id)
			switch tt.wantErr {
			case nil:
				if err != nil {
					t.Fatalf("GetUpload: %v", err)
				}
				info, err := up.GetInfo(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if info.ID != tt.id || info.Size != 5 || info.Offset != 3 || info.MetaData["a"] != "b" ||
					info.Storage["Path"] != s.dataPath(tt.id) {
					t.Errorf("info = %+v", info)
				}
			case errCorrupt:
				if err != nil || up == nil {
					t.Fatalf("GetUpload = %v, %v; want the damaged upload", up, err)
				}
				_, err := up.GetInfo(context.Background())
				if !errors.Is(err, tus.ErrCorruptUpload) || !strings.Contains(err.Error(), "corrupt") {
					t.Errorf("GetInfo = %v, want an error wrapping ErrCorruptUpload", err)
				}
				if err := s.AsTerminatableUpload(up).Terminate(context.Background()); err != nil {
					t.Errorf("Terminate: %v", err)
				}
			default:
				if !errors.Is(err, tt.wantErr) || up != nil {
					t.Fatalf("GetUpload = %v, %v; want error wrapping %v", up, err, tt.wantErr)
				}
			}
		})
	}
}

// errCorrupt marks test cases expecting a corrupt-info error.
var errCorrupt = errors.New("corrupt")

func TestGetUploadReadsInfoOnce(t *testing.T) {
	s, _ := testStore(t, Options{})
	create(t, s, "abc", 10)
	up, err := s.GetUpload(context.Background(), "abc")
	if err != nil {
		t.Fatal(err)
	}
	// Break the info file: the upload keeps working from its cached copy.
	if err := os.WriteFile(s.infoPath("abc"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	write(t, up, 0, []byte("12345"))
	info, err := up.GetInfo(context.Background())
	if err != nil || info.Size != 10 || info.Offset != 5 {
		t.Errorf("GetInfo = %+v, %v", info, err)
	}
}

func TestGetInfo(t *testing.T) {
	s, _ := testStore(t, Options{})
	up := create(t, s, "abc", 10)
	if got := offsetOf(t, up); got != 0 {
		t.Errorf("offset = %d, want 0", got)
	}
	write(t, up, 0, []byte("1234"))
	if got := offsetOf(t, up); got != 4 {
		t.Errorf("offset = %d, want 4", got)
	}
	if err := os.Remove(s.dataPath("abc")); err != nil {
		t.Fatal(err)
	}
	// An info file without its data file is damage, not a termination.
	if _, err := up.GetInfo(context.Background()); !errors.Is(err, tus.ErrCorruptUpload) {
		t.Errorf("GetInfo without data file: %v, want ErrCorruptUpload", err)
	}
	if err := os.Mkdir(s.dataPath("abc"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := up.GetInfo(context.Background()); !errors.Is(err, tus.ErrCorruptUpload) {
		t.Errorf("GetInfo with a directory as data file: %v, want ErrCorruptUpload", err)
	}
	if err := os.Remove(s.dataPath("abc")); err != nil {
		t.Fatal(err)
	}
	// Both gone: terminated meanwhile.
	if err := os.Remove(s.infoPath("abc")); err != nil {
		t.Fatal(err)
	}
	if _, err := up.GetInfo(context.Background()); !errors.Is(err, tus.ErrNotFound) {
		t.Errorf("GetInfo without either file: %v, want ErrNotFound", err)
	}
}

// failingReader returns data, then err (in a separate Read, or together with
// the last bytes if together is set).
type failingReader struct {
	data     []byte
	err      error
	together bool
	maxRead  int
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	if r.maxRead > 0 && len(p) > r.maxRead {
		p = p[:r.maxRead]
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 && r.together {
		return n, r.err
	}
	return n, nil
}

// emptyReader returns (0, nil) forever.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestWriteChunk(t *testing.T) {
	errBoom := errors.New("boom")
	checksumErr := func() error { return errors.Join(errors.New("sha1"), tus.ErrChecksumMismatch) }
	big := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), 40000) // > 1 MiB, several buffers

	tests := []struct {
		name     string
		prefix   string // written before the test chunk
		ctx      context.Context
		offset   int64
		src      io.Reader
		removed  bool  // data file removed before writing
		wantN    int64 // bytes WriteChunk reports
		wantErr  error // errors.Is target, nil for success, errAnyErr for any
		wantData string
	}{
		{name: "first chunk", src: strings.NewReader("hello"), wantN: 5, wantData: "hello"},
		{name: "append", prefix: "hello", offset: 5, src: strings.NewReader(" world"), wantN: 6, wantData: "hello world"},
		{name: "empty chunk", prefix: "ab", offset: 2, src: strings.NewReader(""), wantData: "ab"},
		{name: "many buffers", src: bytes.NewReader(big), wantN: int64(len(big)), wantData: string(big)},
		{name: "small reads", src: &failingReader{data: big, err: io.EOF, maxRead: 1000}, wantN: int64(len(big)), wantData: string(big)},
		{name: "EOF with data", src: &failingReader{data: []byte("xyz"), err: io.EOF, together: true}, wantN: 3, wantData: "xyz"},
		{name: "offset ahead", prefix: "ab", offset: 5, src: strings.NewReader("x"), wantErr: tus.ErrMismatchOffset, wantData: "ab"},
		{name: "offset behind", prefix: "abcd", offset: 2, src: strings.NewReader("x"), wantErr: tus.ErrMismatchOffset, wantData: "abcd"},
		{name: "offset on empty", offset: 1, src: strings.NewReader("x"), wantErr: tus.ErrMismatchOffset},
		{name: "negative offset", offset: -1, src: strings.NewReader("x"), wantErr: tus.ErrMismatchOffset},
		{name: "read error keeps bytes", prefix: "ab", offset: 2, src: &failingReader{data: []byte("cdefg"), err: errBoom},
			wantN: 5, wantErr: errBoom, wantData: "abcdefg"},
		{name: "read error with data", src: &failingReader{data: []byte("cdefg"), err: errBoom, together: true},
			wantN: 5, wantErr: errBoom, wantData: "cdefg"},
		{name: "read error after many buffers", src: &failingReader{data: big, err: errBoom},
			wantN: int64(len(big)), wantErr: errBoom, wantData: string(big)},
		{name: "interrupted keeps bytes", src: &failingReader{data: []byte("abc"), err: tus.ErrUploadInterrupted},
			wantN: 3, wantErr: tus.ErrUploadInterrupted, wantData: "abc"},
		{name: "checksum mismatch discards", prefix: "keep", offset: 4, src: &failingReader{data: []byte("drop me"), err: checksumErr()},
			wantErr: tus.ErrChecksumMismatch, wantData: "keep"},
		{name: "checksum mismatch with data", prefix: "keep", offset: 4, src: &failingReader{data: []byte("drop me"), err: checksumErr(), together: true},
			wantErr: tus.ErrChecksumMismatch, wantData: "keep"},
		{name: "checksum mismatch after many buffers", src: &failingReader{data: big, err: checksumErr()},
			wantErr: tus.ErrChecksumMismatch, wantData: ""},
		{name: "no progress", src: emptyReader{}, wantErr: io.ErrNoProgress},
		{name: "data file gone", src: strings.NewReader("x"), removed: true, wantErr: tus.ErrNotFound},
		{name: "cancelled", ctx: cancelled(), src: strings.NewReader("x"), wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, root := testStore(t, Options{})
			defer assertOnlyStore(t, root)
			up := create(t, s, "abc", 1<<30)
			if tt.prefix != "" {
				write(t, up, 0, []byte(tt.prefix))
			}
			if tt.removed {
				if err := os.Remove(s.dataPath("abc")); err != nil {
					t.Fatal(err)
				}
			}
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			n, err := up.WriteChunk(ctx, tt.offset, tt.src)
			if n != tt.wantN {
				t.Errorf("n = %d, want %d", n, tt.wantN)
			}
			if tt.wantErr == nil && err != nil {
				t.Fatalf("WriteChunk: %v", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("WriteChunk error = %v, want one wrapping %v", err, tt.wantErr)
			}
			if tt.removed {
				if _, err := os.Stat(s.dataPath("abc")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("WriteChunk recreated the data file: %v", err)
				}
				return
			}
			got, err := os.ReadFile(s.dataPath("abc"))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.wantData {
				t.Errorf("data file holds %d bytes %.40q, want %d bytes %.40q", len(got), got, len(tt.wantData), tt.wantData)
			}
			if off := offsetOf(t, up); off != int64(len(tt.wantData)) {
				t.Errorf("offset = %d, want %d", off, len(tt.wantData))
			}
		})
	}
}

func TestWriteChunkSourceErrorReturnedAsIs(t *testing.T) {
	s, _ := testStore(t, Options{})
	up := create(t, s, "abc", 10)
	errBoom := errors.New("boom")
	_, err := up.WriteChunk(context.Background(), 0, &failingReader{data: []byte("a"), err: errBoom})
	if err != errBoom {
		t.Errorf("error = %v, want the source's error itself", err)
	}
	checksum := errors.Join(errors.New("md5"), tus.ErrChecksumMismatch)
	_, err = up.WriteChunk(context.Background(), 1, &failingReader{data: []byte("b"), err: checksum})
	if err != checksum {
		t.Errorf("error = %v, want the source's error itself", err)
	}
}

// lyingDisk is a data file whose writes fail after putting more bytes on
// disk than they report, as a failing device or network file system may:
// the first writes succeed, then one write stores all its bytes, reports
// only half of them and fails.
type lyingDisk struct {
	*os.File
	okWrites      int
	truncateFails bool
}

var errDisk = errors.New("disk on fire")

func (d *lyingDisk) Write(p []byte) (int, error) {
	if d.okWrites > 0 {
		d.okWrites--
		return d.File.Write(p)
	}
	n, err := d.File.Write(p)
	if err != nil {
		return n, err
	}
	return n / 2, errDisk
}

func (d *lyingDisk) Truncate(size int64) error {
	if d.truncateFails {
		return errors.New("truncate refused")
	}
	return d.File.Truncate(size)
}

func TestWriteChunkDiskFailure(t *testing.T) {
	const bufSize = 1024
	tests := []struct {
		name          string
		okWrites      int
		truncateFails bool
		wantN         int64
		wantSize      int64 // of the data file afterwards: prefix + wantN unless truncation fails
	}{
		{name: "first write", okWrites: 0, wantN: bufSize / 2, wantSize: 3 + bufSize/2},
		{name: "third write", okWrites: 2, wantN: 2*bufSize + bufSize/2, wantSize: 3 + 2*bufSize + bufSize/2},
		{name: "truncate fails", okWrites: 1, truncateFails: true, wantN: bufSize + bufSize/2, wantSize: 3 + 2*bufSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := testStore(t, Options{})
			s.setBufferSize(bufSize)
			up := create(t, s, "abc", 1<<20).(*upload)
			write(t, up, 0, []byte("pre"))
			f, err := os.OpenFile(s.dataPath("abc"), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			disk := &lyingDisk{File: f, okWrites: tt.okWrites, truncateFails: tt.truncateFails}
			src := bytes.NewReader(bytes.Repeat([]byte("x"), 10*bufSize))
			n, err := up.writeAt(disk, 3, src)
			if !errors.Is(err, errDisk) {
				t.Errorf("error = %v, want the disk's error", err)
			}
			if tt.truncateFails != strings.Contains(fmt.Sprint(err), "truncate refused") {
				t.Errorf("error = %v; truncation failure reported: %v", err, !tt.truncateFails)
			}
			if n != tt.wantN {
				t.Errorf("n = %d, want %d", n, tt.wantN)
			}
			if off := offsetOf(t, up); off != tt.wantSize {
				t.Errorf("data file holds %d bytes, want %d", off, tt.wantSize)
			}
		})
	}
}

func TestFinishUpload(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(map[bool]string{false: "sync", true: "nosync"}[noSync], func(t *testing.T) {
			s, _ := testStore(t, Options{NoSync: noSync})
			up := create(t, s, "abc", 5)
			write(t, up, 0, []byte("hello"))
			if err := up.FinishUpload(context.Background()); err != nil {
				t.Fatalf("FinishUpload: %v", err)
			}
			// FinishUpload ignores ctx: the bytes are all there.
			if err := up.FinishUpload(cancelled()); err != nil {
				t.Errorf("FinishUpload with a cancelled ctx: %v", err)
			}
			info, err := up.GetInfo(context.Background())
			if err != nil || !info.IsComplete() {
				t.Errorf("GetInfo = %+v, %v; want complete", info, err)
			}
			if err := os.Remove(s.dataPath("abc")); err != nil {
				t.Fatal(err)
			}
			if err := up.FinishUpload(context.Background()); !errors.Is(err, tus.ErrNotFound) {
				t.Errorf("FinishUpload without data file: %v, want ErrNotFound", err)
			}
		})
	}
}

func TestDeclareLength(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(map[bool]string{false: "sync", true: "nosync"}[noSync], func(t *testing.T) {
			s, root := testStore(t, Options{NoSync: noSync})
			defer assertOnlyStore(t, root)
			ctx := context.Background()
			up, err := s.NewUpload(ctx, tus.FileInfo{ID: "abc", SizeIsDeferred: true, MetaData: tus.MetaData{"name": "x"}})
			if err != nil {
				t.Fatal(err)
			}
			write(t, up, 0, []byte("abc"))
			ld := s.AsLengthDeclarableUpload(up)
			if err := ld.DeclareLength(ctx, -1); !errors.Is(err, tus.ErrInvalidUploadLength) {
				t.Errorf("DeclareLength(-1) = %v, want ErrInvalidUploadLength", err)
			}
			if err := ld.DeclareLength(ctx, 100); err != nil {
				t.Fatalf("DeclareLength: %v", err)
			}
			// The cached info is updated...
			info, err := up.GetInfo(ctx)
			if err != nil || info.Size != 100 || info.SizeIsDeferred || info.Offset != 3 || info.MetaData["name"] != "x" {
				t.Errorf("GetInfo after DeclareLength = %+v, %v", info, err)
			}
			// ...and so is the file.
			again, err := s.GetUpload(ctx, "abc")
			if err != nil {
				t.Fatal(err)
			}
			info, err = again.GetInfo(ctx)
			if err != nil || info.Size != 100 || info.SizeIsDeferred || info.Offset != 3 || info.MetaData["name"] != "x" {
				t.Errorf("GetInfo of reloaded upload = %+v, %v", info, err)
			}
			if got, want := listDir(t, s.Dir()), []string{"abc", "abc.info"}; !slices.Equal(got, want) {
				t.Errorf("directory holds %q, want %q (no temporary files)", got, want)
			}

			if err := os.Remove(s.dataPath("abc")); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(s.infoPath("abc")); err != nil {
				t.Fatal(err)
			}
			if err := ld.DeclareLength(ctx, 200); !errors.Is(err, tus.ErrNotFound) {
				t.Errorf("DeclareLength of a removed upload = %v, want ErrNotFound", err)
			}
			if got := listDir(t, s.Dir()); len(got) != 0 {
				t.Errorf("DeclareLength of a removed upload left %q", got)
			}
		})
	}
}

func TestDeclareLengthFailureKeepsCache(t *testing.T) {
	s, _ := testStore(t, Options{})
	up, err := s.NewUpload(context.Background(), tus.FileInfo{ID: "abc", SizeIsDeferred: true})
	if err != nil {
		t.Fatal(err)
	}
	// Make the rename fail: the info path becomes a non-empty directory.
	if err := os.Remove(s.infoPath("abc")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(s.infoPath("abc"), "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.AsLengthDeclarableUpload(up).DeclareLength(context.Background(), 10); err == nil {
		t.Fatal("DeclareLength succeeded, want error")
	}
	info, _ := up.GetInfo(context.Background())
	if !info.SizeIsDeferred {
		t.Errorf("failed DeclareLength changed the cached info: %+v", info)
	}
	for _, name := range listDir(t, s.Dir()) {
		if strings.HasPrefix(name, ".") {
			t.Errorf("temporary file %q left behind", name)
		}
	}
}

func TestTerminate(t *testing.T) {
	tests := []struct {
		name       string
		data, info bool
		wantErr    error
	}{
		{name: "both", data: true, info: true},
		{name: "data only", data: true},
		{name: "info only", info: true},
		{name: "neither", wantErr: tus.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, root := testStore(t, Options{})
			defer assertOnlyStore(t, root)
			up := create(t, s, "abc", 5)
			write(t, up, 0, []byte("hi"))
			// Files of the locker and of another upload must survive.
			for _, name := range []string{"abc.lock", "abc.release"} {
				if err := os.WriteFile(filepath.Join(s.Dir(), name), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			create(t, s, "other", 5)
			if !tt.data {
				os.Remove(s.dataPath("abc"))
			}
			if !tt.info {
				os.Remove(s.infoPath("abc"))
			}
			err := s.AsTerminatableUpload(up).Terminate(context.Background())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Terminate = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Terminate: %v", err)
			}
			if got, want := listDir(t, s.Dir()), []string{"abc.lock", "abc.release", "other", "other.info"}; !slices.Equal(got, want) {
				t.Errorf("directory holds %q, want %q", got, want)
			}
			if _, err := s.GetUpload(context.Background(), "abc"); !errors.Is(err, tus.ErrNotFound) {
				t.Errorf("GetUpload after Terminate = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestConcatUploads(t *testing.T) {
	ctx := context.Background()
	parts := [][]byte{
		bytes.Repeat([]byte("first-"), 1000),
		{}, // an empty partial is legal
		bytes.Repeat([]byte{0, 1, 2, 255}, 70000),
		[]byte("last"),
	}
	var want []byte
	for _, p := range parts {
		want = append(want, p...)
	}

	// setup creates the partials (in their own store, to show partials of
	// any FileStore work) and a final upload of the given size.
	setup := func(t *testing.T, size int64) (*FileStore, tus.Upload, []tus.Upload) {
		s, _ := testStore(t, Options{})
		other, err := New(filepath.Join(t.TempDir(), "other"))
		if err != nil {
			t.Fatal(err)
		}
		var partials []tus.Upload
		for i, p := range parts {
			id := "part" + string(rune('a'+i))
			store := s
			if i == 2 {
				store = other
			}
			up := create(t, store, id, int64(len(p)))
			if len(p) > 0 {
				write(t, up, 0, p)
			}
			partials = append(partials, up)
		}
		final, err := s.NewUpload(ctx, tus.FileInfo{ID: "final", Size: size, IsFinal: true})
		if err != nil {
			t.Fatal(err)
		}
		return s, final, partials
	}

	t.Run("ok", func(t *testing.T) {
		s, final, partials := setup(t, int64(len(want)))
		// Leftover bytes in the final upload are replaced.
		write(t, final, 0, []byte("junk"))
		if err := s.AsConcatableUpload(final).ConcatUploads(ctx, partials); err != nil {
			t.Fatalf("ConcatUploads: %v", err)
		}
		got, err := os.ReadFile(s.dataPath("final"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("final upload holds %d bytes, want %d (byte-exact)", len(got), len(want))
		}
		info, err := final.GetInfo(ctx)
		if err != nil || info.Offset != info.Size || !info.IsComplete() {
			t.Errorf("GetInfo = %+v, %v", info, err)
		}
		for i, p := range partials { // partials are untouched
			if off := offsetOf(t, p); off != int64(len(parts[i])) {
				t.Errorf("partial %d offset = %d", i, off)
			}
		}
	})

	type change func(s *FileStore, final tus.Upload, partials []tus.Upload) (context.Context, []tus.Upload)
	failures := []struct {
		name       string
		size       int64
		change     change
		wantOffset int64 // 0: emptied by the failed copy; 4: untouched ("junk")
	}{
		{name: "size mismatch", size: int64(len(want)) + 1},
		{name: "partial missing", size: int64(len(want)), change: func(s *FileStore, final tus.Upload, partials []tus.Upload) (context.Context, []tus.Upload) {
			os.Remove(s.dataPath("partd"))
			return ctx, partials
		}},
		{name: "cancelled", size: int64(len(want)), change: func(s *FileStore, final tus.Upload, partials []tus.Upload) (context.Context, []tus.Upload) {
			return cancelled(), partials
		}},
		{name: "foreign partial", size: int64(len(want)), wantOffset: 4, change: func(s *FileStore, final tus.Upload, partials []tus.Upload) (context.Context, []tus.Upload) {
			return ctx, append(partials, fakeUpload{})
		}},
		{name: "nil partial", size: int64(len(want)), wantOffset: 4, change: func(s *FileStore, final tus.Upload, partials []tus.Upload) (context.Context, []tus.Upload) {
			return ctx, append(partials, nil)
		}},
		{name: "final as partial", size: int64(len(want)), wantOffset: 4, change: func(s *FileStore, final tus.Upload, partials []tus.Upload) (context.Context, []tus.Upload) {
			return ctx, append(partials, final)
		}},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			s, final, partials := setup(t, tt.size)
			write(t, final, 0, []byte("junk"))
			c := ctx
			if tt.change != nil {
				c, partials = tt.change(s, final, partials)
			}
			err := s.AsConcatableUpload(final).ConcatUploads(c, partials)
			if err == nil {
				t.Fatal("ConcatUploads succeeded, want error")
			}
			if errors.Is(err, tus.ErrNotFound) {
				t.Errorf("error %v claims the final upload is missing", err)
			}
			if off := offsetOf(t, final); off != tt.wantOffset {
				t.Errorf("final offset after failure = %d, want %d", off, tt.wantOffset)
			}
		})
	}

	t.Run("final gone", func(t *testing.T) {
		s, final, partials := setup(t, int64(len(want)))
		os.Remove(s.dataPath("final"))
		if err := s.AsConcatableUpload(final).ConcatUploads(ctx, partials); !errors.Is(err, tus.ErrNotFound) {
			t.Errorf("ConcatUploads = %v, want ErrNotFound", err)
		}
	})
}

// TestConcatUploadsRepeatedPartial: tus 1.0 lets a final upload name the
// same partial several times and several final uploads use one partial.
// Each occurrence is copied whole, the partials keep their files byte for
// byte, and final uploads can read the same partials at the same time.
func TestConcatUploadsRepeatedPartial(t *testing.T) {
	ctx := context.Background()
	s, _ := testStore(t, Options{})
	a := bytes.Repeat([]byte("partial-A:"), 3000)
	b := append(bytes.Repeat([]byte{0xb0, 0xb1, 0xb2}, 7001), '!')
	pa, pb := create(t, s, "pa", int64(len(a))), create(t, s, "pb", int64(len(b)))
	write(t, pa, 0, a)
	write(t, pb, 0, b)
	files := []string{s.dataPath("pa"), s.infoPath("pa"), s.dataPath("pb"), s.infoPath("pb")}
	before := make(map[string][]byte)
	for _, f := range files {
		var err error
		if before[f], err = os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
	// load returns a fresh handle on upload id, as the handler has for each
	// partial it names.
	load := func(id string) tus.Upload {
		up, err := s.GetUpload(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return up
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	finals := []struct {
		id       string
		partials []tus.Upload
		want     []byte
	}{
		{"aba", []tus.Upload{pa, pb, pa}, cat(a, b, a)}, // one handle twice
		{"aba-loaded", []tus.Upload{load("pa"), load("pb"), load("pa")}, cat(a, b, a)},
		{"ab", []tus.Upload{load("pa"), load("pb")}, cat(a, b)},
		{"baa", []tus.Upload{load("pb"), load("pa"), load("pa")}, cat(b, a, a)},
		{"aaaa", []tus.Upload{pa, pa, pa, pa}, cat(a, a, a, a)},
	}
	// All at once: nothing in a concatenation may hold a partial exclusively.
	errs := make([]error, len(finals))
	var wg sync.WaitGroup
	for i, f := range finals {
		up, err := s.NewUpload(ctx, tus.FileInfo{ID: f.id, Size: int64(len(f.want)), IsFinal: true})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = s.AsConcatableUpload(up).ConcatUploads(ctx, f.partials); errs[i] == nil {
				errs[i] = up.FinishUpload(ctx)
			}
		}()
	}
	wg.Wait()
	for i, f := range finals {
		if errs[i] != nil {
			t.Errorf("final %s: %v", f.id, errs[i])
			continue
		}
		got, err := os.ReadFile(s.dataPath(f.id))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.want) {
			t.Errorf("final %s holds %d bytes, want %d (byte-exact)", f.id, len(got), len(f.want))
		}
		if off := offsetOf(t, load(f.id)); off != int64(len(f.want)) {
			t.Errorf("final %s offset = %d, want %d", f.id, off, len(f.want))
		}
	}
	for _, f := range files {
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("partial file after concatenation: %v", err)
		}
		if !bytes.Equal(got, before[f]) {
			t.Errorf("concatenation changed %s", filepath.Base(f))
		}
	}
	if off := offsetOf(t, load("pa")); off != int64(len(a)) {
		t.Errorf("partial pa offset = %d, want %d", off, len(a))
	}
}

// fakeUpload is a tus.Upload of no FileStore.
type fakeUpload struct{}

func (fakeUpload) GetInfo(context.Context) (tus.FileInfo, error) { return tus.FileInfo{}, nil }
func (fakeUpload) WriteChunk(context.Context, int64, io.Reader) (int64, error) {
	return 0, nil
}
func (fakeUpload) FinishUpload(context.Context) error { return nil }

func TestForeignUpload(t *testing.T) {
	s, _ := testStore(t, Options{})
	ctx := context.Background()
	for _, up := range []tus.Upload{fakeUpload{}, nil, (*upload)(nil)} {
		if err := s.AsTerminatableUpload(up).Terminate(ctx); err == nil {
			t.Errorf("Terminate of %T succeeded", up)
		}
		if err := s.AsConcatableUpload(up).ConcatUploads(ctx, nil); err == nil {
			t.Errorf("ConcatUploads of %T succeeded", up)
		}
		if err := s.AsLengthDeclarableUpload(up).DeclareLength(ctx, 1); err == nil {
			t.Errorf("DeclareLength of %T succeeded", up)
		}
		rec := httptest.NewRecorder()
		if err := s.AsServableUpload(up).ServeContent(ctx, rec, httptest.NewRequest("GET", "/", nil)); err == nil {
			t.Errorf("ServeContent of %T succeeded", up)
		}
		if rec.Body.Len() != 0 {
			t.Errorf("ServeContent of %T wrote %q", up, rec.Body)
		}
	}
}

func TestServeContent(t *testing.T) {
	ctx := context.Background()
	content := []byte("0123456789abcdefghij")
	s, _ := testStore(t, Options{})
	up := create(t, s, "abc", int64(len(content)))
	write(t, up, 0, content)
	if err := up.FinishUpload(ctx); err != nil {
		t.Fatal(err)
	}
	serve := func(t *testing.T, header http.Header) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/files/abc", nil)
		for k, v := range header {
			r.Header[k] = v
		}
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", "application/octet-stream")
		if err := s.AsServableUpload(up).ServeContent(ctx, rec, r); err != nil {
			t.Fatalf("ServeContent: %v", err)
		}
		return rec
	}

	full := serve(t, nil)
	etag := full.Header().Get("ETag")
	fi, _ := os.Stat(s.dataPath("abc"))
	lastMod := fi.ModTime().UTC().Format(http.TimeFormat)

	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
		wantBody   string
		wantHeader map[string]string
	}{
		{name: "full", wantStatus: 200, wantBody: string(content),
			wantHeader: map[string]string{"Content-Length": "20", "Accept-Ranges": "bytes", "Last-Modified": lastMod, "Content-Type": "application/octet-stream"}},
		{name: "range", header: http.Header{"Range": {"bytes=2-5"}}, wantStatus: 206, wantBody: "2345",
			wantHeader: map[string]string{"Content-Range": "bytes 2-5/20", "Content-Length": "4"}},
		{name: "suffix range", header: http.Header{"Range": {"bytes=-3"}}, wantStatus: 206, wantBody: "hij",
			wantHeader: map[string]string{"Content-Range": "bytes 17-19/20"}},
		{name: "unsatisfiable range", header: http.Header{"Range": {"bytes=50-60"}}, wantStatus: 416,
			wantHeader: map[string]string{"Content-Range": "bytes */20"}},
		{name: "if-none-match", header: http.Header{"If-None-Match": {etag}}, wantStatus: 304},
		{name: "if-range matches", header: http.Header{"Range": {"bytes=0-0"}, "If-Range": {etag}}, wantStatus: 206, wantBody: "0"},
		{name: "if-range stale", header: http.Header{"Range": {"bytes=0-0"}, "If-Range": {`"stale"`}}, wantStatus: 200, wantBody: string(content)},
		{name: "if-modified-since", header: http.Header{"If-Modified-Since": {fi.ModTime().Add(time.Hour).UTC().Format(http.TimeFormat)}}, wantStatus: 304},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(t, tt.header)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
				t.Errorf("body = %q, want %q", rec.Body, tt.wantBody)
			}
			if tt.wantStatus == 304 && rec.Body.Len() != 0 {
				t.Errorf("304 with body %q", rec.Body)
			}
			for k, v := range tt.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if rec.Code == http.StatusRequestedRangeNotSatisfiable {
				return // http.ServeContent drops ETag and Last-Modified from errors
			}
			if rec.Header().Get("ETag") != etag || !strings.HasPrefix(etag, `"`) {
				t.Errorf("ETag = %q, want stable strong %q", rec.Header().Get("ETag"), etag)
			}
		})
	}

	t.Run("keeps ETag set by caller", func(t *testing.T) {
		rec := httptest.NewRecorder()
		rec.Header().Set("ETag", `"mine"`)
		if err := s.AsServableUpload(up).ServeContent(ctx, rec, httptest.NewRequest("GET", "/", nil)); err != nil {
			t.Fatal(err)
		}
		if got := rec.Header().Get("ETag"); got != `"mine"` {
			t.Errorf("ETag = %q", got)
		}
	})
	t.Run("gone", func(t *testing.T) {
		if err := s.AsTerminatableUpload(up).Terminate(ctx); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		err := s.AsServableUpload(up).ServeContent(ctx, rec, httptest.NewRequest("GET", "/", nil))
		if !errors.Is(err, tus.ErrNotFound) {
			t.Errorf("ServeContent = %v, want ErrNotFound", err)
		}
		if rec.Body.Len() != 0 || len(rec.Header()) != 0 {
			t.Errorf("ServeContent wrote a response for a missing upload")
		}
	})
}

func TestMetadataRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		md         tus.MetaData
		wantBinary bool // the info file needs BinaryMetaData
	}{
		{name: "none"},
		{name: "empty", md: tus.MetaData{}},
		{name: "unicode", md: tus.MetaData{
			"filename": "résumé 履歴書 🎉.pdf", "empty": "", "ключ": "значение",
			"quotes": `"a"\b` + "\n\t\u2028", "nul": "a\x00b",
		}},
		{name: "invalid utf-8", wantBinary: true, md: tus.MetaData{
			"bin": "\xff\xfe\x00\x80", "ok": "ünïcode", "\xc3": "bad key", "both\xff": "\xfe",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := testStore(t, Options{})
			ctx := context.Background()
			if _, err := s.NewUpload(ctx, tus.FileInfo{ID: "abc", Size: 1, MetaData: tt.md}); err != nil {
				t.Fatal(err)
			}
			up, err := s.GetUpload(ctx, "abc")
			if err != nil {
				t.Fatal(err)
			}
			info, err := up.GetInfo(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(info.MetaData) != len(tt.md) {
				t.Errorf("metadata has %d pairs, want %d: %q", len(info.MetaData), len(tt.md), info.MetaData)
			}
			for k, v := range tt.md {
				if got, ok := info.MetaData[k]; !ok || got != v {
					t.Errorf("metadata[%q] = %q, %v; want %q", k, got, ok, v)
				}
			}
			raw, err := os.ReadFile(s.infoPath("abc"))
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Contains(raw, []byte("BinaryMetaData")); got != tt.wantBinary {
				t.Errorf("info file has BinaryMetaData: %v, want %v: %s", got, tt.wantBinary, raw)
			}
		})
	}
}

// TestInvalidIDsStayInside runs every operation that takes an ID with
// invalid IDs and checks that nothing appears or disappears anywhere.
func TestInvalidIDsStayInside(t *testing.T) {
	s, root := testStore(t, Options{})
	ctx := context.Background()
	// Targets a traversal would hit.
	for _, name := range []string{"x", "x.info", "b"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte("outside"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	before := listDir(t, root)
	for _, id := range invalidIDs {
		if _, err := s.NewUpload(ctx, tus.FileInfo{ID: id}); err == nil {
			t.Errorf("NewUpload(%q) succeeded", id)
		}
		if _, err := s.GetUpload(ctx, id); !errors.Is(err, tus.ErrNotFound) {
			t.Errorf("GetUpload(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if after := listDir(t, root); !slices.Equal(before, after) {
		t.Errorf("root changed: %q -> %q", before, after)
	}
	if got := listDir(t, s.Dir()); len(got) != 0 {
		t.Errorf("store holds %q", got)
	}
	for _, name := range []string{"x", "x.info", "b"} {
		if b, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(b) != "outside" {
			t.Errorf("%s changed: %q, %v", name, b, err)
		}
	}
}
