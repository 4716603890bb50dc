// Package peer is the other side of jab's integration tests: a contact's
// XMPP client (one connection per resource) that records exactly what the
// server delivered to it, so tests assert on what the peer received.
//
// It logs in and decodes with package session, jab's own code. An
// encoding bug that both sides share would pass unseen in the decoded
// stanzas, so the peer also keeps each stanza's raw XML, cut from the
// bytes its connection read by a scanner of its own (RawOf): tests where
// the wire format is the point parse that with encoding/xml alone.
package peer

import (
	"context"
	"crypto/x509"
	"encoding/xml"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
)

// Server is what a peer needs to know of the test server.
type Server struct {
	Addr   string
	Domain string
	CAFile string
}

// Peer is one logged-in resource.
type Peer struct {
	JID string // full JID bound
	s   *session.Session

	tap   tap
	mu    sync.Mutex
	cond  *sync.Cond
	got   []any          // *session.Message, *session.Presence (and *session.IQ when silent), in arrival order
	raw   map[any][]byte // the raw XML of each entry of got
	ended bool
}

// Connect logs in user@domain/resource. It sends no presence: call
// Available when the test wants the resource to be online for bare-JID
// messages.
func Connect(t testing.TB, srv Server, user, password, resource string) *Peer {
	t.Helper()
	return connect(t, srv, user, password, resource, false)
}

// ConnectSilent is Connect for a client that never answers IQ requests,
// so a ping to it times out: it tells whether jab pinged at all. The IQs
// it gets are recorded (IQs).
func ConnectSilent(t testing.TB, srv Server, user, password, resource string) *Peer {
	t.Helper()
	return connect(t, srv, user, password, resource, true)
}

func connect(t testing.TB, srv Server, user, password, resource string, silent bool) *Peer {
	t.Helper()
	pem, err := os.ReadFile(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	j, err := session.ParseJID(user + "@" + srv.Domain)
	if err != nil {
		t.Fatal(err)
	}
	p := &Peer{raw: map[any][]byte{}}
	p.cond = sync.NewCond(&p.mu)
	s, err := session.OpenHandler(context.Background(), session.Config{JID: j, Password: password, Server: srv.Addr,
		ExtraCAs: pool, Resource: resource, Timeout: 10 * time.Second, Debug: &p.tap,
		HandleIQ: func(iq *session.IQ) bool {
			if silent {
				// A client that never answers: the request is recorded
				// for the test to see what was asked.
				p.record(iq)
			}
			return silent
		}}, p.record)
	if err != nil {
		t.Fatalf("peer %s/%s: %v", user, resource, err)
	}
	p.tap.start()
	p.s = s
	p.JID = s.JID().String()
	go func() {
		<-s.Done()
		p.mu.Lock()
		p.ended = true
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	t.Cleanup(func() { p.Close() })
	return p
}

// record runs in the session's reader, after the reads that carried v's
// bytes, so the tap holds v's raw XML by now.
func (p *Peer) record(v any) {
	var raw []byte
	switch x := v.(type) {
	case *session.Message:
		raw = p.tap.take("message", stanzaKey{x.ID, x.From, x.To, x.Type})
	case *session.Presence:
		raw = p.tap.take("presence", stanzaKey{x.ID, x.From, x.To, x.Type})
	case *session.IQ:
		raw = p.tap.take("iq", stanzaKey{x.ID, x.From, x.To, x.Type})
	}
	p.mu.Lock()
	p.got = append(p.got, v)
	if raw != nil {
		p.raw[v] = raw
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Close ends the stream (the server then broadcasts unavailable presence).
func (p *Peer) Close() {
	if p.s != nil {
		p.s.Close()
	}
}

// Kill drops the TCP connection without closing the stream.
func (p *Peer) Kill() { p.s.Conn().Close() }

// Raw sends serialised XML as is.
func (p *Peer) Raw(t testing.TB, x string) {
	t.Helper()
	if err := p.s.Conn().SendRaw([]byte(x)); err != nil {
		t.Fatalf("peer %s: send: %v", p.JID, err)
	}
}

// Send sends a stanza struct.
func (p *Peer) Send(t testing.TB, v any) {
	t.Helper()
	if err := p.s.Conn().Send(v); err != nil {
		t.Fatalf("peer %s: send: %v", p.JID, err)
	}
}

// Chat sends a chat message with an optional thread ("" for none).
func (p *Peer) Chat(t testing.TB, to, body, thread string) {
	t.Helper()
	m := &session.Message{To: to, Type: "chat", ID: session.NewID(), Body: body}
	if thread != "" {
		m.Thread = &session.Thread{Value: thread}
	}
	p.Send(t, m)
}

// Available broadcasts available presence with priority 0 and waits until
// the server has processed it.
func (p *Peer) Available(t testing.TB) {
	t.Helper()
	prio := 0
	p.Send(t, &session.Presence{Priority: &prio})
	p.Sync(t)
}

// Presence sends a presence stanza; to "" broadcasts.
func (p *Peer) Presence(t testing.TB, to, typ, show string) {
	t.Helper()
	p.Send(t, &session.Presence{To: to, Type: typ, Show: show})
}

// Sync makes a round trip to the server, so everything sent before has
// been routed.
func (p *Peer) Sync(t testing.TB) {
	t.Helper()
	if err := p.s.Ping(context.Background(), ""); err != nil {
		t.Fatalf("peer %s: ping server: %v", p.JID, err)
	}
}

// WaitMessage waits for a message matching match and returns it.
func (p *Peer) WaitMessage(t testing.TB, timeout time.Duration, match func(*session.Message) bool) *session.Message {
	t.Helper()
	v := p.wait(timeout, func(v any) bool {
		m, ok := v.(*session.Message)
		return ok && match(m)
	})
	if v == nil {
		t.Fatalf("peer %s: no matching message within %s; got:\n%s", p.JID, timeout, p.Dump())
	}
	return v.(*session.Message)
}

// WaitBody waits for a message with the given body.
func (p *Peer) WaitBody(t testing.TB, body string) *session.Message {
	t.Helper()
	return p.WaitMessage(t, 10*time.Second, func(m *session.Message) bool { return m.Body == body })
}

// NoMessage asserts no matching message arrives within d.
func (p *Peer) NoMessage(t testing.TB, d time.Duration, match func(*session.Message) bool) {
	t.Helper()
	v := p.wait(d, func(v any) bool {
		m, ok := v.(*session.Message)
		return ok && match(m)
	})
	if v != nil {
		t.Fatalf("peer %s: unexpected message %s", p.JID, p.describe(v))
	}
}

// WaitPresence waits for a presence matching match.
func (p *Peer) WaitPresence(t testing.TB, timeout time.Duration, match func(*session.Presence) bool) *session.Presence {
	t.Helper()
	v := p.wait(timeout, func(v any) bool {
		pr, ok := v.(*session.Presence)
		return ok && match(pr)
	})
	if v == nil {
		t.Fatalf("peer %s: no matching presence within %s; got:\n%s", p.JID, timeout, p.Dump())
	}
	return v.(*session.Presence)
}

// Received returns a copy of everything received so far.
func (p *Peer) Received() []any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]any(nil), p.got...)
}

// IQs returns the IQ requests a silent peer received so far.
func (p *Peer) IQs() []*session.IQ {
	var out []*session.IQ
	for _, v := range p.Received() {
		if iq, ok := v.(*session.IQ); ok {
			out = append(out, iq)
		}
	}
	return out
}

// Messages returns the messages received so far.
func (p *Peer) Messages() []*session.Message {
	var out []*session.Message
	for _, v := range p.Received() {
		if m, ok := v.(*session.Message); ok {
			out = append(out, m)
		}
	}
	return out
}

func (p *Peer) wait(timeout time.Duration, match func(any) bool) any {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := 0
	for {
		for ; seen < len(p.got); seen++ {
			if match(p.got[seen]) {
				return p.got[seen]
			}
		}
		if p.ended || !time.Now().Before(deadline) {
			return nil
		}
		p.cond.Wait()
	}
}

// RawOf returns the XML of a stanza this peer received (v as returned by
// WaitMessage, Messages, Received and the like) exactly as its connection
// read it, not re-encoded by package session.
func (p *Peer) RawOf(t testing.TB, v any) []byte {
	t.Helper()
	p.mu.Lock()
	raw, ok := p.raw[v]
	p.mu.Unlock()
	if !ok {
		t.Fatalf("peer %s: no raw XML recorded for %s", p.JID, p.describe(v))
	}
	return raw
}

// Dump renders everything received, for failure messages.
func (p *Peer) Dump() string {
	var b strings.Builder
	for _, v := range p.Received() {
		b.WriteString("  " + p.describe(v) + "\n")
	}
	return b.String()
}

// describe shows a received stanza as it arrived, or re-encoded when its
// raw XML was not kept.
func (p *Peer) describe(v any) string {
	p.mu.Lock()
	raw, ok := p.raw[v]
	p.mu.Unlock()
	if ok {
		return string(raw)
	}
	data, err := xml.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(data)
}

// Request sends an IQ and returns the answer (an error answer too).
func (p *Peer) Request(t testing.TB, iq *session.IQ) *session.IQ {
	t.Helper()
	r, err := p.s.Request(context.Background(), iq)
	if err != nil && r == nil {
		t.Fatalf("peer %s: IQ to %s: %v", p.JID, iq.To, err)
	}
	return r
}
