package tus_test

// Shared test helpers: small assertions (testify cannot be built in this
// module: its go.yaml.in/yaml/v3 dependency has no go.sum entry), a gomock
// based test environment, request helpers and an in-memory store.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
)

const (
	tusVersion = "1.0.0"
	testHost   = "tus.example.org"
	octet      = "application/offset+octet-stream"
)

// ---------------------------------------------------------------------------
// Assertions

func eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func mustEq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %#v, want %#v", what, got, want)
	}
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func contains(t testing.TB, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s = %q, want it to contain %q", what, s, sub)
	}
}

func notContains(t testing.TB, what, s, sub string) {
	t.Helper()
	if strings.Contains(s, sub) {
		t.Errorf("%s = %q, must not contain %q", what, s, sub)
	}
}

func absent(t testing.TB, h http.Header, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if v, ok := h[http.CanonicalHeaderKey(k)]; ok {
			t.Errorf("header %s = %q, want it absent", k, v)
		}
	}
}

func headers(t testing.TB, h http.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

// ---------------------------------------------------------------------------
// Requests

type hdr map[string]string

// newReq builds a request for the handler as it sees it after
// http.StripPrefix("/files/"): path is "/" or "/<id>". It sends
// Tus-Resumable unless the headers set it (an empty value removes it).
func newReq(method, path string, body io.Reader, h hdr) *http.Request {
	r := httptest.NewRequest(method, "http://"+testHost+path, body)
	r.Header.Set("Tus-Resumable", tusVersion)
	for k, v := range h {
		if v == "" {
			r.Header.Del(k)
			continue
		}
		r.Header.Set(k, v)
	}
	return r
}

// serve runs r through h and checks what every response must have:
// Tus-Resumable, and an error body of exactly one line (not for HEAD).
func serve(t testing.TB, h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	checkCommon(t, r.Method, w.Code, w.Header(), w.Body.String())
	return w
}

var errLine = regexp.MustCompile(`^ERR_[A-Z_]+: [^\n]+\n$`)

// checkCommon asserts Tus-Resumable on the response and that an error
// response sent by the handler is one "CODE: message" line.
func checkCommon(t testing.TB, method string, status int, h http.Header, body string) {
	t.Helper()
	eq(t, "Tus-Resumable", h.Get("Tus-Resumable"), tusVersion)
	if status >= 400 {
		if method == http.MethodHead {
			eq(t, "HEAD error body", body, "")
		} else if !errLine.MatchString(body) {
			t.Errorf("error body %q is not one `ERR_CODE: message` line", body)
		}
	}
}

// wantError asserts status and the error code in the body.
func wantError(t testing.TB, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	eq(t, "status", w.Code, status)
	if code != "" && !strings.HasPrefix(w.Body.String(), code+": ") {
		t.Errorf("body = %q, want error code %s", w.Body.String(), code)
	}
}

// ---------------------------------------------------------------------------
// gomock environment

// mockEnv is a handler over gomock stores and a real in-memory locker (so
// lock pairing is checked after every request).
type mockEnv struct {
	t        *testing.T
	ctrl     *gomock.Controller
	store    *MockDataStore
	term     *MockTerminaterDataStore
	concat   *MockConcaterDataStore
	deferrer *MockLengthDeferrerDataStore
	content  *MockContentServerDataStore
	locker   *memorylocker.MemoryLocker
	composer *tus.StoreComposer
	cfg      tus.Config
	h        *tus.Handler
}

type envOpt func(*mockEnv)

func withTerminater(e *mockEnv) { e.composer.UseTerminater(e.term) }
func withConcater(e *mockEnv)   { e.composer.UseConcater(e.concat) }
func withDeferrer(e *mockEnv)   { e.composer.UseLengthDeferrer(e.deferrer) }
func withContent(e *mockEnv)    { e.composer.UseContentServer(e.content) }
func withAll(e *mockEnv) {
	withTerminater(e)
	withConcater(e)
	withDeferrer(e)
	withContent(e)
}

func withConfig(f func(*tus.Config)) envOpt { return func(e *mockEnv) { f(&e.cfg) } }

func newMockEnv(t *testing.T, opts ...envOpt) *mockEnv {
	t.Helper()
	ctrl := gomock.NewController(t)
	e := &mockEnv{
		t:        t,
		ctrl:     ctrl,
		store:    NewMockDataStore(ctrl),
		term:     NewMockTerminaterDataStore(ctrl),
		concat:   NewMockConcaterDataStore(ctrl),
		deferrer: NewMockLengthDeferrerDataStore(ctrl),
		content:  NewMockContentServerDataStore(ctrl),
		locker:   memorylocker.New(),
		composer: tus.NewStoreComposer(),
	}
	e.composer.UseCore(e.store)
	e.locker.UseIn(e.composer)
	e.cfg = tus.Config{StoreComposer: e.composer, BasePath: "/files/"}
	for _, o := range opts {
		o(e)
	}
	h, err := tus.NewHandler(e.cfg)
	noErr(t, err)
	e.h = h
	return e
}

// serve runs r and checks that no upload lock is left held.
func (e *mockEnv) serve(r *http.Request) *httptest.ResponseRecorder {
	e.t.Helper()
	w := serve(e.t, e.h, r)
	eq(e.t, "locks held after the request", e.locker.Len(), 0)
	return w
}

// serveRaw runs r without checking the error body format (for responses
// whose body a callback chose).
func (e *mockEnv) serveRaw(r *http.Request) *httptest.ResponseRecorder {
	e.t.Helper()
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	eq(e.t, "Tus-Resumable", w.Header().Get("Tus-Resumable"), tusVersion)
	eq(e.t, "locks held after the request", e.locker.Len(), 0)
	return w
}

// upload registers an upload the store finds by ID; its GetInfo returns info.
func (e *mockEnv) upload(info tus.FileInfo) *MockUpload {
	up := NewMockUpload(e.ctrl)
	up.EXPECT().GetInfo(gomock.Any()).Return(info, nil).AnyTimes()
	e.store.EXPECT().GetUpload(gomock.Any(), info.ID).Return(up, nil).AnyTimes()
	return up
}

// missing makes the store answer GetUpload(id) with a wrapped ErrNotFound.
func (e *mockEnv) missing(id string) {
	e.store.EXPECT().GetUpload(gomock.Any(), id).
		Return(nil, fmt.Errorf("memstore: open %s: %w", id, tus.ErrNotFound)).AnyTimes()
}

// chunk records what a mocked WriteChunk saw.
type chunk struct {
	mu     sync.Mutex
	calls  int
	offset int64
	data   []byte
	err    error
}

func (c *chunk) get() (int, int64, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, c.offset, string(c.data), c.err
}

// writeChunk behaves like a correct store: it reads src to its end, keeps
// what it read unless the read error is the discard signal
// (ErrDiscardChunk), and returns the kept length with the read error.
func (c *chunk) writeChunk(_ context.Context, offset int64, src io.Reader) (int64, error) {
	data, err := io.ReadAll(src)
	c.mu.Lock()
	c.calls++
	c.offset, c.data, c.err = offset, data, err
	c.mu.Unlock()
	if err != nil && errors.Is(err, tus.ErrDiscardChunk) {
		return 0, err
	}
	return int64(len(data)), err
}

// expectWrite expects one WriteChunk on up and records it.
func expectWrite(up *MockUpload) *chunk {
	c := &chunk{}
	up.EXPECT().WriteChunk(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(c.writeChunk).Times(1)
	return c
}

// expectNew expects one NewUpload and returns the created upload (whose
// GetInfo is not expected) and a pointer to the FileInfo the store saw.
func (e *mockEnv) expectNew() (*MockUpload, *tus.FileInfo) {
	up := NewMockUpload(e.ctrl)
	seen := new(tus.FileInfo)
	e.store.EXPECT().NewUpload(gomock.Any(), gomock.Any()).DoAndReturn(
		func(_ context.Context, info tus.FileInfo) (tus.Upload, error) {
			*seen = info
			return up, nil
		}).Times(1)
	return up, seen
}

// ---------------------------------------------------------------------------
// In-memory store

// memStore is a small, correct, in-memory implementation of every store
// interface. WriteChunk keeps the bytes read before a read error (unless the
// error is the discard signal) and reports in-flight reads via reading().
type memStore struct {
	mu      sync.Mutex
	uploads map[string]*memUpload
	// writeDelay, if set, is slept after every read inside WriteChunk.
	writeDelay time.Duration
	// finishFails is how many FinishUpload calls fail before they succeed.
	finishFails int
}

type memUpload struct {
	s  *memStore
	id string
	// guarded by s.mu
	info      tus.FileInfo
	data      []byte
	finishes  int
	finished  bool    // the last FinishUpload succeeded
	inflight  int64   // bytes read by a WriteChunk in progress
	chunkErrs []error // the error each WriteChunk's source ended with (nil for EOF)
}

func newMemStore() *memStore { return &memStore{uploads: make(map[string]*memUpload)} }

// UseIn registers every part of the store, and a memory locker, in c.
func (s *memStore) UseIn(c *tus.StoreComposer) {
	c.UseCore(s)
	c.UseTerminater(s)
	c.UseConcater(s)
	c.UseLengthDeferrer(s)
	c.UseContentServer(s)
	c.UseFinishReporter(s)
}

func (s *memStore) NewUpload(_ context.Context, info tus.FileInfo) (tus.Upload, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.uploads[info.ID]; ok {
		return nil, fmt.Errorf("memstore: %w", tus.ErrUploadExists)
	}
	info.Offset = 0
	u := &memUpload{s: s, id: info.ID, info: info}
	s.uploads[info.ID] = u
	return u, nil
}

func (s *memStore) GetUpload(_ context.Context, id string) (tus.Upload, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[id]
	if !ok {
		return nil, fmt.Errorf("memstore: %s: %w", id, tus.ErrNotFound)
	}
	return u, nil
}

// put stores an upload with the given info and content directly.
func (s *memStore) put(info tus.FileInfo, data string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info.Offset = int64(len(data))
	u := &memUpload{s: s, id: info.ID, info: info, data: []byte(data)}
	if info.IsComplete() {
		u.finishes = 1 // a complete upload was finished when its last byte came
		u.finished = true
	}
	s.uploads[info.ID] = u
}

// checkInvariants checks the store contract the handler must keep: no
// upload holds more bytes than its length (or maxSize while deferred), and
// FinishUpload is called once, and only for a complete upload.
func (s *memStore) checkInvariants(t testing.TB, maxSize int64) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, u := range s.uploads {
		n := int64(len(u.data))
		if !u.info.SizeIsDeferred && n > u.info.Size {
			t.Errorf("upload %s holds %d bytes, its length is %d", id, n, u.info.Size)
		}
		if u.info.SizeIsDeferred && maxSize > 0 && n > maxSize {
			t.Errorf("deferred upload %s holds %d bytes, max size is %d", id, n, maxSize)
		}
		if u.finishes > 1 {
			t.Errorf("FinishUpload called %d times for upload %s", u.finishes, id)
		}
		if u.finishes > 0 && (u.info.SizeIsDeferred || n != u.info.Size) {
			t.Errorf("upload %s finished with %d of %d bytes (deferred %v)", id, n, u.info.Size, u.info.SizeIsDeferred)
		}
	}
}

// state returns an upload's content, finish count and last chunk error.
func (s *memStore) state(id string) (data string, finishes int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[id]
	if !ok {
		return "", 0, false
	}
	return string(u.data), u.finishes, true
}

// count returns how many uploads the store holds.
func (s *memStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.uploads)
}

// chunkErr returns the error the i-th WriteChunk's source ended with.
func (s *memStore) chunkErr(t testing.TB, id string, i int) error {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[id]
	if !ok || i >= len(u.chunkErrs) {
		t.Fatalf("upload %s has no WriteChunk #%d", id, i)
	}
	return u.chunkErrs[i]
}

// reading returns how many bytes upload id has received: those stored plus
// those read by a WriteChunk in progress.
func (s *memStore) reading(id string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.uploads[id]
	if u == nil {
		return 0
	}
	return int64(len(u.data)) + u.inflight
}

// waitReading waits until upload id has received n bytes.
func (s *memStore) waitReading(t testing.TB, id string, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.reading(id) < n {
		if time.Now().After(deadline) {
			t.Fatalf("store read %d bytes of %s, waited for %d", s.reading(id), id, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (u *memUpload) GetInfo(context.Context) (tus.FileInfo, error) {
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	info := u.info
	info.Offset = int64(len(u.data))
	info.MetaData = cloneMeta(u.info.MetaData)
	info.PartialUploads = append([]string(nil), u.info.PartialUploads...)
	return info, nil
}

func cloneMeta(m tus.MetaData) tus.MetaData {
	if m == nil {
		return nil
	}
	c := make(tus.MetaData, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (u *memUpload) WriteChunk(_ context.Context, offset int64, src io.Reader) (int64, error) {
	u.s.mu.Lock()
	if offset != int64(len(u.data)) {
		u.s.mu.Unlock()
		return 0, fmt.Errorf("memstore: write at %d, have %d", offset, len(u.data))
	}
	u.s.mu.Unlock()
	var buf bytes.Buffer
	p := make([]byte, 32<<10)
	var err error
	for {
		var n int
		n, err = src.Read(p)
		buf.Write(p[:n])
		u.s.mu.Lock()
		u.inflight += int64(n)
		u.s.mu.Unlock()
		if u.s.writeDelay > 0 {
			time.Sleep(u.s.writeDelay)
		}
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		err = nil
	}
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	u.chunkErrs = append(u.chunkErrs, err)
	u.inflight = 0
	if err != nil && errors.Is(err, tus.ErrDiscardChunk) {
		return 0, err // discard the chunk
	}
	u.data = append(u.data, buf.Bytes()...)
	return int64(buf.Len()), err
}

func (u *memUpload) FinishUpload(context.Context) error {
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	u.finishes++
	if u.s.finishFails > 0 {
		u.s.finishFails--
		return errors.New("memstore: disk on fire")
	}
	u.finished = true
	return nil
}

func (s *memStore) AsFinishReporter(up tus.Upload) tus.FinishReporter { return up.(*memUpload) }

// Finished implements tus.FinishReporter.
func (u *memUpload) Finished() bool {
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	return u.finished
}

func (s *memStore) AsTerminatableUpload(up tus.Upload) tus.TerminatableUpload {
	return up.(*memUpload)
}

func (u *memUpload) Terminate(context.Context) error {
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	delete(u.s.uploads, u.id)
	return nil
}

func (s *memStore) AsConcatableUpload(up tus.Upload) tus.ConcatableUpload { return up.(*memUpload) }

func (u *memUpload) ConcatUploads(_ context.Context, partials []tus.Upload) error {
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	var data []byte
	for _, p := range partials {
		data = append(data, p.(*memUpload).data...)
	}
	u.data = data
	return nil
}

func (s *memStore) AsLengthDeclarableUpload(up tus.Upload) tus.LengthDeclarableUpload {
	return up.(*memUpload)
}

func (u *memUpload) DeclareLength(_ context.Context, length int64) error {
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	u.info.Size, u.info.SizeIsDeferred = length, false
	return nil
}

func (s *memStore) AsServableUpload(up tus.Upload) tus.ServableUpload { return up.(*memUpload) }

func (u *memUpload) ServeContent(_ context.Context, w http.ResponseWriter, r *http.Request) error {
	u.s.mu.Lock()
	data := bytes.Clone(u.data)
	u.s.mu.Unlock()
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	return nil
}

// newMemHandler returns a handler over a fresh memStore and memory locker.
func newMemHandler(t testing.TB, cfg tus.Config) (*tus.Handler, *memStore, *memorylocker.MemoryLocker) {
	t.Helper()
	s := newMemStore()
	c := tus.NewStoreComposer()
	s.UseIn(c)
	l := memorylocker.New()
	l.UseIn(c)
	cfg.StoreComposer = c
	if cfg.BasePath == "" {
		cfg.BasePath = "/files/"
	}
	h, err := tus.NewHandler(cfg)
	noErr(t, err)
	return h, s, l
}

// idFromLocation returns the last path segment of a Location URL.
func idFromLocation(t testing.TB, loc string) string {
	t.Helper()
	i := strings.LastIndexByte(loc, '/')
	if i < 0 || !tus.ValidID(loc[i+1:]) {
		t.Fatalf("Location %q does not end in an upload ID", loc)
	}
	return loc[i+1:]
}

// onlyUnfinished returns the ID of the one upload whose last FinishUpload
// failed, failing t unless there is exactly one.
func (s *memStore) onlyUnfinished(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, u := range s.uploads {
		if u.finishes > 0 && !u.finished {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("uploads with a failed finish: %v, want exactly one", ids)
	}
	return ids[0]
}

// finishedUpload reports whether upload id's last FinishUpload succeeded.
func (s *memStore) finishedUpload(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[id]
	return ok && u.finished
}

// info returns upload id's state as the store holds it.
func (s *memStore) info(t testing.TB, id string) tus.FileInfo {
	t.Helper()
	up, err := s.GetUpload(context.Background(), id)
	noErr(t, err)
	info, err := up.GetInfo(context.Background())
	noErr(t, err)
	return info
}
