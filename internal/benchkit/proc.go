package benchkit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// MemStat is a process's memory use from /proc/PID/status.
type MemStat struct {
	HWMKiB int64 // VmHWM: peak resident set size since the process started
	RSSKiB int64 // VmRSS: resident set size now
}

// HWMMiB returns the peak resident set size in MiB.
func (m MemStat) HWMMiB() float64 { return float64(m.HWMKiB) / 1024 }

// RSSMiB returns the resident set size in MiB.
func (m MemStat) RSSMiB() float64 { return float64(m.RSSKiB) / 1024 }

// ReadMem reads VmHWM and VmRSS of process pid (Linux only).
func ReadMem(pid int) (MemStat, error) {
	var m MemStat
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "VmHWM":
			dst = &m.HWMKiB
		case "VmRSS":
			dst = &m.RSSKiB
		default:
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("/proc/%d/status: unexpected %s line %q", pid, key, sc.Text())
		}
		if *dst, err = strconv.ParseInt(f[0], 10, 64); err != nil {
			return m, fmt.Errorf("/proc/%d/status: %s: %w", pid, key, err)
		}
		found++
	}
	if found != 2 {
		return m, fmt.Errorf("/proc/%d/status: no VmHWM or VmRSS", pid)
	}
	return m, nil
}

// ClockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on every Linux configuration in practice), so the resolution of
// ReadCPU.
const ClockTick = 10 * time.Millisecond

// ReadCPU returns the user plus system CPU time process pid has used,
// summed over its threads (Linux only).
func ReadCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name in parentheses may contain spaces: parse after it.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	f := strings.Fields(string(raw[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/PID/stat: %w", err)
	}
	return time.Duration(ut+st) * ClockTick, nil
}
