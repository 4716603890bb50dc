// Package oxcli is OpenPGP for XMPP (XEP-0373/0374, package session/ox)
// for the command line: Register hands it to package commands, which
// defines jab keys, send --encrypt and the rest but does not link the
// crypto. Only the companion binary jab-ox (cmd/jab-ox) imports it;
// commands/openpgp.go says why.
package oxcli

import (
	"context"
	"time"

	"github.com/jab-xmpp/jab/commands"
	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/session/ox"
	"github.com/jab-xmpp/jab/statefile"
)

// Register makes this binary one with OpenPGP: commands runs jab keys
// and encryption itself and never re-executes.
func Register() { commands.RegisterOpenPGP(scheme{}) }

// scheme is commands.OpenPGP on session/ox.
type scheme struct{}

var _ commands.OpenPGP = scheme{}

func (scheme) Generate(account string, passphrase []byte, now time.Time) (*statefile.SecretKey, error) {
	k, _, err := ox.Generate(account, passphrase, now)
	return k, err
}

func (scheme) Import(account string, data, passphrase []byte, now time.Time) (*statefile.SecretKey, error) {
	k, _, err := ox.Import(account, data, passphrase, now)
	return k, err
}

func (scheme) ArmoredPublicKey(k *statefile.SecretKey) (string, error) {
	e, err := ox.PublicEntity(k)
	if err != nil {
		return "", err
	}
	return ox.ArmoredPublicKey(e)
}

func (scheme) Publish(ctx context.Context, s *session.Session, k *statefile.SecretKey, now time.Time) error {
	return ox.PublishOwn(ctx, s, k, now)
}

func (scheme) NormalizeFingerprint(s string) (string, error) { return ox.NormalizeFingerprint(s) }

func (scheme) Trust(ctx context.Context, store *statefile.Store, account, peer, fp string, now time.Time) error {
	return ox.Trust(ctx, store, account, peer, fp, now)
}

func (scheme) Untrust(ctx context.Context, store *statefile.Store, account, peer, fp string) error {
	return ox.Untrust(ctx, store, account, peer, fp)
}

func (scheme) Engine(store *statefile.Store, k *statefile.SecretKey, passphrase []byte, mode string, now func() time.Time) (session.E2E, error) {
	self, err := ox.Unlock(k, passphrase)
	if err != nil {
		return nil, err
	}
	return ox.New(store, k.Account, self, mode, now), nil
}
