package s3store_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/internal/s3test"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/s3store"
)

// The time limits of the outage tests, small so the tests are quick.
const (
	outageCallTimeout = 2 * time.Second
	outagePartTimeout = 5 * time.Second
)

// hangGuard is the client timeout of the outage tests: far above any limit
// the store should keep, it only turns a hang into a failure.
const hangGuard = 90 * time.Second

// answer is what a request got and how long it took.
type answer struct {
	method     string
	status     int
	retryAfter string
	offset     string
	took       time.Duration
	body       string
}

// timedRequest sends one tus request with a hang guard and times it.
func timedRequest(t *testing.T, method, u string, body io.Reader, size int64, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	require.NoError(t, err)
	if body != nil {
		req.ContentLength = size
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	start := time.Now()
	res, err := (&http.Client{Timeout: hangGuard}).Do(req)
	require.NoError(t, err, "%s %s", method, u)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{
		method: method, status: res.StatusCode, retryAfter: res.Header.Get("Retry-After"),
		offset: res.Header.Get("Upload-Offset"), took: time.Since(start), body: string(b),
	}
}

// require503 checks an answer of an unavailable storage.
func require503(t *testing.T, what string, a answer) {
	t.Helper()
	t.Logf("%-34s %d after %6.2fs, Retry-After %q, Upload-Offset %q: %s", what, a.status, a.took.Seconds(), a.retryAfter, a.offset, bytes.TrimSpace([]byte(a.body)))
	require.Equal(t, http.StatusServiceUnavailable, a.status, "%s: %s", what, a.body)
	require.NotEmpty(t, a.retryAfter, "%s: Retry-After", what)
	if a.method != http.MethodHead {
		require.Contains(t, a.body, "ERR_SERVICE_UNAVAILABLE", what)
	}
}

// hookBody is a request body as the handler reads it: hook is called
// once, when at bytes have been read. The handler reads a PATCH's body
// only once it has loaded the upload.
type hookBody struct {
	io.ReadCloser
	read atomic.Int64
	at   int64
	hook func()
	once sync.Once
}

func (h *hookBody) Read(p []byte) (int, error) {
	if left := h.at - h.read.Load(); left > 0 && int64(len(p)) > left {
		p = p[:left]
	}
	n, err := h.ReadCloser.Read(p)
	if h.read.Add(int64(n)) >= h.at {
		h.once.Do(h.hook)
	}
	return n, err
}

// outageEnv is a tus handler over a store on a private server.
type outageEnv struct {
	srv      *s3test.Private
	client   *s3.Client // the server's, without the test's changes
	bucket   string
	partSize int64
	base     string
	store    *s3store.Store
	body     atomic.Pointer[hookBody] // taken by the next PATCH
	log      lockedBuffer             // the handler's and the store's log
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newOutageEnv(t *testing.T, name string, partSize int64, client func(*s3.Client) *s3.Client) *outageEnv {
	p := s3test.StartPrivate(t, name)
	c := p.Client(t)
	bucket := p.NewBucket(t, c)
	raw := c
	if client != nil {
		c = client(c)
	}
	o := &outageEnv{srv: p, client: raw, bucket: bucket, partSize: partSize}
	logger := slog.New(slog.NewTextHandler(&o.log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := s3store.New(c, s3store.Options{
		Bucket: bucket, PartSize: partSize,
		CallTimeout: outageCallTimeout, PartTimeout: outagePartTimeout,
		Logger: logger,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	o.store = store
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	memorylocker.New().UseIn(composer)
	h, err := tus.NewHandler(tus.Config{StoreComposer: composer, BasePath: "/files/", Logger: logger})
	require.NoError(t, err)
	srv := httptest.NewServer(http.StripPrefix("/files/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			if hb := o.body.Swap(nil); hb != nil {
				hb.ReadCloser = r.Body
				r.Body = hb
			}
		}
		h.ServeHTTP(w, r)
	})))
	t.Cleanup(srv.Close)
	// Before srv.Close, which waits for the requests in progress.
	t.Cleanup(p.Resume)
	o.base = srv.URL + "/files/"
	return o
}

// onBody makes the next PATCH call hook once the handler has read at bytes
// of its body, and returns the body wrapper, which counts the bytes read.
func (o *outageEnv) onBody(at int64, hook func()) *hookBody {
	hb := &hookBody{at: at, hook: hook}
	o.body.Store(hb)
	return hb
}

// create makes an upload of len(src) bytes, stores src[:n] and returns its
// URL.
func (o *outageEnv) create(t *testing.T, src []byte, n int) string {
	t.Helper()
	res, _ := tusRequest(t, http.MethodPost, o.base, nil, "Upload-Length", strconv.Itoa(len(src)))
	require.Equal(t, http.StatusCreated, res.StatusCode)
	u := res.Header.Get("Location")
	if n > 0 {
		res, body := tusRequest(t, http.MethodPatch, u, bytes.NewReader(src[:n]), patchHeaders(0)...)
		require.Equal(t, http.StatusNoContent, res.StatusCode, body)
	}
	return u
}

func patchHeaders(offset int64) []string {
	return []string{"Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.FormatInt(offset, 10)}
}

// resume checks that upload u, of src, holds at least offset bytes (and
// none it was not sent: at most sent), takes the rest as a resuming client
// does, and downloads byte-exact.
//
// A part upload whose request gave up while the server was paused may
// still land once the server continues (the server had its whole body):
// the offset then grows past the one the failed request reported, with
// that client's own bytes, maybe between the client's HEAD and its PATCH.
// The client sees a 409, asks again, and goes on, as any client does.
func (o *outageEnv) resume(t *testing.T, u string, src []byte, offset, sent int64) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		off := headOffset(t, u)
		t.Logf("HEAD: offset %d (the failed request reported %d, %d bytes were sent); %s", off, offset, sent, o.describeParts(t, src))
		require.GreaterOrEqual(t, off, offset, "offset after the outage lost bytes the failed request reported")
		require.LessOrEqual(t, off, sent, "offset after the outage counts bytes never sent")
		res, body := tusRequest(t, http.MethodPatch, u, bytes.NewReader(src[off:]), patchHeaders(off)...)
		if res.StatusCode == http.StatusConflict && attempt < 3 {
			t.Logf("a late part landed after HEAD said %d: %s", off, body)
			continue
		}
		require.Equal(t, http.StatusNoContent, res.StatusCode, body)
		break
	}
	// A download may be cut short: the store waits at most CallTimeout
	// (2 s here) for each read of the object's bytes, which a loaded
	// machine can exceed. The client sees it (the body ends before its
	// Content-Length) and downloads again, as a client does; the bytes it
	// got must be the upload's first ones.
	res, got, rerr := download(t, u)
	for attempt := 0; rerr != nil && len(got) < len(src) && bytes.Equal(src[:len(got)], got) && attempt < 3; attempt++ {
		t.Logf("the download broke off after %d of %d bytes (%v); downloading again", len(got), len(src), rerr)
		res, got, rerr = download(t, u)
	}
	require.Equal(t, http.StatusOK, res.StatusCode)
	if !bytes.Equal(src, got) {
		// Tell a download cut short from stored bytes that differ: compare
		// the object in S3 too.
		id := u[strings.LastIndexByte(u, '/')+1:]
		stored := readObject(t, o.client, o.bucket, id)
		log, _ := os.ReadFile(o.srv.LogPath())
		t.Fatalf("downloaded bytes differ from the upload's: %s (Content-Length %q, reading the body: %v); the object in S3: %s; the handler's log:\n%s\nthe server's log:\n%s",
			describeDiff(src, got, o.partSize), res.Header.Get("Content-Length"), rerr, describeDiff(src, stored, o.partSize), o.log.String(), log)
	}
	require.NoError(t, rerr, "reading the download")
}

// download GETs upload u and returns its answer, the bytes read and the
// error that ended reading them (nil at the end of the body).
func download(t *testing.T, u string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.Header.Set("Tus-Resumable", "1.0.0")
	res, err := (&http.Client{Timeout: hangGuard}).Do(req)
	require.NoError(t, err, "GET %s", u)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, b, err
}

// describeParts lists the parts of the bucket's multipart uploads (number,
// size, and whether the ETag is the MD5 of the source bytes the part
// stands for) and its other objects.
func (o *outageEnv) describeParts(t *testing.T, src []byte) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	objs, err := o.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &o.bucket})
	if err != nil {
		return fmt.Sprintf("listing objects: %v", err)
	}
	for _, obj := range objs.Contents {
		key, ok := strings.CutSuffix(aws.ToString(obj.Key), ".info")
		if !ok {
			continue
		}
		// By the upload's key: MinIO lists multipart uploads only by it.
		ups, err := o.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &o.bucket, Prefix: &key})
		if err != nil {
			fmt.Fprintf(&b, "listing multipart uploads of %s: %v; ", key, err)
			continue
		}
		for _, up := range ups.Uploads {
			out, err := o.client.ListParts(ctx, &s3.ListPartsInput{Bucket: &o.bucket, Key: up.Key, UploadId: up.UploadId})
			if err != nil {
				fmt.Fprintf(&b, "listing parts of %s: %v; ", key, err)
				continue
			}
			fmt.Fprintf(&b, "parts of %s:", key)
			for _, p := range out.Parts {
				n, size := int64(aws.ToInt32(p.PartNumber)), aws.ToInt64(p.Size)
				start := (n - 1) * o.partSize
				match := "?"
				if start+size <= int64(len(src)) {
					sum := md5.Sum(src[start : start+size])
					match = strconv.FormatBool(strings.Trim(aws.ToString(p.ETag), `"`) == hex.EncodeToString(sum[:]))
				}
				fmt.Fprintf(&b, " %d (%d bytes, ETag %s, MD5 of the source's %v)", n, size, aws.ToString(p.ETag), match)
			}
			b.WriteString("; ")
		}
	}
	b.WriteString("objects:")
	for _, obj := range objs.Contents {
		fmt.Fprintf(&b, " %s (%d bytes)", aws.ToString(obj.Key), aws.ToInt64(obj.Size))
	}
	return b.String()
}

// readObject returns the bytes of object key as S3 holds them, or nil if
// it cannot be read.
func readObject(t *testing.T, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Logf("reading object %s: %v", key, err)
		return nil
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Logf("reading object %s: %v", key, err)
	}
	return b
}

// describeDiff says where got differs from want, in bytes and in parts of
// partSize bytes: its length, the first differing offset, the extent of the
// differing bytes they have in common, and the parts that differ.
func describeDiff(want, got []byte, partSize int64) string {
	if bytes.Equal(want, got) {
		return "identical"
	}
	common := min(len(want), len(got))
	first, last := -1, -1
	var parts []int64
	for i := 0; i < common; i++ {
		if want[i] != got[i] {
			if first < 0 {
				first = i
			}
			last = i
			if n := int64(i)/partSize + 1; len(parts) == 0 || parts[len(parts)-1] != n {
				parts = append(parts, n)
			}
		}
	}
	msg := fmt.Sprintf("%d bytes of %d", len(got), len(want))
	if first < 0 {
		msg += fmt.Sprintf(", a prefix: the bytes from %d (part %d, at %d in it) are missing",
			common, int64(common)/partSize+1, int64(common)%partSize)
		if len(got) > len(want) {
			msg = fmt.Sprintf("%d bytes of %d: %d bytes too many at the end", len(got), len(want), len(got)-len(want))
		}
		return msg
	}
	msg += fmt.Sprintf(", first difference at %d (part %d, at %d in it), differing bytes within [%d, %d] (%d bytes), in parts %v",
		first, int64(first)/partSize+1, int64(first)%partSize, first, last, last-first+1, parts)
	if len(got) != len(want) {
		msg += ", and the lengths differ"
	}
	return msg
}

// TestOutagePaused pauses the S3 server (SIGSTOP: connections are accepted,
// nothing answers), first in the middle of a PATCH, and checks that every
// kind of request ends within the store's time limits with 503 and
// Retry-After, that the PATCH's lock is free once it has answered, and
// that the upload resumes byte-exact once the server continues.
func TestOutagePaused(t *testing.T) {
	for _, name := range s3test.PrivateNames {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := newOutageEnv(t, name, s3store.DefaultMinPartSize, nil)
			done := data(1000, 70)
			doneURL := o.create(t, done, len(done))
			src := data(12*mib, 71)
			u := o.create(t, src, 3*mib) // a tail object: part 1 is not whole

			// A PATCH that completes part 1: the server pauses after 2 MiB
			// of its body, so the part upload hangs.
			var paused time.Time
			body := o.onBody(2*mib, func() { paused = time.Now(); o.srv.Pause() })
			rest := src[3*mib:]
			a := timedRequest(t, http.MethodPatch, u, bytes.NewReader(rest), int64(len(rest)), patchHeaders(3*mib)...)
			a.took = time.Since(paused)
			require503(t, "PATCH (paused mid-body)", a)
			require.Equal(t, strconv.Itoa(3*mib), a.offset, "the bytes stored before count")
			t.Logf("PATCH read %d MiB of its %d MiB body", body.read.Load()/mib, len(rest)/mib)

			// The lock is free: HEAD is not refused with 423.
			require503(t, "HEAD (right after the PATCH)", timedRequest(t, http.MethodHead, u, nil, 0))
			require503(t, "POST", timedRequest(t, http.MethodPost, o.base, nil, 0, "Upload-Length", "10"))
			require503(t, "PATCH", timedRequest(t, http.MethodPatch, u, bytes.NewReader(src[3*mib:3*mib+10]), 10, patchHeaders(3*mib)...))
			require503(t, "GET (finished upload)", timedRequest(t, http.MethodGet, doneURL, nil, 0))

			o.srv.Resume()
			o.resume(t, u, src, 3*mib, 3*mib+body.read.Load())
		})
	}
}

// TestOutageStopped stops the S3 server (connections refused): every kind
// of request answers 503 with Retry-After at once, and after a restart the
// upload resumes byte-exact.
func TestOutageStopped(t *testing.T) {
	for _, name := range s3test.PrivateNames {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := newOutageEnv(t, name, s3store.DefaultMinPartSize, nil)
			done := data(1000, 72)
			doneURL := o.create(t, done, len(done))
			src := data(7*mib, 73)
			u := o.create(t, src, 6*mib)

			o.srv.Stop()
			require503(t, "POST", timedRequest(t, http.MethodPost, o.base, nil, 0, "Upload-Length", "10"))
			require503(t, "HEAD", timedRequest(t, http.MethodHead, u, nil, 0))
			require503(t, "PATCH", timedRequest(t, http.MethodPatch, u, bytes.NewReader(src[6*mib:6*mib+10]), 10, patchHeaders(6*mib)...))
			require503(t, "GET (finished upload)", timedRequest(t, http.MethodGet, doneURL, nil, 0))

			o.srv.Restart()
			o.resume(t, u, src, 6*mib, 6*mib)
		})
	}
}

// TestOutageStopsReadingBody stops the S3 server in the middle of a large
// PATCH: once a part upload has failed, the store stops reading the body
// (it used to read on until ConcurrentPartUploads more parts had failed:
// all 80 MiB here, with 16 MiB parts),
// answers 503 with the offset, and the upload resumes after a restart. The
// client makes one attempt per call, so a refused connection fails at once.
func TestOutageStopsReadingBody(t *testing.T) {
	for _, name := range s3test.PrivateNames {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := newOutageEnv(t, name, 16*mib, func(c *s3.Client) *s3.Client {
				return s3.New(c.Options(), func(o *s3.Options) { o.RetryMaxAttempts = 1 })
			})
			src := data(80*mib, 74)
			u := o.create(t, src, 0)
			var stopped time.Time
			body := o.onBody(2*mib, func() { o.srv.Stop(); stopped = time.Now() })
			a := timedRequest(t, http.MethodPatch, u, bytes.NewReader(src), int64(len(src)), patchHeaders(0)...)
			a.took = time.Since(stopped)
			require503(t, "PATCH (stopped mid-body)", a)
			read := body.read.Load()
			t.Logf("PATCH read %d MiB of its %d MiB body", read/mib, len(src)/mib)
			require.Less(t, read, int64(48*mib), "the body is read on after the storage failed")
			off, err := strconv.ParseInt(a.offset, 10, 64)
			require.NoError(t, err, "Upload-Offset")

			o.srv.Restart()
			o.resume(t, u, src, off, read)
		})
	}
}

// TestOutageDuringDownload pauses the S3 server in the middle of a
// download, longer than the store waits for the object's bytes: the
// download fails visibly (the client reads fewer bytes than the declared
// Content-Length), and what it got is the upload's first bytes: no error
// message or other byte is ever sent as content. Once the server
// continues, the download is whole.
func TestOutageDuringDownload(t *testing.T) {
	for _, name := range s3test.PrivateNames {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := newOutageEnv(t, name, 16*mib, nil)
			// Far more than the socket buffers between the server and the
			// client hold when the server pauses.
			src := data(64*mib, 75)
			u := o.create(t, src, len(src))

			req, err := http.NewRequest(http.MethodGet, u, nil)
			require.NoError(t, err)
			req.Header.Set("Tus-Resumable", "1.0.0")
			res, err := (&http.Client{Timeout: hangGuard}).Do(req)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.StatusCode)
			require.Equal(t, strconv.Itoa(len(src)), res.Header.Get("Content-Length"))
			hb := &hookBody{ReadCloser: res.Body, at: mib, hook: o.srv.Pause}
			got, rerr := io.ReadAll(hb)
			_ = res.Body.Close()
			o.srv.Resume()
			t.Logf("the download stopped after %d of %d bytes: %v", len(got), len(src), rerr)
			require.Error(t, rerr, "a download cut short must fail")
			require.Less(t, len(got), len(src))
			require.True(t, bytes.Equal(src[:len(got)], got), "the bytes of a failed download: %s", describeDiff(src[:len(got)], got, o.partSize))

			res2, got, rerr := download(t, u)
			require.Equal(t, http.StatusOK, res2.StatusCode)
			require.NoError(t, rerr)
			require.True(t, bytes.Equal(src, got), "download after the outage: %s", describeDiff(src, got, o.partSize))
		})
	}
}
