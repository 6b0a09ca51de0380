//go:build unix && !aix

package benchkit

import "syscall"

// SettleDisk writes every dirty page back (sync(2)), so write-back left
// over from one run is not charged to the next.
func SettleDisk() { syscall.Sync() }
