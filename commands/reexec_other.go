//go:build !unix

package commands

import (
	"errors"
	"os"
	"os/exec"
)

// execProcess runs path as a child with our streams, where there is no
// exec, and exits with its status. It returns only when path cannot run.
func execProcess(path string, argv, environ []string) error {
	cmd := exec.Command(path, argv[1:]...)
	cmd.Env = environ
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		os.Exit(0)
	case errors.As(err, &ee):
		os.Exit(ee.ExitCode())
	}
	return err
}

// execedPid is the pid a process that jab started for jab-ox finds in
// envOXExec: its parent's.
func execedPid() int { return os.Getppid() }
