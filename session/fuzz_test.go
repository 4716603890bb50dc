package session

import (
	"encoding/base64"
	"encoding/xml"
	"strings"
	"testing"
)

// FuzzSCRAM: whatever the server sends as its first and final SCRAM
// messages, the client neither panics nor accepts a signature it did not
// compute.
func FuzzSCRAM(f *testing.F) {
	f.Add("r=abcdef,s=QSXCR+Q6sek8bf92,i=4096", "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
	f.Add("r=abc,s=,i=-1", "e=invalid-proof")
	f.Add("m=ext,r=abcd,s=QQ==,i=1", "")
	f.Fuzz(func(t *testing.T, first, final string) {
		s, err := newSCRAM("SCRAM-SHA-1", "user", "pencil", "abc")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(first, "i=") && len(first) > 200 {
			return // keep iterations of huge inputs cheap
		}
		if _, err := s.final(first); err != nil {
			return
		}
		if err := s.verify(final); err == nil && final != "v="+b64(s.serverSig) {
			t.Fatalf("accepted server-final %q", final)
		}
	})
}

// FuzzParseJID: JIDs from peers never panic the parser, and a parsed JID
// prints back to a form that parses to the same JID.
func FuzzParseJID(f *testing.F) {
	for _, s := range []string{"alice@example.org/phone", "example.org", "a@b/c/d", "@", "a@b/", "\x00@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := ParseJID(s)
		if err != nil {
			return
		}
		j2, err := ParseJID(j.String())
		if err != nil || j2 != j {
			t.Fatalf("%q -> %q -> %v, %v", s, j.String(), j2, err)
		}
	})
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// FuzzSASL2Step: whatever the server answers an XEP-0388 <authenticate/>
// with, reading it never panics, and only a <success/> counts as one.
func FuzzSASL2Step(f *testing.F) {
	f.Add("<success xmlns='urn:xmpp:sasl:2'><additional-data>dj1hYmM=</additional-data><token xmlns='urn:xmpp:fast:0' token='t' expiry='2026-01-01T00:00:00Z'/></success>")
	f.Add("<failure xmlns='urn:xmpp:sasl:2'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><text>x</text></failure>")
	f.Add("<challenge xmlns='urn:xmpp:sasl:2'>cj14</challenge>")
	f.Add("<continue xmlns='urn:xmpp:sasl:2'/>")
	f.Add("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
	f.Fuzz(func(t *testing.T, in string) {
		c := &Conn{}
		c.dec = xml.NewDecoder(strings.NewReader(in))
		w := &sasl2{c: c}
		_, err := w.step()
		if err == errSuccess && w.success == nil {
			t.Fatalf("success without a <success/> element from %q", in)
		}
	})
}

// FuzzUnwrapCarbon: whatever a carbon holds, unwrapping never panics and
// never accepts a copy whose wrapper is not from our bare JID (item 79),
// a sent copy not from one of our full JIDs (item 82), or a nested one.
func FuzzUnwrapCarbon(f *testing.F) {
	const me = "me@example.net"
	f.Add(`<message from='me@example.net'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@example.org/phone' to='me@example.net/tablet' type='chat'><body>hi</body></message></forwarded></received></message>`)
	f.Add(`<message from='me@example.net'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='me@example.net/tablet' to='alice@example.org' type='chat'><body>hi</body></message></forwarded></sent></message>`)
	f.Add(`<message from='tybalt@capulet.example/home'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='romeo@montague.example' to='me@example.net'/></forwarded></received></message>`)
	f.Fuzz(func(t *testing.T, x string) {
		var m Message
		if xml.Unmarshal([]byte(x), &m) != nil {
			return
		}
		u := UnwrapCarbon(&m, me, "", nil)
		if u.Drop != "" || u.Dir == "" {
			return
		}
		if m.From != "" && m.From != me {
			t.Fatalf("accepted a wrapper from %q", m.From)
		}
		if u.Msg.CarbonReceived != nil || u.Msg.CarbonSent != nil || u.Msg.MAMResult != nil {
			t.Fatal("accepted a nested carbon")
		}
		if u.Dir == CarbonSent {
			if from, err := ParseJID(u.Msg.From); err != nil || from.Bare() != me || !from.IsFull() {
				t.Fatalf("accepted a sent carbon from %q", u.Msg.From)
			}
		}
	})
}

// FuzzAcceptResult: an archive result is accepted only from our own
// account and for the open query (item 87), and reading a <fin/> never
// panics.
func FuzzAcceptResult(f *testing.F) {
	const me = "me@example.net"
	f.Add(`<message><result xmlns='urn:xmpp:mam:2' queryid='q1' id='a1'><forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2026-01-02T03:04:05Z'/><message xmlns='jabber:client' from='alice@example.org/phone'><body>hi</body></message></forwarded></result></message>`,
		`<fin xmlns='urn:xmpp:mam:2' complete='true'><set xmlns='http://jabber.org/protocol/rsm'><last>a1</last><count>1</count></set></fin>`)
	f.Add(`<message from='alice@example.org'><result xmlns='urn:xmpp:mam:2' queryid='q1' id='a1'/></message>`, `<fin xmlns='urn:xmpp:mam:2'/>`)
	f.Fuzz(func(t *testing.T, x, finXML string) {
		var m Message
		if xml.Unmarshal([]byte(x), &m) == nil {
			inner, id, _, drop := AcceptResult(&m, me, "q1")
			if drop == "" && (inner == nil || id == "" || m.MAMResult.QueryID != "q1" || (m.From != "" && m.From != me)) {
				t.Fatalf("accepted %q", x)
			}
		}
		var iq IQ
		if xml.Unmarshal([]byte("<iq>"+finXML+"</iq>"), &iq) == nil {
			ParseFin(&iq)
		}
	})
}
