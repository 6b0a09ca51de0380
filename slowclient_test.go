package tus_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
)

// This file tests the handler with clients that send slowly, through real
// connections: HEADs next to a moving or stalled upload, the minimum
// transfer rate, answers that must reach a client still sending, and
// Handler.Shutdown. No assertion is about time but for guards against
// hangs: a slow client is recognised by what it had sent when its answer
// came.

// trickle is the body of a slow client: chunk bytes every interval (the
// first at once), len(data) in all. It stops, failing the request, when
// the test ends.
type trickle struct {
	data     []byte
	chunk    int
	interval time.Duration
	stop     <-chan struct{}

	mu   sync.Mutex
	sent int
}

// newTrickle returns a body of n reproducible bytes sent chunk bytes every
// interval.
func newTrickle(t *testing.T, n, chunk int, interval time.Duration) *trickle {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	data := make([]byte, n)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	return &trickle{data: data, chunk: chunk, interval: interval, stop: stop}
}

func (tr *trickle) Read(p []byte) (int, error) {
	sent := tr.count()
	if sent >= len(tr.data) {
		return 0, io.EOF
	}
	if sent > 0 {
		timer := time.NewTimer(tr.interval)
		select {
		case <-timer.C:
		case <-tr.stop:
			timer.Stop()
			return 0, errors.New("the test is over")
		}
	}
	n := copy(p, tr.data[sent:min(sent+tr.chunk, len(tr.data))])
	tr.mu.Lock()
	tr.sent += n
	tr.mu.Unlock()
	return n, nil
}

// count returns how many bytes were handed to the client so far.
func (tr *trickle) count() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.sent
}

// slowAnswer is a response and how much of its body the client had sent
// when it arrived.
type slowAnswer struct {
	response
	close  bool // the response closes the connection
	sentAt int  // bytes of the trickle sent when the status arrived
}

// slowClient sends requests without the liveServer's 10 s limit (a
// request that waits for a drain would fail for the wrong reason), but
// with a guard against hangs. It keeps connections alive, as browsers and
// tus clients do: a request that says Connection: close is never drained
// by net/http, which would hide what TestEarlyAnswerReachesSlowClient
// tests.
var slowClient = &http.Client{Transport: &http.Transport{}, Timeout: 60 * time.Second}

// send starts a request with exactly the given headers (no Tus-Resumable
// unless given) and body (contentLength -1: chunked). The answer arrives
// on the channel; sentAt is read from tr, if not nil, when its status came.
func (s *liveServer) send(method, id string, body io.Reader, contentLength int64, h hdr, tr *trickle) <-chan slowAnswer {
	res := make(chan slowAnswer, 1)
	req, err := http.NewRequest(method, s.URL+"/files/"+id, body)
	if err != nil {
		res <- slowAnswer{response: response{err: err}}
		return res
	}
	req.ContentLength = contentLength
	for k, v := range h {
		req.Header.Set(k, v)
	}
	go func() {
		r, err := slowClient.Do(req)
		if err != nil {
			res <- slowAnswer{response: response{err: err}}
			return
		}
		a := slowAnswer{close: r.Close}
		if tr != nil {
			a.sentAt = tr.count()
		}
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		a.response = response{status: r.StatusCode, header: r.Header, body: string(b), err: err}
		res <- a
	}()
	return res
}

// await returns the answer, failing the test if none comes within a
// minute (a hang).
func await(t *testing.T, what string, c <-chan slowAnswer) slowAnswer {
	t.Helper()
	select {
	case a := <-c:
		if a.err != nil {
			t.Fatalf("%s: %v", what, a.err)
		}
		return a
	case <-time.After(time.Minute):
		t.Fatalf("%s: no answer within a minute", what)
		return slowAnswer{}
	}
}

var tusPatch = hdr{"Tus-Resumable": tusVersion, "Content-Type": octet}

// withHdr returns base with the given pairs added.
func withHdr(base hdr, kv ...string) hdr {
	h := hdr{}
	for k, v := range base {
		h[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return h
}

// A HEAD on an upload whose PATCH is moving is answered from the stored
// state, without stopping the PATCH, which completes; a HEAD on an upload
// whose PATCH stalled makes it let go and answers the offset it stored.
func TestHeadNextToPatch(t *testing.T) {
	t.Run("moving", func(t *testing.T) {
		h, store, locker := newMemHandler(t, tus.Config{NetworkTimeout: 10 * time.Second})
		store.put(tus.FileInfo{ID: "up1", Size: 1 << 20}, "abc")
		srv := newLiveServer(t, h)

		tr := newTrickle(t, 60_000, 1000, 20*time.Millisecond) // 50 kB/s for about 1.2 s
		patch := srv.send(http.MethodPatch, "up1", tr, int64(len(tr.data)), withHdr(tusPatch, "Upload-Offset", "3"), tr)
		store.waitReading(t, "up1", 3+5000)

		heads := []struct {
			name   string
			h      hdr
			status int
		}{
			{"tus HEAD", hdr{"Tus-Resumable": tusVersion}, http.StatusOK},
			{"tus HEAD again", hdr{"Tus-Resumable": tusVersion}, http.StatusOK},
			{"IETF HEAD", hdr{"Upload-Draft-Interop-Version": strconv.Itoa(tus.IETFMaxInteropVersion)}, http.StatusNoContent},
		}
		for _, hd := range heads {
			r := await(t, hd.name, srv.send(http.MethodHead, "up1", nil, 0, hd.h, nil))
			eq(t, hd.name+" status", r.status, hd.status)
			// What the store holds: the moving PATCH's bytes are not
			// stored before its WriteChunk returns.
			data, _, _ := store.state("up1")
			eq(t, hd.name+" Upload-Offset", r.header.Get("Upload-Offset"), strconv.Itoa(len(data)))
		}
		if tr.count() == len(tr.data) {
			t.Fatal("the PATCH body was sent in full before the HEADs were answered: the test proves nothing")
		}

		res := await(t, "PATCH", patch)
		eq(t, "PATCH status", res.status, http.StatusNoContent)
		eq(t, "PATCH Upload-Offset", res.header.Get("Upload-Offset"), strconv.Itoa(3+len(tr.data)))
		if err := store.chunkErr(t, "up1", 0); err != nil {
			t.Errorf("the PATCH's body failed with %v", err)
		}
		data, _, _ := store.state("up1")
		if data != "abc"+string(tr.data) {
			t.Errorf("stored %d bytes, not the upload's %d", len(data), 3+len(tr.data))
		}
		srv.running.Wait()
		eq(t, "locks held", locker.Len(), 0)
	})

	t.Run("stalled", func(t *testing.T) {
		h, store, locker := newMemHandler(t, tus.Config{NetworkTimeout: 10 * time.Second})
		store.put(tus.FileInfo{ID: "up1", Size: 2000}, "")
		srv := newLiveServer(t, h)

		first := srv.startPatch("up1", 0, 2000)
		defer first.pw.Close()
		first.write(t, strings.Repeat("a", 1000))
		store.waitReading(t, "up1", 1000)
		time.Sleep(stalledAfter) // the client sends nothing more

		r := srv.do(http.MethodHead, "up1", nil, 0, nil)
		noErr(t, r.err)
		eq(t, "HEAD status", r.status, http.StatusOK)
		eq(t, "HEAD Upload-Offset", r.header.Get("Upload-Offset"), "1000")
		data, _, _ := store.state("up1")
		eq(t, "stored", data, strings.Repeat("a", 1000))
		res := first.wait(t, 10*time.Second)
		if res.err == nil {
			eq(t, "stalled PATCH status", res.status, http.StatusBadRequest)
			contains(t, "stalled PATCH body", res.body, "ERR_UPLOAD_INTERRUPTED")
		}
		srv.running.Wait()
		eq(t, "locks held", locker.Len(), 0)
	})
}

// errorLog records what Config.ErrorObserver is told.
type errorLog struct {
	mu    sync.Mutex
	codes []string
}

func (l *errorLog) observe(_ *http.Request, status int, code string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.codes = append(l.codes, strconv.Itoa(status)+" "+code)
}

func (l *errorLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.codes, ", ")
}

// A body that trickles below Config.MinTransferRate ends with 408
// ERR_TRANSFER_TOO_SLOW while its client is still sending; the bytes read
// are stored, the lock is free and the upload resumes. A fast client is
// not cut, even when the store is slow: only the time spent waiting for
// the client counts.
func TestMinTransferRate(t *testing.T) {
	t.Run("trickle", func(t *testing.T) {
		var errs errorLog
		h, store, locker := newMemHandler(t, tus.Config{
			NetworkTimeout:        10 * time.Second,
			MinTransferRate:       20_000, // 10 kB per 500 ms window
			MinTransferRateWindow: 500 * time.Millisecond,
			ErrorObserver:         errs.observe,
		})
		store.put(tus.FileInfo{ID: "up1", Size: 1 << 20}, "")
		srv := newLiveServer(t, h)

		tr := newTrickle(t, 40_000, 500, 50*time.Millisecond) // 10 kB/s, half the minimum
		res := await(t, "PATCH", srv.send(http.MethodPatch, "up1", tr, int64(len(tr.data)), withHdr(tusPatch, "Upload-Offset", "0"), tr))
		eq(t, "status", res.status, http.StatusRequestTimeout)
		contains(t, "body", res.body, "ERR_TRANSFER_TOO_SLOW")
		if res.sentAt >= len(tr.data) {
			t.Errorf("the answer came after the client sent all %d bytes", len(tr.data))
		}
		eq(t, "Connection: close", res.close, true)
		srv.running.Wait()
		data, _, _ := store.state("up1")
		if len(data) == 0 || data != string(tr.data[:len(data)]) {
			t.Fatalf("stored %d bytes, want a non-empty prefix of the body", len(data))
		}
		eq(t, "Upload-Offset", res.header.Get("Upload-Offset"), strconv.Itoa(len(data)))
		if err := store.chunkErr(t, "up1", 0); !errors.Is(err, tus.ErrTransferTooSlow) {
			t.Errorf("the store's source failed with %v, want ErrTransferTooSlow", err)
		}
		contains(t, "ErrorObserver", errs.String(), "408 ERR_TRANSFER_TOO_SLOW")
		eq(t, "locks held", locker.Len(), 0)

		rest := tr.data[len(data):]
		r := srv.do(http.MethodPatch, "up1", bytes.NewReader(rest), int64(len(rest)), hdr{"Content-Type": octet, "Upload-Offset": strconv.Itoa(len(data))})
		noErr(t, r.err)
		eq(t, "resumed PATCH", r.status, http.StatusNoContent)
		data, _, _ = store.state("up1")
		if data != string(tr.data) {
			t.Errorf("stored %d bytes after resuming, not the upload's %d", len(data), len(tr.data))
		}
	})

	t.Run("fast client, slow store", func(t *testing.T) {
		h, store, _ := newMemHandler(t, tus.Config{
			NetworkTimeout:        10 * time.Second,
			MinTransferRate:       1 << 20, // 200 KiB per 200 ms window: more than the whole body
			MinTransferRateWindow: 200 * time.Millisecond,
		})
		store.writeDelay = 300 * time.Millisecond // after every read of the store's
		store.put(tus.FileInfo{ID: "up1", Size: 100_000}, "")
		srv := newLiveServer(t, h)
		body := strings.Repeat("x", 100_000)
		r := srv.do(http.MethodPatch, "up1", strings.NewReader(body), int64(len(body)), hdr{"Content-Type": octet, "Upload-Offset": "0"})
		noErr(t, r.err)
		eq(t, "status", r.status, http.StatusNoContent)
		data, _, _ := store.state("up1")
		eq(t, "stored", len(data), len(body))
	})
}

// An answer given before the request body ended reaches a client that
// sends slowly while it is still sending (net/http would otherwise read
// up to 256 KiB more of the body, at the client's pace, first), and
// closes the connection; an answer after the whole body keeps it.
func TestEarlyAnswerReachesSlowClient(t *testing.T) {
	cases := []struct {
		name          string
		id            string
		contentLength bool // else chunked
		h             hdr
		status        int
		code          string
	}{
		{"chunked body past the upload's length", "small", false, withHdr(tusPatch, "Upload-Offset", "0"), http.StatusRequestEntityTooLarge, "ERR_UPLOAD_SIZE_EXCEEDED"},
		{"wrong offset", "big", true, withHdr(tusPatch, "Upload-Offset", "0"), http.StatusConflict, "ERR_MISMATCHED_OFFSET"},
		{"unknown upload", "nosuchupload", true, withHdr(tusPatch, "Upload-Offset", "0"), http.StatusNotFound, "ERR_UPLOAD_NOT_FOUND"},
		{"unsupported checksum", "big", true, withHdr(tusPatch, "Upload-Offset", "3", "Upload-Checksum", "whirlpool AAAA"), http.StatusBadRequest, "ERR_UNSUPPORTED_CHECKSUM_ALGORITHM"},
		{"IETF append past the length", "small", false, hdr{
			"Upload-Draft-Interop-Version": strconv.Itoa(tus.IETFMaxInteropVersion), "Content-Type": tus.PartialUploadType,
			"Upload-Offset": "0", "Upload-Complete": "?0",
		}, http.StatusBadRequest, "inconsistent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, store, _ := newMemHandler(t, tus.Config{NetworkTimeout: 30 * time.Second})
			store.put(tus.FileInfo{ID: "small", Size: 10}, "")
			store.put(tus.FileInfo{ID: "big", Size: 1 << 20}, "abc")
			srv := newLiveServer(t, h)

			tr := newTrickle(t, 40_000, 500, 100*time.Millisecond) // 5 kB/s for 8 s
			cl := int64(-1)
			if tc.contentLength {
				cl = int64(len(tr.data))
			}
			res := await(t, "PATCH", srv.send(http.MethodPatch, tc.id, tr, cl, tc.h, tr))
			eq(t, "status", res.status, tc.status)
			contains(t, "body", res.body, tc.code)
			if res.sentAt >= len(tr.data) {
				t.Errorf("the answer came only after the client sent all %d bytes", len(tr.data))
			}
			eq(t, "Connection: close", res.close, true)
		})
	}

	t.Run("body read in full", func(t *testing.T) {
		h, store, _ := newMemHandler(t, tus.Config{})
		store.put(tus.FileInfo{ID: "big", Size: 1 << 20}, "")
		srv := newLiveServer(t, h)
		tr := newTrickle(t, 2000, 500, 10*time.Millisecond)
		req, err := http.NewRequest(http.MethodPatch, srv.URL+"/files/big", tr)
		noErr(t, err)
		req.ContentLength = int64(len(tr.data))
		for k, v := range withHdr(tusPatch, "Upload-Offset", "0") {
			req.Header.Set(k, v)
		}
		client := &http.Client{Transport: &http.Transport{}, Timeout: time.Minute} // keeps connections
		defer client.CloseIdleConnections()
		res, err := client.Do(req)
		noErr(t, err)
		res.Body.Close()
		eq(t, "status", res.StatusCode, http.StatusNoContent)
		eq(t, "Connection: close", res.Close, false)
	})
}

// holdStore holds back the WriteChunk of one upload after it read the
// body to its end, until release is closed; read is closed once it has.
type holdStore struct {
	*memStore
	id            string
	read, release chan struct{}
}

func (s *holdStore) GetUpload(ctx context.Context, id string) (tus.Upload, error) {
	up, err := s.memStore.GetUpload(ctx, id)
	if err != nil || id != s.id {
		return up, err
	}
	return &heldUpload{Upload: up, s: s}, nil
}

type heldUpload struct {
	tus.Upload
	s *holdStore
}

func (u *heldUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	data, err := io.ReadAll(src)
	if err != nil {
		return 0, err
	}
	close(u.s.read)
	<-u.s.release
	return u.Upload.WriteChunk(ctx, offset, bytes.NewReader(data))
}

// newHoldHandler returns a handler over a holdStore that holds upload id.
func newHoldHandler(t *testing.T, id string) (*tus.Handler, *holdStore) {
	t.Helper()
	store := &holdStore{memStore: newMemStore(), id: id, read: make(chan struct{}), release: make(chan struct{})}
	c := tus.NewStoreComposer()
	store.memStore.UseIn(c)
	c.UseCore(store)
	memorylocker.New().UseIn(c)
	h, err := tus.NewHandler(tus.Config{StoreComposer: c, BasePath: "/files/", NetworkTimeout: 30 * time.Second})
	noErr(t, err)
	return h, store
}

// Handler.Shutdown stops the uploads whose bodies are being read at once:
// each stores what it read and answers 503 ERR_SERVER_SHUTDOWN with
// Upload-Offset, Retry-After and Connection: close, in both protocols. An
// upload whose body was read to its end finishes, and Shutdown waits for
// it. New uploads are refused; HEAD still answers.
func TestShutdown(t *testing.T) {
	h, store := newHoldHandler(t, "done")
	store.put(tus.FileInfo{ID: "tus1", Size: 1 << 20}, "")
	store.put(tus.FileInfo{ID: "ietf1", Size: 1 << 20}, "")
	store.put(tus.FileInfo{ID: "done", Size: 10}, "")
	srv := newLiveServer(t, h)

	trTus := newTrickle(t, 40_000, 500, 50*time.Millisecond)
	tusRes := srv.send(http.MethodPatch, "tus1", trTus, int64(len(trTus.data)), withHdr(tusPatch, "Upload-Offset", "0"), trTus)
	trIETF := newTrickle(t, 40_000, 500, 50*time.Millisecond)
	ietfRes := srv.send(http.MethodPatch, "ietf1", trIETF, int64(len(trIETF.data)), hdr{
		"Upload-Draft-Interop-Version": strconv.Itoa(tus.IETFMaxInteropVersion), "Content-Type": tus.PartialUploadType,
		"Upload-Offset": "0", "Upload-Complete": "?0",
	}, trIETF)
	doneRes := srv.send(http.MethodPatch, "done", strings.NewReader("0123456789"), 10, withHdr(tusPatch, "Upload-Offset", "0"), nil)
	store.waitReading(t, "tus1", 1000)
	store.waitReading(t, "ietf1", 1000)
	<-store.read // the body of "done" was read to its end; its store is busy

	stopped := make(chan error, 1)
	go func() { stopped <- h.Shutdown(context.Background()) }()

	for _, up := range []struct {
		id  string
		res <-chan slowAnswer
		tr  *trickle
	}{{"tus1", tusRes, trTus}, {"ietf1", ietfRes, trIETF}} {
		res := await(t, up.id, up.res)
		eq(t, up.id+" status", res.status, http.StatusServiceUnavailable)
		contains(t, up.id+" body", res.body, "ERR_SERVER_SHUTDOWN")
		eq(t, up.id+" Retry-After", res.header.Get("Retry-After"), "1")
		eq(t, up.id+" Connection: close", res.close, true)
		if res.sentAt >= len(up.tr.data) {
			t.Errorf("%s: the answer came after the client sent its whole body", up.id)
		}
		data, _, _ := store.state(up.id)
		if len(data) == 0 || data != string(up.tr.data[:len(data)]) {
			t.Errorf("%s: stored %d bytes, want a non-empty prefix of the body", up.id, len(data))
		}
		eq(t, up.id+" Upload-Offset", res.header.Get("Upload-Offset"), strconv.Itoa(len(data)))
	}

	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) while an upload was still finishing", err)
	default:
	}
	// New uploads are refused; HEAD still answers.
	r := srv.do(http.MethodPatch, "tus1", strings.NewReader("x"), 1, hdr{"Content-Type": octet, "Upload-Offset": "0"})
	noErr(t, r.err)
	eq(t, "new PATCH", r.status, http.StatusServiceUnavailable)
	contains(t, "new PATCH body", r.body, "ERR_SERVER_SHUTDOWN")
	eq(t, "new PATCH Retry-After", r.header.Get("Retry-After"), "1")
	r = srv.do(http.MethodPost, "", nil, 0, hdr{"Upload-Length": "5"})
	noErr(t, r.err)
	eq(t, "new POST", r.status, http.StatusServiceUnavailable)
	r = srv.do(http.MethodHead, "tus1", nil, 0, nil)
	noErr(t, r.err)
	eq(t, "HEAD", r.status, http.StatusOK)
	data, _, _ := store.state("tus1")
	eq(t, "HEAD Upload-Offset", r.header.Get("Upload-Offset"), strconv.Itoa(len(data)))

	close(store.release)
	res := await(t, "done", doneRes)
	eq(t, "PATCH whose body had ended", res.status, http.StatusNoContent)
	eq(t, "its Upload-Offset", res.header.Get("Upload-Offset"), "10")
	select {
	case err := <-stopped:
		noErr(t, err)
	case <-time.After(time.Minute):
		t.Fatal("Shutdown did not return once every upload was answered")
	}
	data, finishes, _ := store.state("done")
	eq(t, "done stored", data, "0123456789")
	eq(t, "done finished", finishes, 1)
	noErr(t, h.Shutdown(context.Background())) // again: nothing left
}

// Shutdown gives up when its context ends before every upload request is
// answered; the request still finishes afterwards.
func TestShutdownContext(t *testing.T) {
	h, store := newHoldHandler(t, "done")
	store.put(tus.FileInfo{ID: "done", Size: 10}, "")
	srv := newLiveServer(t, h)
	doneRes := srv.send(http.MethodPatch, "done", strings.NewReader("0123456789"), 10, withHdr(tusPatch, "Upload-Offset", "0"), nil)
	<-store.read

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want its context's error", err)
	}
	close(store.release)
	eq(t, "PATCH", await(t, "PATCH", doneRes).status, http.StatusNoContent)
}
