package commands

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

func rosterCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "roster",
		Usage: "print the account's contact list (and cache it for shell completion)",
		Description: `Fetches the roster (RFC 6121 §2.2) over a one-shot session that sends no
presence, prints one contact per line (JID, subscription, name, groups; or
JSON Lines with --json) and caches the JIDs in the state directory, where shell
completion finds them without connecting. jab listen and jab repl refresh the
cache when they log in (unless --no-receipts).`,
		Flags:        commandFlags(&cli.BoolFlag{Name: "json", Usage: "print one JSON object per contact"}),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("see 'jab roster --help'", "roster takes no arguments")
			}
			g, err := resolve(c.Context, c, env, true)
			if err != nil {
				return err
			}
			return runRoster(c.Context, env, g, c.Bool("json"))
		},
	}
}

func runRoster(ctx context.Context, env *Env, g *options, asJSON bool) error {
	senv, err := g.sessionEnv(env)
	if err != nil {
		return err
	}
	account := g.account.Bare()
	// Like send: a resource of our own next to the observer's, no
	// presence; what reaches it still updates the conversations.
	s, err := session.OpenOneShot(ctx, senv, g.sessionConfig(env, ""), func(v any) {
		session.Apply(ctx, senv, account, v)
	})
	if err != nil {
		return err
	}
	defer s.Close()
	items, err := session.FetchRoster(ctx, s)
	if err != nil {
		return err
	}
	if err := senv.Store.WriteRoster(statefile.Roster{Account: account, Fetched: env.Now().UTC(), Items: items}); err != nil {
		return err
	}
	out := bufio.NewWriter(env.Stdout)
	for _, it := range items {
		if asJSON {
			line, err := json.Marshal(it)
			if err != nil {
				return err
			}
			out.Write(safeJSON(line))
			out.WriteByte('\n')
			continue
		}
		sub := it.Subscription
		if sub == "" {
			sub = "none"
		}
		fmt.Fprintf(out, "%s\t%s\t%s\t%s\n", sanitize(it.JID), sanitize(sub), sanitize(it.Name), sanitize(strings.Join(it.Groups, ",")))
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	return nil
}
