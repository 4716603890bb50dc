package session

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs:\ngot:  %s\nwant: %s", name, got, want)
	}
}

func TestOutgoingStanzas(t *testing.T) {
	r := Route{To: "alice@example.org/phone", Thread: "6f1c0b3e-8a7d-4f0e-9b1e-2a4c5d6e7f80"}
	m := BuildMessage(r, "chat", "", "hi <there> & 'you'", "")
	m.ID, m.OriginID.ID = "m1", "m1"
	data, err := xml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "message_chat.xml", data)
	if bytes.Count(data, []byte("<thread")) != 1 {
		t.Fatalf("E47: not exactly one <thread>: %s", data)
	}

	// Headline without a thread: no <thread/> at all (item 70).
	h := BuildMessage(Route{To: "alice@example.org"}, "headline", "news", "body", "")
	h.ID, h.OriginID.ID = "h1", "h1"
	data, _ = xml.Marshal(h)
	golden(t, "message_headline.xml", data)

	// A thread with a parent (XEP-0201 1.0 §3.3) and a chat state.
	c := &Message{To: "alice@example.org", Type: "chat", ID: "c1", Thread: &Thread{Value: "child", Parent: "parent"}}
	c.SetChatState("gone")
	data, _ = xml.Marshal(c)
	golden(t, "message_gone_parent.xml", data)

	prio := 0
	data, _ = xml.Marshal(&Presence{Priority: &prio})
	golden(t, "presence_available.xml", data)
}

func readOne(t *testing.T, stanza string) any {
	t.Helper()
	c := &Conn{dec: xml.NewDecoder(strings.NewReader("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" + stanza))}
	c.nextStart() // the stream header
	v, err := c.Read()
	if err != nil {
		t.Fatalf("read %s: %v", stanza, err)
	}
	return v
}

func TestIncomingMessage(t *testing.T) {
	m := readOne(t, `<message from='alice@example.org/phone' to='me@example.net/cli' id='x9' type='chat'>
		<body>hello</body>
		<thread parent='7edac73ab41e45c4aafa7b2d7b749080'>
			e0ffe42b28561960c6b12b944a092794b9683a38
		</thread>
		<composing xmlns='http://jabber.org/protocol/chatstates'/>
		<delay xmlns='urn:xmpp:delay' stamp='2026-11-22T10:00:00Z'/>
		<headers xmlns='http://jabber.org/protocol/shim'><header name='In-Reply-To'>asiwe8289ljfdalk</header></headers>
		<stanza-id xmlns='urn:xmpp:sid:0' id='s1' by='me@example.net'/>
	</message>`).(*Message)
	checks := []struct{ name, got, want string }{
		{"id", m.ID, "x9"},
		{"to", m.To, "me@example.net/cli"},
		{"thread (D-8 trimmed)", m.ThreadValue(), "e0ffe42b28561960c6b12b944a092794b9683a38"},
		{"parent", m.ThreadParent(), "7edac73ab41e45c4aafa7b2d7b749080"},
		{"chat state", m.ChatState(), "composing"},
		{"In-Reply-To", m.Header("In-Reply-To"), "asiwe8289ljfdalk"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !m.Delayed() {
		t.Error("delay not seen")
	}
}

func TestIncomingTerminate(t *testing.T) {
	for _, formType := range []string{"urn:xmpp:ssn", "urn:xmpp:chatneg"} {
		for _, val := range []string{"1", "true"} {
			m := readOne(t, `<message type='normal' from='alice@example.org/phone'><thread>T</thread>
				<feature xmlns='http://jabber.org/protocol/feature-neg'><x xmlns='jabber:x:data' type='submit'>
				<field var='FORM_TYPE'><value>`+formType+`</value></field>
				<field var='terminate'><value>`+val+`</value></field></x></feature></message>`).(*Message)
			if !m.IsTerminate() {
				t.Errorf("%s terminate=%s not recognised", formType, val)
			}
		}
	}
	m := readOne(t, `<message type='normal'><feature xmlns='http://jabber.org/protocol/feature-neg'><x xmlns='jabber:x:data' type='submit'>
		<field var='FORM_TYPE'><value>urn:xmpp:ssn</value></field><field var='accept'><value>1</value></field></x></feature></message>`).(*Message)
	if m.IsTerminate() {
		t.Error("an accept form was taken for a terminate")
	}
}

func TestIncomingError(t *testing.T) {
	m := readOne(t, `<message type='error' id='m1' from='nobody@example.org'><error type='cancel'>
		<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
		<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no</text></error></message>`).(*Message)
	if m.Error.Cond() != "service-unavailable" || m.ID != "m1" {
		t.Fatalf("error = %q id %q", m.Error.Cond(), m.ID)
	}
}

// RFC 5802 §5 and RFC 7677 §3 test vectors.
func TestSCRAMVectors(t *testing.T) {
	tests := []struct{ mech, nonce, serverFirst, clientFinal, serverFinal string }{
		{"SCRAM-SHA-1", "fyko+d2lbbFgONRv9qkxdawL",
			"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="},
		{"SCRAM-SHA-256", "rOprNGfwEbeRWgbNEkqO",
			"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="},
	}
	for _, tt := range tests {
		t.Run(tt.mech, func(t *testing.T) {
			s, err := newSCRAM(tt.mech, "user", "pencil", tt.nonce)
			if err != nil {
				t.Fatal(err)
			}
			if s.first() != "n,,n=user,r="+tt.nonce {
				t.Fatalf("client-first = %q", s.first())
			}
			got, err := s.final(tt.serverFirst)
			if err != nil || got != tt.clientFinal {
				t.Fatalf("client-final = %q, %v", got, err)
			}
			if err := s.verify(tt.serverFinal); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if err := s.verify("v=AAAA"); err == nil {
				t.Fatal("a wrong server signature was accepted")
			}
		})
	}
	s, _ := newSCRAM("SCRAM-SHA-1", "user", "pencil", "abc")
	if _, err := s.final("r=xyz,s=QSXCR+Q6sek8bf92,i=4096"); err == nil {
		t.Fatal("a server nonce that does not extend ours was accepted")
	}
	if _, err := s.final("r=abcd,s=QSXCR+Q6sek8bf92,i=999999999"); err == nil {
		t.Fatal("an absurd iteration count was accepted")
	}
}

// TestDialSilentServer: a server that accepts and never answers cannot hold
// Dial past the timeout.
func TestDialSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	start := time.Now()
	_, err = Dial(t.Context(), Config{JID: jid("me@example.net"), Password: "x", Server: ln.Addr().String(), Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), ErrTimeout.Error()) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Dial took %s", d)
	}
}

// FuzzRead: the stanza reader never panics on server input, and whatever
// it returns is one of the three stanza types.
func FuzzRead(f *testing.F) {
	f.Add(`<message from='a@b/c' type='chat'><body>x</body><thread parent='p'>t</thread></message>`)
	f.Add(`<presence from='a@b/c' type='unavailable'/>`)
	f.Add(`<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>`)
	f.Add(`<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`)
	f.Add(`<message><error><x/></error><feature xmlns='http://jabber.org/protocol/feature-neg'><x xmlns='jabber:x:data'><field var='FORM_TYPE'/></x></feature></message>`)
	f.Fuzz(func(t *testing.T, s string) {
		c := &Conn{dec: xml.NewDecoder(strings.NewReader("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" + s))}
		c.nextStart()
		for i := 0; i < 10; i++ {
			v, err := c.Read()
			if err != nil {
				return
			}
			switch m := v.(type) {
			case *Message:
				m.ChatState()
				m.ThreadValue()
				m.IsTerminate()
				m.Error.Cond()
			case *Presence, *IQ:
			default:
				t.Fatalf("Read returned %T", v)
			}
		}
	})
}

// TestErrorReplyWellFormed: an IQ we do not understand gets a well-formed
// error (a malformed one would make the server close our stream: any
// contact could then throw us off).
func TestErrorReplyWellFormed(t *testing.T) {
	iq := &IQ{To: "a@b/c", ID: "x1", Type: "error", Error: &StanzaError{Type: "cancel",
		Condition: []xml.Name{{Space: nsStanzas, Local: "service-unavailable"}}}}
	data, err := xml.Marshal(iq)
	if err != nil {
		t.Fatal(err)
	}
	want := `<iq to="a@b/c" id="x1" type="error"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"></service-unavailable></error></iq>`
	if string(data) != want {
		t.Fatalf("got  %s\nwant %s", data, want)
	}
	var back IQ
	if err := xml.Unmarshal(data, &back); err != nil || back.Error.Cond() != "service-unavailable" {
		t.Fatalf("round trip: %v %+v", err, back.Error)
	}
}
