package commands

// What a run needs to log in: the TLS and SASL options, and the password.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/jab-xmpp/jab/commands/internal/settings"
	"github.com/jab-xmpp/jab/session"
)

// loginOptions are the login and TLS options: how the connection is
// secured and which SASL mechanisms jab accepts.
type loginOptions struct {
	directTLS bool
	tlsMin    uint16 // 0: session's default (TLS 1.2)
	noPlain   bool
	insecure  bool
	noFAST    bool   // no XEP-0484 token is used or stored
	binding   string // --channel-binding, one of session.BindingModes or ""
}

// newLoginOptions reads --direct-tls, --tls-min, --no-plain, --no-fast
// and --insecure-skip-verify. The --insecure-skip-verify warning is
// readyToConnect's: it is for a run that connects.
func newLoginOptions(s *settings.Settings) (loginOptions, error) {
	var l loginOptions
	var err error
	for _, b := range []struct {
		name string
		v    *bool
	}{{flagDirectTLS, &l.directTLS}, {flagNoPlain, &l.noPlain}, {flagNoFAST, &l.noFAST}, {flagInsecure, &l.insecure}} {
		if *b.v, err = settings.Get(s, b.name, false); err != nil {
			return l, err
		}
	}
	tlsMin, _ := settings.Get(s, flagTLSMin, "")
	if l.tlsMin, err = parseTLSMin(tlsMin); err != nil {
		return l, err
	}
	l.binding, _ = settings.Get(s, flagBinding, "")
	if !session.ValidBindingMode(l.binding) {
		return l, usagef("use --"+flagBinding+" "+strings.Join(session.BindingModes, ", "),
			"--%s %q is not a channel binding mode", flagBinding, l.binding)
	}
	return l, nil
}

func (l loginOptions) apply(cfg *session.Config) {
	cfg.DirectTLS = l.directTLS
	cfg.TLSMin = l.tlsMin
	cfg.NoPlain = l.noPlain
	cfg.InsecureSkipVerify = l.insecure
	cfg.ChannelBinding = l.binding
}

// insecureWarning is printed on every run that connects with
// --insecure-skip-verify, so it never goes unnoticed in a script's log.
const insecureWarning = "jab: warning: --insecure-skip-verify: the server's certificate is not checked; " +
	"anyone on the network path can impersonate the server and read the session (and, with PLAIN, the password)"

// noBindingWarning is printed on every run that connects with
// --channel-binding none.
const noBindingWarning = "jab: warning: --channel-binding none: the login is not bound to the TLS connection; " +
	"a man in the middle holding a certificate for the server's name can log in as you"

// parseTLSMin maps "1.2" and "1.3" ("" is the default, 1.2) to a
// crypto/tls version. Older versions are not offered: RFC 9325 §3.1.1
// forbids TLS 1.0 and 1.1.
func parseTLSMin(v string) (uint16, error) {
	switch v {
	case "":
		return 0, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, usagef("use --tls-min 1.2 or --tls-min 1.3", "--%s %q is not a TLS version jab accepts", flagTLSMin, v)
}

// readyToConnect is the last step before a command connects, once its
// flags and arguments are checked: the --ca-file, the --insecure-skip-verify
// warning, then the password, which may run a command or prompt. The options come
// from resolve, which has read the command line and the config file.
func (o *options) readyToConnect(ctx context.Context, _ *cli.Context, env *Env) error {
	if err := o.readyForTLS(env); err != nil {
		return err
	}
	if o.login.binding == session.BindingNone {
		fmt.Fprintln(env.Stderr, noBindingWarning)
	}
	var err error
	o.password, err = findPassword(ctx, env, o.settings, o.account, o.timeout)
	return err
}

// readyForTLS loads --ca-file and warns of --insecure-skip-verify, once:
// before a login, or before an upload (send --file) handed to a running
// listen. A send handed over without files reads neither.
func (o *options) readyForTLS(env *Env) error {
	if o.caFile != "" && o.roots == nil {
		var err error
		if o.roots, err = loadCA(o.caFile); err != nil {
			return err
		}
	}
	if o.login.insecure && !o.warned {
		o.warned = true
		fmt.Fprintln(env.Stderr, insecureWarning)
	}
	return nil
}

// findPassword gets the account's password from the first source set
// (see settings.Password: the flags, the environment, the config file),
// else from the system keyring when secret-tool is installed, else from
// a no-echo prompt when stdin is a terminal. There is deliberately no
// flag that takes the password itself (it would show in ps and shell
// history).
func findPassword(ctx context.Context, env *Env, s *settings.Settings, account session.JID, timeout time.Duration) (string, error) {
	if p, ok := s.Password(account.String()); ok {
		switch p.Kind {
		case settings.Key(flagPasswordCmd):
			return passwordFromCmd(ctx, env, p.Value, timeout)
		case settings.Key(flagPasswordFile):
			return settings.ReadPasswordFile(p.Value)
		}
		return p.Value, nil
	}
	jid := account.Bare()
	if jid != "" {
		if p, ok := keyringPassword(ctx, env, jid, timeout); ok {
			return p, nil
		}
	}
	if env.StdinTTY {
		return promptPassword(ctx, env, jid)
	}
	return "", s.NoPassword(jid)
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
		return "", usagef("", "password command failed: %w", err)
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
	cmd.Env = withoutSecrets(os.Environ())
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

// secretEnv are the variables no child of jab inherits: a --password-cmd
// or --exec command has no business with the account's password. A bot's
// command that runs `jab send` needs none: it hands its message to the
// running listen, or uses the account's other password sources.
var secretEnv = []string{settings.EnvPassword}

// withoutSecrets is environ without secretEnv.
func withoutSecrets(environ []string) []string {
	out := environ[:0:0]
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(secretEnv, k) {
			out = append(out, kv)
		}
	}
	return out
}

// keyringPassword looks the account up in the system keyring with
// `secret-tool lookup service jab account JID`, when secret-tool is on
// PATH. Nothing found, or a keyring that cannot be reached, falls through
// to the next source.
func keyringPassword(ctx context.Context, env *Env, jid string, timeout time.Duration) (string, bool) {
	return keyringLookup(ctx, env, "jab", jid, timeout)
}

// keyringLookup is `secret-tool lookup service SERVICE account JID`: the
// secret's first line, or false.
func keyringLookup(ctx context.Context, env *Env, service, jid string, timeout time.Duration) (string, bool) {
	tool := lookPath(env, "secret-tool")
	if tool == "" {
		return "", false
	}
	line, err := firstLineOf(ctx, timeout, nil, tool, "lookup", "service", service, "account", jid)
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
	prompt := "Password: "
	if jid != "" {
		prompt = "Password for " + jid + ": "
	}
	return promptSecret(ctx, env, prompt, "no password entered")
}

// promptSecret asks on the terminal without echo; an empty answer is the
// usage error empty.
func promptSecret(ctx context.Context, env *Env, prompt, empty string) (string, error) {
	fmt.Fprint(env.Stderr, prompt)
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
		return "", usagef("", "%s", empty)
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
