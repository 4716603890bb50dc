package session

import (
	"context"
	"time"
)

// End-to-end encryption of one-to-one messages. session knows where an
// encrypted message goes in and comes out (Sender.build seals, apply
// opens) and what it must never do (send plaintext in its place, show
// the fallback body as the message); the scheme itself is behind E2E.
// OpenPGP for XMPP (XEP-0373, XEP-0374), in package session/ox, is the
// one scheme today; OMEMO would be a second implementation.

// Namespaces of end-to-end encryption.
const (
	NSOpenPGP = "urn:xmpp:openpgp:0" // XEP-0373
	nsEME     = "urn:xmpp:eme:0"     // XEP-0380
)

// EME is XEP-0380's hint naming the encryption a message uses, so a
// client that cannot read it says why instead of showing the fallback
// body as if it were the message.
type EME struct {
	Namespace string `xml:"namespace,attr"`
	Name      string `xml:"name,attr,omitempty"`
}

// OpenPGP is XEP-0373 §3.1's <openpgp/>: the base64 of an OpenPGP
// message whose plaintext is a <signcrypt/> element.
type OpenPGP struct {
	Data string `xml:",chardata"`
}

// E2E is an end-to-end encryption scheme.
type E2E interface {
	// Prepare finds and checks the keys of peer (a bare JID) before
	// anything is sent: an error (an *E2EError when the keys are
	// missing or not trusted) means nothing may be sent to peer.
	Prepare(ctx context.Context, s *Session, peer string) error
	// Seal replaces the content of m (subject, body) by the encrypted
	// element, a fallback body and the XEP-0380 hint. Prepare was called
	// for m.To's bare JID.
	Seal(m *Message) error
	// Open decrypts and checks m's encrypted element. s, when not nil,
	// may be used to fetch the sender's keys; ref is the time the
	// message was sent as far as the server says (its delay stamp) or
	// now, against which the signed time is checked.
	Open(ctx context.Context, s *Session, m *Message, ref time.Time) Opened
}

// Opened is what E2E.Open found in an encrypted message.
type Opened struct {
	Subject, Body string
	Thread        *Thread
	// Verified: the signature is good and made by a key pinned for the
	// sender, and the signed recipient and time match (XEP-0373 §3.2).
	Verified bool
	// Failed: the message could not be read or did not pass the checks
	// (not decryptable, wrong recipient, time out of the window, a bad
	// signature). The content is then empty.
	Failed bool
	// Problem says why it failed, or why it is not verified.
	Problem string
}

// E2EError: a message cannot be encrypted to a contact (no published
// key, a key not trusted, no key of ours). Nothing was sent.
type E2EError struct {
	Peer    string
	Problem string
	Hint    string
}

func (e *E2EError) Error() string {
	if e.Peer == "" {
		return "encryption: " + e.Problem
	}
	return "encrypt to " + e.Peer + ": " + e.Problem
}

// encrypted reports whether m carries an end-to-end encrypted element.
func encrypted(m *Message) bool { return m != nil && m.OpenPGP != nil }

// e2eResult is what opening did to a received message, for its Event.
type e2eResult struct {
	encrypted, verified bool
	problem             string
}

// openE2E returns the message as its sender wrote it: a copy of m with
// the encrypted subject, body and thread in place of the outer ones
// (XEP-0374 §3.3: the encrypted element takes precedence), or with no
// content at all when it cannot be read, so that the fallback body is
// never taken for the message.
func (e Env) openE2E(ctx context.Context, s *Session, m *Message, ref time.Time) (*Message, e2eResult) {
	out := *m
	out.OpenPGP, out.EME, out.Store = nil, nil, nil
	out.Body, out.Subject = "", ""
	res := e2eResult{encrypted: true}
	if e.E2E == nil {
		res.problem = "encrypted (OpenPGP), and this account has no key to read it: see jab keys generate"
		return &out, res
	}
	o := e.E2E.Open(ctx, s, m, ref)
	if o.Failed {
		res.problem = o.Problem
		return &out, res
	}
	out.Body, out.Subject = o.Body, o.Subject
	if o.Thread != nil {
		out.Thread = o.Thread
	}
	res.verified, res.problem = o.Verified, o.Problem
	return &out, res
}

// refTime is the time a received message was sent as the server says:
// the archive's stamp, the delay stamp, else now.
func refTime(m *Message, archiveStamp string, now time.Time) time.Time {
	if archiveStamp != "" {
		if t, err := time.Parse(time.RFC3339Nano, archiveStamp); err == nil {
			return t
		}
	}
	if m.Delay != nil {
		if t, err := time.Parse(time.RFC3339Nano, m.Delay.Stamp); err == nil {
			return t
		}
	}
	return now
}

// set marks ev with what opening found.
func (r e2eResult) set(ev *Event) {
	if !r.encrypted {
		return
	}
	ev.Encrypted, ev.Verified = true, r.verified
	ev.EncryptionError = r.problem
}
