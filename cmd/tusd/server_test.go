package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// localEnv is the whole environment of a tusd child process that stores on
// disk: a private HOME and TMPDIR, and a PATH for hook scripts.
func localEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	dir := t.TempDir()
	return append([]string{"HOME=" + dir, "TMPDIR=" + dir, "PATH=/usr/local/bin:/usr/bin:/bin"}, extra...)
}

// startLocal runs tusd on a new directory store (see startProcess) and
// returns it with the directory.
func startLocal(t *testing.T, args ...string) (*tusdProcess, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	return startProcess(t, localEnv(t), nil, append([]string{"-dir", dir}, args...)...), dir
}

// uploadThrough creates an upload of data under base with client, sends it
// in one PATCH and returns its URL.
func uploadThrough(t *testing.T, client *http.Client, base string, data []byte) (*http.Response, string) {
	t.Helper()
	res, body := do(t, client, http.MethodPost, base, nil, "Tus-Resumable", "1.0.0", "Upload-Length", strconv.Itoa(len(data)))
	require.Equal(t, http.StatusCreated, res.StatusCode, "POST: %s", body)
	u := res.Header.Get("Location")
	res, body = do(t, client, http.MethodPatch, u, data, "Tus-Resumable", "1.0.0",
		"Content-Type", "application/offset+octet-stream", "Upload-Offset", "0")
	require.Equal(t, http.StatusNoContent, res.StatusCode, "PATCH: %s", body)
	return res, u
}

// TestListenUnixSocket serves on a Unix socket (-unix-sock) and removes a
// stale socket file left by a crash.
func TestListenUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "tusd.sock")
	stale, err := net.Listen("unix", sock)
	require.NoError(t, err)
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close() // the file stays, nobody listens: as after a crash

	dir := filepath.Join(t.TempDir(), "data")
	p := startProcess(t, localEnv(t), nil, "-dir", dir, "-unix-sock", sock)
	assert.Equal(t, "unix:"+sock+"/files/", p.base)
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	data := randomBytes(100_000, 3)
	_, u := uploadThrough(t, client, "http://tusd/files/", data)
	assert.True(t, strings.HasPrefix(u, "http://tusd/files/"), u)
	stored, err := os.ReadFile(filepath.Join(dir, path.Base(u)))
	require.NoError(t, err)
	assert.Equal(t, data, stored)
}

// TestStartupAddress checks the startup line with the default -host
// 0.0.0.0: its address is a URL a person on this machine can open (not
// Go's [::] for the wildcard), and the listen address keeps the host as
// configured, with the port taken by -port 0.
func TestStartupAddress(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-dir", filepath.Join(t.TempDir(), "data"), "-port", "0"}, noEnv, io.Discard, &logs,
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
	u, err := url.Parse(base)
	require.NoError(t, err)
	assert.Equal(t, "http", u.Scheme)
	assert.Equal(t, "localhost", u.Hostname())
	port := u.Port()
	require.NotEmpty(t, port)

	line := logs.String()
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	assert.Contains(t, line, `msg="tusd listening" address=http://localhost:`+port+`/files/ listen=0.0.0.0:`+port+` `)
	assert.NotContains(t, line, "[::]")
	m := listeningRE.FindStringSubmatch(line)
	require.NotNil(t, m, "the address is found as process tests find it")
	assert.Equal(t, "http://localhost:"+port+"/files/", m[1])

	// The URL printed is usable.
	res, err := http.DefaultClient.Post(base+"/files/", "", nil)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusPreconditionFailed, res.StatusCode, "tus answers (no Tus-Resumable)")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop")
	}
}

// TestClientHostPort checks the host and port the startup line names for
// each kind of -host.
func TestClientHostPort(t *testing.T) {
	for _, c := range []struct{ host, ip, want string }{
		{"0.0.0.0", "::", "localhost:1080"},
		{"0.0.0.0", "0.0.0.0", "localhost:1080"},
		{"::", "::", "localhost:1080"},
		{"", "::", "localhost:1080"},
		{"127.0.0.1", "127.0.0.1", "127.0.0.1:1080"},
		{"::1", "::1", "[::1]:1080"},
		{"localhost", "127.0.0.1", "localhost:1080"},
		{"uploads.example", "192.0.2.7", "uploads.example:1080"},
	} {
		addr := &net.TCPAddr{IP: net.ParseIP(c.ip), Port: 1080}
		assert.Equal(t, c.want, clientHostPort(c.host, addr), "-host %q listening on %s", c.host, addr)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and
// returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tusd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestListenTLS serves HTTPS with -tls-certificate and -tls-key: uploads
// go over HTTP/2, Location URLs say https, and -tls-mode tls13 refuses a
// TLS 1.2 client.
func TestListenTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	p, _ := startLocal(t, "-tls-certificate", certFile, "-tls-key", keyFile, "-tls-mode", "tls13")
	require.True(t, strings.HasPrefix(p.base, "https://127.0.0.1:"), p.base)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	data := randomBytes(50_000, 4)
	res, u := uploadThrough(t, client, p.base, data)
	assert.Equal(t, 2, res.ProtoMajor, "HTTP/2 over TLS")
	assert.True(t, strings.HasPrefix(u, p.base), u)
	res, got := do(t, client, http.MethodGet, u, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, data, got)

	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12}}}
	_, err := old.Get(p.base)
	require.Error(t, err, "a TLS 1.2 client must be refused by -tls-mode tls13")
	assert.Contains(t, err.Error(), "protocol version")
}

// TestListenH2C serves HTTP/2 without TLS with -enable-h2c, and only
// HTTP/1.1 without it.
func TestListenH2C(t *testing.T) {
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: &protos}}

	p, _ := startLocal(t, "-enable-h2c")
	data := randomBytes(70_000, 5)
	res, _ := uploadThrough(t, h2c, p.base, data)
	assert.Equal(t, "HTTP/2.0", res.Proto)

	plain, _ := startLocal(t)
	_, err := h2c.Post(plain.base, "text/plain", nil)
	require.Error(t, err, "h2c must be off by default")
}

// TestBehindProxyAndBasePath builds upload URLs from X-Forwarded-* only
// with -behind-proxy, under -base-path.
func TestBehindProxyAndBasePath(t *testing.T) {
	fwd := []string{"Tus-Resumable", "1.0.0", "Upload-Length", "3", "X-Forwarded-Host", "uploads.example.com", "X-Forwarded-Proto", "https"}
	p, _ := startLocal(t, "-behind-proxy", "-base-path", "/api/up")
	require.True(t, strings.HasSuffix(p.base, "/api/up/"), p.base)
	res, body := do(t, httpClient, http.MethodPost, p.base, nil, fwd...)
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", body)
	assert.Regexp(t, `^https://uploads\.example\.com/api/up/[0-9a-f]+$`, res.Header.Get("Location"))

	direct, _ := startLocal(t)
	res, body = do(t, httpClient, http.MethodPost, direct.base, nil, fwd...)
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", body)
	assert.True(t, strings.HasPrefix(res.Header.Get("Location"), direct.base), "without -behind-proxy the headers are ignored: %s", res.Header.Get("Location"))
}

// TestProtocolFlags turns protocol features off and on through flags.
func TestProtocolFlags(t *testing.T) {
	tus := []string{"Tus-Resumable", "1.0.0"}
	t.Run("defaults", func(t *testing.T) {
		p, _ := startLocal(t)
		res, _ := do(t, httpClient, http.MethodOptions, p.base, nil)
		ext := res.Header.Get("Tus-Extension")
		for _, e := range []string{"creation", "termination", "concatenation", "creation-defer-length", "checksum"} {
			assert.Contains(t, strings.Split(ext, ","), e)
		}
		assert.NotContains(t, strings.Split(ext, ","), "expiration")
		assert.Empty(t, res.Header.Get("Tus-Max-Size"))

		// The IETF drafts are served too: a creation with all the content.
		res, body := do(t, httpClient, http.MethodPost, p.base, []byte("ietf!"),
			"Upload-Draft-Interop-Version", "6", "Upload-Complete", "?1")
		require.Equal(t, http.StatusCreated, res.StatusCode, "%s", body)
		res, got := do(t, httpClient, http.MethodGet, res.Header.Get("Location"), nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "ietf!", string(got))
	})
	t.Run("restricted", func(t *testing.T) {
		p, _ := startLocal(t, "-max-size", "100", "-disable-download", "-disable-termination", "-disable-concatenation", "-expiration", "1h",
			"-disable-ietf-drafts")
		res, _ := do(t, httpClient, http.MethodOptions, p.base, nil)
		assert.Equal(t, "100", res.Header.Get("Tus-Max-Size"))
		ext := strings.Split(res.Header.Get("Tus-Extension"), ",")
		assert.NotContains(t, ext, "termination")
		assert.NotContains(t, ext, "concatenation")
		assert.Contains(t, ext, "expiration")

		res, body := do(t, httpClient, http.MethodPost, p.base, []byte("ietf!"), "Upload-Draft-Interop-Version", "6", "Upload-Complete", "?1")
		assert.Equal(t, http.StatusPreconditionFailed, res.StatusCode, "-disable-ietf-drafts: tus only: %s", body)
		res, body = do(t, httpClient, http.MethodPost, p.base, nil, append(tus, "Upload-Length", "101")...)
		assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode, "%s", body)
		res, body = do(t, httpClient, http.MethodPost, p.base, nil, append(tus, "Upload-Concat", "partial", "Upload-Length", "5")...)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, "%s", body)

		res, _ = do(t, httpClient, http.MethodHead, create(t, p.base, 10), nil, tus...)
		expires, err := http.ParseTime(res.Header.Get("Upload-Expires"))
		require.NoError(t, err, "Upload-Expires")
		assert.WithinDuration(t, time.Now().Add(time.Hour), expires, 5*time.Minute)
		_, u := uploadThrough(t, httpClient, p.base, []byte("hello"))
		res, _ = do(t, httpClient, http.MethodGet, u, nil)
		assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode, "GET with -disable-download")
		res, _ = do(t, httpClient, http.MethodDelete, u, nil, tus...)
		assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode, "DELETE with -disable-termination")
	})
	t.Run("environment", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		p := startProcess(t, localEnv(t, "TUSD_MAX_SIZE=1234", "TUSD_DIR="+dir), nil)
		res, _ := do(t, httpClient, http.MethodOptions, p.base, nil)
		assert.Equal(t, "1234", res.Header.Get("Tus-Max-Size"))
		_, u := uploadThrough(t, httpClient, p.base, []byte("env"))
		_, err := os.Stat(filepath.Join(dir, path.Base(u)))
		assert.NoError(t, err, "TUSD_DIR chose the directory")
	})
}

// TestCORSFlags checks the CORS flags on preflight and actual requests.
func TestCORSFlags(t *testing.T) {
	const origin = "https://app.example.com"
	p, _ := startLocal(t, "-cors-allow-origin", `https://app\.example\.com`, "-cors-allow-credentials",
		"-cors-allow-methods", "POST, PATCH", "-cors-allow-headers", "X-Custom", "-cors-expose-headers", "X-Trace",
		"-cors-max-age", "10m")
	preflight := func(base, origin string) *http.Response {
		res, _ := do(t, httpClient, http.MethodOptions, base, nil, "Origin", origin,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "X-Custom, Upload-Length")
		return res
	}
	res := preflight(p.base, origin)
	assert.Equal(t, http.StatusNoContent, res.StatusCode)
	assert.Equal(t, origin, res.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", res.Header.Get("Access-Control-Allow-Credentials"))
	assert.Equal(t, "POST, PATCH", res.Header.Get("Access-Control-Allow-Methods"))
	assert.Contains(t, res.Header.Get("Access-Control-Allow-Headers"), "X-Custom")
	assert.Contains(t, res.Header.Get("Access-Control-Allow-Headers"), "Upload-Offset", "the tus headers stay allowed")
	assert.Equal(t, "600", res.Header.Get("Access-Control-Max-Age"))

	// The whole origin must match, not a part of it.
	for _, other := range []string{"https://evil.example.com", "https://app.example.com.evil.net"} {
		res = preflight(p.base, other)
		assert.Empty(t, res.Header.Get("Access-Control-Allow-Origin"), other)
	}

	res, _ = do(t, httpClient, http.MethodPost, p.base, nil, "Origin", origin, "Tus-Resumable", "1.0.0", "Upload-Length", "1")
	require.Equal(t, http.StatusCreated, res.StatusCode)
	assert.Contains(t, res.Header.Get("Access-Control-Expose-Headers"), "X-Trace")
	assert.Contains(t, res.Header.Get("Access-Control-Expose-Headers"), "Location")

	off, _ := startLocal(t, "-disable-cors")
	res = preflight(off.base, origin)
	assert.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
	assert.Empty(t, res.Header.Get("Access-Control-Allow-Methods"))
}

// TestStoreSize refuses uploads past -store-size with 507, frees the room
// of terminated uploads, and counts the uploads on disk after a restart.
func TestStoreSize(t *testing.T) {
	tus := []string{"Tus-Resumable", "1.0.0"}
	p, dir := startLocal(t, "-store-size", "1000")
	res, body := do(t, httpClient, http.MethodPost, p.base, nil, append(tus, "Upload-Length", "600")...)
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", body)
	first := res.Header.Get("Location")
	res, body = do(t, httpClient, http.MethodPost, p.base, nil, append(tus, "Upload-Length", "500")...)
	assert.Equal(t, http.StatusInsufficientStorage, res.StatusCode)
	assert.Contains(t, string(body), "ERR_STORE_FULL")
	res, _ = do(t, httpClient, http.MethodDelete, first, nil, tus...)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	_, kept := uploadThrough(t, httpClient, p.base, randomBytes(500, 6))
	require.NotEmpty(t, kept)

	p.kill(t)
	p2 := startProcess(t, localEnv(t), nil, "-dir", dir, "-store-size", "1000")
	res, _ = do(t, httpClient, http.MethodPost, p2.base, nil, append(tus, "Upload-Length", "600")...)
	assert.Equal(t, http.StatusInsufficientStorage, res.StatusCode, "the 500 bytes on disk count after a restart")
	res, body = do(t, httpClient, http.MethodPost, p2.base, nil, append(tus, "Upload-Length", "500")...)
	assert.Equal(t, http.StatusCreated, res.StatusCode, "%s", body)
}

// TestNetworkTimeout ends a PATCH whose body stalls for -network-timeout;
// the bytes that came are kept.
func TestNetworkTimeout(t *testing.T) {
	p, _ := startLocal(t, "-network-timeout", "300ms")
	u := create(t, p.base, 100)
	pw, done := streamPatch(t, u, 100)
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("0123456789")) }() // then nothing
	require.Eventually(t, func() bool { return strings.Contains(p.logs.String(), "status=408") },
		20*time.Second, 20*time.Millisecond, "the stalled PATCH was not answered 408")
	assert.Equal(t, 10, headOffset(t, u))
	pw.Close()
	if a := <-done; a.err == nil { // the answer may not reach a client still sending
		assert.Equal(t, http.StatusRequestTimeout, a.status)
	}
}

// TestMinTransferRate: a PATCH that trickles below -min-transfer-rate is
// answered 408 ERR_TRANSFER_TOO_SLOW while its client still sends, keeps
// its bytes, and is counted in tusd_slow_transfers_total.
func TestMinTransferRate(t *testing.T) {
	p, _ := startLocal(t, "-min-transfer-rate", "20000", "-min-transfer-rate-window", "500ms")
	u := create(t, p.base, 1<<20)
	pw, done := streamPatch(t, u, 1<<20)
	src := randomBytes(1<<20, 9)
	sending := make(chan struct{})
	go func() { // 10 kB/s, half the minimum, until the pipe is closed
		defer close(sending)
		for off := 0; off < len(src); off += 500 {
			if _, err := pw.Write(src[off : off+500]); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	var a patchAnswer
	select {
	case a = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the trickling PATCH was not answered")
	}
	pw.Close()
	<-sending
	require.NoError(t, a.err, "the answer reaches the client still sending")
	assert.Equal(t, http.StatusRequestTimeout, a.status)
	assert.Contains(t, a.body, "ERR_TRANSFER_TOO_SLOW")
	off, err := strconv.Atoi(a.header.Get("Upload-Offset"))
	require.NoError(t, err)
	assert.Positive(t, off)
	assert.Equal(t, off, headOffset(t, u), "the bytes read are stored")
	waitMetric(t, p.base, 1, "tusd_slow_transfers_total")
	waitMetric(t, p.base, 1, "tusd_errors_total", "status", "408", "code", "ERR_TRANSFER_TOO_SLOW")
	patch(t, u, off, src[off:])
	download(t, u, src)
}

// logLines parses tusd's JSON log.
func logLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "{") {
			continue // the race detector's or Go's own output
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "log line %q", sc.Text())
		lines = append(lines, m)
	}
	return lines
}

// TestLogs checks the JSON log: a startup summary without secrets, one line
// per request carrying the request ID the client saw, and with -verbose the
// handler's own lines for the same request ID.
func TestLogs(t *testing.T) {
	const secret = "hunter2-hook-password"
	hookURL := "http://hook-user:" + secret + "@127.0.0.1:1/hook"
	dir := filepath.Join(t.TempDir(), "data")
	p := startProcess(t, localEnv(t), []string{secret}, "-dir", dir, "-log-format", "json", "-verbose",
		"-hooks-http", hookURL, "-hooks-enabled-events", "post-finish")

	_, u := uploadThrough(t, httpClient, p.base, []byte("logged"))
	res, _ := do(t, httpClient, http.MethodHead, p.base+"nosuchupload", nil, "Tus-Resumable", "1.0.0", "X-Request-ID", "client-chosen-42")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Equal(t, "client-chosen-42", res.Header.Get("X-Request-ID"))

	var lines []map[string]any
	require.Eventually(t, func() bool {
		lines = logLines(t, p.logs.String())
		n := 0
		for _, l := range lines {
			if l["msg"] == "request" {
				n++
			}
		}
		return n >= 3
	}, 10*time.Second, 20*time.Millisecond, "three request lines")

	start := lines[0]
	assert.Equal(t, "tusd listening", start["msg"])
	assert.Equal(t, p.base, start["address"])
	assert.Equal(t, strings.TrimSuffix(strings.TrimPrefix(p.base, "http://"), "/files/"), start["listen"], "-host 127.0.0.1, the port taken")
	assert.Equal(t, "INFO", start["level"])
	for _, k := range []string{"address", "listen", "version", "store", "dir", "max_size", "hooks", "hooks_url", "metrics", "network_timeout"} {
		assert.Contains(t, start, k, "startup summary")
	}
	assert.Equal(t, "http", start["hooks"])
	assert.Contains(t, start["hooks_url"], "hook-user:xxxxx@", "the password is redacted")

	var requests, refused []map[string]any
	for _, l := range lines {
		switch l["msg"] {
		case "request":
			requests = append(requests, l)
		case "request refused":
			refused = append(refused, l)
		}
	}
	require.Len(t, requests, 3)
	assert.Equal(t, "POST", requests[0]["method"])
	assert.Equal(t, float64(201), requests[0]["status"])
	assert.Equal(t, "PATCH", requests[1]["method"])
	assert.Equal(t, float64(6), requests[1]["bytes_in"])
	assert.Equal(t, path.Join("/files", path.Base(u)), requests[1]["path"])
	assert.Equal(t, "client-chosen-42", requests[2]["request_id"])
	assert.Equal(t, float64(404), requests[2]["status"])
	require.NotEmpty(t, refused, "-verbose logs refused requests")
	assert.Equal(t, "client-chosen-42", refused[0]["request_id"], "the handler's line has the same request ID")
	for _, r := range requests {
		assert.Regexp(t, `^[A-Za-z0-9._-]{1,64}$`, r["request_id"])
	}
}

// TestGracefulShutdown sends SIGTERM while PATCHes are mid-stream: tusd
// stops them at once and answers each 503 ERR_SERVER_SHUTDOWN with the
// offset it stored, Retry-After and Connection: close, stops accepting,
// and exits as soon as they are answered, long before -shutdown-timeout.
// A new tusd resumes both uploads byte-exact from the offsets answered.
// (Before, tusd let the PATCHes run until shortly before the timeout and
// then cut them without an answer.)
func TestGracefulShutdown(t *testing.T) {
	const size = 1 << 20
	src := randomBytes(size, 7)
	p, dir := startLocal(t, "-shutdown-timeout", "60s")
	uploads := []string{create(t, p.base, size), create(t, p.base, size)}

	const sent = 300_000
	var answers []<-chan patchAnswer
	for _, u := range uploads {
		pw, done := streamPatch(t, u, size)
		defer pw.Close()
		_, err := pw.Write(src[:sent])
		require.NoError(t, err)
		answers = append(answers, done)
	}

	// Both PATCHes are being read, and neither body will end.
	waitMetric(t, p.base, 2*sent, "tusd_bytes_received_total")
	signalled := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))

	offsets := make([]int, len(uploads))
	for i, done := range answers {
		var r patchAnswer
		select {
		case r = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("a PATCH in progress got no answer after SIGTERM")
		}
		require.NoError(t, r.err, "the PATCH in progress must be answered, not cut")
		assert.Equal(t, http.StatusServiceUnavailable, r.status, r.body)
		assert.Contains(t, r.body, "ERR_SERVER_SHUTDOWN")
		assert.Equal(t, "1", r.header.Get("Retry-After"))
		assert.True(t, r.close, "the answer closes the connection")
		off, err := strconv.Atoi(r.header.Get("Upload-Offset"))
		require.NoError(t, err, "Upload-Offset of the 503")
		assert.True(t, off > 0 && off <= sent, "Upload-Offset %d of %d bytes sent", off, sent)
		offsets[i] = off
	}
	// New connections are refused once the server stops accepting.
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(strings.TrimSuffix(p.base, "/files/"), "http://"), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, 10*time.Second, 10*time.Millisecond, "tusd still accepts connections after SIGTERM")

	// tusd exits once the PATCHes are answered, without waiting for the
	// 60 s of -shutdown-timeout (the bound is only a guard against hangs).
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("tusd did not exit after SIGTERM although every request was answered")
	}
	t.Logf("tusd exited %v after SIGTERM", time.Since(signalled).Round(time.Millisecond))
	assert.True(t, p.cmd.ProcessState.Success(), "exit status %v", p.cmd.ProcessState)
	logs := p.logs.String()
	assert.Contains(t, logs, "shutting down")
	assert.NotContains(t, logs, "cutting the connections")
	assert.Contains(t, logs, "stopped")

	p2 := startProcess(t, localEnv(t), nil, "-dir", dir)
	for i, u := range uploads {
		u = p2.base + path.Base(u)
		assert.Equal(t, offsets[i], headOffset(t, u), "the 503's Upload-Offset is what was stored")
		patch(t, u, offsets[i], src[offsets[i]:])
		download(t, u, src)
	}
}
