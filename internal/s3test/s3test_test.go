package s3test_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/url"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/tusgo/tus/internal/s3test"
)

// forEachServer runs f, in parallel subtests, against every server with a
// fresh bucket.
func forEachServer(t *testing.T, f func(t *testing.T, c *s3.Client, bucket string)) {
	for _, s := range s3test.Servers(t) {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			c := s.Client(t)
			f(t, c, s.NewBucket(t, c))
		})
	}
}

func put(t *testing.T, c *s3.Client, bucket, key string, body []byte) {
	t.Helper()
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func get(t *testing.T, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b
}

func createUpload(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key),
	})
	if err != nil {
		t.Fatalf("create multipart upload %s: %v", key, err)
	}
	return aws.ToString(out.UploadId)
}

// uploadPart uploads body as part n and returns the part as
// CompleteMultipartUpload takes it: ETag and PartNumber only.
func uploadPart(t *testing.T, c *s3.Client, bucket, key, id string, n int32, body []byte) types.CompletedPart {
	t.Helper()
	out, err := c.UploadPart(t.Context(), &s3.UploadPartInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id),
		PartNumber: aws.Int32(n), Body: bytes.NewReader(body),
	})
	if err != nil {
		t.Fatalf("upload part %d (%d bytes) of %s: %v", n, len(body), key, err)
	}
	return types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)}
}

func complete(t *testing.T, c *s3.Client, bucket, key, id string, parts ...types.CompletedPart) {
	t.Helper()
	_, err := c.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		t.Fatalf("complete multipart upload %s: %v", key, err)
	}
}

func TestRoundTrip(t *testing.T) {
	forEachServer(t, func(t *testing.T, c *s3.Client, bucket string) {
		put(t, c, bucket, "a/plain", []byte("hello"))
		if got := get(t, c, bucket, "a/plain"); string(got) != "hello" {
			t.Fatalf("get a/plain = %q, want hello", got)
		}

		id := createUpload(t, c, bucket, "a/multi")
		part := uploadPart(t, c, bucket, "a/multi", id, 1, []byte("x"))
		if got := s3test.MultipartUploads(t, c, bucket); !slices.Equal(got, []string{"a/multi"}) {
			t.Fatalf("MultipartUploads = %q, want [a/multi]", got)
		}
		complete(t, c, bucket, "a/multi", id, part)
		if got := s3test.MultipartUploads(t, c, bucket); len(got) != 0 {
			t.Fatalf("MultipartUploads after completion = %q, want none", got)
		}
		if got := s3test.Objects(t, c, bucket); !slices.Equal(got, []string{"a/multi", "a/plain"}) {
			t.Fatalf("Objects = %q, want [a/multi a/plain]", got)
		}
		if got := get(t, c, bucket, "a/multi"); string(got) != "x" {
			t.Fatalf("get a/multi = %q, want x", got)
		}
	})
}

// An upload whose only part is empty completes into an empty object (the
// store relies on it for empty uploads finished through multipart).
func TestEmptyPart(t *testing.T) {
	forEachServer(t, func(t *testing.T, c *s3.Client, bucket string) {
		id := createUpload(t, c, bucket, "empty")
		part := uploadPart(t, c, bucket, "empty", id, 1, nil)
		complete(t, c, bucket, "empty", id, part)
		if got := get(t, c, bucket, "empty"); len(got) != 0 {
			t.Fatalf("get empty = %q, want nothing", got)
		}
	})
}

// UploadPartCopy copies an existing object, whole or a range, as a part,
// alone or followed by uploaded parts.
func TestUploadPartCopy(t *testing.T) {
	forEachServer(t, func(t *testing.T, c *s3.Client, bucket string) {
		big := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16) // 5 MiB, the smallest non-last part
		put(t, c, bucket, "src/small", []byte("small"))
		put(t, c, bucket, "src/big ü", big) // a key that needs escaping in the copy source
		copyPart := func(key, id string, n int32, src, rng string) types.CompletedPart {
			t.Helper()
			in := &s3.UploadPartCopyInput{
				Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id),
				PartNumber: aws.Int32(n), CopySource: aws.String(url.PathEscape(bucket) + "/" + escapeKey(src)),
			}
			if rng != "" {
				in.CopySourceRange = aws.String(rng)
			}
			out, err := c.UploadPartCopy(t.Context(), in)
			if err != nil {
				t.Fatalf("upload part copy %d of %s from %s %s: %v", n, key, src, rng, err)
			}
			return types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(n)}
		}

		id := createUpload(t, c, bucket, "one")
		complete(t, c, bucket, "one", id, copyPart("one", id, 1, "src/small", ""))
		if got := get(t, c, bucket, "one"); string(got) != "small" {
			t.Fatalf("get one = %q, want small", got)
		}

		id = createUpload(t, c, bucket, "two")
		p1 := copyPart("two", id, 1, "src/big ü", "")
		p2 := uploadPart(t, c, bucket, "two", id, 2, []byte("tail"))
		complete(t, c, bucket, "two", id, p1, p2)
		if got := get(t, c, bucket, "two"); !bytes.Equal(got, append(slices.Clip(big), "tail"...)) {
			t.Fatalf("get two: %d bytes, want %d", len(got), len(big)+4)
		}

		id = createUpload(t, c, bucket, "range")
		complete(t, c, bucket, "range", id, copyPart("range", id, 1, "src/small", "bytes=1-3"))
		if got := get(t, c, bucket, "range"); string(got) != "mal" {
			t.Fatalf("get range = %q, want mal", got)
		}
	})
}

// escapeKey escapes an object key for a copy source, keeping its slashes.
func escapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// ListParts pages with MaxParts and PartNumberMarker.
func TestListPartsMarker(t *testing.T) {
	forEachServer(t, func(t *testing.T, c *s3.Client, bucket string) {
		id := createUpload(t, c, bucket, "parts")
		for n := int32(1); n <= 3; n++ {
			uploadPart(t, c, bucket, "parts", id, n, []byte{byte('0' + n)})
		}
		list := func(marker string, max int32) *s3.ListPartsOutput {
			t.Helper()
			in := &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String("parts"), UploadId: aws.String(id)}
			if marker != "" {
				in.PartNumberMarker = aws.String(marker)
			}
			if max != 0 {
				in.MaxParts = aws.Int32(max)
			}
			out, err := c.ListParts(t.Context(), in)
			if err != nil {
				t.Fatalf("list parts after %q: %v", marker, err)
			}
			return out
		}
		numbers := func(out *s3.ListPartsOutput) []int32 {
			var ns []int32
			for _, p := range out.Parts {
				ns = append(ns, aws.ToInt32(p.PartNumber))
				if aws.ToInt64(p.Size) != 1 {
					t.Errorf("part %d: size %d, want 1", aws.ToInt32(p.PartNumber), aws.ToInt64(p.Size))
				}
			}
			return ns
		}

		if got := numbers(list("", 0)); !slices.Equal(got, []int32{1, 2, 3}) {
			t.Fatalf("all parts: %v, want [1 2 3]", got)
		}
		if got := numbers(list("1", 0)); !slices.Equal(got, []int32{2, 3}) {
			t.Fatalf("parts after marker 1: %v, want [2 3]", got)
		}
		if got := numbers(list("3", 0)); len(got) != 0 {
			t.Fatalf("parts after marker 3: %v, want none", got)
		}
		var all []int32
		marker := ""
		for i := 0; ; i++ {
			if i > 5 {
				t.Fatal("paging with MaxParts=1 does not end")
			}
			out := list(marker, 1)
			all = append(all, numbers(out)...)
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			marker = aws.ToString(out.NextPartNumberMarker)
		}
		if !slices.Equal(all, []int32{1, 2, 3}) {
			t.Fatalf("parts paged one by one: %v, want [1 2 3]", all)
		}
	})
}

// TestMetadataNonASCII only logs (run with -v) what the servers make of user
// metadata that is not ASCII: sent raw, and RFC 2047-encoded.
func TestMetadataNonASCII(t *testing.T) {
	const value = "Grüße ✓"
	encoded := "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(value)) + "?="
	forEachServer(t, func(t *testing.T, c *s3.Client, bucket string) {
		for _, v := range []string{value, encoded} {
			_, err := c.PutObject(t.Context(), &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String("meta"), Body: strings.NewReader("m"),
				Metadata: map[string]string{"name": v},
			})
			if err != nil {
				var ae smithy.APIError
				if errors.As(err, &ae) {
					err = ae
				}
				t.Logf("put with x-amz-meta-name %q: refused: %v", v, err)
				continue
			}
			out, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("meta")})
			if err != nil {
				t.Fatalf("head meta: %v", err)
			}
			t.Logf("put with x-amz-meta-name %q: head returns %q", v, out.Metadata["name"])
		}
	})
}

// fakeTB records Skip and Fatal, which end the goroutine as in a test.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Skip(...any)           { f.skipped = true; runtime.Goexit() }
func (f *fakeTB) Fatal(...any)          { f.failed = true; runtime.Goexit() }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true; runtime.Goexit() }

// servers calls s3test.Servers with a fakeTB.
func servers(t *testing.T) (s []s3test.Server, f *fakeTB) {
	f = &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s = s3test.Servers(f)
	}()
	<-done
	return s, f
}

func TestServersEnvironment(t *testing.T) {
	t.Setenv(s3test.EnvAccessKey, "ak")
	t.Setenv(s3test.EnvSecretKey, "secret12")

	t.Setenv(s3test.EnvServers, "")
	t.Setenv(s3test.EnvRequired, "")
	if _, f := servers(t); !f.skipped || f.failed {
		t.Errorf("no servers: skipped %v, failed %v; want a skip", f.skipped, f.failed)
	}
	t.Setenv(s3test.EnvRequired, "1")
	if _, f := servers(t); f.skipped || !f.failed {
		t.Errorf("no servers, %s=1: skipped %v, failed %v; want a failure", s3test.EnvRequired, f.skipped, f.failed)
	}

	t.Setenv(s3test.EnvServers, "versitygw=http://127.0.0.1:7070, minio=http://127.0.0.1:9000")
	s, f := servers(t)
	want := []s3test.Server{
		{Name: "versitygw", Endpoint: "http://127.0.0.1:7070", AccessKey: "ak", SecretKey: "secret12"},
		{Name: "minio", Endpoint: "http://127.0.0.1:9000", AccessKey: "ak", SecretKey: "secret12"},
	}
	if f.skipped || f.failed || !reflect.DeepEqual(s, want) {
		t.Errorf("two servers: %+v (skipped %v, failed %v), want %+v", s, f.skipped, f.failed, want)
	}

	for _, bad := range []string{"minio", "=http://x:1", "minio=127.0.0.1:9000", "a=http://x:1,a=http://y:2", ","} {
		t.Setenv(s3test.EnvServers, bad)
		if _, f := servers(t); !f.failed {
			t.Errorf("%s=%q: no failure", s3test.EnvServers, bad)
		}
	}
	t.Setenv(s3test.EnvServers, "minio=http://127.0.0.1:9000")
	t.Setenv(s3test.EnvSecretKey, "")
	if _, f := servers(t); !f.failed {
		t.Errorf("no secret key: no failure")
	}
}
