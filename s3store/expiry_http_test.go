package s3store_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/s3store"
)

// serveExpiring runs the tus handler over store with cfg's expiry settings
// and returns it with the collection URL.
func serveExpiring(t *testing.T, store *s3store.Store, cfg tus.Config) (*tus.Handler, string) {
	t.Helper()
	c := tus.NewStoreComposer()
	store.UseIn(c)
	memorylocker.New().UseIn(c)
	cfg.StoreComposer, cfg.BasePath = c, "/files/"
	h, err := tus.NewHandler(cfg)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return h, srv.URL + "/files/"
}

// TestHTTPSlidingExpiry: a PATCH renews the upload's expiry in S3 (another
// process's listing sees it) and Upload-Expires moves with it.
func TestHTTPSlidingExpiry(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		_, base := serveExpiring(t, e.store, tus.Config{Expiration: time.Hour, ExpirationSliding: true})
		res, body := tusRequest(t, http.MethodPost, base, nil, "Upload-Length", "100")
		require.Equal(t, http.StatusCreated, res.StatusCode, body)
		u := res.Header.Get("Location")
		id := path.Base(u)
		old := time.Now().Add(50 * time.Minute).UTC().Truncate(time.Second)
		up, _ := e.load(e.store, id)
		require.NoError(t, e.store.AsExtendableUpload(up).ExtendExpiry(context.Background(), old))

		res, body = tusRequest(t, http.MethodPatch, u, bytes.NewReader(data(3, 1)),
			"Content-Type", "application/offset+octet-stream", "Upload-Offset", "0")
		require.Equal(t, http.StatusNoContent, res.StatusCode, body)
		exp, err := http.ParseTime(res.Header.Get("Upload-Expires"))
		require.NoError(t, err)
		assert.True(t, exp.After(old.Add(5*time.Minute)), "Upload-Expires %v renewed past %v", exp, old)

		var listed tus.ListedUpload
		require.NoError(t, e.newStore(e.client).ListUploads(context.Background(), func(lu tus.ListedUpload) error {
			if lu.ID == id {
				listed = lu
			}
			return nil
		}))
		assert.True(t, listed.ExpiresAt.Equal(exp), "another process lists expiry %v, want %v", listed.ExpiresAt, exp)
	})
}

// TestHTTPSweepSkipsPatchInProgress: an upload that expires while a PATCH
// is writing it is left to that PATCH, which completes it; the sweep after
// that leaves the finished upload alone.
func TestHTTPSweepSkipsPatchInProgress(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		h, base := serveExpiring(t, e.store, tus.Config{Expiration: time.Second})
		content := data(2<<20, 7)
		res, body := tusRequest(t, http.MethodPost, base, nil, "Upload-Length", strconv.Itoa(len(content)))
		require.Equal(t, http.StatusCreated, res.StatusCode, body)
		u := res.Header.Get("Location")
		id := path.Base(u)

		pr, pw := io.Pipe()
		req, err := http.NewRequest(http.MethodPatch, u, pr)
		require.NoError(t, err)
		req.ContentLength = int64(len(content))
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		req.Header.Set("Upload-Offset", "0")
		done := make(chan int, 1)
		go func() {
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- 0
				return
			}
			res.Body.Close()
			done <- res.StatusCode
		}()
		_, err = pw.Write(content[:1<<20])
		require.NoError(t, err)
		// Let the upload expire (its expiry is whole seconds) while the
		// PATCH waits for the rest of its body.
		_, info := e.load(e.store, id)
		time.Sleep(time.Until(info.ExpiresAt) + 1100*time.Millisecond)

		r, err := h.SweepExpired(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 1, r.Busy, "the upload being written is skipped")
		assert.Equal(t, 0, r.Expired)
		_, err = pw.Write(content[1<<20:])
		require.NoError(t, err)
		require.NoError(t, pw.Close())
		require.Equal(t, http.StatusNoContent, <-done)
		require.Equal(t, content, e.object(id))

		r, err = h.SweepExpired(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 0, r.Expired+r.Busy, "the finished upload is left alone")
		require.Equal(t, content, e.object(id))
	})
}
