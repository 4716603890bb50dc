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
	"github.com/jab-xmpp/jab/statefile"
)

// The REPL is an interactive observer of the account: `listen` with a
// prompt. Its goroutines:
//
//   - session.Listen's goroutine applies every stanza to the state file and
//     calls onEvent, which prints and updates the in-memory view (presence
//     seen, chat-state support, the transient status of the conversee);
//   - the line reader (readline, or a plain scanner when stdin is not a
//     terminal) hands each line to the main goroutine and waits until it
//     is handled, so the prompt comes back after the command's output;
//   - the writer goroutine (r.jobs) writes every stanza the REPL sends,
//     messages and chat states alike, in the order they were decided, and
//     runs the clock-driven decisions (paused, inactive, auto-away).
//
// r.mu guards the in-memory view; the state file has its own lock.
// Standalone chat states and presence go out only while a session is up:
// offline nothing is recorded as sent, and a new session announces the
// current presence again (setSession).

type replOptions struct {
	to            string
	noChatStates  bool
	noReceipts    bool
	autoAway      time.Duration
	autoXA        time.Duration
	pausedAfter   time.Duration
	inactiveAfter time.Duration
	priority      int
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
			if o.to != "" {
				if _, err := parseConversee(o.to); err != nil {
					return err
				}
			}
			g, err := resolve(c.Context, c, env, true)
			if err != nil {
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
		return j, usagef("a JID looks like alice@example.org or alice@example.org/phone", "malformed JID %q: %v", s, err)
	}
	return j, nil
}

// seenPresence is the last presence seen from one resource.
type seenPresence struct {
	typ, show, status string
	at                time.Time
}

// pendingThread is what the next message to a conversee does to its
// thread (/thread new, /thread ID, /fork).
type pendingThread struct {
	newThread bool
	thread    string
	fork      bool
}

// peerState is the conversee's last chat state, shown in the prompt until
// it expires, the sender goes offline, or a message replaces it.
type peerState struct {
	state, from string
	at          time.Time
}

// peerStateTTL: a peer's chat state older than this is no longer shown
// (a client that lost its connection never sends the state that ends
// <composing/>).
const peerStateTTL = 30 * time.Second

// stanzaSender writes one stanza; the session's *session.Conn, or a fake
// in unit tests.
type stanzaSender interface{ Send(v any) error }

type repl struct {
	noColour bool // NO_COLOR is set
	ctx      context.Context
	env      *Env
	g        *options
	o        *replOptions
	senv     session.Env
	account  string
	globals  []string
	term     *terminal // nil when stdin is not a terminal
	out      io.Writer // data (stdout), safe for concurrent use
	errw     io.Writer // diagnostics (stderr), safe for concurrent use
	jobs     chan func()

	// The maps keyed by conversation are keyed as the state file keys
	// conversations (convKey): the bare JID, or a MUC occupant's full JID.
	mu       sync.Mutex
	sess     *session.Session
	conn     stanzaSender // sess's writer; nil when offline
	peer     session.JID  // the current conversee; zero when none
	pending  map[string]pendingThread
	states   map[string]*session.ChatStates
	presence map[string]map[string]seenPresence // bare JID -> resource -> last seen
	status   map[string]peerState               // conversation -> its last chat state (transient)
	roster   []string
	away     *session.AutoAway
	myShow   string
	myStatus string
}

// errQuit ends the REPL without error.
var errQuit = errors.New("quit")

func runRepl(ctx context.Context, env *Env, g *options, o *replOptions, globals []string) error {
	senv, err := g.sessionEnv(env)
	if err != nil {
		return err
	}
	account := g.account.Bare()
	resource, stored := g.resource, true
	if resource == "" {
		if resource, stored, err = session.StableResource(senv, account); err != nil {
			return err
		}
	}
	// The REPL uses the stable observer resource, as listen does: contacts
	// lock to our full JID, and the same resource keeps their locks
	// pointing at whichever observer runs. Two sessions on one full JID
	// would throw each other off the server (RFC 6120 §7.7.2.2).
	if obs, err := senv.Store.ReadObserver(account); err == nil && obs != nil && obs.Resource == resource &&
		obs.Live(env.Now(), session.ObserverMaxAge, env.Host, statefile.PIDAlive) {
		return &alreadyListening{pid: obs.PID, host: obs.Host, resource: resource}
	}
	// Cancelled on return, so the line reader and the writer stop.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	now := env.Now()
	r := &repl{noColour: env.Getenv("NO_COLOR") != "", ctx: ctx, env: env, g: g, o: o, senv: senv, account: account, globals: globals,
		jobs: make(chan func(), 256), pending: map[string]pendingThread{}, states: map[string]*session.ChatStates{},
		presence: map[string]map[string]seenPresence{}, status: map[string]peerState{},
		away: session.NewAutoAway(now, o.autoAway, o.autoXA)}
	if o.to != "" {
		r.peer, _ = session.ParseJID(o.to)
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
	dial := func(ctx context.Context) (*session.Session, error) {
		cfg := g.sessionConfig(env, resource)
		if !o.noReceipts {
			cfg.Features = append(cfg.Features, session.NSReceipts)
		}
		if !o.noChatStates {
			cfg.Features = append(cfg.Features, session.NSChatStates)
		}
		s, err := session.Open(ctx, cfg)
		if err == nil && !stored {
			if err := session.KeepResource(ctx, senv, account, resource); err != nil {
				s.Close()
				return nil, err
			}
			stored = true
		}
		return s, err
	}
	lo := session.ListenOptions{Account: g.account, Priority: o.priority, Presence: true, Receipts: !o.noReceipts,
		ChatStates: true, OnSession: func(s *session.Session) {
			var c stanzaSender
			if s != nil {
				c = s.Conn()
			}
			r.setSession(s, c)
			if s != nil {
				select {
				case online <- struct{}{}:
				default:
				}
			}
		}}
	logf := func(format string, args ...any) { fmt.Fprintf(r.errw, "jab: "+format+"\n", args...) }
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
	go func() { defer close(writerDone); r.writer(wctx) }()
	defer func() { stopWriter(); <-writerDone }()
	go r.fetchRoster()
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

// session is the current session, waiting up to --timeout for a
// reconnect.
func (r *repl) session() (*session.Session, error) {
	deadline := time.Now().Add(r.g.timeout)
	for {
		r.mu.Lock()
		s := r.sess
		r.mu.Unlock()
		if s != nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: not connected (reconnecting)", session.ErrTimeout)
		}
		select {
		case <-r.ctx.Done():
			return nil, r.ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// setSession records a new session (nil: the connection is lost). A new
// session after a lost one sends our presence again: Listen announced
// plain availability, and the show and status the user set, or auto-away's,
// must not be lost to a reconnect.
func (r *repl) setSession(s *session.Session, c stanzaSender) {
	r.mu.Lock()
	r.sess, r.conn = s, c
	resend := c != nil && (r.myShow != "" || r.myStatus != "" || r.away.Show() != "")
	r.mu.Unlock()
	if resend {
		r.do(func() {
			r.mu.Lock()
			show := r.away.Show()
			r.mu.Unlock()
			r.sendPresence(show, "")
		})
	}
}

// convKey is the key of peer's conversation in the state file
// (session.ConversationKey): a MUC occupant's full JID, else the bare JID
// (D-12).
func (r *repl) convKey(peer session.JID) string {
	if !peer.IsFull() {
		return peer.Bare()
	}
	c := r.conversation(peer.String())
	return session.ConversationKey(peer, c != nil && c.Occupant)
}

// occupant reports whether peer is a MUC occupant we have a conversation
// with (XEP-0045 §7.5, D-12).
func (r *repl) occupant(peer session.JID) bool {
	if !peer.IsFull() {
		return false
	}
	c := r.conversation(peer.String())
	return c != nil && c.Occupant
}

// machine returns the chat-state machine of a conversation (its convKey);
// r.mu must be held.
func (r *repl) machine(key string) *session.ChatStates {
	m := r.states[key]
	if m == nil {
		off := r.o.noChatStates
		if c := r.conversation(key); c != nil && c.Occupant {
			off = true // XEP-0085 §5.5, D-12: none in a MUC, PMs included
		}
		m = session.NewChatStates(r.env.Now(), off, r.o.pausedAfter, r.o.inactiveAfter)
		r.states[key] = m
	}
	return m
}

// writer writes what the REPL sends, in order, and runs the clock: paused
// and inactive chat states and auto-away.
func (r *repl) writer(ctx context.Context) {
	tick := time.Second
	for _, d := range []time.Duration{r.o.pausedAfter, r.o.inactiveAfter, r.o.autoAway, r.o.autoXA} {
		if d > 0 && d/4 < tick {
			tick = max(d/4, 20*time.Millisecond)
		}
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-r.jobs:
			f()
		case <-t.C:
			r.tick()
		}
	}
}

// do queues f on the writer without waiting.
func (r *repl) do(f func()) {
	select {
	case r.jobs <- f:
	case <-r.ctx.Done():
	}
}

// call runs f on the writer and waits for it.
func (r *repl) call(f func() error) error {
	done := make(chan error, 1)
	select {
	case r.jobs <- func() { done <- f() }:
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

// tick runs the clock: paused and inactive, auto-away, and the expiry of
// the conversee's chat state in the prompt. Offline, the machines are not
// run: what they decide could not go out, and is decided again online.
func (r *repl) tick() {
	now := r.env.Now()
	type out struct {
		peer  session.JID
		state string
	}
	var states []out
	var show string
	expired := false
	r.mu.Lock()
	cur := r.peer
	if r.conn != nil {
		for key, m := range r.states {
			if s := m.Tick(now); s != "" {
				j, _ := session.ParseJID(key)
				states = append(states, out{j, s})
			}
		}
		show = r.away.Tick(now)
	}
	for key, st := range r.status {
		if now.Sub(st.at) >= peerStateTTL {
			delete(r.status, key)
			expired = true
		}
	}
	r.mu.Unlock()
	for _, o := range states {
		// The current conversee as addressed (a forced full JID, an
		// occupant), so the state goes where its next message goes.
		if cur.Domain != "" && r.convKey(cur) == r.convKey(o.peer) {
			o.peer = cur
		}
		r.sendState(o.peer, o.state)
	}
	if show != "" {
		r.sendPresence(show, "")
	}
	if expired {
		r.promptChanged()
	}
}

// sendState sends a standalone chat state to a conversee; if it cannot go
// out (offline) it is not recorded as sent. Runs on the writer.
func (r *repl) sendState(peer session.JID, state string) {
	if m := r.stateMessage(peer, state); m != nil && r.write(m) {
		return
	}
	key := r.convKey(peer)
	r.mu.Lock()
	if m := r.states[key]; m != nil {
		m.Unsent(state)
	}
	r.mu.Unlock()
}

// stateMessage is the standalone chat state for peer, addressed where the
// next message to peer goes (a full JID given by the user, the lock, the
// bare JID), in the thread that message goes in (§5.6: the thread is
// required when the conversation uses one; none when a new one is about
// to start); nil for a MUC occupant (XEP-0085 §5.5, D-12). It does not
// ping a stale lock: a chat state is not worth a round trip.
func (r *repl) stateMessage(peer session.JID, state string) *session.Message {
	if r.occupant(peer) {
		return nil
	}
	if c := r.conversation(r.convKey(peer)); c != nil && c.Occupant {
		return nil
	}
	to := peer.String()
	if p, err := session.NewPlanner(r.senv, session.SendOptions{Account: r.g.account, To: []session.JID{peer},
		Type: "chat", LockIdle: r.g.lockIdle}); err == nil {
		to = p.Preview()[0].To
	}
	thread := r.currentThread(peer)
	r.mu.Lock()
	if r.pending[r.convKey(peer)].fork {
		thread = "" // a child thread starts with the next message
	}
	r.mu.Unlock()
	m := &session.Message{To: to, Type: "chat", ID: session.NewID()}
	if thread != "" {
		m.Thread = &session.Thread{Value: thread}
	}
	m.SetChatState(state)
	return m
}

// write sends one stanza on the current connection; false when offline
// or the write failed (which Listen sees as a lost connection).
func (r *repl) write(v any) bool {
	r.mu.Lock()
	c := r.conn
	r.mu.Unlock()
	return c != nil && c.Send(v) == nil
}

// sendPresence broadcasts presence; show "" is available with the user's
// own show and status (after auto-away). Offline it sends nothing: a new
// session sends the current presence (setSession). Runs on the writer.
func (r *repl) sendPresence(show, status string) {
	r.mu.Lock()
	if show == "" {
		show, status = r.myShow, r.myStatus
	} else if status == "" {
		status = r.myStatus
	}
	r.mu.Unlock()
	prio := r.o.priority
	r.write(&session.Presence{Show: show, Status: status, Priority: &prio})
}

func (r *repl) currentSession() *session.Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sess
}

// conversation reads the persisted conversation with key (a bare JID, or
// an occupant's full JID), or nil.
func (r *repl) conversation(key string) *statefile.Conversation {
	st, err := r.senv.Store.Load()
	if err != nil {
		return nil
	}
	if a := st.Accounts[r.account]; a != nil {
		return a.Conversations[key]
	}
	return nil
}

// userInput notes input from the user: it brings auto-away back.
func (r *repl) userInput() {
	r.mu.Lock()
	back := r.away.Input(r.env.Now())
	r.mu.Unlock()
	if back {
		r.do(func() { r.sendPresence("", "") })
	}
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
	r.userInput()
	if !(len(line) > 0 && line[0] == '/' && !(len(line) > 1 && line[1] == '/')) {
		r.keyed(len(line) == 0)
	}
}

// onInterrupt: Ctrl-C cleared the line.
func (r *repl) onInterrupt() {
	r.userInput()
	r.keyed(true)
}

// keyed feeds a key to the current conversation's chat-state machine and
// sends what it decides to the current conversee as addressed (the full
// JID when the user gave one), where the next message goes. Offline the
// key only counts as use: a state decided now could not go out.
func (r *repl) keyed(empty bool) {
	r.mu.Lock()
	peer := r.peer
	r.mu.Unlock()
	if peer.Domain == "" {
		return
	}
	key := r.convKey(peer)
	now := r.env.Now()
	r.mu.Lock()
	var state string
	if m := r.machine(key); r.conn == nil {
		m.Touch(now)
	} else {
		state = m.Key(now, empty)
	}
	r.mu.Unlock()
	if state != "" {
		r.do(func() { r.sendState(peer, state) })
	}
}

// onEvent is Listen's emit: the stanza is already applied to the state.
func (r *repl) onEvent(ev session.Event) error {
	from, err := session.ParseJID(ev.From)
	bare := session.BareOf(ev.From)
	key := bare
	if err == nil {
		key = r.convKey(from)
	}
	if ev.Kind == session.KindPresence {
		r.mu.Lock()
		if err == nil && from.IsFull() {
			if r.presence[bare] == nil {
				r.presence[bare] = map[string]seenPresence{}
			}
			r.presence[bare][from.Resource] = seenPresence{typ: ev.Type, show: ev.Show, status: ev.Status, at: ev.Time}
		}
		// The resource that was typing has gone: it will not finish.
		if st, ok := r.status[key]; ok && ev.Type == "unavailable" && (st.from == ev.From || !from.IsFull()) {
			delete(r.status, key)
		}
		r.mu.Unlock()
		r.promptChanged()
		return nil
	}
	content := ev.Body != "" || ev.Subject != ""
	if ev.Type == "chat" && ev.Error == "" {
		r.mu.Lock()
		r.machine(key).Received(content, ev.ChatState)
		switch {
		case ev.ChatState != "":
			r.status[key] = peerState{state: ev.ChatState, from: ev.From, at: r.env.Now()}
		case content:
			delete(r.status, key)
		}
		r.mu.Unlock()
	}
	if !content && ev.Type != "error" {
		// A standalone chat state: a transient status in the prompt, never
		// printed or stored as a message (XEP-0085 §5.8, item 41).
		r.promptChanged()
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
	if ev.Delayed {
		b.WriteString(" (delayed)")
	}
	b.WriteString(":")
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
	r.mu.Lock()
	peer := r.peer
	r.mu.Unlock()
	if peer.Domain == "" {
		return "jab> "
	}
	key := r.convKey(peer)
	r.mu.Lock()
	pend, st := r.pending[key], r.status[key]
	r.mu.Unlock()
	status := st.state
	if r.env.Now().Sub(st.at) >= peerStateTTL {
		status = ""
	}
	addr := peer.String()
	c := r.conversation(key)
	if !peer.IsFull() {
		if p, err := session.NewPlanner(r.senv, session.SendOptions{Account: r.g.account, To: []session.JID{peer},
			Type: "chat", LockIdle: r.g.lockIdle}); err == nil {
			addr = p.Preview()[0].To
		}
	}
	cur := ""
	if c != nil {
		cur = c.Thread
	}
	var thread string
	switch {
	case pend.fork && cur != "":
		thread = r.colourThread(cur, "#"+shortThread(cur)) + "+fork"
	case pend.thread != "":
		thread = r.colourThread(pend.thread, "#"+shortThread(pend.thread))
	case pend.newThread || cur == "":
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
