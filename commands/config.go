package commands

// The global options: the adapter between urfave/cli and package
// settings, which resolves them (flag, environment variable, the config
// file's account table, its top level, the default), and resolve, which
// turns them into what a command needs.

import (
	"context"
	"crypto/x509"
	"os"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/commands/internal/settings"
	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// pathOptions name files or directories: in the config file a leading
// "~/" is the home directory and a relative path is relative to the
// file's directory, not to wherever jab runs.
var pathOptions = []string{flagCAFile, flagPasswordFile, flagStateDir, flagRoomPwFile, flagKeyPassFile}

// flagKind is the type of a flag's value, and of its config key.
func flagKind(f cli.Flag) settings.Kind {
	switch unwrapFlag(f).(type) {
	case *cli.BoolFlag:
		return settings.Bool
	case *cli.DurationFlag:
		return settings.Duration
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
		return settings.Int
	}
	return settings.String
}

// globalOptions describe the global flags to package settings, so that a
// new global flag is a new config key.
func globalOptions() []settings.Option {
	flags := globalFlags()
	opts := make([]settings.Option, 0, len(flags))
	for _, f := range flags {
		name := f.Names()[0]
		opts = append(opts, settings.Option{Name: name, Env: envOf[name], Kind: flagKind(f),
			Path: slices.Contains(pathOptions, name), Command: name == flagRoomPwCmd})
	}
	// The rooms: a config key (per account too) without a global flag,
	// an array of rooms or a table of rooms with settings of their own;
	// listen --room replaces the rooms listen joins.
	return append(opts, settings.Option{Name: optRooms, Env: "JAB_ROOMS", Kind: settings.Rooms},
		// send's encryption (cmd_keys.go): every message of the account,
		// or those to the contacts listed.
		settings.Option{Name: optEncrypt, Env: "JAB_ENCRYPT", Kind: settings.Bool},
		settings.Option{Name: optEncryptTo, Env: "JAB_ENCRYPT_TO", Kind: settings.List})
}

// optRooms is the rooms listen joins when no --room is given, and each
// room's nick and password (a table of rooms).
const optRooms = "rooms"

// layers are the global flags given on c's command line (before or after
// the subcommand name) and the environment.
func layers(c *cli.Context, env *Env) settings.Layers {
	return settings.Layers{
		Options: globalOptions(),
		Flag: func(name string) (any, bool) {
			if x := setIn(c, name); x != nil {
				return x.Value(name), true
			}
			return nil, false
		},
		Getenv: env.Getenv,
	}
}

// loadSettings reads the config file and selects the account: once per
// run, by resolve, config show or completion.
func loadSettings(c *cli.Context, env *Env) (*settings.Settings, error) {
	return settings.Load(layers(c, env))
}

// options are the resolved global options.
type options struct {
	account    session.JID
	password   string
	server     string
	roots      *x509.CertPool
	caFile     string // --ca-file, read by readyForTLS
	warned     bool   // the --insecure-skip-verify warning was printed
	resource   string
	stateDir   string
	timeout    time.Duration
	lockIdle   time.Duration
	debug      bool
	timeoutSet bool
	history    bool // record messages in the history
	historyMax int
	login      loginOptions
	settings   *settings.Settings // where the password is looked up
}

// resolve reads the global options and, with needPassword, then gets
// ready to connect (see readyToConnect). Nothing is contacted and no file
// is written; a missing or bad option is a usage error. A command that
// has flags or arguments of its own resolves without the password, checks
// them, and only then calls readyToConnect, so that a usage error never
// runs a password command or prompts.
func resolve(ctx context.Context, c *cli.Context, env *Env, needPassword bool) (*options, error) {
	// A config file that cannot be read, or an unknown --account, ends
	// the run here.
	s, err := loadSettings(c, env)
	if err != nil {
		return nil, err
	}
	// A string option cannot fail to convert.
	str := func(name string) string { v, _ := settings.Get(s, name, ""); return v }
	o := &options{settings: s, server: str(flagServer), resource: str(flagResource)}
	if o.debug, err = settings.Get(s, flagDebug, false); err != nil {
		return nil, err
	}
	if o.timeout, err = settings.Get(s, flagTimeout, defaultTimeout); err != nil {
		return nil, err
	}
	// A config file only gives defaults: its timeout bounds connecting
	// but does not make listen exit when idle.
	if v, ok := s.Lookup(flagTimeout); ok {
		o.timeoutSet = v.Given()
	}
	if o.timeout == 0 {
		return nil, usagef("", "--timeout must be positive")
	}
	if o.lockIdle, err = settings.Get(s, flagLockIdle, defaultLockIdle); err != nil {
		return nil, err
	}
	noHistory, err := settings.Get(s, flagNoHistory, false)
	if err != nil {
		return nil, err
	}
	o.history = !noHistory
	if o.historyMax, err = settings.Get(s, flagHistoryMax, statefile.DefaultHistoryMax); err != nil {
		return nil, err
	}
	if o.historyMax < 1 {
		return nil, usagef("turn history off with --no-history instead", "--history-max must be at least 1")
	}
	jid := str(flagJID)
	if jid == "" {
		return nil, usagef("pass --jid or set JAB_JID", "no account given")
	}
	if o.account, err = session.ParseJID(jid); err != nil {
		return nil, usagef("an account looks like user@example.org", "--jid: %w", err)
	}
	if o.account.Local == "" {
		return nil, usagef("an account looks like user@example.org", "--jid %q has no local part", jid)
	}
	if o.resource != "" {
		if _, err := session.ParseJID("x@y/" + o.resource); err != nil {
			return nil, usagef("", "--resource %q is not a valid resource", o.resource)
		}
	}
	if o.stateDir = str(flagStateDir); o.stateDir == "" {
		if o.stateDir, err = statefile.DefaultDir(env.Getenv); err != nil {
			return nil, usagef("pass --state-dir or set JAB_STATE_DIR", "%w", err)
		}
	}
	o.caFile = str(flagCAFile)
	if o.login, err = newLoginOptions(s); err != nil {
		return nil, err
	}
	if needPassword {
		if err := o.readyToConnect(ctx, c, env); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func loadCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("", "read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, usagef("the file must hold PEM 'CERTIFICATE' blocks", "CA file %q has no certificate", path)
	}
	return pool, nil
}

// sessionEnv opens the state directory and, unless history is off, the
// history.
func (o *options) sessionEnv(env *Env) (session.Env, error) {
	store, err := statefile.Open(o.stateDir)
	if err != nil {
		return session.Env{}, err
	}
	senv := session.Env{Store: store, Now: env.Now, Host: env.Host}
	if o.debug {
		senv.Debug = env.Stderr
	}
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
	if store, err := statefile.Open(o.stateDir); err == nil {
		// The server's channel binding record (session.BindingMemo).
		cfg.Bindings = store
	}
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
