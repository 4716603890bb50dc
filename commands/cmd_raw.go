package commands

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/session"
)

func rawCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "raw",
		Usage: "send the XML stanzas read from stdin as they are (for debugging and for features jab lacks)",
		Description: `Reads all of stdin: one or more <message/>, <presence/> or <iq/> elements (no
namespace, or jabber:client). The whole input is checked before connecting:
XML that is not well-formed, or a top-level element that is not a stanza, is a
usage error and nothing is sent. Each stanza is re-serialised from the parsed
XML and sent in order over a one-shot resource, with no presence. An <iq/>
without an id gets a fresh one.

With --wait-iq, each iq of type get or set waits (up to --timeout) for its
answer, printed on stdout as one line of XML; an error answer ends jab raw
with exit status 1 (later stanzas are not sent), no answer with 5. Raw
stanzas do not change the locks, threads or history.`,
		Flags: commandFlags(
			&cli.BoolFlag{Name: "wait-iq", Usage: "wait for the answer to each iq get/set and print it on stdout"},
		),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			// The password comes last, once the arguments and stdin
			// are checked: a usage error must not run the password
			// command.
			g, err := resolve(c.Context, c, env, false)
			if err != nil {
				return err
			}
			if c.Args().Present() {
				return usagef("pipe the stanzas on stdin: echo '<presence/>' | jab raw", "raw takes no arguments")
			}
			in, err := readAllStdin(c.Context, env)
			if err != nil {
				return err
			}
			stanzas, err := session.ParseStanzas([]byte(in), c.Bool("wait-iq"))
			if err != nil {
				return usagef("give one or more <message/>, <presence/> or <iq/> elements on stdin", "%w", err)
			}
			if err := g.readyToConnect(c.Context, c, env); err != nil {
				return err
			}
			return runRaw(c.Context, env, g, stanzas)
		},
	}
}

func runRaw(ctx context.Context, env *Env, g *options, stanzas []session.RawStanza) error {
	senv, err := g.sessionEnv(env)
	if err != nil {
		return err
	}
	// Stanzas that reach the one-shot resource (a bounce, a reply) are not
	// ours to interpret; a handler keeps them from filling Events and
	// stalling the reader, which must route IQ answers. Nothing is
	// written to the state file.
	s, err := session.OpenOneShot(ctx, senv, g.sessionConfig(env, ""), func(any) {})
	if err != nil {
		return err
	}
	defer s.Close()
	return session.SendRaw(ctx, s, stanzas, func(iq *session.IQ) error {
		line, err := session.IQLine(iq)
		if err != nil {
			return err
		}
		if _, err := env.Stdout.Write(line); err != nil {
			return fmt.Errorf("write stdout: %w", err)
		}
		return nil
	})
}
