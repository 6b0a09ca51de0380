package tus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tusgo/tus"
)

// liveServer serves h under /files/ on a real connection (needed for read
// deadlines and interruptions) and counts handler invocations that are
// still running.
type liveServer struct {
	*httptest.Server
	client  *http.Client
	running sync.WaitGroup
}

func newLiveServer(t *testing.T, h http.Handler) *liveServer {
	t.Helper()
	s := &liveServer{}
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", h))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.running.Add(1)
		defer s.running.Done()
		mux.ServeHTTP(w, r)
	}))
	s.client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		s.client.CloseIdleConnections()
		s.CloseClientConnections()
		s.Close()
	})
	return s
}

type response struct {
	status int
	header http.Header
	body   string
	err    error
}

// do sends a request with Tus-Resumable and the given headers.
func (s *liveServer) do(method, id string, body io.Reader, contentLength int64, h hdr) response {
	req, err := http.NewRequest(method, s.URL+"/files/"+id, body)
	if err != nil {
		return response{err: err}
	}
	if body != nil {
		req.ContentLength = contentLength
	}
	req.Header.Set("Tus-Resumable", tusVersion)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b), err: err}
}

// slowPatch is a PATCH whose body the test writes piece by piece.
type slowPatch struct {
	pw  *io.PipeWriter
	res chan response
}

// startPatch starts a PATCH of contentLength bytes (-1: chunked) at offset.
func (s *liveServer) startPatch(id string, offset, contentLength int64) *slowPatch {
	pr, pw := io.Pipe()
	p := &slowPatch{pw: pw, res: make(chan response, 1)}
	go func() {
		p.res <- s.do(http.MethodPatch, id, pr, contentLength, hdr{
			"Content-Type": octet, "Upload-Offset": fmt.Sprint(offset),
		})
	}()
	return p
}

func (p *slowPatch) write(t *testing.T, data string) {
	t.Helper()
	if _, err := io.WriteString(p.pw, data); err != nil {
		t.Fatalf("writing the PATCH body: %v", err)
	}
}

func (p *slowPatch) wait(t *testing.T, d time.Duration) response {
	t.Helper()
	select {
	case r := <-p.res:
		return r
	case <-time.After(d):
		t.Fatalf("PATCH did not end within %v", d)
		return response{}
	}
}

// stalledAfter is how long a body must have sent nothing for a HEAD to
// treat it as stalled and ask its request to let go: more than the
// handler's 400 ms (see HeadFile).
const stalledAfter = 600 * time.Millisecond

// A second request for an upload makes the request streaming into it stop;
// what it read so far is stored and counted, and the second request then
// proceeds with the new offset.
func TestLockContentionInterruptsPatch(t *testing.T) {
	for _, second := range []string{http.MethodHead, http.MethodPatch, http.MethodDelete} {
		t.Run(second, func(t *testing.T) {
			h, store, locker := newMemHandler(t, tus.Config{NetworkTimeout: 10 * time.Second})
			store.put(tus.FileInfo{ID: "up1", Size: 2000}, "")
			srv := newLiveServer(t, h)

			first := srv.startPatch("up1", 0, 2000)
			defer first.pw.Close()
			first.write(t, strings.Repeat("a", 1000))
			store.waitReading(t, "up1", 1000) // the server holds the lock and is reading

			start := time.Now()
			var r response
			switch second {
			case http.MethodHead:
				// A HEAD leaves a body that moves alone
				// (TestHeadDuringMovingPatch); this one has stalled: its
				// client is gone, and the one resuming must get in.
				time.Sleep(stalledAfter)
				start = time.Now()
				r = srv.do(http.MethodHead, "up1", nil, 0, nil)
				noErr(t, r.err)
				eq(t, "HEAD status", r.status, http.StatusOK)
				eq(t, "HEAD Upload-Offset", r.header.Get("Upload-Offset"), "1000")
			case http.MethodPatch:
				r = srv.do(http.MethodPatch, "up1", strings.NewReader(strings.Repeat("b", 1000)), 1000,
					hdr{"Content-Type": octet, "Upload-Offset": "1000"})
				noErr(t, r.err)
				eq(t, "second PATCH status", r.status, http.StatusNoContent)
				eq(t, "second PATCH Upload-Offset", r.header.Get("Upload-Offset"), "2000")
			case http.MethodDelete:
				r = srv.do(http.MethodDelete, "up1", nil, 0, nil)
				noErr(t, r.err)
				eq(t, "DELETE status", r.status, http.StatusNoContent)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("second request took %v: the first did not let go", d)
			}

			res := first.wait(t, 5*time.Second)
			if res.err == nil { // the client may see the connection closed instead
				eq(t, "first PATCH status", res.status, http.StatusBadRequest)
				contains(t, "first PATCH body", res.body, "ERR_UPLOAD_INTERRUPTED")
				eq(t, "first PATCH Upload-Offset", res.header.Get("Upload-Offset"), "1000")
			}
			if second != http.MethodDelete {
				if err := store.chunkErr(t, "up1", 0); !errors.Is(err, tus.ErrUploadInterrupted) {
					t.Errorf("the first WriteChunk's source failed with %v, want ErrUploadInterrupted", err)
				}
			}
			data, finishes, ok := store.state("up1")
			switch second {
			case http.MethodHead:
				eq(t, "stored", data, strings.Repeat("a", 1000))
				eq(t, "finishes", finishes, 0)
			case http.MethodPatch:
				eq(t, "stored", data, strings.Repeat("a", 1000)+strings.Repeat("b", 1000))
				eq(t, "finishes", finishes, 1)
			case http.MethodDelete:
				eq(t, "upload exists", ok, false)
			}
			srv.running.Wait()
			eq(t, "locks held", locker.Len(), 0)
		})
	}
}

// A request waiting for a lock whose holder never lets go gets 423 after
// AcquireLockTimeout; the holder was asked to release.
func TestAcquireLockTimeout(t *testing.T) {
	for _, tt := range []struct {
		method string
		body   string
		hdr    hdr
	}{
		{http.MethodHead, "", nil},
		{http.MethodPatch, "abc", hdr{"Content-Type": octet, "Upload-Offset": "0"}},
		{http.MethodDelete, "", nil},
	} {
		t.Run(tt.method, func(t *testing.T) {
			h, store, locker := newMemHandler(t, tus.Config{AcquireLockTimeout: 150 * time.Millisecond})
			store.put(tus.FileInfo{ID: "up1", Size: 10}, "")
			lock, err := locker.NewLock("up1")
			noErr(t, err)
			asked := make(chan struct{}, 1)
			noErr(t, lock.Lock(context.Background(), func() { asked <- struct{}{} }))
			defer lock.Unlock()

			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			start := time.Now()
			w := serve(t, h, newReq(tt.method, "/up1", body, tt.hdr))
			elapsed := time.Since(start)
			eq(t, "status", w.Code, http.StatusLocked)
			if tt.method != http.MethodHead {
				wantError(t, w, http.StatusLocked, "ERR_LOCK_TIMEOUT")
			}
			if elapsed < 150*time.Millisecond || elapsed > 3*time.Second {
				t.Errorf("423 after %v, want after the 150ms AcquireLockTimeout", elapsed)
			}
			select {
			case <-asked:
			default:
				t.Error("the lock holder was not asked to release")
			}
			data, _, ok := store.state("up1")
			eq(t, "upload still there", ok, true)
			eq(t, "nothing written", data, "")
		})
	}
}

func TestLockErrorsFromLocker(t *testing.T) {
	tests := []struct {
		name    string
		lockErr error
		status  int
		code    string
	}{
		{"lock timeout from the locker", fmt.Errorf("redis: %w", tus.ErrLockTimeout), 423, "ERR_LOCK_TIMEOUT"},
		{"deadline from the locker", fmt.Errorf("etcd: %w", context.DeadlineExceeded), 423, "ERR_LOCK_TIMEOUT"},
		{"other locker failure", errors.New("redis: connection refused 10.0.0.9"), 500, "ERR_INTERNAL_SERVER_ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newMockEnv(t, withConfig(func(c *tus.Config) { c.AcquireLockTimeout = 7 * time.Second }))
			locker := NewMockLocker(e.ctrl)
			lock := NewMockLock(e.ctrl)
			e.composer.UseLocker(locker)
			h, err := tus.NewHandler(e.cfg)
			noErr(t, err)
			locker.EXPECT().NewLock("up1").Return(lock, nil)
			lock.EXPECT().Lock(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, release func()) error {
				dl, ok := ctx.Deadline()
				if !ok || time.Until(dl) > 7*time.Second || time.Until(dl) < 6*time.Second {
					t.Errorf("lock context deadline in %v, want AcquireLockTimeout (7s)", time.Until(dl))
				}
				if release == nil {
					t.Error("Lock got no release function")
				}
				return tt.lockErr
			})
			// No Unlock expected: the lock was never held.
			w := serve(t, h, newReq(http.MethodPatch, "/up1", strings.NewReader("x"), hdr{"Content-Type": octet, "Upload-Offset": "0"}))
			wantError(t, w, tt.status, tt.code)
			notContains(t, "body", w.Body.String(), "10.0.0.9")
		})
	}
	t.Run("unlock failure is not the client's problem", func(t *testing.T) {
		e := newMockEnv(t)
		locker := NewMockLocker(e.ctrl)
		lock := NewMockLock(e.ctrl)
		e.composer.UseLocker(locker)
		h, err := tus.NewHandler(e.cfg)
		noErr(t, err)
		e.upload(tus.FileInfo{ID: "up1", Size: 10, Offset: 2})
		locker.EXPECT().NewLock("up1").Return(lock, nil)
		gomock.InOrder(
			lock.EXPECT().Lock(gomock.Any(), gomock.Any()).Return(nil),
			lock.EXPECT().Unlock().Return(errors.New("lease lost")).Times(1),
		)
		w := serve(t, h, newReq(http.MethodHead, "/up1", nil, nil))
		eq(t, "status", w.Code, http.StatusOK)
		eq(t, "Upload-Offset", w.Header().Get("Upload-Offset"), "2")
	})
	t.Run("every lock is released once", func(t *testing.T) {
		e := newMockEnv(t, withTerminater)
		locker := NewMockLocker(e.ctrl)
		e.composer.UseLocker(locker)
		h, err := tus.NewHandler(e.cfg)
		noErr(t, err)
		up := e.upload(tus.FileInfo{ID: "up1", Size: 10, Offset: 2})
		expectWrite(up)
		tu := NewMockTerminatableUpload(e.ctrl)
		e.term.EXPECT().AsTerminatableUpload(up).Return(tu)
		tu.EXPECT().Terminate(gomock.Any()).Return(nil)
		reqs := []*http.Request{
			newReq(http.MethodHead, "/up1", nil, nil),
			newReq(http.MethodPatch, "/up1", strings.NewReader("abc"), hdr{"Content-Type": octet, "Upload-Offset": "2"}),
			newReq(http.MethodPatch, "/up1", strings.NewReader("abc"), hdr{"Content-Type": octet, "Upload-Offset": "1"}), // 409
			newReq(http.MethodDelete, "/up1", nil, nil),
		}
		for _, r := range reqs {
			lock := NewMockLock(e.ctrl)
			locker.EXPECT().NewLock("up1").Return(lock, nil)
			gomock.InOrder(
				lock.EXPECT().Lock(gomock.Any(), gomock.Any()).Return(nil).Times(1),
				lock.EXPECT().Unlock().Return(nil).Times(1),
			)
			serve(t, h, r)
		}
	})
}

// NetworkTimeout: a body that stalls ends the request; the bytes read
// before the stall are stored and counted.
func TestNetworkTimeout(t *testing.T) {
	h, store, locker := newMemHandler(t, tus.Config{NetworkTimeout: 300 * time.Millisecond})
	store.put(tus.FileInfo{ID: "up1", Size: 100}, "")
	srv := newLiveServer(t, h)

	p := srv.startPatch("up1", 0, 100)
	defer p.pw.Close()
	p.write(t, strings.Repeat("x", 40))
	start := time.Now()
	store.waitReading(t, "up1", 40)

	// The handler must end on its own, with the client still connected.
	ended := make(chan struct{})
	go func() { srv.running.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not end after the network timeout")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("request ended after %v, before the 300ms network timeout", d)
	}
	data, _, _ := store.state("up1")
	eq(t, "stored", data, strings.Repeat("x", 40))
	if err := store.chunkErr(t, "up1", 0); !errors.Is(err, tus.ErrReadTimeout) {
		t.Errorf("WriteChunk source error = %v, want ErrReadTimeout", err)
	}
	eq(t, "locks held", locker.Len(), 0)

	// The stalled client is told, and the upload resumes from 40.
	res := p.wait(t, 5*time.Second)
	noErr(t, res.err)
	eq(t, "status", res.status, http.StatusRequestTimeout)
	contains(t, "body", res.body, "ERR_READ_TIMEOUT")
	eq(t, "Upload-Offset", res.header.Get("Upload-Offset"), "40")

	r := srv.do(http.MethodPatch, "up1", strings.NewReader(strings.Repeat("y", 60)), 60, hdr{"Content-Type": octet, "Upload-Offset": "40"})
	noErr(t, r.err)
	eq(t, "resume status", r.status, http.StatusNoContent)
	eq(t, "resume Upload-Offset", r.header.Get("Upload-Offset"), "100")
}

// A chunked body that has delivered every remaining byte and then stalls
// (its terminating chunk never comes) or is interrupted: every byte is
// stored, so the upload is complete and must be finished, and the answer
// is the protocol error, not a 500.
func TestBodyEndingAfterLastByte(t *testing.T) {
	for _, how := range []string{"stall", "interrupt"} {
		t.Run(how, func(t *testing.T) {
			timeout := 300 * time.Millisecond
			if how == "interrupt" {
				timeout = 10 * time.Second // the HEAD below comes once the body stalled
			}
			h, store, _ := newMemHandler(t, tus.Config{NetworkTimeout: timeout})
			store.put(tus.FileInfo{ID: "up1", Size: 10}, "")
			srv := newLiveServer(t, h)
			sub := h.Subscribe(10, tus.EventCompleted)
			defer sub.Close()

			p := srv.startPatch("up1", 0, -1)
			defer p.pw.Close()
			p.write(t, "0123456789")
			store.waitReading(t, "up1", 10)
			want := http.StatusRequestTimeout
			if how == "interrupt" {
				want = http.StatusBadRequest
				time.Sleep(stalledAfter) // a HEAD leaves a body that moves alone
				r := srv.do(http.MethodHead, "up1", nil, 0, nil)
				noErr(t, r.err)
				eq(t, "HEAD Upload-Offset", r.header.Get("Upload-Offset"), "10")
			}
			res := p.wait(t, 5*time.Second)
			if res.err == nil {
				if res.status >= 500 {
					t.Errorf("status = %d (%q), want a protocol error (%d) or success", res.status, res.body, want)
				}
				eq(t, "Upload-Offset", res.header.Get("Upload-Offset"), "10")
			}
			srv.running.Wait()
			data, finishes, _ := store.state("up1")
			eq(t, "stored", data, "0123456789")
			eq(t, "FinishUpload calls for the complete upload", finishes, 1)
			if evs := drain(sub, 20*time.Millisecond); len(evs) != 1 {
				t.Errorf("completed events = %d, want 1", len(evs))
			}
		})
	}
}

// AccessCallback decides "before anything is done": a request it refuses
// must not disturb a request that is uploading.
func TestRefusedRequestDoesNotInterruptUpload(t *testing.T) {
	h, store, _ := newMemHandler(t, tus.Config{
		NetworkTimeout: 10 * time.Second,
		AccessCallback: func(ev tus.AccessEvent) error {
			if ev.HTTPRequest.Header.Get("Authorization") != "Bearer owner" {
				return tus.ErrAccessDenied
			}
			return nil
		},
	})
	store.put(tus.FileInfo{ID: "up1", Size: 20}, "")
	srv := newLiveServer(t, h)

	pr, pw := io.Pipe()
	defer pw.Close()
	first := make(chan response, 1)
	go func() {
		first <- srv.do(http.MethodPatch, "up1", pr, 20, hdr{
			"Content-Type": octet, "Upload-Offset": "0", "Authorization": "Bearer owner",
		})
	}()
	_, err := io.WriteString(pw, "0123456789")
	noErr(t, err)
	store.waitReading(t, "up1", 10)

	for _, m := range []string{http.MethodHead, http.MethodDelete, http.MethodPatch} {
		r := srv.do(m, "up1", strings.NewReader(""), 0, hdr{"Content-Type": octet, "Upload-Offset": "0", "Authorization": "Bearer intruder"})
		noErr(t, r.err)
		eq(t, m+" by intruder", r.status, http.StatusForbidden)
	}
	time.Sleep(400 * time.Millisecond) // past the release grace period
	_, err = io.WriteString(pw, "abcdefghij")
	if err != nil {
		t.Errorf("the owner's upload was cut off: %v", err)
	}
	pw.Close()
	select {
	case r := <-first:
		noErr(t, r.err)
		eq(t, "owner's PATCH status", r.status, http.StatusNoContent)
		eq(t, "owner's PATCH Upload-Offset", r.header.Get("Upload-Offset"), "20")
	case <-time.After(5 * time.Second):
		t.Fatal("owner's PATCH did not end")
	}
}
