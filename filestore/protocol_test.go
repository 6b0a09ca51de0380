package filestore_test

import (
	"testing"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/internal/protocoltest"
	"github.com/tusgo/tus/memorylocker"
)

// TestProtocol runs the tus protocol suite against the filestore, once with
// the in-process locker and once with the FileLocker.
func TestProtocol(t *testing.T) {
	for _, locker := range []string{"memorylocker", "filelocker"} {
		t.Run(locker, func(t *testing.T) {
			protocoltest.Run(t, func(t *testing.T) *tus.StoreComposer {
				dir := t.TempDir()
				store, err := filestore.New(dir)
				if err != nil {
					t.Fatal(err)
				}
				composer := tus.NewStoreComposer()
				store.UseIn(composer)
				if locker == "filelocker" {
					l, err := filestore.NewLocker(dir)
					if err != nil {
						t.Fatal(err)
					}
					l.UseIn(composer)
				} else {
					memorylocker.New().UseIn(composer)
				}
				return composer
			})
		})
	}
}
