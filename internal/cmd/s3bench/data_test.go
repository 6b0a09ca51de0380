package main

import (
	"encoding/hex"
	"testing"
)

// TestGeneratorUnchanged pins the bytes of every upload, so that results
// stay comparable with earlier runs.
func TestGeneratorUnchanged(t *testing.T) {
	g := newGenerator()
	sum := g.Sum(int64(g.Len()))
	if got, want := hex.EncodeToString(sum[:]), "62e20b7abeb2c2c6eb85c3295d572289991d1a837f3cc9d221f2897aac4e3bd7"; g.Len() != 16<<20+4099 || got != want {
		t.Errorf("pattern of %d bytes with SHA-256 %s, want 16 MiB + 4099 with %s", g.Len(), got, want)
	}
}
