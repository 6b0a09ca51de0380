package benchkit

import (
	"slices"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	xs := []float64{5, 1, 3}
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{2}, 2}, {xs, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(tc.xs); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
	if !slices.Equal(xs, []float64{5, 1, 3}) {
		t.Errorf("Median changed its argument: %v", xs)
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 200; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p50, p99 := Percentiles(ds)
	if p50 != 101*time.Millisecond || p99 != 199*time.Millisecond {
		t.Errorf("Percentiles of 1..200 ms = %v, %v", p50, p99)
	}
	if ds[0] != 200*time.Millisecond {
		t.Error("Percentiles changed its argument")
	}
	if p50, p99 := Percentiles([]time.Duration{7}); p50 != 7 || p99 != 7 {
		t.Errorf("Percentiles of one = %v, %v", p50, p99)
	}
}

func TestMBps(t *testing.T) {
	if got := MBps(250e6, 2*time.Second); got != 125 {
		t.Errorf("MBps(250e6, 2s) = %v, want 125", got)
	}
}

func TestRoundOrder(t *testing.T) {
	items := []string{"a", "b", "c"}
	if got := RoundOrder(items, 0); !slices.Equal(got, items) {
		t.Errorf("round 0: %v", got)
	}
	if got := RoundOrder(items, 1); !slices.Equal(got, []string{"c", "b", "a"}) {
		t.Errorf("round 1: %v", got)
	}
	if got := RoundOrder(items, 2); !slices.Equal(got, items) {
		t.Errorf("round 2: %v", got)
	}
	if !slices.Equal(items, []string{"a", "b", "c"}) {
		t.Errorf("RoundOrder changed its argument: %v", items)
	}
}
