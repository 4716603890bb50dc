package session

import (
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// carbon builds a carbon wrapper from from around an inner message.
func carbon(from, dir, inner string) string {
	f := ""
	if from != "" {
		f = " from='" + from + "'"
	}
	return "<message xmlns='jabber:client' to='" + me + "/cli'" + f + "><" + dir + " xmlns='urn:xmpp:carbons:2'>" +
		"<forwarded xmlns='urn:xmpp:forward:0'>" + inner + "</forwarded></" + dir + "></message>"
}

func innerChat(from, to, extra string) string {
	return "<message xmlns='jabber:client' type='chat' from='" + from + "' to='" + to + "'><body>hi</body>" + extra + "</message>"
}

// TestUnwrapCarbon: items 79, 82, 85 and the nested shapes; the
// Tybalt wrapper is XEP-0280 §11's example.
func TestUnwrapCarbon(t *testing.T) {
	joined := func(room string) bool { return room == "joined@muc.example.net" }
	muc := "<x xmlns='http://jabber.org/protocol/muc#user'/>"
	for _, c := range []struct {
		name, xml string
		dir       string // "" with drop false: a plain message
		drop      bool
	}{
		{"plain message", innerChat("alice@example.org/phone", me, ""), "", false},
		{"received, from our bare JID", carbon(me, "received", innerChat("alice@example.org/phone", me+"/tablet", "")), CarbonReceived, false},
		{"received, no wrapper from (our account, D-14)", carbon("", "received", innerChat("alice@example.org/phone", me+"/tablet", "")), CarbonReceived, false},
		{"sent, from our tablet", carbon(me, "sent", innerChat(me+"/tablet", "alice@example.org/laptop", "")), CarbonSent, false},
		{"item 79: Tybalt's wrapper", carbon("tybalt@capulet.example/home", "received", innerChat("romeo@montague.example/orchard", me, "")), "", true},
		{"item 79: a contact's bare JID", carbon("alice@example.org", "received", innerChat("alice@example.org/phone", me, "")), "", true},
		{"item 79: one of our full JIDs", carbon(me+"/tablet", "sent", innerChat(me+"/tablet", "alice@example.org", "")), "", true},
		{"item 79: our JID in another case is not exact", carbon("ME@example.net", "received", innerChat("alice@example.org/phone", me, "")), "", true},
		{"item 82: sent, inner from a contact", carbon(me, "sent", innerChat("alice@example.org/laptop", "alice@example.org/phone", "")), "", true},
		{"item 82: sent, inner from our bare JID", carbon(me, "sent", innerChat(me, "alice@example.org", "")), "", true},
		{"sent by this jab (its observer resource)", carbon(me, "sent", innerChat(me+"/jab-1", "alice@example.org/laptop", "")), "", true},
		{"sent by this jab (a one-shot resource)", carbon(me, "sent", innerChat(me+"/jab-1-x7y", "alice@example.org/laptop", "")), "", true},
		{"sent by another jab-like resource", carbon(me, "sent", innerChat(me+"/jab-10", "alice@example.org/laptop", "")), CarbonSent, false},
		{"sent, to our own account", carbon(me, "sent", innerChat(me+"/tablet", me+"/cli", "")), "", true},
		{"received, to someone else", carbon(me, "received", innerChat("alice@example.org/phone", "bob@example.org", "")), "", true},
		{"received, no inner from", carbon(me, "received", "<message xmlns='jabber:client' type='chat' to='"+me+"'><body>x</body></message>"), "", true},
		{"nested: received in received", carbon(me, "received", innerChat("alice@example.org/phone", me, "<received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>"+innerChat("bob@example.org/x", me, "")+"</forwarded></received>")), "", true},
		{"nested: sent in received", carbon(me, "received", innerChat("alice@example.org/phone", me, "<sent xmlns='urn:xmpp:carbons:2'/>")), "", true},
		{"both received and sent", "<message from='" + me + "'><received xmlns='urn:xmpp:carbons:2'/><sent xmlns='urn:xmpp:carbons:2'/></message>", "", true},
		{"no forwarded message", "<message from='" + me + "'><received xmlns='urn:xmpp:carbons:2'/></message>", "", true},
		{"forwarded element of another namespace", "<message from='" + me + "'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:other'>" + innerChat("alice@example.org/phone", me, "") + "</forwarded></received></message>", "", true},
		{"groupchat", carbon(me, "received", "<message xmlns='jabber:client' type='groupchat' from='room@muc.example.net/n' to='"+me+"'><body>x</body></message>"), "", true},
		{"item 85: PM of a room not joined", carbon(me, "received", innerChat("room@muc.example.net/nick", me, muc)), "", true},
		{"item 85: PM of a joined room", carbon(me, "received", innerChat("joined@muc.example.net/nick", me, muc)), CarbonReceived, false},
		{"item 85: sent PM to a room not joined", carbon(me, "sent", innerChat(me+"/tablet", "room@muc.example.net/nick", muc)), "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := decodeMessage(t, c.xml)
			u := UnwrapCarbon(m, me, "jab-1", joined)
			if (u.Drop != "") != c.drop || u.Dir != c.dir {
				t.Fatalf("dir %q drop %q; want dir %q drop %v", u.Dir, u.Drop, c.dir, c.drop)
			}
			if !c.drop && (u.Msg == nil || u.Msg.Body == "") {
				t.Fatalf("no inner message: %+v", u)
			}
			if c.drop && u.Msg != nil {
				t.Fatal("a dropped carbon still gives a message")
			}
		})
	}
}

// TestApplySent: items 82, 83 and D-14 for what our other device sent.
func TestApplySent(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	laptop, _ := ParseJID("alice@example.org/laptop")
	bare, _ := ParseJID("alice@example.org")
	locked := statefile.Conversation{Peer: "alice@example.org", LockedTo: "alice@example.org/phone", LockKind: statefile.LockMessage,
		Thread: "t1", PeerThreaded: true}
	for _, c := range []struct {
		name   string
		c      statefile.Conversation
		exists bool
		s      SentCarbon
		want   func(statefile.Conversation) bool
		store  bool
	}{
		{"a full JID locks there, its thread adopted", locked, true,
			SentCarbon{To: laptop, Type: "chat", Thread: "t2", Content: true, Time: now},
			func(c statefile.Conversation) bool {
				return c.LockedTo == laptop.String() && c.LockKind == statefile.LockForced && c.Thread == "t2" && !c.PeerThreaded
			}, true},
		{"a bare JID unlocks", locked, true,
			SentCarbon{To: bare, Type: "chat", Content: true, Time: now},
			func(c statefile.Conversation) bool {
				return c.LockedTo == "" && c.UnlockReason == UnlockCarbon && c.Thread == "t1"
			}, true},
		{"a new conversation", statefile.Conversation{}, false,
			SentCarbon{To: laptop, Type: "chat", Thread: "t3", Content: true, Time: now},
			func(c statefile.Conversation) bool {
				return c.Peer == "alice@example.org" && c.LockedTo == laptop.String() && c.Thread == "t3"
			}, true},
		{"item 83: gone unlocks and ends the thread", locked, true,
			SentCarbon{To: laptop, Type: "chat", ChatState: "gone", Time: now},
			func(c statefile.Conversation) bool {
				return c.LockedTo == "" && c.UnlockReason == UnlockGone && c.Thread == ""
			}, true},
		{"a standalone composing moves nothing", locked, true,
			SentCarbon{To: laptop, Type: "chat", ChatState: "composing", Time: now},
			func(c statefile.Conversation) bool { return c.LockedTo == locked.LockedTo }, true},
		{"a normal message moves nothing (item 69)", locked, true,
			SentCarbon{To: laptop, Type: "normal", Content: true, Time: now},
			func(c statefile.Conversation) bool { return c.LockedTo == locked.LockedTo && c.Thread == "t1" }, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			next, store := ApplySent(c.c, c.exists, c.s)
			if store != c.store || !c.want(next) {
				t.Fatalf("got %+v store %v", next, store)
			}
		})
	}
}

// TestApplyInboundArchived: item 87, D-15. An archived message never
// locks, unlocks or ends a conversation; its thread is kept.
func TestApplyInboundArchived(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	laptop, _ := ParseJID("alice@example.org/laptop")
	bare, _ := ParseJID("alice@example.org")
	locked := statefile.Conversation{Peer: "alice@example.org", LockedTo: "alice@example.org/phone", LockKind: statefile.LockMessage, Thread: "t1"}
	for _, c := range []struct {
		name string
		in   Inbound
	}{
		{"from another resource", Inbound{Kind: KindMessage, From: laptop, Type: "chat", Content: true}},
		{"from the bare JID", Inbound{Kind: KindMessage, From: bare, Type: "chat", Content: true}},
		{"a gone", Inbound{Kind: KindMessage, From: laptop, Type: "chat", ChatState: "gone"}},
		{"a normal message from another resource", Inbound{Kind: KindMessage, From: laptop, Type: "normal", Content: true}},
		{"an error from the locked resource", Inbound{Kind: KindMessage, From: laptop, Type: "error"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.in.Archived, c.in.Delayed, c.in.Time = true, true, now
			next, _ := ApplyInbound(locked, true, c.in)
			if next.LockedTo != locked.LockedTo || next.Thread != "t1" || next.UnlockReason != "" {
				t.Fatalf("got %+v", next)
			}
		})
	}
	next, store := ApplyInbound(locked, true, Inbound{Kind: KindMessage, From: laptop, Type: "chat", Thread: "t9", Content: true,
		Archived: true, Delayed: true, Time: now})
	if !store || next.Thread != "t9" || next.LockedTo != locked.LockedTo {
		t.Fatalf("an archived message's thread: %+v", next)
	}
	if strings.Contains(next.LockedTo, "laptop") {
		t.Fatal("locked")
	}
}

// TestApplyForgedCarbons: the forged shapes that only a server could
// send (Prosody stamps every client stanza with its full JID, so the
// integration tests cannot): a wrapper from our bare JID around a sent
// copy from someone else, a nested carbon, a copy of a MUC private
// message. Apply, as listen runs it, shows nothing and records nothing;
// a genuine copy, as a control, is recorded.
func TestApplyForgedCarbons(t *testing.T) {
	muc := "<x xmlns='http://jabber.org/protocol/muc#user'/>"
	for _, c := range []struct{ name, xml string }{
		{"item 82: a sent copy from a contact", carbon(me, "sent", innerChat("alice@example.org/laptop", "alice@example.org/phone", ""))},
		{"item 82: a sent copy from our bare JID", carbon(me, "sent", innerChat(me, "alice@example.org/phone", ""))},
		{"a carbon in a carbon", carbon(me, "received", innerChat("alice@example.org/phone", me, "<sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>"+innerChat(me+"/x", "bob@example.org/y", "")+"</forwarded></sent>"))},
		{"item 85: a MUC private message of a room not joined", carbon(me, "received", innerChat("room@muc.example.net/nick", me, muc))},
		{"item 79: Tybalt", carbon("tybalt@capulet.example/home", "received", innerChat("romeo@montague.example/orchard", me, ""))},
		{"item 87: an archive result outside any query", result(me, "q1", "a1", "hi")},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			store, err := statefile.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			env := Env{Store: store, History: store.History(0), Now: time.Now}
			_, show, err := Apply(t.Context(), env, me, decodeMessage(t, c.xml))
			if err != nil || show {
				t.Fatalf("show %v err %v", show, err)
			}
			st, err := store.Load()
			if err != nil {
				t.Fatal(err)
			}
			if a := st.Accounts[me]; a != nil && (len(a.Conversations) > 0 || len(a.Seen) > 0 || len(a.Threads) > 0) {
				t.Fatalf("recorded %+v", a)
			}
			n := 0
			env.History.Scan(func(statefile.Record) error { n++; return nil })
			if n > 0 {
				t.Fatalf("%d history records", n)
			}
		})
	}
	t.Run("control: a genuine received copy", func(t *testing.T) {
		store, _ := statefile.Open(t.TempDir())
		env := Env{Store: store, Now: time.Now}
		ev, show, err := Apply(t.Context(), env, me, decodeMessage(t, carbon(me, "received", innerChat("alice@example.org/phone", me+"/tablet", ""))))
		st, _ := store.Load()
		if err != nil || !show || ev.Carbon != CarbonReceived || st.Account(me).Conversations["alice@example.org"].LockedTo != "alice@example.org/phone" {
			t.Fatalf("ev %+v show %v err %v", ev, show, err)
		}
	})
}
