//go:build unix

package commands

import (
	"os"
	"syscall"
)

// execProcess replaces the process with path (execve): the pid, the
// open descriptors (stdin unread, stdout, stderr) and the terminal stay.
// It returns only on failure.
func execProcess(path string, argv, environ []string) error {
	return syscall.Exec(path, argv, environ)
}

// execedPid is the pid a process that jab re-executed finds in
// envOXExec: its own, as exec keeps it.
func execedPid() int { return os.Getpid() }
