//go:build linux && !arm

package filestore

import (
	"os"
	"syscall"
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writing the range's
// dirty pages without waiting for them.
const syncFileRangeWrite = 2

// startWriteback asks the kernel to start writing n bytes of f from off to
// disk, without waiting. Done while an upload streams in, it leaves little
// for the fsync in FinishUpload, whose wait would otherwise grow with the
// upload. Errors are ignored: the fsync reports them.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SyncFileRange(int(fd), off, n, syncFileRangeWrite)
	})
}

// backgroundFlush says whether WriteChunk asks the store's flusher to
// fdatasync data files while uploads stream in.
const backgroundFlush = true

// datasync forces f's data, and the metadata needed to read it back, to
// stable storage (fdatasync(2)).
func datasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}
