package ietfclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tusgo/tus/internal/cutproxy"
)

// fakeServer is the smallest server of the draft the client needs: it keeps
// whatever content arrives, even from a broken request.
type fakeServer struct {
	v       int
	bad     string // a rule of the draft to break, for TestStrict
	mu      sync.Mutex
	uploads map[string]*fakeUpload
	next    int
}

type fakeUpload struct {
	busy     sync.Mutex // held by the request using the upload, so an old request ends first
	data     []byte
	complete bool
}

func (s *fakeServer) completeHeader() string {
	if s.v == 3 {
		return "Upload-Incomplete"
	}
	return "Upload-Complete"
}

// completes reads the request's completeness header.
func (s *fakeServer) completes(r *http.Request) bool {
	v := r.Header.Get(s.completeHeader())
	if s.v == 3 {
		return v != "?1"
	}
	return v == "?1"
}

func (s *fakeServer) stateHeaders(w http.ResponseWriter, u *fakeUpload) {
	off := len(u.data)
	if s.bad == "complete-offset" && u.complete {
		off--
	}
	w.Header().Set("Upload-Offset", strconv.Itoa(off))
	c := u.complete
	if s.v == 3 {
		c = !c
	}
	if s.bad != "no-complete" {
		w.Header().Set(s.completeHeader(), sfBool(c))
	}
}

func (s *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upload-Draft-Interop-Version") != strconv.Itoa(s.v) {
		http.Error(w, "wrong interop version", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/up":
		s.next++
		id := "/up/" + strconv.Itoa(s.next)
		u := &fakeUpload{}
		s.uploads[id] = u
		u.busy.Lock()
		defer u.busy.Unlock()
		s.mu.Unlock()
		w.Header().Set("Location", id)
		w.Header().Set("Upload-Draft-Interop-Version", strconv.Itoa(s.v))
		w.WriteHeader(104)
		w.Header().Del("Upload-Draft-Interop-Version")
		if s.bad == "location" {
			w.Header().Set("Location", id+"x")
		}
		s.write(w, r, u, http.StatusCreated)
	case r.Method == http.MethodHead:
		u := s.uploads[r.URL.Path]
		s.mu.Unlock()
		if u == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		u.busy.Lock()
		defer u.busy.Unlock()
		s.mu.Lock()
		s.stateHeaders(w, u)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPatch:
		u := s.uploads[r.URL.Path]
		if u != nil {
			s.mu.Unlock()
			u.busy.Lock()
			defer u.busy.Unlock()
			s.mu.Lock()
		}
		off, _ := strconv.Atoi(r.Header.Get("Upload-Offset"))
		if u == nil || u.complete || off != len(u.data) || (s.v >= 6 && r.Header.Get("Content-Type") != "application/partial-upload") {
			s.mu.Unlock()
			w.WriteHeader(http.StatusConflict)
			return
		}
		s.mu.Unlock()
		s.write(w, r, u, http.StatusNoContent)
	default:
		s.mu.Unlock()
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// write appends the body to u (keeping what arrives if it breaks) and
// answers with status.
func (s *fakeServer) write(w http.ResponseWriter, r *http.Request, u *fakeUpload, status int) {
	b, err := io.ReadAll(r.Body)
	if s.bad == "progress" && len(b) > 0 {
		// Announces a byte more than it keeps.
		w.Header().Set("Upload-Draft-Interop-Version", strconv.Itoa(s.v))
		w.Header().Set("Upload-Offset", strconv.Itoa(len(u.data)+len(b)+1))
		w.WriteHeader(104)
		w.Header().Del("Upload-Draft-Interop-Version")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u.data = append(u.data, b...)
	if err == nil && s.completes(r) {
		u.complete = true
	}
	s.stateHeaders(w, u)
	w.WriteHeader(status)
}

func (s *fakeServer) only() *fakeUpload {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.uploads {
		if u.complete {
			return u
		}
	}
	return nil
}

func TestUploadThroughCuts(t *testing.T) {
	data := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for v := 3; v <= 8; v++ {
		for _, chunk := range []int64{0, 300 << 10} {
			t.Run(fmt.Sprintf("v%d/chunk%d", v, chunk), func(t *testing.T) {
				fs := &fakeServer{v: v, uploads: map[string]*fakeUpload{}}
				srv := httptest.NewServer(fs)
				defer srv.Close()
				p, err := cutproxy.New(strings.TrimPrefix(srv.URL, "http://"), 64<<10, 256<<10, uint64(v))
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				c := &Client{Version: v, ChunkSize: chunk, RetryCreation: true, MaxFailures: 100, HTTP: &http.Client{Transport: &http.Transport{}}}
				res, err := c.Upload(context.Background(), "http://"+p.Addr()+"/up", bytes.NewReader(data), int64(len(data)))
				if err != nil {
					t.Fatal(err)
				}
				u := fs.only()
				if u == nil || !bytes.Equal(u.data, data) {
					t.Fatal("the server does not hold the data byte for byte")
				}
				if p.Cuts() == 0 || res.Resumptions == 0 {
					t.Errorf("cuts %d, resumptions %d: the test did not interrupt the upload", p.Cuts(), res.Resumptions)
				}
				if !strings.HasPrefix(res.URL, "http://"+p.Addr()+"/up/") {
					t.Errorf("URL = %q", res.URL)
				}
			})
		}
	}
}

// Waiting for 100 Continue, the client learns the URL from the 104 sent
// before it: one creation is enough, whatever the cuts.
func TestExpectContinueOneCreation(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10)
	fs := &fakeServer{v: 8, uploads: map[string]*fakeUpload{}}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	p, err := cutproxy.New(strings.TrimPrefix(srv.URL, "http://"), 64<<10, 128<<10, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := &Client{Version: 8, ExpectContinue: true, MaxFailures: 100,
		HTTP: &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}}
	res, err := c.Upload(context.Background(), "http://"+p.Addr()+"/up", bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Creations != 1 {
		t.Errorf("%d creations, want 1", res.Creations)
	}
	if u := fs.only(); u == nil || !bytes.Equal(u.data, data) {
		t.Fatal("the server does not hold the data byte for byte")
	}
}

func TestRejectedCreation(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer srv.Close()
	c := &Client{Version: 8}
	_, err := c.Upload(context.Background(), srv.URL, strings.NewReader("abc"), 3)
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
}

func TestBadVersion(t *testing.T) {
	if _, err := (&Client{Version: 9}).Upload(context.Background(), "http://x", strings.NewReader(""), 0); err == nil {
		t.Fatal("version 9 accepted")
	}
}

// The client refuses a server that breaks the rules it checks.
func TestStrict(t *testing.T) {
	for _, tc := range []struct {
		bad     string
		version int
	}{
		{"", 8}, {"", 3},
		{"no-complete", 7}, {"no-complete", 8},
		{"complete-offset", 8}, {"complete-offset", 3},
		{"progress", 8}, {"progress", 5},
		{"location", 8}, {"location", 3},
	} {
		for _, chunk := range []int64{0, 2} {
			t.Run(fmt.Sprintf("%s/v%d/chunk%d", tc.bad, tc.version, chunk), func(t *testing.T) {
				fs := &fakeServer{v: tc.version, bad: tc.bad, uploads: map[string]*fakeUpload{}}
				srv := httptest.NewServer(fs)
				defer srv.Close()
				c := &Client{Version: tc.version, ChunkSize: chunk}
				_, err := c.Upload(context.Background(), srv.URL+"/up", strings.NewReader("abcde"), 5)
				switch {
				case tc.bad == "" && err != nil:
					t.Fatalf("a correct server: %v", err)
				case tc.bad != "" && !errors.Is(err, ErrProtocol):
					t.Fatalf("err = %v, want ErrProtocol", err)
				}
			})
		}
	}
}

// staleTransport plays a server whose creation request breaks off after a
// 104 with offset 40. The server then stores up to 60, which the offset
// retrieval reports, and the transport hands the broken request one more
// 104 (offset 50) only while the resuming append runs: a 1xx read before
// the break but delivered after Do returned, as net/http may do when the
// request body's write fails first.
type staleTransport struct {
	mu    sync.Mutex
	stale *httptrace.ClientTrace // the broken creation's trace
}

func (s *staleTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	trace := httptrace.ContextClientTrace(r.Context())
	h := func(pairs ...string) http.Header {
		hdr := http.Header{"Upload-Draft-Interop-Version": {"5"}}
		for i := 0; i < len(pairs); i += 2 {
			hdr.Set(pairs[i], pairs[i+1])
		}
		return hdr
	}
	respond := func(status int, hdr http.Header) *http.Response {
		return &http.Response{StatusCode: status, Header: hdr, Body: http.NoBody, Request: r}
	}
	switch r.Method {
	case http.MethodPost:
		_ = trace.Got1xxResponse(104, textproto.MIMEHeader(h("Location", "/up/1")))
		_ = trace.Got1xxResponse(104, textproto.MIMEHeader(h("Upload-Offset", "40")))
		s.stale = trace
		return nil, errors.New("connection reset by peer")
	case http.MethodHead:
		return respond(http.StatusNoContent, h("Upload-Offset", "60", "Upload-Complete", "?0")), nil
	default:
		_ = s.stale.Got1xxResponse(104, textproto.MIMEHeader(h("Upload-Offset", "50")))
		return respond(http.StatusCreated, h("Upload-Offset", "100", "Upload-Complete", "?1")), nil
	}
}

// TestStale104Ignored: a 104 of a request the client already gave up on is
// not an offset reported after those of later requests, so it is no
// protocol violation.
func TestStale104Ignored(t *testing.T) {
	c := &Client{Version: 5, HTTP: &http.Client{Transport: &staleTransport{}}}
	res, err := c.Upload(context.Background(), "http://example.invalid/up", bytes.NewReader(make([]byte, 100)), 100)
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if want := []int64{40}; !slices.Equal(res.Progress, want) {
		t.Errorf("progress %v, want %v (the late 104 is not counted)", res.Progress, want)
	}
}
