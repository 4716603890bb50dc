package session

import (
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
// (channelBindings) and version its TLS version; mode is
// Config.ChannelBinding. pickBinding chooses the type.
//
// The GS2 flag follows RFC 5802 §6: "p" when a -PLUS mechanism is used;
// "y" when jab could bind this connection but the server offered no
// -PLUS mechanism (so a server that does support binding, its -PLUS
// offer stripped by an attacker, refuses the login); "n" when jab cannot
// bind, or mode is none. A server that offers -PLUS when jab could bind
// but shares no type with it is a ChannelBindingError (noCommonBinding),
// never a login without binding.
//
// PLAIN (only ever inside TLS, which Dial has required) is the last
// resort, and refused with noPlain.
func chooseMechanism(offered, cbOffered []string, have map[string][]byte, version uint16, noPlain bool, mode string) (saslChoice, error) {
	has := func(m string) bool { return slices.Contains(offered, m) }
	cbType := pickBinding(mode, cbOffered, have, version)
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
	if anyPlus && len(have) > 0 && mode != BindingNone {
		return saslChoice{}, noCommonBinding(mode, cbOffered, version)
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

func orNone(list []string) string {
	if len(list) == 0 {
		return "no mechanism"
	}
	return strings.Join(list, ", ")
}
