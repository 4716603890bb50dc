package peer

import (
	"slices"
	"strings"
	"testing"
)

// A stream as Prosody sends it to a client, from the first header to the
// close, with the awkward parts a stanza may hold.
var stream = []string{
	`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' version='1.0'>`,
	`<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>`,
	`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`,
	`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s2' version='1.0'>`,
	`<message to='a@x/r' id='1' type='chat'><body>a &lt;b&gt; "c" 'd' ></body><thread parent='p>q'>t</thread></message>`,
	"\n",
	`<presence from="b@x/r" id='2'/>`,
	`<message id='3'><body><![CDATA[</message><x/>]]></body><!-- </message> --><message-like/></message>`,
	`<iq type='result' id='4'><query xmlns='jabber:iq:roster'><item jid='c@x'/></query></iq>`,
	`</stream:stream>`,
}

var stanzas = []string{stream[1], stream[2], stream[4], stream[6], stream[7], stream[8]}

func TestSplitterWhole(t *testing.T) {
	var s splitter
	got := strs(s.feed([]byte(strings.Join(stream, ""))))
	if !slices.Equal(got, stanzas) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(stanzas, "\n"))
	}
}

// Reads end anywhere: a stanza split at every byte comes out whole.
func TestSplitterByteAtATime(t *testing.T) {
	var s splitter
	var got []string
	for _, b := range []byte(strings.Join(stream, "")) {
		got = append(got, strs(s.feed([]byte{b}))...)
	}
	if !slices.Equal(got, stanzas) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(stanzas, "\n"))
	}
	if len(s.buf) != 0 {
		t.Fatalf("%d bytes kept after the stream closed", len(s.buf))
	}
}

func TestTapMatches(t *testing.T) {
	var w tap
	w.Write([]byte("RECV " + stream[3] + "\n")) // before start: ignored
	w.start()
	w.Write([]byte("SEND <message id='x'/>\n"))
	w.Write([]byte("RECV " + stream[8] + stream[4][:20] + "\n"))
	w.Write([]byte("RECV " + stream[4][20:] + stream[6] + "\n"))
	if raw := w.take("message", stanzaKey{id: "1", to: "a@x/r", typ: "chat"}); string(raw) != stream[4] {
		t.Fatalf("take message 1 = %q", raw)
	}
	if raw := w.take("message", stanzaKey{id: "2", from: "b@x/r"}); raw != nil {
		t.Fatalf("a presence matched a message: %q", raw)
	}
	if raw := w.take("presence", stanzaKey{id: "2", from: "b@x/r"}); string(raw) != stream[6] {
		t.Fatalf("take presence 2 = %q", raw)
	}
	if len(w.queue) != 0 {
		t.Fatalf("queue left: %q", w.queue)
	}
}

func strs(bs [][]byte) []string {
	var out []string
	for _, b := range bs {
		out = append(out, string(b))
	}
	return out
}
