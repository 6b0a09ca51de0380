package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus/internal/redistest"
	"github.com/tusgo/tus/internal/s3test"
)

// Several tusd processes on one bucket with one Redis act as one server.
// These tests run the real binary against the real S3 servers and a real
// redis-server.

// instanceArgs are the flags of an instance on bucket with Redis at
// redisURL; lease is short so that a killed instance's locks free soon.
func instanceArgs(srv s3test.Server, bucket, redisURL string) []string {
	return []string{"-s3-bucket", bucket, "-s3-endpoint", srv.Endpoint, "-s3-part-size", strconv.Itoa(5 << 20),
		"-redis-url", redisURL, "-redis-lock-lease", "3s", "-disable-demo"}
}

// TestInstancesTakeover: a client whose PATCH through instance A stalls
// (its connection is alive but sends nothing, as when a client vanished
// without closing it) resumes through instance B: B's HEAD asks A, through
// Redis, to let go; A stores every byte it read; B reports exactly that
// offset within about a second, and the upload completes through B
// byte-exact.
func TestInstancesTakeover(t *testing.T) {
	rs := redistest.Start(t)
	src := randomBytes(9<<20+321, 7)
	const first = 6<<20 + 55 // sent through A before the stall: one whole part and a tail
	for _, srv := range s3test.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			client := srv.Client(t)
			bucket := srv.NewBucket(t, client)
			args := instanceArgs(srv, bucket, rs.URL())
			a := startTusd(t, srv, args...)
			b := startTusd(t, srv, args...)
			assert.Contains(t, a.logs.String(), "locker=\"redis redis://127.0.0.1:", "startup log names the locker")

			u := create(t, a.base, len(src))
			id := path.Base(u)
			pw, answer := streamPatch(t, u, int64(len(src)))
			_, err := pw.Write(src[:first])
			require.NoError(t, err)
			waitForMetric(t, a.base, "tusd_bytes_received_total", first)

			start := time.Now()
			off := headOffset(t, b.base+id)
			took := time.Since(start)
			t.Logf("%s: B's HEAD got the lock from A's stalled PATCH and answered in %v", srv.Name, took.Round(time.Millisecond))
			require.Equal(t, first, off, "B must see every byte A read")
			assert.Less(t, took, 5*time.Second, "B waited for a timeout instead of asking A to let go")

			pw.Close()
			select {
			case ans := <-answer:
				t.Logf("A's PATCH ended: %+v", ans)
				assert.True(t, ans.err != nil || ans.status >= 400, "A's interrupted PATCH cannot succeed: %+v", ans)
			case <-time.After(20 * time.Second):
				t.Fatal("A's PATCH did not end")
			}
			patch(t, b.base+id, off, src[off:])
			download(t, a.base+id, src)
			m := scrape(t, b.base)
			assert.GreaterOrEqual(t, metricValue(m, "tusd_lock_release_requests_sent_total"), 1.0, "B asked A to let go")
			ma := scrape(t, a.base)
			assert.GreaterOrEqual(t, metricValue(ma, "tusd_lock_release_requests_received_total"), 1.0, "A was asked to let go")
			assert.Empty(t, s3test.MultipartUploads(t, client, bucket))
			assert.Equal(t, []string{id, id + ".info"}, s3test.Objects(t, client, bucket))
		})
	}
}

// waitForMetric waits until the counter name at base reaches at least want.
func waitForMetric(t *testing.T, base, name string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if v := metricValue(scrape(t, base), name); v >= float64(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach %d in 30 s", name, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInstancesRacingPatches: two clients PATCH the same upload at offset
// 0 at nearly the same moment, one through A and one through B, each body
// trickling in for about a quarter of a second so that the later request
// usually interrupts the earlier one. Whatever the outcome, the stored
// bytes are exactly one client's, never interleaved: the two bodies differ
// in every byte, so the stored prefix must be wholly the one or the other.
func TestInstancesRacingPatches(t *testing.T) {
	rs := redistest.Start(t)
	const trials, size = 50, 1<<20 + 17
	one, other := bytes.Repeat([]byte{0xAA}, size), bytes.Repeat([]byte{0x55}, size)
	for _, srv := range s3test.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			client := srv.Client(t)
			bucket := srv.NewBucket(t, client)
			args := instanceArgs(srv, bucket, rs.URL())
			a := startTusd(t, srv, args...)
			b := startTusd(t, srv, args...)
			outcomes := map[string]int{}
			for trial := range trials {
				u := create(t, a.base, size)
				id := path.Base(u)
				var wg sync.WaitGroup
				codes := make([]int, 2)
				for i, target := range []struct {
					base string
					body []byte
				}{{a.base, one}, {b.base, other}} {
					wg.Add(1)
					delay := time.Duration(rand.IntN(60)) * time.Millisecond
					go func() {
						defer wg.Done()
						time.Sleep(delay)
						req := patchRequest(t, target.base+id, 0, nil)
						req.Body = io.NopCloser(&trickle{data: target.body})
						req.ContentLength = int64(len(target.body))
						res, err := http.DefaultClient.Do(req)
						if err != nil {
							codes[i] = -1
							return
						}
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
						codes[i] = res.StatusCode
					}()
				}
				wg.Wait()
				off := headOffset(t, b.base+id)
				outcomes[fmt.Sprintf("%d/%d", codes[0], codes[1])]++
				// Complete with the first body's bytes: the result is then
				// that body, or the other's prefix followed by it.
				if off < size {
					patch(t, a.base+id, off, one[off:])
				}
				res, got := tusDo(t, http.MethodGet, a.base+id, nil)
				require.Equal(t, http.StatusOK, res.StatusCode, "trial %d: GET", trial)
				require.Len(t, got, size, "trial %d", trial)
				prefix := got[:off]
				if !bytes.Equal(prefix, one[:off]) && !bytes.Equal(prefix, other[:off]) {
					t.Fatalf("trial %d: the %d stored bytes mix both clients' bodies (statuses %v)", trial, off, codes)
				}
				require.Equal(t, one[off:], got[off:], "trial %d: the completing bytes", trial)
			}
			t.Logf("%s: %d trials, outcomes (status through A / through B): %v", srv.Name, trials, outcomes)
		})
	}
}

// trickle is a request body that hands out 32 KiB every 8 ms (4 MiB/s).
type trickle struct{ data []byte }

func (r *trickle) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(8 * time.Millisecond)
	n := copy(p[:min(len(p), 32<<10)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// patchRequest is a tus PATCH of body at offset of u.
func patchRequest(t *testing.T, u string, offset int, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPatch, u, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.Itoa(offset))
	return req
}

// roundRobin is a reverse proxy that sends each request to the next of its
// backends, which the test may replace (an instance restarted on another
// port). A backend that does not answer gets the client a 502.
type roundRobin struct {
	mu       sync.Mutex
	backends []*url.URL
	next     int
}

func (p *roundRobin) set(t *testing.T, i int, base string) {
	u, err := url.Parse(base)
	require.NoError(t, err)
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.backends) <= i {
		p.backends = append(p.backends, nil)
	}
	p.backends[i] = u
}

func (p *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	target := p.backends[p.next%len(p.backends)]
	p.next++
	p.mu.Unlock()
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: target.Scheme, Host: target.Host})
			pr.Out.Host = pr.In.Host // upload URLs name the proxy
		},
		ErrorLog: nopLogger,
	}
	rp.ServeHTTP(w, r)
}

// TestInstancesRoundRobin: three instances behind a round-robin proxy (each
// request to the next instance), 8 clients, 104 uploads of 1 to 24 MiB in
// 1 to 5 MiB PATCHes plus concatenations and terminations; one instance
// is killed with SIGKILL mid-run and restarted. Every upload is checked
// byte-exact by SHA-256 of a GET, no response ever reports an offset below
// one reported before or beyond what was sent, and afterwards the bucket
// holds exactly the objects of the finished uploads: no multipart upload,
// no tail object, nothing of the terminated ones.
func TestInstancesRoundRobin(t *testing.T) {
	if testing.Short() {
		t.Skip("moves about a gigabyte")
	}
	rs := redistest.Start(t)
	servers := s3test.Servers(t)
	srv := servers[len(servers)-1] // one server is enough: the takeover and race tests run on both
	client := srv.Client(t)
	bucket := srv.NewBucket(t, client)
	args := instanceArgs(srv, bucket, rs.URL())
	proxy := &roundRobin{}
	procs := make([]*tusdProcess, 3)
	for i := range procs {
		procs[i] = startTusd(t, srv, args...)
		proxy.set(t, i, procs[i].base)
	}
	front := httptest.NewServer(proxy)
	defer front.Close()
	base := front.URL + "/files/"

	const clients, uploads, partials = 8, 96, 8
	type job struct {
		n       int
		size    int
		partial bool
	}
	jobs := make(chan job, uploads+partials)
	rng := rand.New(rand.NewPCG(11, 13))
	for n := range uploads + partials {
		size := 1<<20 + rng.IntN(23<<20+1)
		if n%4 != 0 {
			size = 1<<20 + rng.IntN(4<<20) // most are small, to keep the run short
		}
		jobs <- job{n: n, size: size, partial: n >= uploads}
	}
	close(jobs)

	var (
		mu        sync.Mutex
		finished  = map[string][32]byte{} // upload ID: SHA-256 of its bytes
		partialOf = map[string][]byte{}   // finished partials' bytes
		done      atomic.Int64
		retries   atomic.Int64
	)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 99))
			for j := range jobs {
				src := randomBytes(j.size, byte(j.n))
				id, err := resumeUpload(base, src, j.partial, rng, &retries)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				finished[id] = sha256.Sum256(src)
				if j.partial {
					partialOf[id] = src
				}
				mu.Unlock()
				done.Add(1)
			}
		}()
	}

	// Kill one instance once a third of the uploads are done, restart it.
	for done.Load() < (uploads+partials)/3 && !t.Failed() {
		time.Sleep(50 * time.Millisecond)
	}
	procs[1].kill(t)
	t.Logf("killed instance 1 after %d uploads", done.Load())
	time.Sleep(500 * time.Millisecond)
	procs[1] = startTusd(t, srv, args...)
	proxy.set(t, 1, procs[1].base)
	wg.Wait()
	if t.Failed() {
		return
	}

	// Concatenations of finished partials (one named twice), through the
	// proxy; and terminations of some uploads.
	var ids []string
	for id := range partialOf {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i := 0; i+1 < len(ids); i += 2 {
		parts := []string{ids[i], ids[i+1], ids[i]}
		res, body := tusDo(t, http.MethodPost, base, nil, "Upload-Concat", "final;"+base+parts[0]+" "+base+parts[1]+" "+base+parts[2])
		require.Equal(t, http.StatusCreated, res.StatusCode, "final POST: %s", body)
		want := slices.Concat(partialOf[parts[0]], partialOf[parts[1]], partialOf[parts[2]])
		finished[path.Base(res.Header.Get("Location"))] = sha256.Sum256(want)
	}
	var terminated []string
	for id := range finished {
		if len(terminated) == 6 {
			break
		}
		if _, isPartial := partialOf[id]; isPartial {
			continue
		}
		res, body := tusDo(t, http.MethodDelete, base+id, nil)
		require.Equal(t, http.StatusNoContent, res.StatusCode, "DELETE: %s", body)
		terminated = append(terminated, id)
		delete(finished, id)
	}

	// Every upload byte-exact, each read through the next instance.
	for id, sum := range finished {
		res, got := tusDo(t, http.MethodGet, base+id, nil)
		require.Equal(t, http.StatusOK, res.StatusCode, "GET %s", id)
		require.Equal(t, sum, sha256.Sum256(got), "upload %s is not byte-exact", id)
	}
	for _, id := range terminated {
		res, _ := tusDo(t, http.MethodHead, base+id, nil)
		assert.Equal(t, http.StatusNotFound, res.StatusCode, "HEAD of terminated %s", id)
	}

	// Finished uploads keep exactly their object and info object, and no
	// multipart upload; terminated ones keep nothing. An instance killed
	// between creating an upload's multipart upload and answering the POST
	// leaves an upload nobody knows (the client created another): that is
	// an abandoned upload, counted here, which expiry removes.
	owned := func(key string) (string, bool) {
		id, _, _ := strings.Cut(key, ".")
		_, fin := finished[id]
		return id, fin || slices.Contains(terminated, id)
	}
	var got, want []string
	abandoned := map[string]bool{}
	for _, key := range s3test.Objects(t, client, bucket) {
		if id, ok := owned(key); ok {
			got = append(got, key)
		} else {
			abandoned[id] = true
		}
	}
	for id := range finished {
		want = append(want, id, id+".info")
	}
	slices.Sort(want)
	assert.Equal(t, want, got, "objects of finished and terminated uploads")
	for _, key := range s3test.MultipartUploads(t, client, bucket) {
		if id, ok := owned(key); ok {
			t.Errorf("multipart upload left for finished or terminated upload %s", id)
		} else {
			abandoned[id] = true
		}
	}
	t.Logf("%d uploads (%d partials, %d finals), %d terminated, 1 instance killed and restarted, %d requests retried, %d uploads abandoned by the kill",
		uploads+partials, partials, len(ids)/2, len(terminated), retries.Load(), len(abandoned))
}

// resumeUpload uploads src through base in PATCHes of 1 to 5 MiB, as a
// resuming client does: after a failed request it asks HEAD for the offset
// and goes on from there. It fails if a response reports an offset below an
// earlier one or beyond the bytes sent, and returns the upload's ID. It
// runs on a goroutine of its own, so it reports failures as errors.
func resumeUpload(base string, src []byte, partial bool, rng *rand.Rand, retries *atomic.Int64) (string, error) {
	c := &http.Client{Timeout: 60 * time.Second}
	send := func(method, u string, body []byte, headers ...string) (*http.Response, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequest(method, u, rd)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Tus-Resumable", "1.0.0")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res, nil
	}
	headers := []string{"Upload-Length", strconv.Itoa(len(src))}
	if partial {
		headers = append(headers, "Upload-Concat", "partial")
	}
	var u string
	for attempt := 0; u == ""; attempt++ {
		res, err := send(http.MethodPost, base, nil, headers...)
		switch {
		case err == nil && res.StatusCode == http.StatusCreated:
			u = res.Header.Get("Location")
		case attempt == 50:
			return "", fmt.Errorf("POST keeps failing: %v %v", res, err)
		default:
			retries.Add(1)
			time.Sleep(100 * time.Millisecond)
		}
	}
	reported, sent := 0, 0
	check := func(h http.Header, what string) (int, error) {
		off, err := strconv.Atoi(h.Get("Upload-Offset"))
		switch {
		case err != nil:
			return 0, fmt.Errorf("%s of %s: Upload-Offset %q", what, u, h.Get("Upload-Offset"))
		case off < reported:
			return 0, fmt.Errorf("%s of %s: offset %d went back from %d", what, u, off, reported)
		case off > sent:
			return 0, fmt.Errorf("%s of %s: offset %d beyond the %d bytes sent", what, u, off, sent)
		}
		reported = off
		return off, nil
	}
	for off, failures := 0, 0; off < len(src); {
		n := min(1<<20+rng.IntN(4<<20+1), len(src)-off)
		sent = max(sent, off+n)
		res, err := send(http.MethodPatch, u, src[off:off+n],
			"Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.Itoa(off))
		if err == nil && res.StatusCode == http.StatusNoContent {
			if off, err = check(res.Header, "PATCH"); err != nil {
				return "", err
			}
			continue
		}
		// The instance died or was asked to let go: find the offset and
		// resume from there.
		retries.Add(1)
		if failures++; failures == 50 {
			return "", fmt.Errorf("upload %s makes no progress: %v %v", u, res, err)
		}
		for tries := 0; ; tries++ {
			hres, err := send(http.MethodHead, u, nil)
			if err == nil && hres.StatusCode == http.StatusOK {
				if off, err = check(hres.Header, "HEAD"); err != nil {
					return "", err
				}
				break
			}
			if tries == 100 {
				return "", fmt.Errorf("HEAD of %s keeps failing: %v %v", u, hres, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return path.Base(u), nil
}

// nopLogger discards the proxy's error log (requests to a killed instance).
var nopLogger = log.New(io.Discard, "", 0)

// TestInstancesRedisDown: with Redis stopped, a request that needs a lock
// answers 503 with Retry-After within a few seconds and changes nothing;
// downloads of finished uploads go on; when Redis is back, so is service,
// without a restart.
func TestInstancesRedisDown(t *testing.T) {
	rs := redistest.Start(t)
	dir := t.TempDir()
	args := []string{"-dir", dir, "-redis-url", rs.URL(), "-disable-demo"}
	p := startProcess(t, []string{"HOME=" + t.TempDir()}, nil, args...)
	done := create(t, p.base, 3)
	patch(t, done, 0, []byte("abc"))
	u := create(t, p.base, 10)
	patch(t, u, 0, []byte("12345"))

	rs.Stop()
	start := time.Now()
	res, body := tusDo(t, http.MethodPatch, u, []byte("67890"),
		"Content-Type", "application/offset+octet-stream", "Upload-Offset", "5")
	took := time.Since(start)
	t.Logf("PATCH with Redis stopped: %d after %v: %s", res.StatusCode, took.Round(time.Millisecond), bytes.TrimSpace(body))
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "%s", body)
	assert.NotEmpty(t, res.Header.Get("Retry-After"), "Retry-After")
	assert.Less(t, took, 10*time.Second, "the locker's calls must be bounded")
	res, _ = tusDo(t, http.MethodHead, u, nil)
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "HEAD")
	download(t, done, []byte("abc"))

	rs.Restart()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, _ := tusDo(t, http.MethodHead, u, nil)
		if res.StatusCode == http.StatusOK {
			assert.Equal(t, "5", res.Header.Get("Upload-Offset"), "the refused PATCH stored nothing")
			break
		}
		require.True(t, time.Now().Before(deadline), "service did not come back after Redis did: %d", res.StatusCode)
		time.Sleep(100 * time.Millisecond)
	}
	patch(t, u, 5, []byte("67890"))
	download(t, u, []byte("1234567890"))
	m := scrape(t, p.base)
	assert.Greater(t, metricValue(m, "tusd_redis_errors_total"), 0.0, "Redis errors counted")
	assert.Greater(t, metricValue(m, "tusd_lock_acquisitions_total"), 0.0, "locks counted")
}
