// Package ox is OpenPGP for XMPP (XEP-0373) with its instant messaging
// profile (XEP-0374): jab's end-to-end encryption, behind session.E2E.
//
// Keys are published on PEP and fetched from it (pep.go); which of a
// contact's keys are trusted is pinned in the state file (trust.go,
// D-21); a message is a <signcrypt/> element (signcrypt.go) signed with
// our key and encrypted to the contact's keys and our own. The OpenPGP
// itself is github.com/ProtonMail/go-crypto. An Engine is used by one
// command; its methods are safe for concurrent use.
package ox

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// Fallback is the plaintext body of an encrypted message (XEP-0374
// §3.2): what a client without OX shows. It says nothing of the
// content.
const Fallback = "This message is encrypted with OpenPGP for XMPP (XEP-0373), which your client cannot read."

// Bounds of what a received message may hold.
const (
	// MaxCiphertext bounds the base64 text of a received <openpgp/>.
	MaxCiphertext = 1 << 20
	// MaxPlaintext bounds what it decrypts to.
	MaxPlaintext = 1 << 20
	// fetchTimeout bounds fetching a sender's keys while a message is
	// received: the listen loop waits meanwhile.
	fetchTimeout = 10 * time.Second
)

// Engine is OX for one account.
type Engine struct {
	account string // bare JID
	self    *openpgp.Entity
	selfFP  string
	store   *statefile.Store
	mode    string
	now     func() time.Time

	mu         sync.Mutex
	recipients map[string][]*openpgp.Entity // Prepare's result, by bare JID
	keys       map[string]*openpgp.Entity   // checked public keys, by fingerprint
}

// New is an Engine for account with our unlocked key pair self (nil:
// none; nothing can then be sent or read) and the trust mode
// (TrustFirstUse or TrustAlways).
func New(store *statefile.Store, account string, self *openpgp.Entity, mode string, now func() time.Time) *Engine {
	e := &Engine{account: account, self: self, store: store, mode: mode, now: now,
		recipients: map[string][]*openpgp.Entity{}, keys: map[string]*openpgp.Entity{}}
	if self != nil {
		e.selfFP = Fingerprint(self)
	}
	return e
}

var _ session.E2E = (*Engine)(nil)

func (e *Engine) noSelf() *session.E2EError {
	return &session.E2EError{Problem: "no OpenPGP key for " + e.account,
		Hint: "make one with: jab keys generate, then jab keys publish"}
}

// Prepare fetches peer's published keys, applies the trust rules
// (Decide), pins them on first use and checks each key before use.
func (e *Engine) Prepare(ctx context.Context, s *session.Session, peer string) error {
	if e.self == nil {
		return e.noSelf()
	}
	fps, err := FetchList(ctx, s, peer)
	if err != nil {
		return err
	}
	d, err := e.decide(ctx, peer, fps)
	if err != nil {
		return err
	}
	var to []*openpgp.Entity
	for _, fp := range d.Use {
		k, err := e.publicKey(ctx, s, peer, fp)
		if err != nil {
			return &session.E2EError{Peer: peer, Problem: err.Error(),
				Hint: "ask " + peer + " to publish a valid key; nothing was sent"}
		}
		to = append(to, k)
	}
	e.mu.Lock()
	e.recipients[peer] = to
	e.mu.Unlock()
	return nil
}

// decide runs Decide on the pins in the state file and, on first use,
// pins what it says under the state lock (where it runs again, in case
// another process pinned meanwhile).
func (e *Engine) decide(ctx context.Context, peer string, fps []string) (Decision, error) {
	st, err := e.store.Load()
	if err != nil {
		return Decision{}, err
	}
	d := Decide(peer, pinsOf(st, e.account, peer), fps, e.mode)
	if d.Err != nil {
		return d, d.Err
	}
	if len(d.Pin) == 0 {
		return d, nil
	}
	_, err = e.store.Update(ctx, func(st *statefile.State) error {
		a := st.Account(e.account)
		d = Decide(peer, a.OpenPGP[peer], fps, e.mode)
		if d.Err != nil || len(d.Pin) == 0 {
			return d.Err
		}
		return pin(a, peer, d.Pin, statefile.PinFirstUse, e.now())
	})
	if err != nil {
		return d, err
	}
	return d, nil
}

func pinsOf(st *statefile.State, account, peer string) *statefile.KeyPins {
	if a := st.Accounts[account]; a != nil {
		return a.OpenPGP[peer]
	}
	return nil
}

// pin adds fps to peer's trusted keys (removing them from the refused
// ones), within the bounds.
func pin(a *statefile.Account, peer string, fps []string, by string, now time.Time) error {
	if a.OpenPGP == nil {
		a.OpenPGP = map[string]*statefile.KeyPins{}
	}
	p := a.OpenPGP[peer]
	if p == nil {
		if len(a.OpenPGP) >= statefile.MaxPinnedContacts {
			return &session.E2EError{Peer: peer, Problem: fmt.Sprintf("keys of %d contacts are pinned already, the most jab keeps", statefile.MaxPinnedContacts),
				Hint: "forget contacts you no longer write to with jab keys untrust JID"}
		}
		p = &statefile.KeyPins{}
		a.OpenPGP[peer] = p
	}
	for _, fp := range fps {
		p.Refused = slices.DeleteFunc(p.Refused, func(r string) bool { return r == fp })
		if slices.Contains(p.Fingerprints(), fp) {
			continue
		}
		if len(p.Trusted) >= statefile.MaxPinsPerContact {
			return &session.E2EError{Peer: peer, Problem: fmt.Sprintf("%d keys are pinned already, the most jab keeps for one contact", statefile.MaxPinsPerContact),
				Hint: "untrust the keys " + peer + " no longer uses"}
		}
		p.Trusted = append(p.Trusted, statefile.Pin{Fingerprint: fp, Since: now.UTC(), By: by})
	}
	return nil
}

// publicKey returns peer's checked key fp: from memory, from the state
// directory's cache, or fetched (s not nil) and cached.
func (e *Engine) publicKey(ctx context.Context, s *session.Session, peer, fp string) (*openpgp.Entity, error) {
	e.mu.Lock()
	k := e.keys[fp]
	e.mu.Unlock()
	if k != nil {
		return k, nil
	}
	data := e.store.ReadPublicKey(fp)
	fetched := false
	if data == nil {
		if s == nil {
			return nil, fmt.Errorf("the key %s of %s is not at hand", fp, peer)
		}
		var err error
		if data, err = FetchKey(ctx, s, peer, fp); err != nil {
			return nil, err
		}
		fetched = true
	}
	k, err := ParsePublicKey(data, fp, peer, e.now())
	if err != nil {
		return nil, err
	}
	if fetched {
		// A cache: a failed write only means fetching again.
		_ = e.store.WritePublicKey(fp, data)
	}
	e.mu.Lock()
	e.keys[fp] = k
	e.mu.Unlock()
	return k, nil
}

// Seal encrypts m's subject and body (and a copy of its thread) in a
// <signcrypt/> to m.To's keys and our own, signed with our key, and
// leaves the fallback body and the XEP-0380 and XEP-0334 hints outside.
func (e *Engine) Seal(m *session.Message) error {
	if e.self == nil {
		return e.noSelf()
	}
	peer := session.BareOf(m.To)
	e.mu.Lock()
	to := e.recipients[peer]
	e.mu.Unlock()
	if len(to) == 0 {
		return &session.E2EError{Peer: peer, Problem: "its keys were not checked before sending"}
	}
	now := e.now()
	sc, err := BuildSigncrypt(peer, now, Content{Subject: m.Subject, Body: m.Body, Thread: m.Thread})
	if err != nil {
		return err
	}
	// Every key the recipient publishes (XEP-0374 §2.3.1), and our own:
	// our other devices, and we from the archive, can read what we sent.
	recipients := append(slices.Clip(to), e.self)
	var out bytes.Buffer
	w, err := openpgp.Encrypt(&out, recipients, e.self, nil, config(now))
	if err != nil {
		return fmt.Errorf("encrypt to %s: %w", peer, err)
	}
	if _, err := w.Write(sc); err != nil {
		return fmt.Errorf("encrypt to %s: %w", peer, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("encrypt to %s: %w", peer, err)
	}
	m.Subject = ""
	m.Body = Fallback
	m.OpenPGP = &session.OpenPGP{Data: base64.StdEncoding.EncodeToString(out.Bytes())}
	m.EME = &session.EME{Namespace: session.NSOpenPGP, Name: "OX"}
	m.Store = &session.Empty{}
	return nil
}

// Open decrypts m's <openpgp/> and checks it (XEP-0373 §3.2): it must
// be encrypted to us, its signcrypt must name us (or, for our own
// message, its recipient) and be signed within the replay window of
// ref. A message that fails any of these is Failed. The signature is
// then checked against the sender's pinned keys: a good one by a
// pinned key is Verified; one by a key not pinned (or no signature) is
// shown, not verified; a bad signature is Failed.
func (e *Engine) Open(ctx context.Context, s *session.Session, m *session.Message, ref time.Time) session.Opened {
	failed := func(format string, args ...any) session.Opened {
		return session.Opened{Failed: true, Problem: fmt.Sprintf(format, args...)}
	}
	if e.self == nil {
		return failed("encrypted (OpenPGP), and %s has no key to read it: see jab keys generate", e.account)
	}
	sender := e.account
	if m.From != "" {
		sender = session.BareOf(m.From)
	}
	text := m.OpenPGP.Data
	if len(text) > MaxCiphertext {
		return failed("the encrypted content is %d bytes, over the %d jab reads", len(text), MaxCiphertext)
	}
	data, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
	if err != nil {
		return failed("the encrypted content is not base64: %v", err)
	}
	signers, pins := e.signerKeys(ctx, s, sender)
	keyring := append(openpgp.EntityList{e.self}, signers...)
	md, err := openpgp.ReadMessage(bytes.NewReader(data), keyring, nil, config(e.now()))
	if err != nil {
		return failed("cannot decrypt: %v", err)
	}
	if !md.IsEncrypted || md.DecryptedWith.Entity == nil {
		return failed("the content is not encrypted to our key")
	}
	plain, err := io.ReadAll(io.LimitReader(md.UnverifiedBody, MaxPlaintext+1))
	if err != nil {
		var se pgperrors.SignatureError
		if md.SignatureError != nil || errors.As(err, &se) {
			return failed("bad signature: %v", err)
		}
		return failed("cannot decrypt: %v", err)
	}
	if len(plain) > MaxPlaintext {
		return failed("the decrypted content is over the %d bytes jab reads", MaxPlaintext)
	}
	if md.IsSigned && md.SignedBy != nil && md.SignatureError != nil {
		return failed("bad signature: %v", md.SignatureError)
	}
	sc, err := ParseSigncrypt(plain)
	if err != nil {
		return failed("%v", err)
	}
	// XEP-0373 §3.2: a 'to' must match the message's own: us, or for
	// our own message (a sent carbon, the archive) its recipient.
	want := e.account
	if sender == e.account && m.To != "" {
		want = session.BareOf(m.To)
	}
	c, problem := sc.Check(want, ref)
	if problem != "" {
		return session.Opened{Failed: true, Problem: problem}
	}
	o := session.Opened{Subject: c.Subject, Body: c.Body, Thread: c.Thread}
	switch {
	case !md.IsSigned:
		o.Problem = "not signed: the sender is not proven"
	case md.SignedBy == nil:
		o.Problem = fmt.Sprintf("signed by key %016X, which is not a key of %s that jab trusts", md.SignedByKeyId, sender)
	case sender == e.account:
		if fp := Fingerprint(md.SignedBy.Entity); fp != e.selfFP {
			o.Problem = "signed by " + fp + ", not by our key " + e.selfFP
		}
	default:
		o.Problem = Signer(sender, pins, Fingerprint(md.SignedBy.Entity))
	}
	o.Verified = o.Problem == ""
	return o
}

// signerKeys are the keys a message from sender may be verified with:
// our own for our own messages, else the sender's pinned keys. A sender
// never met is met now: trust on first use fetches and pins what they
// publish (unless the mode is TrustAlways, or there is no session).
func (e *Engine) signerKeys(ctx context.Context, s *session.Session, sender string) ([]*openpgp.Entity, *statefile.KeyPins) {
	if sender == e.account {
		return nil, nil
	}
	st, err := e.store.Load()
	if err != nil {
		return nil, nil
	}
	pins := pinsOf(st, e.account, sender)
	if s != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, fetchTimeout)
		defer cancel()
	}
	if pins == nil && e.mode != TrustAlways && s != nil {
		if fps, err := FetchList(ctx, s, sender); err == nil {
			if _, err := e.decide(ctx, sender, fps); err == nil {
				if st, err := e.store.Load(); err == nil {
					pins = pinsOf(st, e.account, sender)
				}
			}
		}
	}
	var keys []*openpgp.Entity
	for _, fp := range pins.Fingerprints() {
		if k, err := e.publicKey(ctx, s, sender, fp); err == nil {
			keys = append(keys, k)
		}
	}
	return keys, pins
}
