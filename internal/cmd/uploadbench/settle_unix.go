//go:build unix && !aix

package main

import "syscall"

// settleDisk writes every dirty page back (sync(2)), so write-back left over
// from one run is not charged to the next.
func settleDisk() { syscall.Sync() }
