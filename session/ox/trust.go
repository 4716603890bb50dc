package ox

import (
	"slices"
	"strings"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// Trust modes: how the first key of a contact is treated.
const (
	// TrustFirstUse pins the keys a contact publishes when jab first
	// meets them (D-21).
	TrustFirstUse = "first-use"
	// TrustAlways trusts no key the user has not trusted with jab keys
	// trust, not even the first one.
	TrustAlways = "always"
)

// Decision is what Decide found for a contact's published keys.
type Decision struct {
	// Use are the fingerprints to encrypt to: every published key,
	// each one trusted.
	Use []string
	// Pin are fingerprints to pin now, on first use.
	Pin []string
	// Err, when set, refuses the contact: nothing is sent.
	Err *session.E2EError
}

// Decide applies the trust rules (D-21) to the fingerprints peer
// publishes, given what is pinned (nil: the contact was never met) and
// the trust mode. It is pure: the caller fetched the list and stores the
// pins.
//
//   - nothing published (or only refused keys): no usable key;
//   - never met: trust on first use pins every published key, unless
//     the mode is TrustAlways, which wants the user's word first;
//   - met: every published key must be pinned; one that is not (a new
//     or a swapped key) refuses the contact, naming the new fingerprint
//     and the pinned ones, until the user trusts it or untrusts it.
//
// Refused keys are never used and never block: the contact's other
// keys are used without them.
func Decide(peer string, pins *statefile.KeyPins, published []string, mode string) Decision {
	var usable []string
	for _, fp := range published {
		if pins != nil && slices.Contains(pins.Refused, fp) {
			continue
		}
		usable = append(usable, fp)
	}
	if len(usable) == 0 {
		problem := "publishes no OpenPGP key"
		if len(published) > 0 {
			problem = "publishes only keys you untrusted (" + strings.Join(published, ", ") + ")"
		}
		return Decision{Err: &session.E2EError{Peer: peer, Problem: problem,
			Hint: "ask " + peer + " to publish a key (jab keys publish, or an OX client)"}}
	}
	if pins == nil {
		if mode == TrustAlways {
			return Decision{Err: &session.E2EError{Peer: peer,
				Problem: "no key of " + peer + " is trusted yet (--trust always); published: " + strings.Join(usable, ", "),
				Hint:    "check the fingerprint with " + peer + ", then run: jab keys trust " + peer + " " + usable[0]}}
		}
		return Decision{Use: usable, Pin: usable}
	}
	trusted := pins.Fingerprints()
	var unpinned []string
	for _, fp := range usable {
		if !slices.Contains(trusted, fp) {
			unpinned = append(unpinned, fp)
		}
	}
	if len(unpinned) > 0 {
		pinned := "none"
		if len(trusted) > 0 {
			pinned = strings.Join(trusted, ", ")
		}
		return Decision{Err: &session.E2EError{Peer: peer,
			Problem: "the key of " + peer + " changed: " + strings.Join(unpinned, ", ") + " is published, " +
				"but the pinned key is " + pinned,
			Hint: "if " + peer + " confirms the new key, run: jab keys trust " + peer + " " + unpinned[0] +
				" (or jab keys untrust " + peer + " " + unpinned[0] + " to refuse it)"}}
	}
	return Decision{Use: usable}
}

// Signer checks the key that signed a message from peer against the
// pins (D-21): "" when it is trusted, else why it is not. A signer key
// that is trusted but published no longer still verifies: the pin, not
// the server's list, is what is trusted.
func Signer(peer string, pins *statefile.KeyPins, fp string) string {
	if pins == nil {
		return "signed by " + fp + ", and no key of " + peer + " is trusted yet"
	}
	if slices.Contains(pins.Refused, fp) {
		return "signed by " + fp + ", a key of " + peer + " you untrusted"
	}
	if !slices.Contains(pins.Fingerprints(), fp) {
		trusted := pins.Fingerprints()
		pinned := "none"
		if len(trusted) > 0 {
			pinned = strings.Join(trusted, ", ")
		}
		return "signed by " + fp + ", which is not the pinned key of " + peer + " (" + pinned + ")"
	}
	return ""
}
