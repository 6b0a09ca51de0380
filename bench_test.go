package tus_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
)

var sinkMeta tus.MetaData

func BenchmarkParseMetadata(b *testing.B) {
	meta := tus.MetaData{
		"filename": "holiday photos 2024 – day 3.jpeg",
		"filetype": "image/jpeg",
		"owner":    "0123456789abcdef",
		"flag":     "",
	}
	header := tus.EncodeMetadata(meta)
	b.ReportAllocs()
	b.SetBytes(int64(len(header)))
	for b.Loop() {
		m, err := tus.ParseMetadata(header)
		if err != nil || len(m) != 4 {
			b.Fatal(m, err)
		}
		sinkMeta = m
	}
}

func BenchmarkEncodeMetadata(b *testing.B) {
	meta := tus.MetaData{"filename": "holiday.jpeg", "filetype": "image/jpeg", "owner": "0123456789abcdef"}
	b.ReportAllocs()
	for b.Loop() {
		if tus.EncodeMetadata(meta) == "" {
			b.Fatal("empty")
		}
	}
}

// discardStore is a store whose uploads never end: WriteChunk copies into
// io.Discard and the offset only ever moves forward, so one upload can take
// any number of PATCH requests. It measures the handler, not a backend.
type discardStore struct {
	mu     sync.Mutex
	offset int64
}

type discardUpload struct{ s *discardStore }

func (s *discardStore) NewUpload(_ context.Context, info tus.FileInfo) (tus.Upload, error) {
	return discardUpload{s}, nil
}

func (s *discardStore) GetUpload(context.Context, string) (tus.Upload, error) {
	return discardUpload{s}, nil
}

func (u discardUpload) GetInfo(context.Context) (tus.FileInfo, error) {
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	return tus.FileInfo{ID: "bench", Size: 1 << 62, Offset: u.s.offset}, nil
}

func (u discardUpload) WriteChunk(_ context.Context, offset int64, src io.Reader) (int64, error) {
	n, err := io.Copy(io.Discard, src)
	u.s.mu.Lock()
	u.s.offset += n
	u.s.mu.Unlock()
	return n, err
}

func (u discardUpload) FinishUpload(context.Context) error { return nil }

func newDiscardHandler(b *testing.B) (*tus.Handler, *discardStore) {
	s := &discardStore{}
	c := tus.NewStoreComposer()
	c.UseCore(s)
	memorylocker.New().UseIn(c)
	h, err := tus.NewHandler(tus.Config{StoreComposer: c})
	if err != nil {
		b.Fatal(err)
	}
	return h, s
}

// BenchmarkPatch sends PATCH requests end-to-end through ServeHTTP.
func BenchmarkPatch(b *testing.B) {
	for _, size := range []int{1 << 10, 256 << 10, 64 << 20} {
		b.Run(strconv.Itoa(size>>10)+"KiB", func(b *testing.B) {
			h, s := newDiscardHandler(b)
			payload := make([]byte, size)
			body := bytes.NewReader(payload)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				s.mu.Lock()
				off := strconv.FormatInt(s.offset, 10)
				s.mu.Unlock()
				body.Reset(payload)
				r := httptest.NewRequest(http.MethodPatch, "/bench", body)
				r.Header.Set("Tus-Resumable", "1.0.0")
				r.Header.Set("Content-Type", "application/offset+octet-stream")
				r.Header.Set("Upload-Offset", off)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusNoContent {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
				want := strconv.FormatInt(mustAtoi(b, off)+int64(size), 10)
				if got := w.Header().Get("Upload-Offset"); got != want {
					b.Fatalf("Upload-Offset = %s, want %s: the body was not read whole", got, want)
				}
			}
		})
	}
}

// BenchmarkPostWithUpload creates uploads carrying their first 1 KiB.
func BenchmarkPostWithUpload(b *testing.B) {
	h, _ := newDiscardHandler(b)
	payload := make([]byte, 1<<10)
	body := bytes.NewReader(payload)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		body.Reset(payload)
		r := httptest.NewRequest(http.MethodPost, "/", body)
		r.Header.Set("Tus-Resumable", "1.0.0")
		r.Header.Set("Content-Type", "application/offset+octet-stream")
		r.Header.Set("Upload-Length", "4096")
		r.Header.Set("Upload-Metadata", "filename YS50eHQ=")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

func mustAtoi(b *testing.B, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return n
}
