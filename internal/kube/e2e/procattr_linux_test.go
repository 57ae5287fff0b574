package e2e

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill the subprocess when the test binary dies, even on
// a panic or a test timeout that skips TestMain's cleanup.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
