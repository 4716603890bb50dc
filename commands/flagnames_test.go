package commands

import (
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestCachedFlagNames(t *testing.T) {
	// Every flag of every command is wrapped, answers the names
	// urfave/cli would compute, and unwraps to the flag it wraps.
	app := newApp(&Env{Getenv: func(string) string { return "" }})
	check := func(where string, flags []cli.Flag) {
		for _, f := range flags {
			inner := unwrapFlag(f)
			if inner == f {
				t.Errorf("%s: flag %v is not wrapped", where, f.Names())
				continue
			}
			var name string
			var aliases []string
			switch g := inner.(type) {
			case *cli.BoolFlag:
				name, aliases = g.Name, g.Aliases
			case *cli.StringFlag:
				name, aliases = g.Name, g.Aliases
			case *cli.DurationFlag:
				name, aliases = g.Name, g.Aliases
			case *cli.IntFlag:
				name, aliases = g.Name, g.Aliases
			case *cli.GenericFlag:
				name, aliases = g.Name, g.Aliases
			case *cli.StringSliceFlag:
				name, aliases = g.Name, g.Aliases
			default:
				t.Errorf("%s: unwrapped flag %T", where, inner)
			}
			if want := cli.FlagNames(name, aliases); !slices.Equal(f.Names(), want) {
				t.Errorf("%s: names %q, want %q", where, f.Names(), want)
			}
		}
	}
	check("jab", app.Flags)
	var walk func(string, []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			check(prefix+" "+c.Name, c.Flags)
			walk(prefix+" "+c.Name, c.Subcommands)
		}
	}
	walk("jab", app.Commands)
	if got := flagNames("v1, v", nil); !slices.Equal(got, []string{"v1"}) {
		t.Errorf(`flagNames("v1, v") = %q, want cli.FlagNames' ["v1"]`, got)
	}
}
