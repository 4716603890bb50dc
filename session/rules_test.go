package session

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jab-xmpp/jab/statefile"
)

// Names follow docs/PROTOCOL.md: me@example.net is us,
// alice@example.org (/phone, /laptop) the conversee.
const (
	alice  = "alice@example.org"
	phone  = "alice@example.org/phone"
	laptop = "alice@example.org/laptop"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func jid(s string) JID {
	j, err := ParseJID(s)
	if err != nil {
		panic(err)
	}
	return j
}

func lockedTo(full, thread string) statefile.Conversation {
	return statefile.Conversation{Peer: alice, LockedTo: full, LockKind: statefile.LockMessage, LockedAt: t0,
		Thread: thread, PeerThreaded: true, LastActivity: t0}
}

func chatFrom(from, thread string) Inbound {
	return Inbound{Kind: KindMessage, From: jid(from), Type: "chat", Thread: thread, Content: true,
		Time: t0.Add(time.Second), FreshThread: "fresh"}
}

func TestApplyInbound(t *testing.T) {
	unlocked := statefile.Conversation{Peer: alice, Thread: "T", PeerThreaded: true, LastActivity: t0}
	tests := []struct {
		name       string
		conv       statefile.Conversation
		exists     bool
		in         Inbound
		wantLock   string
		wantThread string
		wantStore  bool
	}{
		{"A3 chat from /phone locks", unlocked, true, chatFrom(phone, "T"), phone, "T", true},
		{"A4 first chat from /phone creates a locked conversation", statefile.Conversation{}, false, chatFrom(phone, "X"), phone, "X", true},
		{"A7 chat from the bare JID does not lock", lockedTo(phone, "T"), true, chatFrom(alice, "T"), "", "T", true},
		{"A8 normal does not lock", unlocked, true, func() Inbound { i := chatFrom(phone, "T"); i.Type = "normal"; return i }(), "", "T", true},
		{"A8 headline does not lock", unlocked, true, func() Inbound { i := chatFrom(phone, "T"); i.Type = "headline"; return i }(), "", "T", true},
		{"A8 headline from a stranger creates nothing", statefile.Conversation{}, false, func() Inbound { i := chatFrom(phone, ""); i.Type = "headline"; return i }(), "", "", false},
		{"A8 groupchat does not lock", unlocked, true, func() Inbound { i := chatFrom(phone, "T"); i.Type = "groupchat"; return i }(), "", "T", true},
		{"A9 standalone composing locks", unlocked, true, Inbound{Kind: KindMessage, From: jid(phone), Type: "chat", ChatState: "composing", Time: t0}, phone, "T", true},
		{"A10 delayed chat does not lock", unlocked, true, func() Inbound { i := chatFrom(phone, "T"); i.Delayed = true; return i }(), "", "T", true},
		{"B12 chat from /laptop re-locks", lockedTo(phone, "T"), true, chatFrom(laptop, "T"), laptop, "T", true},
		{"B14 available presence from /laptop unlocks", lockedTo(phone, "T"), true, Inbound{Kind: KindPresence, From: jid(laptop), Time: t0}, "", "T", true},
		{"B15 away from the locked /phone unlocks", lockedTo(phone, "T"), true, Inbound{Kind: KindPresence, From: jid(phone), Time: t0}, "", "T", true},
		{"B16 unavailable from /phone unlocks, F59 thread kept", lockedTo(phone, "T"), true, Inbound{Kind: KindPresence, From: jid(phone), Type: "unavailable", Time: t0}, "", "T", true},
		{"B17 unavailable from /laptop unlocks", lockedTo(phone, "T"), true, Inbound{Kind: KindPresence, From: jid(laptop), Type: "unavailable", Time: t0}, "", "T", true},
		{"B19 subscribe does not unlock", lockedTo(phone, "T"), true, Inbound{Kind: KindPresence, From: jid(phone), Type: "subscribe", Time: t0}, phone, "T", true},
		{"B19 probe does not unlock", lockedTo(phone, "T"), true, Inbound{Kind: KindPresence, From: jid(phone), Type: "probe", Time: t0}, phone, "T", true},
		{"B19 error presence unlocks", lockedTo(phone, "T"), true, Inbound{Kind: KindPresence, From: jid(phone), Type: "error", Time: t0}, "", "T", true},
		{"B20 presence of an unknown contact creates nothing", statefile.Conversation{}, false, Inbound{Kind: KindPresence, From: jid("bob@example.org/x"), Time: t0}, "", "", false},
		{"B21 after an unlock the next chat locks again", unlocked, true, chatFrom(laptop, "T"), laptop, "T", true},
		{"B22 normal from /laptop unlocks and does not lock", lockedTo(phone, "T"), true, func() Inbound { i := chatFrom(laptop, "T"); i.Type = "normal"; return i }(), "", "T", true},
		{"B22 headline from /laptop unlocks", lockedTo(phone, "T"), true, func() Inbound { i := chatFrom(laptop, ""); i.Type = "headline"; return i }(), "", "T", true},
		{"B22 normal from the locked /phone keeps the lock", lockedTo(phone, "T"), true, func() Inbound { i := chatFrom(phone, "T"); i.Type = "normal"; return i }(), phone, "T", true},
		{"B23 error from the locked JID unlocks", lockedTo(phone, "T"), true, Inbound{Kind: KindMessage, From: jid(phone), Type: "error", Time: t0}, "", "T", true},
		{"B23 error from another resource changes nothing", lockedTo(phone, "T"), true, Inbound{Kind: KindMessage, From: jid(laptop), Type: "error", Time: t0}, phone, "T", true},
		{"D-5 error never creates a conversation", statefile.Conversation{}, false, Inbound{Kind: KindMessage, From: jid(phone), Type: "error", Time: t0}, "", "", false},
		{"C25/26 gone unlocks and drops the thread", lockedTo(phone, "T"), true, Inbound{Kind: KindMessage, From: jid(phone), Type: "chat", Thread: "T", ChatState: "gone", Time: t0}, "", "", true},
		{"C40 composing from /laptop moves the lock", lockedTo(phone, "T"), true, Inbound{Kind: KindMessage, From: jid(laptop), Type: "chat", ChatState: "composing", Time: t0}, laptop, "T", true},
		{"E49 peer thread reused byte for byte", unlocked, true, chatFrom(phone, "Act2Scene2-chat1"), phone, "Act2Scene2-chat1", true},
		{"E52 case matters: abc is not ABC", lockedTo(phone, "ABC"), true, chatFrom(phone, "abc"), phone, "abc", true},
		{"F57 unknown thread becomes the conversation thread", lockedTo(phone, "T"), true, chatFrom(phone, "Z"), phone, "Z", true},
		{"F58/D-7 thread-less chat attaches to a thread the peer never echoed", statefile.Conversation{Peer: alice, Thread: "T"}, true, chatFrom(phone, ""), phone, "T", true},
		{"F58/D-7 thread-less chat after a threaded one starts a new thread", unlocked, true, chatFrom(phone, ""), phone, "fresh", true},
		{"F58 thread-less chat with no thread starts one", statefile.Conversation{}, false, chatFrom(phone, ""), phone, "fresh", true},
		{"thread-less standalone state does not start a thread", statefile.Conversation{Peer: alice}, true, Inbound{Kind: KindMessage, From: jid(phone), Type: "chat", ChatState: "composing", Time: t0, FreshThread: "fresh"}, phone, "", true},
		{"F63 /laptop with the current thread moves the lock and keeps the thread", lockedTo(phone, "T"), true, chatFrom(laptop, "T"), laptop, "T", true},
		{"F65 terminate for the current thread destroys it and unlocks", lockedTo(phone, "T"), true, func() Inbound { i := chatFrom(phone, "T"); i.Type = "normal"; i.Terminate = true; return i }(), "", "", true},
		{"F65 terminate for another thread changes nothing", lockedTo(phone, "T"), true, func() Inbound { i := chatFrom(phone, "U"); i.Type = "normal"; i.Terminate = true; return i }(), phone, "T", true},
		{"G66 unknown type is normal and does not lock", unlocked, true, func() Inbound { i := chatFrom(phone, "T"); i.Type = "bogus"; return i }(), "", "T", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, store := ApplyInbound(tt.conv, tt.exists, tt.in)
			if got.LockedTo != tt.wantLock {
				t.Errorf("locked to %q, want %q", got.LockedTo, tt.wantLock)
			}
			if got.Thread != tt.wantThread {
				t.Errorf("thread %q, want %q", got.Thread, tt.wantThread)
			}
			if store != tt.wantStore {
				t.Errorf("store = %v, want %v", store, tt.wantStore)
			}
			if got.LockedTo == "" && tt.conv.LockedTo != "" && got.UnlockReason == "" {
				t.Errorf("unlocked without a reason")
			}
		})
	}
}

func TestApplyInboundOccupant(t *testing.T) {
	// H74/H75, D-12: a MUC PM is keyed by the occupant's full JID, stays
	// addressed to it, and occupant presence never unlocks it.
	in := chatFrom("room@muc.example.org/nick1", "")
	in.Occupant = true
	c, store := ApplyInbound(statefile.Conversation{}, false, in)
	if !store || c.Peer != "room@muc.example.org/nick1" || !c.Occupant || c.LockedTo != "room@muc.example.org/nick1" {
		t.Fatalf("occupant PM conversation = %+v", c)
	}
	c2, _ := ApplyInbound(c, true, Inbound{Kind: KindPresence, From: jid("room@muc.example.org/nick1"), Type: "unavailable", Occupant: true, Time: t0})
	if c2.LockedTo != "room@muc.example.org/nick1" {
		t.Fatalf("occupant presence unlocked the PM: %+v", c2)
	}
	r := RouteOutbound(c2, true, Outbound{To: jid("room@muc.example.org/nick1"), Type: "chat", Now: t0, FreshThread: "f"})
	if r.To != "room@muc.example.org/nick1" {
		t.Fatalf("PM routed to %q", r.To)
	}
}

func TestRouteOutbound(t *testing.T) {
	idle := 15 * time.Minute
	tests := []struct {
		name       string
		conv       statefile.Conversation
		exists     bool
		out        Outbound
		wantTo     string
		wantThread string
		wantCheck  string
		wantLock   string
		wantStore  bool
	}{
		{"A1 new conversation goes to the bare JID with a new thread", statefile.Conversation{}, false,
			Outbound{To: jid(alice), Type: "chat", Now: t0, FreshThread: "new"}, alice, "new", "", "", true},
		{"A2 unlocked stays on the bare JID and keeps the thread", statefile.Conversation{Peer: alice, Thread: "T"}, true,
			Outbound{To: jid(alice), Type: "chat", Now: t0, FreshThread: "new"}, alice, "T", "", "", true},
		{"A3/A5 trusted lock goes to the full JID", lockedTo(phone, "T"), true,
			Outbound{To: jid(alice), Type: "chat", Now: t0.Add(time.Minute), LockIdle: idle, Trusted: true, FreshThread: "new"}, phone, "T", "", phone, true},
		{"D-9 untrusted lock must be checked", lockedTo(phone, "T"), true,
			Outbound{To: jid(alice), Type: "chat", Now: t0.Add(time.Minute), LockIdle: idle, FreshThread: "new"}, phone, "T", phone, phone, true},
		{"D-9 verified lock is used", lockedTo(phone, "T"), true,
			Outbound{To: jid(alice), Type: "chat", Now: t0.Add(time.Minute), LockIdle: idle, Verified: map[string]bool{phone: true}, FreshThread: "new"}, phone, "T", "", phone, true},
		{"D-9 failed check unlocks to the bare JID, thread kept", lockedTo(phone, "T"), true,
			Outbound{To: jid(alice), Type: "chat", Now: t0.Add(time.Minute), LockIdle: idle, Verified: map[string]bool{phone: false}, FreshThread: "new"}, alice, "T", "", "", true},
		{"D42 idle lock unlocks even when trusted, thread kept", lockedTo(phone, "T"), true,
			Outbound{To: jid(alice), Type: "chat", Now: t0.Add(idle), LockIdle: idle, Trusted: true, FreshThread: "new"}, alice, "T", "", "", true},
		{"D42 idle 0 disables the idle unlock", lockedTo(phone, "T"), true,
			Outbound{To: jid(alice), Type: "chat", Now: t0.Add(24 * time.Hour), Trusted: true, FreshThread: "new"}, phone, "T", "", phone, true},
		{"A11/D-2 a full JID given is used and recorded as a forced lock", statefile.Conversation{Peer: alice, Thread: "T"}, true,
			Outbound{To: jid(laptop), Type: "chat", Now: t0, FreshThread: "new"}, laptop, "T", "", laptop, true},
		{"--thread is used and becomes the conversation thread", statefile.Conversation{Peer: alice, Thread: "T"}, true,
			Outbound{To: jid(alice), Type: "chat", Thread: "given", Now: t0, FreshThread: "new"}, alice, "given", "", "", true},
		{"--new-thread starts a fresh thread", statefile.Conversation{Peer: alice, Thread: "T"}, true,
			Outbound{To: jid(alice), Type: "chat", NewThread: true, Now: t0, FreshThread: "new"}, alice, "new", "", "", true},
		{"C26 after gone (no thread) a new thread starts", statefile.Conversation{Peer: alice, UnlockReason: UnlockGone}, true,
			Outbound{To: jid(alice), Type: "chat", Now: t0, FreshThread: "new"}, alice, "new", "", "", true},
		{"E56 normal gets a new thread and no state", lockedTo(phone, "T"), true,
			Outbound{To: jid(alice), Type: "normal", Now: t0, Trusted: true, FreshThread: "new"}, alice, "new", "", phone, false},
		{"G69 normal is never sent to a remembered full JID", lockedTo(phone, "T"), true,
			Outbound{To: jid(alice), Type: "normal", Thread: "given", Now: t0, Trusted: true, FreshThread: "new"}, alice, "given", "", phone, false},
		{"G70 headline: no thread, no state", statefile.Conversation{}, false,
			Outbound{To: jid(alice), Type: "headline", Now: t0, FreshThread: "new"}, alice, "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := RouteOutbound(tt.conv, tt.exists, tt.out)
			if r.To != tt.wantTo || r.Thread != tt.wantThread || r.Check != tt.wantCheck {
				t.Errorf("route = to %q thread %q check %q, want to %q thread %q check %q",
					r.To, r.Thread, r.Check, tt.wantTo, tt.wantThread, tt.wantCheck)
			}
			if r.Conv.LockedTo != tt.wantLock {
				t.Errorf("conversation locked to %q, want %q", r.Conv.LockedTo, tt.wantLock)
			}
			if r.Store != tt.wantStore {
				t.Errorf("store = %v, want %v", r.Store, tt.wantStore)
			}
		})
	}
}

// A6: locks are per conversee; F58: a legacy peer's three thread-less
// messages and our three replies share one thread.
func TestScenarioLegacyPeer(t *testing.T) {
	var c statefile.Conversation
	exists := false
	var threads []string
	for i := 0; i < 3; i++ {
		in := chatFrom(phone, "")
		in.FreshThread = NewID()
		c, _ = ApplyInbound(c, exists, in)
		exists = true
		r := RouteOutbound(c, true, Outbound{To: jid(alice), Type: "chat", Now: t0, Trusted: true, FreshThread: NewID()})
		c = r.Conv
		threads = append(threads, r.Thread)
		if r.To != phone {
			t.Fatalf("reply %d went to %q, want %q", i, r.To, phone)
		}
	}
	if threads[0] == "" || threads[0] != threads[1] || threads[1] != threads[2] {
		t.Fatalf("replies to a legacy peer changed thread: %q", threads)
	}
}

// E50: thread ids are random version-4 UUIDs, never version 1.
func TestNewIDIsUUIDv4(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		s := NewID()
		u, err := uuid.Parse(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if u.Version() != 4 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("%q is version %d variant %v", s, u.Version(), u.Variant())
		}
		if u.String() != s {
			t.Fatalf("%q is not canonical lower-case text (E51)", s)
		}
		if seen[s] {
			t.Fatalf("duplicate id %q", s)
		}
		seen[s] = true
	}
}

func TestParseJID(t *testing.T) {
	tests := []struct {
		in, bare, full string
		ok             bool
	}{
		{"alice@example.org", "alice@example.org", "alice@example.org", true},
		{"Alice@Example.ORG/Phone", "alice@example.org", "alice@example.org/Phone", true},
		{"example.org", "example.org", "example.org", true},
		{"a@b/c/d", "a@b", "a@b/c/d", true},
		{"", "", "", false},
		{"@example.org", "", "", false},
		{"alice@", "", "", false},
		{"alice@example.org/", "", "", false},
		{"a b@example.org", "", "", false},
		{"alice@@example.org", "", "", false},
		{"alice@exa mple.org", "", "", false},
		{"alice@example.org/ph\x01one", "", "", false},
		{"al\xffice@example.org", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			j, err := ParseJID(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseJID(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if tt.ok && (j.Bare() != tt.bare || j.String() != tt.full) {
				t.Fatalf("ParseJID(%q) = %q / %q", tt.in, j.Bare(), j.String())
			}
		})
	}
}

func TestTrimThread(t *testing.T) {
	// D-8: only surrounding XML whitespace goes; nothing else changes.
	if got := TrimThread("\n    e0ffe42b28561960c6b12b944a092794b9683a38\n  "); got != "e0ffe42b28561960c6b12b944a092794b9683a38" {
		t.Fatalf("got %q", got)
	}
	if got := TrimThread(" A b "); got != "A b" {
		t.Fatalf("got %q", got)
	}
}

// D-9: a chat from the locked resource confirms the lock (LockSeen) and
// keeps LockedAt; a new lock or an unlock clears LockSeen.
func TestLockSeen(t *testing.T) {
	c, _ := ApplyInbound(lockedTo(phone, "T"), true, chatFrom(phone, "T"))
	if !c.LockedAt.Equal(t0) || !c.LockSeen.Equal(t0.Add(time.Second)) || !LockTime(c).Equal(t0.Add(time.Second)) {
		t.Fatalf("same resource again: locked_at %v lock_seen %v", c.LockedAt, c.LockSeen)
	}
	c2, _ := ApplyInbound(c, true, chatFrom(laptop, "T"))
	if c2.LockedTo != laptop || !c2.LockSeen.IsZero() || !c2.LockedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("re-lock kept the old confirmation: %+v", c2)
	}
	c3, _ := ApplyInbound(c, true, Inbound{Kind: KindPresence, From: jid(phone), Time: t0.Add(2 * time.Second)})
	if c3.LockedTo != "" || !c3.LockSeen.IsZero() {
		t.Fatalf("unlock kept lock_seen: %+v", c3)
	}
	d, _ := ApplyInbound(lockedTo(phone, "T"), true, func() Inbound { i := chatFrom(phone, "T"); i.Delayed = true; return i }())
	if !d.LockSeen.IsZero() {
		t.Fatalf("a delayed message confirmed the lock: %+v", d)
	}
}
