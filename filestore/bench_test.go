package filestore

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tusgo/tus"
)

// patternReader yields size bytes of a fixed pattern. Like a request body it
// offers only Read (no WriterTo), and it fills each Read it can.
type patternReader struct {
	pattern []byte
	left    int64
}

func newPatternReader(size int64) *patternReader {
	p := make([]byte, 64<<10)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return &patternReader{pattern: p, left: size}
}

func (r *patternReader) reset(size int64) { r.left = size }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for n < len(p) {
		n += copy(p[n:], r.pattern)
	}
	r.left -= int64(n)
	return n, nil
}

func benchStore(b *testing.B, opts Options) *FileStore {
	b.Helper()
	s, err := NewWithOptions(filepath.Join(b.TempDir(), "store"), opts)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchWriteChunk writes size bytes per iteration into one upload, cut back
// to zero bytes (untimed) between iterations.
func benchWriteChunk(b *testing.B, s *FileStore, size int64) {
	ctx := context.Background()
	up, err := s.NewUpload(ctx, tus.FileInfo{ID: "bench", Size: size})
	if err != nil {
		b.Fatal(err)
	}
	src := newPatternReader(size)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		if err := os.Truncate(s.dataPath("bench"), 0); err != nil {
			b.Fatal(err)
		}
		src.reset(size)
		b.StartTimer()
		n, err := up.WriteChunk(ctx, 0, src)
		if err != nil || n != size {
			b.Fatalf("WriteChunk = %d, %v", n, err)
		}
	}
}

// BenchmarkWriteChunk measures WriteChunk with the default buffer.
func BenchmarkWriteChunk(b *testing.B) {
	for _, size := range []int64{256 << 10, 64 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			benchWriteChunk(b, benchStore(b, Options{}), size)
		})
	}
}

// BenchmarkWriteChunkBuffer compares copy buffer sizes; the fastest is
// defaultBufferSize.
func BenchmarkWriteChunkBuffer(b *testing.B) {
	for _, size := range []int64{256 << 10, 64 << 20} {
		for _, buf := range []int{32 << 10, 128 << 10, 256 << 10} {
			b.Run(fmt.Sprintf("%s/buf=%s", sizeName(size), sizeName(int64(buf))), func(b *testing.B) {
				s := benchStore(b, Options{})
				s.setBufferSize(buf)
				benchWriteChunk(b, s, size)
			})
		}
	}
}

// BenchmarkUploadLifecycle measures a small upload from creation to
// durability: NewUpload, WriteChunk of 1 KiB, FinishUpload. Terminate runs
// untimed after each iteration so the directory stays small.
func BenchmarkUploadLifecycle(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(map[bool]string{false: "sync", true: "nosync"}[noSync], func(b *testing.B) {
			s := benchStore(b, Options{NoSync: noSync})
			ctx := context.Background()
			src := newPatternReader(1 << 10)
			b.SetBytes(1 << 10)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				id := "u" + strconv.Itoa(i)
				up, err := s.NewUpload(ctx, tus.FileInfo{ID: id, Size: 1 << 10, MetaData: tus.MetaData{"filename": "a.txt"}})
				if err != nil {
					b.Fatal(err)
				}
				src.reset(1 << 10)
				if _, err := up.WriteChunk(ctx, 0, src); err != nil {
					b.Fatal(err)
				}
				if err := up.FinishUpload(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.AsTerminatableUpload(up).Terminate(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkFinishUpload isolates what durability costs: FinishUpload of a
// fresh 1 KiB upload, i.e. three fsyncs (data, info, directory) with sync,
// one stat without.
func BenchmarkFinishUpload(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(map[bool]string{false: "sync", true: "nosync"}[noSync], func(b *testing.B) {
			s := benchStore(b, Options{NoSync: noSync})
			ctx := context.Background()
			src := newPatternReader(1 << 10)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				b.StopTimer()
				i++
				up, err := s.NewUpload(ctx, tus.FileInfo{ID: "u" + strconv.Itoa(i), Size: 1 << 10})
				if err != nil {
					b.Fatal(err)
				}
				src.reset(1 << 10)
				if _, err := up.WriteChunk(ctx, 0, src); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := up.FinishUpload(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.AsTerminatableUpload(up).Terminate(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkDeclareLength measures the atomic, durable info replacement.
func BenchmarkDeclareLength(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(map[bool]string{false: "sync", true: "nosync"}[noSync], func(b *testing.B) {
			s := benchStore(b, Options{NoSync: noSync})
			ctx := context.Background()
			up, err := s.NewUpload(ctx, tus.FileInfo{ID: "abc", SizeIsDeferred: true})
			if err != nil {
				b.Fatal(err)
			}
			ld := s.AsLengthDeclarableUpload(up)
			b.ReportAllocs()
			for b.Loop() {
				if err := ld.DeclareLength(ctx, 100); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGetUploadInfo measures looking an upload up and reading its
// state, as every HEAD and PATCH does.
func BenchmarkGetUploadInfo(b *testing.B) {
	s := benchStore(b, Options{})
	ctx := context.Background()
	if _, err := s.NewUpload(ctx, tus.FileInfo{ID: "abc", Size: 10, MetaData: tus.MetaData{"filename": "a.txt", "type": "text/plain"}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		up, err := s.GetUpload(ctx, "abc")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := up.GetInfo(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func sizeName(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
