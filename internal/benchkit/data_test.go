package benchkit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"
)

func TestGeneratorDeterministic(t *testing.T) {
	a, b := NewGenerator(1000, "seed"), NewGenerator(1000, "seed")
	pa, pb := make([]byte, 3000), make([]byte, 3000)
	a.Fill(pa, 0)
	b.Fill(pb, 0)
	if !bytes.Equal(pa, pb) {
		t.Fatal("two generators with the same size and seed differ")
	}
	c := NewGenerator(1000, "other seed")
	pc := make([]byte, 3000)
	c.Fill(pc, 0)
	if bytes.Equal(pa, pc) {
		t.Fatal("generators with different seeds agree")
	}
	// The bytes are ChaCha8's with the seed as key: pinned, so that a
	// change of what the benchmarks upload does not go unnoticed.
	first := make([]byte, 8)
	NewGenerator(16, "uploadbench").Fill(first, 0)
	if got, want := hex.EncodeToString(first), "8a9f66c2e5d55e8d"; got != want {
		t.Errorf("first bytes of seed uploadbench: %s, want %s", got, want)
	}
}

func TestReaderCyclesFromOffset(t *testing.T) {
	const size = 97
	g := NewGenerator(size, "cycle")
	for _, tc := range []struct{ offset, n int64 }{{0, 0}, {0, 1}, {5, 300}, {96, 2}, {size * 3, 10}, {1000, 500}} {
		want := make([]byte, tc.n)
		for i := range want {
			want[i] = g.pattern[(tc.offset+int64(i))%size]
		}
		// Read in small pieces.
		var got []byte
		r := g.Reader(tc.offset, tc.n)
		buf := make([]byte, 7)
		for {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Reader(%d, %d) via Read: wrong bytes", tc.offset, tc.n)
		}
		// WriteTo.
		var w bytes.Buffer
		n, err := g.Reader(tc.offset, tc.n).WriteTo(&w)
		if err != nil || n != tc.n || !bytes.Equal(w.Bytes(), want) {
			t.Errorf("Reader(%d, %d).WriteTo: %d bytes, %v, equal %v", tc.offset, tc.n, n, err, bytes.Equal(w.Bytes(), want))
		}
		// Fill.
		p := make([]byte, tc.n)
		g.Fill(p, tc.offset)
		if !bytes.Equal(p, want) {
			t.Errorf("Fill(%d bytes, %d): wrong bytes", tc.n, tc.offset)
		}
	}
}

func TestSum(t *testing.T) {
	g := NewGenerator(1<<10, "sum")
	for _, n := range []int64{0, 1, 1 << 10, 5000, 5000} { // 5000 twice: cached
		b, _ := io.ReadAll(g.Reader(0, n))
		if got, want := g.Sum(n), sha256.Sum256(b); got != want {
			t.Errorf("Sum(%d) = %x, want %x", n, got, want)
		}
	}
}
