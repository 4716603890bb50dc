package commands

// jab keys: our OpenPGP key pair and the keys we trust of our contacts
// (XEP-0373); and what send, listen and the REPL need of them: the key
// passphrase, the trust mode, whether to encrypt. The scheme itself is
// behind oxImpl (openpgp.go), which only jab-ox has: every jab keys
// subcommand starts with needOX.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/commands/internal/settings"
	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// Config keys (no flag of their own): encrypt every message of the
// account, or those to the contacts listed.
const (
	optEncrypt   = "encrypt"
	optEncryptTo = "encrypt_to"
)

func keysCommand(env *Env) *cli.Command {
	sub := func(name, args, usage string, flags []cli.Flag, run func(*cli.Context, *options) error) *cli.Command {
		return &cli.Command{Name: name, ArgsUsage: args, Usage: usage, Flags: commandFlags(flags...), OnUsageError: onUsageError,
			Action: func(c *cli.Context) error {
				g, err := resolve(c.Context, c, env, false)
				if err != nil {
					return err
				}
				// jab-ox runs jab keys, before anything is read.
				if err := needOX(env, g.debug); err != nil {
					return err
				}
				return run(c, g)
			}}
	}
	jsonFlag := &cli.BoolFlag{Name: "json", Usage: "print one JSON object per key"}
	return &cli.Command{
		Name:  "keys",
		Usage: "manage OpenPGP keys for end-to-end encryption (XEP-0373): ours, and those we trust of our contacts",
		Description: `Our key pair lives in the state directory, its secret part encrypted with
the key passphrase (--key-passphrase-cmd, --key-passphrase-file, their config
keys, the keyring entry 'secret-tool lookup service jab-openpgp account JID',
or a prompt). Its user id is xmpp:JID. 'jab keys publish' puts the public key
on the account's PEP service, where contacts fetch it.

A contact's keys are trusted on first use: the keys they publish when jab
first meets them are pinned. A key that changes later is refused until
'jab keys trust JID FINGERPRINT'. With --trust always even the first key
needs that.`,
		Subcommands: []*cli.Command{
			sub("generate", "", "make our key pair (ed25519 with a cv25519 subkey) and print its fingerprint", nil,
				func(c *cli.Context, g *options) error { return keysGenerate(c, env, g) }),
			sub("import", "FILE", "use the secret key in FILE ('-' for stdin) as ours; it must carry the user id xmpp:JID", nil,
				func(c *cli.Context, g *options) error { return keysImport(c, env, g) }),
			sub("export", "", "print our public key, ASCII-armored", []cli.Flag{
				&cli.BoolFlag{Name: "secret", Usage: "print the secret key instead, as stored: encrypted with the key passphrase"}},
				func(c *cli.Context, g *options) error { return keysExport(c, env, g) }),
			sub("publish", "", "publish our public key on the account's PEP service (open access)", nil,
				func(c *cli.Context, g *options) error { return keysPublish(c, env, g) }),
			sub("list", "[JID...]", "print our key and the pinned keys of contacts", []cli.Flag{jsonFlag},
				func(c *cli.Context, g *options) error { return keysList(c, env, g) }),
			sub("trust", "JID FINGERPRINT", "trust a key of JID (after checking the fingerprint with them)", nil,
				func(c *cli.Context, g *options) error { return keysTrust(c, env, g, true) }),
			sub("untrust", "JID FINGERPRINT", "never use that key of JID again", nil,
				func(c *cli.Context, g *options) error { return keysTrust(c, env, g, false) }),
			sub("delete", "FINGERPRINT", "delete our key pair (named by its fingerprint, so that it is deliberate)", nil,
				func(c *cli.Context, g *options) error { return keysDelete(c, env, g) }),
		},
	}
}

// noArgs refuses arguments to a subcommand that takes none.
func noArgs(c *cli.Context) error {
	if c.Args().Present() {
		return usagef("see '"+c.Command.HelpName+" --help'", "%s takes no arguments", c.Command.HelpName)
	}
	return nil
}

func ownKey(g *options) (*statefile.Store, *statefile.SecretKey, error) {
	store, err := statefile.Open(g.stateDir)
	if err != nil {
		return nil, nil, err
	}
	k, err := store.ReadSecretKey(g.account.Bare())
	return store, k, err
}

func noOwnKey(g *options) error {
	return usagef("make one with: jab keys generate (or jab keys import FILE)", "no OpenPGP key for %s", g.account.Bare())
}

// requireOwnKey is the account's key pair for a keys command that takes
// no arguments and needs one.
func requireOwnKey(c *cli.Context, g *options) (*statefile.SecretKey, error) {
	if err := noArgs(c); err != nil {
		return nil, err
	}
	_, k, err := ownKey(g)
	if err == nil && k == nil {
		err = noOwnKey(g)
	}
	return k, err
}

func keysGenerate(c *cli.Context, env *Env, g *options) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return storeNewKey(c.Context, env, g, func(pass []byte) (*statefile.SecretKey, error) {
		return oxImpl.Generate(g.account.Bare(), pass, env.Now())
	})
}

func keysImport(c *cli.Context, env *Env, g *options) error {
	if c.NArg() != 1 {
		return usagef("jab keys import key.asc", "give the FILE that holds the secret key")
	}
	var data []byte
	var err error
	if name := c.Args().First(); name == "-" {
		data, err = io.ReadAll(io.LimitReader(env.Stdin, maxKeySize+1))
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return usagef("", "read the key to import: %w", err)
	}
	return storeNewKey(c.Context, env, g, func(pass []byte) (*statefile.SecretKey, error) {
		return oxImpl.Import(g.account.Bare(), data, pass, env.Now())
	})
}

// storeNewKey makes our key with make and stores it, refusing to
// replace one: a key that others have pinned is not lost by accident.
func storeNewKey(ctx context.Context, env *Env, g *options, make func([]byte) (*statefile.SecretKey, error)) error {
	store, k, err := ownKey(g)
	if err != nil {
		return err
	}
	if k != nil {
		return usagef("delete it first with: jab keys delete "+k.Fingerprint, "%s has an OpenPGP key already: %s", g.account.Bare(), k.Fingerprint)
	}
	pass, err := keyPassphrase(ctx, env, g)
	if err != nil {
		return err
	}
	k, err = make(pass)
	if err != nil {
		return err
	}
	if err := store.WriteSecretKey(*k); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, k.Fingerprint)
	fmt.Fprintln(env.Stderr, "jab: publish it for your contacts with: jab keys publish")
	return nil
}

func keysExport(c *cli.Context, env *Env, g *options) error {
	k, err := requireOwnKey(c, g)
	if err != nil {
		return err
	}
	if c.Bool("secret") {
		_, err = io.WriteString(env.Stdout, k.Armored)
		return err
	}
	armored, err := oxImpl.ArmoredPublicKey(k)
	if err != nil {
		return err
	}
	_, err = io.WriteString(env.Stdout, armored)
	return err
}

func keysPublish(c *cli.Context, env *Env, g *options) error {
	k, err := requireOwnKey(c, g)
	if err != nil {
		return err
	}
	if err := g.readyToConnect(c.Context, c, env); err != nil {
		return err
	}
	senv, err := g.sessionEnv(env)
	if err != nil {
		return err
	}
	s, err := session.OpenOneShot(c.Context, senv, g.sessionConfig(env, ""), func(v any) {
		session.Apply(c.Context, senv, g.account.Bare(), v)
	})
	if err != nil {
		return err
	}
	defer s.Close()
	if err := oxImpl.Publish(c.Context, s, k, env.Now()); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, k.Fingerprint)
	return nil
}

// keyRecord is one line of jab keys list.
type keyRecord struct {
	JID         string    `json:"jid"`
	Status      string    `json:"status"` // own, trusted, refused
	Fingerprint string    `json:"fingerprint"`
	By          string    `json:"by,omitempty"` // first-use or user
	Since       time.Time `json:"since,omitzero"`
}

func keysList(c *cli.Context, env *Env, g *options) error {
	store, k, err := ownKey(g)
	if err != nil {
		return err
	}
	st, err := store.Load()
	if err != nil {
		return err
	}
	var want []string
	for _, a := range c.Args().Slice() {
		j, err := session.ParseJID(a)
		if err != nil {
			return usagef("", "%w", err)
		}
		want = append(want, j.Bare())
	}
	var recs []keyRecord
	account := g.account.Bare()
	if k != nil && (len(want) == 0 || slices.Contains(want, account)) {
		recs = append(recs, keyRecord{JID: account, Status: "own", Fingerprint: k.Fingerprint, Since: k.Created})
	}
	var pins map[string]*statefile.KeyPins
	if a := st.Accounts[account]; a != nil {
		pins = a.OpenPGP
	}
	peers := make([]string, 0, len(pins))
	for p := range pins {
		if len(want) == 0 || slices.Contains(want, p) {
			peers = append(peers, p)
		}
	}
	sort.Strings(peers)
	for _, p := range peers {
		for _, t := range pins[p].Trusted {
			recs = append(recs, keyRecord{JID: p, Status: "trusted", Fingerprint: t.Fingerprint, By: t.By, Since: t.Since})
		}
		for _, fp := range pins[p].Refused {
			recs = append(recs, keyRecord{JID: p, Status: "refused", Fingerprint: fp})
		}
	}
	out := bufio.NewWriter(env.Stdout)
	for _, r := range recs {
		if c.Bool("json") {
			line, _ := json.Marshal(r)
			out.Write(append(safeJSON(line), '\n'))
			continue
		}
		line := sanitize(r.JID) + "\t" + r.Status + "\t" + r.Fingerprint
		if r.By != "" {
			line += "\t" + r.By
		}
		if !r.Since.IsZero() {
			line += "\t" + r.Since.UTC().Format(time.RFC3339)
		}
		fmt.Fprintln(out, line)
	}
	return out.Flush()
}

func keysTrust(c *cli.Context, env *Env, g *options, trust bool) error {
	if c.NArg() != 2 {
		return usagef("jab keys "+c.Command.Name+" alice@example.org 1357B01865B2503C18453D208CAC2A9678548E35",
			"give the contact's JID and the key's FINGERPRINT")
	}
	j, err := session.ParseJID(c.Args().Get(0))
	if err != nil {
		return usagef("", "%w", err)
	}
	fp, err := oxImpl.NormalizeFingerprint(c.Args().Get(1))
	if err != nil {
		return usagef("a fingerprint is 40 hex digits, as jab keys list and gpg --fingerprint print it", "%w", err)
	}
	store, err := statefile.Open(g.stateDir)
	if err != nil {
		return err
	}
	if trust {
		return oxImpl.Trust(c.Context, store, g.account.Bare(), j.Bare(), fp, env.Now())
	}
	return oxImpl.Untrust(c.Context, store, g.account.Bare(), j.Bare(), fp)
}

func keysDelete(c *cli.Context, env *Env, g *options) error {
	if c.NArg() != 1 {
		return usagef("jab keys delete FINGERPRINT (jab keys list shows it)", "name the key to delete by its FINGERPRINT")
	}
	store, k, err := ownKey(g)
	if err != nil {
		return err
	}
	if k == nil {
		return noOwnKey(g)
	}
	fp, err := oxImpl.NormalizeFingerprint(c.Args().First())
	if err != nil || fp != k.Fingerprint {
		return usagef("jab keys list shows our key's fingerprint", "%q is not the fingerprint of our key", c.Args().First())
	}
	if err := store.RemoveSecretKey(g.account.Bare()); err != nil {
		return err
	}
	fmt.Fprintln(env.Stderr, "jab: deleted; contacts who pinned it will refuse a new key until they trust it")
	return nil
}

// keyPassphrase gets the key passphrase: --key-passphrase-file or
// --key-passphrase-cmd (flags, environment or config file; never a value
// in argv), else the keyring, else a no-echo prompt on a terminal.
func keyPassphrase(ctx context.Context, env *Env, g *options) ([]byte, error) {
	file, _ := settings.Get(g.settings, flagKeyPassFile, "")
	cmd, _ := settings.Get(g.settings, flagKeyPassCmd, "")
	jid := g.account.Bare()
	switch {
	case file != "" && cmd != "":
		return nil, usagef("give one key passphrase source", "--key-passphrase-file and --key-passphrase-cmd conflict")
	case file != "":
		p, err := settings.ReadPasswordFile(file)
		var se *settings.Error
		if err != nil && !errors.As(err, &se) {
			err = usagef("", "key passphrase: %w", err)
		}
		return []byte(p), err
	case cmd != "":
		line, err := firstLineOf(ctx, g.timeout, env.Stderr, "sh", "-c", cmd)
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return nil, usagef("raise --timeout if the command needs longer", "key passphrase command timed out after %s", g.timeout)
		case err != nil:
			return nil, usagef("", "key passphrase command failed: %w", err)
		case line == "":
			return nil, usagef("", "key passphrase command printed nothing")
		}
		return []byte(line), nil
	}
	if line, ok := keyringLookup(ctx, env, "jab-openpgp", jid, g.timeout); ok {
		return []byte(line), nil
	}
	if env.StdinTTY {
		p, err := promptSecret(ctx, env, "OpenPGP key passphrase for "+jid+": ", "no key passphrase entered")
		return []byte(p), err
	}
	return nil, usagef("pass --key-passphrase-cmd CMD or --key-passphrase-file FILE (or set key_passphrase_cmd in the config file)",
		"no key passphrase source for %s", jid)
}

// trustMode is --trust: first-use (the default) or always.
func trustMode(g *options) (string, error) {
	mode, _ := settings.Get(g.settings, flagTrust, trustFirstUse)
	switch mode {
	case "", trustFirstUse:
		return trustFirstUse, nil
	case trustAlways:
		return trustAlways, nil
	}
	return "", usagef("use --trust first-use or --trust always", "unknown --trust %q", mode)
}

// oxEngine is the account's OX engine with our key unlocked, or nil when
// the account has no key and need is false (listen, the REPL: an
// encrypted message is then shown as unreadable). need (send --encrypt)
// makes a missing key an error. needOX came first: oxImpl is set.
func oxEngine(ctx context.Context, env *Env, g *options, need bool) (session.E2E, error) {
	if oxImpl == nil {
		return nil, usagef(oxHint, "this jab has no OpenPGP")
	}
	mode, err := trustMode(g)
	if err != nil {
		return nil, err
	}
	store, k, err := ownKey(g)
	if err != nil {
		return nil, err
	}
	if k == nil {
		if need {
			return nil, noOwnKey(g)
		}
		return nil, nil
	}
	pass, err := keyPassphrase(ctx, env, g)
	if err != nil {
		return nil, err
	}
	return oxImpl.Engine(store, k, pass, mode, env.Now)
}

// wantEncryption says whether a send to the recipients to is
// encrypted: --encrypt, encrypt = true for the account, or any of them
// listed in encrypt_to. Then every recipient's message is encrypted:
// none goes out less protected than the config asks.
func wantEncryption(c *cli.Context, g *options, to []session.JID) (bool, error) {
	if c.Bool("encrypt") {
		return true, nil
	}
	on, err := settings.Get(g.settings, optEncrypt, false)
	if err != nil || on {
		return on, err
	}
	listed, err := settings.Get(g.settings, optEncryptTo, []string(nil))
	if err != nil {
		return false, err
	}
	for _, l := range listed {
		j, err := session.ParseJID(strings.TrimSpace(l))
		if err != nil {
			return false, usagef("list bare JIDs: encrypt_to = [\"alice@example.org\"]", "encrypt_to: %w", err)
		}
		for _, t := range to {
			if t.Bare() == j.Bare() {
				return true, nil
			}
		}
	}
	return false, nil
}

// readEncrypted lets listen and the REPL read encrypted messages: when
// the account has a key, it is unlocked now, before connecting. In
// plain jab (no oxImpl) observerNeedsOX found no key file.
func readEncrypted(ctx context.Context, env *Env, g *options, senv *session.Env) error {
	if oxImpl == nil {
		return nil
	}
	e2e, err := oxEngine(ctx, env, g, false)
	if err != nil || e2e == nil {
		return err
	}
	senv.E2E = e2e
	return nil
}
