package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/commands/internal/settings"
	"github.com/jab-xmpp/jab/session"
)

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

// inContext runs f inside a minimal app with the global flags, the way a
// subcommand's action sees them.
func inContext(t *testing.T, env *Env, args []string, f func(c *cli.Context) error) error {
	t.Helper()
	app := &cli.App{Name: "jab", Flags: globalFlags(), Writer: io.Discard, ErrWriter: io.Discard,
		ExitErrHandler: func(*cli.Context, error) {}, Action: f}
	return app.RunContext(context.Background(), append([]string{"jab"}, args...))
}

func testEnv(vars map[string]string) *Env {
	return &Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		Getenv: func(k string) string { return vars[k] }, Now: time.Now, Host: "test"}
}

// TestConfigKeysFromGlobalFlags: every global option is described to
// package settings with the type of its flag, its environment variable,
// and whether it names a path, so a new global flag is a new config key
// that a config file can hold.
func TestConfigKeysFromGlobalFlags(t *testing.T) {
	opts := map[string]settings.Option{}
	for _, o := range globalOptions() {
		opts[o.Name] = o
	}
	var conf strings.Builder
	for _, f := range globalFlags() {
		name := f.Names()[0]
		o, ok := opts[name]
		if !ok {
			t.Errorf("--%s is not described to settings", name)
			continue
		}
		want := settings.String
		switch f.(type) {
		case *cli.BoolFlag:
			want = settings.Bool
		case *cli.DurationFlag:
			want = settings.Duration
		case *cli.IntFlag:
			want = settings.Int
		}
		if o.Kind != want || o.Env != envOf[name] || o.Env == "" {
			t.Errorf("--%s is %+v, want kind %v and env %q", name, o, want, envOf[name])
		}
		if name == flagConfig || name == flagAccount {
			continue
		}
		value := map[settings.Kind]string{settings.String: `"x"`, settings.Bool: "true", settings.Duration: `"1s"`, settings.Int: "1"}[o.Kind]
		fmt.Fprintf(&conf, "%s = %s\n", settings.Key(name), value)
	}
	for _, name := range []string{flagCAFile, flagPasswordFile, flagStateDir} {
		if !opts[name].Path {
			t.Errorf("--%s does not name a path", name)
		}
	}
	// Every key, with a value of its type, at the top level and in a
	// table; --config and --account are not keys.
	path := writeFile(t, filepath.Join(t.TempDir(), "config.toml"), conf.String()+"password = \"pw\"\n[accounts.a]\n"+conf.String(), 0o600)
	if _, err := loadConfigFile(path, ""); err != nil {
		t.Error(err)
	}
	for _, k := range []string{"config", "account"} {
		path := writeFile(t, filepath.Join(t.TempDir(), "config.toml"), k+" = \"x\"\n", 0o600)
		if _, err := loadConfigFile(path, ""); err == nil {
			t.Errorf("%s is a config key", k)
		}
	}
}

// loadConfigFile reads a config file as jab does.
func loadConfigFile(path, home string) (*settings.File, error) {
	return settings.LoadFile(path, home, globalOptions())
}

// TestFlagLayer: the adapter hands settings the global flags given on
// the command line, before or after the subcommand name, typed as their
// options; a flag not given is not there, even with a default.
func TestFlagLayer(t *testing.T) {
	app := &cli.App{Name: "jab", Flags: globalFlags(), Writer: io.Discard, ErrWriter: io.Discard,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{{Name: "sub", Flags: commandFlags(), Action: func(c *cli.Context) error {
			l := layers(c, testEnv(nil))
			for name, want := range map[string]any{flagServer: "s:1", flagNoHistory: false, flagTimeout: 5 * time.Second, flagHistoryMax: 7} {
				if v, ok := l.Flag(name); !ok || v != want {
					t.Errorf("--%s: %#v (%v), want %#v", name, v, ok, want)
				}
			}
			for _, name := range []string{flagLockIdle, flagJID, flagDebug} {
				if v, ok := l.Flag(name); ok {
					t.Errorf("--%s not given, but got %#v", name, v)
				}
			}
			return nil
		}}}}
	err := app.RunContext(context.Background(), []string{"jab", "--server", "s:1", "--timeout", "5s", "sub", "--no-history=false", "--history-max", "7"})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPasswordPrecedence walks the documented order from the bottom up:
// each source, when set, must beat every source below it.
func TestPasswordPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := func(name string) string {
		return writeFile(t, filepath.Join(dir, name), "pw-"+name+"\nignored\n", 0o600)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o700); err != nil {
		t.Fatal(err)
	}
	// A fake secret-tool that knows only our account.
	writeFile(t, filepath.Join(bin, "secret-tool"), `#!/bin/sh
[ "$*" = "lookup service jab account me@example.org" ] && echo pw-keyring && exit 0
exit 1
`, 0o700)
	type source struct {
		name string
		top  string // a line for the top level
		acct string // a line for [accounts.a]
		env  map[string]string
		args []string
	}
	// Lowest first.
	sources := []source{
		{name: "prompt"},
		{name: "keyring", env: map[string]string{"PATH": bin}},
		{name: "top password", top: `password = "pw-top"`},
		{name: "top password_file", top: `password_file = "` + file("top-file") + `"`},
		{name: "top password_cmd", top: `password_cmd = "echo pw-top-cmd"`},
		{name: "account password", acct: `password = "pw-acct"`},
		{name: "account password_file", acct: `password_file = "` + file("acct-file") + `"`},
		{name: "account password_cmd", acct: `password_cmd = "echo pw-acct-cmd"`},
		{name: "JAB_PASSWORD_CMD", env: map[string]string{"JAB_PASSWORD_CMD": "echo pw-env-cmd"}},
		{name: "JAB_PASSWORD_FILE", env: map[string]string{"JAB_PASSWORD_FILE": file("env-file")}},
		{name: "JAB_PASSWORD", env: map[string]string{"JAB_PASSWORD": "pw-env"}},
		{name: "--password-file", args: []string{"--password-file", file("flag-file")}},
		{name: "--password-cmd", args: []string{"--password-cmd", "echo pw-flag-cmd"}},
	}
	wants := []string{"pw-prompt", "pw-keyring", "pw-top", "pw-top-file", "pw-top-cmd", "pw-acct", "pw-acct-file",
		"pw-acct-cmd", "pw-env-cmd", "pw-env-file", "pw-env", "pw-flag-file", "pw-flag-cmd"}
	for level, s := range sources {
		t.Run(s.name, func(t *testing.T) {
			var top, acct []string
			vars := map[string]string{"JAB_JID": "me@example.org", "JAB_ACCOUNT": "a"}
			var args []string
			for _, l := range sources[:level+1] {
				if l.top != "" {
					top = append(top, l.top)
				}
				if l.acct != "" {
					acct = append(acct, l.acct)
				}
				for k, v := range l.env {
					vars[k] = v
				}
				args = append(args, l.args...)
			}
			conf := strings.Join(top, "\n") + "\n[accounts.a]\n" + strings.Join(acct, "\n") + "\n"
			vars["JAB_CONFIG"] = writeFile(t, filepath.Join(t.TempDir(), "config.toml"), conf, 0o600)
			env := testEnv(vars)
			env.StdinTTY = true
			var stderr bytes.Buffer
			env.Stderr = &stderr
			prompted := false
			env.ReadPassword = func(context.Context) (string, error) { prompted = true; return "pw-prompt", nil }
			var got string
			err := inContext(t, env, args, func(c *cli.Context) error {
				var err error
				got, err = passwordOf(c, env, "me@example.org")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != wants[level] {
				t.Errorf("password from %q, want %q", got, wants[level])
			}
			if prompted != (level == 0) {
				t.Errorf("prompted = %v", prompted)
			}
			if level == 0 && !strings.Contains(stderr.String(), "Password for me@example.org: ") {
				t.Errorf("prompt on stderr: %q", stderr.String())
			}
		})
	}
	t.Run("keyring finds nothing, then the prompt", func(t *testing.T) {
		env := testEnv(map[string]string{"JAB_JID": "other@example.org", "PATH": bin})
		env.StdinTTY = true
		env.ReadPassword = func(context.Context) (string, error) { return "typed", nil }
		var got string
		err := inContext(t, env, nil, func(c *cli.Context) error {
			var err error
			got, err = passwordOf(c, env, "other@example.org")
			return err
		})
		if err != nil || got != "typed" {
			t.Errorf("got %q, %v; want the prompt's answer", got, err)
		}
	})
	t.Run("no terminal, no source", func(t *testing.T) {
		env := testEnv(map[string]string{"JAB_JID": "me@example.org"})
		err := inContext(t, env, nil, func(c *cli.Context) error {
			_, err := passwordOf(c, env, "me@example.org")
			return err
		})
		if exitCode(err) != ExitUsage || !strings.Contains(err.Error(), "no password source") {
			t.Errorf("got %v", err)
		}
	})
}

// passwordOf gets the password for jid as a command does, with the global
// flags of c and the environment of env.
func passwordOf(c *cli.Context, env *Env, jid string) (string, error) {
	s, err := loadSettings(c, env)
	if err != nil {
		return "", err
	}
	account, err := session.ParseJID(jid)
	if err != nil {
		return "", err
	}
	return findPassword(c.Context, env, s, account, 5*time.Second)
}

// TestConfigErrors: a bad configuration, whether package settings finds
// it (see its TestLoadErrors for every case) or getting the password
// does, is one usage error line (exit 2) naming what is wrong, with a
// hint where one helps, and nothing is contacted.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	good := "jid = \"me@example.org\"\n[accounts.work]\njid = \"me@work.example\"\n"
	pwFile := writeFile(t, filepath.Join(dir, "pw-shared"), "secret\n", 0o640)
	tests := []struct {
		name    string
		config  string
		mode    os.FileMode
		env     map[string]string
		args    []string
		want    []string // in the error line
		hint    string
		nowhere string // must not appear in the output
	}{
		{name: "unknown top-level key", config: "jid = \"me@example.org\"\ntimout = \"5s\"\n",
			want: []string{`unknown key "timout"`, "config.toml"}, hint: `did you mean "timeout"?`},
		{name: "missing account", config: good, args: []string{"--account", "wrk"},
			want: []string{`--account "wrk": no such account`}, hint: `did you mean "work"?`},
		{name: "group-readable with a password", config: good + "password = \"hunter2\"\n", mode: 0o640,
			want: []string{"holds a password and is readable by others (mode 0640)"}, hint: "chmod 600 ", nowhere: "hunter2"},
		{name: "TOML syntax error in a password", config: "jid = \"me@example.org\"\npassword = hunter2\n",
			want: []string{"config.toml", "invalid TOML at line 2", `(key "password")`}, nowhere: "hunt"},
		{name: "missing --config file", args: []string{"--config", filepath.Join(dir, "nonexistent.toml")},
			want: []string{"nonexistent.toml", "does not exist"}, hint: "jab config init"},
		{name: "group-readable password file", config: "password_file = \"" + pwFile + "\"\n" + good, mode: 0o644, env: map[string]string{"JAB_JID": "me@example.org"},
			want: []string{"password file", "readable by others (mode 0640)"}, hint: "chmod 600 " + pwFile, nowhere: "secret"},
		{name: "group-readable password file from the flag", config: good, args: []string{"--password-file", pwFile},
			want: []string{"readable by others"}, hint: "chmod 600 "},
		{name: "password command fails", config: "password_cmd = \"exit 3\"\n" + good, env: map[string]string{"JAB_JID": "me@example.org"},
			want: []string{"password command failed: exit status 3"}},
		{name: "password command prints nothing", config: good + "password_cmd = \"true\"\n", env: map[string]string{"JAB_ACCOUNT": "work", "JAB_JID": ""},
			want: []string{"password command printed nothing"}},
		{name: "password command times out", config: good + "password_cmd = \"sleep 8; echo pw\"\n", env: map[string]string{"JAB_ACCOUNT": "work", "JAB_JID": "", "JAB_TIMEOUT": "300ms"},
			want: []string{"password command timed out after 300ms"}, hint: "raise --timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"JAB_JID": "me@example.net", "JAB_STATE_DIR": t.TempDir(), "JAB_SERVER": "127.0.0.1:1"}
			if tt.config != "" {
				mode := tt.mode
				if mode == 0 {
					mode = 0o600
				}
				vars["JAB_CONFIG"] = writeFile(t, filepath.Join(t.TempDir(), "config.toml"), tt.config, mode)
			}
			for k, v := range tt.env {
				vars[k] = v
			}
			start := time.Now()
			args := append(append([]string{}, tt.args...), "send", "a@example.net", "hi")
			code, out, errs := runApp(t, "", vars, args...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, ExitUsage, errs)
			}
			lines := strings.Split(strings.TrimSpace(errs), "\n")
			if !strings.HasPrefix(lines[0], "jab: error: ") || len(lines) > 2 {
				t.Errorf("want one error line and at most a hint:\n%s", errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("error %q does not say %q", lines[0], w)
				}
			}
			if tt.hint != "" && (len(lines) < 2 || !strings.Contains(lines[1], tt.hint)) {
				t.Errorf("hint should say %q:\n%s", tt.hint, errs)
			}
			if tt.nowhere != "" && strings.Contains(out+errs, tt.nowhere) {
				t.Errorf("output shows %q:\n%s", tt.nowhere, errs)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestConfigLenient: what is not an error.
func TestConfigLenient(t *testing.T) {
	t.Run("no file at the default path", func(t *testing.T) {
		home := t.TempDir()
		code, _, errs := runApp(t, "", map[string]string{"HOME": home}, "config", "show")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
	t.Run("group-readable without a password", func(t *testing.T) {
		cfg := writeFile(t, filepath.Join(t.TempDir(), "config.toml"), "jid = \"me@example.org\"\npassword_cmd = \"echo x\"\n", 0o644)
		code, out, errs := runApp(t, "", map[string]string{"JAB_CONFIG": cfg}, "config", "show")
		if code != 0 || !strings.Contains(out, "me@example.org") {
			t.Fatalf("exit %d: %s%s", code, out, errs)
		}
	})
	t.Run("XDG_CONFIG_HOME", func(t *testing.T) {
		x := t.TempDir()
		if err := os.MkdirAll(filepath.Join(x, "jab"), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(x, "jab", "config.toml"), "jid = \"xdg@example.org\"\n", 0o600)
		code, out, errs := runApp(t, "", map[string]string{"XDG_CONFIG_HOME": x, "HOME": t.TempDir()}, "config", "show")
		if code != 0 || !strings.Contains(out, "xdg@example.org") {
			t.Fatalf("exit %d: %s%s", code, out, errs)
		}
	})
}

// TestConfigShow: every option with its source; passwords masked; the
// password command is not run.
func TestConfigShow(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	cfg := writeFile(t, filepath.Join(dir, "config.toml"), `jid = "top@example.org"
timeout = "10s"
password = "hunter2"
[accounts.work]
jid = "me@work.example"
no_history = true
password_cmd = "touch `+marker+`; echo pw"
`, 0o600)
	vars := map[string]string{"JAB_CONFIG": cfg, "JAB_ACCOUNT": "work", "JAB_LOCK_IDLE": "5m", "HOME": dir}
	code, out, errs := runApp(t, "", vars, "config", "show", "--server", "flag:1", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got := map[string]setting{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var s setting
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		got[s.Key] = s
	}
	acct := "config " + cfg + " [accounts.work]"
	want := map[string]setting{
		"config":       {"config", cfg, "env JAB_CONFIG"},
		"account":      {"account", "work", "env JAB_ACCOUNT"},
		"jid":          {"jid", "me@work.example", acct},
		"server":       {"server", "flag:1", "flag"},
		"timeout":      {"timeout", "10s", "config " + cfg},
		"lock_idle":    {"lock_idle", "5m0s", "env JAB_LOCK_IDLE"},
		"no_history":   {"no_history", true, acct},
		"history_max":  {"history_max", float64(1000000), "default"},
		"password":     {"password", "(from password_cmd)", acct},
		"password_cmd": {"password_cmd", "touch " + marker + "; echo pw", acct},
		"state_dir":    {"state_dir", filepath.Join(dir, ".local", "state", "jab"), "default"},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v", k, got[k], w)
		}
	}
	for _, f := range globalFlags() {
		if _, ok := got[settings.Key(f.Names()[0])]; !ok {
			t.Errorf("no line for --%s", f.Names()[0])
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("config show ran the password command")
	}
	// The password itself is masked, from the file and from the
	// environment, in text and JSON.
	for _, args := range [][]string{{"config", "show"}, {"config", "show", "--json"}} {
		for _, v := range []map[string]string{{"JAB_CONFIG": cfg, "HOME": dir}, {"JAB_CONFIG": cfg, "HOME": dir, "JAB_PASSWORD": "s3cr3t-env"}} {
			code, out, errs := runApp(t, "", v, args...)
			if code != 0 || strings.Contains(out+errs, "hunter2") || strings.Contains(out+errs, "s3cr3t-env") || !strings.Contains(out, maskedPassword) {
				t.Errorf("%v: exit %d, the password is not masked:\n%s%s", args, code, out, errs)
			}
		}
	}
	code, out, _ = runApp(t, "", map[string]string{"JAB_CONFIG": cfg, "HOME": dir}, "config", "show")
	if code != 0 || !strings.Contains(out, "config "+cfg+"\n") || !strings.Contains(out, `"top@example.org"`) {
		t.Errorf("text output:\n%s", out)
	}
}

// TestConfigInit: a 0600 file in a 0700 directory that loads and holds
// what was given; never overwritten without --force.
func TestConfigInit(t *testing.T) {
	home := t.TempDir()
	vars := map[string]string{"HOME": home}
	path := filepath.Join(home, ".config", "jab", "config.toml")
	code, out, errs := runApp(t, "", vars, "config", "init", "--jid", "me@example.org", "--server", "xmpp.example.org:5222",
		"--password-cmd", "pass show xmpp", "--timeout", "10s", "--no-history")
	if code != 0 || strings.TrimSpace(out) != path {
		t.Fatalf("exit %d, stdout %q: %s", code, out, errs)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", di.Mode().Perm())
	}
	f, err := loadConfigFile(path, home)
	if err != nil {
		t.Fatalf("the starter file does not load: %v", err)
	}
	wantTop := map[string]any{"jid": "me@example.org", "server": "xmpp.example.org:5222", "password_cmd": "pass show xmpp",
		"timeout": 10 * time.Second, "no_history": true}
	for k, v := range wantTop {
		if f.Top[k] != v {
			t.Errorf("%s = %v, want %v", k, f.Top[k], v)
		}
	}
	if len(f.Top) != len(wantTop) {
		t.Errorf("top level %v, want only %v", f.Top, wantTop)
	}
	before, _ := os.ReadFile(path)
	if !strings.Contains(string(before), "# lock_idle = ") || !strings.Contains(string(before), "# [accounts.work]") {
		t.Errorf("the starter file lacks the commented examples:\n%s", before)
	}

	code, _, errs = runApp(t, "", vars, "config", "init", "--jid", "other@example.org")
	if code != ExitUsage || !strings.Contains(errs, "already exists") || !strings.Contains(errs, "--force") {
		t.Errorf("overwrite: exit %d: %s", code, errs)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the file changed without --force")
	}
	code, _, errs = runApp(t, "", vars, "config", "init", "--force", "--account", "work", "--jid", "w@work.example")
	if code != 0 {
		t.Fatalf("--force: exit %d: %s", code, errs)
	}
	if f, err = loadConfigFile(path, home); err != nil || f.DefaultAccount != "work" || f.Accounts["work"]["jid"] != "w@work.example" {
		t.Errorf("with --account: %+v, %v", f, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced file mode %v", fi.Mode().Perm())
	}

	t.Run("script without a JID", func(t *testing.T) {
		code, _, errs := runApp(t, "", map[string]string{"HOME": t.TempDir()}, "config", "init")
		if code != ExitUsage || !strings.Contains(errs, "needs a JID") {
			t.Errorf("exit %d: %s", code, errs)
		}
	})
	t.Run("terminal", func(t *testing.T) {
		home := t.TempDir()
		var o, e bytes.Buffer
		env := &Env{Stdin: strings.NewReader("me@example.org\n\npass show me\n"), Stdout: &o, Stderr: &e, StdinTTY: true,
			Getenv: func(k string) string { return map[string]string{"HOME": home, "JAB_SERVER": "env:5222"}[k] }, Now: time.Now, Host: "test"}
		if code := Run(context.Background(), env, []string{"jab", "config", "init"}); code != 0 {
			t.Fatalf("exit %d: %s", code, e.String())
		}
		if !strings.Contains(e.String(), "(JID): ") || !strings.Contains(e.String(), "[env:5222]: ") {
			t.Errorf("prompts: %q", e.String())
		}
		f, err := loadConfigFile(strings.TrimSpace(o.String()), home)
		if err != nil {
			t.Fatal(err)
		}
		if f.Top["jid"] != "me@example.org" || f.Top["server"] != "env:5222" || f.Top["password_cmd"] != "pass show me" {
			t.Errorf("answers not written: %v", f.Top)
		}
	})
}

// TestPasswordOfAnotherJID: a config layer's password is for the layer's
// jid (settings tests every layer): with --jid naming another account the
// file's password command does not run, and the error says whose the
// password is and how to give one for this account, instead of telling
// to set password_cmd, which is set.
func TestPasswordOfAnotherJID(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	cfg := writeFile(t, filepath.Join(dir, "config.toml"), "jid = \"me@example.org\"\npassword_cmd = \"touch "+marker+"; echo pw\"\n", 0o600)
	vars := map[string]string{"JAB_CONFIG": cfg, "JAB_STATE_DIR": dir, "JAB_SERVER": "127.0.0.1:1", "HOME": dir}
	code, _, errs := runApp(t, "", vars, "--jid", "Other@example.org", "send", "a@example.net", "hi")
	want := "jab: error: no password source for other@example.org\n" +
		"jab: hint: the password_cmd in " + cfg + " is for me@example.org; for other@example.org pass --password-cmd CMD or --password-file FILE, " +
		"set JAB_PASSWORD, or add an [accounts.NAME] table with jid = \"other@example.org\"\n"
	if code != ExitUsage || errs != want {
		t.Errorf("exit %d:\n%s\nwant:\n%s", code, errs, want)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the password command of me@example.org ran for other@example.org")
	}
	// For the file's own account the command runs (and the closed port
	// ends the run).
	if code, _, errs := runApp(t, "", vars, "send", "a@example.net", "hi"); code != ExitTimeout {
		t.Errorf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Error("the password command did not run for its own account")
	}
}

// TestUsagefWraps: usagef and syntaxf keep an error given with %w, for
// errors.Is and errors.As, and stay usage errors whatever they wrap: exit
// 2 with their own hint; only syntaxf's is followed by the usage line.
func TestUsagefWraps(t *testing.T) {
	for _, tt := range []struct {
		name   string
		err    error
		syntax bool
	}{
		{"usagef", usagef("the hint", "read it: %w", fs.ErrNotExist), false},
		{"syntaxf", syntaxf("the hint", "read it: %w", fs.ErrNotExist), true},
		{"a timeout inside", usagef("the hint", "password command: %w", fmt.Errorf("wait: %w", context.DeadlineExceeded)), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var sx *syntaxError
			if !errors.Is(tt.err, fs.ErrNotExist) && !errors.Is(tt.err, context.DeadlineExceeded) {
				t.Errorf("%v: the wrapped error is lost", tt.err)
			}
			if exitCode(tt.err) != ExitUsage || hintFor(tt.err) != "the hint" || errors.As(tt.err, &sx) != tt.syntax {
				t.Errorf("%v: exit %d, hint %q, syntax %v", tt.err, exitCode(tt.err), hintFor(tt.err), errors.As(tt.err, &sx))
			}
		})
	}
}

// TestPasswordCmdTimeout: --timeout bounds the password command even
// when a child of it holds its stdout open.
func TestPasswordCmdTimeout(t *testing.T) {
	for _, tt := range []struct{ name, cmd, want, wantErr string }{
		{name: "a child sleeps", cmd: "sleep 8; echo pw", wantErr: "password command timed out after 500ms"},
		{name: "a pipeline", cmd: "sleep 8 | cat", wantErr: "password command timed out after 500ms"},
		{name: "a background child keeps stdout", cmd: "echo pw; sleep 3 &", want: "pw"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(nil)
			start := time.Now()
			got, err := passwordFromCmd(context.Background(), env, tt.cmd, 500*time.Millisecond)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			if tt.wantErr != "" {
				if exitCode(err) != ExitUsage || !strings.Contains(fmt.Sprint(err), tt.wantErr) {
					t.Errorf("got %q, %v; want %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestUsageErrorRunsNoPasswordCmd: a command checks its own flags and
// arguments before it gets the password, so a usage error never runs
// the password command.
func TestUsageErrorRunsNoPasswordCmd(t *testing.T) {
	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{name: "send --type", args: []string{"send", "--type", "bogus", "a@example.net", "hi"}},
		{name: "send without a recipient", args: []string{"send"}},
		{name: "send empty message from stdin", args: []string{"send", "a@example.net"}},
		{name: "listen --count", args: []string{"listen", "--count", "-1"}},
		{name: "listen argument", args: []string{"listen", "extra"}},
		{name: "listen --exec-timeout without --exec", args: []string{"listen", "--exec-timeout", "5s"}},
		{name: "raw argument", args: []string{"raw", "extra"}, stdin: "<presence/>"},
		{name: "raw bad XML", args: []string{"raw"}, stdin: "<message"},
		{name: "repl --priority", args: []string{"repl", "--priority", "500"}},
		{name: "roster argument", args: []string{"roster", "extra"}},
		{name: "threads close unknown thread", args: []string{"threads", "close", "nosuchthread"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			marker := filepath.Join(dir, "ran")
			vars := map[string]string{"JAB_JID": "me@example.net", "JAB_STATE_DIR": dir, "JAB_SERVER": "127.0.0.1:1",
				"JAB_PASSWORD_CMD": "touch " + marker + "; echo pw", "HOME": dir}
			code, _, errs := runApp(t, tt.stdin, vars, tt.args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d: %s", code, ExitUsage, errs)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("the password command ran before the usage error: %s", errs)
			}
		})
	}
}

// TestConfigInitFromEnv: values from environment variables are written
// with their option's TOML type, so the file loads; a bad one is a usage
// error and writes nothing.
func TestConfigInitFromEnv(t *testing.T) {
	home := t.TempDir()
	vars := map[string]string{"HOME": home, "JAB_JID": "me@example.org", "JAB_NO_HISTORY": "1", "JAB_HISTORY_MAX": "100",
		"JAB_TIMEOUT": "20s", "JAB_DIRECT_TLS": "true", "JAB_SERVER": "xmpp.example.org:5223"}
	code, out, errs := runApp(t, "", vars, "config", "init")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	f, err := loadConfigFile(strings.TrimSpace(out), home)
	if err != nil {
		t.Fatalf("the file written from the environment does not load: %v", err)
	}
	want := map[string]any{"jid": "me@example.org", "no_history": true, "history_max": 100, "timeout": 20 * time.Second,
		"direct_tls": true, "server": "xmpp.example.org:5223"}
	for k, v := range want {
		if f.Top[k] != v {
			t.Errorf("%s = %#v, want %#v", k, f.Top[k], v)
		}
	}
	for _, bad := range []struct{ k, v, msg string }{
		{"JAB_NO_HISTORY", "yes please", `JAB_NO_HISTORY="yes please" is not a boolean`},
		{"JAB_HISTORY_MAX", "lots", `JAB_HISTORY_MAX="lots" is not a number`},
		{"JAB_LOCK_IDLE", "soon", `JAB_LOCK_IDLE="soon" is not a valid duration`},
	} {
		t.Run(bad.k, func(t *testing.T) {
			home := t.TempDir()
			code, _, errs := runApp(t, "", map[string]string{"HOME": home, "JAB_JID": "me@example.org", bad.k: bad.v}, "config", "init")
			if code != ExitUsage || !strings.Contains(errs, bad.msg) {
				t.Errorf("exit %d: %s", code, errs)
			}
			if _, err := os.Stat(filepath.Join(home, ".config", "jab", "config.toml")); err == nil {
				t.Error("a file was written")
			}
		})
	}
}

// TestConfigInitRelativePaths: a relative path given to config init is
// relative to the current directory, and the file reads paths relative
// to itself, so it is written absolute.
func TestConfigInitRelativePaths(t *testing.T) {
	home := t.TempDir()
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"HOME": home, "JAB_STATE_DIR": "st"}
	code, out, errs := runApp(t, "", vars, "config", "init", "--jid", "me@example.org", "--password-file", "pw", "--ca-file", "./certs/ca.pem")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	f, err := loadConfigFile(strings.TrimSpace(out), home)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"state_dir": filepath.Join(cwd, "st"), "password_file": filepath.Join(cwd, "pw"), "ca_file": filepath.Join(cwd, "certs", "ca.pem")}
	for k, v := range want {
		if f.Top[k] != v {
			t.Errorf("%s = %v, want %v", k, f.Top[k], v)
		}
	}
}

// TestConfigInitWarnsInsecure: persisting insecure_skip_verify (or
// debug) is warned about on stderr and commented in the file.
func TestConfigInitWarnsInsecure(t *testing.T) {
	for _, tt := range []struct {
		name, key string
		vars      map[string]string
		args      []string
	}{
		{"flag", "insecure_skip_verify", nil, []string{"--insecure-skip-verify"}},
		{"environment", "insecure_skip_verify", map[string]string{"JAB_INSECURE_SKIP_VERIFY": "1"}, nil},
		{"in an account table", "insecure_skip_verify", nil, []string{"--account", "test", "--insecure-skip-verify"}},
		{"debug", "debug", nil, []string{"--debug"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			vars := map[string]string{"HOME": home}
			for k, v := range tt.vars {
				vars[k] = v
			}
			code, out, errs := runApp(t, "", vars, append([]string{"config", "init", "--jid", "me@example.org"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if !strings.HasPrefix(errs, "jab: warning: ") || !strings.Contains(errs, tt.key+" = true") {
				t.Errorf("no warning on stderr: %q", errs)
			}
			data, err := os.ReadFile(strings.TrimSpace(out))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(data), "\n")
			for i, l := range lines {
				if l == tt.key+" = true" {
					if i == 0 || !strings.HasPrefix(lines[i-1], "# WARNING: ") {
						t.Errorf("no comment above %q:\n%s", l, data)
					}
					if tt.key == "insecure_skip_verify" && !strings.Contains(lines[i-1], "certificate check") {
						t.Errorf("the comment does not say it turns off certificate checks: %q", lines[i-1])
					}
					return
				}
			}
			t.Errorf("no %s = true in:\n%s", tt.key, data)
		})
	}
	t.Run("no warning when false", func(t *testing.T) {
		code, _, errs := runApp(t, "", map[string]string{"HOME": t.TempDir()}, "config", "init", "--jid", "me@example.org", "--insecure-skip-verify=false")
		if code != 0 || strings.Contains(errs, "warning") {
			t.Errorf("exit %d: %q", code, errs)
		}
	})
}
