package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/limitedstore"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/s3store"
)

// defaultRegion is the AWS region used when none is configured.
// S3-compatible services such as MinIO and versitygw accept any.
const defaultRegion = "us-east-1"

// useDir puts the directory store, with the sync policy sync, into
// composer, and its file locker unless shared (a shared locker comes next). Several tusd processes on one
// host share the directory through the file locks; on a filesystem shared
// by several hosts, use -redis-url.
// The returned function waits for the store's background flushes.
func useDir(composer *tus.StoreComposer, dir string, sync filestore.SyncPolicy, shared bool) ([]any, func() error, error) {
	store, err := filestore.NewWithOptions(dir, filestore.Options{Sync: sync})
	if err != nil {
		return nil, nil, err
	}
	store.UseIn(composer)
	attrs := []any{"store", "dir", "dir", store.Dir(), "sync", sync.String()}
	if shared {
		return attrs, store.Close, nil
	}
	locker, err := filestore.NewLocker(dir)
	if err != nil {
		return nil, nil, err
	}
	locker.UseIn(composer)
	closeBoth := func() error { return errors.Join(store.Close(), locker.Close()) }
	return append(attrs, "locker", "file locks"), closeBoth, nil
}

// useS3 puts the S3 store and an in-memory locker into composer, after
// checking that the bucket can be reached. shared says that other
// processes use the bucket too (a shared locker replaces the memory one):
// the store then trusts nothing it learnt earlier. observe, if not nil,
// sees every S3 call.
func useS3(ctx context.Context, composer *tus.StoreComposer, so s3Options, shared bool, logger *slog.Logger, observe s3store.CallObserver) ([]any, func() error, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if so.endpoint != "" {
			o.BaseEndpoint = aws.String(so.endpoint)
			o.UsePathStyle = true
		}
	})
	store, err := s3store.New(client, s3store.Options{
		Bucket:                so.bucket,
		ObjectPrefix:          so.objectPrefix,
		PartSize:              so.partSize,
		MinPartSize:           so.minPartSize,
		MaxParts:              so.maxParts,
		ConcurrentPartUploads: so.concurrentPartUploads,
		MaxBufferedBytes:      so.maxBufferedBytes,
		// With the locks in this process's memory, so is the truth.
		SingleProcess:        !shared,
		DisablePartCopy:      so.disablePartCopy,
		DisableContentHashes: so.disableContentHashes,
		CallTimeout:          so.callTimeout,
		PartTimeout:          so.partTimeout,
		ObserveCall:          observe,
		Logger:               logger,
	})
	if err != nil {
		return nil, nil, err
	}
	// Fail at startup, not at the first upload, if the bucket cannot be
	// reached (missing, wrong credentials or endpoint).
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := client.HeadBucket(hctx, &s3.HeadBucketInput{Bucket: aws.String(so.bucket)}); err != nil {
		return nil, nil, fmt.Errorf("S3 bucket %q cannot be reached: %w", so.bucket, err)
	}
	store.UseIn(composer)
	if !shared {
		memorylocker.New().UseIn(composer)
	}

	endpoint := "AWS" // the SDK's endpoint for the region
	if e := client.Options().BaseEndpoint; e != nil {
		// Set by the flag or AWS_ENDPOINT_URL(_S3); never log credentials.
		endpoint = redactURL(*e)
	}
	opts := store.Options()
	attrs := []any{
		"store", "s3", "bucket", so.bucket, "endpoint", endpoint, "region", cfg.Region,
		"prefix", so.objectPrefix, "part_size", opts.PartSize,
	}
	if !shared {
		attrs = append(attrs, "locker", "memory (one tusd per bucket)")
	}
	return attrs, store.Close, nil
}

// useStoreSize limits the uploads of composer's store to limit bytes in
// all: uploads that exist count from the start where the store can report
// them (the directory store can; the S3 store counts from the start of the
// process).
func useStoreSize(ctx context.Context, composer *tus.StoreComposer, limit int64) error {
	ls, err := limitedstore.New(ctx, limit, composer)
	if err != nil {
		return fmt.Errorf("-store-size: %w", err)
	}
	ls.UseIn(composer)
	return nil
}
