package settings

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/jab-xmpp/jab/commands/internal/suggest"
)

// File is a parsed and checked config file. Its keys are the options'
// config keys (see Key) and password; every value has its option's type:
// string, bool, time.Duration or int.
type File struct {
	Path           string
	Top            map[string]any            // the top-level keys
	Accounts       map[string]map[string]any // the [accounts.NAME] tables
	DefaultAccount string                    // "" when not set
}

// accountNames are the [accounts.NAME] tables, sorted.
func (f *File) accountNames() []string {
	names := make([]string, 0, len(f.Accounts))
	for n := range f.Accounts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// holdsCommand tells whether the file sets a command jab runs: the
// password command, an option marked Command, a room's password_cmd.
func (f *File) holdsCommand(opts []Option) bool {
	if f.holds(Key(OptPasswordCmd)) || f.holdsRoomCommand() {
		return true
	}
	for _, o := range opts {
		if o.Command && f.holds(Key(o.Name)) {
			return true
		}
	}
	return false
}

// holds tells whether the top level or any account table sets key.
func (f *File) holds(key string) bool {
	if _, ok := f.Top[key]; ok {
		return true
	}
	for _, t := range f.Accounts {
		if _, ok := t[key]; ok {
			return true
		}
	}
	return false
}

// defaultPath is $XDG_CONFIG_HOME/jab/config.toml when that is an absolute
// path, else ~/.config/jab/config.toml, else "" (no HOME).
func defaultPath(getenv func(string) string) string {
	if x := getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "jab", "config.toml")
	}
	if h := getenv("HOME"); h != "" && filepath.IsAbs(h) {
		return filepath.Join(h, ".config", "jab", "config.toml")
	}
	return ""
}

// missingError is a config file that does not exist.
type missingError struct{ path string }

func (e *missingError) Error() string { return fmt.Sprintf("config file %q does not exist", e.path) }
func (e *missingError) Unwrap() error { return fs.ErrNotExist }

// LoadFile reads and checks the config file at path for the options
// opts; home is the directory a leading "~/" in a path stands for. Every
// key and type is checked here, so that looking a value up cannot fail. A
// missing file is an error wrapping fs.ErrNotExist; any other problem is
// an *Error.
func LoadFile(path, home string, opts []Option) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &missingError{path: path}
		}
		return nil, Errorf("", "read config file: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, Errorf("", "read config file: %w", err)
	}
	if fi.IsDir() {
		return nil, Errorf("", "config file %q is a directory", path)
	}
	var raw map[string]any
	md, err := toml.NewDecoder(bufio.NewReader(fh)).Decode(&raw)
	if err != nil {
		return nil, tomlSyntaxError(path, err)
	}
	f := &File{Path: path, Top: map[string]any{}, Accounts: map[string]map[string]any{}}
	keys := fileKeys(opts)
	unknown := func(key toml.Key, inAccount bool) error {
		names := make([]string, 0, len(keys)+2)
		for k := range keys {
			names = append(names, k)
		}
		if !inAccount {
			names = append(names, keyDefaultAccount, keyAccounts)
		}
		hint := "see 'jab config init' for a commented example"
		if m := suggest.Closest(names, key[len(key)-1]); m != "" {
			hint = fmt.Sprintf("did you mean %q?", m)
		}
		return Errorf(hint, "config file %q: unknown key %q", path, key.String())
	}
	notTable := func(key toml.Key, v any) error {
		return Errorf("write each account as a table [accounts.NAME]", "config file %q: %s must be a table, not %s", path, key.String(), tomlTypeName(v))
	}
	// md.Keys is in file order, so the first mistake in the file is the
	// one reported.
	for _, key := range md.Keys() {
		// accountTable is the checked table of accounts.NAME (key[1]),
		// made on first sight.
		accountTable := func() (map[string]any, error) {
			if t, ok := f.Accounts[key[1]]; ok {
				return t, nil
			}
			accts, ok := raw[keyAccounts].(map[string]any)
			if !ok {
				return nil, notTable(key[:1], raw[keyAccounts])
			}
			if _, ok := accts[key[1]].(map[string]any); !ok {
				return nil, notTable(key[:2], accts[key[1]])
			}
			t := map[string]any{}
			f.Accounts[key[1]] = t
			return t, nil
		}
		switch {
		case len(key) == 1 && key[0] == keyAccounts:
			if _, ok := raw[keyAccounts].(map[string]any); !ok {
				return nil, notTable(key, raw[keyAccounts])
			}
		case len(key) == 1 && key[0] == keyDefaultAccount:
			s, ok := raw[keyDefaultAccount].(string)
			if !ok {
				return nil, Errorf("", "config file %q: default_account must be a string, not %s", path, tomlTypeName(raw[keyDefaultAccount]))
			}
			f.DefaultAccount = s
		case len(key) == 1:
			opt, ok := keys[key[0]]
			if !ok {
				return nil, unknown(key, false)
			}
			v, err := fileValue(path, key, opt, raw[key[0]], home)
			if err != nil {
				return nil, err
			}
			f.Top[key[0]] = v
		case key[0] == keyAccounts && len(key) == 2:
			if _, err := accountTable(); err != nil {
				return nil, err
			}
		case key[0] == keyAccounts && (len(key) == 3 || len(key) > 3 && keys[key[2]].Kind == Rooms):
			// A dotted key (accounts.work.jid = …, or work.jid = …
			// under [accounts]) makes its table without a key of its
			// own in md.Keys, so the table may not have been seen yet.
			// A table of rooms is read whole, at its first key.
			t, err := accountTable()
			if err != nil {
				return nil, err
			}
			opt, ok := keys[key[2]]
			if !ok {
				return nil, unknown(key, true)
			}
			if _, done := t[key[2]]; done {
				continue
			}
			tbl, _ := raw[keyAccounts].(map[string]any)[key[1]].(map[string]any)
			v, err := fileValue(path, key[:3], opt, tbl[key[2]], home)
			if err != nil {
				return nil, err
			}
			t[key[2]] = v
		case key[0] == keyAccounts:
			return nil, unknown(key, true)
		case keys[key[0]].Kind == Rooms:
			// Inside the top level's table of rooms: read whole.
			if _, done := f.Top[key[0]]; done {
				continue
			}
			v, err := fileValue(path, key[:1], keys[key[0]], raw[key[0]], home)
			if err != nil {
				return nil, err
			}
			f.Top[key[0]] = v
		default:
			// A key inside a table other than accounts, written as a
			// dotted key (server.host = …): not a key of jab's.
			return nil, unknown(key, false)
		}
	}
	if f.DefaultAccount != "" {
		if _, ok := f.Accounts[f.DefaultAccount]; !ok {
			hint := fmt.Sprintf("add an [accounts.%s] table", f.DefaultAccount)
			if m := suggest.Closest(f.accountNames(), f.DefaultAccount); m != "" {
				hint = fmt.Sprintf("did you mean %q?", m)
			}
			return nil, Errorf(hint, "config file %q: default_account %q names no [accounts.%s] table", path, f.DefaultAccount, f.DefaultAccount)
		}
	}
	// As ssh does with a private key: a secret others can read is not
	// used. The mode is that of the file we read (fstat, not stat).
	if f.holds(KeyPassword) && fi.Mode().Perm()&0o044 != 0 {
		return nil, Errorf("chmod 600 "+shellQuote(path), "config file %q holds a password and is readable by others (mode %04o)", path, fi.Mode().Perm())
	}
	// As ssh does with its config file: a command jab runs must not come
	// from a file that someone else can change.
	if f.holdsCommand(opts) {
		if m := fi.Mode().Perm(); m&0o022 != 0 {
			return nil, Errorf("chmod go-w "+shellQuote(path), "config file %q holds a password_cmd (a command jab runs) and is writable by others (mode %04o)", path, m)
		}
		if uid, ok := fileOwner(fi); ok && uid != os.Getuid() && uid != 0 {
			return nil, Errorf("make it yours: chown $(id -u) "+shellQuote(path), "config file %q holds a password_cmd (a command jab runs) and is owned by another user (uid %d)", path, uid)
		}
	}
	return f, nil
}

// tomlSyntaxError reports a TOML syntax error by file, line and the last
// key read, never with the parser's message: that quotes the text at
// the error, which may be part of a password (password = hunter2).
func tomlSyntaxError(path string, err error) error {
	const hint = `check the TOML syntax: strings are quoted, e.g. jid = "me@example.org"`
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return Errorf(hint, "config file %q: invalid TOML", path)
	}
	if pe.LastKey != "" {
		return Errorf(hint, "config file %q: invalid TOML at line %d (key %q)", path, pe.Position.Line, pe.LastKey)
	}
	return Errorf(hint, "config file %q: invalid TOML at line %d", path, pe.Position.Line)
}

// fileValue checks a value's TOML type against the option's kind and
// converts it; a path is made absolute.
func fileValue(path string, key toml.Key, opt Option, v any, home string) (any, error) {
	bad := func() error {
		return Errorf("", "config file %q: %s must be %s, not %s", path, key.String(), opt.Kind, tomlTypeName(v))
	}
	switch opt.Kind {
	case Bool:
		b, ok := v.(bool)
		if !ok {
			return nil, bad()
		}
		return b, nil
	case Int:
		n, ok := v.(int64)
		if !ok {
			return nil, bad()
		}
		return int(n), nil
	case List:
		a, ok := v.([]any)
		if !ok {
			return nil, bad()
		}
		out := make([]string, len(a))
		for i, x := range a {
			if out[i], ok = x.(string); !ok {
				return nil, bad()
			}
		}
		return out, nil
	case Rooms:
		return roomsValue(path, key, v, home)
	case Duration:
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return nil, Errorf(durationHint, "config file %q: %s = %q is not a valid duration", path, key.String(), s)
		}
		return d, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, bad()
	}
	if opt.Path {
		s = filePath(path, s, home)
	}
	return s, nil
}

// filePath is a path given in the config file at path: "~/" is the home
// directory, and a relative path is relative to the file's directory, not
// to wherever jab runs.
func filePath(path, s, home string) string {
	if s == "" {
		return s
	}
	if rest, ok := strings.CutPrefix(s, "~/"); ok && home != "" {
		return filepath.Join(home, rest)
	}
	if !filepath.IsAbs(s) {
		return filepath.Join(filepath.Dir(path), s)
	}
	return s
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
