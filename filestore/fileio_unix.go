//go:build unix

package filestore

import (
	"io/fs"
	"os"
	"syscall"
)

// openFile is os.OpenFile for the store's regular files and directory,
// without the work os.OpenFile does to register every file it opens with
// the runtime's network poller: on Linux that costs four fcntl(2) and one
// epoll_ctl(2) per open, all in vain for a regular file, which the poller
// refuses. The store opens six to eight files per small upload, so those
// calls were a good part of its system calls. The returned file blocks
// like any regular file opened by os.OpenFile does. perm is used as it is
// (no setuid, setgid or sticky bits).
func openFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	for {
		fd, err := syscall.Open(name, flag|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if err == nil {
			return os.NewFile(uintptr(fd), name), nil
		}
		if err != syscall.EINTR {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
	}
}
