// Package settings resolves jab's global options, with no command-line
// library in sight: each option is looked up in its flag, its
// environment variable, the selected [accounts.NAME] table of the config
// file, the file's top level, and last the caller's default, and every
// value says where it came from (what 'jab config show' prints). It also
// finds the password source for an account and reads password files. Its
// errors are usage errors with a hint (Error).
//
// The commands package describes the options (Option: name, environment
// variable, type), hands over the flags given on the command line as a
// plain lookup and the environment as a getenv function (Layers), and
// calls Load once per run.
package settings

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jab-xmpp/jab/commands/internal/suggest"
	"github.com/jab-xmpp/jab/session"
)

// The options this package gives a meaning to, by their flag names.
const (
	OptConfig       = "config"  // the config file
	OptAccount      = "account" // the [accounts.NAME] table, or an account's JID
	OptJID          = "jid"     // the account
	OptPasswordCmd  = "password-cmd"
	OptPasswordFile = "password-file"
)

const (
	// KeyPassword is the config key of the password itself; no flag or
	// option sets it.
	KeyPassword = "password"
	// EnvPassword is the environment variable holding the password.
	EnvPassword = "JAB_PASSWORD"

	keyDefaultAccount = "default_account"
	keyAccounts       = "accounts"

	durationHint = "use a Go duration such as 30s or 15m"
)

// Kind is the type of an option's value.
type Kind int

const (
	String   Kind = iota
	Bool          // true or false; in the environment anything strconv.ParseBool takes
	Duration      // a Go duration; never negative
	Int
	List  // an array of strings; in the environment, separated by commas
	Rooms // group chat rooms: an array of room JIDs or a table of rooms (rooms.go); in the environment, separated by commas
)

// String is how a config file error names the TOML type a key takes.
func (k Kind) String() string {
	switch k {
	case Bool:
		return "a boolean (true or false)"
	case Duration:
		return `a duration string such as "30s"`
	case Int:
		return "an integer"
	case List:
		return "an array of strings"
	case Rooms:
		return "an array of room JIDs or a table of rooms"
	}
	return "a string"
}

// Option describes a global option.
type Option struct {
	Name string // the flag's long name, e.g. "lock-idle"
	Env  string // its environment variable, e.g. "JAB_LOCK_IDLE"; "" for none
	Kind Kind
	Path bool // it names a file or directory (see LoadFile)
	// Command: it is a command jab runs (sh -c), which a config file
	// others can change must not hold (see LoadFile).
	Command bool
}

// Key is the config file key of an option: its name with "-" written "_".
func Key(name string) string { return strings.ReplaceAll(name, "-", "_") }

// fileKeys are the keys the config file's top level and its account
// tables may hold: every option but config and account, and password.
func fileKeys(opts []Option) map[string]Option {
	keys := map[string]Option{KeyPassword: {Name: KeyPassword, Kind: String}}
	for _, o := range opts {
		if o.Name != OptConfig && o.Name != OptAccount {
			keys[Key(o.Name)] = o
		}
	}
	return keys
}

// Layers are what a run's options come from besides the config file.
type Layers struct {
	Options []Option
	// Flag is the value of a flag given on the command line: a string,
	// bool, time.Duration or int as the option's Kind; ok is false when
	// the flag was not given.
	Flag   func(name string) (v any, ok bool)
	Getenv func(string) string
}

func (l Layers) option(name string) Option {
	for _, o := range l.Options {
		if o.Name == name {
			return o
		}
	}
	return Option{Name: name}
}

// ConfigPath is the config file to read and where its name came from:
// "flag", "env JAB_CONFIG" or "default". explicit is true when the user
// named it (then it must exist). path is "" when there is no default
// (no HOME).
func (l Layers) ConfigPath() (path, source string, explicit bool) {
	if v, ok := l.Flag(OptConfig); ok {
		return fmt.Sprint(v), "flag", true
	}
	if e := l.option(OptConfig).Env; e != "" {
		if v := l.Getenv(e); v != "" {
			return v, "env " + e, true
		}
	}
	return defaultPath(l.Getenv), "default", false
}

// Given is an option given by its flag or its environment variable (an
// empty variable counts as unset), without the config file.
func (l Layers) Given(name string) (Value, bool) {
	opt := l.option(name)
	if v, ok := l.Flag(name); ok {
		return Value{V: v, From: FromFlag, Source: "flag", opt: opt}, true
	}
	if opt.Env != "" {
		if v := l.Getenv(opt.Env); v != "" {
			return Value{V: v, From: FromEnv, Source: "env " + opt.Env, opt: opt}, true
		}
	}
	return Value{}, false
}

// From is the layer a value came from.
type From int

const (
	FromDefault From = iota
	FromFlag
	FromEnv
	FromAccountJID // an --account or JAB_ACCOUNT value that is a JID
	FromConfig
)

// Value is an option's value before its type is applied: typed as the
// option is when it comes from a flag or the config file, a string when
// it comes from the environment.
type Value struct {
	V      any
	From   From
	Source string // where it came from, as 'jab config show' prints it
	opt    Option
}

// Given tells whether the user gave the value for this run (flag or
// environment), rather than the config file's defaults.
func (v Value) Given() bool { return v.From == FromFlag || v.From == FromEnv }

// Type is the type of an option's value.
type Type interface {
	string | bool | int | time.Duration | []string | []Room
}

// As is the value as type T. An environment value is parsed (a usage
// error when it does not parse); a negative duration is an error.
func As[T Type](v Value) (T, error) {
	var out T
	if t, ok := v.V.(T); ok {
		if d, ok := any(t).(time.Duration); ok && d < 0 {
			return out, Errorf("", "--%s must not be negative", v.opt.Name)
		}
		return t, nil
	}
	s, isString := v.V.(string)
	switch p := any(&out).(type) {
	case *string:
		*p = fmt.Sprint(v.V)
	case *bool:
		b, err := strconv.ParseBool(s)
		if !isString || err != nil {
			return out, Errorf("use 1 or 0", "%s=%q is not a boolean", v.opt.Env, s)
		}
		*p = b
	case *int:
		n, err := strconv.Atoi(s)
		if !isString || err != nil {
			return out, Errorf("", "%s=%q is not a number", v.opt.Env, s)
		}
		*p = n
	case *time.Duration:
		d, err := time.ParseDuration(s)
		if !isString || err != nil || d < 0 {
			return out, Errorf(durationHint, "%s=%q is not a valid duration", v.opt.Env, s)
		}
		*p = d
	case *[]string:
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" {
				*p = append(*p, f)
			}
		}
	case *[]Room:
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" {
				*p = append(*p, Room{JID: f, Autojoin: true})
			}
		}
	}
	return out, nil
}

// Settings are the layers of one run with its config file read and its
// account selected.
type Settings struct {
	layers     Layers
	file       *File  // nil: no config file
	path       string // the config file looked at; "" when none could be found
	pathSource string // where path came from (see ConfigPath)
	account    string // the selected [accounts.NAME], or ""
	accountSrc string // where the account came from; "" when none was
	// accountJID is an --account or JAB_ACCOUNT value that is a JID
	// matching no table: the jid, below --jid and JAB_JID.
	accountJID string
}

// Load reads the config file (the flag, else its environment variable,
// else the default path, where a missing file is no error) and selects
// the account: --account, else its environment variable, else the file's
// default_account; a name is a table, a JID the table with that jid, or
// else the jid itself. The file is read here and only here.
//
// On an error (a config file that cannot be read, an unknown account),
// the Settings returned still hold the flags and the environment, with no
// config file, for a caller that must not fail, such as shell completion.
func Load(l Layers) (*Settings, error) {
	s := &Settings{layers: l}
	var explicit bool
	s.path, s.pathSource, explicit = l.ConfigPath()
	err := s.load(explicit)
	if err != nil {
		s.file, s.account, s.accountSrc, s.accountJID = nil, "", "", ""
	}
	return s, err
}

func (s *Settings) load(explicit bool) error {
	if explicit && s.path == "" {
		return Errorf("", "--config needs a file name")
	}
	if s.path != "" {
		f, err := LoadFile(s.path, s.layers.Getenv("HOME"), s.layers.Options)
		var missing *missingError
		switch {
		case errors.As(err, &missing) && !explicit:
			// No config file at the default path is fine.
		case errors.As(err, &missing):
			return Errorf("create it with 'jab config init --config "+shellQuote(s.path)+"'", "%w", err)
		case err != nil:
			return err
		default:
			s.file = f
		}
	}
	name := ""
	env := s.layers.option(OptAccount).Env
	if v, ok := s.layers.Flag(OptAccount); ok {
		name, s.accountSrc = fmt.Sprint(v), "flag"
	} else if v := s.layers.Getenv(env); env != "" && v != "" {
		name, s.accountSrc = v, "env "+env
	} else if s.file != nil && s.file.DefaultAccount != "" {
		name, s.accountSrc = s.file.DefaultAccount, "config "+s.file.Path+" default_account"
	}
	if name == "" {
		if s.accountSrc == "flag" {
			return Errorf("", "--account needs an account name or a JID")
		}
		s.accountSrc = ""
		return nil
	}
	if s.file != nil {
		if _, ok := s.file.Accounts[name]; ok {
			s.account = name
			return nil
		}
	}
	// A JID (JAB_ACCOUNT in a listen --exec child is the listening
	// account's bare JID): the table with that jid, else no table and
	// the JID itself.
	what := "--account"
	if s.accountSrc != "flag" {
		what = env
	}
	if j, err := session.ParseJID(name); err == nil && j.Local != "" {
		var matches []string
		if s.file != nil {
			for _, n := range s.file.accountNames() {
				if own, _ := s.file.Accounts[n][Key(OptJID)].(string); sameAccount(own, name) {
					matches = append(matches, n)
				}
			}
		}
		switch len(matches) {
		case 0:
			s.accountJID = name
		case 1:
			s.account = matches[0]
		default:
			// Picking one would pick its password and settings by
			// the accident of the names' order.
			return Errorf("give the table name instead, e.g. --account "+matches[0],
				"%s %q: the JID of several accounts in %s: %s", what, name, s.file.Path, strings.Join(matches, ", "))
		}
		return nil
	}
	if s.file == nil {
		if s.path == "" {
			return Errorf("set HOME or pass --config FILE", "%s %q: no config file", what, name)
		}
		return Errorf("create one with 'jab config init'", "%s %q: no config file (%s does not exist)", what, name, s.path)
	}
	hint := fmt.Sprintf("add an [accounts.%s] table to %s, or give a JID", name, s.file.Path)
	if names := s.file.accountNames(); len(names) > 0 {
		hint = "the accounts are " + strings.Join(names, ", ")
		if m := suggest.Closest(names, name); m != "" {
			hint = fmt.Sprintf("did you mean %q?", m)
		}
	}
	return Errorf(hint, "%s %q: no such account in %s", what, name, s.file.Path)
}

// ConfigPath is the config file looked at and where its name came from
// (see Layers.ConfigPath); File tells whether it was there.
func (s *Settings) ConfigPath() (path, source string) { return s.path, s.pathSource }

// File is the config file read, or nil.
func (s *Settings) File() *File { return s.file }

// Account is the account selected: the [accounts.NAME] table, else a JID
// given as the account, else ""; and where it came from ("flag",
// "env JAB_ACCOUNT", "config FILE default_account"), "" when none was.
func (s *Settings) Account() (name, source string) {
	if s.account != "" {
		return s.account, s.accountSrc
	}
	return s.accountJID, s.accountSrc
}

// layer is one config layer: the selected account table or the top level.
type layer struct {
	values map[string]any
	source string // for jab config show
}

// configLayers are the selected account table (if any), then the top
// level; none without a config file.
func (s *Settings) configLayers() []layer {
	if s.file == nil {
		return nil
	}
	var ls []layer
	if s.account != "" {
		ls = append(ls, layer{s.file.Accounts[s.account], fmt.Sprintf("config %s [accounts.%s]", s.file.Path, s.account)})
	}
	return append(ls, layer{s.file.Top, "config " + s.file.Path})
}

// Lookup finds an option: flag > environment (an empty variable counts
// as unset) > for the jid, a JID given as the account > the account
// table > the top level. ok is false when none of them sets it: the
// caller's default applies.
func (s *Settings) Lookup(name string) (v Value, ok bool) {
	if v, ok := s.layers.Given(name); ok {
		return v, true
	}
	opt := s.layers.option(name)
	if name == OptJID && s.accountJID != "" {
		src := s.accountSrc
		if src == "flag" {
			src = "flag --account"
		}
		return Value{V: s.accountJID, From: FromAccountJID, Source: src, opt: opt}, true
	}
	for _, l := range s.configLayers() {
		if v, ok := l.values[Key(name)]; ok {
			return Value{V: v, From: FromConfig, Source: l.source, opt: opt}, true
		}
	}
	return Value{}, false
}

// Get is an option's value as type T (see Lookup and As), else def.
func Get[T Type](s *Settings, name string, def T) (T, error) {
	v, ok := s.Lookup(name)
	if !ok {
		return def, nil
	}
	return As[T](v)
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
