package tus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/memorylocker"
)

// mapStore is a store in memory with only the core capability: enough for
// creation and appends (tus core, creation, creation-with-upload).
type mapStore struct {
	mu      sync.Mutex
	uploads map[string]*mapUpload
}

type mapUpload struct {
	store *mapStore
	info  tus.FileInfo // Offset is len(data)
	data  []byte
}

func (s *mapStore) NewUpload(_ context.Context, info tus.FileInfo) (tus.Upload, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.uploads[info.ID]; ok {
		return nil, fmt.Errorf("mapstore: %s: %w", info.ID, tus.ErrUploadExists)
	}
	u := &mapUpload{store: s, info: info}
	s.uploads[info.ID] = u
	return u, nil
}

func (s *mapStore) GetUpload(_ context.Context, id string) (tus.Upload, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[id]
	if !ok {
		return nil, fmt.Errorf("mapstore: %s: %w", id, tus.ErrNotFound)
	}
	return u, nil
}

func (u *mapUpload) GetInfo(context.Context) (tus.FileInfo, error) {
	u.store.mu.Lock()
	defer u.store.mu.Unlock()
	info := u.info
	info.Offset = int64(len(u.data))
	return info, nil
}

// WriteChunk keeps what it read before an error, unless the error asks to
// discard the chunk (a checksum mismatch, for one).
func (u *mapUpload) WriteChunk(_ context.Context, _ int64, src io.Reader) (int64, error) {
	var buf bytes.Buffer
	_, err := io.Copy(&buf, src)
	if errors.Is(err, tus.ErrDiscardChunk) {
		return 0, err
	}
	u.store.mu.Lock()
	defer u.store.mu.Unlock()
	u.data = append(u.data, buf.Bytes()...)
	return int64(buf.Len()), err
}

func (u *mapUpload) FinishUpload(context.Context) error { return nil }

// A custom store implements tus.DataStore and tus.Upload (datastore.go) and
// goes into the composer as its core; optional capabilities are further
// parts of the composer.
func ExampleDataStore() {
	store := &mapStore{uploads: map[string]*mapUpload{}}
	composer := tus.NewStoreComposer()
	composer.UseCore(store)
	memorylocker.New().UseIn(composer)
	handler, err := tus.NewHandler(tus.Config{StoreComposer: composer})
	if err != nil {
		log.Fatal(err)
	}

	// Creation with upload: the first bytes come with the POST.
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("hello"))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", "11")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	id := rec.Header().Get("Location")[strings.LastIndexByte(rec.Header().Get("Location"), '/')+1:]
	fmt.Println("POST:", rec.Code, "Upload-Offset:", rec.Header().Get("Upload-Offset"))

	req = httptest.NewRequest(http.MethodPatch, "/"+id, strings.NewReader(" world"))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "5")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println("PATCH:", rec.Code, "Upload-Offset:", rec.Header().Get("Upload-Offset"))
	fmt.Printf("stored: %q\n", store.uploads[id].data)
	// Output:
	// POST: 201 Upload-Offset: 5
	// PATCH: 204 Upload-Offset: 11
	// stored: "hello world"
}

// Callbacks decide on requests: here every upload must name its file, and
// only requests with the right token may touch uploads.
func ExampleConfig_callbacks() {
	composer := tus.NewStoreComposer()
	composer.UseCore(&mapStore{uploads: map[string]*mapUpload{}})
	memorylocker.New().UseIn(composer)
	handler, err := tus.NewHandler(tus.Config{
		StoreComposer: composer,
		PreUploadCreateCallback: func(ev tus.HookEvent) (tus.HTTPResponse, tus.FileInfoChanges, error) {
			if ev.Upload.MetaData["filename"] == "" {
				return tus.HTTPResponse{StatusCode: http.StatusUnprocessableEntity, Body: "name your file\n"},
					tus.FileInfoChanges{}, errors.New("no filename")
			}
			return tus.HTTPResponse{}, tus.FileInfoChanges{}, nil
		},
		AccessCallback: func(ev tus.AccessEvent) error {
			if ev.HTTPRequest.Header.Get("Authorization") != "Bearer secret" {
				return tus.RejectWith(tus.HTTPResponse{Header: map[string]string{"WWW-Authenticate": "Bearer"}},
					tus.NewError(http.StatusUnauthorized, "ERR_UNAUTHORIZED", "a token is required"))
			}
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	create := func(auth, metadata string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/", nil)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Length", "3")
		req.Header.Set("Authorization", auth)
		req.Header.Set("Upload-Metadata", metadata)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec
	}
	rec := create("", "filename YS50eHQ=")
	fmt.Println("without a token:", rec.Code, rec.Header().Get("WWW-Authenticate"))
	rec = create("Bearer secret", "")
	fmt.Printf("without a file name: %d %s", rec.Code, rec.Body)
	rec = create("Bearer secret", "filename YS50eHQ=")
	fmt.Println("with both:", rec.Code)
	// Output:
	// without a token: 401 Bearer
	// without a file name: 422 name your file
	// with both: 201
}

// countingStore counts the bytes written through it and changes nothing
// else: it overrides only GetUpload and NewUpload, and StoreWrapper forwards
// every other part of the store it wraps (termination, concatenation,
// deferred lengths, downloads, usage reports) as it is.
type countingStore struct {
	tus.StoreWrapper
	written atomic.Int64
}

type countingUpload struct {
	tus.Upload
	store *countingStore
}

func (u countingUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	n, err := u.Upload.WriteChunk(ctx, offset, src)
	u.store.written.Add(n)
	return n, err
}

func (s *countingStore) NewUpload(ctx context.Context, info tus.FileInfo) (tus.Upload, error) {
	up, err := s.StoreWrapper.NewUpload(ctx, info)
	if err != nil {
		return nil, err
	}
	return countingUpload{up, s}, nil
}

func (s *countingStore) GetUpload(ctx context.Context, id string) (tus.Upload, error) {
	up, err := s.StoreWrapper.GetUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	return countingUpload{up, s}, nil
}

// A store that wraps another embeds tus.StoreWrapper and registers itself
// with tus.UseWrapper. Its uploads wrap the inner ones, so it tells the
// StoreWrapper how to unwrap them.
func ExampleStoreWrapper() {
	dir, err := os.MkdirTemp("", "uploads")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	fs, err := filestore.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	composer := tus.NewStoreComposer()
	fs.UseIn(composer)
	counting := &countingStore{StoreWrapper: tus.NewStoreWrapper(composer, func(up tus.Upload) tus.Upload {
		if c, ok := up.(countingUpload); ok {
			return c.Upload
		}
		return up
	})}
	tus.UseWrapper(composer, counting)
	memorylocker.New().UseIn(composer)
	handler, err := tus.NewHandler(tus.Config{StoreComposer: composer})
	if err != nil {
		log.Fatal(err)
	}

	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("hello"))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", "5")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	loc := rec.Header().Get("Location")
	id := loc[strings.LastIndexByte(loc, '/')+1:]

	req = httptest.NewRequest(http.MethodDelete, "/"+id, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println("bytes written:", counting.written.Load())
	fmt.Println("DELETE:", rec.Code)
	fmt.Println("usage reports:", composer.UsesUsageReporter())
	// Output:
	// bytes written: 5
	// DELETE: 204
	// usage reports: true
}
