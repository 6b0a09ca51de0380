//go:build !unix || aix || (solaris && !illumos)

package filestore

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// flockSupported reports whether FileLocker works here: it does not.
func flockSupported() error {
	return fmt.Errorf("filestore: FileLocker needs flock(2), which is unsupported on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// tryFlock is never called here: NewLocker fails first.
func tryFlock(*os.File) (bool, error) { return false, flockSupported() }

// unflock is never called here: NewLocker fails first.
func unflock(*os.File) error { return flockSupported() }
