//go:build !unix

package commands

import "os/exec"

// setProcessGroup: without process groups only CMD itself is killed.
func setProcessGroup(cmd *exec.Cmd) {}
