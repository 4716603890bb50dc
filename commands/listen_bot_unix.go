//go:build unix

package commands

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts CMD in a process group of its own and makes the
// timeout kill the whole group, so a pipeline or a backgrounded child of
// CMD does not outlive it.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
