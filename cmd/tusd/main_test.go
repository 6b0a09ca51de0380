package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		want    options
		wantErr string
	}{
		{args: nil, want: options{dir: "./data", host: "0.0.0.0", port: 1080, basePath: "/files/"}},
		{args: []string{"-dir", "/srv/up", "-host", "127.0.0.1", "-port", "0", "-base-path", "uploads", "-max-size", "100"},
			want: options{dir: "/srv/up", host: "127.0.0.1", port: 0, basePath: "/uploads/", maxSize: 100}},
		{args: []string{"-max-size", "-1"}, wantErr: "-max-size"},
		{args: []string{"-port", "70000"}, wantErr: "-port"},
		{args: []string{"extra"}, wantErr: "unexpected argument"},
		{args: []string{"-nope"}, wantErr: "not defined"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestServe runs the server as main does, uploads through it, and stops it.
func TestServe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() {
		done <- run(ctx, []string{"-dir", dir, "-host", "127.0.0.1", "-port", "0", "-max-size", "1000"}, &logs, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}

	// Both /files and /files/ create uploads.
	for _, path := range []string{"/files/", "/files"} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+path, nil)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Length", "5")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusCreated, res.StatusCode, path)
		loc := res.Header.Get("Location")
		assert.True(t, strings.HasPrefix(loc, "http://"+addr+"/files/"), loc)

		req, _ = http.NewRequest(http.MethodPatch, loc, strings.NewReader("hello"))
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		req.Header.Set("Upload-Offset", "0")
		res, err = http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusNoContent, res.StatusCode)
		id := loc[strings.LastIndexByte(loc, '/')+1:]
		stored, err := os.ReadFile(filepath.Join(dir, id))
		require.NoError(t, err)
		assert.Equal(t, "hello", string(stored))
	}

	// -max-size is announced and enforced.
	req, _ := http.NewRequest(http.MethodOptions, "http://"+addr+"/files/", nil)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, "1000", res.Header.Get("Tus-Max-Size"))
	req, _ = http.NewRequest(http.MethodPost, "http://"+addr+"/files/", nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", "1001")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop")
	}
	assert.Contains(t, logs.String(), "tusd listening")
}
