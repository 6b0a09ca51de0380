package s3store_test

import (
	"testing"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/internal/protocoltest"
	"github.com/tusgo/tus/internal/s3test"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/s3store"
)

// TestProtocol runs the tus protocol suite, the one the filestore passes,
// against the store on every real S3-compatible server.
func TestProtocol(t *testing.T) {
	for _, srv := range s3test.Servers(t) {
		for _, single := range []bool{false, true} {
			name := srv.Name
			if single {
				name += "/single-process"
			}
			t.Run(name, func(t *testing.T) {
				client := srv.Client(t)
				protocoltest.Run(t, func(t *testing.T) *tus.StoreComposer {
					store, err := s3store.New(client, s3store.Options{Bucket: srv.NewBucket(t, client), SingleProcess: single})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = store.Close() })
					composer := tus.NewStoreComposer()
					store.UseIn(composer)
					memorylocker.New().UseIn(composer)
					return composer
				})
			})
		}
	}
}
