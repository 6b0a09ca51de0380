package benchkit

import (
	"slices"
	"time"
)

// Median returns the median of xs (the mean of the middle two for an even
// count, 0 for none); xs is not changed.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Percentiles returns the 50th and 99th percentiles of ds, which must not
// be empty; ds is not changed.
func Percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2], s[min(len(s)-1, len(s)*99/100)]
}

// MBps returns the throughput of n bytes in d, in MB/s (10^6 bytes).
func MBps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

// RoundOrder returns the order of items in round (counted from 0): as given
// in even rounds, reversed in odd ones, so that neither side of a
// comparison always runs first. items is not changed.
func RoundOrder[T any](items []T, round int) []T {
	order := slices.Clone(items)
	if round%2 == 1 {
		slices.Reverse(order)
	}
	return order
}
