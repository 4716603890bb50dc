package session

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

func testEnv(t *testing.T) Env {
	t.Helper()
	st, err := statefile.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return Env{Store: st, Now: func() time.Time { return t0 }, Host: "test"}
}

// D-12, item 74: a reply to a MUC occupant uses the occupant's own
// conversation (its thread, its full JID) and never makes the bare room
// JID a conversation locked to the occupant.
func TestPlannerOccupant(t *testing.T) {
	env := testEnv(t)
	const occ = "room@muc.example.org/nick1"
	_, err := env.Store.Update(context.Background(), func(st *statefile.State) error {
		st.Account("me@example.net").Conversations[occ] = &statefile.Conversation{Peer: occ, Occupant: true,
			LockedTo: occ, LockKind: statefile.LockForced, Thread: "PM-THREAD"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlanner(env, SendOptions{Account: jid("me@example.net"), To: []JID{jid(occ)}, Type: "chat"})
	if err != nil {
		t.Fatal(err)
	}
	routes, err := p.Commit(context.Background(), "", "hi")
	if err != nil {
		t.Fatal(err)
	}
	if routes[0].To != occ || routes[0].Thread != "PM-THREAD" {
		t.Fatalf("route = to %q thread %q, want %q PM-THREAD", routes[0].To, routes[0].Thread, occ)
	}
	st, _ := env.Store.Load()
	if c := st.Accounts["me@example.net"].Conversations["room@muc.example.org"]; c != nil {
		t.Fatalf("the bare room JID became a conversation: %+v", c)
	}
}

// The planner writes nothing before Commit, and Stale sees a write by
// someone else after it.
func TestPlannerCommitAndStale(t *testing.T) {
	env := testEnv(t)
	p, err := NewPlanner(env, SendOptions{Account: jid("me@example.net"), To: []JID{jid(alice)}, Type: "chat"})
	if err != nil {
		t.Fatal(err)
	}
	if env.Store.Stat() != nil {
		t.Fatal("NewPlanner wrote the state file")
	}
	first, err := p.Commit(context.Background(), "", "hi")
	if err != nil {
		t.Fatal(err)
	}
	if p.Stale() {
		t.Fatal("stale right after our own commit")
	}
	env.Store.Update(context.Background(), func(st *statefile.State) error {
		c := st.Accounts["me@example.net"].Conversations[alice]
		c.Thread = "" // a <gone/> seen by a listen
		return nil
	})
	if !p.Stale() {
		t.Fatal("a write by someone else was not noticed")
	}
	again, err := p.Commit(context.Background(), "", "hi")
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Thread == "" || again[0].Thread == first[0].Thread {
		t.Fatalf("after the thread ended, the re-commit reused %q (first %q)", again[0].Thread, first[0].Thread)
	}
}

func TestDedup(t *testing.T) {
	d := newDedup(2)
	ev := func(from, id string) []string { return messageKeys(from, id, "", "") }
	if !d.add(ev("a@b/c", "1")) || d.add(ev("a@b/c", "1")) {
		t.Fatal("the same stanza was not recognised")
	}
	if !d.add(ev("x@y/z", "1")) {
		t.Fatal("the same id from another sender is another stanza")
	}
	if !d.add(messageKeys("a@b/c", "", "", "")) || !d.add(messageKeys("a@b/c", "", "", "")) {
		t.Fatal("stanzas without an id must never be dropped")
	}
	d.add(ev("a@b/c", "2"))
	d.add(ev("a@b/c", "3"))
	if !d.add(ev("a@b/c", "1")) {
		t.Fatal("the memory is not bounded")
	}
	// Issue 12: the archive's copy and the live copy share a stanza-id or
	// an origin-id even when one has no id.
	d = newDedup(16)
	if !d.add(messageKeys("a@b/c", "", "o1", "s1")) || d.add(messageKeys("a@b/c", "x", "", "s1")) || d.add(messageKeys("a@b/c", "", "o1", "")) {
		t.Fatal("a stanza-id or origin-id seen before was not recognised")
	}
}

// Whoever sees Events end must find Err set (the conflict check in Listen
// depends on it): done is closed before events.
func TestErrSetWhenEventsEnd(t *testing.T) {
	for i := 0; i < 200; i++ {
		a, b := net.Pipe()
		s := &Session{conn: &Conn{raw: a, dec: xml.NewDecoder(a)}, events: make(chan any, 1),
			done: make(chan struct{}), pending: map[string]chan *IQ{}}
		go s.readLoop()
		b.Close()
		for range s.Events() {
		}
		if s.Err() == nil {
			t.Fatalf("run %d: Events ended with Err() == nil", i)
		}
	}
}

// D-9 with LockSeen: a lock set before the live observer connected is
// checked with a ping, unless a message from the locked resource has
// confirmed it since the observer connected; Trust skips the check.
func TestPlannerLockSeen(t *testing.T) {
	const me, phone = "me@example.net", alice + "/phone"
	for _, c := range []struct {
		name  string
		seen  time.Time
		trust bool
		check bool
	}{
		{"locked before the observer, not seen since", time.Time{}, false, true},
		{"confirmed after the observer connected", t0.Add(-time.Minute), false, false},
		{"confirmed before the observer connected", t0.Add(-3 * time.Hour), false, true},
		{"trusted by the caller", time.Time{}, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := testEnv(t)
			env.Store.WriteObserver(statefile.Observer{Account: me, PID: os.Getpid(), Host: "test",
				ConnectedSince: t0.Add(-time.Hour), Heartbeat: t0})
			env.Store.Update(context.Background(), func(st *statefile.State) error {
				st.Account(me).Conversations[alice] = &statefile.Conversation{Peer: alice, LockedTo: phone,
					LockKind: statefile.LockMessage, LockedAt: t0.Add(-2 * time.Hour), LockSeen: c.seen, Thread: "T"}
				return nil
			})
			p, err := NewPlanner(env, SendOptions{Account: jid(me), To: []JID{jid(alice)}, Type: "chat", Trust: c.trust})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(p.Checks()) == 1; got != c.check {
				t.Fatalf("checks %v, want a ping: %v", p.Checks(), c.check)
			}
			if !c.check && p.Preview()[0].To != phone {
				t.Fatalf("route to %q, want the lock %s", p.Preview()[0].To, phone)
			}
		})
	}
}

// XEP-0184 §8: receipts go to our own account and to contacts who may see
// our presence (subscription from or both), not to strangers; roster
// pushes change that.
func TestReceiptAuth(t *testing.T) {
	var none *receiptAuth
	if none.allows("alice@example.org/phone") {
		t.Fatal("no roster allows everyone")
	}
	a := &receiptAuth{account: "me@example.net", ok: map[string]bool{}}
	a.update([]statefile.RosterItem{{JID: "alice@example.org", Subscription: "both"}, {JID: "bob@example.org", Subscription: "to"},
		{JID: "carol@example.org", Subscription: "from"}})
	for from, want := range map[string]bool{"alice@example.org/phone": true, "carol@example.org": true, "bob@example.org/pc": false,
		"eve@example.org/x": false, "me@example.net/laptop": true} {
		if got := a.allows(from); got != want {
			t.Errorf("allows(%s) = %v, want %v", from, got, want)
		}
	}
	a.update([]statefile.RosterItem{{JID: "alice@example.org", Subscription: "remove"}})
	if a.allows("alice@example.org/phone") {
		t.Error("a removed contact still gets receipts")
	}
}

// ReceiptFor: none for a message without an id, of type error or
// groupchat, or that is itself a receipt (XEP-0184 §5).
func TestReceiptFor(t *testing.T) {
	base := func() *Message {
		return &Message{From: "alice@example.org/phone", ID: "m1", Type: "chat", Body: "x", Request: &Empty{}}
	}
	if r := ReceiptFor(base()); r == nil || r.To != "alice@example.org/phone" || r.Received.ID != "m1" || r.Type != "chat" {
		t.Fatalf("receipt %+v", r)
	}
	for name, f := range map[string]func(*Message){
		"no request": func(m *Message) { m.Request = nil }, "no id": func(m *Message) { m.ID = "" },
		"error": func(m *Message) { m.Type = "error" }, "groupchat": func(m *Message) { m.Type = "groupchat" },
		"a receipt": func(m *Message) { m.Received = &ReceiptElem{ID: "z"} }, "no from": func(m *Message) { m.From = "" },
	} {
		m := base()
		f(m)
		if r := ReceiptFor(m); r != nil {
			t.Errorf("%s: got a receipt %+v", name, r)
		}
	}
}

// pipeSession is a Session over net.Pipe with a fake server on the other
// end: serve gets each ping id we send and says whether to answer it.
func pipeSession(t *testing.T, events int, serve func(id string, srv net.Conn) bool) *Session {
	t.Helper()
	a, b := net.Pipe()
	s := &Session{conn: &Conn{raw: a, dec: xml.NewDecoder(a)}, timeout: 200 * time.Millisecond,
		events: make(chan any, events), done: make(chan struct{}), pending: map[string]chan *IQ{}}
	go s.readLoop()
	go func() {
		d := xml.NewDecoder(b)
		for {
			var iq IQ
			if err := d.Decode(&iq); err != nil {
				return
			}
			if serve(iq.ID, b) {
				fmt.Fprintf(b, "<iq xmlns='jabber:client' type='result' id='%s'/>", iq.ID)
			}
		}
	}()
	t.Cleanup(func() { a.Close(); b.Close() })
	return s
}

// TestKeepalive: an answered ping, or an error answer, keeps the
// connection; an unanswered one is reported once; an answer held up
// behind our own full Events queue (bot backpressure) is not a loss.
func TestKeepalive(t *testing.T) {
	wait := func(lost <-chan error, d time.Duration) error {
		select {
		case err := <-lost:
			return err
		case <-time.After(d):
			return nil
		}
	}
	t.Run("answered", func(t *testing.T) {
		s := pipeSession(t, 4, func(string, net.Conn) bool { return true })
		if err := wait(Keepalive(context.Background(), s, 20*time.Millisecond), 600*time.Millisecond); err != nil {
			t.Fatalf("answered pings reported a loss: %v", err)
		}
	})
	t.Run("unanswered", func(t *testing.T) {
		s := pipeSession(t, 4, func(string, net.Conn) bool { return false })
		if err := wait(Keepalive(context.Background(), s, 20*time.Millisecond), 2*time.Second); err == nil {
			t.Fatal("an unanswered ping was not reported")
		}
	})
	t.Run("backlogged", func(t *testing.T) {
		// The server sends two messages first; with room for one event
		// and nobody draining Events, the reader stalls before the answer.
		s := pipeSession(t, 1, func(id string, srv net.Conn) bool {
			io.WriteString(srv, "<message xmlns='jabber:client' from='a@b/c'><body>1</body></message>"+
				"<message xmlns='jabber:client' from='a@b/c'><body>2</body></message>")
			return true
		})
		if err := wait(Keepalive(context.Background(), s, 20*time.Millisecond), 1500*time.Millisecond); err != nil {
			t.Fatalf("a ping held up by our own backlog was reported as a loss: %v", err)
		}
	})
}

// A commit that changes where messages go is written before they go; one
// that only moves the bookkeeping on (activity time, thread count) waits
// for Flush, which a send runs while the server confirms.
func TestPlannerCommitWritesRoutingFirst(t *testing.T) {
	ctx := context.Background()
	env := testEnv(t)
	now := t0
	env.Now = func() time.Time { return now }
	o := SendOptions{Account: jid("me@example.net"), To: []JID{jid(alice)}, Type: "chat"}
	load := func() (*statefile.Conversation, *statefile.Thread) {
		t.Helper()
		st, err := env.Store.Load()
		if err != nil {
			t.Fatal(err)
		}
		a := st.Account("me@example.net")
		c := a.Conversations[alice]
		if c == nil {
			return nil, nil
		}
		return c, a.Threads[c.Thread]
	}

	// A new conversation and thread: written by Commit itself.
	p, err := NewPlanner(env, o)
	if err != nil {
		t.Fatal(err)
	}
	routes, err := p.Commit(ctx, "", "first")
	if err != nil {
		t.Fatal(err)
	}
	c, th := load()
	if c == nil || th == nil || c.Thread != routes[0].Thread || th.Count != 1 {
		t.Fatalf("after the first commit: conversation %+v, thread %+v; want both written", c, th)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// The same route again: nothing written before Flush.
	now = t0.Add(time.Minute)
	p, err = NewPlanner(env, o)
	if err != nil {
		t.Fatal(err)
	}
	before := env.Store.Stat()
	again, err := p.Commit(ctx, "", "second")
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Thread != routes[0].Thread || again[0].To != alice {
		t.Fatalf("second route %+v, want the same thread to %s", again[0], alice)
	}
	if !os.SameFile(before, env.Store.Stat()) {
		t.Fatal("a commit that changes no route wrote the state file before the message")
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c, th = load()
	if !c.LastActivity.Equal(now) || th.Count != 2 || !th.Last.Equal(now) {
		t.Fatalf("after Flush: last activity %v, thread count %d last %v; want %v, 2, %v", c.LastActivity, th.Count, th.Last, now, now)
	}
	if p.Stale() {
		t.Fatal("our own Flush made the planner stale")
	}

	// A new thread (--new-thread) changes the route: written at once.
	o.NewThread = true
	p, err = NewPlanner(env, o)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := p.Commit(ctx, "", "third")
	if err != nil {
		t.Fatal(err)
	}
	if c, th := load(); c.Thread != fresh[0].Thread || th == nil || fresh[0].Thread == routes[0].Thread {
		t.Fatalf("a new thread was not written before the message: conversation thread %q, route %q", c.Thread, fresh[0].Thread)
	}
}
