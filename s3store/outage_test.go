package s3store_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	srv   *s3test.Private
	base  string
	store *s3store.Store
	body  atomic.Pointer[hookBody] // taken by the next PATCH
}

func newOutageEnv(t *testing.T, name string, partSize int64, client func(*s3.Client) *s3.Client) *outageEnv {
	p := s3test.StartPrivate(t, name)
	c := p.Client(t)
	bucket := p.NewBucket(t, c)
	if client != nil {
		c = client(c)
	}
	store, err := s3store.New(c, s3store.Options{
		Bucket: bucket, PartSize: partSize,
		CallTimeout: outageCallTimeout, PartTimeout: outagePartTimeout,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	o := &outageEnv{srv: p, store: store}
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	memorylocker.New().UseIn(composer)
	h, err := tus.NewHandler(tus.Config{StoreComposer: composer, BasePath: "/files/"})
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
	res, body := tusRequest(t, http.MethodGet, u, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.True(t, bytes.Equal(src, []byte(body)), "downloaded bytes differ from the upload's")
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
