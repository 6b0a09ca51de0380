// Package s3test gives the tests of other packages the real S3-compatible
// servers that scripts/test-all starts (scripts/s3-servers run starts them
// for a developer), a client for each and throwaway buckets.
//
// The servers are described by the environment:
//
//	TUS_S3_SERVERS     name=endpoint pairs, comma-separated, e.g.
//	                   versitygw=http://127.0.0.1:7070,minio=http://127.0.0.1:9000
//	TUS_S3_ACCESS_KEY  access key, the same for every server
//	TUS_S3_SECRET_KEY  secret key, the same for every server
//	TUS_S3_TESTS=1     missing servers fail the test instead of skipping it
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Names of the environment variables that describe the servers.
const (
	// EnvServers lists the servers as comma-separated name=endpoint pairs.
	EnvServers = "TUS_S3_SERVERS"
	// EnvAccessKey is the access key of every server.
	EnvAccessKey = "TUS_S3_ACCESS_KEY"
	// EnvSecretKey is the secret key of every server.
	EnvSecretKey = "TUS_S3_SECRET_KEY"
	// EnvRequired, set to 1, makes Servers fail the test instead of skipping
	// it when EnvServers is empty.
	EnvRequired = "TUS_S3_TESTS"
)

// Region is the region of every client; the test servers accept any.
const Region = "us-east-1"

// opTimeout bounds each helper's work with the server.
const opTimeout = 2 * time.Minute

// Server is one S3-compatible server to test against.
type Server struct {
	// Name names the server in test names and messages ("minio").
	Name string
	// Endpoint is the server's base URL ("http://127.0.0.1:9000").
	Endpoint string
	// AccessKey is the access key of the server's root user.
	AccessKey string
	// SecretKey is the secret key of the server's root user.
	SecretKey string
}

// Servers returns the servers described by the environment, in the order
// given. Without any, it skips the test, or fails it when TUS_S3_TESTS=1.
// A malformed description fails the test.
func Servers(t testing.TB) []Server {
	t.Helper()
	list := strings.TrimSpace(os.Getenv(EnvServers))
	if list == "" {
		const msg = "no S3 servers: " + EnvServers + " is empty; run the tests with " +
			"./scripts/test-all, or start the servers with scripts/s3-servers run " +
			"and export the variables it prints"
		if os.Getenv(EnvRequired) == "1" {
			t.Fatal(msg + " (" + EnvRequired + "=1 requires them)")
		}
		t.Skip(msg)
	}
	access, secret := os.Getenv(EnvAccessKey), os.Getenv(EnvSecretKey)
	if access == "" || secret == "" {
		t.Fatalf("%s is set but %s or %s is empty", EnvServers, EnvAccessKey, EnvSecretKey)
	}
	var servers []Server
	seen := map[string]bool{}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, endpoint, ok := strings.Cut(item, "=")
		name, endpoint = strings.TrimSpace(name), strings.TrimSpace(endpoint)
		u, err := url.Parse(endpoint)
		if !ok || name == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Fatalf("%s: %q is not name=http(s)://host:port", EnvServers, item)
		}
		if seen[name] {
			t.Fatalf("%s: server name %q given twice", EnvServers, name)
		}
		seen[name] = true
		servers = append(servers, Server{Name: name, Endpoint: endpoint, AccessKey: access, SecretKey: secret})
	}
	if len(servers) == 0 {
		t.Fatalf("%s=%q names no server", EnvServers, list)
	}
	return servers
}

// Client returns a client of the server: static credentials, region
// us-east-1, path-style addressing (bucket in the path, not the host name)
// and the SDK's defaults otherwise.
func (s Server) Client(t testing.TB) *s3.Client {
	t.Helper()
	return s3.New(s3.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
	})
}

// NewBucket creates a bucket with a fresh name ("tus-test-" and random hex)
// and returns its name. At the end of the test, its multipart uploads are
// aborted, its objects deleted and then the bucket; errors there are logged,
// not failures.
func (s Server) NewBucket(t testing.TB, c *s3.Client) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	bucket := "tus-test-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("%s: create bucket %s: %v", s.Name, bucket, err)
	}
	t.Cleanup(func() { removeBucket(t, c, s.Name, bucket) })
	return bucket
}

// removeBucket empties and deletes bucket, logging errors.
func removeBucket(t testing.TB, c *s3.Client, server, bucket string) {
	// Not t.Context(): it is canceled before cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	uploads := s3.NewListMultipartUploadsPaginator(c, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	for uploads.HasMorePages() {
		page, err := uploads.NextPage(ctx)
		if err != nil {
			t.Logf("%s: cleanup of bucket %s: list multipart uploads: %v", server, bucket, err)
			break
		}
		for _, u := range page.Uploads {
			_, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId,
			})
			if err != nil {
				t.Logf("%s: cleanup of bucket %s: abort upload of %q: %v", server, bucket, aws.ToString(u.Key), err)
			}
		}
	}
	objects := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for objects.HasMorePages() {
		page, err := objects.NextPage(ctx)
		if err != nil {
			t.Logf("%s: cleanup of bucket %s: list objects: %v", server, bucket, err)
			break
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			t.Logf("%s: cleanup of bucket %s: delete objects: %v", server, bucket, err)
			continue
		}
		for _, e := range out.Errors {
			t.Logf("%s: cleanup of bucket %s: delete %q: %s %s", server, bucket,
				aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Logf("%s: cleanup: delete bucket %s: %v", server, bucket, err)
	}
}

// Objects returns the keys of every object in bucket, in the server's
// (lexicographic) order. An error fails the test.
func Objects(t testing.TB, c *s3.Client, bucket string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	keys := []string{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list objects of bucket %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// MultipartUploads returns the keys of the multipart uploads in progress in
// bucket, one per upload (a key with two uploads is listed twice). An error
// fails the test.
func MultipartUploads(t testing.TB, c *s3.Client, bucket string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	keys := []string{}
	p := s3.NewListMultipartUploadsPaginator(c, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list multipart uploads of bucket %s: %v", bucket, err)
		}
		for _, u := range page.Uploads {
			keys = append(keys, aws.ToString(u.Key))
		}
	}
	return keys
}
