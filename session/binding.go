package session

// Which channel binding a SCRAM login uses, and what jab does when the
// server refuses it: the rule of docs/PROTOCOL.md, "Login: channel
// binding". In short: jab binds whenever the server offers a -PLUS
// mechanism and never logs in without a binding there unless told to
// (--channel-binding none). A server that offers -PLUS on TLS 1.3 without
// saying which types it accepts (XEP-0440) and refuses tls-exporter, as
// ejabberd before 23.10 does (it knows only tls-unique), gets one more
// connection capped at TLS 1.2 where tls-unique is defined; that is still
// a binding, so a man in the middle who forces the retry gains nothing.
// The account remembers it, so later logins go there at once.

import (
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// Channel binding modes, the values of Config.ChannelBinding ("" is
// BindingAuto).
const (
	BindingAuto     = "auto"
	BindingExporter = cbExporter
	BindingUnique   = cbUnique
	BindingNone     = "none"
)

// BindingModes lists the channel binding modes.
var BindingModes = []string{BindingAuto, BindingExporter, BindingUnique, BindingNone}

// ValidBindingMode tells whether m is a channel binding mode ("" is).
func ValidBindingMode(m string) bool {
	return m == "" || m == BindingAuto || m == BindingExporter || m == BindingUnique || m == BindingNone
}

// ChannelBindingError: the server offers channel binding (a -PLUS
// mechanism) but jab and the server share no type, or the server refused
// the one jab sent. It is never reported as a wrong password: a man in
// the middle is one cause, a server that binds differently the other.
type ChannelBindingError struct {
	Type    string   // the type jab sent, or asked for; "" when none was common
	Offered []string // the server's XEP-0440 types, nil when it named none
	Text    string   // the server's failure text, if any
	// Retried says jab also tried tls-unique on a connection capped at
	// TLS 1.2, and that failed too.
	Retried bool

	// tls12 says tls-unique on a connection capped at TLS 1.2 may do
	// (the retry of bindingRetry).
	tls12 bool
	// auth is the server's failure, when it refused the binding sent.
	auth *AuthError
}

func (e *ChannelBindingError) Error() string {
	var b strings.Builder
	b.WriteString("channel binding: ")
	switch {
	case e.auth != nil:
		b.WriteString("the server refused the login with " + e.Type + " binding")
	case e.Type != "":
		b.WriteString(e.Type + " is not available on this connection")
	default:
		b.WriteString("the server offers channel binding, but no type jab can use")
	}
	if e.Offered != nil {
		b.WriteString(" (the server names " + orNone(e.Offered) + ")")
	}
	if e.Text != "" {
		b.WriteString(": " + e.Text)
	}
	if e.Retried {
		b.WriteString("; tls-unique on TLS 1.2 failed too")
	}
	return b.String()
}

// Unwrap gives the server's failure, when there was one.
func (e *ChannelBindingError) Unwrap() error {
	if e.auth == nil {
		return nil
	}
	return e.auth
}

// pickBinding returns the channel binding type to use, or "". cbOffered
// is the server's XEP-0440 list (nil: none advertised), have what this
// TLS connection can provide, version its TLS version.
//
// In auto mode, with XEP-0440: jab's preference among the common types.
// Without it, the type each specification makes the default: tls-unique
// on TLS 1.2 (RFC 5802 §6.1, RFC 5929; Prosody 0.12) and tls-exporter on
// TLS 1.3 (RFC 9266 §3). A forced mode gives its type or nothing; none
// gives nothing.
func pickBinding(mode string, cbOffered []string, have map[string][]byte, version uint16) string {
	usable := func(t string) bool {
		_, ok := have[t]
		return ok && (cbOffered == nil || slices.Contains(cbOffered, t))
	}
	switch mode {
	case BindingNone:
		return ""
	case BindingExporter, BindingUnique:
		if usable(mode) {
			return mode
		}
		return ""
	}
	if cbOffered != nil {
		for _, t := range cbPreference {
			if usable(t) {
				return t
			}
		}
		return ""
	}
	def := cbUnique
	if version >= tls.VersionTLS13 {
		def = cbExporter
	}
	if usable(def) {
		return def
	}
	return ""
}

// noCommonBinding is the error for a server that offers -PLUS when jab
// could bind but has no type the server accepts in mode. Logging in
// without a binding there is what a man in the middle would arrange
// (rewriting the server's XEP-0440 list), so jab does not. On TLS 1.3,
// a server that names tls-unique is worth a connection capped at TLS 1.2
// in auto mode.
func noCommonBinding(mode string, cbOffered []string, version uint16) error {
	e := &ChannelBindingError{Offered: cbOffered}
	if mode == BindingExporter || mode == BindingUnique {
		e.Type = mode
	}
	e.tls12 = (mode == "" || mode == BindingAuto) && version >= tls.VersionTLS13 && slices.Contains(cbOffered, cbUnique)
	return e
}

// refusedBinding turns a failed SCRAM login into the error to report. A
// not-authorized answer to a -PLUS login is a refused binding when the
// server's text says so (ejabberd: "Invalid channel binding"), and worth
// one retry capped at TLS 1.2 with tls-unique when it was tls-exporter on
// TLS 1.3 in auto mode and the server named no types (XEP-0440): the
// server may know only tls-unique (ejabberd before 23.10). Anything else
// stays as it was: a wrong password is a wrong password.
func refusedBinding(mode string, choice saslChoice, cbOffered []string, version uint16, err error) error {
	var ae *AuthError
	if choice.cbType == "" || !errors.As(err, &ae) || ae.Condition != "not-authorized" {
		return err
	}
	retry := (mode == "" || mode == BindingAuto) && choice.cbType == cbExporter && cbOffered == nil && version >= tls.VersionTLS13
	if !retry && !mentionsBinding(ae.Text) {
		return err
	}
	return &ChannelBindingError{Type: choice.cbType, Offered: cbOffered, Text: ae.Text, tls12: retry, auth: ae}
}

// mentionsBinding tells whether a SASL failure text names the channel
// binding as the reason.
func mentionsBinding(text string) bool {
	return strings.Contains(strings.ToLower(text), "binding")
}

// bindingNext decides what Dial does after a login failed with err:
// connect again capped at TLS 1.2 for tls-unique (retry, with the first
// refusal), or report report. The retry happens once, only for a
// ChannelBindingError that allows it, and only where TLS 1.2 is allowed
// (not with --tls-min 1.3); without it, a refusal whose text does not
// name the binding is reported as the server's not-authorized, which a
// wrong password causes too.
func bindingNext(err error, tlsMin uint16, capped bool) (first *ChannelBindingError, retry bool, report error) {
	var ce *ChannelBindingError
	if !errors.As(err, &ce) || !ce.tls12 {
		return nil, false, err
	}
	if !capped && tlsMin < tls.VersionTLS13 {
		return ce, true, nil
	}
	if ce.auth != nil && !mentionsBinding(ce.Text) {
		return nil, false, ce.auth
	}
	return nil, false, err
}

// afterRetry is the error to report when the connection capped at TLS
// 1.2 failed too (retryErr), after first. The retry's own answer decides:
// a not-authorized whose text does not name the binding is the password's
// (ejabberd refuses an unknown account's tls-exporter login as "Invalid
// channel binding", and its tls-unique login as "Invalid username or
// password"); one that names it, a TLS failure (no TLS 1.2) or a binding
// error (no tls-unique) is the binding's, reported with the first
// refusal's details; anything else (the network) is itself.
func afterRetry(first *ChannelBindingError, retryErr error) error {
	var ce *ChannelBindingError
	var ae *AuthError
	var te *TLSError
	switch {
	case errors.As(retryErr, &ce), errors.As(retryErr, &te):
	case errors.As(retryErr, &ae) && ae.Condition == "not-authorized" && !mentionsBinding(ae.Text):
		return retryErr
	case errors.As(retryErr, &ae) && ae.Condition == "not-authorized":
	default:
		return retryErr
	}
	return &ChannelBindingError{Type: first.Type, Offered: first.Offered, Text: first.Text, auth: first.auth, Retried: true}
}

// BindingMemo keeps, per account, that its server needed the TLS 1.2
// retry, so later logins cap TLS at 1.2 at once (a server that counts
// failed logins, as ejabberd's mod_fail2ban does, would otherwise see one
// on every run); *statefile.Store is one.
type BindingMemo interface {
	ReadBinding(account string) (*statefile.Binding, error)
	WriteBinding(statefile.Binding) error
	RemoveBinding(account string) error
}

// capTLS12 tells whether this login starts capped at TLS 1.2: in auto mode
// after the memo says so, or in tls-unique mode always (RFC 5929 defines
// tls-unique up to TLS 1.2).
func capTLS12(mode string, tlsMin uint16, memo *statefile.Binding) bool {
	if tlsMin >= tls.VersionTLS13 {
		return false
	}
	if mode == BindingUnique {
		return true
	}
	return (mode == "" || mode == BindingAuto) && memo != nil && memo.Type == cbUnique
}

// rememberBinding records, after a login on a capped connection, what the
// next login does: keep capping after a retry succeeded; forget the cap
// once the server names its types (XEP-0440), which servers that know
// tls-exporter do (ejabberd from 23.10).
func rememberBinding(store BindingMemo, account string, retried, named bool, now time.Time) error {
	if store == nil {
		return nil
	}
	switch {
	case named:
		return store.RemoveBinding(account)
	case retried:
		return store.WriteBinding(statefile.Binding{Account: account, Type: cbUnique, Since: now})
	}
	return nil
}
