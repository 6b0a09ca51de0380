package s3store

import (
	"bytes"
	"io"
	"sync"
	"testing"
)

// TestTailBytesPooled: a large tail's cached copy lives in pool blocks,
// reads back exactly, and its blocks go back only once the cache has let
// it go and the last reader has given its reference back.
func TestTailBytesPooled(t *testing.T) {
	pool := &sync.Pool{New: func() any { return new([blockSize]byte) }}
	c := newTailCache(8*blockSize, pool)
	want := make([]byte, blockSize+12345)
	for i := range want {
		want[i] = byte(i * 7)
	}
	tb, err := c.copyOf(bytes.NewReader(want), int64(len(want)))
	if err != nil {
		t.Fatal(err)
	}
	if tb.pool == nil || len(tb.blocks) != 2 || tb.weight() != 2*blockSize {
		t.Fatalf("pooled = %v, %d blocks, weight %d; want pooled in 2 blocks", tb.pool != nil, len(tb.blocks), tb.weight())
	}
	tb.etag = "e1"
	c.put("k", tb)

	if _, ok := c.get("k", "other"); ok {
		t.Error("get with another ETag succeeded")
	}
	r, ok := c.get("k", "e1")
	if !ok {
		t.Fatal("cached bytes missing")
	}
	got, err := io.ReadAll(io.NewSectionReader(r, 0, r.n))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, %v; want the %d bytes put", len(got), err, len(want))
	}
	c.drop("k") // the cache lets go; the reader still holds the blocks
	if tb.recycled || tb.refs.Load() != 1 {
		t.Fatalf("blocks returned while a reader holds them (refs %d)", tb.refs.Load())
	}
	got, _ = io.ReadAll(io.NewSectionReader(r, 0, r.n))
	if !bytes.Equal(got, want) {
		t.Fatal("bytes changed while held")
	}
	r.unref()
	if !tb.recycled || tb.refs.Load() != 0 {
		t.Errorf("blocks kept after the last reference (refs %d)", tb.refs.Load())
	}
	if _, ok := c.get("k", "e1"); ok {
		t.Error("dropped entry still found")
	}
}

// TestTailBytesSmallAndRefused: a small tail is a plain slice; a pooled one
// the cache refuses for its weight gives its blocks back at once.
func TestTailBytesSmallAndRefused(t *testing.T) {
	pool := &sync.Pool{New: func() any { return new([blockSize]byte) }}
	c := newTailCache(blockSize, pool)
	small, err := c.copyOf(bytes.NewReader([]byte("hello")), 5)
	if err != nil || small.pool != nil || string(small.b) != "hello" || small.weight() != 5 {
		t.Fatalf("small tail: %+v, %v", small, err)
	}
	if c.fits(blockSize + 1) {
		t.Error("fits: a tail needing two blocks fits a one-block cache")
	}
	big, err := c.copyOf(bytes.NewReader(make([]byte, blockSize+1)), blockSize+1)
	if err != nil {
		t.Fatal(err)
	}
	big.etag = "e"
	c.put("big", big)
	if !big.recycled || big.refs.Load() != 0 {
		t.Errorf("refused entry kept its blocks (refs %d)", big.refs.Load())
	}
	if _, err := c.copyOf(bytes.NewReader(make([]byte, 10)), blockSize); err == nil {
		t.Error("copyOf of a short reader succeeded")
	}
}
