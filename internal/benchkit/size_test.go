package benchkit

import (
	"flag"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "4096": 4096, "1B": 1, " 2 KiB ": 2048, "3k": 3072, "3K": 3072, "3kB": 3000, "3KB": 3000,
		"1MiB": 1 << 20, "1M": 1 << 20, "1MB": 1e6, "1GiB": 1 << 30, "2G": 2 << 30, "1GB": 1e9,
	} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5MiB", "1TiB", "x", "9223372036854775807G"} {
		if got, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) = %d, want an error", in, got)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0B", 1000: "1000B", 1024: "1KiB", 1536: "1536B", 256 << 10: "256KiB",
		1 << 20: "1MiB", 16<<20 + 4099: "16781315B", 3 << 30: "3GiB", 1<<30 + 1<<20: "1025MiB",
	} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestByteSizeFlag(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	s := ByteSize(1 << 30)
	fs.Var(&s, "size", "")
	if err := fs.Parse([]string{"-size", "256MiB"}); err != nil || s != 256<<20 || s.String() != "256MiB" {
		t.Errorf("-size 256MiB: %d %q, %v", s, s.String(), err)
	}
	if err := fs.Parse([]string{"-size", "lots"}); err == nil {
		t.Error("-size lots: no error")
	}
}
