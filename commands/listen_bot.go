package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/session"
)

// Bot mode (listen --exec): session.Bot answers the messages; here each
// eligible message runs CMD through sh -c with the body on stdin and the
// message in the environment, and CMD's stdout, when not empty, is the
// reply.

const (
	defaultExecTimeout = 30 * time.Second
	// execStderrMax bounds what is kept of CMD's stderr (its first line is
	// reported on failure; the rest is passed through on success).
	execStderrMax = 64 * 1024
	// execWaitDelay is how long Wait waits for CMD's pipes once CMD exited
	// or was killed (a background grandchild may hold them).
	execWaitDelay = 2 * time.Second
)

type execOptions struct {
	command        string
	timeout        time.Duration
	concurrency    int
	includeDelayed bool
	// flagEnv exports the global options given as flags to CMD as their
	// JAB_* variables, so a `jab send` inside CMD runs as the same account
	// with the same state directory and config file.
	flagEnv []string
	rooms   *session.Rooms // listen's rooms: CMD answers there when addressed by nick
}

// flagEnviron lists the global options set by flag as NAME=VALUE for
// their environment variables (never a password: there is no password
// flag, and the password file or command is passed by name).
func flagEnviron(c *cli.Context) []string {
	var out []string
	for _, f := range globalFlags() {
		name := f.Names()[0]
		e, ok := envOf[name]
		if !ok {
			continue
		}
		if x := setIn(c, name); x != nil {
			out = append(out, e+"="+fmt.Sprint(x.Value(name)))
		}
	}
	return out
}

// newBot is listen's bot: session.Bot with CMD as its handler, replying
// through live.
func newBot(o execOptions, env *Env, senv session.Env, live *session.Live, account session.JID, lockIdle time.Duration,
	warn func(string, ...any)) *session.Bot {
	return session.NewBot(senv, live, session.BotOptions{Account: account, LockIdle: lockIdle,
		Concurrency: o.concurrency, IncludeDelayed: o.includeDelayed,
		Answer: func(ctx context.Context, ev session.Event, limit int) (string, error) {
			return answerExec(ctx, o, env, account, ev, limit)
		},
		Problem: func(ev session.Event, err error) {
			warn("exec for message %s from %s: %v", orDash(ev.ID), sanitize(ev.From), err)
		},
		Notice: func(msg string) { warn("exec: %s", msg) },
		Rooms:  o.rooms,
	})
}

// answerExec runs CMD for one message; its stdout is the reply.
func answerExec(ctx context.Context, o execOptions, env *Env, account session.JID, ev session.Event, limit int) (string, error) {
	res := runExec(ctx, o.command, o.timeout, ev.Body, childEnv(o, account, ev), limit)
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if res.stderr != "" && res.err == nil {
		// CMD's diagnostics go where jab's go.
		io.WriteString(env.Stderr, res.stderr)
	}
	if res.err != nil {
		return "", res.err
	}
	reply := strings.TrimRight(res.stdout, "\r\n")
	if strings.TrimSpace(reply) == "" {
		return "", nil
	}
	if res.truncated {
		return "", fmt.Errorf("the reply (over %d bytes) is over the server's limit; not sent", limit)
	}
	if err := checkBody(reply, "the reply"); err != nil {
		return "", fmt.Errorf("%w; not sent", err)
	}
	return reply, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return sanitize(s)
}

// childEnv is jab's environment, without the password (withoutSecrets),
// plus the message's JAB_* variables.
func childEnv(o execOptions, account session.JID, ev session.Event) []string {
	from, _ := session.ParseJID(ev.From)
	vars := map[string]string{
		"JAB_FROM":      ev.From,
		"JAB_FROM_BARE": from.Bare(),
		"JAB_TYPE":      ev.Type,
		"JAB_ID":        ev.ID,
		"JAB_THREAD":    ev.Thread,
		"JAB_SUBJECT":   ev.Subject,
		"JAB_ACCOUNT":   account.Bare(),
		"JAB_OOB_URL":   ev.OOBURL, // XEP-0066: a shared file's URL, or empty
	}
	if ev.Room != "" {
		// Group chat: the room and the sender's nick. Not JAB_NICK, which
		// is our own --nick: a CMD that runs jab send --room would post
		// under the sender's nick.
		vars["JAB_ROOM"], vars["JAB_FROM_NICK"] = ev.Room, ev.Nick
	}
	base := append(withoutSecrets(os.Environ()), o.flagEnv...)
	out := make([]string, 0, len(base)+len(vars))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ours := vars[k]; !ours {
			out = append(out, kv)
		}
	}
	for k, v := range vars {
		// A NUL cannot be passed in the environment.
		out = append(out, k+"="+strings.ReplaceAll(v, "\x00", ""))
	}
	return out
}

// execResult is what one run of CMD gave.
type execResult struct {
	stdout    string
	truncated bool // stdout was longer than the limit
	stderr    string
	err       error // nil on exit status 0
}

// capWriter keeps the first max bytes and counts the rest.
type capWriter struct {
	buf   bytes.Buffer
	max   int
	total int
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.total += len(p)
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// runExec runs command with sh -c in a process group of its own, the body
// on stdin, bounded by timeout: on expiry the whole group is killed.
func runExec(ctx context.Context, command string, timeout time.Duration, stdin string, environ []string, limit int) execResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Env = environ
	cmd.Stdin = strings.NewReader(stdin)
	out := &capWriter{max: limit + 1}
	errw := &capWriter{max: execStderrMax}
	cmd.Stdout, cmd.Stderr = out, errw
	setProcessGroup(cmd)
	cmd.WaitDelay = execWaitDelay
	err := cmd.Run()
	res := execResult{stdout: out.buf.String(), truncated: out.total > limit, stderr: errw.buf.String()}
	firstLine := func() string {
		line, _, _ := strings.Cut(strings.TrimSpace(res.stderr), "\n")
		if line == "" {
			return ""
		}
		if !utf8.ValidString(line) {
			line = strings.ToValidUTF8(line, "\uFFFD")
		}
		return ": " + sanitize(line)
	}
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		res.err = fmt.Errorf("CMD killed after %s (--exec-timeout)%s", timeout, firstLine())
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			res.err = fmt.Errorf("CMD failed with %v%s", ee.ProcessState, firstLine())
		} else if errors.Is(err, exec.ErrWaitDelay) {
			// CMD exited 0 but something it started still holds its
			// output: what it wrote before exiting is the reply.
			res.err = nil
		} else {
			res.err = fmt.Errorf("run CMD: %w", err)
		}
	}
	return res
}
