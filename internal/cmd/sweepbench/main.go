// Command sweepbench measures the expiry sweep (tus.Handler.SweepExpired)
// over a filestore holding many uploads: how long one sweep takes and the
// sweeping process's peak resident memory, which must not grow with the
// number of uploads.
//
//	go run ./internal/cmd/sweepbench -n 10000,100000
//
// For each count it fills a fresh directory (in a child process, so that
// filling does not count in the sweep's memory) with that many unfinished
// uploads of 1 KiB, a tenth of them expired, then sweeps it in another
// child process and prints the sweep's time, what it removed and the
// child's peak RSS (VmHWM, Linux).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/memorylocker"
)

func main() {
	counts := flag.String("n", "10000,100000", "comma-separated upload counts")
	dir := flag.String("dir", "", "parent directory for the stores (default: a temporary one)")
	mode := flag.String("mode", "", "internal: fill or sweep")
	store := flag.String("store", "", "internal: the store directory")
	flag.Parse()
	var err error
	switch *mode {
	case "fill":
		var n int
		if n, err = strconv.Atoi(*counts); err == nil {
			err = fill(*store, n)
		}
	case "sweep":
		err = sweep(*store)
	default:
		err = run(*counts, *dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sweepbench:", err)
		os.Exit(1)
	}
}

// run measures each count in a fresh store.
func run(counts, parent string) error {
	if parent == "" {
		d, err := os.MkdirTemp("", "sweepbench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		parent = d
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("%-8s %-10s %-9s %-8s %-12s\n", "uploads", "sweep", "expired", "listed", "peak RSS")
	for _, c := range strings.Split(counts, ",") {
		dir := filepath.Join(parent, "store-"+c)
		if err := exec.Command(self, "-mode", "fill", "-n", c, "-store", dir).Run(); err != nil {
			return fmt.Errorf("filling %s uploads: %w", c, err)
		}
		var out bytes.Buffer
		cmd := exec.Command(self, "-mode", "sweep", "-store", dir)
		cmd.Stdout, cmd.Stderr = &out, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("sweeping %s uploads: %w", c, err)
		}
		fmt.Printf("%-8s %s", c, out.String())
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	return nil
}

// fill creates n unfinished uploads of 1 KiB in dir, every tenth expired.
func fill(dir string, n int) error {
	fs, err := filestore.NewWithOptions(dir, filestore.Options{NoSync: true})
	if err != nil {
		return err
	}
	ctx := context.Background()
	data := bytes.Repeat([]byte("x"), 1024)
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	for i := range n {
		exp := future
		if i%10 == 0 {
			exp = past
		}
		up, err := fs.NewUpload(ctx, tus.FileInfo{ID: fmt.Sprintf("u%07d", i), Size: 4096, ExpiresAt: exp})
		if err != nil {
			return err
		}
		if _, err := up.WriteChunk(ctx, 0, bytes.NewReader(data)); err != nil {
			return err
		}
	}
	return nil
}

// sweep runs one sweep over dir and prints its time, counts and the
// process's peak RSS.
func sweep(dir string) error {
	fs, err := filestore.New(dir)
	if err != nil {
		return err
	}
	c := tus.NewStoreComposer()
	fs.UseIn(c)
	memorylocker.New().UseIn(c)
	h, err := tus.NewHandler(tus.Config{StoreComposer: c, Expiration: time.Hour})
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := h.SweepExpired(context.Background())
	took := time.Since(start)
	if err != nil {
		return err
	}
	fmt.Printf("%-10s %-9d %-8d %s\n", took.Round(time.Millisecond), res.Expired, res.Listed, peakRSS())
	return nil
}

// peakRSS reads the process's VmHWM.
func peakRSS() string {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "n/a"
}
