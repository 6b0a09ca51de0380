package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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

		// S3.
		{args: []string{"-s3-bucket", "up"}, want: options{dir: "./data", host: "0.0.0.0", port: 1080, basePath: "/files/", s3: s3Options{bucket: "up"}}},
		{args: []string{"-s3-bucket", "up", "-s3-endpoint", "http://127.0.0.1:9000", "-s3-object-prefix", "tus/",
			"-s3-part-size", "5242880", "-s3-min-part-size", "1048576", "-s3-max-parts", "1000",
			"-s3-concurrent-part-uploads", "2", "-s3-disable-part-copy", "-s3-disable-content-hashes", "-port", "0"},
			want: options{dir: "./data", host: "0.0.0.0", port: 0, basePath: "/files/", s3: s3Options{
				bucket: "up", endpoint: "http://127.0.0.1:9000", objectPrefix: "tus/", partSize: 5 << 20,
				minPartSize: 1 << 20, maxParts: 1000, concurrentPartUploads: 2, disablePartCopy: true, disableContentHashes: true}}},
		{args: []string{"-s3-bucket", "up", "-s3-endpoint", "https://acct.r2.cloudflarestorage.com"},
			want: options{dir: "./data", host: "0.0.0.0", port: 1080, basePath: "/files/", s3: s3Options{bucket: "up", endpoint: "https://acct.r2.cloudflarestorage.com"}}},
		{args: []string{"-s3-bucket", "up", "-s3-part-size", "-1"}, wantErr: "-s3-part-size must not be negative"},
		{args: []string{"-s3-bucket", "up", "-s3-min-part-size", "-1"}, wantErr: "-s3-min-part-size must not be negative"},
		{args: []string{"-s3-bucket", "up", "-s3-max-parts", "-1"}, wantErr: "-s3-max-parts must not be negative"},
		{args: []string{"-s3-bucket", "up", "-s3-concurrent-part-uploads", "-2"}, wantErr: "-s3-concurrent-part-uploads must not be negative"},
		{args: []string{"-s3-bucket", "up", "-s3-part-size", "5MiB"}, wantErr: `invalid value "5MiB" for flag -s3-part-size`},
		{args: []string{"-s3-bucket", "up", "-s3-max-parts", "1.5"}, wantErr: `invalid value "1.5" for flag -s3-max-parts`},
		{args: []string{"-s3-bucket", "up", "-s3-disable-part-copy=maybe"}, wantErr: `invalid boolean value "maybe" for -s3-disable-part-copy`},
		{args: []string{"-s3-bucket", "up", "-s3-endpoint", "127.0.0.1:9000"}, wantErr: "-s3-endpoint \"127.0.0.1:9000\" is not an http:// or https:// URL"},
		{args: []string{"-s3-bucket", "up", "-s3-endpoint", "ftp://host"}, wantErr: "is not an http:// or https:// URL"},
		{args: []string{"-s3-bucket", "up", "-s3-endpoint", "http://"}, wantErr: "is not an http:// or https:// URL"},
		{args: []string{"-s3-bucket", "up", "-s3-endpoint", "http://key:secret@host"}, wantErr: "-s3-endpoint must not contain credentials"},
		{args: []string{"-s3-bucket", "a/b"}, wantErr: "not a bucket name"},
		{args: []string{"-s3-bucket", "up", "-dir", "/srv/up"}, wantErr: "-dir and -s3-bucket exclude each other"},
		{args: []string{"-s3-endpoint", "http://127.0.0.1:9000"}, wantErr: "-s3-endpoint needs -s3-bucket"},
		{args: []string{"-s3-part-size", "5242880"}, wantErr: "-s3-part-size needs -s3-bucket"},
		{args: []string{"-s3-disable-part-copy"}, wantErr: "-s3-disable-part-copy needs -s3-bucket"},
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

// TestHelp checks that -help describes every flag and how S3 is set up,
// and that run treats it as success.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	_, err := parseFlags([]string{"-help"}, &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	help := out.String()
	for _, name := range []string{"dir", "host", "port", "base-path", "max-size",
		"s3-bucket", "s3-endpoint", "s3-object-prefix", "s3-part-size", "s3-min-part-size",
		"s3-max-parts", "s3-concurrent-part-uploads", "s3-disable-part-copy", "s3-disable-content-hashes"} {
		assert.Regexp(t, `(?m)^  -`+regexp.QuoteMeta(name)+`( |$)`, help, "flag -%s", name)
	}
	// The flag list is the whole truth: nothing listed that is not defined.
	assert.Len(t, regexp.MustCompile(`(?m)^  -`).FindAllString(help, -1), 14)
	for _, s := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "us-east-1",
		"one tusd per bucket", "shared locker", "path-style"} {
		assert.Contains(t, help, s)
	}

	out.Reset()
	require.NoError(t, run(context.Background(), []string{"-help"}, &out, nil))
	assert.Contains(t, out.String(), "-s3-bucket")
}

// TestRunS3BadOptions checks that S3 settings the store refuses stop tusd
// before it listens, without contacting S3.
func TestRunS3BadOptions(t *testing.T) {
	isolateAWS(t)
	var logs bytes.Buffer
	err := run(context.Background(), []string{"-s3-bucket", "up", "-s3-min-part-size", "6000000000", "-port", "0"}, &logs,
		func(string) { t.Error("server started") })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "MinPartSize")
	assert.NotContains(t, logs.String(), "tusd listening")
}

// isolateAWS keeps the developer's AWS configuration and credentials out of
// an in-process test.
func isolateAWS(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	for _, k := range []string{"AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	t.Setenv("AWS_REGION", "us-east-1")
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
