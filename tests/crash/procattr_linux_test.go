package crash

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel kill the server if this test process dies
// first (a timeout's panic, a signal): no server outlives its test.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
