package filestore

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tusgo/tus"
)

// TestCorruptRecords damages the files of upload "abc" in many ways: each
// time GetUpload still finds it, GetInfo fails with an error wrapping
// tus.ErrCorruptUpload that says what is wrong, so do the other methods,
// Usage still works, and Terminate removes the data file, the info file
// and a temporary info file left by a crash, leaving the directory empty.
func TestCorruptRecords(t *testing.T) {
	tests := []struct {
		name string
		info string // content of abc.info
		data string // content of the data file; "-" for none, "/" for a directory
		want string // in GetInfo's error
		// static: found on load, so every method fails (not only GetInfo).
		static bool
	}{
		{name: "truncated", info: `{"ID":"abc","Size":5,"Meta`, data: "hel", want: "unexpected end of JSON input", static: true},
		{name: "empty", info: ``, data: "hel", want: "empty file", static: true},
		{name: "garbage", info: "\x00\x17\xffgarbage", data: "hel", want: "unparsable JSON", static: true},
		{name: "trailing garbage", info: `{"ID":"abc","Size":5}xyz`, data: "hel", want: "unparsable JSON", static: true},
		{name: "null", info: `null`, data: "hel", want: `invalid upload ID ""`, static: true},
		{name: "negative size", info: `{"ID":"abc","Size":-5}`, data: "", want: "negative Size -5", static: true},
		{name: "negative offset", info: `{"ID":"abc","Size":5,"Offset":-3}`, data: "he", want: "negative Offset -3", static: true},
		{name: "negative announced size", info: `{"ID":"abc","SizeIsDeferred":true,"AnnouncedSize":-1}`, data: "", want: "negative AnnouncedSize -1", static: true},
		{name: "announced size not deferred", info: `{"ID":"abc","Size":5,"AnnouncedSize":5}`, data: "", want: "AnnouncedSize 5 but the length is not deferred", static: true},
		{name: "size and announced size", info: `{"ID":"abc","Size":4,"SizeIsDeferred":true,"AnnouncedSize":5}`, data: "", want: "both Size 4 and AnnouncedSize 5", static: true},
		{name: "partial and final", info: `{"ID":"abc","Size":5,"IsPartial":true,"IsFinal":true,"PartialUploads":["p"]}`, data: "", want: "both IsPartial and IsFinal", static: true},
		{name: "ID mismatch", info: `{"ID":"other","Size":5}`, data: "hel", want: `it describes upload "other"`, static: true},
		{name: "invalid ID", info: `{"ID":"../abc","Size":5}`, data: "hel", want: `invalid upload ID "../abc"`, static: true},
		{name: "invalid partial ID", info: `{"ID":"abc","Size":5,"IsFinal":true,"PartialUploads":["p","../etc"]}`, data: "", want: `PartialUploads[1] is an invalid upload ID "../etc"`, static: true},
		{name: "final of itself", info: `{"ID":"abc","Size":5,"IsFinal":true,"PartialUploads":["abc"]}`, data: "", want: "PartialUploads[0] is the upload itself", static: true},
		{name: "info without data", info: `{"ID":"abc","Size":5}`, data: "-", want: "data file missing while the info file exists"},
		{name: "data is a directory", info: `{"ID":"abc","Size":5}`, data: "/", want: "data file is not a regular file"},
		{name: "more data than size", info: `{"ID":"abc","Size":3}`, data: "hello", want: "data file holds 5 bytes, more than the upload's length 3"},
		{name: "more data than announced", info: `{"ID":"abc","SizeIsDeferred":true,"AnnouncedSize":3}`, data: "hello", want: "more than the upload's length 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, root := testStore(t, Options{})
			defer assertOnlyStore(t, root)
			if err := os.WriteFile(s.infoPath("abc"), []byte(tt.info), 0o600); err != nil {
				t.Fatal(err)
			}
			switch tt.data {
			case "-":
			case "/":
				if err := os.Mkdir(s.dataPath("abc"), 0o700); err != nil {
					t.Fatal(err)
				}
			default:
				if err := os.WriteFile(s.dataPath("abc"), []byte(tt.data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// A temporary info file a crash left behind.
			if err := os.WriteFile(filepath.Join(s.dir, ".abc.info.tmp"), []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}

			up, err := s.GetUpload(ctx, "abc")
			if err != nil {
				t.Fatalf("GetUpload: %v; want the damaged upload", err)
			}
			_, err = up.GetInfo(ctx)
			if !errors.Is(err, tus.ErrCorruptUpload) || errors.Is(err, tus.ErrNotFound) {
				t.Fatalf("GetInfo = %v, want an error wrapping ErrCorruptUpload", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("GetInfo error %q does not say %q on one line", msg, tt.want)
			}
			var te *tus.Error
			if !errors.As(err, &te) || te.Code != "ERR_UPLOAD_CORRUPT" || te.Status != http.StatusInternalServerError {
				t.Errorf("GetInfo error answers as %v, want ERR_UPLOAD_CORRUPT (500)", te)
			}
			if tt.static {
				assertAllCorrupt(t, s, up)
			}
			// One damaged record never makes Usage fail; one that cannot be
			// loaded counts with its data file's size.
			n, err := s.Usage(ctx)
			if err != nil || tt.static && n != int64(len(tt.data)) {
				t.Errorf("Usage = %d, %v; want the data file's size", n, err)
			}

			if err := s.AsTerminatableUpload(up).Terminate(ctx); err != nil {
				t.Fatalf("Terminate: %v", err)
			}
			if got := listDir(t, s.Dir()); len(got) != 0 {
				t.Errorf("Terminate left %q", got)
			}
			if _, err := s.GetUpload(ctx, "abc"); !errors.Is(err, tus.ErrNotFound) {
				t.Errorf("GetUpload after Terminate = %v, want ErrNotFound", err)
			}
		})
	}
}

// assertAllCorrupt checks that every method of up but Terminate fails with
// ErrCorruptUpload and changes nothing.
func assertAllCorrupt(t *testing.T, s *FileStore, up tus.Upload) {
	t.Helper()
	ctx := context.Background()
	before := listDir(t, s.Dir())
	if n, err := up.WriteChunk(ctx, 0, strings.NewReader("x")); n != 0 || !errors.Is(err, tus.ErrCorruptUpload) {
		t.Errorf("WriteChunk = %d, %v; want ErrCorruptUpload", n, err)
	}
	if err := up.FinishUpload(ctx); !errors.Is(err, tus.ErrCorruptUpload) {
		t.Errorf("FinishUpload = %v, want ErrCorruptUpload", err)
	}
	if err := s.AsLengthDeclarableUpload(up).DeclareLength(ctx, 5); !errors.Is(err, tus.ErrCorruptUpload) {
		t.Errorf("DeclareLength = %v, want ErrCorruptUpload", err)
	}
	if err := s.AsConcatableUpload(up).ConcatUploads(ctx, nil); !errors.Is(err, tus.ErrCorruptUpload) {
		t.Errorf("ConcatUploads = %v, want ErrCorruptUpload", err)
	}
	w := httptest.NewRecorder()
	if err := s.AsServableUpload(up).ServeContent(ctx, w, httptest.NewRequest(http.MethodGet, "/", nil)); !errors.Is(err, tus.ErrCorruptUpload) || w.Body.Len() != 0 {
		t.Errorf("ServeContent = %v with %d bytes; want ErrCorruptUpload and nothing written", err, w.Body.Len())
	}
	if after := listDir(t, s.Dir()); !slices.Equal(before, after) {
		t.Errorf("a failing method changed the directory from %q to %q", before, after)
	}
}

// TestCorruptPartial shows that a final upload cannot be filled from a
// partial whose record is damaged.
func TestCorruptPartial(t *testing.T) {
	ctx := context.Background()
	s, _ := testStore(t, Options{})
	final := create(t, s, "final", 3)
	if err := os.WriteFile(s.infoPath("p"), []byte(`{"ID":"p","Size":-1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.dataPath("p"), []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := s.GetUpload(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AsConcatableUpload(final).ConcatUploads(ctx, []tus.Upload{p}); !errors.Is(err, tus.ErrCorruptUpload) {
		t.Errorf("ConcatUploads = %v, want ErrCorruptUpload", err)
	}
	if off := offsetOf(t, final); off != 0 {
		t.Errorf("final upload holds %d bytes, want 0", off)
	}
}

// TestLegacyDeferredRecord shows that a deferred-length record with a Size
// and no AnnouncedSize, the form from before FileInfo.AnnouncedSize, is
// still accepted as it is (the handler reads Size as the announced length).
func TestLegacyDeferredRecord(t *testing.T) {
	ctx := context.Background()
	s, _ := testStore(t, Options{})
	if err := os.WriteFile(s.infoPath("abc"), []byte(`{"ID":"abc","Size":7,"SizeIsDeferred":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.dataPath("abc"), []byte("1234"), 0o600); err != nil {
		t.Fatal(err)
	}
	up, err := s.GetUpload(ctx, "abc")
	if err != nil {
		t.Fatal(err)
	}
	info, err := up.GetInfo(ctx)
	if err != nil || info.Size != 7 || !info.SizeIsDeferred || info.Offset != 4 {
		t.Fatalf("GetInfo = %+v, %v; want the legacy record as it is", info, err)
	}
	if n, err := up.WriteChunk(ctx, 4, bytes.NewReader([]byte("567"))); n != 3 || err != nil {
		t.Errorf("WriteChunk = %d, %v", n, err)
	}
}

// TestNewUploadRefusesDamagedInfo shows that the store never writes a
// record it would load as damaged.
func TestNewUploadRefusesDamagedInfo(t *testing.T) {
	s, _ := testStore(t, Options{})
	for _, info := range []tus.FileInfo{
		{ID: "a", Size: -5},
		{ID: "b", Size: 5, IsPartial: true, IsFinal: true},
		{ID: "c", Size: 5, AnnouncedSize: 5},
		{ID: "d", Size: 5, IsFinal: true, PartialUploads: []string{"x/y"}},
	} {
		if _, err := s.NewUpload(context.Background(), info); err == nil {
			t.Errorf("NewUpload(%+v) succeeded, want an error", info)
		}
	}
	if got := listDir(t, s.Dir()); len(got) != 0 {
		t.Errorf("refused creations left %q", got)
	}
}
