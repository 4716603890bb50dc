//go:build linux

package serverproc

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr {
	// Own process group, and die with the test binary so an aborted test
	// run does not leave the server behind.
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func signalTerm(p *os.Process) { signalGroup(p, syscall.SIGTERM) }
func signalKill(p *os.Process) { signalGroup(p, syscall.SIGKILL) }

func signalGroup(p *os.Process, sig syscall.Signal) {
	// The process is its own group leader (Setpgid), so -pid is its group.
	if err := syscall.Kill(-p.Pid, sig); err != nil {
		p.Signal(sig)
	}
}
