package session

import (
	"crypto/tls"
	"slices"
	"strings"
)

// saslChoice is the mechanism jab uses and, for SCRAM, the GS2 header
// (RFC 5802 §7) and channel binding type.
type saslChoice struct {
	mech   string
	gs2    string // "n,,", "y,," or "p=TYPE,,"; "" for PLAIN
	cbType string // "" unless a -PLUS mechanism
}

// scramPreference is strongest first. A -PLUS variant is preferred over
// any variant without channel binding: a server that offers -PLUS and
// supports binding must refuse a client that does not use it ("y",
// RFC 5802 §6), so a weaker hash with binding beats a stronger one
// without.
var scramPreference = []string{"SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1"}

// chooseMechanism picks the SASL mechanism for the offered ones.
//
// cbOffered is the server's list of channel binding types (XEP-0440), nil
// when it advertised none; have is what this TLS connection can provide
// (channelBindings) and version its TLS version. Without XEP-0440 the
// type is the one each specification makes the default: tls-unique for
// TLS 1.2 (RFC 5802 §6.1, which Prosody 0.12 implements) and tls-exporter
// for TLS 1.3 (RFC 9266 §3).
//
// The GS2 flag follows RFC 5802 §6: "p" when a -PLUS mechanism is used;
// "y" when jab could bind this connection but the server offered no
// -PLUS mechanism (so a server that does support binding, its -PLUS
// offer stripped by an attacker, refuses the login); "n" when jab cannot
// bind (no type in common with the server).
//
// PLAIN (only ever inside TLS, which Dial has required) is the last
// resort, and refused with noPlain.
func chooseMechanism(offered, cbOffered []string, have map[string][]byte, version uint16, noPlain bool) (saslChoice, error) {
	has := func(m string) bool { return slices.Contains(offered, m) }
	cbType := pickBinding(cbOffered, have, version)
	anyPlus := false
	for _, m := range offered {
		if strings.HasPrefix(m, "SCRAM-") && strings.HasSuffix(m, "-PLUS") {
			anyPlus = true
		}
	}
	if cbType != "" {
		for _, m := range scramPreference {
			if has(m + "-PLUS") {
				return saslChoice{mech: m + "-PLUS", gs2: "p=" + cbType + ",,", cbType: cbType}, nil
			}
		}
	}
	gs2 := "n,,"
	if len(have) > 0 && !anyPlus {
		gs2 = "y,,"
	}
	for _, m := range scramPreference {
		if has(m) {
			return saslChoice{mech: m, gs2: gs2}, nil
		}
	}
	if has("PLAIN") {
		if noPlain {
			return saslChoice{}, &AuthError{Condition: "no-usable-mechanism",
				Text: "PLAIN is refused (no-plain); the server offers " + strings.Join(offered, ", ")}
		}
		return saslChoice{mech: "PLAIN"}, nil
	}
	return saslChoice{}, &AuthError{Condition: "no-usable-mechanism", Text: "the server offers " + orNone(offered)}
}

// pickBinding returns the channel binding type to use, or "".
func pickBinding(cbOffered []string, have map[string][]byte, version uint16) string {
	if cbOffered != nil {
		for _, t := range cbPreference {
			if _, ok := have[t]; ok && slices.Contains(cbOffered, t) {
				return t
			}
		}
		return ""
	}
	def := cbUnique
	if version >= tls.VersionTLS13 {
		def = cbExporter
	}
	if _, ok := have[def]; ok {
		return def
	}
	return ""
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "no mechanism"
	}
	return strings.Join(list, ", ")
}
