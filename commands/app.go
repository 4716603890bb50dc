package commands

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// Version is set at build time with -ldflags "-X …commands.Version=…".
var Version = "dev"

// Global option names and their environment variables.
const (
	flagJID          = "jid"
	flagPasswordFile = "password-file"
	flagPasswordCmd  = "password-cmd"
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
	flagInsecure     = "insecure-skip-verify"
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
	flagInsecure:     "JAB_INSECURE_SKIP_VERIFY",
}

const (
	defaultTimeout  = 30 * time.Second
	defaultLockIdle = 15 * time.Minute
)

// globalFlags are accepted before or after the subcommand name. They carry
// no EnvVars: the environment is read through Env.Getenv in resolve, so
// tests can inject it.
func globalFlags() []cli.Flag {
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
		&cli.BoolFlag{Name: flagNoFAST, Usage: "neither use nor store a FAST login token (XEP-0484), even where the server offers it" + e(flagNoFAST)},
		&cli.BoolFlag{Name: flagInsecure, Usage: "DANGEROUS: do not verify the server's certificate (warns on every run)" + e(flagInsecure)},
		&cli.StringFlag{Name: flagResource, Usage: "resource `NAME` of the long-running observer (listen); default: a stable name kept in the state file" + e(flagResource)},
		&cli.StringFlag{Name: flagStateDir, Usage: "state directory `DIR` (default $XDG_STATE_HOME/jab or ~/.local/state/jab)" + e(flagStateDir)},
		&cli.DurationFlag{Name: flagTimeout, Value: defaultTimeout, Usage: "bound for connecting and for every wait" + e(flagTimeout)},
		&cli.DurationFlag{Name: flagLockIdle, Value: defaultLockIdle, Usage: "unlock a conversation idle this long (XEP-0296 §3.2); 0 disables" + e(flagLockIdle)},
		&cli.BoolFlag{Name: flagNoHistory, Usage: "do not record messages in the history (threads still work)" + e(flagNoHistory)},
		&cli.IntFlag{Name: flagHistoryMax, Value: statefile.DefaultHistoryMax, Usage: "keep at most `N` history records, pruning the oldest" + e(flagHistoryMax)},
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
		Flags:           globalFlags(),
		HideHelpCommand: true,
		// urfave/cli's default handler calls os.Exit from inside Run; Run
		// maps errors to exit codes itself.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return flagError(c, err)
		},
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
// "": one it begins, else the nearest within an edit distance of a third
// of its length (at least 2, so a swapped pair of letters is found); ties
// go to the longer common prefix.
func closestName(names []string, typed string) string {
	if typed == "" {
		return ""
	}
	limit := max(2, len([]rune(typed))/3)
	best, bestDist, bestCommon := "", limit+1, -1
	for _, n := range names {
		d := distance(typed, n)
		if strings.HasPrefix(n, typed) {
			d = 0
		}
		if d > limit {
			continue
		}
		common := 0
		for common < len(n) && common < len(typed) && n[common] == typed[common] {
			common++
		}
		if d < bestDist || (d == bestDist && common > bestCommon) {
			best, bestDist, bestCommon = n, d, common
		}
	}
	return best
}

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
		return syntaxf(hint, "%v", err)
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
	return append(own, globalFlags()...)
}

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

// options are the resolved global options.
type options struct {
	account    session.JID
	password   string
	server     string
	roots      *x509.CertPool
	resource   string
	stateDir   string
	timeout    time.Duration
	lockIdle   time.Duration
	debug      bool
	timeoutSet bool
	history    bool // record messages in the history
	historyMax int
	login      loginOpts
}

// sessionEnv opens the state directory and, unless history is off, the
// history.
func (o *options) sessionEnv(env *Env) (session.Env, error) {
	store, err := statefile.Open(o.stateDir)
	if err != nil {
		return session.Env{}, err
	}
	senv := session.Env{Store: store, Now: env.Now, Host: env.Host}
	if o.history {
		senv.History = store.History(o.historyMax)
	}
	return senv, nil
}

func (o *options) sessionConfig(env *Env, resource string) session.Config {
	cfg := session.Config{JID: o.account, Password: o.password, Server: o.server, ExtraCAs: o.roots,
		Resource: resource, Timeout: o.timeout}
	o.login.apply(&cfg)
	if o.debug {
		cfg.Debug = env.Stderr
	}
	cfg.Now = env.Now
	if !o.login.noFAST {
		// The token file lives in the state directory. If it cannot be
		// opened the command itself reports that when it opens its
		// state; the login just goes without a token.
		if store, err := statefile.Open(o.stateDir); err == nil {
			cfg.FAST = store
		}
	}
	return cfg
}

// stringOpt reads a string global option: the flag, its environment
// variable, the config file's account table, its top level (see
// lookupOpt), else "". resolve reports a config file that cannot be read;
// here it counts as none.
func stringOpt(c *cli.Context, env *Env, name string) string {
	ov, ok := lookupOpt(c, env, name)
	if !ok {
		return ""
	}
	if s, ok := ov.v.(string); ok {
		return s
	}
	return fmt.Sprint(ov.v)
}

// boolOpt reads a boolean global option: the flag, else its environment
// variable (any strconv.ParseBool form), else the config file, else false.
func boolOpt(c *cli.Context, env *Env, name string) (bool, error) {
	if _, err := configFor(c, env); err != nil {
		return false, err
	}
	ov, ok := lookupOpt(c, env, name)
	if !ok {
		return false, nil
	}
	switch v := ov.v.(type) {
	case bool:
		return v, nil
	case string:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, usagef("use 1 or 0", "%s=%q is not a boolean", envOf[name], v)
		}
		return b, nil
	}
	return false, nil
}

// durationOpt reads a duration global option: the flag, its environment
// variable, the config file, else def. set tells whether the flag or the
// environment gave it: a config file only gives defaults, so its timeout
// bounds connecting but does not make listen exit when idle.
func durationOpt(c *cli.Context, env *Env, name string, def time.Duration) (time.Duration, bool, error) {
	if _, err := configFor(c, env); err != nil {
		return 0, false, err
	}
	ov, ok := lookupOpt(c, env, name)
	if !ok {
		return def, false, nil
	}
	switch v := ov.v.(type) {
	case time.Duration:
		if v < 0 {
			return 0, true, usagef("", "--%s must not be negative", name)
		}
		return v, ov.from == fromFlag, nil
	case string:
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, true, usagef("use a Go duration such as 30s or 15m", "%s=%q is not a valid duration", envOf[name], v)
		}
		return d, true, nil
	}
	return def, false, nil
}

// resolve reads the global options and, with needPassword, then gets
// ready to connect (see readyToConnect). Nothing is contacted and no file
// is written; a missing or bad option is a usage error. A command that
// has flags or arguments of its own resolves without the password, checks
// them, and only then calls readyToConnect, so that a usage error never
// runs a password command or prompts.
func resolve(ctx context.Context, c *cli.Context, env *Env, needPassword bool) (*options, error) {
	// A config file that cannot be read, or an unknown --account, ends
	// the run here; later lookups use the cached result.
	if _, err := configFor(c, env); err != nil {
		return nil, err
	}
	o := &options{server: stringOpt(c, env, flagServer), resource: stringOpt(c, env, flagResource)}
	var err error
	if o.debug, err = boolOpt(c, env, flagDebug); err != nil {
		return nil, err
	}
	if o.timeout, o.timeoutSet, err = durationOpt(c, env, flagTimeout, defaultTimeout); err != nil {
		return nil, err
	}
	if o.timeout == 0 {
		return nil, usagef("", "--timeout must be positive")
	}
	if o.lockIdle, _, err = durationOpt(c, env, flagLockIdle, defaultLockIdle); err != nil {
		return nil, err
	}
	noHistory, err := boolOpt(c, env, flagNoHistory)
	if err != nil {
		return nil, err
	}
	o.history = !noHistory
	if o.historyMax, err = intOpt(c, env, flagHistoryMax, statefile.DefaultHistoryMax); err != nil {
		return nil, err
	}
	if o.historyMax < 1 {
		return nil, usagef("turn history off with --no-history instead", "--history-max must be at least 1")
	}
	jid := stringOpt(c, env, flagJID)
	if jid == "" {
		return nil, usagef("pass --jid or set JAB_JID", "no account given")
	}
	if o.account, err = session.ParseJID(jid); err != nil {
		return nil, usagef("an account looks like user@example.org", "--jid: %v", err)
	}
	if o.account.Local == "" {
		return nil, usagef("an account looks like user@example.org", "--jid %q has no local part", jid)
	}
	if o.resource != "" {
		if _, err := session.ParseJID("x@y/" + o.resource); err != nil {
			return nil, usagef("", "--resource %q is not a valid resource", o.resource)
		}
	}
	if o.stateDir = stringOpt(c, env, flagStateDir); o.stateDir == "" {
		if o.stateDir, err = statefile.DefaultDir(env.Getenv); err != nil {
			return nil, usagef("pass --state-dir or set JAB_STATE_DIR", "%v", err)
		}
	}
	if ca := stringOpt(c, env, flagCAFile); ca != "" {
		if o.roots, err = loadCA(ca); err != nil {
			return nil, err
		}
	}
	// The --insecure-skip-verify warning is readyToConnect's.
	if err := loginOptions(c, env, o, false); err != nil {
		return nil, err
	}
	if needPassword {
		if err := o.readyToConnect(ctx, c, env); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// readyToConnect is the last step before a command connects, once its
// flags and arguments are checked: the --insecure-skip-verify warning,
// then the password, which may run a command or prompt.
func (o *options) readyToConnect(ctx context.Context, c *cli.Context, env *Env) error {
	if o.login.insecure {
		fmt.Fprintln(env.Stderr, insecureWarning)
	}
	var err error
	o.password, err = password(ctx, c, env, o.timeout)
	return err
}

func loadCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("", "read CA file: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, usagef("the file must hold PEM 'CERTIFICATE' blocks", "CA file %q has no certificate", path)
	}
	return pool, nil
}

// password finds the password: --password-cmd, --password-file,
// JAB_PASSWORD, JAB_PASSWORD_FILE, JAB_PASSWORD_CMD, then the config
// file's account table and its top level (password_cmd, password_file,
// password each), then the system keyring (secret-tool), then a no-echo
// prompt on a terminal (see findPassword). There is deliberately no flag
// that takes the password itself (it would show in ps and shell history).
func password(ctx context.Context, c *cli.Context, env *Env, timeout time.Duration) (string, error) {
	return findPassword(ctx, c, env, timeout)
}

// passwordFromFile reads the first line of a password file, which no one
// else may read (as ssh insists for a private key).
func passwordFromFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", usagef("", "read password file: %v", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return "", usagef("", "read password file: %v", err)
	}
	if err := checkSecretMode("password file", path, fi); err != nil {
		return "", err
	}
	data, err := io.ReadAll(fh)
	if err != nil {
		return "", usagef("", "read password file: %v", err)
	}
	p, _, _ := strings.Cut(string(data), "\n")
	p = strings.TrimSuffix(p, "\r")
	if p == "" {
		return "", usagef("", "password file %q is empty", path)
	}
	return p, nil
}

// passwordCmdWaitDelay bounds the wait for a password command's output
// once it has exited or been killed: a background child may hold it.
const passwordCmdWaitDelay = time.Second

// passwordFromCmd runs the command with sh -c, bounded by --timeout: on
// expiry its whole process group is killed, and a child that escaped the
// group and holds stdout is waited for no longer than
// passwordCmdWaitDelay.
func passwordFromCmd(ctx context.Context, env *Env, command string, timeout time.Duration) (string, error) {
	line, err := firstLineOf(ctx, timeout, env.Stderr, "sh", "-c", command)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "", usagef("raise --timeout if the command needs longer", "password command timed out after %s", timeout)
	case err != nil:
		return "", usagef("", "password command failed: %v", err)
	case line == "":
		return "", usagef("", "password command printed nothing")
	}
	return line, nil
}

// firstLineOf runs a command in a process group of its own, bounded by
// timeout (the group is killed), and returns the first line of its
// stdout. A command that exited 0 but left a child holding stdout (cut off
// by WaitDelay or the timeout) has printed what it meant to. A timeout is
// reported as context.DeadlineExceeded.
func firstLineOf(ctx context.Context, timeout time.Duration, stderr io.Writer, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = stderr
	setProcessGroup(cmd)
	cmd.WaitDelay = passwordCmdWaitDelay
	out, err := cmd.Output()
	if err != nil && !(cmd.ProcessState != nil && cmd.ProcessState.Success()) {
		if ctx.Err() == context.DeadlineExceeded {
			return "", context.DeadlineExceeded
		}
		return "", err
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSuffix(line, "\r"), nil
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
