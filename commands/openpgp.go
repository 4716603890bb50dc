package commands

// OpenPGP for XMPP lives in the companion binary jab-ox (cmd/jab-ox),
// not in jab. Its crypto (go-crypto, circl, x/crypto) makes the binary
// 3 MB larger and adds two dozen package inits to every start, which
// cost a cold `jab send` about 1.5 MiB of peak RSS (docs/ARCHITECTURE.md).
// So commands defines the surface (jab keys, send --encrypt, the
// encrypt and encrypt_to keys, the passphrase and trust flags: help, man
// page and completions come from plain jab) and calls the scheme
// through OpenPGP, which jab-ox registers (commands/oxcli). A command
// of plain jab that needs it replaces the process with jab-ox, same
// argv and environment, before it reads stdin, asks for a password or
// connects: needOX.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// OpenPGP is the scheme behind jab keys and encryption (session/ox).
type OpenPGP interface {
	// Generate makes a key pair for account (a bare JID), its secret
	// parts encrypted with passphrase.
	Generate(account string, passphrase []byte, now time.Time) (*statefile.SecretKey, error)
	// Import checks the secret key in data (it must carry the user id
	// xmpp:account) and stores it encrypted with passphrase.
	Import(account string, data, passphrase []byte, now time.Time) (*statefile.SecretKey, error)
	// ArmoredPublicKey is the public part of k, ASCII-armored.
	ArmoredPublicKey(k *statefile.SecretKey) (string, error)
	// Publish puts k's public key on the account's PEP service.
	Publish(ctx context.Context, s *session.Session, k *statefile.SecretKey, now time.Time) error
	// NormalizeFingerprint reads a fingerprint as GnuPG prints it.
	NormalizeFingerprint(s string) (string, error)
	// Trust pins fp for peer; Untrust refuses it from now on.
	Trust(ctx context.Context, store *statefile.Store, account, peer, fp string, now time.Time) error
	Untrust(ctx context.Context, store *statefile.Store, account, peer, fp string) error
	// Engine unlocks k with passphrase: the scheme for send, listen
	// and the REPL, with the trust mode (trustFirstUse, trustAlways).
	Engine(store *statefile.Store, k *statefile.SecretKey, passphrase []byte, mode string, now func() time.Time) (session.E2E, error)
}

// oxImpl is the registered OpenPGP: nil in plain jab.
var oxImpl OpenPGP

// RegisterOpenPGP makes p the OpenPGP of this binary (jab-ox calls it
// before Main). A binary with it never re-executes itself.
func RegisterOpenPGP(p OpenPGP) { oxImpl = p }

// Values the scheme must agree on (commands/oxcli tests that it does).
const (
	trustFirstUse = "first-use" // --trust: pin a contact's first keys
	trustAlways   = "always"    // --trust: only keys given to jab keys trust
	maxKeySize    = 64 << 10    // the largest key jab keys import reads
)

// OXBinary is the companion's name, next to jab or on PATH.
const OXBinary = "jab-ox"

// envOXExec marks a process that jab replaced with jab-ox: its value is
// the pid, which exec keeps. A binary without OpenPGP that finds its own
// pid there is a "jab-ox" that is not one (a copy of jab): it stops
// instead of executing itself again. A child of jab-ox (a password
// command, a bot's --exec) has another pid, so a jab it runs may still
// go to jab-ox.
const envOXExec = "JAB_OX_EXEC"

// oxHint is the hint when jab-ox cannot be run.
const oxHint = "OpenPGP needs jab-ox, installed with jab: make install, or go install github.com/jab-xmpp/jab/cmd/jab-ox@latest"

// needOX returns nil when this binary has OpenPGP. Otherwise it
// replaces the process with jab-ox running the same command line, and
// returns only when that cannot be done: an error that exits 2, with
// nothing sent.
func needOX(env *Env, debug bool) error {
	if oxImpl != nil {
		return nil
	}
	self, _ := os.Executable()
	if env.Getenv(envOXExec) == strconv.Itoa(execedPid()) {
		return usagef(oxHint, "%s was run as %s but has no OpenPGP: it is a copy of jab, not jab-ox", self, OXBinary)
	}
	path := findOX(env, self)
	if path == "" {
		return usagef(oxHint, "%s not found (neither next to %s nor on PATH)", OXBinary, self)
	}
	if env.Exec == nil || env.args == nil {
		return usagef(oxHint, "cannot run %s from here", path)
	}
	if debug {
		fmt.Fprintf(env.Stderr, "jab: OpenPGP: running %s\n", path)
	}
	err := env.Exec(path, env.args, markedEnviron(env.environ()))
	return usagef(oxHint, "run %s: %w", path, err)
}

// markedEnviron is environ with envOXExec set to our pid, replacing any
// value inherited (from a jab-ox that ran us): a duplicate would leave
// the first one in force.
func markedEnviron(environ []string) []string {
	out := make([]string, 0, len(environ)+1)
	for _, kv := range environ {
		if !strings.HasPrefix(kv, envOXExec+"=") {
			out = append(out, kv)
		}
	}
	return append(out, envOXExec+"="+strconv.Itoa(os.Getpid()))
}

// findOX is jab-ox next to the running binary self, else on PATH.
func findOX(env *Env, self string) string {
	if self != "" {
		if real, err := filepath.EvalSymlinks(self); err == nil {
			self = real
		}
		p := filepath.Join(filepath.Dir(self), OXBinary)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	return lookPath(env, OXBinary)
}

// observerNeedsOX: listen and the REPL need OpenPGP exactly when the
// account has a key pair in the state directory (one stat, no parsing):
// without one, an encrypted message is shown as unreadable, by jab and
// by jab-ox alike, and nothing is encrypted (the REPL and a bot's
// answers encrypt only with our key). The encrypt and encrypt_to keys
// concern send alone. The trust mode is checked here, so that a bad
// --trust fails the same in both binaries.
func observerNeedsOX(env *Env, g *options) error {
	if _, err := trustMode(g); err != nil {
		return err
	}
	if oxImpl != nil || !statefile.HasSecretKey(g.stateDir, g.account.Bare()) {
		return nil
	}
	return needOX(env, g.debug)
}
