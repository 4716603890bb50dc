package session

import (
	"encoding/xml"
	"strings"
	"testing"
)

// TestParseStanzas: what jab raw accepts, how it re-serialises it, and
// what it refuses before anything is sent.
func TestParseStanzas(t *testing.T) {
	ok := []struct {
		name, in string
		want     []string // the serialised stanzas
	}{
		{"message", `<message to='a@example.org' type='chat'><body>hi &amp; bye</body></message>`,
			[]string{`<message to="a@example.org" type="chat"><body>hi &amp; bye</body></message>`}},
		{"declaration and comments dropped", "<?xml version='1.0'?><!-- c --><presence/>\n<presence type='unavailable'/>",
			[]string{`<presence></presence>`, `<presence type="unavailable"></presence>`}},
		{"prefixes kept as declared", `<message xmlns:x='urn:x'><x:foo x:a='1'/></message>`,
			[]string{`<message xmlns:x="urn:x"><x:foo x:a="1"></x:foo></message>`}},
		{"jabber:client namespace", `<message xmlns='jabber:client'/>`, []string{`<message xmlns="jabber:client"></message>`}},
	}
	for _, c := range ok {
		got, err := ParseStanzas([]byte(c.in), false)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: %d stanzas, want %d", c.name, len(got), len(c.want))
			continue
		}
		for i := range got {
			if string(got[i].Data) != c.want[i] {
				t.Errorf("%s: stanza %d is %s, want %s", c.name, i, got[i].Data, c.want[i])
			}
		}
	}
	bad := []struct{ name, in, want string }{
		{"mismatched tags", `<message><body>x</message>`, "not well-formed"},
		{"crossed tags", `<message><body>x</message></body>`, "not well-formed"},
		{"unclosed", `<message to='x'>`, "not well-formed"},
		{"bad entity", `<message><body>&nope;</body></message>`, "not well-formed"},
		{"not UTF-8", "<message><body>\xff</body></message>", "not well-formed"},
		{"not a stanza", `<foo/>`, "<foo> is not a stanza"},
		{"other namespace", `<message xmlns='urn:example'/>`, `namespace "urn:example" is not a stanza`},
		{"other namespace, prefixed", `<x:message xmlns:x='urn:example'/>`, "is not a stanza"},
		{"text outside", `<presence/>trailing`, "text outside a stanza"},
		{"undeclared prefix", `<message><x:foo/></message>`, `prefix "x" is not declared`},
		{"DTD", `<!DOCTYPE x><presence/>`, "declaration is not allowed"},
		{"processing instruction", `<presence/><?pi x?>`, "processing instruction <?pi?>"},
		{"iq without type", `<iq id='1'><ping xmlns='urn:xmpp:ping'/></iq>`, "needs a type"},
		{"empty", "  \n", "no stanza"},
		{"stray end tag", `<presence/></presence>`, "not well-formed"},
	}
	for _, c := range bad {
		_, err := ParseStanzas([]byte(c.in), false)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestParseStanzasIQ: an iq without an id gets one; with waitIQ a get is
// prepared for Request, and a get with two payloads is refused (RFC 6120
// §8.2.3).
func TestParseStanzasIQ(t *testing.T) {
	got, err := ParseStanzas([]byte(`<iq type='get' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>`), true)
	if err != nil {
		t.Fatal(err)
	}
	st := got[0]
	if st.ID == "" || st.IQ == nil || st.IQ.ID != st.ID || st.IQ.To != "example.org" || st.IQ.Payload == nil ||
		st.IQ.Payload.XMLName.Local != "ping" {
		t.Fatalf("awaited iq %+v", st)
	}
	var back IQ
	if err := xml.Unmarshal(st.Data, &back); err != nil || back.ID != st.ID || back.Type != "get" {
		t.Fatalf("serialised iq %s: %v", st.Data, err)
	}
	if _, err := ParseStanzas([]byte(`<iq type='get'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>`), true); err == nil ||
		!strings.Contains(err.Error(), "exactly one payload") {
		t.Fatalf("two payloads: %v", err)
	}
}
