package filestore

import (
	"errors"
	"io"
	"os"
)

// maxInfoFileSize bounds what readFile reads: no info file the store
// writes comes near it, and a larger one is damaged anyway.
const maxInfoFileSize = 64 << 20

// readFile returns the content of the small file at name, as os.ReadFile
// does, but opened with openFile and without the stat os.ReadFile starts
// with: info files are a few hundred bytes, so reading into a 1 KiB buffer
// until EOF takes fewer system calls. A file longer than maxInfoFileSize
// fails.
func readFile(name string) ([]byte, error) {
	f, err := openFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close() // read-only: a close error cannot lose data
	buf := make([]byte, 0, 1024)
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxInfoFileSize {
				return nil, errors.New("file too large")
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
