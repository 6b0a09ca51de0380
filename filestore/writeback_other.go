//go:build !linux || arm

package filestore

import "os"

// startWriteback does nothing where sync_file_range(2) is not available;
// FinishUpload's fsync then writes everything.
func startWriteback(f *os.File, off, n int64) {}

// backgroundFlush says whether WriteChunk asks the store's flusher to sync
// data files while uploads stream in: only where write-back can be started
// too (see writeback_linux.go).
const backgroundFlush = false

// datasync forces f's contents to stable storage.
func datasync(f *os.File) error { return f.Sync() }
