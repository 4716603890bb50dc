package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Why a helper process measures each run.
//
// Go starts a child with vfork (clone with CLONE_VM): until it execs, the
// child runs on the parent's memory, and at exec Linux folds that memory's
// high-water mark into the child's own maximum RSS (exec_mmap calls
// setmax_mm_hiwater_rss). So the max RSS that wait4 reports for a child of
// the bench is at least the bench's own peak, some 10 to 15 MiB once it
// holds its servers' sessions, and a tool that needs less looks as large
// as the bench. (A Go program that touches 50 MiB sees /bin/true's max RSS
// jump from 2 to 53 MiB.) The figures of the bench before this helper,
// and those quoted in issue 11, were affected wherever the bench was
// larger than the tool.
//
// The helper is this binary re-executed with spawnArg: a fresh process
// that has touched little memory. It starts the tool, waits, and writes
// the tool's wall time, CPU time and max RSS to fd 3. What the tool
// inherits from the helper is the helper's high-water mark, which
// spawnFloor measures (with /bin/true) and the bench prints.

const spawnArg = "-spawn-helper"

// spawnMain is the helper: it runs args with the helper's stdin, stdout,
// stderr and environment, writes "wall_ns cpu_ns maxrss_kib" to fd 3,
// and exits with the tool's exit code.
func spawnMain(args []string) int {
	result := os.NewFile(3, "result")
	syscall.CloseOnExec(3) // the tool must not hold the result pipe
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "jab-bench: spawn: no command")
		return 127
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "jab-bench: spawn:", err)
		return 127
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	fmt.Fprintf(result, "%d %d %d\n", wall.Nanoseconds(), cpu.Nanoseconds(), ru.Maxrss)
	result.Close()
	return cmd.ProcessState.ExitCode()
}

// spawn runs bin with args through the helper and returns the tool's
// figures, its exit code and what it wrote on stdout and stderr.
func spawn(ctx context.Context, bin string, args, env []string, stdin io.Reader) (s sample, code int, out string, err error) {
	self, err := os.Executable()
	if err != nil {
		return s, 0, "", err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return s, 0, "", err
	}
	defer r.Close()
	cmd := exec.CommandContext(ctx, self, append([]string{spawnArg, bin}, args...)...)
	cmd.Env = env
	cmd.Stdin = stdin
	// The same comparable writer twice: os/exec then writes from one
	// goroutine at a time.
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.ExtraFiles = []*os.File{w}
	runErr := cmd.Run()
	w.Close()
	line, _ := io.ReadAll(r)
	if cmd.ProcessState == nil {
		return s, 0, buf.String(), runErr
	}
	var wallNS, cpuNS int64
	if _, err := fmt.Sscan(string(line), &wallNS, &cpuNS, &s.rssKiB); err != nil {
		return s, 0, buf.String(), errors.Join(fmt.Errorf("spawn helper: no figures (%v)", err), runErr)
	}
	s.wall, s.cpu = time.Duration(wallNS), time.Duration(cpuNS)
	return s, cmd.ProcessState.ExitCode(), buf.String(), nil
}

// spawnFloor is the smallest max RSS the helper can report: /bin/true's,
// which is the helper's own high-water mark at exec. Figures near it
// mean nothing.
func spawnFloor() int64 {
	s, _, _, err := spawn(context.Background(), "/bin/true", nil, nil, nil)
	if err != nil {
		return 0
	}
	return s.rssKiB
}
