package settings

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jab-xmpp/jab/session"
)

// Password is where an account's password comes from, found without
// running or reading anything.
type Password struct {
	Kind   string // "password_cmd", "password_file" or "password"
	Value  string // the command, the file name or the password itself
	Source string // where it was set, as 'jab config show' prints it
}

// passwordKeys are a config layer's password sources, first found first
// used.
var passwordKeys = []string{Key(OptPasswordCmd), Key(OptPasswordFile), KeyPassword}

// Password is the first password source set for the account jid, in the
// documented order: --password-cmd, --password-file, JAB_PASSWORD, the
// password file's and the password command's environment variables, then
// in the account table and then at the top level password_cmd,
// password_file, password. A config layer that names a jid of its own
// holds the password of that account alone: when the account is another
// one it is skipped, so that its password is never sent to another
// account's server. ok is false when no source is set; the keyring and
// the prompt, which come next, are the caller's.
func (s *Settings) Password(jid string) (p Password, ok bool) {
	if v, ok := s.layers.Flag(OptPasswordCmd); ok {
		return Password{Key(OptPasswordCmd), fmt.Sprint(v), "flag"}, true
	}
	if v, ok := s.layers.Flag(OptPasswordFile); ok {
		return Password{Key(OptPasswordFile), fmt.Sprint(v), "flag"}, true
	}
	if v := s.layers.Getenv(EnvPassword); v != "" {
		return Password{KeyPassword, v, "env " + EnvPassword}, true
	}
	for _, name := range []string{OptPasswordFile, OptPasswordCmd} {
		if e := s.layers.option(name).Env; e != "" {
			if v := s.layers.Getenv(e); v != "" {
				return Password{Key(name), v, "env " + e}, true
			}
		}
	}
	for _, l := range s.configLayers() {
		if own, _ := l.values[Key(OptJID)].(string); own != "" && !sameAccount(own, jid) {
			continue
		}
		if p, ok := l.password(); ok {
			return p, true
		}
	}
	return Password{}, false
}

// password is the layer's first password source.
func (l layer) password() (Password, bool) {
	for _, k := range passwordKeys {
		if v, ok := l.values[k].(string); ok && v != "" {
			return Password{k, v, l.source}, true
		}
	}
	return Password{}, false
}

// NoPassword is the usage error for the account jid when no password
// source is set, nor found in the keyring or at a prompt. When the config
// file does hold a password, but for another jid, it says so: the fix is
// then a password for this account, not the setting that is already there.
func (s *Settings) NoPassword(jid string) error {
	for _, l := range s.configLayers() {
		own, _ := l.values[Key(OptJID)].(string)
		if own == "" || sameAccount(own, jid) {
			continue
		}
		p, ok := l.password()
		if !ok {
			continue
		}
		if j, err := session.ParseJID(jid); err == nil {
			jid = j.Bare()
		}
		return Errorf(fmt.Sprintf("the %s in %s is for %s; for %s pass --password-cmd CMD or --password-file FILE, set %s, or add an [accounts.NAME] table with jid = %q",
			p.Kind, strings.TrimPrefix(l.source, "config "), own, jid, EnvPassword, jid),
			"no password source for %s", jid)
	}
	return Errorf("set JAB_PASSWORD, pass --password-file FILE or --password-cmd CMD, or set password_cmd in the config file", "no password source")
}

// ReadPasswordFile reads the first line of a password file, which no one
// else may read (as ssh insists for a private key).
func ReadPasswordFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", Errorf("", "read password file: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return "", Errorf("", "read password file: %w", err)
	}
	if m := fi.Mode().Perm(); m&0o044 != 0 {
		return "", Errorf("chmod 600 "+shellQuote(path), "password file %q is readable by others (mode %04o)", path, m)
	}
	data, err := io.ReadAll(fh)
	if err != nil {
		return "", Errorf("", "read password file: %w", err)
	}
	p, _, _ := strings.Cut(string(data), "\n")
	p = strings.TrimSuffix(p, "\r")
	if p == "" {
		return "", Errorf("", "password file %q is empty", path)
	}
	return p, nil
}
