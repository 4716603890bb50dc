package commands

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/commands/internal/settings"
	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// appDescription is the DESCRIPTION of 'jab --help': where options and
// the password come from.
const appDescription = `Each global option is taken from its flag, else its environment variable, else
the config file (the selected [accounts.NAME] table, then the top-level keys),
else the built-in default; 'jab config show' prints what is in force.

The password comes from the first source set, in this order: --password-cmd,
--password-file, JAB_PASSWORD, JAB_PASSWORD_FILE, JAB_PASSWORD_CMD, the config
file's account table and then its top level (password_cmd, password_file,
password in each), the system keyring (secret-tool, when installed), and last a
no-echo prompt when stdin is a terminal. No flag takes the password itself.`

func configCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "show the settings in force, or write a starter config file",
		Subcommands: []*cli.Command{
			configShowCommand(env),
			configInitCommand(env),
		},
		OnUsageError: onUsageError,
	}
}

type configShowOptions struct {
	json bool
}

func configShowCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "show",
		Usage: "print every global option's effective value and where it came from",
		Description: `Prints one line per global option: the config file key, the value in force and
its source: flag, env JAB_X, config FILE [accounts.NAME], config FILE, or
default. The password is never shown: it is ******** or "(from password_cmd)".
Nothing is run and nothing is contacted: the password command is not run.`,
		Flags:        commandFlags(&cli.BoolFlag{Name: "json", Usage: "one JSON object per option: {\"key\":…,\"value\":…,\"source\":…}"}),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("see 'jab config show --help'", "config show takes no arguments")
			}
			return runConfigShow(c, env, configShowOptions{json: c.Bool("json")})
		},
	}
}

// setting is one line of jab config show.
type setting struct {
	Key    string `json:"key"`
	Value  any    `json:"value"`
	Source string `json:"source"`
}

// maskedPassword stands for a password in jab config show.
const maskedPassword = "********"

// effectiveSettings lists every global option with its value and source,
// in the order of globalFlags, the password after password_cmd. Nothing
// is run or read but the config file.
func effectiveSettings(c *cli.Context, env *Env) ([]setting, error) {
	s, err := loadSettings(c, env)
	if err != nil {
		return nil, err
	}
	path, cfgSrc := s.ConfigPath()
	if s.File() == nil {
		cfgSrc += " (no such file)"
	}
	out := []setting{{Key: "config", Value: path, Source: cfgSrc}}
	account, accountSrc := s.Account()
	if accountSrc == "" {
		accountSrc = "default"
	}
	out = append(out, setting{Key: "account", Value: account, Source: accountSrc})
	for _, f := range globalFlags() {
		name := f.Names()[0]
		if name == flagConfig || name == flagAccount {
			continue
		}
		key := settings.Key(name)
		if v, ok := s.Lookup(name); ok {
			out = append(out, setting{Key: key, Value: showValue(v, flagKind(f)), Source: v.Source})
		} else {
			out = append(out, setting{Key: key, Value: builtinDefault(f, env), Source: "default"})
		}
		if name == flagPasswordCmd {
			out = append(out, passwordSetting(env, s))
		}
	}
	return out, nil
}

// passwordSetting is the password's line: masked, or the source it would
// come from.
func passwordSetting(env *Env, s *settings.Settings) setting {
	jid, _ := settings.Get(s, flagJID, "")
	if p, ok := s.Password(jid); ok {
		v := maskedPassword
		if p.Kind != settings.KeyPassword {
			v = "(from " + p.Kind + ")"
		}
		return setting{Key: settings.KeyPassword, Value: v, Source: p.Source}
	}
	if lookPath(env, "secret-tool") != "" {
		return setting{Key: settings.KeyPassword, Value: "(from the keyring, else a prompt on a terminal)", Source: "keyring"}
	}
	if env.StdinTTY {
		return setting{Key: settings.KeyPassword, Value: "(prompt)", Source: "prompt"}
	}
	return setting{Key: settings.KeyPassword, Value: "(none)", Source: "default"}
}

// showValue is a value as jab config show prints it: typed as the option
// is (a duration as its string), an environment value parsed when it
// parses and shown as given when not.
func showValue(v settings.Value, kind settings.Kind) any {
	switch x := v.V.(type) {
	case time.Duration:
		return x.String()
	case string:
		if v.From != settings.FromEnv {
			return x
		}
		switch kind {
		case settings.Bool:
			if b, err := strconv.ParseBool(x); err == nil {
				return b
			}
		case settings.Int:
			if n, err := strconv.Atoi(x); err == nil {
				return n
			}
		case settings.Duration:
			if d, err := time.ParseDuration(x); err == nil {
				return d.String()
			}
		}
		return x
	}
	return v.V
}

// builtinDefault is a flag's built-in default; for --state-dir the directory
// it stands for.
func builtinDefault(f cli.Flag, env *Env) any {
	switch f := unwrapFlag(f).(type) {
	case *cli.StringFlag:
		if f.Name == flagStateDir {
			if d, err := statefile.DefaultDir(env.Getenv); err == nil {
				return d
			}
		}
		return f.Value
	case *cli.BoolFlag:
		return f.Value
	case *cli.DurationFlag:
		return f.Value.String()
	case *cli.IntFlag:
		return f.Value
	}
	if g, ok := f.(cli.DocGenerationFlag); ok {
		return g.GetValue()
	}
	return ""
}

func runConfigShow(c *cli.Context, env *Env, opts configShowOptions) error {
	settings, err := effectiveSettings(c, env)
	if err != nil {
		return err
	}
	if opts.json {
		enc := json.NewEncoder(env.Stdout)
		for _, s := range settings {
			if err := enc.Encode(s); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	for _, s := range settings {
		v := fmt.Sprint(s.Value)
		if str, ok := s.Value.(string); ok && !strings.HasPrefix(str, "(") && str != maskedPassword {
			v = strconv.Quote(str) // control characters never reach the terminal raw
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, v, sanitize(s.Source))
	}
	return tw.Flush()
}

type configInitOptions struct {
	force bool
}

func configInitCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "write a commented starter config file (mode 0600)",
		Description: `Writes a commented starter config file to --config FILE, JAB_CONFIG, or
$XDG_CONFIG_HOME/jab/config.toml (~/.config/jab/config.toml), creating its
directory with mode 0700, and prints its path. On a terminal it asks for the
JID, the server and a password command, offering what flags and environment
give as defaults; in a script it takes them from --jid, --server,
--password-cmd and the other global options (or their environment variables).
With --account NAME the settings go into an [accounts.NAME] table that
default_account selects. It never writes a password, and it refuses to
replace an existing file without --force.`,
		Flags:        commandFlags(&cli.BoolFlag{Name: "force", Usage: "replace an existing config file"}),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("see 'jab config init --help'", "config init takes no arguments")
			}
			return runConfigInit(c, env, configInitOptions{force: c.Bool("force")})
		},
	}
}

// givenOpt is a global option given by flag or environment variable, as
// the value config init writes: typed as the flag f is (a duration as its
// string), a path made absolute. The config file being written is not
// read.
func givenOpt(l settings.Layers, f cli.Flag) (any, bool, error) {
	name := f.Names()[0]
	g, ok := l.Given(name)
	if !ok {
		return nil, false, nil
	}
	v := g.V
	if g.From == settings.FromEnv {
		// An environment value is a string; the file must hold the
		// flag's type or jab refuses it when it reads the file.
		var err error
		switch flagKind(f) {
		case settings.Bool:
			v, err = settings.As[bool](g)
		case settings.Int:
			v, err = settings.As[int](g)
		case settings.Duration:
			// Checked, but written as given.
			_, err = settings.As[time.Duration](g)
		}
		if err != nil {
			return nil, false, err
		}
	}
	if d, ok := v.(time.Duration); ok {
		v = d.String()
	}
	// The file reads a relative path relative to its own directory; as
	// given, it was relative to the current one.
	if s, ok := v.(string); ok && s != "" && slices.Contains(pathOptions, name) {
		abs, err := filepath.Abs(s)
		if err != nil {
			return nil, false, fmt.Errorf("config init: --%s: %w", name, err)
		}
		v = abs
	}
	return v, true, nil
}

// dangerousKeys are the boolean keys config init warns about when it
// writes them true, with the comment put above them in the file.
var dangerousKeys = map[string]string{
	settings.Key(flagInsecure): "turns off the server certificate check: anyone on the network path can impersonate the server",
	settings.Key(flagDebug):    "prints the XML stream (messages, contacts) on stderr on every run",
}

func runConfigInit(c *cli.Context, env *Env, opts configInitOptions) error {
	l := layers(c, env)
	path, _, _ := l.ConfigPath()
	if path == "" {
		return usagef("set HOME or pass --config FILE", "no place for the config file: neither XDG_CONFIG_HOME nor HOME is set")
	}
	if !opts.force {
		if _, err := os.Lstat(path); err == nil {
			return usagef("edit it, or pass --force to replace it", "config file %q already exists", path)
		}
	}
	account := ""
	if v, ok := l.Flag(flagAccount); ok {
		account = fmt.Sprint(v)
		if account == "" || strings.ContainsAny(account, "@/") {
			return usagef("an account name is a word such as work", "config init --account %q: not an account name", account)
		}
	}
	values := map[string]any{}
	var order []string
	for _, f := range globalFlags() {
		name := f.Names()[0]
		if name == flagConfig || name == flagAccount {
			continue
		}
		v, ok, err := givenOpt(l, f)
		if err != nil {
			return err
		}
		if ok {
			values[settings.Key(name)] = v
			order = append(order, settings.Key(name))
		}
	}
	if env.StdinTTY {
		in := bufio.NewReader(env.Stdin)
		questions := []struct{ key, prompt string }{
			{settings.Key(flagJID), "Your XMPP address (JID)"},
			{settings.Key(flagServer), "Server HOST:PORT (empty: found from the JID's domain)"},
			{settings.Key(flagPasswordCmd), "Command that prints the password (empty: keyring or prompt)"},
		}
		for _, q := range questions {
			def, _ := values[q.key].(string)
			answer, err := ask(env, in, q.prompt, def)
			if err != nil {
				return err
			}
			if answer == "" {
				delete(values, q.key)
				continue
			}
			if _, ok := values[q.key]; !ok {
				order = append(order, q.key)
			}
			values[q.key] = answer
		}
	}
	jid, _ := values[settings.Key(flagJID)].(string)
	if jid == "" {
		return usagef("pass --jid JID (and --server, --password-cmd …) or run it on a terminal", "config init needs a JID")
	}
	if j, err := session.ParseJID(jid); err != nil || j.Local == "" {
		return usagef("an account looks like user@example.org", "config init: %q is not an account JID", jid)
	}
	content := starterConfig(account, order, values)
	if err := writeConfigFile(path, []byte(content), opts.force); err != nil {
		return err
	}
	for _, k := range order {
		if why, ok := dangerousKeys[k]; ok && values[k] == true {
			fmt.Fprintf(env.Stderr, "jab: warning: %s sets %s = true, which %s\n", path, k, why)
		}
	}
	_, err := fmt.Fprintln(env.Stdout, path)
	return err
}

// ask prompts on stderr and reads one line; def is kept on an empty line.
func ask(env *Env, in *bufio.Reader, prompt, def string) (string, error) {
	if def != "" {
		fmt.Fprintf(env.Stderr, "%s [%s]: ", prompt, def)
	} else {
		fmt.Fprintf(env.Stderr, "%s: ", prompt)
	}
	line, err := in.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		if err == io.EOF {
			return "", usagef("", "config init: no answer (end of input)")
		}
		return "", fmt.Errorf("read answer: %w", err)
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return def, nil
	}
	return line, nil
}

// starterConfig is the commented file config init writes: the given
// values, every other option commented out with its default, and an
// example account table.
func starterConfig(account string, order []string, values map[string]any) string {
	var b strings.Builder
	b.WriteString(`# jab configuration (TOML), written by 'jab config init'.
#
# Keys are the global options' long names with "-" written "_". Top-level
# keys are the defaults; an [accounts.NAME] table holds the same keys for one
# account, chosen with --account NAME (or JAB_ACCOUNT), else by
# default_account. A flag beats its environment variable, which beats the
# account table, which beats the top level, which beats the built-in default.
# 'jab config show' prints what is in force and where each value came from.
#
# Passwords: password_cmd (run with sh -c; the first line of its output is the
# password) or password_file (its first line). password = "…" works too, but
# then this file must be readable by you only (chmod 600) or jab refuses it.
# With none of them, jab asks the system keyring (secret-tool lookup service
# jab account JID) and then, on a terminal, prompts.

`)
	writeValues := func() {
		for _, k := range order {
			if why, ok := dangerousKeys[k]; ok && values[k] == true {
				fmt.Fprintf(&b, "# WARNING: %s = true %s.\n", k, why)
			}
			fmt.Fprintf(&b, "%s = %s\n", k, tomlValue(values[k]))
		}
	}
	if account != "" {
		fmt.Fprintf(&b, "default_account = %s\n\n", tomlString(account))
	} else {
		writeValues()
		if len(order) > 0 {
			b.WriteString("\n")
		}
	}
	b.WriteString("# The other options, with their built-in defaults:\n")
	for _, f := range globalFlags() {
		name := f.Names()[0]
		key := settings.Key(name)
		if name == flagConfig || name == flagAccount {
			continue
		}
		if _, ok := values[key]; ok && account == "" {
			continue
		}
		usage, _, _ := strings.Cut(flagUsage(f), " (env ")
		def := builtinDefault(f, &Env{Getenv: func(string) string { return "" }})
		fmt.Fprintf(&b, "# %s = %s    # %s\n", key, tomlValue(def), strings.ReplaceAll(usage, "\n", " "))
	}
	b.WriteString("\n")
	if account != "" {
		fmt.Fprintf(&b, "[accounts.%s]\n", tomlKey(account))
		writeValues()
		return b.String()
	}
	b.WriteString(`# Another account, used with 'jab --account work …':
# [accounts.work]
# jid = "me@work.example"
# password_cmd = "secret-tool lookup service jab account me@work.example"
`)
	return b.String()
}

// tomlValue writes a value as TOML.
func tomlValue(v any) string {
	switch v := v.(type) {
	case string:
		return tomlString(v)
	case time.Duration:
		return tomlString(v.String())
	case bool, int, int64:
		return fmt.Sprint(v)
	}
	return tomlString(fmt.Sprint(v))
}

// tomlString is a TOML basic string: quotes, backslashes and control
// characters escaped.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tomlKey is a bare key when it can be one, else a quoted key.
func tomlKey(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == "" {
		return s
	}
	return tomlString(s)
}

// writeConfigFile writes the file with mode 0600, its directory 0700: a
// temporary file in the same directory, fsynced and renamed into place,
// then the directory fsynced. Without force an existing file is kept.
func writeConfigFile(path string, data []byte, force bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config.toml.*")
	if err != nil {
		return fmt.Errorf("write config file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write config file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write config file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write config file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write config file: %w", err)
	}
	if force {
		err = os.Rename(tmp.Name(), path)
	} else {
		// A hard link never replaces an existing file, so a file created
		// since the check above is not lost.
		err = os.Link(tmp.Name(), path)
	}
	if err != nil {
		if os.IsExist(err) {
			return usagef("edit it, or pass --force to replace it", "config file %q already exists", path)
		}
		return fmt.Errorf("write config file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
