package limitedstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/limitedstore"
	"github.com/tusgo/tus/memorylocker"
)

// Example limits the uploads of a filestore to 1 MiB in total.
func Example() {
	dir, err := os.MkdirTemp("", "uploads")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := filestore.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	memorylocker.New().UseIn(composer)
	// After the store's UseIn: the limit wraps the parts it registered.
	// The filestore reports the space its existing uploads take up.
	limited, err := limitedstore.New(context.Background(), 1<<20, composer)
	if err != nil {
		log.Fatal(err)
	}
	limited.UseIn(composer)
	// composer now goes into tus.Config{StoreComposer: composer}.

	ctx := context.Background()
	if _, err := composer.Core.NewUpload(ctx, tus.FileInfo{ID: "a", Size: 800 << 10}); err != nil {
		log.Fatal(err)
	}
	_, err = composer.Core.NewUpload(ctx, tus.FileInfo{ID: "b", Size: 300 << 10})
	fmt.Println(errors.Is(err, limitedstore.ErrStoreFull))
	fmt.Println(limited.Used(), "of", limited.Limit(), "bytes counted")
	// Output:
	// true
	// 819200 of 1048576 bytes counted
}
