//go:build !linux

package e2e

import "os/exec"

// setProcAttr does nothing outside Linux: TestMain's cleanup stops the subprocesses.
func setProcAttr(*exec.Cmd) {}
