package benchkit

import (
	"bytes"
	"crypto/sha256"
	"io"
)

// Comparison is what Compare found in a stream of stored bytes.
type Comparison struct {
	// N is how many bytes the stream held (up to a read error).
	N int64
	// Sum is the SHA-256 of those N bytes.
	Sum [sha256.Size]byte
	// FirstDiff is the offset of the first byte, among the first size, that
	// differs from the upload's; -1 if none does.
	FirstDiff int64
	// Got and Want are up to 16 bytes from FirstDiff, as stored and as
	// generated; nil without a difference.
	Got, Want []byte
}

// Match reports whether the stream held exactly the first size bytes of
// an upload: its length and its SHA-256 are theirs.
func (c Comparison) Match(g *Generator, size int64) bool {
	return c.N == size && c.Sum == g.Sum(size)
}

// Compare reads r to its end and compares it with the first size bytes of
// an upload. It returns a read error other than io.EOF along with what was
// found up to it; a stream of the wrong length is not an error but a
// Comparison that does not Match.
func (g *Generator) Compare(r io.Reader, size int64) (Comparison, error) {
	c := Comparison{FirstDiff: -1}
	h := sha256.New()
	buf := make([]byte, 1<<20)
	exp := make([]byte, len(buf))
	for {
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			h.Write(buf[:k])
			if c.FirstDiff < 0 && c.N < size {
				m := int(min(int64(k), size-c.N))
				g.Fill(exp[:m], c.N)
				if i := firstMismatch(buf[:m], exp[:m]); i >= 0 {
					c.FirstDiff = c.N + int64(i)
					end := min(i+16, m)
					c.Got, c.Want = bytes.Clone(buf[i:end]), bytes.Clone(exp[i:end])
				}
			}
			c.N += int64(k)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			h.Sum(c.Sum[:0])
			return c, err
		}
	}
	h.Sum(c.Sum[:0])
	return c, nil
}

// firstMismatch returns the index of the first byte where a and b differ,
// or -1.
func firstMismatch(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}
