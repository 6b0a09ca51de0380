package benchkit

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestReadMemAndCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	m, err := ReadMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSSKiB <= 0 || m.HWMKiB < m.RSSKiB || m.HWMMiB() != float64(m.HWMKiB)/1024 {
		t.Errorf("ReadMem of this process: %+v", m)
	}
	// Burn some CPU so that the clock ticks at least once.
	start := time.Now()
	x := 0
	for time.Since(start) < 50*time.Millisecond {
		x++
	}
	cpu, err := ReadCPU(os.Getpid())
	if err != nil || cpu <= 0 || cpu%ClockTick != 0 {
		t.Errorf("ReadCPU of this process: %v, %v (after %d loops)", cpu, err, x)
	}
	if _, err := ReadMem(-1); err == nil {
		t.Error("ReadMem(-1): no error")
	}
}
