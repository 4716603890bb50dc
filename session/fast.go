package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"slices"
	"strings"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// TokenStore keeps an account's XEP-0484 FAST token between runs;
// *statefile.Store is one.
type TokenStore interface {
	ReadFAST(account string) (*statefile.FAST, error)
	WriteFAST(statefile.FAST) error
	RemoveFAST(account string) error
}

// The HT-SHA-256 mechanisms (the Hashed Token SASL mechanism,
// draft-schmaus-kitten-sasl-ht, that XEP-0484 uses) by channel binding
// type ("" for -NONE).
var htBinding = map[string]string{
	"HT-SHA-256-EXPR": cbExporter,
	"HT-SHA-256-UNIQ": cbUnique,
	"HT-SHA-256-ENDP": cbEndPoint,
	"HT-SHA-256-NONE": "",
}

// fastRenew is how long before its expiry a token is replaced: a login
// with a token this close to expiring asks for a new one at once.
const fastRenew = 24 * time.Hour

// fastPlan is what a SASL2 login does about FAST.
type fastPlan struct {
	use     string // the HT mechanism to authenticate with the stored token; "": a normal login
	request string // the HT mechanism of the token to ask for (XEP-0484 <request-token/>); "": none
	drop    bool   // the stored token can never be used: delete it
}

// chooseHT picks the HT mechanism for a new token: the strongest channel
// binding this connection and the server share (tls-exporter on TLS 1.3,
// tls-unique on TLS 1.2, where RFC 9266 §3 and RFC 5929 make them the
// defaults, then tls-server-end-point), -NONE last. fastOffered is the
// server's <fast/> mechanism list; cbOffered, have and version are as for
// chooseMechanism. "" means none is usable.
func chooseHT(fastOffered, cbOffered []string, have map[string][]byte, version uint16) string {
	order := []string{"HT-SHA-256-UNIQ", "HT-SHA-256-EXPR", "HT-SHA-256-ENDP", "HT-SHA-256-NONE"}
	if version >= tls.VersionTLS13 {
		order = []string{"HT-SHA-256-EXPR", "HT-SHA-256-ENDP", "HT-SHA-256-NONE"}
	}
	for _, m := range order {
		if htUsable(m, fastOffered, cbOffered, have) {
			return m
		}
	}
	return ""
}

// htUsable tells whether mechanism m can be used on this connection: the
// server offers it and, for a -PLUS-like variant, jab has the channel
// binding data and the server has not said (XEP-0440) it lacks the type.
func htUsable(m string, fastOffered, cbOffered []string, have map[string][]byte) bool {
	cb, known := htBinding[m]
	if !known || !slices.Contains(fastOffered, m) {
		return false
	}
	if cb == "" {
		return true
	}
	if _, ok := have[cb]; !ok {
		return false
	}
	return cbOffered == nil || slices.Contains(cbOffered, cb)
}

// planFAST decides, from the stored record (nil: none), what a SASL2 login
// does about FAST. fastOffered is nil when the server offers no FAST; then
// nothing is used, requested or dropped. noUse is set after the server
// refused the stored token on this run's first connection.
//
// XEP-0484: a token is used only with the mechanism it was issued for,
// never after its expiry; an expired one, or one whose mechanism this
// connection cannot do (say, tls-unique after the server moved to TLS
// 1.3), is dropped and a normal login asks for a new one. A token that
// expires within fastRenew is used and a replacement asked for in the same
// <authenticate/>.
func planFAST(rec *statefile.FAST, now time.Time, fastOffered, cbOffered []string, have map[string][]byte, version uint16, noUse bool) fastPlan {
	if fastOffered == nil {
		return fastPlan{}
	}
	best := chooseHT(fastOffered, cbOffered, have, version)
	if !rec.HasToken() || noUse {
		return fastPlan{request: best}
	}
	expired := !rec.Expiry.IsZero() && !now.Before(rec.Expiry)
	if expired || !htUsable(rec.Mechanism, fastOffered, cbOffered, have) {
		return fastPlan{request: best, drop: true}
	}
	p := fastPlan{use: rec.Mechanism}
	if !rec.Expiry.IsZero() && rec.Expiry.Sub(now) < fastRenew {
		p.request = best
	}
	return p
}

// htInitial is the HT-* initial response (draft-schmaus-kitten-sasl-ht):
// the user name, a NUL, and HMAC-SHA-256 keyed with the token over
// "Initiator" and the channel binding data.
func htInitial(user, token string, cbData []byte) []byte {
	return append([]byte(user+"\x00"), htHash(token, "Initiator", cbData)...)
}

// htVerify checks the server's additional data on success, HMAC-SHA-256
// keyed with the token over "Responder" and the channel binding data, so a
// server that does not hold the token cannot pretend to.
func htVerify(token string, cbData, got []byte) bool {
	return hmac.Equal(got, htHash(token, "Responder", cbData))
}

func htHash(token, label string, cbData []byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(label))
	m.Write(cbData)
	return m.Sum(nil)
}

// htChannelBinding returns the channel binding type of an HT mechanism.
func htChannelBinding(mech string) string { return htBinding[mech] }

// isHT tells an HT-* mechanism from a password one.
func isHT(mech string) bool { return strings.HasPrefix(mech, "HT-") }
