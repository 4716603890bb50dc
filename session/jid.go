package session

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// JID is a parsed Jabber ID. Local and Domain are lower-cased (a simple
// case fold standing in for the PRECIS profiles); Resource is kept as given,
// because resources compare case-sensitively (RFC 7622 §3.4).
type JID struct {
	Local    string
	Domain   string
	Resource string
}

// ParseJID parses and checks local@domain/resource. The local part and the
// resource are optional.
func ParseJID(s string) (JID, error) {
	if s == "" {
		return JID{}, fmt.Errorf("malformed JID %q: empty", s)
	}
	if !utf8.ValidString(s) {
		return JID{}, fmt.Errorf("malformed JID %q: not UTF-8", s)
	}
	var j JID
	rest := s
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		j.Resource = rest[i+1:]
		rest = rest[:i]
		if j.Resource == "" {
			return JID{}, fmt.Errorf("malformed JID %q: empty resource after '/'", s)
		}
	}
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		j.Local = rest[:i]
		rest = rest[i+1:]
		if j.Local == "" {
			return JID{}, fmt.Errorf("malformed JID %q: empty local part before '@'", s)
		}
	}
	j.Domain = strings.TrimSuffix(rest, ".")
	if j.Domain == "" {
		return JID{}, fmt.Errorf("malformed JID %q: no domain", s)
	}
	// RFC 7622 §3.2: one final dot is dropped; any other empty label
	// (found by make fuzz-long: "0.." became "0.", then "0") is an error.
	if strings.HasPrefix(j.Domain, ".") || strings.HasSuffix(j.Domain, ".") || strings.Contains(j.Domain, "..") {
		return JID{}, fmt.Errorf("malformed JID %q: empty label in the domain", s)
	}
	for _, r := range j.Local {
		if strings.ContainsRune("\"&'/:<>@", r) || unicode.IsSpace(r) || unicode.IsControl(r) {
			return JID{}, fmt.Errorf("malformed JID %q: %q is not allowed in the local part", s, r)
		}
	}
	for _, r := range j.Domain {
		if strings.ContainsRune("\"&'/:<>@[]\\", r) || unicode.IsSpace(r) || unicode.IsControl(r) {
			return JID{}, fmt.Errorf("malformed JID %q: %q is not allowed in the domain", s, r)
		}
	}
	for _, r := range j.Resource {
		if unicode.IsControl(r) {
			return JID{}, fmt.Errorf("malformed JID %q: control character in the resource", s)
		}
	}
	if len(j.Local) > 1023 || len(j.Domain) > 1023 || len(j.Resource) > 1023 {
		return JID{}, fmt.Errorf("malformed JID %q: a part is longer than 1023 bytes", s)
	}
	j.Local = strings.ToLower(j.Local)
	j.Domain = strings.ToLower(j.Domain)
	return j, nil
}

// Bare returns local@domain.
func (j JID) Bare() string {
	if j.Local == "" {
		return j.Domain
	}
	return j.Local + "@" + j.Domain
}

// String returns the full form.
func (j JID) String() string {
	if j.Resource == "" {
		return j.Bare()
	}
	return j.Bare() + "/" + j.Resource
}

// IsFull reports whether the JID has a resource.
func (j JID) IsFull() bool { return j.Resource != "" }

// BareOf returns the bare form of a JID string, or the string itself when
// it does not parse (remote input is never trusted to be well-formed).
func BareOf(s string) string {
	j, err := ParseJID(s)
	if err != nil {
		return s
	}
	return j.Bare()
}
