package settings

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestPasswordOrder walks the documented order of the password sources
// from the bottom up: each one, when set, must beat every source below
// it. Nothing is run or read.
func TestPasswordOrder(t *testing.T) {
	type source struct {
		top, acct string // a line for the top level, for [accounts.a]
		env       map[string]string
		flags     map[string]any
		want      Password // with "CFG" for the config file's path
	}
	// Lowest first.
	sources := []source{
		{top: `password = "pw-top"`, want: Password{"password", "pw-top", "config CFG"}},
		{top: `password_file = "/top-file"`, want: Password{"password_file", "/top-file", "config CFG"}},
		{top: `password_cmd = "echo top"`, want: Password{"password_cmd", "echo top", "config CFG"}},
		{acct: `password = "pw-acct"`, want: Password{"password", "pw-acct", "config CFG [accounts.a]"}},
		{acct: `password_file = "/acct-file"`, want: Password{"password_file", "/acct-file", "config CFG [accounts.a]"}},
		{acct: `password_cmd = "echo acct"`, want: Password{"password_cmd", "echo acct", "config CFG [accounts.a]"}},
		{env: map[string]string{"JAB_PASSWORD_CMD": "echo env"}, want: Password{"password_cmd", "echo env", "env JAB_PASSWORD_CMD"}},
		{env: map[string]string{"JAB_PASSWORD_FILE": "/env-file"}, want: Password{"password_file", "/env-file", "env JAB_PASSWORD_FILE"}},
		{env: map[string]string{"JAB_PASSWORD": "pw-env"}, want: Password{"password", "pw-env", "env JAB_PASSWORD"}},
		{flags: map[string]any{OptPasswordFile: "/flag-file"}, want: Password{"password_file", "/flag-file", "flag"}},
		{flags: map[string]any{OptPasswordCmd: "echo flag"}, want: Password{"password_cmd", "echo flag", "flag"}},
	}
	for level := range sources {
		t.Run(sources[level].want.Source+" "+sources[level].want.Kind, func(t *testing.T) {
			var top, acct []string
			env := map[string]string{"JAB_ACCOUNT": "a"}
			flags := map[string]any{}
			for _, l := range sources[:level+1] {
				if l.top != "" {
					top = append(top, l.top)
				}
				if l.acct != "" {
					acct = append(acct, l.acct)
				}
				for k, v := range l.env {
					env[k] = v
				}
				for k, v := range l.flags {
					flags[k] = v
				}
			}
			cfg := writeConfig(t, strings.Join(top, "\n")+"\n[accounts.a]\njid = \"me@example.org\"\n"+strings.Join(acct, "\n")+"\n")
			env["JAB_CONFIG"] = cfg
			s, err := Load(testLayers(flags, env))
			if err != nil {
				t.Fatal(err)
			}
			want := sources[level].want
			want.Source = strings.Replace(want.Source, "CFG", cfg, 1)
			if got, ok := s.Password("me@example.org"); !ok || got != want {
				t.Errorf("got %+v (%v), want %+v", got, ok, want)
			}
		})
	}
	t.Run("none", func(t *testing.T) {
		s, err := Load(testLayers(nil, map[string]string{"HOME": t.TempDir()}))
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := s.Password("me@example.org"); ok {
			t.Errorf("got %+v", p)
		}
	})
}

// TestPasswordOfAnotherJID: a config layer's password sources belong to
// the layer's jid; when --jid or JAB_JID makes the account another one,
// they are skipped, so one account's password is never sent to another
// account's server.
func TestPasswordOfAnotherJID(t *testing.T) {
	cfg := writeConfig(t, `password = "pw-top"
default_account = "work"
[accounts.work]
jid = "me@work.example"
password_cmd = "echo pw-work"
[accounts.home]
jid = "me@home.example"
[accounts.nojid]
password = "pw-nojid"
`)
	for _, tt := range []struct {
		name    string
		env     map[string]string
		flags   map[string]any
		want    string // the value of the source found
		account string // the JID the password is for
	}{
		{name: "the table's own jid", want: "echo pw-work", account: "me@work.example"},
		{name: "the same account with a resource", want: "echo pw-work", account: "Me@Work.example/res"},
		{name: "another account", want: "pw-top", account: "other@evil.example"},
		{name: "top level with a jid of its own", env: map[string]string{"JAB_ACCOUNT": "home"}, want: "pw-top", account: "other@evil.example"},
		{name: "a table without a jid", env: map[string]string{"JAB_ACCOUNT": "nojid"}, want: "pw-nojid", account: "other@evil.example"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"JAB_CONFIG": cfg}
			for k, v := range tt.env {
				env[k] = v
			}
			s, err := Load(testLayers(tt.flags, env))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Password(tt.account); got.Value != tt.want {
				t.Errorf("got %+v, want %q", got, tt.want)
			}
		})
	}
	t.Run("a top-level jid guards the top-level password", func(t *testing.T) {
		cfg := writeConfig(t, "jid = \"me@example.org\"\npassword = \"pw-top\"\n")
		s, err := Load(testLayers(nil, map[string]string{"JAB_CONFIG": cfg}))
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := s.Password("other@evil.example"); ok {
			t.Errorf("got %+v, want none", p)
		}
	})
}

// TestNoPassword: with no password source, the hint says how to give
// one; when the config file holds a password but for another JID, it says
// whose it is instead of telling to set what is already set.
func TestNoPassword(t *testing.T) {
	for _, tt := range []struct {
		name    string
		config  string
		account string
		env     map[string]string
		want    string
		hint    string
		notHint string
	}{
		{name: "no config file", account: "me@example.org",
			want: "no password source", hint: "set JAB_PASSWORD, pass --password-file FILE or --password-cmd CMD, or set password_cmd in the config file"},
		{name: "a config file without a password", config: "server = \"x:1\"\n", account: "me@example.org",
			want: "no password source", hint: "or set password_cmd in the config file"},
		{name: "the top level's password_cmd is for its jid", config: "jid = \"me@example.org\"\npassword_cmd = \"echo pw\"\n",
			account: "Other@Example.org/r", want: "no password source for other@example.org",
			hint:    `the password_cmd in CFG is for me@example.org; for other@example.org pass --password-cmd CMD or --password-file FILE, set JAB_PASSWORD, or add an [accounts.NAME] table with jid = "other@example.org"`,
			notHint: "set password_cmd in the config file"},
		{name: "a table's password is for its jid", config: "[accounts.work]\njid = \"me@work.example\"\npassword = \"hunter2\"\n",
			env: map[string]string{"JAB_ACCOUNT": "work"}, account: "other@example.org",
			want: "no password source for other@example.org", hint: "the password in CFG [accounts.work] is for me@work.example; for other@example.org ",
			notHint: "hunter2"},
		{name: "a jid without a password says nothing of it", config: "jid = \"me@example.org\"\n", account: "other@example.org",
			want: "no password source", hint: "or set password_cmd in the config file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HOME": t.TempDir()}
			cfg := ""
			if tt.config != "" {
				cfg = writeConfig(t, tt.config)
				env["JAB_CONFIG"] = cfg
			}
			for k, v := range tt.env {
				env[k] = v
			}
			s, err := Load(testLayers(nil, env))
			if err != nil {
				t.Fatal(err)
			}
			if p, ok := s.Password(tt.account); ok {
				t.Fatalf("a password source: %+v", p)
			}
			err = s.NoPassword(tt.account)
			wantError(t, err, tt.want, strings.ReplaceAll(tt.hint, "CFG", cfg))
			var e *Error
			if errors.As(err, &e) && tt.notHint != "" && strings.Contains(e.Hint, tt.notHint) {
				t.Errorf("hint %q says %q", e.Hint, tt.notHint)
			}
		})
	}
}

// TestReadPasswordFile: the first line, from a file no one else may read.
func TestReadPasswordFile(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, content string
		mode          fs.FileMode
		want, err     string
		hint          string
	}{
		{name: "first line", content: "s3cret\r\nsecond\n", mode: 0o600, want: "s3cret"},
		{name: "no newline", content: "s3cret", mode: 0o400, want: "s3cret"},
		{name: "empty", content: "\nsecond\n", mode: 0o600, err: "is empty"},
		{name: "group-readable", content: "s3cret\n", mode: 0o640, err: "is readable by others (mode 0640)", hint: "chmod 600 "},
		{name: "world-readable", content: "s3cret\n", mode: 0o604, err: "is readable by others (mode 0604)", hint: "chmod 600 "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")), tt.content, tt.mode)
			got, err := ReadPasswordFile(path)
			if tt.err != "" {
				wantError(t, err, tt.err, tt.hint)
				if err != nil && strings.Contains(err.Error(), "s3cret") {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	_, err := ReadPasswordFile(filepath.Join(dir, "none"))
	wantError(t, err, "read password file: ", "")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%v does not wrap fs.ErrNotExist", err)
	}
}
