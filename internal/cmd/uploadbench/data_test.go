package main

import (
	"encoding/hex"
	"testing"
)

// TestGeneratorUnchanged pins the bytes every request body is cut from, so
// that results stay comparable with earlier runs.
func TestGeneratorUnchanged(t *testing.T) {
	g := newGenerator()
	sum := g.Sum(int64(g.Len()))
	if got, want := hex.EncodeToString(sum[:]), "e4f424ce86d8d83a3248784c84121c2907837b0a5abe5f812d72c97b879fc618"; g.Len() != 4<<20 || got != want {
		t.Errorf("pattern of %d bytes with SHA-256 %s, want 4 MiB with %s", g.Len(), got, want)
	}
}
