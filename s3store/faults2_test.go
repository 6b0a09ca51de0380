package s3store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/golang/mock/gomock"
	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/internal/s3test"
	"github.com/tusgo/tus/s3store"
)

// metadataCases are the metadata of TestLargeMetadata: about 10 KB in a
// few pairs, and 1,000 small pairs (both well under the handler's 64 KiB
// cap on Upload-Metadata).
func metadataCases() map[string]tus.MetaData {
	big := tus.MetaData{"filename": "report.pdf", "filetype": "application/pdf", "note": "ünïcode ✓"}
	big["description"] = strings.Repeat("0123456789abcdef", 470) // 7,520 bytes, 10 KB encoded
	many := tus.MetaData{}
	for i := range 1000 {
		many[fmt.Sprintf("k%04d", i)] = fmt.Sprintf("value-%d", i)
	}
	return map[string]tus.MetaData{"10KB": big, "1000 pairs": many}
}

// TestLargeMetadata creates uploads whose metadata S3 could not hold as
// object metadata (MetadataTooLarge): they succeed, HEAD answers the
// metadata exactly, and the object carries the pairs that fit in 2000
// bytes (counting header names as MinIO does), filename and filetype first.
func TestLargeMetadata(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		base := serve(t, e.store)
		for name, md := range metadataCases() {
			t.Run(name, func(t *testing.T) {
				res, body := tusRequest(t, http.MethodPost, base, nil, "Upload-Length", "5", "Upload-Metadata", tus.EncodeMetadata(md))
				require.Equal(t, http.StatusCreated, res.StatusCode, body)
				u := res.Header.Get("Location")
				res, body = tusRequest(t, http.MethodPatch, u, strings.NewReader("hello"), patchHeaders(0)...)
				require.Equal(t, http.StatusNoContent, res.StatusCode, body)
				res, _ = tusRequest(t, http.MethodHead, u, nil)
				require.Equal(t, http.StatusOK, res.StatusCode)
				got, err := tus.ParseMetadata(res.Header.Get("Upload-Metadata"))
				require.NoError(t, err)
				require.Equal(t, md, got, "metadata through HEAD")

				id := u[strings.LastIndex(u, "/")+1:]
				head, err := e.client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &e.bucket, Key: aws.String(id)})
				require.NoError(t, err)
				total := 0
				for k, v := range head.Metadata {
					total += len("x-amz-meta-") + len(k) + len(v)
				}
				require.LessOrEqual(t, total, s3store.MaxObjectMetadata, "object metadata")
				require.NotEmpty(t, head.Metadata)
				if md["filename"] != "" {
					require.Equal(t, md["filename"], s3store.DecodeMetadata(head.Metadata)["filename"])
					require.Equal(t, md["filetype"], aws.ToString(head.ContentType))
				}
			})
		}
	})
}

// TestMetadataTooLargeRefused runs the creation against a service that
// refuses more than 2 KB of metadata as AWS does (injected: the test
// servers allow more): every upload is created.
func TestMetadataTooLargeRefused(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		strict := e.newStore(passThrough(t, e.client, func(m *MockS3API) {
			m.EXPECT().CreateMultipartUpload(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, in *s3.CreateMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
				n := 0
				for k, v := range in.Metadata {
					n += len(k) + len(v)
				}
				if n > 2048 {
					return nil, injected("MetadataTooLarge")
				}
				return e.client.CreateMultipartUpload(ctx, in)
			}).AnyTimes()
		}))
		for name, md := range metadataCases() {
			up, err := strict.NewUpload(context.Background(), tus.FileInfo{ID: "md" + strings.ReplaceAll(name, " ", ""), Size: 1, MetaData: md})
			require.NoError(t, err, name)
			info, err := up.GetInfo(context.Background())
			require.NoError(t, err)
			require.Equal(t, md, info.MetaData, name)
		}
	})
}

// TestThrottlingIs503 injects the answers of a service that sheds load,
// as they come after the SDK's retries: each is 503 with Retry-After, and
// a PATCH's answer says the offset.
func TestThrottlingIs503(t *testing.T) {
	for _, code := range []string{"SlowDown", "ServiceUnavailable", "RequestLimitExceeded", "ThrottlingException"} {
		t.Run(code, func(t *testing.T) {
			forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
				var throttle, throttleList atomic.Bool
				store := e.newStore(passThrough(t, e.client, func(m *MockS3API) {
					m.EXPECT().UploadPart(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
						if throttle.Load() {
							return nil, injected(code)
						}
						return e.client.UploadPart(ctx, in)
					}).AnyTimes()
					m.EXPECT().ListParts(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, in *s3.ListPartsInput, _ ...func(*s3.Options)) (*s3.ListPartsOutput, error) {
						if throttleList.Load() {
							return nil, injected(code)
						}
						return e.client.ListParts(ctx, in)
					}).AnyTimes()
				}))
				base := serve(t, store)
				src := data(6*mib, 80)
				res, _ := tusRequest(t, http.MethodPost, base, nil, "Upload-Length", strconv.Itoa(len(src)))
				require.Equal(t, http.StatusCreated, res.StatusCode)
				u := res.Header.Get("Location")
				res, _ = tusRequest(t, http.MethodPatch, u, bytes.NewReader(src[:mib]), patchHeaders(0)...)
				require.Equal(t, http.StatusNoContent, res.StatusCode)

				throttle.Store(true)
				res, body := tusRequest(t, http.MethodPatch, u, bytes.NewReader(src[mib:]), patchHeaders(mib)...)
				require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, body)
				require.NotEmpty(t, res.Header.Get("Retry-After"))
				require.Equal(t, strconv.Itoa(mib), res.Header.Get("Upload-Offset"))
				require.Equal(t, "ERR_SERVICE_UNAVAILABLE: the storage is busy; try again later\n", body)
				throttleList.Store(true)
				res, _ = tusRequest(t, http.MethodHead, u, nil)
				require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
				require.NotEmpty(t, res.Header.Get("Retry-After"))

				throttle.Store(false)
				throttleList.Store(false)
				require.Equal(t, int64(mib), headOffset(t, u))
				res, _ = tusRequest(t, http.MethodPatch, u, bytes.NewReader(src[mib:]), patchHeaders(mib)...)
				require.Equal(t, http.StatusNoContent, res.StatusCode)
				require.Equal(t, src, e.object(u[strings.LastIndex(u, "/")+1:]))
			})
		})
	}
}

// TestDamagedInfo overwrites the info object of an upload that has a part,
// a tail object and a second multipart upload on its key (left by a
// crash) with damaged records: the upload is still found, GetInfo says
// what is wrong with ErrCorruptUpload, HEAD answers 500 ERR_UPLOAD_CORRUPT,
// and DELETE removes every object and multipart upload of it.
func TestDamagedInfo(t *testing.T) {
	valid := func(mod func(m map[string]any)) string {
		m := map[string]any{"ID": "dmg", "Size": 7 * mib, "MultipartUploadID": "x", "Parts": map[string]any{"Base": 5 * mib}}
		mod(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	cases := map[string]struct{ info, says string }{
		"truncated":    {`{"ID":"dmg","Size":7340`, "not valid JSON"},
		"garbled":      {"\x00\x17garbage\xff", "not valid JSON"},
		"empty":        {"", "not valid JSON"},
		"negative":     {valid(func(m map[string]any) { m["Size"] = -5 }), "negative size -5"},
		"other ID":     {valid(func(m map[string]any) { m["ID"] = "other" }), `its ID is "other"`},
		"no multipart": {valid(func(m map[string]any) { delete(m, "MultipartUploadID") }), "names no multipart upload"},
		"no schedule":  {valid(func(m map[string]any) { delete(m, "Parts") }), "invalid part schedule"},
	}
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		base := serve(t, e.store)
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				ctx := context.Background()
				src := data(7*mib, 81)
				e.create(e.store, "dmg", int64(len(src)), tus.MetaData{"filename": "x"})
				e.write(e.store, "dmg", src[:6*mib])
				_, err := e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &e.bucket, Key: aws.String("dmg")})
				require.NoError(t, err)
				require.Len(t, s3test.MultipartUploads(t, e.client, e.bucket), 2)
				require.NotEmpty(t, e.tailObjects("dmg"))
				_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &e.bucket, Key: aws.String("dmg.info"), Body: strings.NewReader(tc.info)})
				require.NoError(t, err)

				fresh := e.newStore(e.client)
				up, err := fresh.GetUpload(ctx, "dmg")
				require.NoError(t, err, "a damaged upload is still found")
				_, err = up.GetInfo(ctx)
				require.ErrorIs(t, err, tus.ErrCorruptUpload)
				require.Contains(t, err.Error(), tc.says)
				_, err = up.WriteChunk(ctx, 6*mib, bytes.NewReader(src[6*mib:]))
				require.ErrorIs(t, err, tus.ErrCorruptUpload)

				res, body := tusRequest(t, http.MethodHead, base+"dmg", nil)
				require.Equal(t, http.StatusInternalServerError, res.StatusCode, body)
				res, body = tusRequest(t, http.MethodGet, base+"dmg", nil)
				require.Equal(t, http.StatusInternalServerError, res.StatusCode)
				require.Contains(t, body, "ERR_UPLOAD_CORRUPT")
				res, body = tusRequest(t, http.MethodDelete, base+"dmg", nil)
				require.Equal(t, http.StatusNoContent, res.StatusCode, body)
				e.requireClean()
				res, _ = tusRequest(t, http.MethodHead, base+"dmg", nil)
				require.Equal(t, http.StatusNotFound, res.StatusCode)
			})
		}
	})
}
