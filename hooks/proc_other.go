//go:build !unix

package hooks

import "os/exec"

// ownProcessGroup does nothing where process groups are not available:
// cancellation kills the hook program only.
func ownProcessGroup(*exec.Cmd) {}
