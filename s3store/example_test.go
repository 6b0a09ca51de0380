package s3store_test

import (
	"context"
	"log"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/s3store"
)

// ExampleNew serves tus uploads into an S3 bucket, with credentials and
// region from the standard AWS environment and shared configuration.
func ExampleNew() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	// For MinIO and other S3-compatible services, also set o.BaseEndpoint
	// and o.UsePathStyle = true in an option function.
	client := s3.NewFromConfig(cfg)
	store, err := s3store.New(client, s3store.Options{
		Bucket:       "uploads",
		ObjectPrefix: "tus/",
	})
	if err != nil {
		log.Fatal(err)
	}
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	memorylocker.New().UseIn(composer) // one process; share a locker across several

	h, err := tus.NewHandler(tus.Config{StoreComposer: composer, BasePath: "/files/"})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/files/", http.StripPrefix("/files/", h))
	log.Fatal(http.ListenAndServe(":1080", nil))
}
