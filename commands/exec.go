package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/session"
)

// Bot mode (listen --exec). Each eligible message runs CMD through sh -c
// with the body on stdin and the message in the environment; CMD's stdout,
// when not empty, goes back as a reply in the same conversation, type and
// thread, addressed by the conversation's lock (XEP-0296), with an
// In-Reply-To header (XEP-0201 0.3 §8).
//
// Concurrency: messages are handed to one of --exec-concurrency workers
// chosen by the sender's bare JID, so one conversation's replies always
// leave in the order its messages came, whatever the concurrency. Each
// worker has a bounded queue; when it is full, listen stops reading (the
// server holds the stanzas back over TCP) until a slot frees: nothing is
// dropped.

const (
	defaultExecTimeout = 30 * time.Second
	// execQueue is how many messages may wait per worker.
	execQueue = 256
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

// execJob is one message for CMD, with the session it arrived on.
type execJob struct {
	ev session.Event
	s  *session.Session
}

// bot runs CMD for messages and sends the replies over the observer's
// current session.
type bot struct {
	o        execOptions
	env      *Env
	senv     session.Env
	account  session.JID
	lockIdle time.Duration
	warn     func(format string, args ...any)

	queues []chan execJob
	wg     sync.WaitGroup // jobs queued or running
	done   sync.WaitGroup // workers

	cancel  context.CancelFunc // ends the workers' waits and CMDs (stop)
	skipped atomic.Int64       // messages dropped unhandled by stop

	mu      sync.Mutex
	s       *session.Session
	online  chan struct{} // closed while a session is set
	full    bool          // a queue-full warning was printed and not yet cleared
	stopped bool
}

func newBot(o execOptions, env *Env, senv session.Env, account session.JID, lockIdle time.Duration,
	warn func(string, ...any)) *bot {
	b := &bot{o: o, env: env, senv: senv, account: account, lockIdle: lockIdle, warn: warn,
		online: make(chan struct{})}
	b.queues = make([]chan execJob, o.concurrency)
	for i := range b.queues {
		b.queues[i] = make(chan execJob, execQueue)
	}
	return b
}

// start runs the workers until ctx ends or stop is called.
func (b *bot) start(ctx context.Context) {
	ctx, b.cancel = context.WithCancel(ctx)
	for _, q := range b.queues {
		b.done.Add(1)
		go func() {
			defer b.done.Done()
			for job := range q {
				if ctx.Err() == nil {
					b.run(ctx, job)
				} else {
					b.skipped.Add(1)
				}
				b.wg.Done()
			}
		}()
	}
}

// stop ends the bot when listen ends: the session is gone, so CMDs still
// running are killed and queued messages are not handled; it says how
// many were left (they are in the history, and were printed).
func (b *bot) stop() {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return
	}
	b.stopped = true
	b.mu.Unlock()
	if b.cancel != nil {
		b.cancel()
	}
	for _, q := range b.queues {
		close(q)
	}
	b.done.Wait()
	if n := b.skipped.Load(); n > 0 {
		b.warn("exec: listen ended with %d messages not answered (CMD was stopped or never ran for them)", n)
	}
}

// setSession is ListenOptions.OnSession.
func (b *bot) setSession(s *session.Session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.s = s
	if s != nil {
		select {
		case <-b.online:
		default:
			close(b.online)
		}
	} else {
		select {
		case <-b.online:
			b.online = make(chan struct{})
		default:
		}
	}
}

// session waits (bounded by ctx) for an online session.
func (b *bot) session(ctx context.Context) (*session.Session, error) {
	for {
		b.mu.Lock()
		s, online := b.s, b.online
		b.mu.Unlock()
		if s != nil {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-online:
		}
	}
}

// sessionAfter is session, but never dead: listen may not have let go of
// a lost connection yet.
func (b *bot) sessionAfter(ctx context.Context, dead *session.Session) (*session.Session, error) {
	for {
		s, err := b.session(ctx)
		if err != nil || dead == nil || s != dead {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// eligible says whether CMD runs for ev: never for errors, headlines,
// group chat, presence, empty bodies, our own account's messages, or
// delayed (offline) ones unless --include-delayed.
func (b *bot) eligible(ev session.Event) bool {
	if ev.Kind != session.KindMessage || ev.Body == "" || ev.Error != "" {
		return false
	}
	if ev.Type != "chat" && ev.Type != "normal" {
		return false
	}
	if ev.Delayed && !b.o.includeDelayed {
		return false
	}
	from, err := session.ParseJID(ev.From)
	if err != nil || from.Bare() == b.account.Bare() {
		return false
	}
	return true
}

// enqueue hands ev to its conversation's worker, waiting while that
// worker's queue is full (and saying so once per episode).
func (b *bot) enqueue(ctx context.Context, ev session.Event) error {
	from, _ := session.ParseJID(ev.From)
	h := fnv.New32a()
	io.WriteString(h, from.Bare())
	q := b.queues[int(h.Sum32()%uint32(len(b.queues)))]
	b.mu.Lock()
	job := execJob{ev: ev, s: b.s}
	b.mu.Unlock()
	b.wg.Add(1)
	select {
	case q <- job:
		b.mu.Lock()
		b.full = false
		b.mu.Unlock()
		return nil
	default:
	}
	b.mu.Lock()
	if !b.full {
		b.full = true
		b.warn("exec: %d messages wait for CMD; reading paused until one is handled (nothing is dropped)", execQueue)
	}
	b.mu.Unlock()
	select {
	case q <- job:
		return nil
	case <-ctx.Done():
		b.wg.Done()
		return ctx.Err()
	}
}

// drain waits until every queued message has been handled.
func (b *bot) drain() { b.wg.Wait() }

// run runs CMD for one message and sends its reply.
func (b *bot) run(ctx context.Context, job execJob) {
	ev := job.ev
	limit := 256 * 1024
	if s, err := b.session(ctx); err == nil && s.Conn().MaxStanza() > 0 {
		limit = s.Conn().MaxStanza()
	}
	res := runExec(ctx, b.o.command, b.o.timeout, ev.Body, b.childEnv(ev), limit)
	if ctx.Err() != nil {
		b.skipped.Add(1)
		return
	}
	if res.stderr != "" && res.err == nil {
		// CMD's diagnostics go where jab's go.
		io.WriteString(b.env.Stderr, res.stderr)
	}
	if res.err != nil {
		b.warn("exec for message %s from %s: %v", orDash(ev.ID), sanitize(ev.From), res.err)
		return
	}
	reply := strings.TrimRight(res.stdout, "\r\n")
	if strings.TrimSpace(reply) == "" {
		return
	}
	if res.truncated {
		b.warn("exec for message %s: the reply (over %d bytes) is over the server's limit; not sent", orDash(ev.ID), limit)
		return
	}
	if err := checkBody(reply, "the reply"); err != nil {
		b.warn("exec for message %s: %v; not sent", orDash(ev.ID), err)
		return
	}
	from, _ := session.ParseJID(ev.From)
	to := session.JID{Local: from.Local, Domain: from.Domain}
	if ev.Occupant {
		// D-12: a MUC private message is answered to the occupant,
		// never to the room.
		to = from
	}
	var dead *session.Session
	for attempt := 0; ; attempt++ {
		s, err := b.sessionAfter(ctx, dead)
		if err != nil {
			b.skipped.Add(1)
			return
		}
		// The lock is vouched for only on the session the message came
		// in on, and only if the message could lock (not delayed, D-15):
		// after a reconnect, or for an old message, D-9 applies as usual.
		so := session.SendOptions{Account: b.account, To: []session.JID{to}, Type: ev.Type,
			Thread: ev.Thread, LockIdle: b.lockIdle, Trust: s == job.s && !ev.Delayed}
		_, err = session.SendOne(ctx, b.senv, s, so, session.Outgoing{Body: reply, InReplyTo: ev.ID})
		if err == nil {
			return
		}
		var tl *session.StanzaTooLargeError
		switch {
		case errors.As(err, &tl):
			b.warn("exec for message %s: the reply is %v; not sent", orDash(ev.ID), err)
			return
		case attempt == 0 && s.Err() != nil:
			// The connection was lost under us: send it on the next one.
			dead = s
			continue
		}
		b.warn("exec for message %s: reply not sent: %v", orDash(ev.ID), err)
		return
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return sanitize(s)
}

// childEnv is jab's environment plus the message's JAB_* variables.
func (b *bot) childEnv(ev session.Event) []string {
	from, _ := session.ParseJID(ev.From)
	vars := map[string]string{
		"JAB_FROM":      ev.From,
		"JAB_FROM_BARE": from.Bare(),
		"JAB_TYPE":      ev.Type,
		"JAB_ID":        ev.ID,
		"JAB_THREAD":    ev.Thread,
		"JAB_SUBJECT":   ev.Subject,
		"JAB_ACCOUNT":   b.account.Bare(),
	}
	base := append(os.Environ(), b.o.flagEnv...)
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
			res.err = fmt.Errorf("run CMD: %v", err)
		}
	}
	return res
}
