package ox

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// The use cases of jab keys: what the command line drives.

// NormalizeFingerprint accepts a v4 fingerprint as GnuPG prints it
// (groups of hex digits separated by spaces, any case, an optional 0x)
// and returns it as XEP-0373 writes it.
func NormalizeFingerprint(s string) (string, error) {
	fp := strings.ToUpper(strings.Join(strings.Fields(s), ""))
	fp = strings.TrimPrefix(fp, "0X")
	if !validFingerprint(fp) {
		return "", fmt.Errorf("%q is not an OpenPGP v4 fingerprint (40 hex digits)", s)
	}
	return fp, nil
}

// PublicEntity reads the public parts of our stored key pair, which
// need no passphrase.
func PublicEntity(k *statefile.SecretKey) (*openpgp.Entity, error) {
	el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(k.Armored))
	if err != nil || len(el) != 1 {
		return nil, fmt.Errorf("read OpenPGP key of %s: not one key (%v)", k.Account, err)
	}
	return el[0], nil
}

// PublishOwn publishes our stored public key on our PEP service.
func PublishOwn(ctx context.Context, s *session.Session, k *statefile.SecretKey, now time.Time) error {
	e, err := PublicEntity(k)
	if err != nil {
		return err
	}
	data, err := PublicKey(e)
	if err != nil {
		return err
	}
	return Publish(ctx, s, k.Fingerprint, data, now)
}

// Trust pins fp for peer on the user's word (jab keys trust): the key
// is used from now on, and a refusal of it is lifted.
func Trust(ctx context.Context, store *statefile.Store, account, peer, fp string, now time.Time) error {
	_, err := store.Update(ctx, func(st *statefile.State) error {
		return pin(st.Account(account), peer, []string{fp}, statefile.PinUser, now)
	})
	return err
}

// Untrust removes fp from peer's pins and refuses it from now on: it
// is never used, and trust on first use never pins it again.
func Untrust(ctx context.Context, store *statefile.Store, account, peer, fp string) error {
	_, err := store.Update(ctx, func(st *statefile.State) error {
		a := st.Account(account)
		if a.OpenPGP == nil {
			a.OpenPGP = map[string]*statefile.KeyPins{}
		}
		p := a.OpenPGP[peer]
		if p == nil {
			if len(a.OpenPGP) >= statefile.MaxPinnedContacts {
				return fmt.Errorf("untrust %s: keys of %d contacts are pinned already", peer, statefile.MaxPinnedContacts)
			}
			p = &statefile.KeyPins{}
			a.OpenPGP[peer] = p
		}
		p.Trusted = slices.DeleteFunc(p.Trusted, func(t statefile.Pin) bool { return t.Fingerprint == fp })
		if !slices.Contains(p.Refused, fp) {
			if len(p.Refused) >= statefile.MaxPinsPerContact {
				p.Refused = p.Refused[1:]
			}
			p.Refused = append(p.Refused, fp)
		}
		return nil
	})
	return err
}
