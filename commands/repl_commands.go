package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// replCmd is one slash command of the REPL.
type replCmd struct {
	name, args, help string
	run              func(r *repl, args []string, rest string) error
}

// replCommands is the table /help prints and completion offers.
var replCommands []replCmd

func init() {
	replCommands = []replCmd{
		{"to", "JID", "talk to JID from now on (the old conversation's thread is kept)", (*repl).cmdTo},
		{"thread", "[new|ID]", "show the current thread; 'new' starts one with the next message; ID resumes one", (*repl).cmdThread},
		{"fork", "", "the next message starts a child thread of the current one (XEP-0201 §3.3)", (*repl).cmdFork},
		{"close", "", "end the current thread: the XEP-0155 terminate, and <gone/> in a chat thread; the next message starts a new one", (*repl).cmdClose},
		{"lock", "", "say where the next message goes and why (XEP-0296)", (*repl).cmdLock},
		{"who", "", "presence of the conversee's resources as last seen", (*repl).cmdWho},
		{"status", "[away|xa|dnd|chat|online] [TEXT]", "set (or show) our presence", (*repl).cmdStatus},
		{"reply", "ID TEXT", "answer message ID (from /history) in its thread, to the resource it came from", (*repl).cmdReply},
		{"history", "[N]", "the last N messages with the conversee (default 20), grouped by thread", (*repl).cmdHistory},
		{"help", "[COMMAND]", "list the commands", (*repl).cmdHelp},
		{"quit", "", "leave (sends no <gone/>)", func(*repl, []string, string) error { return errQuit }},
	}
}

// handleLine runs one input line: a command, or a message.
func (r *repl) handleLine(line string) error {
	r.userInput()
	if strings.TrimSpace(line) == "" {
		return nil
	}
	if strings.HasPrefix(line, "//") {
		return r.say(line[1:])
	}
	if strings.HasPrefix(line, "/") {
		return r.command(line[1:])
	}
	return r.say(line)
}

// command runs "/name args…": a REPL command, else a jab subcommand.
func (r *repl) command(text string) error {
	name, rest, _ := strings.Cut(strings.TrimLeft(text, " "), " ")
	rest = strings.TrimLeft(rest, " ")
	for _, c := range replCommands {
		if c.name == name {
			return c.run(r, strings.Fields(rest), rest)
		}
	}
	if slices.Contains(r.appCommands(), name) {
		return r.runSubcommand(text)
	}
	hint := "/help lists the commands"
	if m := closestName(r.commandNames(), name); m != "" {
		hint = fmt.Sprintf("did you mean /%s?", m)
	}
	return usagef(hint, "unknown command /%s; nothing was sent", sanitize(name))
}

// appCommands are the jab subcommands that can run from the prompt.
func (r *repl) appCommands() []string {
	var names []string
	for _, c := range newApp(r.env).Commands {
		switch c.Name {
		case "repl", "listen", "help":
			// Another observer on our resource, or a second REPL.
		default:
			if !c.Hidden {
				names = append(names, c.Name)
			}
		}
	}
	return names
}

func (r *repl) commandNames() []string {
	var names []string
	for _, c := range replCommands {
		names = append(names, c.name)
	}
	return append(names, r.appCommands()...)
}

// runSubcommand runs a jab subcommand with a fresh app, so urfave/cli's
// state never carries over and its exits never end the REPL; the global
// flags given to repl are passed on.
func (r *repl) runSubcommand(text string) error {
	words, err := splitWords(text)
	if err != nil {
		return usagef("", "%v", err)
	}
	sub := &Env{Stdin: strings.NewReader(""), Stdout: r.out, Stderr: r.errw, StdoutTTY: r.term != nil,
		Getenv: r.env.Getenv, Now: r.env.Now, Host: r.env.Host}
	args := append(append([]string{"jab"}, r.globals...), words...)
	if code := Run(r.ctx, sub, args); code != 0 {
		// Run printed the error; the REPL goes on.
		return nil
	}
	return nil
}

// splitWords splits a line like a shell would for plain words: spaces
// separate, single and double quotes group, a backslash escapes.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, c := range s {
		switch {
		case escaped:
			cur.WriteRune(c)
			escaped = false
		case c == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// needPeer returns the current conversee or a usage error.
func (r *repl) needPeer() (session.JID, error) {
	r.mu.Lock()
	peer := r.peer
	r.mu.Unlock()
	if peer.Domain == "" {
		return peer, usagef("choose one with /to JID", "no conversee")
	}
	return peer, nil
}

// say sends a chat message to the current conversee.
func (r *repl) say(body string) error {
	peer, err := r.needPeer()
	if err != nil {
		return err
	}
	return r.send(peer, body, nil, "")
}

// send sends one chat (or, for a reply, the original's type) message
// along the conversation's route with session.SendOne, on the writer.
func (r *repl) send(peer session.JID, body string, original *statefile.Record, inReplyTo string) error {
	s, err := r.session()
	if err != nil {
		return err
	}
	key := r.convKey(peer)
	return r.call(func() error {
		now := r.env.Now()
		r.mu.Lock()
		pend := r.pending[key]
		m := r.machine(key)
		saved := *m
		r.mu.Unlock()
		o := session.SendOptions{Account: r.g.account, To: []session.JID{peer}, Type: "chat", LockIdle: r.g.lockIdle,
			NewThread: pend.newThread, Thread: pend.thread, Fork: pend.fork}
		if original != nil {
			o = session.SendOptions{Account: r.g.account, To: []session.JID{peer}, Type: original.Type,
				LockIdle: r.g.lockIdle, ReplyTo: original}
		}
		out := session.Outgoing{Body: body, InReplyTo: inReplyTo}
		if o.Type == "chat" {
			r.mu.Lock()
			out.ChatState = m.Message(now)
			r.mu.Unlock()
		}
		_, err := session.SendOne(r.ctx, r.senv, s, o, out)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			*m = saved
			var tl *session.StanzaTooLargeError
			if errors.As(err, &tl) {
				hint := "shorten or split the line"
				if r.term != nil {
					hint = "the line is kept in the history (Up arrow) to shorten or split"
				}
				return usagef(hint, "message not sent: %v", err)
			}
			return err
		}
		r.sentTo(peer, key, original != nil)
		return nil
	})
}

// sentTo updates the conversee after a message to peer went out; r.mu must
// be held. A message ends the pending thread change (a reply, which goes
// in the original's thread, leaves it). A full JID the user gave is a
// forced lock (D-2), in the state now: later messages follow the lock
// rules from the bare JID. A MUC occupant is no resource of the room:
// its messages always go to its full JID, never to the room (D-12).
func (r *repl) sentTo(peer session.JID, key string, reply bool) {
	if reply {
		return
	}
	delete(r.pending, key)
	if peer.IsFull() && r.peer == peer && !r.occupant(peer) {
		r.peer, _ = session.ParseJID(peer.Bare())
	}
}

func (r *repl) cmdTo(args []string, _ string) error {
	if len(args) != 1 {
		return usagef("/to JID", "/to takes one JID")
	}
	j, err := parseConversee(args[0])
	if err != nil {
		return err
	}
	key := r.convKey(j)
	r.mu.Lock()
	r.peer = j
	r.machine(key).Touch(r.env.Now())
	r.mu.Unlock()
	c := r.conversation(key)
	if c != nil && c.Thread != "" {
		r.info("talking to %s, thread %s", sanitize(j.String()), sanitize(c.Thread))
	} else {
		r.info("talking to %s, a new thread starts with the next message", sanitize(j.String()))
	}
	return nil
}

// currentThread is the thread the next message goes in: a pending one,
// or the conversation's ("" when a new one starts).
func (r *repl) currentThread(peer session.JID) string {
	key := r.convKey(peer)
	r.mu.Lock()
	pend := r.pending[key]
	r.mu.Unlock()
	if pend.thread != "" {
		return pend.thread
	}
	if pend.newThread {
		return ""
	}
	if c := r.conversation(key); c != nil {
		return c.Thread
	}
	return ""
}

func (r *repl) loadAccount() (*statefile.Account, error) {
	st, err := r.senv.Store.Load()
	if err != nil {
		return nil, err
	}
	return st.Accounts[r.account], nil
}

func (r *repl) cmdThread(args []string, _ string) error {
	if len(args) > 1 {
		return usagef("/thread, /thread new or /thread ID", "/thread takes at most one argument")
	}
	if len(args) == 0 {
		peer, err := r.needPeer()
		if err != nil {
			return err
		}
		id := r.currentThread(peer)
		key := r.convKey(peer)
		r.mu.Lock()
		pend := r.pending[key]
		r.mu.Unlock()
		if id == "" {
			r.info("no current thread: the next message starts a new one")
			return nil
		}
		a, err := r.loadAccount()
		if err != nil {
			return err
		}
		line := "thread " + sanitize(id)
		if a != nil && a.Threads[id] != nil {
			t := a.Threads[id]
			if t.Parent != "" {
				line += " (child of " + shortThread(t.Parent) + ")"
			}
			line += fmt.Sprintf(", %d messages", t.Count)
			if t.Subject != "" {
				line += ": " + sanitize(t.Subject)
			}
		}
		if pend.fork {
			line += "; the next message forks a child thread"
		}
		r.info("%s", line)
		return nil
	}
	if args[0] == "new" {
		peer, err := r.needPeer()
		if err != nil {
			return err
		}
		key := r.convKey(peer)
		r.mu.Lock()
		r.pending[key] = pendingThread{newThread: true}
		r.mu.Unlock()
		r.info("the next message starts a new thread")
		return nil
	}
	a, err := r.loadAccount()
	if err != nil {
		return err
	}
	t, err := lookupThread(a, args[0])
	if err != nil {
		return err
	}
	if t.Closed {
		return usagef("/thread new starts another", "thread %s is closed", sanitize(t.ID))
	}
	j, err := session.ParseJID(t.Peer)
	if err != nil {
		return err
	}
	if !r.occupant(j) {
		j, _ = session.ParseJID(j.Bare())
	}
	key := r.convKey(j)
	r.mu.Lock()
	cur := r.peer
	r.mu.Unlock()
	switched := cur.Domain == "" || r.convKey(cur) != key
	r.mu.Lock()
	if switched {
		r.peer = j
	}
	r.pending[key] = pendingThread{thread: t.ID}
	r.mu.Unlock()
	if switched {
		r.info("talking to %s, resuming thread %s", sanitize(j.String()), sanitize(t.ID))
	} else {
		r.info("resuming thread %s", sanitize(t.ID))
	}
	return nil
}

func (r *repl) cmdFork(args []string, _ string) error {
	if len(args) > 0 {
		return usagef("/fork", "/fork takes no arguments")
	}
	peer, err := r.needPeer()
	if err != nil {
		return err
	}
	cur := r.currentThread(peer)
	if cur == "" {
		return usagef("send a message first, or /thread ID", "no current thread to fork")
	}
	key := r.convKey(peer)
	r.mu.Lock()
	r.pending[key] = pendingThread{thread: cur, fork: true}
	r.mu.Unlock()
	r.info("the next message starts a child thread of %s", sanitize(cur))
	return nil
}

func (r *repl) cmdClose(args []string, _ string) error {
	if len(args) > 0 {
		return usagef("/close", "/close takes no arguments (it ends the current thread)")
	}
	peer, err := r.needPeer()
	if err != nil {
		return err
	}
	id := r.currentThread(peer)
	if id == "" {
		return usagef("", "no current thread to close")
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	key := r.convKey(peer)
	// XEP-0085 is about chat: CloseThreadGone sends <gone/> only in a chat
	// thread, and only then may the machine record it.
	chat := false
	if a, err := r.loadAccount(); err == nil && a != nil && a.Threads[id] != nil {
		chat = a.Threads[id].Type == "chat"
	}
	return r.call(func() error {
		r.mu.Lock()
		m := r.machine(key)
		saved := *m
		gone := false
		if chat {
			gone = m.Close(r.env.Now()) != ""
		} else {
			m.Touch(r.env.Now())
		}
		r.mu.Unlock()
		// D-6: <gone/> only here, on an explicit close.
		to, err := session.CloseThreadGone(r.ctx, s, r.senv, r.account, id, session.NewBounces(), gone)
		// Printing takes the terminal's lock: never with r.mu held.
		r.mu.Lock()
		if err != nil {
			*m = saved
		}
		if err == nil || errors.Is(err, session.ErrAlreadyClosed) {
			delete(r.pending, key)
			delete(r.status, key) // the peer's last state was about the closed thread
		}
		r.mu.Unlock()
		if errors.Is(err, session.ErrAlreadyClosed) {
			r.info("thread %s was already closed", sanitize(id))
			return nil
		}
		if err != nil {
			return err
		}
		what := "terminate"
		if gone {
			what = "<gone/> and terminate"
		}
		r.info("closed thread %s (%s sent to %s); the next message starts a new thread", sanitize(id), what, sanitize(to))
		return nil
	})
}

// unlockWhy explains an unlock reason of statefile.Conversation.
var unlockWhy = map[string]string{
	session.UnlockPresence:  "a presence from the contact (XEP-0296 §2.3)",
	session.UnlockGone:      "the contact sent <gone/> (XEP-0296 §2.4)",
	session.UnlockError:     "an error from the locked resource",
	session.UnlockIdle:      "the conversation was idle longer than --lock-idle (XEP-0296 §3.2)",
	session.UnlockResource:  "a non-chat message from another resource",
	session.UnlockBare:      "a chat message from the bare JID",
	session.UnlockCheck:     "the locked resource did not answer a ping",
	session.UnlockTerminate: "the thread was ended (XEP-0155 terminate)",
}

func (r *repl) cmdLock(args []string, _ string) error {
	peer, err := r.needPeer()
	if err != nil {
		return err
	}
	now := r.env.Now()
	c := r.conversation(r.convKey(peer))
	ts := func(t time.Time) string { return t.Local().Format("15:04:05") }
	switch {
	case c != nil && c.Occupant:
		r.info("%s is a room occupant: messages go to it, never to the room (XEP-0045 §7.5)", sanitize(c.Peer))
	case peer.IsFull():
		r.info("the next message goes to %s as you asked, and locks there (forced)", sanitize(peer.String()))
	case c == nil || (c.LockedTo == "" && c.UnlockReason == ""):
		r.info("unlocked: %s has not written from a resource yet, so messages go to the bare JID (XEP-0296 §2.1)",
			sanitize(peer.Bare()))
	case c.LockedTo == "":
		why := unlockWhy[c.UnlockReason]
		if why == "" {
			why = sanitize(c.UnlockReason)
		}
		r.info("unlocked since %s: %s; messages go to %s", ts(c.UnlockedAt), why, sanitize(c.Peer))
	default:
		last := c.LastActivity
		if c.LockedAt.After(last) {
			last = c.LockedAt
		}
		kind := "a chat message from it (XEP-0296 §2.2)"
		if c.LockKind == statefile.LockForced {
			kind = "you addressed it (forced)"
		}
		if idle := r.g.lockIdle; idle > 0 && now.Sub(last) >= idle {
			r.info("was locked to %s (since %s, by %s), but idle since %s, longer than --lock-idle %s: the next message goes to %s (XEP-0296 §3.2)",
				sanitize(c.LockedTo), ts(c.LockedAt), kind, ts(last), idle, sanitize(c.Peer))
			return nil
		}
		line := fmt.Sprintf("locked to %s since %s, by %s; last activity %s", sanitize(c.LockedTo), ts(c.LockedAt), kind, ts(last))
		if idle := r.g.lockIdle; idle > 0 {
			line += fmt.Sprintf("; unlocks if idle until %s (--lock-idle %s)", ts(last.Add(idle)), idle)
		}
		r.info("%s", line)
	}
	return nil
}

func (r *repl) cmdWho(args []string, _ string) error {
	peer, err := r.needPeer()
	if err != nil {
		return err
	}
	r.mu.Lock()
	seen := r.presence[peer.Bare()]
	var res []string
	for k := range seen {
		res = append(res, k)
	}
	sort.Strings(res)
	lines := make([]string, 0, len(res))
	for _, k := range res {
		p := seen[k]
		state := p.typ
		if state == "" {
			state = "available"
			if p.show != "" {
				state += " (" + sanitize(p.show) + ")"
			}
		}
		line := fmt.Sprintf("%s/%s: %s", sanitize(peer.Bare()), sanitize(k), sanitize(state))
		if p.status != "" {
			line += " " + strconv.Quote(p.status)
		}
		lines = append(lines, line+" at "+p.at.Local().Format("15:04:05"))
	}
	r.mu.Unlock()
	if len(lines) == 0 {
		r.info("no presence seen from %s since the REPL started", sanitize(peer.Bare()))
	}
	for _, l := range lines {
		r.info("%s", l)
	}
	return nil
}

func (r *repl) cmdStatus(args []string, rest string) error {
	if len(args) == 0 {
		r.mu.Lock()
		show, status, auto := r.myShow, r.myStatus, r.away.Show()
		r.mu.Unlock()
		if show == "" {
			show = "online"
		}
		line := "status: " + show
		if status != "" {
			line += " " + strconv.Quote(status)
		}
		if auto != "" {
			line += " (now " + auto + " after no input)"
		}
		r.info("%s", line)
		return nil
	}
	r.mu.Lock()
	show, status := r.myShow, rest
	r.mu.Unlock()
	switch args[0] {
	case "away", "xa", "dnd", "chat":
		show = args[0]
		status = strings.TrimLeft(strings.TrimPrefix(rest, args[0]), " ")
	case "online", "available":
		show = ""
		status = strings.TrimLeft(strings.TrimPrefix(rest, args[0]), " ")
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.myShow, r.myStatus = show, status
	r.mu.Unlock()
	return r.call(func() error {
		prio := r.o.priority
		return s.Conn().Send(&session.Presence{Show: show, Status: status, Priority: &prio})
	})
}

// findRecord looks a message up in the history by id or origin-id, or a
// unique prefix of at least 4 characters.
func (r *repl) findRecord(id string) (*statefile.Record, error) {
	if r.senv.History == nil {
		return nil, usagef("", "/reply needs the history, which is off")
	}
	var exact, prefixed []statefile.Record
	var ids []string
	_, err := r.senv.History.Scan(func(rec statefile.Record) error {
		if rec.Account != r.account {
			return nil
		}
		switch {
		case rec.ID == id || rec.OriginID == id:
			exact = append(exact, rec)
		case len(id) >= 4 && (strings.HasPrefix(rec.ID, id) || strings.HasPrefix(rec.OriginID, id)):
			prefixed = append(prefixed, rec)
		}
		if rec.ID != "" {
			ids = append(ids, rec.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case len(exact) > 0:
		return &exact[len(exact)-1], nil
	case len(prefixed) == 1:
		return &prefixed[0], nil
	case len(prefixed) > 1:
		return nil, usagef("give more of the id", "message id prefix %q is ambiguous", id)
	}
	return nil, usagef(closestHint(ids, id), "no message with id %q in the history", id)
}

func (r *repl) cmdReply(args []string, rest string) error {
	if len(args) < 2 {
		return usagef("/reply ID TEXT", "/reply takes a message id and the text")
	}
	body := strings.TrimLeft(strings.TrimPrefix(rest, args[0]), " ")
	rec, err := r.findRecord(args[0])
	if err != nil {
		return err
	}
	switch rec.Type {
	case "chat", "normal":
	default:
		return usagef("", "message %s is a %s, which is not answered", sanitize(args[0]), sanitize(rec.Type))
	}
	j, err := session.ParseJID(session.BareOf(rec.Peer))
	if err != nil {
		return err
	}
	inReplyTo := rec.ID
	if inReplyTo == "" {
		inReplyTo = rec.OriginID
	}
	return r.send(j, body, rec, inReplyTo)
}

func (r *repl) cmdHistory(args []string, _ string) error {
	n := 20
	if len(args) > 1 {
		return usagef("/history [N]", "/history takes at most one number")
	}
	if len(args) == 1 {
		v, err := strconv.Atoi(args[0])
		if err != nil || v < 1 {
			return usagef("/history [N]", "N must be a positive number, not %q", sanitize(args[0]))
		}
		n = v
	}
	if r.senv.History == nil {
		return usagef("", "the history is off (--no-history)")
	}
	r.mu.Lock()
	peer := r.peer
	r.mu.Unlock()
	var recs []statefile.Record
	_, err := r.senv.History.Scan(func(rec statefile.Record) error {
		if rec.Account != r.account || (peer.Domain != "" && session.BareOf(rec.Peer) != peer.Bare()) {
			return nil
		}
		if rec.Body == "" && rec.Subject == "" && rec.Error == "" {
			return nil
		}
		recs = append(recs, rec)
		if len(recs) > n {
			recs = recs[1:]
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		r.info("no messages in the history")
		return nil
	}
	a, _ := r.loadAccount()
	// Grouped by thread, threads in the order of their latest message.
	order := []string{}
	groups := map[string][]statefile.Record{}
	for _, rec := range recs {
		if _, ok := groups[rec.Thread]; ok {
			order = slices.DeleteFunc(order, func(t string) bool { return t == rec.Thread })
		}
		order = append(order, rec.Thread)
		groups[rec.Thread] = append(groups[rec.Thread], rec)
	}
	for _, th := range order {
		head := "(no thread)"
		if th != "" {
			head = "#" + shortThread(th)
			if r.term != nil {
				head = r.colourThread(th, head)
			}
			if a != nil && a.Threads[th] != nil {
				t := a.Threads[th]
				if t.Subject != "" {
					head += " " + sanitize(t.Subject)
				}
				if t.Closed {
					head += " (closed)"
				}
			}
		}
		r.info("%s", head)
		for _, rec := range groups[th] {
			dir := "<-"
			if rec.Dir == statefile.DirOut {
				dir = "->"
			}
			id := rec.ID
			if id == "" {
				id = rec.OriginID
			}
			line := fmt.Sprintf("  %s %s %s %s:", rec.Time.Local().Format("01-02 15:04:05"), dir, sanitize(rec.Peer), sanitize(shortID(dashIfEmpty(id))))
			if rec.Error != "" {
				line += " error=" + sanitize(rec.Error)
			}
			if rec.Subject != "" {
				line += " [subject: " + sanitize(rec.Subject) + "]"
			}
			if rec.Body != "" {
				line += " " + sanitize(rec.Body)
			}
			r.info("%s", line)
		}
	}
	return nil
}

func (r *repl) cmdHelp(args []string, _ string) error {
	if len(args) > 0 {
		name := strings.TrimPrefix(args[0], "/")
		for _, c := range replCommands {
			if c.name == name {
				r.info("/%s %s\n    %s", c.name, c.args, c.help)
				return nil
			}
		}
		if slices.Contains(r.appCommands(), name) {
			return r.runSubcommand(name + " --help")
		}
		hint := ""
		if m := closestName(r.commandNames(), name); m != "" {
			hint = fmt.Sprintf("did you mean /%s?", m)
		}
		return usagef(hint, "unknown command /%s", sanitize(name))
	}
	var b strings.Builder
	b.WriteString("A line is a message to the conversee (start it with // to send a leading /). Commands:\n")
	for _, c := range replCommands {
		fmt.Fprintf(&b, "  /%-28s %s\n", strings.TrimSpace(c.name+" "+c.args), c.help)
	}
	fmt.Fprintf(&b, "Any jab command runs too: /%s (e.g. /threads list).\n", strings.Join(r.appCommands(), ", /"))
	b.WriteString("Tab completes; Ctrl-R searches the history; Ctrl-C clears the line; Ctrl-D quits.")
	r.info("%s", b.String())
	return nil
}

// completeArg offers the arguments of a command after the words given.
func (r *repl) completeArg(cmd string, before []string) []string {
	switch cmd {
	case "to":
		if len(before) == 0 {
			return r.knownJIDs()
		}
	case "thread":
		if len(before) == 0 {
			return append([]string{"new"}, r.threadIDs(true)...)
		}
	case "reply":
		if len(before) == 0 {
			return r.messageIDs()
		}
	case "status":
		if len(before) == 0 {
			return []string{"away", "xa", "dnd", "chat", "online"}
		}
	case "help":
		if len(before) == 0 {
			return r.commandNames()
		}
	default:
		for _, c := range newApp(r.env).Commands {
			if c.Name != cmd {
				continue
			}
			if len(before) == 0 {
				var out []string
				for _, s := range c.Subcommands {
					out = append(out, s.Name)
				}
				if len(out) > 0 {
					return out
				}
			}
			// Thread ids and JIDs are the common arguments of jab commands.
			return append(r.threadIDs(false), r.knownJIDs()...)
		}
	}
	return nil
}

// knownJIDs are the JIDs completion offers: roster, state and presence.
func (r *repl) knownJIDs() []string {
	set := map[string]bool{}
	r.mu.Lock()
	for _, j := range r.roster {
		set[j] = true
	}
	for bare, res := range r.presence {
		set[bare] = true
		for k := range res {
			set[bare+"/"+k] = true
		}
	}
	r.mu.Unlock()
	if a, err := r.loadAccount(); err == nil && a != nil {
		for k, c := range a.Conversations {
			set[k] = true
			if c.LockedTo != "" {
				set[c.LockedTo] = true
			}
		}
	}
	delete(set, r.account)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	return out
}

// threadIDs are the thread ids of the state (open only, if open).
func (r *repl) threadIDs(open bool) []string {
	a, err := r.loadAccount()
	if err != nil || a == nil {
		return nil
	}
	var out []string
	for id, t := range a.Threads {
		if !open || !t.Closed {
			out = append(out, id)
		}
	}
	return out
}

// messageIDs are the ids of the last messages with the conversee.
func (r *repl) messageIDs() []string {
	if r.senv.History == nil {
		return nil
	}
	r.mu.Lock()
	peer := r.peer
	r.mu.Unlock()
	var out []string
	r.senv.History.Scan(func(rec statefile.Record) error {
		if rec.Account == r.account && rec.ID != "" && (rec.Type == "chat" || rec.Type == "normal") &&
			(peer.Domain == "" || session.BareOf(rec.Peer) == peer.Bare()) {
			out = append(out, rec.ID)
			if len(out) > 50 {
				out = out[1:]
			}
		}
		return nil
	})
	return out
}

// fetchRoster asks the server for the roster (RFC 6121 §2.2) for
// completion, and refreshes the roster cache that shell completion reads.
// It is advisory: a failure leaves the cached roster in use.
func (r *repl) fetchRoster() {
	var jids []string
	if c := r.senv.Store.ReadRoster(r.account); c != nil {
		for _, it := range c.Items {
			jids = append(jids, it.JID)
		}
	}
	if s := r.currentSession(); s != nil {
		ctx, cancel := context.WithTimeout(r.ctx, r.g.timeout)
		defer cancel()
		if items, err := session.FetchRoster(ctx, s); err == nil {
			r.senv.Store.WriteRoster(statefile.Roster{Account: r.account, Fetched: r.env.Now().UTC(), Items: items})
			jids = jids[:0]
			for _, it := range items {
				jids = append(jids, it.JID)
			}
		}
	}
	r.mu.Lock()
	r.roster = jids
	r.mu.Unlock()
}
