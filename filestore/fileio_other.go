//go:build !unix

package filestore

import (
	"io/fs"
	"os"
)

// openFile is os.OpenFile; the Unix version avoids the poller's work.
func openFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}
