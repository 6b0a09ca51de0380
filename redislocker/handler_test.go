package redislocker_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/internal/redistest"
	"github.com/tusgo/tus/redislocker"
)

// Two tus servers (instances) share one upload directory and lock through
// Redis. A client's PATCH to the first stalls (its connection is as good as
// dead); the client resumes on the second, whose HEAD makes the first let
// go and then answers with what the first stored.
func TestTwoInstancesHandOver(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	instance := func() (string, *filestore.FileStore) {
		store, err := filestore.New(dir)
		require.NoError(t, err)
		locker, _ := newLocker(t, srv, redislocker.Options{})
		composer := tus.NewStoreComposer()
		store.UseIn(composer)
		locker.UseIn(composer)
		h, err := tus.NewHandler(tus.Config{
			StoreComposer:      composer,
			BasePath:           "/files/",
			NetworkTimeout:     time.Minute,
			AcquireLockTimeout: hang,
		})
		require.NoError(t, err)
		s := httptest.NewServer(http.StripPrefix("/files/", h))
		t.Cleanup(s.Close)
		return s.URL + "/files/", store
	}
	urlA, storeA := instance()
	urlB, _ := instance()

	req, _ := http.NewRequest(http.MethodPost, urlA, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", "2000")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	id := res.Header.Get("Location")[strings.LastIndex(res.Header.Get("Location"), "/")+1:]

	pr, pw := io.Pipe()
	defer pw.Close()
	patchDone := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPatch, urlA+id, pr)
		req.ContentLength = 2000
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		req.Header.Set("Upload-Offset", "0")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			patchDone <- nil
			return
		}
		res.Body.Close()
		patchDone <- res
	}()
	_, err = pw.Write([]byte(strings.Repeat("a", 1000)))
	require.NoError(t, err)
	// Wait until the first instance has stored the bytes (it holds the lock
	// and waits for more).
	deadline := time.Now().Add(hang)
	for {
		up, err := storeA.GetUpload(context.Background(), id)
		require.NoError(t, err)
		info, err := up.GetInfo(context.Background())
		require.NoError(t, err)
		if info.Offset == 1000 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the first PATCH's bytes were not stored")
		time.Sleep(10 * time.Millisecond)
	}

	start := time.Now()
	req, _ = http.NewRequest(http.MethodHead, urlB+id, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	t.Logf("HEAD on the second instance answered %d after %v", res.StatusCode, time.Since(start).Round(time.Millisecond))
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "1000", res.Header.Get("Upload-Offset"))

	select {
	case res := <-patchDone:
		if res != nil { // the client may see its connection closed instead
			assert.Equal(t, http.StatusBadRequest, res.StatusCode, "the first PATCH was interrupted")
		}
	case <-time.After(hang):
		t.Fatal("the first PATCH did not end")
	}
}
