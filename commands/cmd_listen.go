package commands

import (
	"bufio"
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

type listenOptions struct {
	json     bool
	presence bool
	count    int
	priority int
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

--timeout, when given, ends listen with exit status 5 if no message arrives
for that long; without it, listen runs until interrupted or --count is met.`,
		Flags: commandFlags(
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per line"},
			&cli.BoolFlag{Name: "presence", Usage: "print presence stanzas too"},
			&cli.IntFlag{Name: "count", Usage: "exit 0 after `N` messages"},
			&cli.IntFlag{Name: "priority", Usage: "presence `PRIORITY` (-128..127); negative means bare-JID messages will not reach us"},
		),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			g, err := resolve(c.Context, c, env, true)
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
			return runListen(c.Context, env, g, o)
		},
	}
}

func runListen(ctx context.Context, env *Env, g *options, o *listenOptions) error {
	senv, err := g.sessionEnv(env)
	if err != nil {
		return err
	}
	store := senv.Store
	resource, stored := g.resource, true
	if resource == "" {
		if resource, stored, err = session.StableResource(senv, g.account.Bare()); err != nil {
			return err
		}
	}
	// Two observers on one full JID would throw each other off the server
	// (RFC 6120 §7.7.2.2); refuse to be the second.
	if obs, err := store.ReadObserver(g.account.Bare()); err == nil && obs != nil && obs.Resource == resource &&
		obs.Live(env.Now(), session.ObserverMaxAge, env.Host, statefile.PIDAlive) {
		return &alreadyListening{pid: obs.PID, host: obs.Host, resource: resource}
	}
	if o.priority < 0 {
		// Conformance item 93: with a negative priority the server does not
		// deliver bare-JID messages to us.
		fmt.Fprintln(env.Stderr, "jab: warning: with a negative priority only messages to our full JID reach listen")
	}
	out := bufio.NewWriter(env.Stdout)
	defer out.Flush()
	n := 0
	emit := func(ev session.Event) error {
		if o.json {
			out.Write(jsonRecord(ev))
		} else {
			out.WriteString(textRecord(ev))
		}
		out.WriteByte('\n')
		if err := out.Flush(); err != nil {
			return fmt.Errorf("write stdout: %w", err)
		}
		if ev.Kind == session.KindMessage {
			n++
			if o.count > 0 && n >= o.count {
				return session.ErrStop
			}
		}
		return nil
	}
	dial := func(ctx context.Context) (*session.Session, error) {
		s, err := session.Open(ctx, g.sessionConfig(env, resource))
		if err == nil && !stored {
			// Keep the stable resource only once a login with it worked.
			if err := session.KeepResource(ctx, senv, g.account.Bare(), resource); err != nil {
				s.Close()
				return nil, err
			}
			stored = true
		}
		return s, err
	}
	lo := session.ListenOptions{Account: g.account, Priority: o.priority, Presence: o.presence}
	if g.timeoutSet {
		lo.Idle = g.timeout
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(env.Stderr, "jab: "+format+"\n", args...)
	}
	return session.Listen(ctx, senv, dial, lo, emit, logf)
}

// alreadyListening: a live jab listen holds the same resource.
type alreadyListening struct {
	pid      int
	host     string
	resource string
}

func (e *alreadyListening) Error() string {
	return fmt.Sprintf("jab listen already runs for this account with resource %q (pid %d on %s)", e.resource, e.pid, e.host)
}
