package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// OpenPGP for XMPP (XEP-0373): our key pair, and the public keys of
// contacts that a pin names. The trust itself (which fingerprints are
// pinned for which contact) is in state.json, Account.OpenPGP, under the
// state lock; these files only hold key material.

// SecretKey is our OpenPGP key pair for one account, as stored in
// openpgp-<hash>.json (mode 0600). The key is ASCII-armored and its
// secret parts are encrypted with the user's passphrase: the file alone
// does not give the key away.
type SecretKey struct {
	Account     string    `json:"account"`     // bare JID
	Fingerprint string    `json:"fingerprint"` // upper-case hex, as XEP-0373 §4.1 writes it
	Created     time.Time `json:"created"`
	Armored     string    `json:"armored"` // the transferable secret key, passphrase-protected
}

func (s *Store) secretKeyPath(account string) string { return s.accountFile("openpgp-", account) }

// WriteSecretKey replaces the key pair of k.Account atomically (0600).
func (s *Store) WriteSecretKey(k SecretKey) error {
	if k.Account == "" {
		return errors.New("write OpenPGP key: empty account")
	}
	path := s.secretKeyPath(k.Account)
	data, err := encode(k)
	if err != nil {
		return fmt.Errorf("encode OpenPGP key %q: %w", path, err)
	}
	return writeFileAtomic(path, data)
}

// HasSecretKey says whether the state directory dir holds a key pair
// file for account: one stat, nothing read or parsed, nothing created
// (plain jab asks it to decide whether listen needs jab-ox).
func HasSecretKey(dir, account string) bool {
	s := &Store{dir: filepath.Clean(dir)}
	_, err := os.Stat(s.secretKeyPath(account))
	return err == nil
}

// ReadSecretKey returns the key pair of account, or nil when there is
// none. Unlike a cache, a damaged key file is an error naming it: it is
// never replaced behind the user's back.
func (s *Store) ReadSecretKey(account string) (*SecretKey, error) {
	path := s.secretKeyPath(account)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read OpenPGP key %q: %w", path, err)
	}
	var k SecretKey
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("read OpenPGP key %q: %w", path, err)
	}
	if k.Account != account || k.Armored == "" {
		return nil, fmt.Errorf("read OpenPGP key %q: not a key of %s", path, account)
	}
	return &k, nil
}

// RemoveSecretKey deletes the key pair of account; none is not an error.
func (s *Store) RemoveSecretKey(account string) error {
	path := s.secretKeyPath(account)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove OpenPGP key %q: %w", path, err)
	}
	return nil
}

// pubkeyDir holds contacts' public keys, one file per fingerprint.
const pubkeyDir = "pubkeys"

// validFingerprint: 40 (v4) or 64 (v5, v6) upper-case hex digits. Only
// such a name becomes a file name.
func validFingerprint(fp string) bool {
	if len(fp) != 40 && len(fp) != 64 {
		return false
	}
	return strings.Trim(fp, "0123456789ABCDEF") == ""
}

// WritePublicKey caches the public key (binary OpenPGP packets) with
// fingerprint fp, replacing any copy atomically. It takes no lock: the
// file name is the key's own fingerprint, which the reader checks, so two
// writers can only write the same key.
func (s *Store) WritePublicKey(fp string, data []byte) error {
	if !validFingerprint(fp) {
		return fmt.Errorf("write public key: %q is not a fingerprint", fp)
	}
	dir := filepath.Join(s.dir, pubkeyDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write public key %s: %w", fp, err)
	}
	return writeFileAtomic(filepath.Join(dir, fp+".pgp"), data)
}

// ReadPublicKey returns the cached public key with fingerprint fp, or
// nil. The caller checks that the key has that fingerprint.
func (s *Store) ReadPublicKey(fp string) []byte {
	if !validFingerprint(fp) {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(s.dir, pubkeyDir, fp+".pgp"))
	if err != nil {
		return nil
	}
	return data
}

// KeyPins is what we trust of one contact's OpenPGP keys
// (Account.OpenPGP). Its existence means the first key was seen: trust
// on first use never applies to the contact again, even once every pin
// is removed.
type KeyPins struct {
	Trusted []Pin `json:"trusted,omitempty"`
	// Refused are fingerprints the user untrusted: never used, never
	// pinned again by trust on first use.
	Refused []string `json:"refused,omitempty"`
}

// Pin is one trusted fingerprint.
type Pin struct {
	Fingerprint string    `json:"fingerprint"`
	Since       time.Time `json:"since"`
	// By is "first-use" (pinned when first seen) or "user" (jab keys
	// trust).
	By string `json:"by"`
}

// Ways a pin was made.
const (
	PinFirstUse = "first-use"
	PinUser     = "user"
)

// MaxPinnedContacts bounds Account.OpenPGP: any contact who writes to us
// can make an entry, as with conversations.
const MaxPinnedContacts = MaxConversations

// MaxPinsPerContact bounds the fingerprints kept per contact, trusted
// and refused each.
const MaxPinsPerContact = 32

// Fingerprints are the trusted fingerprints.
func (p *KeyPins) Fingerprints() []string {
	if p == nil {
		return nil
	}
	out := make([]string, len(p.Trusted))
	for i, t := range p.Trusted {
		out[i] = t.Fingerprint
	}
	return out
}
