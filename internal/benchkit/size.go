package benchkit

import (
	"fmt"
	"strconv"
	"strings"
)

// ByteSize is a flag value for sizes such as 1GiB, 256MiB, 256KiB, 1G or
// 4096 (see ParseBytes). It prints as FormatBytes does.
type ByteSize int64

// String implements flag.Value.
func (s *ByteSize) String() string { return FormatBytes(int64(*s)) }

// Set implements flag.Value.
func (s *ByteSize) Set(v string) error {
	n, err := ParseBytes(v)
	if err != nil {
		return err
	}
	*s = ByteSize(n)
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

// ParseBytes parses a non-negative size with an optional unit suffix:
// GiB, MiB, KiB and G, M, K, k are powers of 2; GB, MB, KB and kB powers
// of 10; B or none is bytes.
func ParseBytes(v string) (int64, error) {
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

// FormatBytes prints n in the largest binary unit that divides it, such as
// 1GiB, 256KiB or 1000B.
func FormatBytes(n int64) string {
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
