package filestore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tusgo/tus"
)

func TestUsage(t *testing.T) {
	ctx := context.Background()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Usage(ctx); err != nil || got != 0 {
		t.Fatalf("Usage of an empty store = %d, %v; want 0", got, err)
	}
	create := func(info tus.FileInfo, held int) tus.Upload {
		t.Helper()
		up, err := s.NewUpload(ctx, info)
		if err != nil {
			t.Fatal(err)
		}
		if held > 0 {
			if _, err := up.WriteChunk(ctx, 0, bytes.NewReader(make([]byte, held))); err != nil {
				t.Fatal(err)
			}
		}
		return up
	}
	create(tus.FileInfo{ID: "known", Size: 1000}, 10)              // counts 1000
	create(tus.FileInfo{ID: "deferred", SizeIsDeferred: true}, 70) // counts 70
	create(tus.FileInfo{ID: "empty", SizeIsDeferred: true}, 0)     // counts 0
	create(tus.FileInfo{ID: "done", Size: 5}, 5)                   // counts 5
	gone := create(tus.FileInfo{ID: "gone", Size: 400}, 0)         // terminated: 0
	if err := gone.(*upload).Terminate(ctx); err != nil {
		t.Fatal(err)
	}

	// Files that are not uploads do not count.
	for name, size := range map[string]int{
		"orphan":               300, // data file without info file
		".known.info.123.tmp":  50,  // temporary info file
		"known.lock":           0,
		"known.release":        0,
		"not an id.info":       20,
		"also-not.info.backup": 20,
	} {
		if err := os.WriteFile(filepath.Join(s.Dir(), name), make([]byte, size), filePerm); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(s.Dir(), "dir.info"), dirPerm); err != nil {
		t.Fatal(err)
	}
	const want = 1000 + 70 + 5
	if got, err := s.Usage(ctx); err != nil || got != want {
		t.Fatalf("Usage = %d, %v; want %d", got, err, want)
	}

	// A corrupt info file counts the bytes its data file holds.
	create(tus.FileInfo{ID: "corrupt", Size: 900}, 33)
	if err := os.WriteFile(s.infoPath("corrupt"), []byte("{not json"), filePerm); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Usage(ctx); err != nil || got != want+33 {
		t.Fatalf("Usage with a corrupt info file = %d, %v; want %d", got, err, want+33)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Usage(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Usage with a canceled context: %v", err)
	}
}
