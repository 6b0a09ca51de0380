package filestore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestFlusherDrainsAndCloses kicks more files than the queue holds, some of
// them missing, and checks that Close waits until the worker is done and
// that kicks after Close start nothing.
func TestFlusherDrainsAndCloses(t *testing.T) {
	dir := t.TempDir()
	var fl flusher
	for i := range maxPendingFlushes + 10 {
		fl.kick(filepath.Join(dir, fmt.Sprint("missing", i)))
	}
	fl.close()
	fl.mu.Lock()
	if fl.running || len(fl.pending) != 0 || len(fl.order) != 0 {
		t.Errorf("after close: running %v, %d pending, %d queued", fl.running, len(fl.pending), len(fl.order))
	}
	fl.mu.Unlock()
	fl.kick(filepath.Join(dir, "late"))
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.running || len(fl.pending) != 0 {
		t.Errorf("a kick after close queued a flush: running %v, %d pending", fl.running, len(fl.pending))
	}
}

// TestWriteChunkFlushesInBackground writes an upload across several
// write-back windows, in chunks that end on a window's end, and checks the
// bytes, with the store's flusher closed afterwards.
func TestWriteChunkFlushesInBackground(t *testing.T) {
	s, _ := testStore(t, Options{})
	size := int64(2*writebackSize + 5)
	up := create(t, s, "flushed", size)
	data := bytes.Repeat([]byte("0123456789abcdef"), int(size/16)+1)[:size]
	ctx := context.Background()
	for off := int64(0); off < size; {
		end := min(off+writebackSize, size)
		n, err := up.WriteChunk(ctx, off, bytes.NewReader(data[off:end]))
		if err != nil || n != end-off {
			t.Fatalf("WriteChunk at %d = %d, %v", off, n, err)
		}
		off = end
	}
	if err := up.FinishUpload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(s.dataPath("flushed"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("data file holds %d bytes that differ from the %d written", len(got), len(data))
	}
}
