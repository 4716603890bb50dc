package commands

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/commands/internal/settings"
	"github.com/jab-xmpp/jab/commands/internal/suggest"
	"github.com/jab-xmpp/jab/statefile"
)

// Version is set at build time with -ldflags "-X …commands.Version=…".
var Version = "dev"

// Global option names and their environment variables. Package settings
// gives the first five a meaning of their own.
const (
	flagConfig       = settings.OptConfig
	flagAccount      = settings.OptAccount
	flagJID          = settings.OptJID
	flagPasswordFile = settings.OptPasswordFile
	flagPasswordCmd  = settings.OptPasswordCmd
	flagServer       = "server"
	flagCAFile       = "ca-file"
	flagResource     = "resource"
	flagStateDir     = "state-dir"
	flagTimeout      = "timeout"
	flagLockIdle     = "lock-idle"
	flagDebug        = "debug"
	flagNoHistory    = "no-history"
	flagHistoryMax   = "history-max"
	flagDirectTLS    = "direct-tls"
	flagTLSMin       = "tls-min"
	flagNoPlain      = "no-plain"
	flagNoFAST       = "no-fast"
	flagBinding      = "channel-binding"
	flagNoHandoff    = "no-handoff"
	flagInsecure     = "insecure-skip-verify"
	flagNick         = "nick"
	flagRoomPwFile   = "room-password-file"
	flagRoomPwCmd    = "room-password-cmd"
	flagKeyPassFile  = "key-passphrase-file"
	flagKeyPassCmd   = "key-passphrase-cmd"
	flagTrust        = "trust"
)

var envOf = map[string]string{
	flagJID:          "JAB_JID",
	flagPasswordFile: "JAB_PASSWORD_FILE",
	flagPasswordCmd:  "JAB_PASSWORD_CMD",
	flagServer:       "JAB_SERVER",
	flagCAFile:       "JAB_CA_FILE",
	flagResource:     "JAB_RESOURCE",
	flagStateDir:     "JAB_STATE_DIR",
	flagLockIdle:     "JAB_LOCK_IDLE",
	flagTimeout:      "JAB_TIMEOUT",
	flagDebug:        "JAB_DEBUG",
	flagNoHistory:    "JAB_NO_HISTORY",
	flagHistoryMax:   "JAB_HISTORY_MAX",
	flagConfig:       "JAB_CONFIG",
	flagAccount:      "JAB_ACCOUNT",
	flagDirectTLS:    "JAB_DIRECT_TLS",
	flagTLSMin:       "JAB_TLS_MIN",
	flagNoPlain:      "JAB_NO_PLAIN",
	flagNoFAST:       "JAB_NO_FAST",
	flagBinding:      "JAB_CHANNEL_BINDING",
	flagNoHandoff:    "JAB_NO_HANDOFF",
	flagInsecure:     "JAB_INSECURE_SKIP_VERIFY",
	flagNick:         "JAB_NICK",
	flagRoomPwFile:   "JAB_ROOM_PASSWORD_FILE",
	flagRoomPwCmd:    "JAB_ROOM_PASSWORD_CMD",
	flagKeyPassFile:  "JAB_KEY_PASSPHRASE_FILE",
	flagKeyPassCmd:   "JAB_KEY_PASSPHRASE_CMD",
	flagTrust:        "JAB_TRUST",
}

const (
	defaultTimeout  = 30 * time.Second
	defaultLockIdle = 15 * time.Minute
)

// globalFlags are accepted before or after the subcommand name. They carry
// no EnvVars: the environment is read through Env.Getenv in resolve, so
// tests can inject it.
// They are made once and shared by every command (a run builds the whole
// app, and these were a fifth of a hand-off's page faults): urfave/cli
// keeps no state in a flag without EnvVars, so one flag can be applied to
// each command's flag set. Callers must not modify them.
var globalFlags = sync.OnceValue(makeGlobalFlags)

func makeGlobalFlags() []cli.Flag {
	e := func(name string) string { return " (env " + envOf[name] + ")" }
	return []cli.Flag{
		&cli.StringFlag{Name: flagConfig, Usage: "read the config file `FILE` (default $XDG_CONFIG_HOME/jab/config.toml or ~/.config/jab/config.toml)" + e(flagConfig)},
		&cli.StringFlag{Name: flagAccount, Usage: "use the config file's [accounts.`NAME`] table; a JID selects the table with that jid, or none" + e(flagAccount)},
		&cli.StringFlag{Name: flagJID, Usage: "account `JID`" + e(flagJID)},
		&cli.StringFlag{Name: flagPasswordFile, Usage: "read the password from the first line of `FILE`" + e(flagPasswordFile)},
		&cli.StringFlag{Name: flagPasswordCmd, Usage: "run `CMD` with sh -c; the first line of its output is the password" + e(flagPasswordCmd)},
		&cli.StringFlag{Name: flagServer, Usage: "connect to `HOST:PORT` instead of the JID's domain (SRV lookup otherwise)" + e(flagServer)},
		&cli.StringFlag{Name: flagCAFile, Usage: "also trust the CA certificates in PEM `FILE`" + e(flagCAFile)},
		&cli.BoolFlag{Name: flagDirectTLS, Usage: "TLS from the first byte (XEP-0368; port 5223, SRV _xmpps-client) instead of STARTTLS" + e(flagDirectTLS)},
		&cli.StringFlag{Name: flagTLSMin, Usage: "lowest TLS `VERSION` accepted: 1.2 (default) or 1.3" + e(flagTLSMin)},
		&cli.BoolFlag{Name: flagNoPlain, Usage: "refuse SASL PLAIN even inside TLS (SCRAM only)" + e(flagNoPlain)},
		&cli.StringFlag{Name: flagBinding, Usage: "TLS channel binding of SCRAM logins: `MODE` auto (default), tls-exporter, tls-unique (TLS 1.2) or none (warns)" + e(flagBinding)},
		&cli.BoolFlag{Name: flagNoFAST, Usage: "neither use nor store a FAST login token (XEP-0484), even where the server offers it" + e(flagNoFAST)},
		&cli.BoolFlag{Name: flagNoHandoff, Usage: "send always logs in itself, even when a jab listen or repl of the account runs on this machine (no hand-off to it)" + e(flagNoHandoff)},
		&cli.BoolFlag{Name: flagInsecure, Usage: "DANGEROUS: do not verify the server's certificate (warns on every run)" + e(flagInsecure)},
		&cli.StringFlag{Name: flagResource, Usage: "resource `NAME` of the long-running observer (listen); default: a stable name kept in the state file" + e(flagResource)},
		&cli.StringFlag{Name: flagStateDir, Usage: "state directory `DIR` (default $XDG_STATE_HOME/jab or ~/.local/state/jab)" + e(flagStateDir)},
		&cli.DurationFlag{Name: flagTimeout, Value: defaultTimeout, Usage: "bound for connecting and for every wait" + e(flagTimeout)},
		&cli.DurationFlag{Name: flagLockIdle, Value: defaultLockIdle, Usage: "unlock a conversation idle this long (XEP-0296 §3.2); 0 disables" + e(flagLockIdle)},
		&cli.BoolFlag{Name: flagNoHistory, Usage: "do not record messages in the history (threads still work)" + e(flagNoHistory)},
		&cli.IntFlag{Name: flagHistoryMax, Value: statefile.DefaultHistoryMax, Usage: "keep at most `N` history records, pruning the oldest" + e(flagHistoryMax)},
		&cli.StringFlag{Name: flagNick, Usage: "nick `NAME` in group chat rooms (default: the JID's local part)" + e(flagNick)},
		&cli.StringFlag{Name: flagRoomPwFile, Usage: "read the room password from the first line of `FILE` (send --room)" + e(flagRoomPwFile)},
		&cli.StringFlag{Name: flagRoomPwCmd, Usage: "run `CMD` with sh -c; the first line of its output is the room password (send --room)" + e(flagRoomPwCmd)},
		&cli.StringFlag{Name: flagKeyPassFile, Usage: "read the OpenPGP key passphrase from the first line of `FILE` (jab keys, send --encrypt, listen)" + e(flagKeyPassFile)},
		&cli.StringFlag{Name: flagKeyPassCmd, Usage: "run `CMD` with sh -c; the first line of its output is the OpenPGP key passphrase" + e(flagKeyPassCmd)},
		&cli.StringFlag{Name: flagTrust, Usage: "OpenPGP trust `MODE`: first-use (pin a contact's first keys, the default) or always (trust only keys given to jab keys trust)" + e(flagTrust)},
		&cli.BoolFlag{Name: flagDebug, Usage: "print the XML stream on stderr (SEND/RECV; SASL and passwords redacted)" + e(flagDebug)},
	}
}

func newApp(env *Env) *cli.App {
	app := &cli.App{
		Name:            "jab",
		Usage:           "a scriptable XMPP client that keeps resource locks (XEP-0296) and threads (XEP-0201) between runs",
		Version:         versionString(),
		Description:     appDescription,
		Reader:          env.Stdin,
		Writer:          env.Stdout,
		ErrWriter:       env.Stderr,
		Flags:           slices.Clone(globalFlags()),
		HideHelpCommand: true,
		// urfave/cli's default handler calls os.Exit from inside Run; Run
		// maps errors to exit codes itself.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
		Commands: []*cli.Command{
			sendCommand(env),
			listenCommand(env),
			replCommand(env),
			threadsCommand(env),
			rawCommand(env),
			rosterCommand(env),
			configCommand(env),
			completionCommand(env),
			manCommand(env),
			keysCommand(env),
		},
		CommandNotFound: func(c *cli.Context, name string) {},
		// urfave/cli runs the command, not the completion, when "--" is
		// among the arguments; the completion scripts never ask after
		// "--", and this refuses a request that still gets here rather than
		// sending its words as a message.
		Before: func(c *cli.Context) error {
			if args := c.Args().Slice(); len(args) > 0 && args[len(args)-1] == completionFlag {
				return usagef("", "nothing to complete after --")
			}
			return nil
		},
	}
	app.Action = func(c *cli.Context) error {
		if c.Args().Present() {
			return unknownCommand(c, "")
		}
		return cli.ShowAppHelp(c)
	}
	// A command with subcommands but no action of its own would print
	// its help and exit 0 for a mistyped subcommand.
	walkCommands(app.Commands, "", func(path string, cmd *cli.Command) {
		if len(cmd.Subcommands) > 0 && cmd.Action == nil {
			cmd.Action = func(c *cli.Context) error {
				if c.Args().Present() {
					return unknownCommand(c, strings.TrimSpace(path))
				}
				return cli.ShowSubcommandHelp(c)
			}
		}
	})
	installCompletion(env, app)
	cacheFlagNames(app)
	return app
}

// unknownCommand is the usage error for a mistyped (sub)command of
// parent ("" for jab itself), with the closest command as a hint.
func unknownCommand(c *cli.Context, parent string) error {
	name := c.Args().First()
	var names []string
	for _, cmd := range c.Command.Subcommands {
		if !cmd.Hidden && cmd.Name != "help" {
			names = append(names, cmd.Name)
		}
	}
	help := strings.TrimSpace("jab " + parent)
	hint := "run '" + help + " --help' for the list of commands"
	if m := closestName(names, name); m != "" {
		hint = fmt.Sprintf("did you mean %q?", m)
	}
	if parent != "" {
		return syntaxf(hint, "unknown %s command %q", parent, name)
	}
	return syntaxf(hint, "unknown command %q", name)
}

// closestName is the command or flag name closest to a mistyped one, or
// "" (see suggest.Closest).
var closestName = suggest.Closest

// flagError turns urfave/cli's flag parsing error into a usage error: an
// unknown flag gets the closest flag of the command as a hint.
func flagError(c *cli.Context, err error) error {
	help := "jab"
	if c.Command != nil && c.Command.HelpName != "" {
		help = c.Command.HelpName
	}
	hint := "see '" + help + " --help'"
	// Go's flag package: "flag provided but not defined: -NAME".
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok {
		return syntaxf(hint, "%w", err)
	}
	if c.Command != nil {
		var names []string
		for _, f := range c.Command.VisibleFlags() {
			for _, n := range f.Names() {
				if len(n) > 1 {
					names = append(names, n)
				}
			}
		}
		if m := closestName(names, name); m != "" {
			hint = fmt.Sprintf("did you mean %q?", dashed(m))
		}
	}
	return syntaxf(hint, "unknown flag %s", dashed(name))
}

// commandFlags adds the global flags to a subcommand's own.
func commandFlags(own ...cli.Flag) []cli.Flag {
	return append(own[:len(own):len(own)], globalFlags()...)
}

// onUsageError is every command's OnUsageError: see flagError.
func onUsageError(c *cli.Context, err error, _ bool) error {
	return flagError(c, err)
}

// buildInfo is read once; it cannot change while the process runs.
var buildInfo = sync.OnceValues(debug.ReadBuildInfo)

// versionString is what --version prints after "jab version": Version
// (set by -ldflags, see the Makefile) and the commit the binary was built
// from when the go command recorded one.
func versionString() string {
	info, ok := buildInfo()
	if !ok {
		return Version
	}
	return formatVersion(Version, info)
}

func formatVersion(version string, info *debug.BuildInfo) string {
	var rev string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		// go install example.org/jab@v1.2.3 records the module version
		// but no commit.
		if v := info.Main.Version; version == "dev" && v != "" && v != "(devel)" {
			return v
		}
		return version
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified {
		return fmt.Sprintf("%s (commit %s, modified)", version, rev)
	}
	return fmt.Sprintf("%s (commit %s)", version, rev)
}

// setIn returns the innermost context in which the flag was given, or nil.
// Global flags are defined at both levels; urfave/cli would otherwise read
// the unset subcommand copy.
func setIn(c *cli.Context, name string) *cli.Context {
	for _, x := range c.Lineage() {
		if slices.Contains(x.LocalFlagNames(), name) {
			return x
		}
	}
	return nil
}

// readAllStdin reads the whole of stdin; on a terminal it first says how
// to end the input. A signal ends the wait (the read itself cannot be
// interrupted, so it is left behind in its goroutine).
func readAllStdin(ctx context.Context, env *Env) (string, error) {
	if env.StdinTTY {
		fmt.Fprintln(env.Stderr, "jab: reading the message from the terminal; end it with Ctrl-D")
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(bufio.NewReader(env.Stdin))
		done <- result{data, err}
	}()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case r := <-done:
		if r.err != nil {
			return "", fmt.Errorf("read stdin: %w", r.err)
		}
		return string(r.data), nil
	}
}
