package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/tusgo/tus/internal/benchkit"
)

// region is the region of every client; MinIO accepts any.
const region = "us-east-1"

// newS3Client returns a client of endpoint: static credentials, region
// us-east-1, path-style addressing, and the SDK's defaults otherwise.
func newS3Client(endpoint, accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
	})
}

// ensureBucket creates bucket unless it exists.
func ensureBucket(ctx context.Context, c *s3.Client, bucket string) (created bool, err error) {
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return false, nil
	}
	var nf *types.NotFound
	var apiErr smithy.APIError
	if !errors.As(err, &nf) && !(errors.As(err, &apiErr) && apiErr.ErrorCode() == "NotFound") {
		return false, fmt.Errorf("head bucket %s: %w", bucket, err)
	}
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return false, fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return err == nil, nil
}

// listKeys returns the keys of the objects under prefix and of the
// multipart uploads in progress under it.
func listKeys(ctx context.Context, c *s3.Client, bucket, prefix string) (objects []string, uploads []types.MultipartUpload, err error) {
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("list objects under %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			objects = append(objects, aws.ToString(o.Key))
		}
	}
	mp := s3.NewListMultipartUploadsPaginator(c, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for mp.HasMorePages() {
		page, err := mp.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("list multipart uploads under %s: %w", prefix, err)
		}
		uploads = append(uploads, page.Uploads...)
	}
	return objects, uploads, nil
}

// deletePrefix aborts the multipart uploads and deletes the objects under
// prefix.
func deletePrefix(ctx context.Context, c *s3.Client, bucket, prefix string) error {
	objects, uploads, err := listKeys(ctx, c, bucket, prefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, u := range uploads {
		_, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
		if err != nil {
			errs = append(errs, fmt.Errorf("abort multipart upload of %s: %w", aws.ToString(u.Key), err))
		}
	}
	for len(objects) > 0 {
		batch := objects[:min(len(objects), 1000)]
		objects = objects[len(batch):]
		ids := make([]types.ObjectIdentifier, len(batch))
		for i, k := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("delete objects under %s: %w", prefix, err))
			continue
		}
		for _, e := range out.Errors {
			errs = append(errs, fmt.Errorf("delete %s: %s %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message)))
		}
	}
	return errors.Join(errs...)
}

// layout describes how an upload was sent, to place a differing byte.
type layout struct {
	partSize  int64
	patchSize int64 // 0 for the SDK
}

// verifyObject reads the object at key and compares its length and SHA-256
// with the first size bytes of gen. On a mismatch it reports the first
// differing byte.
func verifyObject(ctx context.Context, c *s3.Client, bucket, key string, gen *benchkit.Generator, size int64, lay layout) error {
	want := gen.Sum(size)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("GetObject %s: %w", key, err)
	}
	defer out.Body.Close()

	cmp, err := gen.Compare(out.Body, size)
	if err != nil {
		return fmt.Errorf("GetObject %s: reading the body at byte %d: %w", key, cmp.N, err)
	}
	if cmp.Match(gen, size) {
		return nil
	}
	msg := fmt.Sprintf("object %s differs from the bytes sent: stored %d bytes, sha256 %x; sent %d bytes, sha256 %x", key, cmp.N, cmp.Sum, size, want)
	if aws.ToInt64(out.ContentLength) != cmp.N {
		msg += fmt.Sprintf(" (GetObject Content-Length %d)", aws.ToInt64(out.ContentLength))
	}
	if d := cmp.FirstDiff; d >= 0 {
		msg += fmt.Sprintf("; first difference at byte %d (part %d of %s", d, d/lay.partSize+1, benchkit.FormatBytes(lay.partSize))
		if lay.patchSize > 0 {
			msg += fmt.Sprintf(", PATCH %d of %s", d/lay.patchSize+1, benchkit.FormatBytes(lay.patchSize))
		}
		msg += fmt.Sprintf("): stored % x, sent % x", cmp.Got, cmp.Want)
	} else if cmp.N != size {
		msg += fmt.Sprintf("; the first %d bytes match", min(cmp.N, size))
	}
	return errors.New(msg)
}
