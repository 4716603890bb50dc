//go:build !linux

package serverproc

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func signalTerm(p *os.Process) {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		p.Kill()
	}
}

func signalKill(p *os.Process) { p.Kill() }
