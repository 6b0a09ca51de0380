package redistest

import "syscall"

// sysProcAttr makes the kernel kill the server when the test process dies,
// so a crashed or killed test leaves no redis-server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
