package commands

import (
	"bufio"
	"context"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/commands/internal/settings"
	"github.com/jab-xmpp/jab/session"
)

type listenOptions struct {
	json     bool
	presence bool
	count    int
	priority int
	null     bool               // end records with NUL instead of newline
	format   *template.Template // --format, nil for text or JSON
	filter   session.Filter
	exec     *execOptions // --exec, nil without
	receipts bool         // answer XEP-0184 receipt requests
	catchUp  session.CatchUpOptions
	rooms    []session.RoomTarget
}

// catchUpFlag is one of listen's and the REPL's archive catch-up flags,
// new for each command (a flag keeps state once parsed).
func catchUpFlag(i int) cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "no-catch-up", Usage: "do not print what the server archived while jab was not running (XEP-0313)"},
		&cli.DurationFlag{Name: "since", Usage: "catch up on the archive from `DURATION` ago instead of since the last run"},
		// Test hook: the RSM page size, so tests page with few messages.
		&cli.IntFlag{Name: "catch-up-page", Hidden: true},
	}[i]
}

// parseCatchUp checks the catch-up flags; every error is a usage error.
func parseCatchUp(c *cli.Context) (session.CatchUpOptions, error) {
	o := session.CatchUpOptions{Off: c.Bool("no-catch-up"), Since: c.Duration("since"), Page: c.Int("catch-up-page")}
	switch {
	case c.IsSet("since") && o.Since <= 0:
		return o, usagef("", "--since must be positive")
	case o.Off && c.IsSet("since"):
		return o, usagef("", "--since and --no-catch-up cannot be used together")
	case o.Page < 0:
		return o, usagef("", "--catch-up-page must not be negative")
	}
	return o, nil
}

// record is one printed record with its terminator: newline, or NUL with
// --null (and then NUL bytes are removed from --format output, the only
// format that could hold them).
func (o *listenOptions) record(ev session.Event) ([]byte, error) {
	var rec []byte
	switch {
	case o.json:
		rec = jsonRecord(ev)
	case o.format != nil:
		s, err := formatRecord(o.format, ev)
		if err != nil {
			return nil, fmt.Errorf("--format: %w", err)
		}
		if o.null {
			s = strings.ReplaceAll(s, "\x00", "")
		}
		rec = []byte(s)
	default:
		rec = []byte(textRecord(ev))
	}
	if o.null {
		return append(rec, 0), nil
	}
	return append(rec, '\n'), nil
}

// repeated is a repeatable string flag that, unlike cli.StringSliceFlag,
// does not split its values at commas (a resource may contain one).
type repeated []string

func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }
func (r *repeated) String() string     { return strings.Join(*r, ", ") }

func repeatedValues(c *cli.Context, name string) []string {
	if r, ok := c.Generic(name).(*repeated); ok && r != nil {
		return *r
	}
	return nil
}

// parseListenFilter checks the filter flags; every error is a usage error.
func parseListenFilter(from, types []string, thread, match string) (session.Filter, error) {
	var f session.Filter
	for _, s := range from {
		j, err := session.ParseJID(s)
		if err != nil {
			return f, usagef("", "--from: %w", err)
		}
		f.From = append(f.From, j)
	}
	for _, t := range types {
		switch t {
		case "chat", "normal", "headline", "error", "groupchat":
			f.Types = append(f.Types, t)
		default:
			return f, usagef("", "--type must be chat, normal, headline, error or groupchat, not %q", t)
		}
	}
	f.Thread = thread
	if match != "" {
		re, err := regexp.Compile(match)
		if err != nil {
			return f, usagef("", "--match: %w", err)
		}
		f.Match = re
	}
	return f, nil
}

func listenCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "listen",
		Usage: "stay online and print incoming messages, keeping the persisted locks and threads true",
		Description: `Connects with the account's stable observer resource, sends available
presence and prints one record per incoming message (text, or JSON Lines with
--json). Every stanza updates the state file before it is printed, so a script
that reacts to a line with 'jab send' sees the new lock. While it runs it marks
itself as the account's live observer, so one-shot sends trust the persisted
locks. It reconnects with capped exponential backoff when the connection drops.

--timeout, when given, ends listen with exit status 5 if no message is
printed for that long; without it, listen runs until interrupted or --count
is met.

Filters choose what is printed: --from JID (repeatable; a bare JID matches
all its resources, a full JID only that one), --type (repeatable), --thread ID
and --match REGEX (Go regexp syntax, on the body). --from applies to presence
records too; with --type, --thread or --match no presence is printed. A
filtered-out message still updates the state but is not printed and counts
toward neither --count nor --timeout.

--format TEMPLATE prints each record with a Go text/template over the fields
From, FromBare, To, Type, ID, OriginID, Thread, Parent, Body, Subject,
ChatState, Delayed, Time (a time.Time), Error, InReplyTo, Kind, Show and
Status, for example '{{.From}}: {{.Body}}'. Unlike the text format, it does
not escape what the peer sent: a body may hold newlines or control
characters. For bodies that may contain anything use --null, which ends every
record (text, --json or --format) with a NUL byte instead of a newline and
removes NUL bytes from --format output.

Bot mode: --exec CMD runs CMD with sh -c for each chat or normal message
that passes the filters (never for errors, headlines, our own account's
messages, or delayed offline ones unless --include-delayed), with the body on
stdin and JAB_FROM, JAB_FROM_BARE, JAB_TYPE, JAB_ID, JAB_THREAD, JAB_SUBJECT
and JAB_ACCOUNT in the environment (global options given as flags are passed
as their JAB_* variables too). CMD's stdout, when not empty, is sent back as
the reply: same type and thread, addressed by the conversation's lock (a chat
reply goes to the resource that wrote), with an In-Reply-To header. A CMD that
exits non-zero sends nothing, and a line on stderr gives its status and the
first line of its stderr. --exec-timeout kills CMD and its process group.
--exec-concurrency N runs CMD for up to N conversations at once; one
conversation's replies always leave in order. Up to 256 messages per worker
wait their turn; beyond that listen stops reading until one is handled (the
server holds the rest), and says so: nothing is dropped.

Receipt requests (XEP-0184) are answered for every message received, printed
or not, and the feature is advertised; --no-receipts turns both off.`,
		Flags: commandFlags(
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per line"},
			&cli.BoolFlag{Name: "presence", Usage: "print presence stanzas too"},
			&cli.IntFlag{Name: "count", Usage: "exit 0 after `N` messages"},
			&cli.IntFlag{Name: "priority", Usage: "presence `PRIORITY` (-128..127); negative means bare-JID messages will not reach us"},
			&cli.GenericFlag{Name: "from", Value: &repeated{}, Usage: "print only what `JID` sent (repeatable; a bare JID matches all its resources)"},
			&cli.GenericFlag{Name: "type", Value: &repeated{}, Usage: "print only messages of `TYPE` chat, normal, headline, error or groupchat (repeatable)"},
			&cli.StringFlag{Name: "thread", Usage: "print only messages in thread `ID`"},
			&cli.StringFlag{Name: "match", Usage: "print only messages whose body matches `REGEX`"},
			&cli.StringFlag{Name: "format", Usage: "print each record with the Go text/template `TEMPLATE` (not escaped; see --null)"},
			&cli.BoolFlag{Name: "null", Usage: "end each record with NUL instead of newline"},
			&cli.StringFlag{Name: "exec", Usage: "run `CMD` (sh -c) for each message that passes the filters, body on stdin; its stdout is sent back as the reply"},
			&cli.DurationFlag{Name: "exec-timeout", Value: defaultExecTimeout, Usage: "kill CMD (and its process group) after `DURATION`"},
			&cli.IntFlag{Name: "exec-concurrency", Value: 1, Usage: "run CMD for up to `N` conversations at once (one conversation's replies stay in order)"},
			&cli.BoolFlag{Name: "include-delayed", Usage: "also run CMD for delayed (offline) messages"},
			&cli.BoolFlag{Name: "no-receipts", Usage: "do not answer XEP-0184 receipt requests (and do not advertise them)"},
			catchUpFlag(0), catchUpFlag(1), catchUpFlag(2),
			&cli.StringSliceFlag{Name: "room", Usage: "join the group chat `ROOM`@service (repeatable) and print its messages"},
		),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			// The password comes last, once the flags are checked: a
			// usage error must not run the password command.
			g, err := resolve(c.Context, c, env, false)
			if err != nil {
				return err
			}
			o := &listenOptions{json: c.Bool("json"), presence: c.Bool("presence"), count: c.Int("count"), priority: c.Int("priority")}
			if c.Args().Present() {
				return usagef("see 'jab listen --help'", "listen takes no arguments")
			}
			if o.count < 0 {
				return usagef("", "--count must not be negative")
			}
			if o.priority < -128 || o.priority > 127 {
				return usagef("", "--priority must be between -128 and 127")
			}
			if o.filter, err = parseListenFilter(repeatedValues(c, "from"), repeatedValues(c, "type"), c.String("thread"), c.String("match")); err != nil {
				return err
			}
			if o.catchUp, err = parseCatchUp(c); err != nil {
				return err
			}
			o.null = c.Bool("null")
			o.receipts = !c.Bool("no-receipts")
			if c.IsSet("exec") {
				x := &execOptions{command: c.String("exec"), timeout: c.Duration("exec-timeout"),
					concurrency: c.Int("exec-concurrency"), includeDelayed: c.Bool("include-delayed"),
					flagEnv: flagEnviron(c)}
				if strings.TrimSpace(x.command) == "" {
					return usagef("", "--exec needs a command")
				}
				if x.timeout <= 0 {
					return usagef("", "--exec-timeout must be positive")
				}
				if x.concurrency < 1 || x.concurrency > 256 {
					return usagef("", "--exec-concurrency must be between 1 and 256")
				}
				o.exec = x
			} else {
				for _, f := range []string{"exec-timeout", "exec-concurrency", "include-delayed"} {
					if c.IsSet(f) {
						return usagef("", "--%s applies only with --exec", f)
					}
				}
			}
			if c.IsSet("format") {
				if o.json {
					return usagef("", "--json and --format cannot be used together")
				}
				if o.format, err = parseFormat(c.String("format")); err != nil {
					return usagef("", "--format: %w", err)
				}
			}
			// An account with an OpenPGP key listens in jab-ox.
			if err := observerNeedsOX(env, g); err != nil {
				return err
			}
			rooms := c.StringSlice("room")
			if len(rooms) == 0 {
				configured, err := settings.Get(g.settings, optRooms, []settings.Room(nil))
				if err != nil {
					return err
				}
				for _, r := range configured {
					if r.Autojoin {
						rooms = append(rooms, r.JID)
					}
				}
			}
			if o.rooms, err = roomTargets(c.Context, env, g, rooms); err != nil {
				return err
			}
			if err := g.readyToConnect(c.Context, c, env); err != nil {
				return err
			}
			return runListen(c.Context, env, g, o)
		},
	}
}

func runListen(ctx context.Context, env *Env, g *options, o *listenOptions) error {
	senv, err := g.sessionEnv(env)
	if err != nil {
		return err
	}
	if err := readEncrypted(ctx, env, g, &senv); err != nil {
		return err
	}
	dial, err := session.ObserverDialer(senv, g.account.Bare(), g.resource, func(resource string) session.Config {
		cfg := g.sessionConfig(env, resource)
		if o.receipts {
			cfg.Features = append(cfg.Features, session.NSReceipts)
		}
		return cfg
	})
	if err != nil {
		return err
	}
	if o.priority < 0 {
		// Conformance item 93: with a negative priority the server does not
		// deliver bare-JID messages to us.
		fmt.Fprintln(env.Stderr, "jab: warning: with a negative priority only messages to our full JID reach listen")
	}
	out := bufio.NewWriter(env.Stdout)
	defer out.Flush()
	logf := func(format string, args ...any) {
		fmt.Fprintf(env.Stderr, "jab: "+format+"\n", args...)
	}
	var rooms *session.Rooms
	if len(o.rooms) > 0 {
		rooms = session.NewRooms(senv, g.account, o.rooms, func(format string, args ...any) { logf("%s", sanitize(fmt.Sprintf(format, args...))) })
	}
	var b *session.Bot
	live := session.NewLive()
	if o.exec != nil {
		o.exec.rooms = rooms
		warn := func(format string, args ...any) { logf("warning: "+format, args...) }
		b = newBot(*o.exec, env, senv, live, g.account, g.lockIdle, warn)
		b.Start(ctx)
		defer func() {
			if n := b.Stop(); n > 0 {
				warn("exec: listen ended with %d messages not answered (CMD was stopped or never ran for them)", n)
			}
		}()
	}
	n := 0
	emit := func(ev session.Event) error {
		if !o.filter.Pass(ev) {
			return session.ErrSkipped
		}
		rec, err := o.record(ev)
		if err != nil {
			return err
		}
		out.Write(rec)
		if err := out.Flush(); err != nil {
			return fmt.Errorf("write stdout: %w", err)
		}
		if b != nil && b.Eligible(ev) {
			if err := b.Enqueue(ctx, ev); err != nil {
				return err
			}
		}
		if ev.Kind == session.KindMessage {
			n++
			if o.count > 0 && n >= o.count {
				if b != nil {
					// The last replies go out before the session closes.
					b.Drain()
				}
				return session.ErrStop
			}
		}
		return nil
	}
	lo := session.ListenOptions{Account: g.account, Priority: o.priority, Presence: o.presence, Receipts: o.receipts,
		OnSession: live.Set, CatchUp: o.catchUp}
	lo.Rooms = rooms
	if g.timeoutSet {
		lo.Idle = g.timeout
	}
	// Sends of this account on this machine hand their messages to us
	// while we are online (see SENDING in the man page).
	hs := session.ServeHandoff(ctx, senv, session.HandoffOptions{Account: g.account, Live: live, Command: "listen",
		Logf: logf, Timeout: g.timeout, Rooms: rooms})
	defer hs.Close()
	return session.Listen(ctx, senv, dial, lo, emit, logf)
}
