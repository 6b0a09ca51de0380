package benchkit

import (
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"sync"
)

// Generator yields the deterministic pseudo-random bytes of every upload:
// byte i of an upload is byte i mod Len() of a fixed pattern, so any range
// of an upload can be streamed, or produced again to check it, without
// being stored.
type Generator struct {
	pattern []byte

	mu   sync.Mutex
	sums map[int64][sha256.Size]byte
}

// NewGenerator returns a generator with a pattern of size bytes from
// ChaCha8 keyed with seed (its first 32 bytes, padded with zeros): the
// same bytes in every run. A benchmark picks size and seed once and keeps
// them, since they decide what is uploaded.
func NewGenerator(size int, seed string) *Generator {
	if size < 1 {
		panic("benchkit: NewGenerator with a size below 1")
	}
	var key [32]byte
	copy(key[:], seed)
	b := make([]byte, size)
	_, _ = rand.NewChaCha8(key).Read(b) // ChaCha8.Read never fails
	return &Generator{pattern: b, sums: map[int64][sha256.Size]byte{}}
}

// Len returns the length of the pattern, the period of the bytes.
func (g *Generator) Len() int { return len(g.pattern) }

// Reader returns a reader of the n bytes of an upload starting at offset.
// It is neither an io.Seeker nor an io.ReaderAt: a stream.
func (g *Generator) Reader(offset, n int64) *PatternReader {
	return &PatternReader{data: g.pattern, off: int(offset % int64(len(g.pattern))), remain: n}
}

// Fill copies the bytes of an upload at offset into p.
func (g *Generator) Fill(p []byte, offset int64) {
	_, _ = io.ReadFull(g.Reader(offset, int64(len(p))), p)
}

// Sum returns the SHA-256 of the first n bytes of an upload. It is cached
// per n and safe for concurrent use.
func (g *Generator) Sum(n int64) [sha256.Size]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s, ok := g.sums[n]; ok {
		return s
	}
	h := sha256.New()
	_, _ = g.Reader(0, n).WriteTo(h)
	var s [sha256.Size]byte
	h.Sum(s[:0])
	g.sums[n] = s
	return s
}

// PatternReader yields a number of bytes by cycling through a generator's
// pattern. It lets a request stream any number of bytes without
// allocating them.
type PatternReader struct {
	data   []byte
	off    int
	remain int64
}

// Read implements io.Reader.
func (r *PatternReader) Read(p []byte) (int, error) {
	if r.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	r.remain -= int64(n)
	return n, nil
}

// WriteTo writes the remaining bytes to w straight from the pattern; the
// HTTP client and io.Copy use it for request bodies.
func (r *PatternReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.remain > 0 {
		chunk := r.data[r.off:]
		if int64(len(chunk)) > r.remain {
			chunk = chunk[:r.remain]
		}
		n, err := w.Write(chunk)
		total += int64(n)
		r.off = (r.off + n) % len(r.data)
		r.remain -= int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
