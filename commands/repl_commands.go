package commands

import (
	"errors"
	"fmt"
	"slices"
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

// commands is the table /help prints and completion offers (a method,
// not a package variable, because /help itself is in it).
func (r *repl) commands() []replCmd {
	return []replCmd{
		{"to", "JID", "talk to JID from now on (the old conversation's thread is kept)", (*repl).cmdTo},
		{"thread", "[new|ID]", "show the current thread; 'new' starts one with the next message; ID resumes one", (*repl).cmdThread},
		{"fork", "", "the next message starts a child thread of the current one (XEP-0201 §3.3)", (*repl).cmdFork},
		{"close", "", "end the current thread: the XEP-0155 terminate, and <gone/> in a chat thread; the next message starts a new one", (*repl).cmdClose},
		{"lock", "", "say where the next message goes and why (XEP-0296)", (*repl).cmdLock},
		{"who", "", "presence of the conversee's resources as last seen", (*repl).cmdWho},
		{"status", "[away|xa|dnd|chat|online] [TEXT]", "set (or show) our presence", (*repl).cmdStatus},
		{"reply", "ID TEXT", "answer message ID (from /history) in its thread, to the resource it came from", (*repl).cmdReply},
		{"history", "[N]", "the last N messages with the conversee (default 20), grouped by thread", (*repl).cmdHistory},
		{"join", "ROOM [NICK]", "join the group chat ROOM and talk there (lines go to the room)", (*repl).cmdJoin},
		{"part", "[ROOM]", "leave ROOM (default: the conversee)", (*repl).cmdPart},
		{"rooms", "", "list the rooms joined", (*repl).cmdRooms},
		{"msg", "NICK TEXT", "a private message to NICK in the conversee room", (*repl).cmdMsg},
		{"file", "PATH", "upload the file PATH (XEP-0363) and send its URL to the conversee", (*repl).cmdFile},
		{"help", "[COMMAND]", "list the commands", (*repl).cmdHelp},
		{"quit", "", "leave (sends no <gone/>)", func(*repl, []string, string) error { return errQuit }},
	}
}

// handleLine runs one input line: a command, or a message.
func (r *repl) handleLine(line string) error {
	r.chat.Input()
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
	for _, c := range r.commands() {
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
	for _, c := range r.commands() {
		names = append(names, c.name)
	}
	return append(names, r.appCommands()...)
}

// runSubcommand runs a jab subcommand with a fresh app, so urfave/cli's
// state never carries over and its exits never end the REPL; the global
// flags given to repl are passed on. Run prints its own errors, so a
// failing subcommand is no error of the REPL's.
func (r *repl) runSubcommand(text string) error {
	words, err := splitWords(text)
	if err != nil {
		return usagef("", "%w", err)
	}
	sub := &Env{Stdin: strings.NewReader(""), Stdout: r.out, Stderr: r.errw, StdoutTTY: r.term != nil,
		Getenv: r.env.Getenv, Now: r.env.Now, Host: r.env.Host}
	Run(r.ctx, sub, append(append([]string{"jab"}, r.globals...), words...))
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
	peer := r.chat.Peer()
	if peer.Domain == "" {
		return peer, chatError(session.ErrNoConversee)
	}
	return peer, nil
}

// chatError gives the errors of session.Chat their hints.
func chatError(err error) error {
	var tl *session.StanzaTooLargeError
	switch {
	case errors.Is(err, session.ErrNoConversee):
		return usagef("choose one with /to JID", "no conversee")
	case errors.As(err, &tl):
		return usagef("shorten or split the line", "message not sent: %w", err)
	}
	return err
}

// say sends a chat message to the current conversee.
func (r *repl) say(body string) error {
	err := chatError(r.chat.Say(r.ctx, body))
	var tl *session.StanzaTooLargeError
	if r.term != nil && errors.As(err, &tl) {
		return usagef("the line is kept in the history (Up arrow) to shorten or split", "message not sent: %w", tl)
	}
	return err
}

func (r *repl) cmdTo(args []string, _ string) error {
	if len(args) != 1 {
		return usagef("/to JID", "/to takes one JID")
	}
	j, err := parseConversee(args[0])
	if err != nil {
		return err
	}
	r.chat.To(j)
	if c := r.chat.Conversation(r.chat.Key(j)); c != nil && c.Thread != "" {
		r.info("talking to %s, thread %s", sanitize(j.String()), sanitize(c.Thread))
	} else {
		r.info("talking to %s, a new thread starts with the next message", sanitize(j.String()))
	}
	return nil
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
		id, pend := r.chat.CurrentThread(peer), r.chat.Pending(peer)
		if id == "" {
			r.info("no current thread: the next message starts a new one")
			return nil
		}
		a, err := r.chat.Account()
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
		if pend.Fork {
			line += "; the next message forks a child thread"
		}
		r.info("%s", line)
		return nil
	}
	if args[0] == "new" {
		if err := r.chat.NewThread(); err != nil {
			return chatError(err)
		}
		r.info("the next message starts a new thread")
		return nil
	}
	a, err := r.chat.Account()
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
	j, switched, err := r.chat.Resume(t)
	if err != nil {
		return err
	}
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
	cur, err := r.chat.Fork()
	if errors.Is(err, session.ErrNoThread) {
		return usagef("send a message first, or /thread ID", "no current thread to fork")
	}
	if err != nil {
		return chatError(err)
	}
	r.info("the next message starts a child thread of %s", sanitize(cur))
	return nil
}

func (r *repl) cmdClose(args []string, _ string) error {
	if len(args) > 0 {
		return usagef("/close", "/close takes no arguments (it ends the current thread)")
	}
	res, err := r.chat.Close(r.ctx)
	switch {
	case errors.Is(err, session.ErrNoThread):
		return usagef("", "no current thread to close")
	case err != nil:
		return chatError(err)
	case res.Already:
		r.info("thread %s was already closed", sanitize(res.Thread))
		return nil
	}
	what := "terminate"
	if res.Gone {
		what = "<gone/> and terminate"
	}
	r.info("closed thread %s (%s sent to %s); the next message starts a new thread", sanitize(res.Thread), what, sanitize(res.To))
	return nil
}

func (r *repl) cmdLock(args []string, _ string) error {
	peer, err := r.needPeer()
	if err != nil {
		return err
	}
	now := r.env.Now()
	c := r.chat.Conversation(r.chat.Key(peer))
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
		why := session.UnlockWhy[c.UnlockReason]
		if why == "" {
			why = sanitize(c.UnlockReason)
		}
		r.info("unlocked since %s: %s; messages go to %s", ts(c.UnlockedAt), why, sanitize(c.Peer))
	default:
		last := session.LastActive(*c)
		kind := "a chat message from it (XEP-0296 §2.2)"
		if c.LockKind == statefile.LockForced {
			kind = "you addressed it (forced)"
		}
		if idle := r.g.lockIdle; session.Idle(*c, now, idle) {
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
	seen := r.chat.Seen(peer.Bare())
	if len(seen) == 0 {
		r.info("no presence seen from %s since the REPL started", sanitize(peer.Bare()))
	}
	for _, p := range seen {
		state := p.Type
		if state == "" {
			state = "available"
			if p.Show != "" {
				state += " (" + sanitize(p.Show) + ")"
			}
		}
		line := fmt.Sprintf("%s/%s: %s", sanitize(peer.Bare()), sanitize(p.Resource), sanitize(state))
		if p.Status != "" {
			line += " " + strconv.Quote(p.Status)
		}
		r.info("%s at %s", line, p.At.Local().Format("15:04:05"))
	}
	return nil
}

func (r *repl) cmdStatus(args []string, rest string) error {
	show, status, auto := r.chat.Status()
	if len(args) == 0 {
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
	status = rest
	switch args[0] {
	case "away", "xa", "dnd", "chat":
		show = args[0]
		status = strings.TrimLeft(strings.TrimPrefix(rest, args[0]), " ")
	case "online", "available":
		show = ""
		status = strings.TrimLeft(strings.TrimPrefix(rest, args[0]), " ")
	}
	return chatError(r.chat.SetStatus(show, status))
}

func (r *repl) cmdReply(args []string, rest string) error {
	if len(args) < 2 {
		return usagef("/reply ID TEXT", "/reply takes a message id and the text")
	}
	body := strings.TrimLeft(strings.TrimPrefix(rest, args[0]), " ")
	// The id as listed by /history: a unique prefix will do.
	rec, err := session.FindMessage(r.chat.Env(), r.account, args[0], true, nil)
	if err == nil {
		err = session.Answerable(rec)
	}
	var oe *session.OriginalError
	if errors.As(err, &oe) {
		switch oe.Problem {
		case "no-history":
			return usagef("", "/reply needs the history, which is off")
		case "ambiguous":
			return usagef("give more of the id", "message id prefix %q is ambiguous", args[0])
		case "unknown":
			return usagef(closestHint(oe.Known, args[0]), "no message with id %q in the history", args[0])
		case "type":
			return usagef("", "message %s is a %s, which is not answered", sanitize(args[0]), sanitize(oe.Type))
		}
	}
	if err != nil {
		return err
	}
	return chatError(r.chat.Reply(r.ctx, rec, body))
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
	if r.chat.Env().History == nil {
		return usagef("", "the history is off (--no-history)")
	}
	peer := r.chat.Peer()
	a, _ := r.chat.Account()
	v, err := session.ScanThreads(r.chat.Env().History, r.account, a, n, func(_ string, rec *statefile.Record) bool {
		return (peer.Domain == "" || session.BareOf(rec.Peer) == peer.Bare()) &&
			(rec.Body != "" || rec.Subject != "" || rec.Error != "")
	})
	if err != nil {
		return err
	}
	// Grouped by thread, threads in the order of their latest message.
	groups := v.Recent(n)
	if len(groups) == 0 {
		r.info("no messages in the history")
		return nil
	}
	for _, g := range groups {
		th := g.ID
		head := "(no thread)"
		if th != "" {
			head = "#" + shortThread(th)
			if r.term != nil {
				head = r.colourThread(th, head)
			}
			// As the thread index has it (a pruned thread shows none).
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
		for _, rec := range g.Records {
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
		for _, c := range r.commands() {
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
	for _, c := range r.commands() {
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
			return r.chat.Known()
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
	case "msg":
		if len(before) == 0 {
			return r.roomNicks()
		}
	case "part":
		if len(before) == 0 {
			return r.roomNames()
		}
	case "join":
		if len(before) == 0 {
			a, _ := r.chat.Account()
			var accounts []*statefile.Account
			if a != nil {
				accounts = append(accounts, a)
			}
			configured, known := knownRooms(r.g.settings, accounts...)
			return append(configured, known...)
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
			return append(r.threadIDs(false), r.chat.Known()...)
		}
	}
	return nil
}

// threadIDs are the thread ids of the state (open only, if open).
func (r *repl) threadIDs(open bool) []string {
	a, err := r.chat.Account()
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
	if r.chat.Env().History == nil {
		return nil
	}
	peer := r.chat.Peer()
	var out []string
	r.chat.Env().History.Scan(func(rec statefile.Record) error {
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
