package commands

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/commands/internal/settings"
	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

type sendOptions struct {
	to        []session.JID
	text      string // the message, when not --lines
	typ       string
	thread    string
	newThread bool
	subject   string
	lines     bool
	json      bool
	fork      bool
	replyTo   string                // --reply-to ID
	recipFile string                // --recipients-file FILE
	inReplyTo string                // the In-Reply-To header value
	original  *statefile.Record     // the message answered
	receipt   bool                  // --receipt: ask for XEP-0184 receipts and wait for them
	waitReply time.Duration         // --wait-reply: wait this long for a reply (0: do not wait)
	encrypt   bool                  // end to end (OpenPGP, cmd_keys.go): --encrypt or the config
	files     []*session.UploadFile // --file: uploaded, then sent as one message each (cmd_send_file.go)
}

// waitFlag is --wait-reply [DURATION]: given alone it waits as long as
// --timeout. It tells the flag package it is boolean, so "--wait-reply"
// needs no value; a duration written as the next word ("--wait-reply 10m
// JID") is taken from the arguments by parseSend.
type waitFlag struct {
	set      bool
	d        time.Duration
	explicit bool // --wait-reply=DURATION
}

func (w *waitFlag) Set(v string) error {
	switch v {
	case "true":
		w.set = true
		return nil
	case "false":
		*w = waitFlag{}
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive duration such as 10m", v)
	}
	w.set, w.d, w.explicit = true, d, true
	return nil
}

func (w *waitFlag) String() string {
	if w == nil || !w.explicit {
		return ""
	}
	return w.d.String()
}

func (w *waitFlag) IsBoolFlag() bool { return true }

func sendCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "send",
		Usage:     "send a message to one or more JIDs, addressed by their persisted lock (XEP-0296) and thread (XEP-0201)",
		ArgsUsage: "[JID...] [--] [TEXT...]",
		Description: `The message is TEXT joined by spaces or, without TEXT, all of stdin (one
trailing newline dropped). Recipients are the leading arguments that look like
JIDs (contain '@'); '--' ends them explicitly. Flags go before the JIDs.

--recipients-file adds the JIDs listed in FILE (one a line; blank lines and
lines starting with '#' ignored) after those on the command line; duplicates
are dropped. The whole file is checked before connecting: a malformed line
sends nothing. With it the command-line JIDs are optional.

An unlocked conversation goes to the bare JID; a locked one to the locked full
JID, trusted while 'jab listen' runs for the account, otherwise checked with a
ping first. A JID given with a resource is used as given.

--wait-reply [DURATION] then waits for the first reply in that conversation
(in the thread sent, or a chat without a thread from the contact) and prints
its body on stdout (made safe only when stdout is a terminal), or its JSON
record with --json; exit 0 on a reply, 5 without one. Without DURATION it
waits as long as --timeout. While it waits it is online as a live observer of
the account, like listen, and the reply's lock is saved before it exits:
  answer=$(jab send --wait-reply 10m ops@example.org "Deploy 4.2? yes/no")

--receipt asks for delivery receipts (XEP-0184) and exits 0 only once the
recipient's client confirmed every message, 5 after --timeout otherwise.`,
		Flags: commandFlags(
			&cli.StringFlag{Name: "type", Value: "chat", Usage: "message `TYPE`: chat, normal or headline"},
			&cli.StringFlag{Name: "thread", Usage: "use thread `ID` (and make it the conversation's thread)"},
			&cli.BoolFlag{Name: "new-thread", Usage: "start a new thread"},
			&cli.BoolFlag{Name: "fork", Usage: "start a child thread of --thread, or of the current thread (XEP-0201 1.0 parent)"},
			&cli.StringFlag{Name: "reply-to", Usage: "reply to message `ID` from the history (its id or origin-id): same thread and type, to the full JID it came from, with an In-Reply-To header"},
			&cli.StringFlag{Name: "subject", Usage: "message subject `TEXT`"},
			&cli.StringFlag{Name: "recipients-file", Usage: "also send to the JIDs in `FILE`, one a line ('#' starts a comment line)"},
			&cli.BoolFlag{Name: "lines", Usage: "send one message per stdin line over one connection (empty lines skipped)"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per sent message (with --wait-reply: the reply, as listen --json)"},
			&cli.GenericFlag{Name: "wait-reply", Value: &waitFlag{}, Usage: "then wait up to `DURATION` (default --timeout) for the reply and print its body; exit 5 without one"},
			&cli.StringFlag{Name: "pm", Usage: "send a private message to the occupant `ROOM@SERVICE/NICK`: join the room, send, leave; the arguments are all TEXT"},
			&cli.StringSliceFlag{Name: "room", Usage: "send to the group chat `ROOM`@service (repeatable): join, send, wait for the room's echo, leave; the arguments are all TEXT"},
			&cli.BoolFlag{Name: "encrypt", Usage: "encrypt end to end with OpenPGP (XEP-0373/0374) to each recipient's published, trusted keys and our own; never falls back to plaintext (see jab keys)"},
			&cli.BoolFlag{Name: "receipt", Usage: "ask for delivery receipts (XEP-0184) and wait up to --timeout until the recipient's client confirmed every message; exit 5 otherwise"},
			&cli.StringSliceFlag{Name: "file", Usage: "upload `PATH` (XEP-0363; repeatable; - is stdin) and send its URL, one message per file, after TEXT if any"},
			&cli.StringFlag{Name: "filename", Usage: "the file's `NAME` in its URL (one --file; needed with --file -)"},
		),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			g, err := resolve(c.Context, c, env, false)
			if err != nil {
				return err
			}
			if c.IsSet("room") || c.IsSet("pm") {
				if c.Bool("encrypt") {
					return usagef("jab encrypts one-to-one messages only", "--encrypt does not apply to --room or --pm")
				}
				return sendRoom(c, env, g) // cmd_send_room.go
			}
			// The flags and arguments first: a usage error must not
			// run the password command.
			opts, err := parseSend(c.Context, c, env, g)
			if err != nil {
				return err
			}
			// The password is looked up by runSend, and only when it
			// logs in: a hand-off to a running listen needs none.
			return runSend(c.Context, env, g, opts)
		},
	}
}

func parseSend(ctx context.Context, c *cli.Context, env *Env, g *options) (*sendOptions, error) {
	o := &sendOptions{typ: c.String("type"), thread: c.String("thread"), newThread: c.Bool("new-thread"),
		subject: c.String("subject"), lines: c.Bool("lines"), json: c.Bool("json"), fork: c.Bool("fork"),
		replyTo: c.String("reply-to"), recipFile: c.String("recipients-file")}
	switch o.typ {
	case "chat", "normal", "headline":
	case "groupchat":
		return nil, usagef("group chat is not supported yet", "--type groupchat is not supported")
	default:
		return nil, usagef("use chat, normal or headline", "unknown --type %q", o.typ)
	}
	if o.thread != "" && o.newThread {
		return nil, usagef("--thread continues a thread, --new-thread starts one", "--thread and --new-thread conflict")
	}
	if o.thread != "" && (!utf8.ValidString(o.thread) || strings.TrimSpace(o.thread) != o.thread) {
		return nil, usagef("", "--thread %q is not a valid thread id", o.thread)
	}
	if o.typ == "headline" && (o.newThread || o.fork) {
		return nil, usagef("headlines carry no conversation thread", "--new-thread and --fork do not apply to --type headline")
	}
	if o.fork && o.newThread {
		return nil, usagef("--fork starts a new child thread already", "--fork and --new-thread conflict")
	}
	if o.fork && o.typ == "normal" && o.thread == "" {
		return nil, usagef("give the parent with --thread ID", "--fork of a normal message needs --thread")
	}
	if o.replyTo != "" && (o.thread != "" || o.newThread || o.fork || c.IsSet("type")) {
		return nil, usagef("a reply takes the thread and type of the message it answers", "--reply-to conflicts with --thread, --new-thread, --fork and --type")
	}
	if o.replyTo != "" && c.IsSet("recipients-file") {
		return nil, usagef("a reply answers one message from one JID", "--reply-to and --recipients-file conflict")
	}
	if c.IsSet("recipients-file") && o.recipFile == "" {
		return nil, usagef("", "--recipients-file needs a FILE")
	}
	args := c.Args().Slice()
	o.receipt = c.Bool("receipt")
	if w, ok := c.Generic("wait-reply").(*waitFlag); ok && w.set {
		o.waitReply = w.d
		if !w.explicit {
			// "--wait-reply 10m JID": the flag package left 10m as an
			// argument. A recipient always contains '@'.
			if len(args) > 0 && !strings.Contains(args[0], "@") {
				d, err := time.ParseDuration(args[0])
				if err != nil || d <= 0 {
					return nil, usagef("write it as --wait-reply 10m JID TEXT", "--wait-reply: %q is neither a duration nor a JID", args[0])
				}
				o.waitReply, args = d, args[1:]
			}
		}
		if o.waitReply == 0 {
			o.waitReply = -1 // resolved to --timeout by runSend
		}
	}
	split, err := splitArgs(args, o.recipFile != "")
	if err != nil {
		return nil, err
	}
	o.to = split.to
	if o.recipFile != "" {
		// The whole file is read and checked before anything is
		// contacted: a malformed line sends nothing.
		listed, err := readRecipientsFile(o.recipFile)
		if err != nil {
			return nil, err
		}
		o.to = mergeRecipients(o.to, listed)
		if len(o.to) == 0 {
			return nil, usagef("list one JID a line, or give JIDs on the command line", "recipients file %q lists no JID", o.recipFile)
		}
	}
	if o.waitReply != 0 && len(o.to) != 1 {
		return nil, usagef("ask one person at a time", "--wait-reply waits for one JID's reply: give exactly one JID")
	}
	if o.waitReply != 0 && o.typ == "headline" {
		return nil, usagef("", "--wait-reply does not apply to --type headline (headlines are not answered)")
	}
	if o.replyTo != "" && len(o.to) != 1 {
		return nil, usagef("", "--reply-to answers one message: give exactly one JID")
	}
	// Encrypting needs jab-ox: plain jab runs it now, before stdin is
	// read (openpgp.go).
	if o.encrypt, err = wantEncryption(c, g, o.to); err != nil {
		return nil, err
	}
	if o.encrypt && c.IsSet("file") {
		// An uploaded file is stored in clear on the upload service, and
		// its URL would travel outside the encrypted payload.
		return nil, usagef("send the file without encryption, or encrypt it yourself first",
			"--file and encryption conflict: the file would be stored in clear on the upload service")
	}
	if o.encrypt {
		if err := needOX(env, g.debug); err != nil {
			return nil, err
		}
	}
	if o.files, err = openFiles(c, env); err != nil {
		return nil, err
	}
	text := split.textArgs
	if o.lines {
		if len(text) > 0 {
			return nil, usagef("--lines reads the messages from stdin", "--lines takes no TEXT arguments")
		}
		return o, nil
	}
	if len(text) > 0 {
		o.text = strings.Join(text, " ")
	} else if len(o.files) > 0 {
		return o, nil // the files are the message; stdin is not read
	} else {
		in, err := readAllStdin(ctx, env)
		if err != nil {
			return nil, err
		}
		in = strings.TrimSuffix(in, "\n")
		o.text = strings.TrimSuffix(in, "\r")
	}
	if err := checkBody(o.text, "the message"); err != nil {
		return nil, err
	}
	return o, nil
}

type recipients struct {
	to       []session.JID
	textArgs []string
}

// splitArgs separates the leading JIDs from the message words: the first
// argument is a recipient; later ones are while they contain '@' (and must
// then parse as JIDs); "--" ends the recipients explicitly. With optional
// (--recipients-file gives the recipients) there may be none: a first
// argument without '@' starts the text, and so does a leading "--".
func splitArgs(args []string, optional bool) (recipients, error) {
	var r recipients
	if len(args) == 0 && !optional {
		return r, usagef("jab send alice@example.org 'hello'", "no recipient")
	}
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if (i > 0 || optional) && !strings.Contains(a, "@") {
			break
		}
		j, err := session.ParseJID(a)
		if err != nil {
			// A word with '@' that is not a JID is more likely a mistyped
			// recipient than text: refuse rather than guess.
			return r, usagef("a recipient looks like alice@example.org or alice@example.org/phone; put -- before text that contains '@'", "recipient: %w", err)
		}
		r.to = append(r.to, j)
	}
	r.textArgs = args[i:]
	if len(r.to) == 0 && !optional {
		return r, usagef("jab send alice@example.org 'hello'", "no recipient")
	}
	return r, nil
}

// readRecipientsFile parses a recipients file: one JID a line, surrounding
// spaces trimmed, blank lines and lines whose first non-space character is
// '#' ignored. Any malformed line fails the whole file.
func readRecipientsFile(path string) ([]session.JID, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, usagef("list one JID a line", "recipients file %q: %w", path, err)
	}
	var out []session.JID
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		j, err := session.ParseJID(line)
		if err != nil {
			return nil, usagef("a recipient looks like alice@example.org or alice@example.org/phone; '#' starts a comment line",
				"recipients file %q: line %d: %w", path, n+1, err)
		}
		out = append(out, j)
	}
	return out, nil
}

// mergeRecipients appends the file's JIDs to the command line's, dropping
// any JID (compared as the full string) already present.
func mergeRecipients(lists ...[]session.JID) []session.JID {
	seen := map[string]bool{}
	var out []session.JID
	for _, l := range lists {
		for _, j := range l {
			if k := j.String(); !seen[k] {
				seen[k] = true
				out = append(out, j)
			}
		}
	}
	return out
}

func checkBody(s, what string) error {
	if !utf8.ValidString(s) {
		return usagef("XMPP carries UTF-8 text only; convert it first (e.g. with iconv)", "%s is not valid UTF-8", what)
	}
	if strings.TrimSpace(s) == "" {
		return usagef("give TEXT or pipe the message on stdin", "%s is empty", what)
	}
	return nil
}

// sendPath is what runSend drives: a session.Sender on a connection of
// its own (the direct path), or a session.Handoff to the running listen or
// repl of the account, which runs the same Sender and returns its results.
type sendPath interface {
	Send(ctx context.Context, out session.Outgoing, more bool) ([]*session.Message, error)
	Flush(ctx context.Context) error
	Finish(ctx context.Context) error
	Fail(ctx context.Context, failed error) error
	WaitReceipts(ctx context.Context, d time.Duration) error
	WaitReply(ctx context.Context, d time.Duration) (session.Event, error)
	Close() error
	session.Slots // send --file: the upload service and slots of its session
}

func runSend(ctx context.Context, env *Env, g *options, o *sendOptions) error {
	defer closeFiles(o.files)
	senv, err := g.sessionEnv(env)
	if err != nil {
		return err
	}
	if o.replyTo != "" {
		// Found before connecting: an unknown id sends nothing.
		if err := findOriginal(env, senv, g.account.Bare(), o); err != nil {
			return err
		}
	}
	waiting := o.waitReply != 0
	so := session.SendOptions{Account: g.account, To: o.to, Type: o.typ, Thread: o.thread,
		NewThread: o.newThread, Subject: o.subject, LockIdle: g.lockIdle, Fork: o.fork, ReplyTo: o.original}
	msg := func(body string) session.Outgoing {
		return session.Outgoing{Subject: o.subject, Body: body, InReplyTo: o.inReplyTo, Receipt: o.receipt}
	}
	var first *session.Outgoing
	if !o.lines && len(o.files) == 0 {
		m := msg(o.text)
		first = &m
	}
	if o.encrypt {
		// Our key before anything is contacted; it signs what is sent
		// and reads a --wait-reply answer. An encrypted send logs in
		// itself (session.HandOff refuses it).
		e2e, err := oxEngine(ctx, env, g, true)
		if err != nil {
			return err
		}
		so.E2E, senv.E2E = e2e, e2e
	}
	sd, err := handOff(ctx, env, g, senv, so, waiting, first)
	if err == nil && sd == nil {
		sd, err = sendDirect(ctx, env, g, senv, so, waiting)
	}
	var np *session.NoParentError
	if errors.As(err, &np) {
		return usagef("start the conversation first, or name the parent with --thread ID", "%s", np)
	}
	if err != nil {
		return err
	}
	return drive(ctx, env, g, o, sd, msg)
}

// drive sends the message, or stdin's lines, along sd and confirms them.
func drive(ctx context.Context, env *Env, g *options, o *sendOptions, sd sendPath, msg func(string) session.Outgoing) error {
	waiting := o.waitReply != 0
	defer sd.Close()
	out := bufio.NewWriter(env.Stdout)
	defer out.Flush()
	send := func(one session.Outgoing, more bool) error {
		msgs, err := sd.Send(ctx, one, more)
		if o.json && !waiting {
			for _, m := range msgs {
				line, _ := json.Marshal(session.Sent{To: m.To, ID: m.ID, Thread: m.ThreadValue(), Type: o.typ, OOBURL: one.OOBURL})
				out.Write(append(line, '\n'))
			}
		}
		if err != nil {
			return err
		}
		if !more && o.lines {
			// The input pauses: what was sent so far is recorded now.
			out.Flush()
			return sd.Flush(ctx)
		}
		return nil
	}
	// Without --lines the messages (the text, and one per --file) are
	// sent with more: Finish follows at once, and they go out in the same
	// write as their confirming ping.
	if o.lines {
		if err := sendLines(ctx, env, func(body string, more bool) error { return send(msg(body), more) }); err != nil {
			return sd.Fail(ctx, err)
		}
	} else {
		outs, err := o.messages(ctx, env, g, sd, msg) // cmd_send_file.go
		if err != nil {
			return err // before any message: nothing was sent
		}
		for i, one := range outs {
			if err := send(one, true); err != nil && i == 0 {
				return err
			} else if err != nil {
				return sd.Fail(ctx, err)
			}
		}
	}
	out.Flush()
	if err := sd.Finish(ctx); err != nil {
		return err
	}
	if o.receipt {
		if err := sd.WaitReceipts(ctx, g.timeout); err != nil {
			return err
		}
	}
	if !waiting {
		return nil
	}
	wait := o.waitReply
	if wait < 0 {
		wait = g.timeout
	}
	ev, err := sd.WaitReply(ctx, wait)
	if err != nil {
		return err
	}
	return printReply(env, out, o.json, ev)
}

// handOff hands the send to the running listen or repl of the account
// (session.HandOff), unless --no-handoff; first is the one message of a
// send without --lines, which goes with the request. It returns nil, nil when there is
// none to take it (said on stderr with --debug, or as a warning when
// something is wrong with the socket), and the caller logs in itself.
func handOff(ctx context.Context, env *Env, g *options, senv session.Env, so session.SendOptions, waiting bool, first *session.Outgoing) (sendPath, error) {
	noHandoff, err := settings.Get(g.settings, flagNoHandoff, false)
	if err != nil {
		return nil, err
	}
	if noHandoff {
		g.debugf(env, "no hand-off: --no-handoff; logging in")
		return nil, nil
	}
	h, err := session.HandOff(ctx, senv, session.HandoffRequest{Send: so, WaitReply: waiting, Timeout: g.timeout, Single: first != nil, First: first})
	var un *session.HandoffUnavailable
	switch {
	case errors.As(err, &un) && un.Warn:
		fmt.Fprintf(env.Stderr, "jab: warning: %s; logging in\n", un.Reason)
		return nil, nil
	case errors.As(err, &un):
		g.debugf(env, "no hand-off: %s; logging in", un.Reason)
		return nil, nil
	case err != nil:
		return nil, err
	}
	g.debugf(env, "sent through the running %s (pid %d) as %s", h.Command, h.PID, h.JID)
	return h, nil
}

// sendDirect logs in on a one-shot resource of its own (session.StartSend).
func sendDirect(ctx context.Context, env *Env, g *options, senv session.Env, so session.SendOptions, waiting bool) (sendPath, error) {
	if err := g.readyToConnect(ctx, nil, env); err != nil {
		return nil, err
	}
	sd, err := session.StartSend(ctx, senv, session.OneShot{
		Config:    g.sessionConfig(env, ""),
		Send:      so,
		WaitReply: waiting,
		Received: func(ev session.Event) {
			fmt.Fprintf(env.Stderr, "jab: received while sending (jab listen shows replies): %s\n", textRecord(ev))
		},
		Warn: func(err error) { fmt.Fprintf(env.Stderr, "jab: warning: %v\n", err) },
	})
	if err != nil {
		return nil, err
	}
	return sd, nil
}

// debugf writes a --debug line.
func (o *options) debugf(env *Env, format string, args ...any) {
	if o.debug {
		fmt.Fprintf(env.Stderr, "jab: debug: "+format+"\n", args...)
	}
}

// findOriginal looks the --reply-to id up in the history and derives the
// reply's type and In-Reply-To value from it.
func findOriginal(env *Env, senv session.Env, account string, o *sendOptions) error {
	found, err := session.FindOriginal(senv, account, o.replyTo, o.to[0],
		func(w string) { fmt.Fprintln(env.Stderr, "jab: warning:", w) })
	var oe *session.OriginalError
	if errors.As(err, &oe) {
		switch oe.Problem {
		case "no-history":
			return usagef("--reply-to looks the message up in the history", "--reply-to needs the history, which is off")
		case "unknown":
			return usagef(closestHint(oe.Known, o.replyTo), "%s", oe)
		case "peer":
			return usagef("give the JID the message came from or went to", "%s, not %s", oe, o.to[0].Bare())
		}
		return usagef("", "%s", oe)
	}
	if err != nil {
		return err
	}
	o.original, o.typ, o.inReplyTo = found, found.Type, session.InReplyToOf(found)
	return nil
}

// sendLines streams stdin: one message per non-empty line, sent as it is
// read, so a pipe feeds the conversation live; lines already waiting go
// out together. End of input is success. A line that is not UTF-8 is
// skipped with a warning and makes the exit status non-zero at the end:
// 2 when nothing was sent, 1 otherwise.
func sendLines(ctx context.Context, env *Env, send func(body string, more bool) error) error {
	type line struct {
		n    int
		text string
		err  error
	}
	lines := make(chan line, 256)
	go func() {
		defer close(lines)
		r := bufio.NewReaderSize(env.Stdin, 16*1024) // a longer line is read in pieces
		for n := 1; ; n++ {
			s, err := r.ReadString('\n')
			if s != "" {
				lines <- line{n: n, text: strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					lines <- line{err: fmt.Errorf("read stdin: %w", err)}
				}
				return
			}
		}
	}()
	var sent, skipped []int
	for {
		var l line
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case l, ok = <-lines:
		}
		if !ok {
			break
		}
		if l.err != nil {
			return l.err
		}
		if strings.TrimSpace(l.text) == "" {
			continue
		}
		if !utf8.ValidString(l.text) {
			fmt.Fprintf(env.Stderr, "jab: warning: stdin line %d is not valid UTF-8; skipped\n", l.n)
			skipped = append(skipped, l.n)
			continue
		}
		// Lines already waiting go out together.
		if err := send(l.text, len(lines) > 0); err != nil {
			return err
		}
		sent = append(sent, l.n)
	}
	if len(skipped) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%d stdin line(s) not valid UTF-8, skipped (first: line %d)", len(skipped), skipped[0])
	if len(sent) == 0 {
		return usagef("XMPP carries UTF-8 text only; convert it first (e.g. with iconv)", "%s; nothing was sent", msg)
	}
	return fmt.Errorf("%s; %d line(s) sent", msg, len(sent))
}
