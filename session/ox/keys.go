package ox

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// Keys: ours (generated or imported, kept passphrase-protected in the
// state directory) and contacts' (published on PEP, checked before use).

// MaxKeySize bounds a published public key: an ed25519/cv25519 key is
// about 400 bytes, an RSA-4096 key with a few user ids a few KiB.
const MaxKeySize = 64 << 10

// config is the OpenPGP profile jab writes: v4 keys with EdDSA
// (ed25519) and an ECDH (cv25519) subkey, which every OpenPGP
// implementation in use reads, GnuPG 2.2 included; no compression,
// which leaks the content's redundancy through the length.
func config(now time.Time) *packet.Config {
	return &packet.Config{
		Algorithm:              packet.PubKeyAlgoEdDSA,
		Curve:                  packet.Curve25519,
		DefaultCompressionAlgo: packet.CompressionNone,
		Time:                   func() time.Time { return now },
	}
}

// UserID is the OpenPGP user id XEP-0373 §6.2 asks for: xmpp: and the
// bare JID.
func UserID(jid string) string { return "xmpp:" + jid }

// Fingerprint is an entity's v4 fingerprint as XEP-0373 §4.1 writes
// it: upper-case hex.
func Fingerprint(e *openpgp.Entity) string {
	return strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
}

// hasUserID reports whether e has a user id naming jid as XEP-0373
// §3.2 asks: "xmpp:JID", alone or in angle brackets, not revoked.
func hasUserID(e *openpgp.Entity, jid string, now time.Time) bool {
	want := UserID(jid)
	for name, id := range e.Identities {
		if id.Revoked(now) {
			continue
		}
		if name == want || strings.Contains(name, "<"+want+">") {
			return true
		}
	}
	return false
}

// Generate makes a key pair for account, with the user id xmpp:account,
// protected with passphrase.
func Generate(account string, passphrase []byte, now time.Time) (*statefile.SecretKey, *openpgp.Entity, error) {
	if len(passphrase) == 0 {
		return nil, nil, errors.New("generate OpenPGP key: empty passphrase")
	}
	cfg := config(now)
	e, err := openpgp.NewEntity(UserID(account), "", "", cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("generate OpenPGP key for %s: %w", account, err)
	}
	k, err := protect(account, e, passphrase, now)
	return k, e, err
}

// protect encrypts e's secret keys with passphrase and armors the
// result for the state directory. e itself stays unlocked.
func protect(account string, e *openpgp.Entity, passphrase []byte, now time.Time) (*statefile.SecretKey, error) {
	var signed bytes.Buffer
	if err := e.SerializePrivate(&signed, config(now)); err != nil {
		return nil, fmt.Errorf("serialise OpenPGP key: %w", err)
	}
	// A copy is encrypted: the caller goes on using e unlocked.
	el, err := openpgp.ReadKeyRing(&signed)
	if err != nil || len(el) != 1 {
		return nil, fmt.Errorf("serialise OpenPGP key: %v", err)
	}
	c := el[0]
	if err := c.EncryptPrivateKeys(passphrase, config(now)); err != nil {
		return nil, fmt.Errorf("protect OpenPGP key with the passphrase: %w", err)
	}
	var out bytes.Buffer
	w, err := armor.Encode(&out, openpgp.PrivateKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := c.SerializePrivateWithoutSigning(w, nil); err != nil {
		return nil, fmt.Errorf("serialise OpenPGP key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return &statefile.SecretKey{Account: account, Fingerprint: Fingerprint(e), Created: e.PrimaryKey.CreationTime.UTC(),
		Armored: out.String()}, nil
}

// ErrPassphrase: the passphrase does not open the key.
var ErrPassphrase = errors.New("the key passphrase is wrong")

// Unlock reads the stored key pair and decrypts it with passphrase.
func Unlock(k *statefile.SecretKey, passphrase []byte) (*openpgp.Entity, error) {
	el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(k.Armored))
	if err != nil || len(el) != 1 || el[0].PrivateKey == nil {
		return nil, fmt.Errorf("read OpenPGP key of %s: not one secret key (%v)", k.Account, err)
	}
	e := el[0]
	if err := e.DecryptPrivateKeys(passphrase); err != nil {
		return nil, &session.E2EError{Problem: ErrPassphrase.Error() + " for the OpenPGP key of " + k.Account,
			Hint: "check --key-passphrase-cmd, --key-passphrase-file or the keyring entry (jab config show)"}
	}
	return e, nil
}

// Import reads a secret key (armored or binary) for account, opened
// with passphrase if it is protected, and protects it with passphrase
// for the state directory. The key must carry the user id xmpp:account.
func Import(account string, data, passphrase []byte, now time.Time) (*statefile.SecretKey, *openpgp.Entity, error) {
	el, err := readKeys(data)
	if err != nil {
		return nil, nil, fmt.Errorf("import OpenPGP key: %w", err)
	}
	if len(el) != 1 || el[0].PrivateKey == nil {
		return nil, nil, errors.New("import OpenPGP key: the file must hold exactly one secret key")
	}
	e := el[0]
	if e.PrivateKey.Encrypted {
		if err := e.DecryptPrivateKeys(passphrase); err != nil {
			return nil, nil, &session.E2EError{Problem: "the key passphrase does not open the imported key",
				Hint: "give the imported key's passphrase as the key passphrase"}
		}
	}
	if !hasUserID(e, account, now) {
		return nil, nil, &session.E2EError{Problem: "the imported key has no user id " + UserID(account) + " (XEP-0373 §6.2)",
			Hint: "add the user id first, e.g. gpg --quick-add-uid KEY " + UserID(account)}
	}
	if _, ok := e.EncryptionKey(now); !ok {
		return nil, nil, &session.E2EError{Problem: "the imported key has no usable encryption subkey"}
	}
	k, err := protect(account, e, passphrase, now)
	return k, e, err
}

// readKeys reads armored or binary OpenPGP keys.
func readKeys(data []byte) (openpgp.EntityList, error) {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		return openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	}
	return openpgp.ReadKeyRing(bytes.NewReader(data))
}

// PublicKey is the binary transferable public key of e, as XEP-0373
// §4.1 publishes it (base64, not armored).
func PublicKey(e *openpgp.Entity) ([]byte, error) {
	var b bytes.Buffer
	if err := e.Serialize(&b); err != nil {
		return nil, fmt.Errorf("serialise public key: %w", err)
	}
	return b.Bytes(), nil
}

// ArmoredPublicKey is e's public key as an ASCII-armored block, for
// jab keys export.
func ArmoredPublicKey(e *openpgp.Entity) (string, error) {
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		return "", err
	}
	if err := e.Serialize(w); err != nil {
		return "", fmt.Errorf("serialise public key: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// ParsePublicKey reads a contact's published key and checks it for
// use: one key (a key block that does not parse is refused), the
// fingerprint the node named, the user id xmpp:peer, not revoked, and
// an encryption key valid now.
func ParsePublicKey(data []byte, fp, peer string, now time.Time) (*openpgp.Entity, error) {
	if len(data) > MaxKeySize {
		return nil, fmt.Errorf("the key %s of %s is %d bytes, over the %d jab accepts", fp, peer, len(data), MaxKeySize)
	}
	el, err := openpgp.ReadKeyRing(io.LimitReader(bytes.NewReader(data), MaxKeySize))
	if err != nil {
		return nil, fmt.Errorf("the key %s of %s does not parse: %v", fp, peer, err)
	}
	if len(el) != 1 {
		return nil, fmt.Errorf("the key block %s of %s holds %d keys, not one", fp, peer, len(el))
	}
	e := el[0]
	e.PrivateKey = nil
	if got := Fingerprint(e); got != fp {
		return nil, fmt.Errorf("the key published as %s by %s is %s", fp, peer, got)
	}
	if e.Revoked(now) {
		return nil, fmt.Errorf("the key %s of %s is revoked", fp, peer)
	}
	if !hasUserID(e, peer, now) {
		return nil, fmt.Errorf("the key %s has no user id %s (XEP-0373 §3.2)", fp, UserID(peer))
	}
	if _, ok := e.EncryptionKey(now); !ok {
		return nil, fmt.Errorf("the key %s of %s has no valid encryption key (expired?)", fp, peer)
	}
	return e, nil
}
