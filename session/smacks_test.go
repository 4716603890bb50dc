package session

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func outWith(sent, acked uint32, queue ...string) smOut {
	o := smOut{sent: sent, acked: acked}
	for _, q := range queue {
		o.queue = append(o.queue, []byte(q))
	}
	return o
}

func queueOf(o smOut) string {
	var s []string
	for _, q := range o.queue {
		s = append(s, string(q))
	}
	return strings.Join(s, ",")
}

// TestSmacksAck: XEP-0198 §4, the h of <a/>, <resumed/> and <failed/>
// against what we sent.
func TestSmacksAck(t *testing.T) {
	for _, tc := range []struct {
		name      string
		out       smOut
		h         uint32
		wantErr   bool
		wantQueue string
		wantAcked uint32
	}{
		{"acknowledges some", outWith(3, 0, "a", "b", "c"), 2, false, "c", 2},
		{"acknowledges all", outWith(3, 0, "a", "b", "c"), 3, false, "", 3},
		{"acknowledges nothing new", outWith(3, 1, "b", "c"), 1, false, "b,c", 1},
		{"beyond what was sent", outWith(3, 1, "b", "c"), 4, true, "b,c", 1},
		{"below the last h", outWith(3, 2, "c"), 1, true, "c", 2},
		{"counters wrap at 2^32", outWith(1, 1<<32-2, "x", "y", "z"), 0, false, "z", 0},
		{"the queue forgot the oldest", outWith(5, 0, "d", "e"), 4, false, "e", 4},
		{"acknowledging only forgotten ones", outWith(5, 0, "d", "e"), 2, false, "d,e", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.out
			err := o.ack(tc.h)
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrHandledTooHigh)) {
				t.Fatalf("ack(%d) = %v, want error %v", tc.h, err, tc.wantErr)
			}
			if got := queueOf(o); got != tc.wantQueue || o.acked != tc.wantAcked {
				t.Errorf("after ack(%d): queue %q acked %d, want %q and %d", tc.h, got, o.acked, tc.wantQueue, tc.wantAcked)
			}
		})
	}
}

// TestSmacksQueueBound: the unacknowledged queue keeps at most
// MaxUnacked stanzas, the newest.
func TestSmacksQueueBound(t *testing.T) {
	var o smOut
	for i := 0; i < MaxUnacked+10; i++ {
		o.push([]byte(strconv.Itoa(i)))
	}
	if len(o.queue) != MaxUnacked || string(o.queue[0]) != "10" || o.unacked() != MaxUnacked+10 {
		t.Fatalf("queue of %d from %s, unacked %d", len(o.queue), o.queue[0], o.unacked())
	}
	if err := o.ack(MaxUnacked + 10); err != nil || len(o.queue) != 0 {
		t.Fatalf("ack all: %v, %d left", err, len(o.queue))
	}
}

// TestSmacksInboundCount: h counts the handled prefix of the stream; a
// stanza queued for the consumer holds back h (and what follows it)
// until it is handled.
func TestSmacksInboundCount(t *testing.T) {
	type step struct {
		op    string // "iq" (handled at once), "msg" (queued), "done"
		wantH uint32
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"IQs only", []step{{"iq", 1}, {"iq", 2}}},
		{"a message until handled", []step{{"msg", 0}, {"done", 1}}},
		{"an IQ behind a pending message", []step{{"msg", 0}, {"iq", 0}, {"done", 2}}},
		{"two messages handled in order", []step{{"msg", 0}, {"msg", 0}, {"done", 1}, {"iq", 1}, {"done", 3}}},
		{"done with nothing pending", []step{{"done", 0}, {"iq", 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in smIn
			for i, s := range tc.steps {
				switch s.op {
				case "iq":
					in.read(false)
				case "msg":
					in.read(true)
				case "done":
					in.done()
				}
				if h := in.handled(); h != s.wantH {
					t.Fatalf("step %d (%s): h = %d, want %d", i, s.op, h, s.wantH)
				}
			}
		})
	}
}

// TestSmacksResumable: within the server's window, with a margin.
func TestSmacksResumable(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		id     string
		max    time.Duration
		lostAt time.Time
		now    time.Time
		want   bool
	}{
		{"no id", "", time.Minute, t0, t0, false},
		{"just lost", "x", 10 * time.Minute, t0, t0.Add(time.Second), true},
		{"near the end of the window", "x", 10 * time.Minute, t0, t0.Add(9*time.Minute + 30*time.Second), false},
		{"past the window", "x", 10 * time.Minute, t0, t0.Add(11 * time.Minute), false},
		{"no max given", "x", 0, t0, t0.Add(time.Hour), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resumable(tc.id, tc.max, tc.lostAt, tc.now); got != tc.want {
				t.Errorf("resumable = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSmacksParseH: h is an unsigned 32-bit integer; anything else is
// refused.
func TestSmacksParseH(t *testing.T) {
	for in, want := range map[string]bool{"0": true, "4294967295": true, "4294967296": false, "-1": false, "": false, "1e3": false, " 1": false} {
		if _, ok := parseH(in); ok != want {
			t.Errorf("parseH(%q) ok = %v, want %v", in, ok, want)
		}
	}
}

// TestSmacksResendMessagesOnly: after a refused resumption only the
// messages go out again, byte for byte (so with their ids and
// origin-ids).
func TestSmacksResendMessagesOnly(t *testing.T) {
	o := outWith(4, 0, `<message to='a@x' id='1'><origin-id xmlns='urn:xmpp:sid:0' id='o1'/><body>hi</body></message>`,
		`<presence/>`, `<iq type='get' id='p'/>`, `<message id='2'/>`)
	got := o.messages()
	if len(got) != 2 || !strings.Contains(string(got[0]), "id='o1'") || string(got[1]) != `<message id='2'/>` {
		t.Fatalf("resent %q", got)
	}
	m := NewStreamManagement()
	gen := m.attach()
	m.out = o
	m.id = "old"
	m.refused("1") // the server had the first message
	resend, had := m.fresh(gen, JID{}, true)
	if !had || len(resend) != 1 || string(resend[0]) != `<message id='2'/>` {
		t.Fatalf("after <failed h='1'/>: had %v, resend %q", had, resend)
	}
	if m.out.sent != 0 || m.in.received != 0 || m.id != "" {
		t.Errorf("the new session's counters did not start afresh: %+v %+v %q", m.out, m.in, m.id)
	}
}

// pipeConn is a Conn on one end of a pipe with stream management state;
// the test plays the server on the other end.
func pipeConn(t *testing.T, m *StreamManagement) (*Conn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	c := &Conn{raw: a, sm: m, smGen: m.attach(), timeout: 2 * time.Second}
	c.maxBytes.Store(DefaultMaxStanza)
	return c, b
}

// serverSays reads what the client writes (discarding it) and writes
// script.
func serverSays(b net.Conn, script string) {
	go io.Copy(io.Discard, b)
	go io.WriteString(b, script)
}

const fakeHeader = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>" +
	"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><sm xmlns='urn:xmpp:sm:3'/></stream:features>"

// TestResumedHandledTooHigh: a <resumed h/> acknowledging more than we
// sent is a protocol error (XEP-0198 §4): the resumption fails with a
// ResumeError, which makes the dialer bind a new session, and the
// unacknowledged stanzas are kept for it.
func TestResumedHandledTooHigh(t *testing.T) {
	m := NewStreamManagement()
	m.id, m.out = "old", outWith(2, 0, "<message id='1'/>", "<message id='2'/>")
	c, b := pipeConn(t, m)
	serverSays(b, fakeHeader+"<resumed xmlns='urn:xmpp:sm:3' h='7' previd='old'/>")
	cfg := Config{JID: JID{Local: "me", Domain: "example.org"}}
	err := c.resume(cfg, "old", 0)
	var re *ResumeError
	if !errors.As(err, &re) || !errors.Is(err, ErrHandledTooHigh) {
		t.Fatalf("resume = %v, want a ResumeError for a handled count too high", err)
	}
	if c.resumption == Resumed || m.resumes != 0 {
		t.Error("the session counts as resumed")
	}
	m.abandon()
	if _, _, ok := m.canResume(time.Now()); ok {
		t.Error("an abandoned session would be resumed again")
	}
	resend, had := m.fresh(m.gen, JID{}, true)
	if !had || len(resend) != 2 {
		t.Errorf("the new session resends %d messages (had %v), want both", len(resend), had)
	}
}

// TestResumedResends: a good <resumed h/> acknowledges what the server
// had, and the rest goes out again on the resumed stream, byte for byte.
func TestResumedResends(t *testing.T) {
	m := NewStreamManagement()
	m.id, m.jid = "old", JID{Local: "me", Domain: "example.org", Resource: "r"}
	m.out = outWith(2, 0, "<message id='1'/>", "<message id='2'/>")
	m.in = smIn{received: 5}
	c, b := pipeConn(t, m)
	got := make(chan string, 1)
	go func() {
		d := xml.NewDecoder(b)
		var seen []string
		for {
			tok, err := d.Token()
			if err != nil {
				got <- strings.Join(seen, " ")
				return
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local != "stream" {
				id := ""
				for _, a := range se.Attr {
					if a.Name.Local == "id" || a.Name.Local == "h" {
						id = a.Value
					}
				}
				seen = append(seen, se.Name.Local+id)
			}
		}
	}()
	go io.WriteString(b, fakeHeader+"<resumed xmlns='urn:xmpp:sm:3' h='1' previd='old'/>")
	if err := c.resume(Config{JID: JID{Local: "me", Domain: "example.org"}}, "old", 5); err != nil {
		t.Fatal(err)
	}
	if c.resumption != Resumed || c.jid.Resource != "r" {
		t.Fatalf("resumption %v as %s", c.resumption, c.jid)
	}
	c.raw.Close()
	if s := <-got; s != "resume5 message2 r" {
		t.Errorf("the client wrote %q, want the resume with h=5, then message 2 and an <r/>", s)
	}
}

// TestAckHandledTooHigh: an <a h/> beyond what we sent ends the stream
// with a stream error, and the session is not resumed afterwards.
func TestAckHandledTooHigh(t *testing.T) {
	m := NewStreamManagement()
	c, b := pipeConn(t, m)
	m.id, m.active, m.enabled = "old", true, true
	m.out = outWith(1, 0, "<message id='1'/>")
	c.dec = xml.NewDecoder(c.raw)
	serverSays(b, "<a xmlns='urn:xmpp:sm:3' h='3'/>")
	_, err := c.Read()
	if !errors.Is(err, ErrHandledTooHigh) {
		t.Fatalf("Read = %v, want ErrHandledTooHigh", err)
	}
	if m.resumableID() {
		t.Error("the session would be resumed after a protocol error")
	}
	if m.out.acked != 0 || len(m.out.queue) != 1 {
		t.Errorf("the bad h changed the queue: %+v", m.out)
	}
}

// TestSmacksAnswersR: the session counts what it reads and answers <r/>
// with the handled prefix: a message still with the consumer holds h
// back (and the IQ behind it), and once the consumer has handled it the
// server hears so unasked.
func TestSmacksAnswersR(t *testing.T) {
	m := NewStreamManagement()
	c, b := pipeConn(t, m)
	c.dec = xml.NewDecoder(c.raw)
	m.fresh(m.gen, JID{Local: "me", Domain: "x", Resource: "r"}, true)
	s := &Session{conn: c, timeout: 2 * time.Second, events: make(chan any, 8), done: make(chan struct{}), pending: map[string]chan *IQ{}}
	go s.readLoop()
	acks := make(chan string, 8)
	go func() {
		d := xml.NewDecoder(b)
		for {
			tok, err := d.Token()
			if err != nil {
				close(acks)
				return
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "a" {
				for _, a := range se.Attr {
					if a.Name.Local == "h" {
						acks <- a.Value
					}
				}
			}
		}
	}()
	write := func(x string) {
		if _, err := io.WriteString(b, x); err != nil {
			t.Fatal(err)
		}
	}
	next := func(want string) {
		t.Helper()
		select {
		case h := <-acks:
			if h != want {
				t.Fatalf("<a h='%s'/>, want h='%s'", h, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("no <a/>, want h='%s'", want)
		}
	}
	write("<enabled xmlns='urn:xmpp:sm:3' id='s1' resume='true' max='600'/>" +
		"<message xmlns='jabber:client' from='a@x/p' id='1'><body>one</body></message>" +
		"<iq xmlns='jabber:client' type='get' id='p1' from='x'><ping xmlns='urn:xmpp:ping'/></iq>" +
		"<r xmlns='urn:xmpp:sm:3'/>")
	next("0")
	<-s.Events()
	s.Handled()
	next("2")
	write("<r xmlns='urn:xmpp:sm:3'/>")
	next("2")
	if id, h, ok := m.canResume(time.Now()); !ok || id != "s1" || h != 2 {
		t.Errorf("canResume = %q %d %v, want s1 with h=2", id, h, ok)
	}
}

// TestResumeStreamError: a server that answers <resume/> with a stream
// error (it no longer offers stream management) gives the session up.
func TestResumeStreamError(t *testing.T) {
	m := NewStreamManagement()
	m.id = "old"
	c, b := pipeConn(t, m)
	serverSays(b, "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"+
		"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"+
		"<stream:error><unsupported-stanza-type xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>")
	err := c.resume(Config{JID: JID{Local: "me", Domain: "example.org"}}, "old", 0)
	var re *ResumeError
	if !errors.As(err, &re) {
		t.Fatalf("resume = %v, want a ResumeError", err)
	}
}

// TestSmacksAskCoalesced: stanzas written in a burst share one <r/>,
// written smAskDelay after the first of them, not one each.
func TestSmacksAskCoalesced(t *testing.T) {
	m := NewStreamManagement()
	c, b := pipeConn(t, m)
	m.fresh(m.gen, JID{Local: "me", Domain: "x", Resource: "r"}, true)
	m.enabledNow(m.gen, "s1", "true", "600")
	got := make(chan string, 1)
	go func() {
		data, _ := io.ReadAll(b)
		got <- string(data)
	}()
	for i := range 5 {
		if err := c.writeStanza([]byte(fmt.Sprintf("<message id='%d'/>", i))); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(smAskDelay + 100*time.Millisecond)
	c.raw.Close()
	out := <-got
	if n := strings.Count(out, "<r xmlns='urn:xmpp:sm:3'/>"); n != 1 || !strings.HasSuffix(out, "<r xmlns='urn:xmpp:sm:3'/>") {
		t.Fatalf("wrote %q: want the five messages, then one <r/>", out)
	}
}
