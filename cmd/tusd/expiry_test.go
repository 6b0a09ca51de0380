package main

import (
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExpirySweep runs tusd with -expiration: an abandoned upload is removed
// by the sweep (files, hooks, metric), a finished one stays, a crash
// leftover goes, and the startup line says what is swept and how often.
func TestExpirySweep(t *testing.T) {
	args, calls := httpHooks(t)
	p, dir := startLocal(t, append(args, "-expiration", "2s", "-cleanup-interval", "200ms")...)
	assert.Contains(t, p.logs.String(), `cleanup="every 200ms: expired unfinished uploads and crash leftovers older than -expiration"`)

	// A crash leftover: a data file without its info file, old enough.
	leftover := filepath.Join(dir, "leftover")
	require.NoError(t, os.WriteFile(leftover, []byte("x"), 0o640))
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(leftover, old, old))

	abandoned := create(t, p.base, 10)
	patch(t, abandoned, 0, []byte("abc"))
	_, finished := uploadThrough(t, httpClient, p.base, []byte("done"))
	id := path.Base(abandoned)

	require.Eventually(t, func() bool {
		for _, c := range calls() {
			if c.Type == "post-terminate" && c.Event.Upload.ID == id {
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "no post-terminate hook for the expired upload")
	for _, c := range calls() {
		if c.Type == "post-terminate" && c.Event.Upload.ID == id {
			assert.True(t, c.Event.Expired, "post-terminate hook marked as an expiry")
			assert.Equal(t, int64(3), c.Event.Upload.Offset)
			assert.Empty(t, c.Event.HTTPRequest.Method, "no request removed it")
		}
		assert.NotEqual(t, "pre-terminate", c.Type, "the sweep runs no pre-terminate hook")
	}
	waitMetric(t, p.base, 1, "tusd_uploads_expired_total")
	res, _ := tusDo(t, http.MethodHead, abandoned, nil)
	assert.Equal(t, http.StatusNotFound, res.StatusCode, "HEAD of the removed upload")
	download(t, finished, []byte("done"))
	_, err := os.Stat(leftover)
	assert.True(t, os.IsNotExist(err), "the crash leftover is removed")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), id), "file %s of the expired upload is left", e.Name())
	}
	assert.Equal(t, 1.0, metricValue(scrape(t, p.base), "tusd_uploads_expired_total"))
}
