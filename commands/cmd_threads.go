package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

func threadsCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "threads",
		Usage: "list, show, close and prune XEP-0201 message threads",
		Subcommands: []*cli.Command{
			threadsListCommand(env),
			threadsShowCommand(env),
			threadsCloseCommand(env),
			threadsPruneCommand(env),
		},
		OnUsageError: onUsageError,
	}
}

func threadsCloseCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "close",
		Usage:     "end a thread: send the XEP-0155 terminate form (and <gone/> for chat), then mark it closed",
		ArgsUsage: "THREAD",
		Description: `Ends THREAD (a thread id, or a unique prefix of at least 4 characters) as
XEP-0201 v0.3 §5 asks: the contact receives a XEP-0155 terminate form carrying
the thread and, for a chat thread, a standalone <gone/>. The thread is then
marked closed, and the next message to that contact starts a new thread.
Closing a thread that is already closed sends nothing and exits 0.`,
		Flags:        commandFlags(),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return usagef("jab threads close THREAD", "threads close takes one thread id")
			}
			g, err := resolve(c.Context, c, env, false)
			if err != nil {
				return err
			}
			return runThreadsClose(c.Context, env, g, c.Args().First(), func() error {
				return g.readyToConnect(c.Context, c, env)
			})
		},
	}
}

// lookupThread finds a thread of the account by id or unique prefix (at
// least session.MinThreadPrefix characters), with closest-match hints when there is none.
func lookupThread(a *statefile.Account, arg string) (*statefile.Thread, error) {
	if a != nil {
		if t := a.Threads[arg]; t != nil {
			return t, nil
		}
	}
	var ids, matches []string
	if a != nil {
		for id := range a.Threads {
			ids = append(ids, id)
		}
		if len(arg) >= session.MinThreadPrefix {
			matches = session.ThreadsWithPrefix(a.Threads, arg)
		}
	}
	switch len(matches) {
	case 1:
		return a.Threads[matches[0]], nil
	case 0:
		return nil, usagef(closestHint(ids, arg), "no thread %q", arg)
	}
	for i := range matches {
		matches[i] = sanitize(matches[i]) // peers choose thread ids
	}
	return nil, usagef("give more of the id", "thread prefix %q is ambiguous: %s", arg, strings.Join(matches, ", "))
}

// runThreadsClose closes the thread arg names; ready gets the password,
// called only once the thread is found and open, so an unknown thread
// id runs no password command and a closed one needs no password.
func runThreadsClose(ctx context.Context, env *Env, g *options, arg string, ready func() error) error {
	senv, err := g.sessionEnv(env)
	if err != nil {
		return err
	}
	account := g.account.Bare()
	st, err := senv.Store.Load()
	if err != nil {
		return err
	}
	t, err := lookupThread(st.Accounts[account], arg)
	if err != nil {
		return err
	}
	if t.Closed {
		fmt.Fprintf(env.Stderr, "jab: thread %s was already closed on %s; nothing sent\n", t.ID, t.ClosedAt.UTC().Format(time.RFC3339))
		return nil
	}
	if err := ready(); err != nil {
		return err
	}
	bounces := session.NewBounces()
	s, err := session.OpenOneShot(ctx, senv, g.sessionConfig(env, ""), bounces.Handle)
	if err != nil {
		return err
	}
	defer s.Close()
	to, err := session.CloseThread(ctx, s, senv, account, t.ID, bounces)
	if errors.Is(err, session.ErrAlreadyClosed) {
		fmt.Fprintf(env.Stderr, "jab: thread %s was already closed; nothing sent\n", t.ID)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "jab: closed thread %s with %s\n", t.ID, sanitize(to))
	return nil
}

func threadsPruneCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "remove threads idle (or closed) longer than --older-than, and their history",
		Flags: commandFlags(
			&cli.DurationFlag{Name: "older-than", Usage: "prune threads with no activity for `DURATION` (e.g. 720h)"},
		),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if !c.IsSet("older-than") {
				return usagef("jab threads prune --older-than 720h", "threads prune needs --older-than")
			}
			age := c.Duration("older-than")
			if age <= 0 {
				return usagef("", "--older-than must be positive")
			}
			if c.Args().Present() {
				return usagef("see 'jab threads prune --help'", "threads prune takes no arguments")
			}
			g, err := resolve(c.Context, c, env, false)
			if err != nil {
				return err
			}
			senv, err := g.sessionEnv(env)
			if err != nil {
				return err
			}
			res, err := session.Prune(c.Context, senv, g.account.Bare(), age)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "pruned %d threads and %d history records\n", res.Threads, res.Records)
			return nil
		},
	}
}
