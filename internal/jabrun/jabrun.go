// Package jabrun runs the real jab binary the way the integration tests
// (commands/harness_test.go) and `make demo` (internal/cmd/jab-demo) both
// need: build it (and its companion jab-ox), run a command to completion, start one in the background
// with its output collected, wait until a listen or repl is online as its
// account's observer, and stop it.
//
// A Proc's methods are safe for concurrent use; one goroutine per Proc
// reads its stdout until it exits.
package jabrun

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StopGrace is how long a stopped jab may take to exit after SIGTERM
// before it is killed.
const StopGrace = 5 * time.Second

// ErrExited: the process ended before what was waited for happened.
var ErrExited = errors.New("jab exited")

// Build compiles jab into bin, with extra go build flags (e.g. "-race").
func Build(ctx context.Context, bin string, flags ...string) error {
	return build(ctx, bin, "github.com/jab-xmpp/jab", flags)
}

// BuildOX compiles the companion jab-ox (cmd/jab-ox) next to bin, where
// the jab in bin finds it (installed as make install does) when a
// command needs OpenPGP.
func BuildOX(ctx context.Context, bin string, flags ...string) error {
	return build(ctx, filepath.Join(filepath.Dir(bin), "jab-ox"), "github.com/jab-xmpp/jab/cmd/jab-ox", flags)
}

func build(ctx context.Context, bin, pkg string, flags []string) error {
	args := append(append([]string{"build"}, flags...), "-o", bin, pkg)
	out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return nil
}

// Result is a finished run.
type Result struct {
	Stdout, Stderr string
	Code           int // exit status; -1 when a signal ended it
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Run runs bin with args to completion, with env as its whole environment
// and stdin (nil for none) as its input. If ctx ends first, jab gets
// SIGTERM, and is killed StopGrace later. The error is about running it at
// all: a non-zero exit status is in the Result.
func Run(ctx context.Context, bin string, env []string, stdin io.Reader, args ...string) (Result, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdin = stdin
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = StopGrace
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Code = ee.ExitCode()
		return r, nil
	}
	return r, err
}

// Proc is a jab running in the background (listen, repl, send --lines):
// its stdout lines are collected as they come, its stderr kept.
type Proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}

	mu     sync.Mutex
	cond   *sync.Cond // broadcast on each line and on exit
	lines  []string
	stderr bytes.Buffer
	code   int // valid once done is closed
}

// Start starts cmd (its Path, Args, Env and SysProcAttr set by the caller)
// in the background; Start sets its stdout and stderr. withStdin gives it
// a pipe to its input (Stdin); otherwise it reads nothing.
func Start(cmd *exec.Cmd, withStdin bool) (*Proc, error) {
	p := &Proc{cmd: cmd, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	cmd.Stderr = lockedWriter{p}
	if withStdin {
		var err error
		if p.stdin, err = cmd.StdinPipe(); err != nil {
			return nil, err
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start jab: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1024*1024), 1024*1024)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		cmd.Wait()
		p.mu.Lock()
		p.code = -1
		if cmd.ProcessState != nil {
			p.code = cmd.ProcessState.ExitCode()
		}
		close(p.done)
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	return p, nil
}

type lockedWriter struct{ p *Proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.stderr.Write(b)
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Stdin is the pipe to the process's input, or nil.
func (p *Proc) Stdin() io.WriteCloser { return p.stdin }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Code is the exit status once Done is closed (-1 when a signal ended it).
func (p *Proc) Code() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code
}

// Lines returns the stdout lines so far.
func (p *Proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// Stderr returns what the process wrote to stderr so far.
func (p *Proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// WaitLine waits for a stdout line containing substr among the lines from
// index from on, and returns its index. It fails with ErrExited when the
// process exits first, and with ctx's error when ctx ends first.
func (p *Proc) WaitLine(ctx context.Context, from int, substr string) (int, error) {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := from; ; {
		for ; i < len(p.lines); i++ {
			if strings.Contains(p.lines[i], substr) {
				return i, nil
			}
		}
		select {
		case <-p.done:
			return -1, fmt.Errorf("%w (status %d) before printing %q", ErrExited, p.code, substr)
		default:
		}
		if err := ctx.Err(); err != nil {
			return -1, fmt.Errorf("no line containing %q: %w", substr, err)
		}
		p.cond.Wait()
	}
}

// Wait waits for the process to exit and returns its status, or ctx's
// error if ctx ends first.
func (p *Proc) Wait(ctx context.Context) (int, error) {
	select {
	case <-p.done:
		return p.Code(), nil
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop ends the process: SIGTERM, then a kill after StopGrace. It returns
// the exit status (-1 when it had to be killed).
func (p *Proc) Stop() int {
	select {
	case <-p.done:
		return p.Code()
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(StopGrace):
		p.cmd.Process.Kill()
		<-p.done
	}
	return p.Code()
}

// WaitObserver waits until a jab listen or repl using stateDir is online
// as its account's observer: its observer record (observer-*.json) exists.
// It returns the record's path. done (nil when unknown) is the process's
// Done: it fails with ErrExited if that closes first, and with ctx's error
// if ctx ends first.
func WaitObserver(ctx context.Context, stateDir string, done <-chan struct{}) (string, error) {
	for {
		if m, _ := filepath.Glob(filepath.Join(stateDir, "observer-*.json")); len(m) > 0 {
			return m[0], nil
		}
		select {
		case <-done:
			return "", fmt.Errorf("%w before coming online", ErrExited)
		case <-ctx.Done():
			return "", fmt.Errorf("not online (no observer-*.json in %s): %w", stateDir, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
