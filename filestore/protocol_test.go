package filestore_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/storetest"
)

// harness opens filestores over one directory, with the in-process locker
// or the FileLocker.
type harness struct {
	dir        string
	fileLocker bool
}

func (h harness) MakeComposer(context.Context) (*tus.StoreComposer, error) {
	store, err := filestore.New(h.dir)
	if err != nil {
		return nil, err
	}
	c := tus.NewStoreComposer()
	store.UseIn(c)
	if h.fileLocker {
		l, err := filestore.NewLocker(h.dir)
		if err != nil {
			return nil, err
		}
		l.UseIn(c)
	} else {
		memorylocker.New().UseIn(c)
	}
	return c, nil
}

// Contents lists every file under the directory.
func (h harness) Contents(context.Context) ([]string, error) {
	var names []string
	err := filepath.WalkDir(h.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(h.dir, path)
		names = append(names, rel)
		return err
	})
	return names, err
}

// CheckUpload checks that the upload's data file holds exactly its bytes.
func (h harness) CheckUpload(_ context.Context, info tus.FileInfo, content []byte) error {
	b, err := os.ReadFile(filepath.Join(h.dir, info.ID))
	if err != nil {
		return err
	}
	if !bytes.Equal(b, content) {
		return fmt.Errorf("data file holds %d bytes that differ from the %d of the upload", len(b), len(content))
	}
	return nil
}

func (h harness) Close(context.Context) error { return nil }

// newHarness returns a NewHarness of filestores in a fresh directory.
func newHarness(fileLocker bool) storetest.NewHarness {
	return func(_ context.Context, t *testing.T) (storetest.Harness, error) {
		return harness{dir: t.TempDir(), fileLocker: fileLocker}, nil
	}
}

// TestConformance runs the store conformance suite against the filestore.
func TestConformance(t *testing.T) {
	storetest.RunConformanceTests(t, newHarness(false))
}

// TestProtocol runs the tus protocol suite against the filestore, once with
// the in-process locker and once with the FileLocker.
func TestProtocol(t *testing.T) {
	for _, locker := range []string{"memorylocker", "filelocker"} {
		t.Run(locker, func(t *testing.T) {
			storetest.RunProtocolTests(t, newHarness(locker == "filelocker"))
		})
	}
}
