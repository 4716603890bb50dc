package session

import (
	"context"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// fakeWriter records the stanzas a Chat writes.
type fakeWriter struct{ sent []any }

func (f *fakeWriter) Send(v any) error { f.sent = append(f.sent, v); return nil }

func (f *fakeWriter) messages() []*Message {
	var out []*Message
	for _, v := range f.sent {
		if m, ok := v.(*Message); ok {
			out = append(out, m)
		}
	}
	return out
}

func (f *fakeWriter) presences() []*Presence {
	var out []*Presence
	for _, v := range f.sent {
		if p, ok := v.(*Presence); ok {
			out = append(out, p)
		}
	}
	return out
}

const chatOccupant = "room@muc.example.org/nick1"

// testChat is a Chat over a state where alice is locked to /phone in
// thread abcd1234-0000 and a MUC occupant has a conversation, online on a
// fake writer, with a clock the test moves with advance. Jobs queued for
// the writer run with runJobs.
func testChat(t *testing.T, o ChatOptions) (c *Chat, w *fakeWriter, advance func(time.Duration)) {
	t.Helper()
	store, err := statefile.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 7, 59, 0, 0, time.UTC)
	_, err = store.Update(context.Background(), func(st *statefile.State) error {
		a := st.Account("me@example.org")
		a.Conversations["alice@example.org"] = &statefile.Conversation{Peer: "alice@example.org",
			LockedTo: "alice@example.org/phone", LockKind: statefile.LockMessage, Thread: "abcd1234-0000",
			LockedAt: at, LastActivity: at}
		a.Threads["abcd1234-0000"] = &statefile.Thread{ID: "abcd1234-0000", Peer: "alice@example.org", Type: "chat"}
		a.Conversations[chatOccupant] = &statefile.Conversation{Peer: chatOccupant, Occupant: true, Thread: "occ-thread-1"}
		a.Threads["occ-thread-1"] = &statefile.Thread{ID: "occ-thread-1", Peer: chatOccupant, Type: "chat"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	env := Env{Store: store, Now: func() time.Time { return now }}
	o.Account = JID{Local: "me", Domain: "example.org"}
	if o.LockIdle == 0 {
		o.LockIdle = 15 * time.Minute
	}
	if o.Wait == 0 {
		o.Wait = time.Second
	}
	c = NewChat(context.Background(), env, o)
	w = &fakeWriter{}
	c.setWriter(w)
	return c, w, func(d time.Duration) { now = now.Add(d) }
}

// runJobs runs what the Chat queued for its writer.
func runJobs(c *Chat) {
	for {
		select {
		case f := <-c.jobs:
			f()
		default:
			return
		}
	}
}

func mustJID(t *testing.T, s string) JID {
	t.Helper()
	j, err := ParseJID(s)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestChatNoChatStatesToOccupant: a MUC occupant's conversation is keyed by
// its full JID (D-12), and no chat state ever goes to it (XEP-0085 §5.5),
// whether typing, clearing the line or by the clock.
func TestChatNoChatStatesToOccupant(t *testing.T) {
	c, w, advance := testChat(t, ChatOptions{PausedAfter: time.Second, InactiveAfter: 2 * time.Second})
	occ := mustJID(t, chatOccupant)
	c.To(occ)
	if k := c.Key(occ); k != chatOccupant {
		t.Fatalf("occupant keyed %q, want its full JID", k)
	}
	c.Typing(false)
	runJobs(c)
	advance(3 * time.Second)
	c.Tick()
	c.Typing(true)
	runJobs(c)
	if m := w.messages(); len(m) != 0 {
		t.Fatalf("chat states went to an occupant: %+v", m[0])
	}
	for key, m := range c.states {
		if m.Enabled() {
			t.Fatalf("the chat-state machine %q is on while talking to an occupant", key)
		}
	}
	if m := c.stateMessage(occ, StateComposing); m != nil {
		t.Fatalf("stateMessage built %+v for an occupant", m)
	}
}

// TestChatSentTo: after a message to a MUC occupant the conversee stays
// the occupant's full JID (D-12, item 74), while a full JID of a contact
// becomes a forced lock (D-2) and the conversee its bare JID.
func TestChatSentTo(t *testing.T) {
	c, _, _ := testChat(t, ChatOptions{})
	occ := mustJID(t, chatOccupant)
	c.To(occ)
	c.mu.Lock()
	c.sentTo(occ, c.Key(occ), false)
	c.mu.Unlock()
	if c.Peer() != occ {
		t.Fatalf("after a message to the occupant the conversee is %s, want %s", c.Peer(), occ)
	}
	if r := c.Route(occ); r != chatOccupant {
		t.Fatalf("route to the occupant %q", r)
	}
	laptop := mustJID(t, "alice@example.org/laptop")
	c.To(laptop)
	c.pending["alice@example.org"] = Pending{NewThread: true}
	c.mu.Lock()
	c.sentTo(laptop, c.Key(laptop), true)
	c.mu.Unlock()
	if c.Peer() != laptop || !c.Pending(laptop).NewThread {
		t.Fatal("a reply changed the conversee or the pending thread")
	}
	c.mu.Lock()
	c.sentTo(laptop, c.Key(laptop), false)
	c.mu.Unlock()
	if c.Peer().String() != "alice@example.org" {
		t.Fatalf("after a forced lock the conversee is %s, want the bare JID", c.Peer())
	}
	if c.Pending(laptop).NewThread {
		t.Fatal("a message left the pending thread change")
	}
}

// TestChatStateGoesWhereTheMessageGoes: a standalone state goes to the
// conversee as addressed (here a full JID the user gave, not the lock) in
// the thread the next message goes in, and with no thread when a new one
// is pending (XEP-0085 §5.6).
func TestChatStateGoesWhereTheMessageGoes(t *testing.T) {
	c, w, _ := testChat(t, ChatOptions{})
	c.To(mustJID(t, "alice@example.org/laptop"))
	c.Typing(false)
	runJobs(c)
	ms := w.messages()
	if len(ms) != 1 || ms[0].ChatState() != StateComposing {
		t.Fatalf("want one <composing/>, got %+v", ms)
	}
	if ms[0].To != "alice@example.org/laptop" || ms[0].ThreadValue() != "abcd1234-0000" {
		t.Fatalf("<composing/> to %q in thread %q, want alice@example.org/laptop in abcd1234-0000", ms[0].To, ms[0].ThreadValue())
	}
	if err := c.NewThread(); err != nil {
		t.Fatal(err)
	}
	c.Typing(true) // the line cleared: active
	runJobs(c)
	ms = w.messages()
	if len(ms) != 2 || ms[1].ChatState() != StateActive {
		t.Fatalf("want <active/> after clearing, got %+v", ms)
	}
	if ms[1].Thread != nil {
		t.Fatalf("with a new thread pending the state carries thread %q, want none", ms[1].ThreadValue())
	}
	// /fork: the next message starts a child thread, so no thread either.
	if _, err := c.Fork(); err == nil {
		t.Fatal("fork with a new thread pending: want ErrNoThread")
	}
	c.pending["alice@example.org"] = Pending{}
	if p, err := c.Fork(); err != nil || p != "abcd1234-0000" {
		t.Fatalf("Fork = %q, %v", p, err)
	}
	if m := c.stateMessage(c.Peer(), StateComposing); m.Thread != nil {
		t.Fatalf("with a fork pending the state carries thread %q", m.ThreadValue())
	}
	c.pending["alice@example.org"] = Pending{Thread: "other000-0000"}
	if m := c.stateMessage(c.Peer(), StateComposing); m.ThreadValue() != "other000-0000" {
		t.Fatalf("with /thread ID pending the state carries thread %q", m.ThreadValue())
	}
}

// TestChatReconnectResendsPresence: a new session after a lost one sends
// the user's show and status, or auto-away's show, again.
func TestChatReconnectResendsPresence(t *testing.T) {
	c, _, advance := testChat(t, ChatOptions{AutoAway: time.Second})
	c.myShow, c.myStatus = "dnd", "in a meeting"
	c.setWriter(nil)
	w2 := &fakeWriter{}
	c.setWriter(w2)
	runJobs(c)
	if ps := w2.presences(); len(ps) != 1 || ps[0].Show != "dnd" || ps[0].Status != "in a meeting" {
		t.Fatalf("after a reconnect, want dnd \"in a meeting\", got %+v", ps)
	}
	advance(2 * time.Second)
	c.Tick()
	w3 := &fakeWriter{}
	c.setWriter(nil)
	c.setWriter(w3)
	runJobs(c)
	if ps := w3.presences(); len(ps) != 1 || ps[0].Show != "away" || ps[0].Status != "in a meeting" {
		t.Fatalf("after a reconnect while auto-away, want away, got %+v", ps)
	}
	// Nothing set: Listen's own presence is the whole story.
	c2, _, _ := testChat(t, ChatOptions{})
	w4 := &fakeWriter{}
	c2.setWriter(w4)
	runJobs(c2)
	if len(w4.sent) != 0 {
		t.Fatalf("nothing to restore, yet sent %+v", w4.sent)
	}
}

// TestChatOfflineNotRecorded: offline, no chat state or auto-away presence
// is recorded as sent; online again they go out.
func TestChatOfflineNotRecorded(t *testing.T) {
	c, _, advance := testChat(t, ChatOptions{AutoAway: time.Second})
	c.To(mustJID(t, "alice@example.org"))
	c.setWriter(nil)
	c.Typing(false)
	if n := len(c.jobs); n != 0 {
		t.Fatalf("offline, a key queued %d writes", n)
	}
	advance(2 * time.Second)
	c.Tick()
	runJobs(c)
	if last := c.machine("alice@example.org").Last(); last != "" {
		t.Fatalf("offline, the machine recorded %q as sent", last)
	}
	if _, _, auto := c.Status(); auto != "" {
		t.Fatalf("offline, auto-away recorded %q as sent", auto)
	}
	w := &fakeWriter{}
	c.setWriter(w)
	c.Tick()
	runJobs(c)
	if ps := w.presences(); len(ps) != 1 || ps[0].Show != "away" {
		t.Fatalf("online again, want away, got %+v", ps)
	}
	c.Typing(false)
	runJobs(c)
	if ms := w.messages(); len(ms) != 1 || ms[0].ChatState() != StateComposing {
		t.Fatalf("online again, want <composing/>, got %+v", ms)
	}
	// Lost between the decision and the write: not recorded either.
	c.Typing(true) // <active/> decided and queued
	c.setWriter(nil)
	runJobs(c)
	if last := c.machine("alice@example.org").Last(); last != StateComposing {
		t.Fatalf("an <active/> that was not written is recorded: last %q", last)
	}
}

// TestChatPeerStateExpires: the conversee's chat state is shown for 30 s
// without a new one, or until the resource that sent it goes offline; a
// standalone state is not for printing (XEP-0085 §5.8).
func TestChatPeerStateExpires(t *testing.T) {
	changes := 0
	c, _, advance := testChat(t, ChatOptions{OnChange: func() { changes++ }})
	alice := mustJID(t, "alice@example.org")
	c.To(alice)
	composing := func(from string) Event {
		return Event{Kind: KindMessage, From: from, Type: "chat", ChatState: StateComposing, Time: c.env.Now()}
	}
	if c.Received(composing("alice@example.org/phone")) {
		t.Fatal("a standalone chat state is to be printed")
	}
	if c.PeerState(alice) != StateComposing || changes != 1 {
		t.Fatalf("peer state %q after <composing/>, %d changes", c.PeerState(alice), changes)
	}
	advance(31 * time.Second)
	if s := c.PeerState(alice); s != "" {
		t.Fatalf("a state 31 s old is still shown: %q", s)
	}
	c.Tick()
	if _, ok := c.status["alice@example.org"]; ok {
		t.Fatal("Tick left the expired state")
	}
	c.Received(composing("alice@example.org/phone"))
	c.Received(Event{Kind: KindPresence, From: "alice@example.org/laptop", Type: "unavailable", Time: c.env.Now()})
	if c.PeerState(alice) != StateComposing {
		t.Fatal("another resource going offline cleared the state")
	}
	c.Received(Event{Kind: KindPresence, From: "alice@example.org/phone", Type: "unavailable", Time: c.env.Now()})
	if s := c.PeerState(alice); s != "" {
		t.Fatalf("the state of a resource that went offline is still shown: %q", s)
	}
	if !c.Received(Event{Kind: KindMessage, From: "alice@example.org/phone", Type: "chat", Body: "hi", Time: c.env.Now()}) {
		t.Fatal("a message with a body is not to be printed")
	}
	if seen := c.Seen("alice@example.org"); len(seen) != 2 || seen[0].Resource != "laptop" || seen[1].Type != "unavailable" {
		t.Fatalf("Seen = %+v", seen)
	}
}

// TestChatResume: resuming a thread of another contact switches the
// conversee and makes the thread pending; of the same contact it does not
// switch.
func TestChatResume(t *testing.T) {
	c, _, _ := testChat(t, ChatOptions{})
	a, _ := c.Account()
	peer, switched, err := c.Resume(a.Threads["occ-thread-1"])
	if err != nil || !switched || peer.String() != chatOccupant {
		t.Fatalf("Resume = %s, %v, %v; want the occupant, switched", peer, switched, err)
	}
	if c.CurrentThread(peer) != "occ-thread-1" {
		t.Fatalf("current thread %q", c.CurrentThread(peer))
	}
	c.To(mustJID(t, "alice@example.org/phone"))
	peer, switched, err = c.Resume(a.Threads["abcd1234-0000"])
	if err != nil || switched || peer.String() != "alice@example.org" {
		t.Fatalf("Resume = %s, %v, %v; want alice's bare JID, not switched", peer, switched, err)
	}
}
