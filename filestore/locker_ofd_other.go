//go:build !linux

package filestore

import (
	"errors"

	"github.com/tusgo/tus"
)

// ofdTable is unused where open file description locks do not exist.
type ofdTable struct{}

// openOFD fails here: FileLocker then uses flock(2) on a file per upload.
func openOFD(string) (*ofdTable, error) { return nil, errors.ErrUnsupported }

// close does nothing.
func (*ofdTable) close() error { return nil }

// newOFDLock is never called here: openOFD always fails.
func (l *FileLocker) newOFDLock(id string, mem memLock) tus.Lock { return nil }
