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
	"github.com/tusgo/tus/filestore"
)

// noEnv is a getenv with no TUSD_ variables.
func noEnv(string) string { return "" }

// defaults are the options without flags or variables.
func defaults(t *testing.T) options {
	t.Helper()
	o, err := parseFlags(nil, noEnv, io.Discard)
	require.NoError(t, err)
	return o
}

func TestParseFlags(t *testing.T) {
	def := defaults(t)
	assert.Equal(t, "./data", def.dir)
	assert.Equal(t, 1080, def.port)
	assert.Equal(t, "/files/", def.basePath)
	assert.Equal(t, 10*time.Second, def.shutdownTimeout)
	assert.Equal(t, int64(64<<10), def.maxMetadataSize)
	assert.True(t, def.exposeMetrics)
	assert.Equal(t, filestore.SyncFinish, def.fileSync)
	assert.Equal(t, "pre-create,post-create,post-receive,post-terminate,post-finish", def.hooks.enabledEvents)

	tests := []struct {
		args    []string
		want    func(o *options)
		wantErr string
	}{
		{args: []string{"-dir", "/srv/up", "-host", "127.0.0.1", "-port", "0", "-base-path", "uploads", "-max-size", "100"},
			want: func(o *options) {
				o.dir, o.host, o.port, o.basePath, o.maxSize = "/srv/up", "127.0.0.1", 0, "/uploads/", 100
			}},
		{args: []string{"-max-size", "-1"}, wantErr: "-max-size"},
		{args: []string{"-max-metadata-size", "1024"}, want: func(o *options) { o.maxMetadataSize = 1024 }},
		{args: []string{"-max-metadata-size", "-1"}, wantErr: "-max-metadata-size must not be negative"},
		{args: []string{"-store-size", "-1"}, wantErr: "-store-size must not be negative"},
		{args: []string{"-port", "70000"}, wantErr: "-port"},
		{args: []string{"extra"}, wantErr: "unexpected argument"},
		{args: []string{"-nope"}, wantErr: "not defined"},
		{args: []string{"-expiration", "-1s"}, wantErr: "-expiration must not be negative"},
		{args: []string{"-expiration", "24h", "-expiration-sliding", "-cleanup-interval", "5m"},
			want: func(o *options) {
				o.expiration, o.expirationSliding, o.cleanupInterval = 24*time.Hour, true, 5*time.Minute
			}},
		{args: []string{"-expiration-sliding"}, wantErr: "-expiration-sliding needs -expiration"},
		{args: []string{"-cleanup-interval", "1m"}, wantErr: "-cleanup-interval needs -expiration"},
		{args: []string{"-expiration", "1h", "-cleanup-interval", "-1s"}, wantErr: "-cleanup-interval must not be negative"},
		{args: []string{"-min-transfer-rate", "-1"}, wantErr: "-min-transfer-rate must not be negative"},
		{args: []string{"-min-transfer-rate-window", "-1s"}, wantErr: "-min-transfer-rate-window must not be negative"},
		{args: []string{"-min-transfer-rate-window", "0"}, wantErr: "-min-transfer-rate-window must be positive"},
		{args: []string{"-shutdown-timeout", "soon"}, wantErr: `invalid value "soon" for flag -shutdown-timeout`},

		// Listening.
		{args: []string{"-tls-certificate", "c.pem"}, wantErr: "-tls-certificate and -tls-key go together"},
		{args: []string{"-tls-mode", "ssl3"}, wantErr: `-tls-mode "ssl3"`},
		{args: []string{"-unix-sock", "/run/tusd.sock", "-behind-proxy", "-enable-h2c"},
			want: func(o *options) { o.unixSock, o.behindProxy, o.h2c = "/run/tusd.sock", true, true }},

		// CORS.
		{args: []string{"-cors-allow-origin", "(["}, wantErr: "-cors-allow-origin is not a regular expression"},
		{args: []string{"-cors-allow-credentials"}, wantErr: "-cors-allow-credentials needs a -cors-allow-origin"},
		{args: []string{"-cors-allow-credentials", "-cors-allow-origin", `https://app\.example\.com`},
			want: func(o *options) { o.cors.allowCredentials, o.cors.allowOrigin = true, `https://app\.example\.com` }},

		{args: []string{"-cors-max-age", "600"}, want: func(o *options) { o.cors.maxAge = 10 * time.Minute }},
		{args: []string{"-cors-max-age", "1h"}, want: func(o *options) { o.cors.maxAge = time.Hour }},
		{args: []string{"-cors-max-age", "soon"}, wantErr: "want a duration such as 10m, or seconds"},
		{args: []string{"-hooks-http-backoff", "2"}, want: func(o *options) { o.hooks.httpBackoff = 2 * time.Second }},

		// Hooks.
		{args: []string{"-hooks-http", "ftp://x"}, wantErr: `-hooks-http "ftp://x" is not an http:// or https:// URL`},
		{args: []string{"-hooks-http", "http://u:secret@x/", "-hooks-dir", "."}, wantErr: "-hooks-dir and -hooks-http exclude each other"},
		{args: []string{"-hooks-dir", "/no/such/dir"}, wantErr: "-hooks-dir"},
		{args: []string{"-hooks-enabled-events", "pre-create,pre-lunch"}, wantErr: "-hooks-enabled-events"},
		{args: []string{"-hooks-http-retry", "-1"}, wantErr: "-hooks-http-retry must not be negative"},

		// Paths that a ServeMux would misread, and the demo's own.
		{args: []string{"-base-path", "/a b/"}, wantErr: `-base-path "/a b/"`},
		{args: []string{"-base-path", "/{x}/"}, wantErr: `-base-path "/{x}/"`},
		{args: []string{"-metrics-path", "/"}, wantErr: `-metrics-path "/"`},
		{args: []string{"-metrics-path", "/m{x}"}, wantErr: `-metrics-path "/m{x}"`},
		{args: []string{"-base-path", "/demo/up/"}, wantErr: "/demo/ is the demo page's"},
		{args: []string{"-base-path", "/demo/up/", "-disable-demo"}, want: func(o *options) { o.basePath, o.disableDemo = "/demo/up/", true }},
		{args: []string{"-acquire-lock-timeout", "0"}, wantErr: "-acquire-lock-timeout must be positive"},
		{args: []string{"-hooks-http-timeout", "0s"}, wantErr: "-hooks-http-timeout must be positive"},

		// Metrics and operations.
		{args: []string{"-metrics-path", "metrics"}, wantErr: "-metrics-path"},
		{args: []string{"-metrics-path", "/files/metrics"}, wantErr: "lies under -base-path"},
		{args: []string{"-log-format", "xml"}, wantErr: "-log-format"},
		{args: []string{"-version", "-port", "70000"}, want: func(o *options) { o.version, o.port = true, 70000 }},

		// S3.
		{args: []string{"-s3-bucket", "up"}, want: func(o *options) { o.s3.bucket = "up" }},
		{args: []string{"-s3-bucket", "up", "-s3-endpoint", "http://127.0.0.1:9000", "-s3-object-prefix", "tus/",
			"-s3-part-size", "5242880", "-s3-min-part-size", "1048576", "-s3-max-parts", "1000",
			"-s3-concurrent-part-uploads", "2", "-s3-disable-part-copy", "-s3-disable-content-hashes", "-port", "0",
			"-s3-call-timeout", "3s", "-s3-part-timeout", "90s", "-s3-max-buffered-bytes", "100663296"},
			want: func(o *options) {
				o.port = 0
				o.s3 = s3Options{bucket: "up", endpoint: "http://127.0.0.1:9000", objectPrefix: "tus/", partSize: 5 << 20,
					minPartSize: 1 << 20, maxParts: 1000, concurrentPartUploads: 2, maxBufferedBytes: 96 << 20, disablePartCopy: true, disableContentHashes: true,
					callTimeout: 3 * time.Second, partTimeout: 90 * time.Second}
			}},
		{args: []string{"-s3-bucket", "up", "-s3-call-timeout", "-1s"}, wantErr: "-s3-call-timeout must not be negative"},
		{args: []string{"-s3-bucket", "up", "-s3-part-timeout", "-1s"}, wantErr: "-s3-part-timeout must not be negative"},
		{args: []string{"-s3-part-timeout", "1m"}, wantErr: "-s3-part-timeout needs -s3-bucket"},
		{args: []string{"-s3-bucket", "up", "-s3-part-size", "-1"}, wantErr: "-s3-part-size must not be negative"},
		{args: []string{"-s3-bucket", "up", "-s3-max-parts", "-1"}, wantErr: "-s3-max-parts must not be negative"},
		{args: []string{"-s3-bucket", "up", "-s3-max-buffered-bytes", "-1"}, wantErr: "-s3-max-buffered-bytes must not be negative"},
		{args: []string{"-s3-max-buffered-bytes", "1"}, wantErr: "-s3-max-buffered-bytes needs -s3-bucket"},
		{args: []string{"-s3-bucket", "up", "-s3-part-size", "5MiB"}, wantErr: `invalid value "5MiB" for flag -s3-part-size`},
		{args: []string{"-s3-bucket", "up", "-s3-disable-part-copy=maybe"}, wantErr: `invalid boolean value "maybe" for -s3-disable-part-copy`},
		{args: []string{"-s3-bucket", "up", "-s3-endpoint", "127.0.0.1:9000"}, wantErr: "-s3-endpoint \"127.0.0.1:9000\" is not an http:// or https:// URL"},
		{args: []string{"-s3-bucket", "up", "-s3-endpoint", "http://key:secret@host"}, wantErr: "-s3-endpoint must not contain credentials"},
		{args: []string{"-s3-bucket", "a/b"}, wantErr: "not a bucket name"},
		{args: []string{"-s3-bucket", "up", "-dir", "/srv/up"}, wantErr: "-dir and -s3-bucket exclude each other"},
		{args: []string{"-filestore-sync", "none"}, want: func(o *options) { o.fileSync = filestore.SyncNone }},
		{args: []string{"-filestore-sync", "finish"}, want: func(o *options) { o.fileSync = filestore.SyncFinish }},
		{args: []string{"-filestore-sync", "always"}, wantErr: "unknown sync policy"},
		{args: []string{"-s3-bucket", "up", "-filestore-sync", "none"}, wantErr: "-filestore-sync is for -dir"},
		{args: []string{"-s3-endpoint", "http://127.0.0.1:9000"}, wantErr: "-s3-endpoint needs -s3-bucket"},
		{args: []string{"-s3-disable-part-copy"}, wantErr: "-s3-disable-part-copy needs -s3-bucket"},

		// Several instances.
		{args: []string{"-redis-url", "rediss://:s3cret@redis.example:6380/2", "-redis-lock-lease", "10s", "-redis-key-prefix", "up:"},
			want: func(o *options) {
				o.redis = redisOptions{url: "rediss://:s3cret@redis.example:6380/2", lease: 10 * time.Second, keyPrefix: "up:"}
			}},
		{args: []string{"-redis-url", "http://redis.example"}, wantErr: "-redis-url http://redis.example: "},
		{args: []string{"-redis-url", "redis://:s3cret@host/x"}, wantErr: "-redis-url redis://:xxxxx@host/x: "},
		{args: []string{"-redis-url", "redis://host", "-redis-lock-lease", "500ms"}, wantErr: "-redis-lock-lease must be at least 1s"},
		{args: []string{"-redis-url", "redis://host", "-redis-key-prefix", ""}, wantErr: "-redis-key-prefix must not be empty"},
		{args: []string{"-redis-lock-lease", "10s"}, wantErr: "-redis-lock-lease needs -redis-url"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got, err := parseFlags(tc.args, noEnv, io.Discard)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.NotContains(t, err.Error(), "secret", "an error names a secret")
				return
			}
			require.NoError(t, err)
			want := def
			tc.want(&want)
			assert.Equal(t, want, got)
		})
	}
}

// TestEnvironment sets flags through TUSD_ variables: the command line wins,
// an empty variable counts as unset, and a bad value names its variable.
func TestEnvironment(t *testing.T) {
	env := map[string]string{
		"TUSD_MAX_SIZE": "1000", "TUSD_PORT": "9999", "TUSD_DISABLE_DOWNLOAD": "true",
		"TUSD_EXPIRATION": "36h", "TUSD_HOOKS_ENABLED_EVENTS": "pre-create", "TUSD_BASE_PATH": "",
		"TUSD_CORS_ALLOW_ORIGIN": `https://a\.example`, "TUSD_MAX_METADATA_SIZE": "2048",
	}
	getenv := func(k string) string { return env[k] }
	o, err := parseFlags([]string{"-port", "0"}, getenv, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, int64(1000), o.maxSize)
	assert.Equal(t, int64(2048), o.maxMetadataSize)
	assert.Equal(t, 0, o.port, "the command line wins")
	assert.True(t, o.disableDownload)
	assert.Equal(t, 36*time.Hour, o.expiration)
	assert.Equal(t, "pre-create", o.hooks.enabledEvents)
	assert.Equal(t, "/files/", o.basePath, "an empty variable is unset")
	assert.Equal(t, `https://a\.example`, o.cors.allowOrigin)

	env["TUSD_NETWORK_TIMEOUT"] = "forever"
	_, err = parseFlags(nil, getenv, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `invalid value "forever" of TUSD_NETWORK_TIMEOUT for -network-timeout`)

	// Kubernetes' service variable for a Service named tusd, and -version,
	// are not settings.
	delete(env, "TUSD_NETWORK_TIMEOUT")
	env["TUSD_PORT"], env["TUSD_VERSION"] = "tcp://10.96.0.12:1080", "v2.4.0"
	o, err = parseFlags(nil, getenv, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 1080, o.port)
	assert.False(t, o.version)
	delete(env, "TUSD_PORT")
	delete(env, "TUSD_VERSION")

	// Checks apply to variables as to flags.
	env["TUSD_S3_ENDPOINT"] = "http://127.0.0.1:9000"
	_, err = parseFlags(nil, getenv, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-s3-endpoint needs -s3-bucket")
}

// TestHelp checks that -help lists every flag exactly once, under a group,
// with its environment variable, and explains S3 and the variables; run
// treats it as success.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	_, err := parseFlags([]string{"-help"}, noEnv, &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	help := out.String()

	var o options
	fs := newFlagSet(&o, io.Discard)
	grouped := map[string]string{}
	for _, g := range flagGroups {
		for _, name := range g.names {
			require.NotNil(t, fs.Lookup(name), "group %q lists -%s, which is not defined", g.title, name)
			require.Empty(t, grouped[name], "-%s is in two groups", name)
			grouped[name] = g.title
		}
		assert.Contains(t, help, "\n"+g.title+":\n")
	}
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		assert.NotEmpty(t, grouped[f.Name], "-%s is in no group of -help", f.Name)
		assert.Regexp(t, `(?m)^  -`+regexp.QuoteMeta(f.Name)+`( |$)`, help, "flag -%s", f.Name)
		assert.Contains(t, help, "[env "+envName(f.Name)+"]")
	})
	assert.Greater(t, n, 45)
	// The flag list is the whole truth: nothing listed that is not defined.
	assert.Len(t, regexp.MustCompile(`(?m)^  -`).FindAllString(help, -1), n)
	for _, s := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "us-east-1",
		"one tusd per bucket", "-redis-url names a Redis server", "path-style", "TUSD_S3_BUCKET", `(default "/files/")`} {
		assert.Contains(t, help, s)
	}

	out.Reset()
	require.NoError(t, run(context.Background(), []string{"-help"}, noEnv, io.Discard, &out, nil))
	assert.Contains(t, out.String(), "-s3-bucket")
}

// TestVersion prints the version to stdout and starts nothing.
func TestVersion(t *testing.T) {
	var out, logs bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-version"}, noEnv, &out, &logs, func(string) { t.Error("server started") }))
	assert.Regexp(t, `^tusd \S+ .*go1\.\d+`, out.String())
	assert.Empty(t, logs.String())
}

// TestRunS3BadOptions checks that S3 settings the store refuses stop tusd
// before it listens, without contacting S3.
func TestRunS3BadOptions(t *testing.T) {
	isolateAWS(t)
	var logs bytes.Buffer
	err := run(context.Background(), []string{"-s3-bucket", "up", "-s3-min-part-size", "6000000000", "-port", "0"}, noEnv, io.Discard, &logs,
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
		done <- run(ctx, []string{"-dir", dir, "-host", "127.0.0.1", "-port", "0", "-max-size", "1000"}, noEnv, io.Discard, &logs,
			func(a string) { addrc <- a })
	}()
	var base string
	select {
	case base = <-addrc:
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}

	// Both /files and /files/ create uploads.
	for _, path := range []string{"/files/", "/files"} {
		req, _ := http.NewRequest(http.MethodPost, base+path, nil)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Length", "5")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusCreated, res.StatusCode, path)
		loc := res.Header.Get("Location")
		assert.True(t, strings.HasPrefix(loc, base+"/files/"), loc)

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
	req, _ := http.NewRequest(http.MethodOptions, base+"/files/", nil)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, "1000", res.Header.Get("Tus-Max-Size"))
	req, _ = http.NewRequest(http.MethodPost, base+"/files/", nil)
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

// TestRedactURL keeps passwords and query strings of URLs out of logs.
func TestRedactURL(t *testing.T) {
	assert.Equal(t, "http://hook:xxxxx@example.com/hook?redacted", redactURL("http://hook:pw@example.com/hook?token=s3cr3t"))
	assert.Equal(t, "https://example.com/hook", redactURL("https://example.com/hook"))
	assert.Equal(t, "(unparsable URL)", redactURL("http://[::1"))
	assert.Equal(t, "rediss://:xxxxx@redis.example:6380/2", redactURL("rediss://:s3cret@redis.example:6380/2"))
	assert.Equal(t, "redis://user:xxxxx@redis.example/0", redactURL("redis://user:s3cret@redis.example/0"))
}

// TestRedisUnreachable: tusd refuses to start when Redis does not answer,
// naming the URL without its password.
func TestRedisUnreachable(t *testing.T) {
	var logs bytes.Buffer
	err := run(context.Background(), []string{"-dir", t.TempDir(), "-port", "0", "-redis-url", "redis://:s3cret@127.0.0.1:1/0"},
		noEnv, io.Discard, &logs, func(string) { t.Error("server started") })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "redis at redis://:xxxxx@127.0.0.1:1/0 cannot be reached")
	assert.NotContains(t, err.Error()+logs.String(), "s3cret")
}
