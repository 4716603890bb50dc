package commands

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// urfave/cli computes a flag's names anew at every call of Names, with a
// regular expression (cli.FlagNames), and before each command's action it
// asks, for every flag, whether any flag of that name is set: a lookup
// through all the flags. With the global flags on every command that is
// thousands of regular-expression runs per invocation, about 0.4 ms of
// a 6 ms hand-off (perf record, issue 11). The wrappers below answer
// Names from a slice made once; everything else is the embedded flag's.
// Code that switches on a flag's concrete type unwraps it first
// (unwrapFlag).

type (
	namedBoolFlag struct {
		*cli.BoolFlag
		origFlag
		names []string
	}
	namedStringFlag struct {
		*cli.StringFlag
		origFlag
		names []string
	}
	namedDurationFlag struct {
		*cli.DurationFlag
		origFlag
		names []string
	}
	namedIntFlag struct {
		*cli.IntFlag
		origFlag
		names []string
	}
	namedGenericFlag struct {
		*cli.GenericFlag
		origFlag
		names []string
	}
	namedStringSliceFlag struct {
		*cli.StringSliceFlag
		origFlag
		names []string
	}
)

func (f namedBoolFlag) Names() []string        { return f.names }
func (f namedStringFlag) Names() []string      { return f.names }
func (f namedDurationFlag) Names() []string    { return f.names }
func (f namedIntFlag) Names() []string         { return f.names }
func (f namedGenericFlag) Names() []string     { return f.names }
func (f namedStringSliceFlag) Names() []string { return f.names }

// cacheFlagNames wraps the flags of the app and of every command, hidden
// ones included, so that their names are computed once.
// A flag shared by several commands (the global ones) gets one wrapper.
func cacheFlagNames(app *cli.App) {
	made := map[cli.Flag]cli.Flag{}
	named := func(flags []cli.Flag) []cli.Flag {
		out := make([]cli.Flag, len(flags))
		for i, f := range flags {
			if made[f] == nil {
				made[f] = namedFlag(f)
			}
			out[i] = made[f]
		}
		return out
	}
	app.Flags = named(app.Flags)
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, cmd := range cmds {
			cmd.Flags = named(cmd.Flags)
			walk(cmd.Subcommands)
		}
	}
	walk(app.Commands)
}

func namedFlag(f cli.Flag) cli.Flag {
	switch f := f.(type) {
	case *cli.BoolFlag:
		return namedBoolFlag{f, origFlag{f}, flagNames(f.Name, f.Aliases)}
	case *cli.StringFlag:
		return namedStringFlag{f, origFlag{f}, flagNames(f.Name, f.Aliases)}
	case *cli.DurationFlag:
		return namedDurationFlag{f, origFlag{f}, flagNames(f.Name, f.Aliases)}
	case *cli.IntFlag:
		return namedIntFlag{f, origFlag{f}, flagNames(f.Name, f.Aliases)}
	case *cli.GenericFlag:
		return namedGenericFlag{f, origFlag{f}, flagNames(f.Name, f.Aliases)}
	case *cli.StringSliceFlag:
		return namedStringSliceFlag{f, origFlag{f}, flagNames(f.Name, f.Aliases)}
	}
	return f
}

// flagNames is cli.FlagNames without its regular expression, which cuts
// a name at its first comma or space (urfave/cli v1's "name, n" form):
// jab's flag names have neither.
func flagNames(name string, aliases []string) []string {
	names := make([]string, 0, 1+len(aliases))
	for _, n := range append([]string{name}, aliases...) {
		if i := strings.IndexAny(n, ", "); i >= 0 {
			n = n[:i]
		}
		names = append(names, n)
	}
	return names
}

// origFlag keeps the flag a wrapper wraps.
type origFlag struct{ orig cli.Flag }

func (o origFlag) unwrap() cli.Flag { return o.orig }

// unwrapFlag is the flag urfave/cli made, for a switch on its type.
func unwrapFlag(f cli.Flag) cli.Flag {
	if w, ok := f.(interface{ unwrap() cli.Flag }); ok {
		return w.unwrap()
	}
	return f
}
