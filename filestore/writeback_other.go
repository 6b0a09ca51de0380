//go:build !linux || arm

package filestore

import "os"

// startWriteback does nothing where sync_file_range(2) is not available;
// FinishUpload's fsync then writes everything.
func startWriteback(f *os.File, off, n int64) {}
