package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/session"
)

// The REPL is an interactive observer of the account: `listen` with a
// prompt over session.Chat, which holds the conversation model (the
// conversee, pending thread changes, chat states, auto-away, the presence
// seen) and writes every stanza in order on its own goroutine. Here:
//
//   - session.Listen's goroutine applies every stanza to the state file and
//     calls onEvent, which hands it to the Chat and prints it;
//   - the line reader (readline, or a plain scanner when stdin is not a
//     terminal) hands each line to the main goroutine and waits until it
//     is handled, so the prompt comes back after the command's output.

type replOptions struct {
	to            string
	noChatStates  bool
	noReceipts    bool
	autoAway      time.Duration
	autoXA        time.Duration
	pausedAfter   time.Duration
	inactiveAfter time.Duration
	priority      int
	catchUp       session.CatchUpOptions
}

const (
	defaultAutoAway = 10 * time.Minute
	defaultAutoXA   = 30 * time.Minute
	historyFileName = "repl_history"
)

func replCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "repl",
		Usage:     "chat interactively: a prompt with the conversee, its lock and thread; incoming messages above it",
		ArgsUsage: "[JID]",
		Description: `Stays online like 'jab listen' (same stable resource, same state file: it
keeps the persisted locks true while it runs) and reads lines: a plain line is
a chat message to the current conversee, a line starting with / a command
(/help lists them; any jab subcommand also works, e.g. /threads list; start a
message with // to send a leading slash). The prompt shows where the next
message goes: the locked full JID, or the bare JID when unlocked, and the
current thread's short id.

Chat states (XEP-0085): every message carries <active/>; <composing/> goes
out while you type, <paused/> about 5 s after the last key, <inactive/> after
about 2 minutes without touching the conversation, <gone/> only with /close
(never on quit or disconnect). They stop for a contact whose reply carries
none, and --no-chat-states turns them off.

After --auto-away without input the REPL announces away, after --auto-xa
extended away, and available again at the next key (XEP-0296 §3.3).

When stdin is not a terminal there is no prompt and no line editing: lines are
read from stdin (for scripts and pipes) and incoming messages are printed to
stdout as 'jab listen' prints them. The line history is kept in
repl_history (0600) in the state directory; Ctrl-R searches it, Ctrl-C clears
the line and Ctrl-D on an empty line quits.`,
		Flags: commandFlags(
			&cli.BoolFlag{Name: "no-chat-states", Usage: "send no XEP-0085 chat states at all"},
			&cli.BoolFlag{Name: "no-receipts", Usage: "do not answer XEP-0184 receipt requests (and do not advertise them)"},
			&cli.DurationFlag{Name: "auto-away", Value: defaultAutoAway, Usage: "announce away after `DURATION` without input; 0 disables"},
			&cli.DurationFlag{Name: "auto-xa", Value: defaultAutoXA, Usage: "announce extended away after `DURATION` without input; 0 disables"},
			&cli.IntFlag{Name: "priority", Usage: "presence `PRIORITY` (-128..127)"},
			// Test hooks: the XEP-0085 delays, shortened by end-to-end tests.
			&cli.DurationFlag{Name: "paused-after", Value: session.DefaultPausedAfter, Hidden: true},
			&cli.DurationFlag{Name: "inactive-after", Value: session.DefaultInactiveAfter, Hidden: true},
			catchUpFlag(0), catchUpFlag(1), catchUpFlag(2),
		),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 1 {
				return usagef("jab repl [JID]", "repl takes at most one JID")
			}
			o := &replOptions{to: c.Args().First(), noChatStates: c.Bool("no-chat-states"), noReceipts: c.Bool("no-receipts"),
				autoAway: c.Duration("auto-away"), autoXA: c.Duration("auto-xa"), priority: c.Int("priority"),
				pausedAfter: c.Duration("paused-after"), inactiveAfter: c.Duration("inactive-after")}
			for name, d := range map[string]time.Duration{"auto-away": o.autoAway, "auto-xa": o.autoXA,
				"paused-after": o.pausedAfter, "inactive-after": o.inactiveAfter} {
				if d < 0 {
					return usagef("", "--%s must not be negative", name)
				}
			}
			if o.priority < -128 || o.priority > 127 {
				return usagef("", "--priority must be between -128 and 127")
			}
			var err error
			if o.catchUp, err = parseCatchUp(c); err != nil {
				return err
			}
			if o.to != "" {
				if _, err := parseConversee(o.to); err != nil {
					return err
				}
			}
			g, err := resolve(c.Context, c, env, false)
			if err != nil {
				return err
			}
			// An account with an OpenPGP key runs the REPL in jab-ox,
			// which then asks for the password.
			if err := observerNeedsOX(env, g); err != nil {
				return err
			}
			if err := g.readyToConnect(c.Context, c, env); err != nil {
				return err
			}
			return runRepl(c.Context, env, g, o, forwardedGlobals(c))
		},
	}
}

// forwardedGlobals are the global flags given to repl, passed on to the
// jab subcommands run from the prompt.
func forwardedGlobals(c *cli.Context) []string {
	var args []string
	for _, f := range globalFlags() {
		name := f.Names()[0]
		if x := setIn(c, name); x != nil {
			args = append(args, fmt.Sprintf("--%s=%v", name, x.Value(name)))
		}
	}
	return args
}

// parseConversee checks a JID given to repl or /to.
func parseConversee(s string) (session.JID, error) {
	j, err := session.ParseJID(s)
	if err != nil {
		return j, usagef("a JID looks like alice@example.org or alice@example.org/phone", "malformed JID %q: %w", s, err)
	}
	return j, nil
}

type repl struct {
	noColour bool // NO_COLOR is set
	ctx      context.Context
	env      *Env
	g        *options
	o        *replOptions
	account  string
	globals  []string
	term     *terminal // nil when stdin is not a terminal
	out      io.Writer // data (stdout), safe for concurrent use
	errw     io.Writer // diagnostics (stderr), safe for concurrent use
	chat     *session.Chat
	rooms    *session.Rooms // joined with /join (repl_rooms.go)
}

// errQuit ends the REPL without error.
var errQuit = errors.New("quit")

func runRepl(ctx context.Context, env *Env, g *options, o *replOptions, globals []string) error {
	senv, err := g.sessionEnv(env)
	if err != nil {
		return err
	}
	if err := readEncrypted(ctx, env, g, &senv); err != nil {
		return err
	}
	// The REPL is an observer on the stable resource, as listen is.
	dial, err := session.ObserverDialer(senv, g.account.Bare(), g.resource, func(resource string) session.Config {
		cfg := g.sessionConfig(env, resource)
		if !o.noReceipts {
			cfg.Features = append(cfg.Features, session.NSReceipts)
		}
		if !o.noChatStates {
			cfg.Features = append(cfg.Features, session.NSChatStates)
		}
		return cfg
	})
	if err != nil {
		return err
	}
	// Cancelled on return, so the line reader and the writer stop.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := newRepl(ctx, env, g, o, senv)
	r.globals = globals
	if o.to != "" {
		j, _ := session.ParseJID(o.to)
		r.chat.To(j)
	}
	interactive := env.StdinTTY && env.StdoutTTY
	if interactive {
		hist := filepath.Join(g.stateDir, historyFileName)
		if err := ensurePrivateFile(hist); err != nil {
			return err
		}
		if r.term, err = newTerminal(r, hist); err != nil {
			return err
		}
		defer r.term.close()
		r.out, r.errw = r.term.stdout(), r.term.stderr()
	} else {
		r.out, r.errw = &lockedWriter{w: env.Stdout}, &lockedWriter{w: env.Stderr}
	}

	lctx, stopListen := context.WithCancel(ctx)
	defer stopListen()
	online := make(chan struct{}, 1)
	// Sends of this account on this machine hand their messages to the
	// REPL's session while it is online, as to listen's.
	live := session.NewLive()
	lo := session.ListenOptions{Account: g.account, Priority: o.priority, Presence: true, Receipts: !o.noReceipts,
		ChatStates: true, CatchUp: o.catchUp, Rooms: r.rooms, OnSession: func(s *session.Session) {
			r.chat.SetSession(s)
			live.Set(s)
			if s != nil {
				select {
				case online <- struct{}{}:
				default:
				}
			}
		}}
	logf := func(format string, args ...any) { fmt.Fprintf(r.errw, "jab: "+format+"\n", args...) }
	hs := session.ServeHandoff(lctx, senv, session.HandoffOptions{Account: g.account, Live: live, Command: "repl",
		Logf: logf, Timeout: g.timeout})
	defer hs.Close()
	listenDone := make(chan error, 1)
	go func() { listenDone <- session.Listen(lctx, senv, dial, lo, r.onEvent, logf) }()
	select {
	case err := <-listenDone:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-online:
	}
	wctx, stopWriter := context.WithCancel(ctx)
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); r.chat.Run(wctx) }()
	defer func() { stopWriter(); <-writerDone }()
	go func() {
		ctx, cancel := context.WithTimeout(ctx, g.timeout)
		defer cancel()
		r.chat.RefreshRoster(ctx)
	}()
	if r.term != nil {
		r.refreshPrompt()
	}

	lines := make(chan lineResult)
	next := make(chan struct{})
	go r.readLines(lines, next)
	var result error
loop:
	for {
		select {
		case <-ctx.Done():
			result = ctx.Err()
			break loop
		case err := <-listenDone:
			// Listen ended on its own: a conflict, a local failure.
			listenDone <- err
			break loop
		case lr := <-lines:
			if lr.err != nil {
				if errors.Is(lr.err, errInterrupted) {
					r.onInterrupt()
					next <- struct{}{}
					continue
				}
				// EOF: Ctrl-D on an empty line, or the end of the input.
				// Anything else (a line over the reader's limit, a broken
				// terminal) is a failure, not a quit.
				if !errors.Is(lr.err, io.EOF) {
					result = fmt.Errorf("read input: %w", lr.err)
				}
				break loop
			}
			err := r.handleLine(lr.line)
			if errors.Is(err, errQuit) {
				break loop
			}
			if err != nil {
				r.printError(err)
			}
			if r.term != nil {
				r.refreshPrompt()
			}
			next <- struct{}{}
		}
	}
	// Quitting sends no <gone/> (D-6): closing the stream makes the server
	// broadcast unavailable presence, which says it.
	stopListen()
	select {
	case err := <-listenDone:
		if result == nil && err != nil && !errors.Is(err, context.Canceled) {
			result = err
		}
	case <-time.After(g.timeout + 5*time.Second):
	}
	return result
}

// newRepl makes the REPL and its conversation model; the terminal or the
// plain writers are set by runRepl.
func newRepl(ctx context.Context, env *Env, g *options, o *replOptions, senv session.Env) *repl {
	r := &repl{noColour: env.Getenv("NO_COLOR") != "", ctx: ctx, env: env, g: g, o: o, account: g.account.Bare()}
	r.rooms = session.NewRooms(senv, g.account, nil, func(format string, args ...any) {
		fmt.Fprintf(r.errw, "jab: %s\n", sanitize(fmt.Sprintf(format, args...)))
	})
	r.rooms.OnChange(r.promptChanged) // joined, left, our nick: the prompt says so
	r.chat = session.NewChat(ctx, senv, session.ChatOptions{Account: g.account, LockIdle: g.lockIdle,
		NoChatStates: o.noChatStates, PausedAfter: o.pausedAfter, InactiveAfter: o.inactiveAfter,
		AutoAway: o.autoAway, AutoXA: o.autoXA, Priority: o.priority, Wait: g.timeout, OnChange: r.promptChanged,
		Rooms: r.rooms})
	return r
}

// ensurePrivateFile creates path 0600 if it is missing and tightens it if
// it exists, before readline opens it (readline would create it 0666).
func ensurePrivateFile(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("open REPL history %q: %w", path, err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("open REPL history %q: %w", path, err)
	}
	return nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// printError prints an error from one line as Main would, without ending
// the REPL.
func (r *repl) printError(err error) {
	fmt.Fprintf(r.errw, "jab: error: %v\n", err)
	if h := hintFor(err); h != "" {
		fmt.Fprintf(r.errw, "jab: hint: %s\n", h)
	}
}

// info prints a command's answer: data, on stdout.
func (r *repl) info(format string, args ...any) {
	fmt.Fprintf(r.out, format+"\n", args...)
}

// onKey is readline's key listener: composing while the user types a
// message (not a command), and back from auto-away.
func (r *repl) onKey(line []rune, key rune) {
	switch key {
	case 0, '\r', '\n', 3, 4:
		// The initial call, Enter (the line is being sent), Ctrl-C
		// (onInterrupt) and Ctrl-D.
		return
	}
	r.chat.Input()
	if !(len(line) > 0 && line[0] == '/' && !(len(line) > 1 && line[1] == '/')) {
		r.chat.Typing(len(line) == 0)
	}
}

// onInterrupt: Ctrl-C cleared the line.
func (r *repl) onInterrupt() {
	r.chat.Input()
	r.chat.Typing(true)
}

// onEvent is Listen's emit: the stanza is already applied to the state.
func (r *repl) onEvent(ev session.Event) error {
	if !r.chat.Received(ev) {
		return nil
	}
	if r.term == nil {
		_, err := io.WriteString(r.out, textRecord(ev)+"\n")
		return err
	}
	r.term.printAbove(r.eventLine(ev))
	r.promptChanged()
	return nil
}

func (r *repl) promptChanged() {
	if r.term != nil {
		r.refreshPrompt()
	}
}

// eventLine is the terminal form of an incoming message: time, full JID
// of the sender, short thread in its colour, body; all sanitised.
func (r *repl) eventLine(ev session.Event) string {
	var b strings.Builder
	b.WriteString(ev.Time.Local().Format("15:04:05") + " ")
	b.WriteString(sanitize(ev.From))
	if ev.Type != "chat" {
		b.WriteString(" (" + sanitize(ev.Type) + ")")
	}
	if ev.Thread != "" {
		b.WriteString(" " + r.colourThread(ev.Thread, "#"+shortThread(ev.Thread)))
	}
	b.WriteString(originNote(ev) + ":")
	if ev.Error != "" {
		b.WriteString(" error=" + sanitize(ev.Error))
	}
	if ev.InReplyTo != "" {
		b.WriteString(" (re: " + sanitize(shortID(ev.InReplyTo)) + ")")
	}
	if ev.Subject != "" {
		b.WriteString(" [subject: " + sanitize(ev.Subject) + "]")
	}
	if ev.Body != "" {
		b.WriteString(" " + sanitize(ev.Body))
	}
	return b.String()
}

// colourThread paints s in a colour chosen by the thread id, so messages
// of one thread look alike (terminal only; the REPL never colours a pipe,
// nor anything when NO_COLOR is set: https://no-color.org).
func (r *repl) colourThread(thread, s string) string {
	if r.noColour {
		return s
	}
	palette := []int{33, 35, 36, 32, 34, 31, 93, 95, 96, 92, 94, 91}
	h := uint32(2166136261)
	for i := 0; i < len(thread); i++ {
		h = (h ^ uint32(thread[i])) * 16777619
	}
	return fmt.Sprintf("\x1b[%dm%s\x1b[0m", palette[h%uint32(len(palette))], s)
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// prompt is "JID #thread (state)> ": the address the next message goes
// to (the locked full JID, or the bare JID), the thread it goes in, and
// the conversee's last chat state.
func (r *repl) prompt() string {
	peer := r.chat.Peer()
	if peer.Domain == "" {
		return "jab> "
	}
	if r.chat.IsRoom(peer) {
		return r.roomPrompt(peer)
	}
	pend, status := r.chat.Pending(peer), r.chat.PeerState(peer)
	addr := peer.String()
	if !peer.IsFull() {
		addr = r.chat.Route(peer)
	}
	cur := ""
	if c := r.chat.Conversation(r.chat.Key(peer)); c != nil {
		cur = c.Thread
	}
	var thread string
	switch {
	case pend.Fork && cur != "":
		thread = r.colourThread(cur, "#"+shortThread(cur)) + "+fork"
	case pend.Thread != "":
		thread = r.colourThread(pend.Thread, "#"+shortThread(pend.Thread))
	case pend.NewThread || cur == "":
		thread = "#new"
	default:
		thread = r.colourThread(cur, "#"+shortThread(cur))
	}
	p := sanitize(addr) + " " + thread
	switch status {
	case "", session.StateActive:
	case session.StateComposing:
		p += " (typing…)"
	default:
		p += " (" + sanitize(status) + ")"
	}
	return p + "> "
}

func (r *repl) refreshPrompt() { r.term.setPrompt(r.prompt) }
