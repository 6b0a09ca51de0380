package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// upload is one upload a scenario made: its ID (the last segment of its
// URL) and the bytes it must hold.
type upload struct {
	id   string
	size int64
}

// dirStats counts what a server left in its directory after a run.
type dirStats struct {
	data, info, lock, release, temp, other int
	bytes                                  int64
}

func (d dirStats) String() string {
	s := fmt.Sprintf("%d data files, %d bytes", d.data, d.bytes)
	if d.info+d.lock+d.release > 0 {
		s += fmt.Sprintf(", %d .info, %d .lock, %d .release", d.info, d.lock, d.release)
	}
	if d.temp+d.other > 0 {
		s += fmt.Sprintf(", %d temporary, %d other", d.temp, d.other)
	}
	return s
}

// verifyDir checks that dir holds exactly the data files of ups with the
// right sizes and, for a tus server, a matching info file for each. The
// filestore keeps <id> and <id>.info, and its locker <id>.lock and
// <id>.release.
func verifyDir(dir string, isTus bool, ups []upload) (dirStats, error) {
	var st dirStats
	entries, err := os.ReadDir(dir)
	if err != nil {
		return st, err
	}
	sizes := make(map[string]int64, len(ups))
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, "."):
			st.temp++
			continue
		case isTus && strings.HasSuffix(name, ".info"):
			st.info++
			continue
		case isTus && strings.HasSuffix(name, ".lock"):
			st.lock++
			continue
		case isTus && strings.HasSuffix(name, ".release"):
			st.release++
			continue
		case strings.Contains(name, ".") || !e.Type().IsRegular():
			st.other++
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return st, err
		}
		st.data++
		st.bytes += fi.Size()
		sizes[name] = fi.Size()
	}

	var errs []error
	if st.data != len(ups) {
		errs = append(errs, fmt.Errorf("%d data files on disk, %d uploads made", st.data, len(ups)))
	}
	for _, u := range ups {
		got, ok := sizes[u.id]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("upload %s: no data file", u.id))
		case got != u.size:
			errs = append(errs, fmt.Errorf("upload %s: %d bytes on disk, %d sent", u.id, got, u.size))
		}
		if isTus && ok {
			if err := checkInfo(dir, u); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 10 {
			errs = append(errs, errors.New("(more errors left out)"))
			break
		}
	}
	return st, errors.Join(errs...)
}

// checkInfo checks the filestore info file of u.
func checkInfo(dir string, u upload) error {
	raw, err := os.ReadFile(filepath.Join(dir, u.id+".info"))
	if err != nil {
		return fmt.Errorf("upload %s: %w", u.id, err)
	}
	var info struct {
		ID             string
		Size           int64
		SizeIsDeferred bool
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		return fmt.Errorf("upload %s: info file: %w", u.id, err)
	}
	if info.ID != u.id || info.Size != u.size || info.SizeIsDeferred {
		return fmt.Errorf("upload %s: info file says ID %q, Size %d, deferred %v", u.id, info.ID, info.Size, info.SizeIsDeferred)
	}
	return nil
}

// cleanDir removes everything inside dir, keeping dir.
func cleanDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
