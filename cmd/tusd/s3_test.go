package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus/internal/s3test"
)

// startTusd runs tusd with args (see startProcess) in a clean environment
// that holds only srv's credentials (see s3Env); srv's secret key in its log
// fails the test.
func startTusd(t *testing.T, srv s3test.Server, args ...string) *tusdProcess {
	t.Helper()
	return startProcess(t, s3Env(t, srv), []string{srv.SecretKey}, args...)
}

// s3Env returns the whole environment of a tusd child process: srv's
// credentials and region in the standard AWS variables, and empty shared
// config and credentials files, so that nothing of the developer's AWS
// setup is used.
func s3Env(t *testing.T, srv s3test.Server) []string {
	t.Helper()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	return []string{
		"AWS_ACCESS_KEY_ID=" + srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"AWS_REGION=" + s3test.Region,
		"AWS_CONFIG_FILE=" + empty,
		"AWS_SHARED_CREDENTIALS_FILE=" + empty,
		"AWS_EC2_METADATA_DISABLED=true",
		"HOME=" + dir,
		"TMPDIR=" + dir,
	}
}

// TestS3EndToEnd runs the real binary on every test S3 server, uploads in
// two PATCHes (a tail object, then the rest across parts), downloads, and
// terminates a second upload.
func TestS3EndToEnd(t *testing.T) {
	for _, srv := range s3test.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			client := srv.Client(t)
			bucket := srv.NewBucket(t, client)
			p := startTusd(t, srv, "-s3-bucket", bucket, "-s3-endpoint", srv.Endpoint,
				"-s3-object-prefix", "tus/", "-s3-part-size", "5242880", "-s3-concurrent-part-uploads", "2")
			logs := p.logs.String()
			for _, s := range []string{"store=s3", "bucket=" + bucket, "endpoint=" + srv.Endpoint,
				"prefix=tus/", "region=us-east-1", "part_size=5242880"} {
				assert.Contains(t, logs, s, "startup log")
			}

			src := randomBytes(12<<20+777, 1)
			u := create(t, p.base, len(src))
			id := path.Base(u)
			patch(t, u, 0, src[:1000])
			assert.Equal(t, 1000, headOffset(t, u))
			patch(t, u, 1000, src[1000:])
			assert.Equal(t, len(src), headOffset(t, u))
			download(t, u, src)

			// Termination removes everything of an upload.
			other := create(t, p.base, 100)
			patch(t, other, 0, src[:10])
			res, body := tusDo(t, http.MethodDelete, other, nil)
			require.Equal(t, http.StatusNoContent, res.StatusCode, "DELETE: %s", body)
			res, _ = tusDo(t, http.MethodHead, other, nil)
			assert.Equal(t, http.StatusNotFound, res.StatusCode, "HEAD after DELETE")

			// The S3 calls show in the metrics, by operation and outcome.
			m := scrape(t, p.base)
			for _, op := range []string{"CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "PutObject", "AbortMultipartUpload"} {
				assert.Greater(t, metricValue(m, "tusd_s3_calls_total", "operation", op, "outcome", "ok"), 0.0, op)
				assert.Greater(t, metricValue(m, "tusd_s3_call_duration_seconds", "operation", op), 0.0, op)
			}

			assert.Equal(t, []string{"tus/" + id, "tus/" + id + ".info"}, s3test.Objects(t, client, bucket))
			assert.Empty(t, s3test.MultipartUploads(t, client, bucket))
		})
	}
}

// TestS3ResumeAfterKill kills tusd with SIGKILL in the middle of a PATCH
// that has sent about 13 MiB of a 24 MiB upload in 5 MiB parts, starts
// another tusd on the bucket, and resumes the upload from the offset it
// reports: the bytes stored before the crash must be exactly the file's
// first bytes, and the completed upload must leave only its object and
// info behind.
//
// "parts stored" kills once S3 lists two whole parts of the upload (which
// the offset must then count); "at once" kills as soon as the bytes are
// handed to the connection, with part uploads likely still under way.
func TestS3ResumeAfterKill(t *testing.T) {
	const (
		partSize = 5 << 20
		size     = 24<<20 + 4321
		sent     = 13 << 20
	)
	servers := s3test.Servers(t)
	src := randomBytes(size, 2)
	for _, srv := range servers {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			client := srv.Client(t)
			for _, mode := range []struct {
				name      string
				waitParts int // whole parts S3 must list before the kill
			}{
				{"parts stored", 2},
				{"at once", 0},
			} {
				t.Run(mode.name, func(t *testing.T) {
					bucket := srv.NewBucket(t, client)
					args := []string{"-s3-bucket", bucket, "-s3-endpoint", srv.Endpoint, "-s3-part-size", strconv.Itoa(partSize)}
					p1 := startTusd(t, srv, args...)
					u := create(t, p1.base, size)
					id := path.Base(u)

					// One PATCH declaring the whole rest, of which only the
					// first sent bytes ever come.
					pw, patchErr := streamPatch(t, u, size)
					wrote := make(chan error, 1)
					go func() {
						_, err := pw.Write(src[:sent])
						wrote <- err
					}()
					select {
					case err := <-wrote:
						require.NoError(t, err, "streaming the PATCH body")
					case <-time.After(30 * time.Second):
						t.Fatalf("tusd did not read %d bytes in 30 s", sent)
					}

					stored := 0
					if mode.waitParts > 0 {
						stored = waitForParts(t, client, bucket, id, partSize, mode.waitParts)
					}
					p1.kill(t)
					pw.CloseWithError(errors.New("tusd was killed"))
					select {
					case a := <-patchErr:
						require.True(t, a.err != nil || a.status >= 400, "the PATCH cannot succeed: %+v", a)
						t.Logf("interrupted PATCH: %+v", a)
					case <-time.After(20 * time.Second):
						t.Fatal("the PATCH did not end after tusd was killed")
					}

					p2 := startTusd(t, srv, args...)
					u = p2.base + id
					off := headOffset(t, u)
					t.Logf("offset after the restart: %d of %d sent (%d in whole parts listed before the kill)", off, sent, stored)
					require.LessOrEqual(t, off, sent, "offset counts bytes never sent")
					require.GreaterOrEqual(t, off, stored, "offset lost parts S3 had listed")

					patch(t, u, off, src[off:])
					assert.Equal(t, size, headOffset(t, u))
					// The bytes stored before the crash are checked here too:
					// the object is exactly the source only if they were its
					// first off bytes.
					download(t, u, src)
					assert.Empty(t, s3test.MultipartUploads(t, client, bucket))
					assert.Equal(t, []string{id, id + ".info"}, s3test.Objects(t, client, bucket))
				})
			}
		})
	}
}

// waitForParts waits until S3 lists parts 1 to n (at least) of the
// multipart upload of object key, each of partSize bytes, and returns the
// bytes in that run of parts.
func waitForParts(t *testing.T, client *s3.Client, bucket, key string, partSize int64, n int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var uploadID *string
	for {
		if uploadID == nil {
			out, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket, Prefix: &key})
			require.NoError(t, err, "listing multipart uploads")
			for _, up := range out.Uploads {
				if aws.ToString(up.Key) == key {
					uploadID = up.UploadId
				}
			}
		}
		if uploadID != nil {
			out, err := client.ListParts(ctx, &s3.ListPartsInput{Bucket: &bucket, Key: &key, UploadId: uploadID})
			require.NoError(t, err, "listing parts")
			// Whole parts from part 1 on, in a row: the bytes they hold are
			// the upload's first.
			whole := map[int32]bool{}
			for _, p := range out.Parts {
				whole[aws.ToInt32(p.PartNumber)] = aws.ToInt64(p.Size) == partSize
			}
			run := 0
			for whole[int32(run+1)] {
				run++
			}
			if run >= n {
				return run * int(partSize)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("S3 did not list %d whole parts of %s in 30 s", n, key)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestRunS3MissingBucket refuses to start when the bucket cannot be
// reached, naming it, instead of failing the first upload.
func TestRunS3MissingBucket(t *testing.T) {
	for _, srv := range s3test.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			isolateAWS(t)
			t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
			t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
			var logs bytes.Buffer
			err := run(context.Background(), []string{"-s3-bucket", "tus-no-such-bucket", "-s3-endpoint", srv.Endpoint, "-port", "0"}, noEnv, io.Discard, &logs,
				func(string) { t.Error("server started") })
			require.Error(t, err)
			assert.Contains(t, err.Error(), `S3 bucket "tus-no-such-bucket" cannot be reached`)
			assert.NotContains(t, logs.String(), "tusd listening")
		})
	}
}

// TestS3StoreSizeCountsEarlierUploads: with -store-size, a tusd started on a
// bucket that already holds uploads of an earlier process counts them: a
// creation that no longer fits is refused with 507.
func TestS3StoreSizeCountsEarlierUploads(t *testing.T) {
	for _, srv := range s3test.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			client := srv.Client(t)
			bucket := srv.NewBucket(t, client)
			args := []string{"-s3-bucket", bucket, "-s3-endpoint", srv.Endpoint, "-store-size", "1000"}
			first := startTusd(t, srv, args...)
			done := create(t, first.base, 300)
			patch(t, done, 0, randomBytes(300, 3))
			open := create(t, first.base, 400) // counts its whole length
			patch(t, open, 0, randomBytes(10, 4))
			first.kill(t)

			second := startTusd(t, srv, args...)
			res, body := tusDo(t, http.MethodPost, second.base, nil, "Upload-Length", "400")
			assert.Equal(t, http.StatusInsufficientStorage, res.StatusCode, "a creation past the limit: %s", body)
			res, body = tusDo(t, http.MethodPost, second.base, nil, "Upload-Length", "300")
			assert.Equal(t, http.StatusCreated, res.StatusCode, "a creation that fits: %s", body)
		})
	}
}
