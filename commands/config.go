package commands

// The configuration file: $XDG_CONFIG_HOME/jab/config.toml (else
// ~/.config/jab/config.toml), or the file --config / JAB_CONFIG names.
//
// Its keys are the global options' long names with "-" written "_",
// derived from globalFlags so that a new global flag is a new key, plus
// password, default_account and the [accounts.NAME] tables. A global
// option is looked up in this order: the flag, its environment variable,
// the selected account's table, the top-level keys, the built-in default.
// The file is read once per run (cached in the app's Metadata) and every
// key and type is checked when it is read, so the lookups cannot fail.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/jab-xmpp/jab/session"
)

const (
	flagConfig  = "config"
	flagAccount = "account"

	keyPassword       = "password"
	keyDefaultAccount = "default_account"
	keyAccounts       = "accounts"

	// maskedPassword stands for a password in jab config show.
	maskedPassword = "********"
)

// configPathKeys are the keys that name files or directories: in the
// config file a leading "~/" is the home directory and a relative path is
// relative to the file's directory, not to wherever jab runs.
var configPathKeys = []string{"ca_file", "password_file", "state_dir"}

// valueKind is the TOML type a key takes.
type valueKind int

const (
	kindString valueKind = iota
	kindBool
	kindDuration
	kindInt
)

func (k valueKind) String() string {
	switch k {
	case kindBool:
		return "a boolean (true or false)"
	case kindDuration:
		return `a duration string such as "30s"`
	case kindInt:
		return "an integer"
	}
	return "a string"
}

// configKey is the config file key of a flag.
func configKey(flag string) string { return strings.ReplaceAll(flag, "-", "_") }

// flagKind is the TOML type that a flag's key takes.
func flagKind(f cli.Flag) valueKind {
	switch f.(type) {
	case *cli.BoolFlag:
		return kindBool
	case *cli.DurationFlag:
		return kindDuration
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
		return kindInt
	}
	return kindString
}

// configKeys are the keys an account table (and the top level) may hold:
// every global option but --config and --account, and password.
func configKeys() map[string]valueKind {
	keys := map[string]valueKind{keyPassword: kindString}
	for _, f := range globalFlags() {
		name := f.Names()[0]
		if name == flagConfig || name == flagAccount {
			continue
		}
		keys[configKey(name)] = flagKind(f)
	}
	return keys
}

// configFile is a parsed and checked config file.
type configFile struct {
	path           string
	top            map[string]any // key → string, bool, time.Duration or int
	accounts       map[string]map[string]any
	defaultAccount string
	secret         bool // holds a password somewhere
}

// accountNames are the [accounts.NAME] tables, sorted.
func (f *configFile) accountNames() []string {
	names := make([]string, 0, len(f.accounts))
	for n := range f.accounts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// defaultConfigPath is $XDG_CONFIG_HOME/jab/config.toml when that is an
// absolute path, else ~/.config/jab/config.toml, else "" (no HOME).
func defaultConfigPath(getenv func(string) string) string {
	if x := getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "jab", "config.toml")
	}
	if h := getenv("HOME"); h != "" && filepath.IsAbs(h) {
		return filepath.Join(h, ".config", "jab", "config.toml")
	}
	return ""
}

// loadConfigFile reads and checks a config file. A missing file is an
// error wrapping fs.ErrNotExist.
func loadConfigFile(path, home string) (*configFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &configMissing{path: path}
		}
		return nil, usagef("", "read config file: %v", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, usagef("", "read config file: %v", err)
	}
	if fi.IsDir() {
		return nil, usagef("", "config file %q is a directory", path)
	}
	var raw map[string]any
	md, err := toml.NewDecoder(bufio.NewReader(fh)).Decode(&raw)
	if err != nil {
		return nil, tomlSyntaxError(path, err)
	}
	f := &configFile{path: path, top: map[string]any{}, accounts: map[string]map[string]any{}}
	keys := configKeys()
	valid := func(inAccount bool) []string {
		var names []string
		for k := range keys {
			names = append(names, k)
		}
		if !inAccount {
			names = append(names, keyDefaultAccount, keyAccounts)
		}
		return names
	}
	unknown := func(key toml.Key, inAccount bool) error {
		hint := "see 'jab config init' for a commented example"
		if m := closestName(valid(inAccount), key[len(key)-1]); m != "" {
			hint = fmt.Sprintf("did you mean %q?", m)
		}
		return usagef(hint, "config file %q: unknown key %q", path, key.String())
	}
	// md.Keys is in file order, so the first mistake in the file is the
	// one reported.
	for _, key := range md.Keys() {
		// accountTable is the checked table of accounts.NAME (key[1]),
		// made on first sight.
		accountTable := func() (map[string]any, error) {
			if t, ok := f.accounts[key[1]]; ok {
				return t, nil
			}
			accts, ok := raw[keyAccounts].(map[string]any)
			if !ok {
				return nil, usagef("write each account as a table [accounts.NAME]", "config file %q: accounts must be a table, not %s", path, tomlTypeName(raw[keyAccounts]))
			}
			v := accts[key[1]]
			if _, ok := v.(map[string]any); !ok {
				return nil, usagef("write each account as a table [accounts.NAME]", "config file %q: %s must be a table, not %s", path, toml.Key(key[:2]).String(), tomlTypeName(v))
			}
			t := map[string]any{}
			f.accounts[key[1]] = t
			return t, nil
		}
		switch {
		case len(key) == 1 && key[0] == keyAccounts:
			if _, ok := raw[keyAccounts].(map[string]any); !ok {
				return nil, usagef("write each account as a table [accounts.NAME]", "config file %q: accounts must be a table, not %s", path, tomlTypeName(raw[keyAccounts]))
			}
		case len(key) == 1 && key[0] == keyDefaultAccount:
			s, ok := raw[keyDefaultAccount].(string)
			if !ok {
				return nil, usagef("", "config file %q: default_account must be a string, not %s", path, tomlTypeName(raw[keyDefaultAccount]))
			}
			f.defaultAccount = s
		case len(key) == 1:
			kind, ok := keys[key[0]]
			if !ok {
				return nil, unknown(key, false)
			}
			v, err := configValue(path, key, kind, raw[key[0]], home)
			if err != nil {
				return nil, err
			}
			f.top[key[0]] = v
		case key[0] == keyAccounts && len(key) == 2:
			if _, err := accountTable(); err != nil {
				return nil, err
			}
		case key[0] == keyAccounts && len(key) == 3:
			// A dotted key (accounts.work.jid = …, or work.jid = …
			// under [accounts]) makes its table without a key of its
			// own in md.Keys, so the table may not have been seen yet.
			t, err := accountTable()
			if err != nil {
				return nil, err
			}
			kind, ok := keys[key[2]]
			if !ok {
				return nil, unknown(key, true)
			}
			tbl, _ := raw[keyAccounts].(map[string]any)[key[1]].(map[string]any)
			v, err := configValue(path, key, kind, tbl[key[2]], home)
			if err != nil {
				return nil, err
			}
			t[key[2]] = v
		case key[0] == keyAccounts:
			return nil, unknown(key, true)
		default:
			// A key inside a table other than accounts, written as a
			// dotted key (server.host = …): not a key of jab's.
			return nil, unknown(key, false)
		}
	}
	if f.defaultAccount != "" {
		if _, ok := f.accounts[f.defaultAccount]; !ok {
			hint := fmt.Sprintf("add an [accounts.%s] table", f.defaultAccount)
			if m := closestName(f.accountNames(), f.defaultAccount); m != "" {
				hint = fmt.Sprintf("did you mean %q?", m)
			}
			return nil, usagef(hint, "config file %q: default_account %q names no [accounts.%s] table", path, f.defaultAccount, f.defaultAccount)
		}
	}
	_, f.secret = f.top[keyPassword]
	for _, t := range f.accounts {
		if _, ok := t[keyPassword]; ok {
			f.secret = true
		}
	}
	// As ssh does with a private key: a secret others can read is not
	// used. The mode is that of the file we read (fstat, not stat).
	if f.secret && fi.Mode().Perm()&0o044 != 0 {
		return nil, usagef("chmod 600 "+shellQuote(path), "config file %q holds a password and is readable by others (mode %04o)", path, fi.Mode().Perm())
	}
	// As ssh does with its config file: a command jab runs must not come
	// from a file that someone else can change.
	if f.holds(configKey(flagPasswordCmd)) {
		if m := fi.Mode().Perm(); m&0o022 != 0 {
			return nil, usagef("chmod go-w "+shellQuote(path), "config file %q holds a password_cmd and is writable by others (mode %04o)", path, m)
		}
		if uid, ok := fileOwner(fi); ok && uid != os.Getuid() && uid != 0 {
			return nil, usagef("make it yours: chown $(id -u) "+shellQuote(path), "config file %q holds a password_cmd and is owned by another user (uid %d)", path, uid)
		}
	}
	return f, nil
}

// holds tells whether the top level or any account table sets key.
func (f *configFile) holds(key string) bool {
	if _, ok := f.top[key]; ok {
		return true
	}
	for _, t := range f.accounts {
		if _, ok := t[key]; ok {
			return true
		}
	}
	return false
}

// tomlSyntaxError reports a TOML syntax error by file, line and the last
// key read, never with the parser's message: that quotes the text at
// the error, which may be part of a password (password = hunter2).
func tomlSyntaxError(path string, err error) error {
	const hint = `check the TOML syntax: strings are quoted, e.g. jid = "me@example.org"`
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return usagef(hint, "config file %q: invalid TOML", path)
	}
	if pe.LastKey != "" {
		return usagef(hint, "config file %q: invalid TOML at line %d (key %q)", path, pe.Position.Line, pe.LastKey)
	}
	return usagef(hint, "config file %q: invalid TOML at line %d", path, pe.Position.Line)
}

// configMissing is a config file that does not exist.
type configMissing struct{ path string }

func (e *configMissing) Error() string { return fmt.Sprintf("config file %q does not exist", e.path) }
func (e *configMissing) Unwrap() error { return fs.ErrNotExist }

// configValue checks a value's TOML type against kind and converts it.
func configValue(path string, key toml.Key, kind valueKind, v any, home string) (any, error) {
	bad := func() error {
		return usagef("", "config file %q: %s must be %s, not %s", path, key.String(), kind, tomlTypeName(v))
	}
	switch kind {
	case kindBool:
		b, ok := v.(bool)
		if !ok {
			return nil, bad()
		}
		return b, nil
	case kindInt:
		n, ok := v.(int64)
		if !ok {
			return nil, bad()
		}
		return int(n), nil
	case kindDuration:
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return nil, usagef("use a Go duration such as 30s or 15m", "config file %q: %s = %q is not a valid duration", path, key.String(), s)
		}
		return d, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, bad()
	}
	if slices.Contains(configPathKeys, key[len(key)-1]) && s != "" {
		if rest, ok := strings.CutPrefix(s, "~/"); ok && home != "" {
			s = filepath.Join(home, rest)
		} else if !filepath.IsAbs(s) {
			s = filepath.Join(filepath.Dir(path), s)
		}
	}
	return s, nil
}

// tomlTypeName names the TOML type of a decoded value for errors.
func tomlTypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case nil:
		return "nothing"
	default:
		return "a date or time"
	}
}

// shellQuote quotes a path for a hint the user may paste into a shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./~+,:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// config is the configuration in force for one run: the file (if any) and
// the account selected in it.
type config struct {
	file       *configFile // nil: no config file
	path       string      // the path looked at, "" when none could be found
	pathSource string      // where path came from: "flag", "env JAB_CONFIG" or "default"
	account    string      // the selected [accounts.NAME], or ""
	accountSrc string      // where the account came from
	// accountJID is an --account or JAB_ACCOUNT value that is a JID
	// matching no table: the jid, below --jid and JAB_JID.
	accountJID string
}

// lookup finds a key in the account table, then at the top level, with
// the source for jab config show.
func (cf *config) lookup(key string) (any, string, bool) {
	if cf == nil || cf.file == nil {
		return nil, "", false
	}
	if cf.account != "" {
		if v, ok := cf.file.accounts[cf.account][key]; ok {
			return v, fmt.Sprintf("config %s [accounts.%s]", cf.file.path, cf.account), true
		}
	}
	if v, ok := cf.file.top[key]; ok {
		return v, "config " + cf.file.path, true
	}
	return nil, "", false
}

const configMetadataKey = "jab.config"

type configResult struct {
	cfg *config
	err error
}

// configFor returns the run's configuration, reading the file the first
// time. An error is returned every time it is asked for.
func configFor(c *cli.Context, env *Env) (*config, error) {
	if c == nil {
		return nil, nil
	}
	if c.App != nil && c.App.Metadata != nil {
		if r, ok := c.App.Metadata[configMetadataKey].(configResult); ok {
			return r.cfg, r.err
		}
	}
	cfg, err := loadConfig(c, env)
	if c.App != nil && c.App.Metadata != nil {
		c.App.Metadata[configMetadataKey] = configResult{cfg, err}
	}
	return cfg, err
}

// configPath is the config file to read and where its name came from;
// explicit is true when the user named it (then it must exist).
func configPath(c *cli.Context, env *Env) (path, source string, explicit bool) {
	if x := setIn(c, flagConfig); x != nil {
		return x.String(flagConfig), "flag", true
	}
	if v := env.Getenv(envOf[flagConfig]); v != "" {
		return v, "env " + envOf[flagConfig], true
	}
	return defaultConfigPath(env.Getenv), "default", false
}

func loadConfig(c *cli.Context, env *Env) (*config, error) {
	cf := &config{}
	var explicit bool
	cf.path, cf.pathSource, explicit = configPath(c, env)
	if explicit && cf.path == "" {
		return nil, usagef("", "--config needs a file name")
	}
	if cf.path != "" {
		f, err := loadConfigFile(cf.path, env.Getenv("HOME"))
		var missing *configMissing
		switch {
		case errors.As(err, &missing) && !explicit:
			// No config file at the default path is fine.
		case errors.As(err, &missing):
			return nil, usagef("create it with 'jab config init --config "+shellQuote(cf.path)+"'", "%v", err)
		case err != nil:
			return nil, err
		default:
			cf.file = f
		}
	}
	name := ""
	if x := setIn(c, flagAccount); x != nil {
		name, cf.accountSrc = x.String(flagAccount), "flag"
	} else if v := env.Getenv(envOf[flagAccount]); v != "" {
		name, cf.accountSrc = v, "env "+envOf[flagAccount]
	} else if cf.file != nil && cf.file.defaultAccount != "" {
		name, cf.accountSrc = cf.file.defaultAccount, "config "+cf.file.path+" default_account"
	}
	if name == "" {
		if cf.accountSrc == "flag" {
			return nil, usagef("", "--account needs an account name or a JID")
		}
		cf.accountSrc = ""
		return cf, nil
	}
	if cf.file != nil {
		if _, ok := cf.file.accounts[name]; ok {
			cf.account = name
			return cf, nil
		}
	}
	// A JID (JAB_ACCOUNT in a listen --exec child is the listening
	// account's bare JID): the table with that jid, else no table and
	// the JID itself.
	what := "--account"
	if cf.accountSrc != "flag" {
		what = envOf[flagAccount]
	}
	if j, err := session.ParseJID(name); err == nil && j.Local != "" {
		var matches []string
		if cf.file != nil {
			for _, n := range cf.file.accountNames() {
				s, _ := cf.file.accounts[n][configKey(flagJID)].(string)
				if sameAccount(s, name) {
					matches = append(matches, n)
				}
			}
		}
		switch len(matches) {
		case 0:
			cf.accountJID = name
		case 1:
			cf.account = matches[0]
		default:
			// Picking one would pick its password and settings by
			// the accident of the names' order.
			return nil, usagef("give the table name instead, e.g. --account "+matches[0],
				"%s %q: the JID of several accounts in %s: %s", what, name, cf.file.path, strings.Join(matches, ", "))
		}
		return cf, nil
	}
	if cf.file == nil {
		if cf.path == "" {
			return nil, usagef("set HOME or pass --config FILE", "%s %q: no config file", what, name)
		}
		return nil, usagef("create one with 'jab config init'", "%s %q: no config file (%s does not exist)", what, name, cf.path)
	}
	hint := fmt.Sprintf("add an [accounts.%s] table to %s, or give a JID", name, cf.file.path)
	if names := cf.file.accountNames(); len(names) > 0 {
		hint = "the accounts are " + strings.Join(names, ", ")
		if m := closestName(names, name); m != "" {
			hint = fmt.Sprintf("did you mean %q?", m)
		}
	}
	return nil, usagef(hint, "%s %q: no such account in %s", what, name, cf.file.path)
}

// sameAccount tells whether two JIDs are the same account (bare JIDs
// equal); a JID that does not parse is the same as none.
func sameAccount(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	ja, err := session.ParseJID(a)
	if err != nil {
		return false
	}
	jb, err := session.ParseJID(b)
	return err == nil && ja.Bare() == jb.Bare()
}

// optSource tells which layer a value came from.
type optSource int

const (
	fromDefault optSource = iota
	fromFlag
	fromEnv
	fromAccountJID // an --account or JAB_ACCOUNT value that is a JID
	fromConfig
)

// optValue is a global option's value before its type is applied: from
// the flag or the config file typed, from the environment a string.
type optValue struct {
	v      any
	from   optSource
	source string // for jab config show
}

// lookupOpt finds a global option: flag > environment > (for the jid, an
// --account or JAB_ACCOUNT JID) > account table > top level. An empty
// environment variable counts as unset. A config file that cannot be read
// counts as none here; resolve reports its error.
func lookupOpt(c *cli.Context, env *Env, name string) (optValue, bool) {
	if x := setIn(c, name); x != nil {
		return optValue{x.Value(name), fromFlag, "flag"}, true
	}
	if e, ok := envOf[name]; ok {
		if v := env.Getenv(e); v != "" {
			return optValue{v, fromEnv, "env " + e}, true
		}
	}
	cf, _ := configFor(c, env)
	if cf == nil {
		return optValue{}, false
	}
	if name == flagJID && cf.accountJID != "" {
		return optValue{cf.accountJID, fromAccountJID, accountSourceName(cf.accountSrc)}, true
	}
	if v, src, ok := cf.lookup(configKey(name)); ok {
		return optValue{v, fromConfig, src}, true
	}
	return optValue{}, false
}

// accountSourceName is where an account JID came from, for config show.
func accountSourceName(src string) string {
	if src == "flag" {
		return "flag --account"
	}
	return src
}

// intOpt reads an integer global option: the flag, its environment
// variable, the config file, else def.
func intOpt(c *cli.Context, env *Env, name string, def int) (int, error) {
	if _, err := configFor(c, env); err != nil {
		return 0, err
	}
	ov, ok := lookupOpt(c, env, name)
	if !ok {
		return def, nil
	}
	switch v := ov.v.(type) {
	case int:
		return v, nil
	case string:
		i, err := strconv.Atoi(v)
		if err != nil {
			return 0, usagef("", "%s=%q is not a number", envOf[name], v)
		}
		return i, nil
	}
	return def, nil
}

// A password source: a command, a file or the password itself.
type passwordSource struct {
	kind   string // "password_cmd", "password_file" or "password"
	value  string // the command, the file name or the password
	source string // for jab config show
}

// findPasswordSource is the first password source set, in the documented
// order, without running or reading anything: --password-cmd,
// --password-file, JAB_PASSWORD, JAB_PASSWORD_FILE, JAB_PASSWORD_CMD, then
// in the account table and then at the top level password_cmd,
// password_file, password.
func findPasswordSource(c *cli.Context, env *Env, cf *config) (passwordSource, bool) {
	if x := setIn(c, flagPasswordCmd); x != nil {
		return passwordSource{"password_cmd", x.String(flagPasswordCmd), "flag"}, true
	}
	if x := setIn(c, flagPasswordFile); x != nil {
		return passwordSource{"password_file", x.String(flagPasswordFile), "flag"}, true
	}
	if p := env.Getenv("JAB_PASSWORD"); p != "" {
		return passwordSource{"password", p, "env JAB_PASSWORD"}, true
	}
	if f := env.Getenv(envOf[flagPasswordFile]); f != "" {
		return passwordSource{"password_file", f, "env " + envOf[flagPasswordFile]}, true
	}
	if cmd := env.Getenv(envOf[flagPasswordCmd]); cmd != "" {
		return passwordSource{"password_cmd", cmd, "env " + envOf[flagPasswordCmd]}, true
	}
	if cf == nil || cf.file == nil {
		return passwordSource{}, false
	}
	layers := []struct {
		values map[string]any
		source string
	}{{nil, ""}, {cf.file.top, "config " + cf.file.path}}
	if cf.account != "" {
		layers[0] = struct {
			values map[string]any
			source string
		}{cf.file.accounts[cf.account], fmt.Sprintf("config %s [accounts.%s]", cf.file.path, cf.account)}
	}
	jid := stringOpt(c, env, flagJID)
	for _, l := range layers {
		// A layer's password belongs to the layer's jid: when --jid,
		// JAB_JID or another layer makes the account someone else, it
		// must not be sent to that account's server.
		if own, _ := l.values[configKey(flagJID)].(string); own != "" && !sameAccount(own, jid) {
			continue
		}
		for _, k := range []string{configKey(flagPasswordCmd), configKey(flagPasswordFile), keyPassword} {
			if v, ok := l.values[k].(string); ok && v != "" {
				return passwordSource{k, v, l.source}, true
			}
		}
	}
	return passwordSource{}, false
}

// findPassword gets the password from the first source set (see
// findPasswordSource), else from the system keyring when secret-tool is
// installed, else from a no-echo prompt when stdin is a terminal.
func findPassword(ctx context.Context, c *cli.Context, env *Env, timeout time.Duration) (string, error) {
	cf, err := configFor(c, env)
	if err != nil {
		return "", err
	}
	if s, ok := findPasswordSource(c, env, cf); ok {
		switch s.kind {
		case "password_cmd":
			return passwordFromCmd(ctx, env, s.value, timeout)
		case "password_file":
			return passwordFromFile(s.value)
		}
		return s.value, nil
	}
	jid := ""
	if j, err := session.ParseJID(stringOpt(c, env, flagJID)); err == nil {
		jid = j.Bare()
	}
	if jid != "" {
		if p, ok := keyringPassword(ctx, env, jid, timeout); ok {
			return p, nil
		}
	}
	if env.StdinTTY {
		return promptPassword(ctx, env, jid)
	}
	return "", usagef("set JAB_PASSWORD, pass --password-file FILE or --password-cmd CMD, or set password_cmd in the config file", "no password source")
}

// keyringPassword looks the account up in the system keyring with
// `secret-tool lookup service jab account JID`, when secret-tool is on
// PATH. Nothing found, or a keyring that cannot be reached, falls through
// to the next source.
func keyringPassword(ctx context.Context, env *Env, jid string, timeout time.Duration) (string, bool) {
	tool := lookPath(env, "secret-tool")
	if tool == "" {
		return "", false
	}
	line, err := firstLineOf(ctx, timeout, nil, tool, "lookup", "service", "jab", "account", jid)
	return line, err == nil && line != ""
}

// lookPath finds an executable on the PATH of env (not of the process, so
// tests decide what is installed).
func lookPath(env *Env, name string) string {
	for _, dir := range filepath.SplitList(env.Getenv("PATH")) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// promptPassword asks on the terminal without echo.
func promptPassword(ctx context.Context, env *Env, jid string) (string, error) {
	if jid != "" {
		fmt.Fprintf(env.Stderr, "Password for %s: ", jid)
	} else {
		fmt.Fprint(env.Stderr, "Password: ")
	}
	read := env.ReadPassword
	if read == nil {
		read = func(ctx context.Context) (string, error) { return readTerminalPassword(ctx, env) }
	}
	p, err := read(ctx)
	fmt.Fprintln(env.Stderr)
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", usagef("", "no password entered")
	}
	return p, nil
}

// readTerminalPassword reads a line from the terminal on stdin with echo
// off. A signal ends the wait and puts the terminal back as it was (the
// read itself cannot be interrupted, so it is left behind).
func readTerminalPassword(ctx context.Context, env *Env) (string, error) {
	f, ok := env.Stdin.(*os.File)
	if !ok {
		return "", errors.New("read password: stdin is not a terminal")
	}
	fd := int(f.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	type result struct {
		p   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := term.ReadPassword(fd)
		done <- result{p, err}
	}()
	select {
	case <-ctx.Done():
		_ = term.Restore(fd, state)
		return "", ctx.Err()
	case r := <-done:
		if r.err != nil {
			return "", fmt.Errorf("read password: %w", r.err)
		}
		return string(r.p), nil
	}
}

// checkSecretMode refuses a file holding a secret that others can read.
func checkSecretMode(what, path string, fi os.FileInfo) error {
	if m := fi.Mode().Perm(); m&0o044 != 0 {
		return usagef("chmod 600 "+shellQuote(path), "%s %q is readable by others (mode %04o)", what, path, m)
	}
	return nil
}
