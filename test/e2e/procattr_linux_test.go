package e2e

import "syscall"

// sysProcAttr makes the kernel kill the server if the test process dies
// before its cleanup runs (a timeout panic, a SIGKILL), so no server
// outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
