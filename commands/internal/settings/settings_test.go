package settings

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testOptions are jab's global options as the commands package describes
// them (commands tests that the two agree with its flags).
var testOptions = []Option{
	{Name: OptConfig, Env: "JAB_CONFIG"},
	{Name: OptAccount, Env: "JAB_ACCOUNT"},
	{Name: OptJID, Env: "JAB_JID"},
	{Name: OptPasswordFile, Env: "JAB_PASSWORD_FILE", Path: true},
	{Name: OptPasswordCmd, Env: "JAB_PASSWORD_CMD"},
	{Name: "server", Env: "JAB_SERVER"},
	{Name: "ca-file", Env: "JAB_CA_FILE", Path: true},
	{Name: "no-plain", Env: "JAB_NO_PLAIN", Kind: Bool},
	{Name: "state-dir", Env: "JAB_STATE_DIR", Path: true},
	{Name: "timeout", Env: "JAB_TIMEOUT", Kind: Duration},
	{Name: "lock-idle", Env: "JAB_LOCK_IDLE", Kind: Duration},
	{Name: "no-history", Env: "JAB_NO_HISTORY", Kind: Bool},
	{Name: "history-max", Env: "JAB_HISTORY_MAX", Kind: Int},
}

// testLayers are the given flags (typed as their options) and
// environment.
func testLayers(flags map[string]any, env map[string]string) Layers {
	return Layers{
		Options: testOptions,
		Flag:    func(name string) (any, bool) { v, ok := flags[name]; return v, ok },
		Getenv:  func(k string) string { return env[k] },
	}
}

// writeFile writes a test file with the given mode (chmod, so the umask
// does not decide).
func writeFile(t *testing.T, path, content string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeConfig writes a config file with mode 0600 in a directory of its
// own.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	return writeFile(t, filepath.Join(t.TempDir(), "config.toml"), content, 0o600)
}

// TestPrecedence: flag > environment > account table > top level >
// default, for a string, a bool, a duration and an int option. Level i
// turns on every layer up to i, so each layer must beat all the lower
// ones.
func TestPrecedence(t *testing.T) {
	type layers struct{ top, acct string } // TOML values
	opts := []struct {
		name  string // the option
		toml  layers
		env   string
		flag  any
		wants [5]string // default, top, account, env, flag
		get   func(s *Settings) (string, error)
	}{
		{"server", layers{`"top:1"`, `"acct:1"`}, "env:1", "flag:1",
			[5]string{"", "top:1", "acct:1", "env:1", "flag:1"},
			func(s *Settings) (string, error) { return Get(s, "server", "") }},
		{"no-history", layers{`true`, `false`}, "1", false,
			[5]string{"false", "true", "false", "true", "false"},
			func(s *Settings) (string, error) {
				b, err := Get(s, "no-history", false)
				return strconv.FormatBool(b), err
			}},
		{"timeout", layers{`"10s"`, `"20s"`}, "40s", 50 * time.Second,
			[5]string{"30s", "10s", "20s", "40s", "50s"},
			func(s *Settings) (string, error) {
				d, err := Get(s, "timeout", 30*time.Second)
				return d.String(), err
			}},
		{"history-max", layers{`10`, `20`}, "40", 50,
			[5]string{"1000000", "10", "20", "40", "50"},
			func(s *Settings) (string, error) {
				n, err := Get(s, "history-max", 1000000)
				return strconv.Itoa(n), err
			}},
	}
	levels := []string{"default", "top", "account", "env", "flag"}
	for _, o := range opts {
		key := Key(o.name)
		for level, levelName := range levels {
			// One more case per option: the account table is there but
			// not selected, so the top level holds.
			for _, selectAccount := range []bool{true, false} {
				if !selectAccount && level != 2 {
					continue
				}
				caseName := o.name + "/" + levelName
				if !selectAccount {
					caseName += "/table not selected"
				}
				t.Run(caseName, func(t *testing.T) {
					var conf strings.Builder
					if level >= 1 {
						conf.WriteString(key + " = " + o.toml.top + "\n")
					}
					conf.WriteString("[accounts.a]\njid = \"me@example.org\"\n")
					if level >= 2 {
						conf.WriteString(key + " = " + o.toml.acct + "\n")
					}
					env := map[string]string{"JAB_CONFIG": writeConfig(t, conf.String())}
					if selectAccount {
						env["JAB_ACCOUNT"] = "a"
					}
					if level >= 3 {
						env["JAB_"+strings.ToUpper(key)] = o.env
					}
					flags := map[string]any{}
					if level >= 4 {
						flags[o.name] = o.flag
					}
					want := o.wants[level]
					if !selectAccount {
						want = o.wants[1]
					}
					s, err := Load(testLayers(flags, env))
					if err != nil {
						t.Fatal(err)
					}
					got, err := o.get(s)
					if err != nil {
						t.Fatal(err)
					}
					if got != want {
						t.Errorf("got %q, want %q\nconfig:\n%s", got, want, conf.String())
					}
				})
			}
		}
	}
}

// TestSources: the source of each value is what 'jab config show'
// prints.
func TestSources(t *testing.T) {
	cfg := writeConfig(t, "timeout = \"10s\"\ndefault_account = \"work\"\n[accounts.work]\njid = \"me@work.example\"\n")
	s, err := Load(testLayers(map[string]any{"server": "flag:1"}, map[string]string{"JAB_CONFIG": cfg, "JAB_LOCK_IDLE": "5m", "JAB_NO_PLAIN": ""}))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"server":    "flag",
		"lock-idle": "env JAB_LOCK_IDLE",
		"jid":       "config " + cfg + " [accounts.work]",
		"timeout":   "config " + cfg,
		"no-plain":  "", // an empty variable counts as unset
	} {
		v, ok := s.Lookup(name)
		if v.Source != want || ok != (want != "") {
			t.Errorf("%s: source %q (%v), want %q", name, v.Source, ok, want)
		}
	}
	if path, src := s.ConfigPath(); path != cfg || src != "env JAB_CONFIG" {
		t.Errorf("config %q from %q", path, src)
	}
	if name, src := s.Account(); name != "work" || src != "config "+cfg+" default_account" {
		t.Errorf("account %q from %q", name, src)
	}
	s, err = Load(testLayers(map[string]any{OptAccount: "bot@example.org"}, map[string]string{"JAB_CONFIG": cfg}))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Lookup(OptJID); v.V != "bot@example.org" || v.Source != "flag --account" || v.From != FromAccountJID {
		t.Errorf("jid from an account JID: %+v", v)
	}
}

// TestGiven: a timeout from the config file is a default: it bounds
// connecting but is not "given", so listen does not take it as an idle
// limit; the flag and the environment are given.
func TestGiven(t *testing.T) {
	cfg := writeConfig(t, "timeout = \"7s\"\n")
	for _, tt := range []struct {
		name      string
		env       map[string]string
		flags     map[string]any
		want      time.Duration
		wantGiven bool
	}{
		{"config", map[string]string{"JAB_CONFIG": cfg}, nil, 7 * time.Second, false},
		{"env", map[string]string{"JAB_CONFIG": cfg, "JAB_TIMEOUT": "8s"}, nil, 8 * time.Second, true},
		{"flag", map[string]string{"JAB_CONFIG": cfg}, map[string]any{"timeout": 9 * time.Second}, 9 * time.Second, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Load(testLayers(tt.flags, tt.env))
			if err != nil {
				t.Fatal(err)
			}
			d, err := Get(s, "timeout", 30*time.Second)
			v, _ := s.Lookup("timeout")
			if err != nil || d != tt.want || v.Given() != tt.wantGiven {
				t.Errorf("got %v given=%v (%v), want %v given=%v", d, v.Given(), err, tt.want, tt.wantGiven)
			}
		})
	}
}

// TestBadValues: a flag or environment value of the wrong form is a
// usage error naming the variable; a config file cannot hold one (see
// TestLoadErrors).
func TestBadValues(t *testing.T) {
	for _, tt := range []struct {
		name  string
		flags map[string]any
		env   map[string]string
		get   func(s *Settings) error
		want  string
		hint  string
	}{
		{"bool", nil, map[string]string{"JAB_NO_PLAIN": "maybe"},
			func(s *Settings) error { _, err := Get(s, "no-plain", false); return err },
			`JAB_NO_PLAIN="maybe" is not a boolean`, "use 1 or 0"},
		{"int", nil, map[string]string{"JAB_HISTORY_MAX": "lots"},
			func(s *Settings) error { _, err := Get(s, "history-max", 1); return err },
			`JAB_HISTORY_MAX="lots" is not a number`, ""},
		{"duration", nil, map[string]string{"JAB_TIMEOUT": "soon"},
			func(s *Settings) error { _, err := Get(s, "timeout", time.Second); return err },
			`JAB_TIMEOUT="soon" is not a valid duration`, "use a Go duration such as 30s or 15m"},
		{"negative duration in the environment", nil, map[string]string{"JAB_TIMEOUT": "-1s"},
			func(s *Settings) error { _, err := Get(s, "timeout", time.Second); return err },
			`JAB_TIMEOUT="-1s" is not a valid duration`, "use a Go duration"},
		{"negative duration flag", map[string]any{"lock-idle": -time.Second}, nil,
			func(s *Settings) error { _, err := Get(s, "lock-idle", time.Second); return err },
			"--lock-idle must not be negative", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Load(testLayers(tt.flags, tt.env))
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, tt.get(s), tt.want, tt.hint)
		})
	}
}

// wantError checks for an *Error saying want with a hint saying hint.
func wantError(t *testing.T, err error, want, hint string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want a usage error %q", err, want)
	}
	if !strings.Contains(e.Error(), want) {
		t.Errorf("error %q does not say %q", e.Error(), want)
	}
	if !strings.Contains(e.Hint, hint) || (hint == "" && e.Hint != "") {
		t.Errorf("hint %q, want %q", e.Hint, hint)
	}
}

// TestConfigPath: --config, else JAB_CONFIG, else the default path; an
// explicit file must exist, the default one need not.
func TestConfigPath(t *testing.T) {
	home := t.TempDir()
	for _, tt := range []struct {
		name       string
		flags      map[string]any
		env        map[string]string
		path, from string
	}{
		{"flag", map[string]any{OptConfig: "/f.toml"}, map[string]string{"JAB_CONFIG": "/e.toml"}, "/f.toml", "flag"},
		{"env", nil, map[string]string{"JAB_CONFIG": "/e.toml"}, "/e.toml", "env JAB_CONFIG"},
		{"XDG", nil, map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": home}, "/x/jab/config.toml", "default"},
		{"relative XDG", nil, map[string]string{"XDG_CONFIG_HOME": "x", "HOME": home}, home + "/.config/jab/config.toml", "default"},
		{"no HOME", nil, nil, "", "default"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path, from, explicit := testLayers(tt.flags, tt.env).ConfigPath()
			if path != tt.path || from != tt.from || explicit != (from != "default") {
				t.Errorf("got %q from %q (explicit %v)", path, from, explicit)
			}
		})
	}
	s, err := Load(testLayers(nil, map[string]string{"HOME": home}))
	if err != nil || s.File() != nil {
		t.Errorf("no file at the default path: %v, %v", s.File(), err)
	}
	_, err = Load(testLayers(map[string]any{OptConfig: filepath.Join(home, "none.toml")}, nil))
	wantError(t, err, "none.toml\" does not exist", "create it with 'jab config init --config ")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%v does not wrap fs.ErrNotExist", err)
	}
}

// TestLoadErrors: every bad configuration is one usage error naming what
// is wrong, with a hint where one helps, and never showing a password.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	good := "jid = \"me@example.org\"\n[accounts.work]\njid = \"me@work.example\"\n"
	tests := []struct {
		name    string
		config  string
		mode    os.FileMode
		env     map[string]string
		flags   map[string]any
		want    string
		hint    string
		nowhere string // must not appear in the error or the hint
	}{
		{name: "unknown top-level key", config: "jid = \"me@example.org\"\ntimout = \"5s\"\n",
			want: `config.toml": unknown key "timout"`, hint: `did you mean "timeout"?`},
		{name: "unknown key in an account", config: good + "pasword_cmd = \"x\"\n",
			want: `unknown key "accounts.work.pasword_cmd"`, hint: `did you mean "password_cmd"?`},
		{name: "unknown key, nothing close", config: "colour = \"red\"\n",
			want: `unknown key "colour"`, hint: "see 'jab config init' for a commented example"},
		{name: "unknown table", config: "[server]\nhost = \"x\"\n", want: "server must be a string, not a table"},
		{name: "dotted key in another table", config: "server.host = \"x\"\n", want: `unknown key "server.host"`, hint: "see 'jab config init'"},
		{name: "default_account in an account", config: good + "default_account = \"work\"\n",
			want: `unknown key "accounts.work.default_account"`, hint: "see 'jab config init'"},
		{name: "default_account not a string", config: "default_account = 1\n",
			want: "default_account must be a string, not an integer"},
		{name: "bool given as string", config: "no_history = \"yes\"\n",
			want: `config.toml": no_history must be a boolean (true or false), not a string`},
		{name: "duration given as integer", config: "timeout = 30\n",
			want: `timeout must be a duration string such as "30s", not an integer`},
		{name: "bad duration", config: "timeout = \"soon\"\n", want: `timeout = "soon" is not a valid duration`,
			hint: "use a Go duration such as 30s or 15m"},
		{name: "negative duration", config: "lock_idle = \"-1m\"\n", want: `lock_idle = "-1m" is not a valid duration`,
			hint: "use a Go duration"},
		{name: "int given as string", config: "history_max = \"10\"\n", want: "history_max must be an integer, not a string"},
		{name: "string given as integer", config: good + "server = 5222\n", want: "accounts.work.server must be a string, not an integer"},
		{name: "account not a table", config: "[accounts]\nwork = \"me\"\n", want: "accounts.work must be a table",
			hint: "write each account as a table [accounts.NAME]"},
		{name: "accounts dotted key not under a table", config: "accounts.work = 1\n", want: "accounts.work must be a table, not an integer", hint: "write each account as a table"},
		{name: "accounts not a table", config: "accounts = 1\n", want: "accounts must be a table, not an integer", hint: "write each account as a table"},
		{name: "TOML syntax", config: "jid = \n", want: `config.toml": invalid TOML at line 1`, hint: "check the TOML syntax"},
		{name: "TOML syntax error in a password", config: "jid = \"me@example.org\"\npassword = hunter2\n",
			want: `invalid TOML at line 2 (key "password")`, hint: "check the TOML syntax", nowhere: "hunt"},
		{name: "TOML syntax error after a quoted password", config: "password = 'hunter2'x\n", want: "invalid TOML at line 1", hint: "check the TOML syntax", nowhere: "x'"},
		{name: "missing account", config: good, flags: map[string]any{OptAccount: "wrk"},
			want: `--account "wrk": no such account in `, hint: `did you mean "work"?`},
		{name: "missing account from the environment", config: good, env: map[string]string{"JAB_ACCOUNT": "nope"},
			want: `JAB_ACCOUNT "nope": no such account`, hint: "the accounts are work"},
		{name: "missing account, no tables", config: "jid = \"me@example.org\"\n", env: map[string]string{"JAB_ACCOUNT": "work"},
			want: `JAB_ACCOUNT "work": no such account`, hint: "add an [accounts.work] table to "},
		{name: "empty --account", config: good, flags: map[string]any{OptAccount: ""},
			want: "--account needs an account name or a JID"},
		{name: "default_account names no table", config: "default_account = \"wrok\"\n" + good,
			want: `default_account "wrok" names no [accounts.wrok] table`, hint: `did you mean "work"?`},
		{name: "group-readable with a password", config: good + "password = \"hunter2\"\n", mode: 0o640,
			want: "holds a password and is readable by others (mode 0640)", hint: "chmod 600 ", nowhere: "hunter2"},
		{name: "world-readable with a password at the top", config: "password = \"hunter2\"\n", mode: 0o604,
			want: "readable by others", hint: "chmod 600 ", nowhere: "hunter2"},
		{name: "password_cmd in a group-writable file", config: good + "password_cmd = \"echo pw\"\n", mode: 0o620,
			want: "holds a password_cmd (a command jab runs) and is writable by others (mode 0620)", hint: "chmod go-w "},
		{name: "password_cmd in a world-writable file", config: "password_cmd = \"echo pw\"\n", mode: 0o602,
			want: "writable by others (mode 0602)", hint: "chmod go-w "},
		{name: "JID of two accounts", config: good + "[accounts.work2]\njid = \"Me@work.example\"\n", env: map[string]string{"JAB_ACCOUNT": "me@work.example"},
			want: `JAB_ACCOUNT "me@work.example": the JID of several accounts in `, hint: "give the table name instead, e.g. --account work"},
		{name: "empty --config", flags: map[string]any{OptConfig: ""}, want: "--config needs a file name"},
		{name: "account name that is no JID without a config", env: map[string]string{"HOME": dir + "/nohome"},
			flags: map[string]any{OptAccount: "work"}, want: `--account "work": no config file (`, hint: "create one with 'jab config init'"},
		{name: "account name without HOME", flags: map[string]any{OptAccount: "work"},
			want: `--account "work": no config file`, hint: "set HOME or pass --config FILE"},
		{name: "config file is a directory", flags: map[string]any{OptConfig: dir}, want: "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			if tt.config != "" {
				mode := tt.mode
				if mode == 0 {
					mode = 0o600
				}
				env["JAB_CONFIG"] = writeFile(t, filepath.Join(t.TempDir(), "config.toml"), tt.config, mode)
			}
			for k, v := range tt.env {
				env[k] = v
			}
			s, err := Load(testLayers(tt.flags, env))
			wantError(t, err, tt.want, tt.hint)
			var e *Error
			if errors.As(err, &e) && tt.nowhere != "" && strings.Contains(e.Error()+e.Hint, tt.nowhere) {
				t.Errorf("the error shows %q: %v (%s)", tt.nowhere, e, e.Hint)
			}
			if s == nil || s.File() != nil {
				t.Errorf("after an error: %+v, want the flags and the environment alone", s)
			}
		})
	}
}

// TestAccountJID: --account and JAB_ACCOUNT take a table name or a JID
// (listen --exec sets JAB_ACCOUNT to the account's bare JID).
func TestAccountJID(t *testing.T) {
	cfg := writeConfig(t, `jid = "top@example.org"
server = "top:1"
[accounts.work]
jid = "Me@Work.example"
server = "work:1"
`)
	tests := []struct {
		name      string
		env       map[string]string
		flags     map[string]any
		jid, serv string
	}{
		{name: "table name", flags: map[string]any{OptAccount: "work"}, jid: "Me@Work.example", serv: "work:1"},
		{name: "JID of a table selects it", env: map[string]string{"JAB_ACCOUNT": "me@work.example"}, jid: "Me@Work.example", serv: "work:1"},
		{name: "JID of no table", env: map[string]string{"JAB_ACCOUNT": "bot@example.org"}, jid: "bot@example.org", serv: "top:1"},
		{name: "JAB_JID beats an account JID", env: map[string]string{"JAB_ACCOUNT": "bot@example.org", "JAB_JID": "env@example.org"}, jid: "env@example.org", serv: "top:1"},
		{name: "flag beats the environment", env: map[string]string{"JAB_ACCOUNT": "bot@example.org"}, flags: map[string]any{OptAccount: "work"}, jid: "Me@Work.example", serv: "work:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"JAB_CONFIG": cfg}
			for k, v := range tt.env {
				env[k] = v
			}
			s, err := Load(testLayers(tt.flags, env))
			if err != nil {
				t.Fatal(err)
			}
			jid, _ := Get(s, OptJID, "")
			serv, _ := Get(s, "server", "")
			if jid != tt.jid || serv != tt.serv {
				t.Errorf("jid %q server %q, want %q %q", jid, serv, tt.jid, tt.serv)
			}
		})
	}
	t.Run("a JID works without any config file", func(t *testing.T) {
		s, err := Load(testLayers(nil, map[string]string{"HOME": t.TempDir(), "JAB_ACCOUNT": "bot@example.org"}))
		if jid, _ := Get(s, OptJID, ""); err != nil || jid != "bot@example.org" {
			t.Errorf("jid %q, %v", jid, err)
		}
	})
}

// TestPathKeys: in the config file "~/" is the home directory and a
// relative path is relative to the file; other strings are kept as they
// are.
func TestPathKeys(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, filepath.Join(dir, "config.toml"), "state_dir = \"~/st\"\nca_file = \"ca.pem\"\npassword_file = \"/abs/pw\"\nserver = \"~/x\"\n[accounts.a]\nstate_dir = \"rel\"\n", 0o600)
	f, err := LoadFile(cfg, "/home/me", testOptions)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"state_dir": "/home/me/st", "ca_file": filepath.Join(dir, "ca.pem"), "password_file": "/abs/pw", "server": "~/x"}
	for k, v := range want {
		if f.Top[k] != v {
			t.Errorf("%s = %v, want %v", k, f.Top[k], v)
		}
	}
	if got := f.Accounts["a"]["state_dir"]; got != filepath.Join(dir, "rel") {
		t.Errorf("accounts.a.state_dir = %v", got)
	}
}

// TestDottedAccountKeys: an account table made by a dotted key
// (accounts.work.jid = … at the top level, or work.jid = … under
// [accounts]) loads like an [accounts.work] table; it used to panic
// with "assignment to entry in nil map".
func TestDottedAccountKeys(t *testing.T) {
	for _, tt := range []struct{ name, config string }{
		{"at the top level", "accounts.work.jid = \"a@b.c\"\naccounts.work.timeout = \"5s\"\n"},
		{"under [accounts]", "[accounts]\nwork.jid = \"a@b.c\"\nwork.timeout = \"5s\"\n"},
		{"beside a table", "[accounts]\nwork.jid = \"a@b.c\"\nwork.timeout = \"5s\"\n[accounts.home]\njid = \"h@b.c\"\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeConfig(t, tt.config)
			f, err := LoadFile(cfg, "", testOptions)
			if err != nil {
				t.Fatal(err)
			}
			if w := f.Accounts["work"]; w["jid"] != "a@b.c" || w["timeout"] != 5*time.Second {
				t.Errorf("accounts.work = %v", w)
			}
			s, err := Load(testLayers(nil, map[string]string{"JAB_CONFIG": cfg, "JAB_ACCOUNT": "a@b.c"}))
			if name, _ := s.Account(); err != nil || name != "work" {
				t.Errorf("JAB_ACCOUNT=a@b.c selects %q, %v", name, err)
			}
		})
	}
}

// TestErrorWraps: an error given to Errorf with %w stays visible to
// errors.Is and errors.As, and the message reads as with %v.
func TestErrorWraps(t *testing.T) {
	_, cause := os.Open(filepath.Join(t.TempDir(), "none"))
	err := Errorf("a hint", "read password file: %w", cause)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%v does not wrap fs.ErrNotExist", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Errorf("%v: no *fs.PathError inside", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Hint != "a hint" || err.Error() != "read password file: "+cause.Error() {
		t.Errorf("got %q (%+v)", err, e)
	}
	if err := Errorf("", "plain %v", cause); errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%%v wraps: %v", err)
	}
}
