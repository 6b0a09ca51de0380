//go:build unix

package hooks

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup makes cmd the leader of a new process group and makes
// its cancellation kill the whole group, so children it started die too.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
