package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
)

// patternSize is the length of the pseudo-random buffer every request body
// is cut from.
const patternSize = 4 << 20

// newPattern returns patternSize pseudo-random bytes, the same every run.
func newPattern() []byte {
	b := make([]byte, patternSize)
	rng := rand.NewChaCha8([32]byte{'u', 'p', 'l', 'o', 'a', 'd', 'b', 'e', 'n', 'c', 'h'})
	_, _ = rng.Read(b) // ChaCha8.Read never fails
	return b
}

// patternReader yields remain bytes by cycling through data, starting at
// off. It lets a request stream any number of bytes without allocating them.
type patternReader struct {
	data   []byte
	off    int
	remain int64
}

// newBody returns a reader of n bytes of pattern, starting at a position
// derived from offset so that consecutive chunks differ.
func newBody(pattern []byte, offset, n int64) *patternReader {
	return &patternReader{data: pattern, off: int(offset % int64(len(pattern))), remain: n}
}

func (r *patternReader) Read(p []byte) (int, error) {
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

// WriteTo writes the remaining bytes to w straight from the pattern.
func (r *patternReader) WriteTo(w io.Writer) (int64, error) {
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

// byteSize is a flag value for sizes such as 1GiB, 256MiB, 256KiB, 1G or
// 4096.
type byteSize int64

func (s *byteSize) String() string { return formatBytes(int64(*s)) }

func (s *byteSize) Set(v string) error {
	n, err := parseBytes(v)
	if err != nil {
		return err
	}
	*s = byteSize(n)
	return nil
}

// sizeUnits maps suffixes to multipliers; K, M and G are binary as well,
// as is usual for file sizes.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3},
	{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"k", 1 << 10},
	{"B", 1},
}

// parseBytes parses a size with an optional unit suffix.
func parseBytes(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || (n > 0 && mult > (1<<62)/n) {
		return 0, fmt.Errorf("invalid size %q", v)
	}
	return n * mult, nil
}

// formatBytes prints n in the largest binary unit that divides it.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
