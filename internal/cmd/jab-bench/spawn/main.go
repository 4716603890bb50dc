// Command spawn is jab-bench's measuring helper: it runs one command with
// its own stdin, stdout, stderr and environment, writes the command's
// wall time, CPU time and max RSS ("wall_ns cpu_ns maxrss_kib") to fd 3,
// and exits with the command's exit code.
//
// It is a separate, small program on purpose. Go starts a child with vfork
// (clone with CLONE_VM): until it execs, the child runs on the parent's
// memory, and at exec Linux folds that memory's high-water mark into the
// child's own maximum RSS (exec_mmap calls setmax_mm_hiwater_rss). A tool
// started by the bench itself would report at least the bench's peak RSS.
// Started by this helper it inherits only the helper's, about 2 MiB, which
// jab-bench measures with /bin/true and prints as the floor.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	result := os.NewFile(3, "result")
	syscall.CloseOnExec(3) // the command must not hold the result pipe
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "spawn: no command")
		os.Exit(127)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "spawn:", err)
		os.Exit(127)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	fmt.Fprintf(result, "%d %d %d\n", wall.Nanoseconds(), cpu.Nanoseconds(), ru.Maxrss)
	result.Close()
	os.Exit(cmd.ProcessState.ExitCode())
}
