// Package commands is jab's command-line surface: the urfave/cli app, one
// file per subcommand, output formats and exit codes. It is the only
// package that touches the process's streams, environment and clock.
//
// Output rules: stdout carries data only (text records or JSON Lines);
// every diagnostic goes to stderr as "jab: error: …" and "jab: hint: …";
// no colour and no prompts when the stream is not a terminal; a remote
// peer's control characters never reach the terminal.
package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// Env carries everything a command may touch in its surroundings, so tests
// can run the app with pipes and a fake clock.
type Env struct {
	Stdin     io.Reader
	Stdout    io.Writer
	Stderr    io.Writer
	StdinTTY  bool
	StdoutTTY bool
	StderrTTY bool // send --file draws its progress bar only on a terminal
	Getenv    func(string) string
	Now       func() time.Time
	Host      string
	// ReadPassword reads a password from the terminal without echo; nil
	// reads from Stdin with golang.org/x/term. Tests drive the prompt
	// through it.
	ReadPassword func(ctx context.Context) (string, error)
	// Exec replaces the process with the program path, run with argv and
	// environ, and returns only on failure; nil: this Env cannot. Plain
	// jab runs jab-ox with it (openpgp.go).
	Exec func(path string, argv, environ []string) error
	// Environ is the whole environment, passed on by Exec; nil:
	// os.Environ.
	Environ func() []string

	args []string // the command line, set by Run: what Exec runs again
}

func (env *Env) environ() []string {
	if env.Environ != nil {
		return env.Environ()
	}
	return os.Environ()
}

// Main runs jab and returns the exit status.
func Main(args []string, stdin, stdout, stderr *os.File) int {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	env := &Env{
		Stdin: stdin, Stdout: stdout, Stderr: stderr,
		StdinTTY:  isTerminal(stdin),
		StdoutTTY: isTerminal(stdout),
		StderrTTY: isTerminal(stderr),
		Getenv:    os.Getenv,
		Now:       time.Now,
		Host:      host,
		Exec:      execProcess,
	}
	// SIGINT and SIGTERM cancel the context, so deferred cleanup runs (the
	// observer record is removed, the stream closed) before we exit.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			code := ExitInterrupted
			if s == syscall.SIGTERM {
				code = ExitTerminated
			}
			cancel(&signalError{code: code})
		}
	}()
	return Run(ctx, env, args)
}

// Run runs the app with an injected environment.
func Run(ctx context.Context, env *Env, args []string) int {
	env.args = args
	app := newApp(env)
	err := app.RunContext(ctx, args)
	if cause := context.Cause(ctx); cause != nil && err != nil {
		var se *signalError
		if errors.As(cause, &se) {
			err = se
		}
	}
	if err == nil {
		return ExitOK
	}
	var se *signalError
	if !errors.As(err, &se) {
		fmt.Fprintf(env.Stderr, "jab: error: %v\n", err)
		if h := hintFor(err); h != "" {
			fmt.Fprintf(env.Stderr, "jab: hint: %s\n", h)
		}
		var sx *syntaxError
		if errors.As(err, &sx) {
			fmt.Fprintf(env.Stderr, "jab: usage: %s\n", usageLine(app, args))
		}
	}
	return exitCode(err)
}

// usageLine is the synopsis of the (sub)command named in args, for the
// usage line printed after a usage error.
func usageLine(app *cli.App, args []string) string {
	path, cmds := "jab", app.Commands
	var cur *cli.Command
	for _, a := range args[min(1, len(args)):] {
		if a == "--" {
			break
		}
		for _, c := range cmds {
			if c.Name == a || slices.Contains(c.Aliases, a) {
				cur, path, cmds = c, path+" "+c.Name, c.Subcommands
				break
			}
		}
	}
	switch {
	case cur == nil:
		return "jab [global options] COMMAND [options] [arguments...]"
	case slices.ContainsFunc(cur.Subcommands, func(c *cli.Command) bool { return c.Name != "help" }) && cur.ArgsUsage == "":
		return path + " COMMAND [options] [arguments...]"
	case cur.ArgsUsage != "":
		return path + " [options] " + cur.ArgsUsage
	}
	return path + " [options]"
}

// isTerminal reports whether f is a terminal. A character device is not
// enough: /dev/null is one, and a script's stdin often is /dev/null.
func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}
