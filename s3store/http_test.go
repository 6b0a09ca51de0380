package s3store_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/golang/mock/gomock"
	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/s3store"
)

// serve runs the tus handler over store and returns the collection URL.
func serve(t *testing.T, store *s3store.Store) string {
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	memorylocker.New().UseIn(composer)
	h, err := tus.NewHandler(tus.Config{StoreComposer: composer, BasePath: "/files/"})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/files/"
}

// tusRequest sends one tus request and returns the response with its body.
func tusRequest(t *testing.T, method, u string, body io.Reader, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	require.NoError(t, err)
	req.Header.Set("Tus-Resumable", "1.0.0")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func headOffset(t *testing.T, u string) int64 {
	t.Helper()
	res, _ := tusRequest(t, http.MethodHead, u, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	off, err := strconv.ParseInt(res.Header.Get("Upload-Offset"), 10, 64)
	require.NoError(t, err)
	return off
}

// TestHTTPRejectedChunks sends chunks spanning several parts that the
// handler rejects after reading them: a wrong checksum (460) and, in
// chunked encoding, a body past the upload's length (413). Neither leaves a
// byte behind; the upload then completes exactly.
func TestHTTPRejectedChunks(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		base := serve(t, e.store)
		src := data(16*mib, 50)
		res, _ := tusRequest(t, http.MethodPost, base, nil, "Upload-Length", strconv.Itoa(len(src)))
		require.Equal(t, http.StatusCreated, res.StatusCode)
		u := res.Header.Get("Location")
		patch := []string{"Content-Type", "application/offset+octet-stream"}

		res, _ = tusRequest(t, http.MethodPatch, u, bytes.NewReader(src[:100]), append(patch, "Upload-Offset", "0")...)
		require.Equal(t, http.StatusNoContent, res.StatusCode)

		sum := sha1.Sum(src[:12*mib]) // not the chunk's
		res, body := tusRequest(t, http.MethodPatch, u, bytes.NewReader(src[100:12*mib]),
			append(patch, "Upload-Offset", "100", "Upload-Checksum", "sha1 "+base64.StdEncoding.EncodeToString(sum[:]))...)
		require.Equal(t, 460, res.StatusCode, body)
		require.Equal(t, int64(100), headOffset(t, u))

		// Chunked (no Content-Length), 1 byte longer than what is left.
		res, body = tusRequest(t, http.MethodPatch, u, io.MultiReader(bytes.NewReader(src[100:]), strings.NewReader("x")), append(patch, "Upload-Offset", "100")...)
		require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode, body)
		require.Equal(t, int64(100), headOffset(t, u))

		good := sha1.Sum(src[100 : 6*mib])
		res, body = tusRequest(t, http.MethodPatch, u, bytes.NewReader(src[100:6*mib]),
			append(patch, "Upload-Offset", "100", "Upload-Checksum", "sha1 "+base64.StdEncoding.EncodeToString(good[:]))...)
		require.Equal(t, http.StatusNoContent, res.StatusCode, body)
		res, body = tusRequest(t, http.MethodPatch, u, bytes.NewReader(src[6*mib:]), append(patch, "Upload-Offset", strconv.Itoa(6*mib))...)
		require.Equal(t, http.StatusNoContent, res.StatusCode, body)

		res, got := tusRequest(t, http.MethodGet, u, nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, sha256.Sum256(src), sha256.Sum256([]byte(got)))
		res, got = tusRequest(t, http.MethodGet, u, nil, "Range", "bytes=5242870-5242889")
		require.Equal(t, http.StatusPartialContent, res.StatusCode)
		require.Equal(t, string(src[5242870:5242890]), got)
		id := u[strings.LastIndex(u, "/")+1:]
		e.requireClean(id, id+".info")
	})
}

// TestSDKRetriesThrottling puts a proxy in front of the server that answers
// the first attempt of every part upload with 503 SlowDown: the SDK's
// retryer sends them again (the part bodies are seekable) and the upload is
// exact.
func TestSDKRetriesThrottling(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		target, err := url.Parse(e.srv.Endpoint)
		require.NoError(t, err)
		var throttled atomic.Int64
		var mu sync.Mutex
		first := map[string]bool{} // part numbers whose first attempt was throttled
		proxy := httputil.NewSingleHostReverseProxy(target)
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			mu.Lock()
			throttle := r.Method == http.MethodPut && q.Has("partNumber") && !first[q.Get("uploadId")+"/"+q.Get("partNumber")]
			if throttle {
				first[q.Get("uploadId")+"/"+q.Get("partNumber")] = true
			}
			mu.Unlock()
			if throttle {
				throttled.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
				return
			}
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(front.Close)
		client := s3.New(e.client.Options(), func(o *s3.Options) { o.BaseEndpoint = aws.String(front.URL) })
		store := e.newStore(client)
		src := data(12*mib+5, 51)
		e.create(store, "slow", int64(len(src)), nil)
		e.write(store, "slow", src)
		e.finishAndCheck(store, "slow", src)
		require.GreaterOrEqual(t, throttled.Load(), int64(3), "every part was throttled once")
		require.Zero(t, store.CallStats()["UploadPart"].Errors, "the retries succeeded")
	})
}

// TestHTTPFinishAfterRestart fails the completion of the multipart upload:
// a server started afterwards, with no memory of that, completes it on the
// client's next HEAD, and the download works.
func TestHTTPFinishAfterRestart(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		faulty := e.newStore(passThrough(t, e.client, func(m *MockS3API) {
			m.EXPECT().CompleteMultipartUpload(gomock.Any(), gomock.Any()).Return(nil, injected("InternalError")).Times(1)
		}))
		base := serve(t, faulty)
		src := data(7*mib, 52)
		res, _ := tusRequest(t, http.MethodPost, base, nil, "Upload-Length", strconv.Itoa(len(src)))
		require.Equal(t, http.StatusCreated, res.StatusCode)
		u := res.Header.Get("Location")
		res, _ = tusRequest(t, http.MethodPatch, u, bytes.NewReader(src), "Content-Type", "application/offset+octet-stream", "Upload-Offset", "0")
		require.Equal(t, http.StatusInternalServerError, res.StatusCode)

		restarted := serve(t, e.newStore(e.client))
		u2 := restarted + u[strings.LastIndex(u, "/")+1:]
		require.Equal(t, int64(len(src)), headOffset(t, u2))
		res, got := tusRequest(t, http.MethodGet, u2, nil)
		require.Equal(t, http.StatusOK, res.StatusCode, got)
		require.Equal(t, sha256.Sum256(src), sha256.Sum256([]byte(got)))
	})
}
