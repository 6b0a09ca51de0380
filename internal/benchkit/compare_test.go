package benchkit

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestCompare(t *testing.T) {
	g := NewGenerator(1<<20+13, "compare")
	const size = 3<<20 + 5
	body := make([]byte, size)
	g.Fill(body, 0)

	c, err := g.Compare(bytes.NewReader(body), size)
	if err != nil || !c.Match(g, size) || c.FirstDiff != -1 || c.N != size {
		t.Fatalf("the right bytes: %+v, %v", c, err)
	}

	flipped := bytes.Clone(body)
	const at = 2<<20 + 5
	flipped[at] ^= 1
	c, err = g.Compare(bytes.NewReader(flipped), size)
	if err != nil || c.Match(g, size) || c.N != size {
		t.Fatalf("a flipped bit: N %d, match %v, %v", c.N, c.Match(g, size), err)
	}
	if c.FirstDiff != at {
		t.Errorf("a flipped bit at %d: first difference at %d", at, c.FirstDiff)
	}
	if len(c.Got) != 16 || c.Got[0] != body[at]^1 || !bytes.Equal(c.Want, body[at:at+16]) || !bytes.Equal(c.Got[1:], c.Want[1:]) {
		t.Errorf("a flipped bit: got % x, want % x", c.Got, c.Want)
	}
	// Near the end, fewer than 16 bytes are left to show.
	flipped = bytes.Clone(body)
	flipped[size-2] ^= 0x80
	if c, _ = g.Compare(bytes.NewReader(flipped), size); c.FirstDiff != size-2 || len(c.Got) != 2 {
		t.Errorf("a flipped bit before the end: first difference %d, got % x", c.FirstDiff, c.Got)
	}

	c, err = g.Compare(bytes.NewReader(body[:size-1]), size)
	if err != nil || c.Match(g, size) || c.N != size-1 || c.FirstDiff != -1 {
		t.Errorf("a short stream: %+v, %v", c, err)
	}
	c, err = g.Compare(io.MultiReader(bytes.NewReader(body), bytes.NewReader([]byte{0})), size)
	if err != nil || c.Match(g, size) || c.N != size+1 || c.FirstDiff != -1 {
		t.Errorf("a long stream: %+v, %v", c, err)
	}

	broken := errors.New("broken")
	c, err = g.Compare(io.MultiReader(bytes.NewReader(body[:100]), errReader{broken}), size)
	if !errors.Is(err, broken) || c.N != 100 {
		t.Errorf("a read error after 100 bytes: N %d, %v", c.N, err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
