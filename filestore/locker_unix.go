//go:build unix && !aix && (!solaris || illumos)

package filestore

import (
	"errors"
	"os"
	"syscall"
)

// flockSupported reports whether FileLocker works here: it does.
func flockSupported() error { return nil }

// tryFlock tries to take an exclusive flock on f without waiting. It reports
// false if another open file description holds a lock on the file.
func tryFlock(f *os.File) (bool, error) {
	return flockOp(f, syscall.LOCK_EX|syscall.LOCK_NB)
}

// unflock releases the flock on f.
func unflock(f *os.File) error {
	_, err := flockOp(f, syscall.LOCK_UN)
	return err
}

// flockOp calls flock(2) with how on f, retrying on EINTR. It reports false
// with a nil error if the file is locked by someone else.
func flockOp(f *os.File, how int) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if !errors.Is(ferr, syscall.EINTR) {
				return
			}
		}
	})
	if err != nil {
		return false, err
	}
	if errors.Is(ferr, syscall.EWOULDBLOCK) || errors.Is(ferr, syscall.EAGAIN) {
		return false, nil
	}
	if ferr != nil {
		return false, &os.PathError{Op: "flock", Path: f.Name(), Err: ferr}
	}
	return true, nil
}
