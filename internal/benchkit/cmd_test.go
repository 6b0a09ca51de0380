package benchkit

import (
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
)

func TestPickList(t *testing.T) {
	known := []string{"small", "chunks", "large"}
	got, err := PickList("scenario", " large, small,,", known)
	if err != nil || !slices.Equal(got, []string{"small", "large"}) {
		t.Errorf("PickList: %v, %v; want the known order", got, err)
	}
	if _, err := PickList("scenario", "small,huge", known); err == nil || err.Error() != `unknown scenario "huge" (known: small, chunks, large)` {
		t.Errorf("an unknown item: %v", err)
	}
	if _, err := PickList("server", " , ", known); err == nil || err.Error() != "no server selected" {
		t.Errorf("nothing selected: %v", err)
	}
}

func TestFlagSet(t *testing.T) {
	var out strings.Builder
	fs := NewFlagSet("xbench", &out)
	n := fs.Int("n", 1, "how many")
	if err := ParseFlags(fs, []string{"-n", "3"}); err != nil || *n != 3 {
		t.Errorf("-n 3: %d, %v", *n, err)
	}
	if err := ParseFlags(fs, []string{"-n", "3", "extra"}); err == nil || err.Error() != `unexpected argument "extra"` {
		t.Errorf("a positional argument: %v", err)
	}
	out.Reset()
	if err := ParseFlags(fs, []string{"-help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-help: %v", err)
	}
	if !strings.HasPrefix(out.String(), "usage: xbench [flags]   (see go doc ./cmd/xbench)\n  -n int\n") {
		t.Errorf("-help printed:\n%s", out.String())
	}
}
