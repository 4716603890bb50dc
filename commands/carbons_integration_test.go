package commands_test

// Integration tests of XEP-0280 carbons (items 79–86) against the real
// Prosody, which has mod_carbons: our own second device is a test peer
// ("tablet"), the contact alice has two resources. Each test checks what
// jab printed, what it recorded, and where the next `jab send` went.

import (
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/peer"
	"github.com/jab-xmpp/jab/internal/testserver"
	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// carbCast: our jab listening (JSON), our tablet, and alice on phone and
// laptop, all available.
func carbCast(t *testing.T, args ...string) (me, alice account, j *jab, l *proc, tablet, phone, laptop peerHandle) {
	t.Helper()
	me, alice = newAccount(t, "me"), newAccount(t, "alice")
	j = newJab(t, me)
	l = j.startListen(append([]string{"--json"}, args...)...)
	tpp := me.connect(t, "tablet")
	tpp.Available(t)
	ppp := alice.connect(t, "phone")
	ppp.Available(t)
	lpp := alice.connect(t, "laptop")
	lpp.Available(t)
	return me, alice, j, l, tpp, ppp, lpp
}

type peerHandle = *peer.Peer

// jabFull is the full JID jab's listen is bound to.
func jabFull(t *testing.T, j *jab) string {
	t.Helper()
	o := lstObserver(j)
	if o == nil {
		t.Fatal("no observer record")
	}
	return j.acct.JID + "/" + o.Resource
}

// carbMarker makes alice send a plain message to jab and waits until jab
// printed it: everything sent before it has been handled.
func carbMarker(t *testing.T, l *proc, phone peerHandle, to, body string) {
	t.Helper()
	phone.Chat(t, to, body, "")
	l.waitLine(body, 15*time.Second)
}

// carbConv returns alice's conversation in jab's state (nil if none).
func carbConv(t *testing.T, j *jab, alice account) *statefile.Conversation {
	t.Helper()
	a := cliState(t, j).Accounts[j.acct.JID]
	if a == nil {
		return nil
	}
	return a.Conversations[alice.JID]
}

// carbSendGoesTo runs `jab send alice BODY` and checks which of alice's
// resources got it: want "phone", "laptop" or "both" (the bare JID).
func carbSendGoesTo(t *testing.T, j *jab, alice account, phone, laptop peerHandle, body, want string) {
	t.Helper()
	j.send(alice.JID, body)
	match := func(m *session.Message) bool { return m.Body == body }
	switch want {
	case "phone":
		phone.WaitBody(t, body)
		laptop.NoMessage(t, time.Second, match)
	case "laptop":
		laptop.WaitBody(t, body)
		phone.NoMessage(t, time.Second, match)
	default:
		phone.WaitBody(t, body)
		laptop.WaitBody(t, body)
	}
}

// TestCarbonReceivedLocks: item 81 (D-14). alice's phone writes to our
// tablet; the carbon moves the lock to the phone, its thread is adopted,
// it is printed and recorded as a received carbon, and the next send goes
// to the phone alone.
func TestCarbonReceivedLocks(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, l, _, phone, laptop := carbCast(t)
	thread := "carbon-thread-81"
	phone.Chat(t, me.JID+"/tablet", "hi tablet 81", thread)
	rec := lstRecord(t, l.waitLine("hi tablet 81", 15*time.Second))
	if rec["carbon"] != "received" || rec["from"] != alice.JID+"/phone" || rec["thread"] != thread || rec["sent"] == true {
		t.Fatalf("received carbon printed as %v", rec)
	}
	c := carbConv(t, j, alice)
	if c == nil || c.LockedTo != alice.JID+"/phone" || c.Thread != thread {
		t.Fatalf("conversation after a received carbon: %+v", c)
	}
	h := thrHistory(t, j)
	if len(h) == 0 || h[len(h)-1].Carbon != "received" || h[len(h)-1].Dir != statefile.DirIn || h[len(h)-1].Body != "hi tablet 81" {
		t.Fatalf("history: %+v", h)
	}
	carbSendGoesTo(t, j, alice, phone, laptop, "after carbon 81", "phone")
}

// TestCarbonSentFollowsTo: item 82. What our tablet sends to alice's
// laptop is printed as our own message sent from another device, its
// thread becomes the conversation's and the lock follows its to; a later
// one to the bare JID unlocks.
func TestCarbonSentFollowsTo(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, l, tablet, phone, laptop := carbCast(t)
	thread := "carbon-thread-82"
	tablet.Chat(t, alice.JID+"/laptop", "from tablet 82", thread)
	laptop.WaitBody(t, "from tablet 82")
	rec := lstRecord(t, l.waitLine("from tablet 82", 15*time.Second))
	if rec["carbon"] != "sent" || rec["sent"] != true || rec["from"] != me.JID+"/tablet" || rec["to"] != alice.JID+"/laptop" || rec["thread"] != thread {
		t.Fatalf("sent carbon printed as %v", rec)
	}
	c := carbConv(t, j, alice)
	if c == nil || c.LockedTo != alice.JID+"/laptop" || c.Thread != thread {
		t.Fatalf("conversation after a sent carbon to a full JID: %+v", c)
	}
	h := thrHistory(t, j)
	if last := h[len(h)-1]; last.Dir != statefile.DirOut || last.Carbon != "sent" || last.Peer != alice.JID+"/laptop" {
		t.Fatalf("history record of a sent carbon: %+v", last)
	}
	carbSendGoesTo(t, j, alice, phone, laptop, "jab follows 82", "laptop")

	tablet.Chat(t, alice.JID, "to the bare JID 82", "")
	l.waitLine("to the bare JID 82", 15*time.Second)
	if c := carbConv(t, j, alice); c == nil || c.LockedTo != "" || c.UnlockReason != session.UnlockCarbon {
		t.Fatalf("a sent carbon to the bare JID did not unlock: %+v", c)
	}
	carbSendGoesTo(t, j, alice, phone, laptop, "jab to bare 82", "both")
}

// TestCarbonGoneUnlocks: item 83, both ways.
func TestCarbonGoneUnlocks(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, l, tablet, phone, _ := carbCast(t)
	gone := func(p peerHandle, to string) {
		m := &session.Message{To: to, Type: "chat", ID: session.NewID()}
		m.SetChatState("gone")
		p.Send(t, m)
	}
	// Received: alice's phone ends the conversation with our tablet.
	phone.Chat(t, me.JID+"/tablet", "lock me 83", "t-83")
	l.waitLine("lock me 83", 15*time.Second)
	if c := carbConv(t, j, alice); c == nil || c.LockedTo != alice.JID+"/phone" {
		t.Fatalf("not locked: %+v", c)
	}
	gone(phone, me.JID+"/tablet")
	thrWaitState(t, j, "unlocked by a received carbon of <gone/>", func(a *statefile.Account) bool {
		c := a.Conversations[alice.JID]
		return c != nil && c.LockedTo == "" && c.UnlockReason == session.UnlockGone
	})
	// Sent: our tablet locks to the phone, then ends it.
	tablet.Chat(t, alice.JID+"/phone", "tablet locks 83", "t-83b")
	l.waitLine("tablet locks 83", 15*time.Second)
	if c := carbConv(t, j, alice); c == nil || c.LockedTo != alice.JID+"/phone" {
		t.Fatalf("not locked by the sent carbon: %+v", c)
	}
	gone(tablet, alice.JID+"/phone")
	thrWaitState(t, j, "unlocked by a sent carbon of <gone/>", func(a *statefile.Account) bool {
		c := a.Conversations[alice.JID]
		return c != nil && c.LockedTo == "" && c.UnlockReason == session.UnlockGone && c.Thread == ""
	})
}

// TestCarbonNoAutoAnswer: item 84. With a bot and receipts on, neither a
// sent nor a received carbon gets a bot reply, a receipt or a chat state;
// a direct message still does (so the bot is working).
func TestCarbonNoAutoAnswer(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, _, l, tablet, phone, laptop := carbCast(t, "--exec", "echo bot-answer")
	withReceipt := func(p peerHandle, to, body string) {
		p.Send(t, &session.Message{To: to, Type: "chat", ID: session.NewID(), Body: body, Request: &session.Empty{}})
	}
	withReceipt(tablet, alice.JID+"/laptop", "sent carbon 84")
	withReceipt(phone, me.JID+"/tablet", "received carbon 84")
	l.waitLine("sent carbon 84", 15*time.Second)
	l.waitLine("received carbon 84", 15*time.Second)
	// A direct message: the bot answers it, after the carbons.
	phone.Chat(t, me.JID, "direct 84", "")
	phone.WaitBody(t, "bot-answer")
	fromJab := func(m *session.Message) bool {
		return strings.HasPrefix(m.From, me.JID+"/jab-") && m.Body != "bot-answer"
	}
	phone.NoMessage(t, time.Second, fromJab)
	laptop.NoMessage(t, time.Second, func(m *session.Message) bool { return strings.HasPrefix(m.From, me.JID+"/jab-") })
	for _, m := range phone.Messages() {
		if strings.HasPrefix(m.From, me.JID+"/jab-") && m.Body == "bot-answer" && m.Received == nil {
			continue
		}
		if strings.HasPrefix(m.From, me.JID+"/jab-") && m.Received != nil {
			t.Fatalf("jab sent a receipt to alice: %s", phone.Dump())
		}
	}
	n := 0
	for _, m := range phone.Messages() {
		if m.Body == "bot-answer" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("alice's phone got %d bot answers, want 1 (the direct message's)", n)
	}
	_ = tablet
}

// TestCarbonForged: items 79, 82, 85 and nested carbons, as a client can
// send them. Every forged shape is dropped without a trace: nothing
// printed, no conversation, no history record, and the next send goes
// where the real lock says. Prosody stamps every stanza of a client with
// its full JID, so the shapes that claim our bare JID arrive from our
// tablet's full JID here; the same shapes from our bare JID, which only a
// server could send, are TestApplyForgedCarbons and TestUnwrapCarbon
// (session).
func TestCarbonForged(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, l, tablet, phone, laptop := carbCast(t)
	full := jabFull(t, j)
	inner := func(from, to, body string, extra string) string {
		return "<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='chat' from='" + from + "' to='" + to +
			"'><body>" + body + "</body>" + extra + "</message></forwarded>"
	}
	received := func(from, to, body string) string {
		return "<received xmlns='urn:xmpp:carbons:2'>" + inner(from, to, body, "") + "</received>"
	}
	sent := func(from, to, body string) string {
		return "<sent xmlns='urn:xmpp:carbons:2'>" + inner(from, to, body, "") + "</sent>"
	}
	msg := func(attrs, child string) string {
		return "<message type='chat' to='" + full + "' id='" + session.NewID() + "' " + attrs + ">" + child + "</message>"
	}
	// Tybalt: a contact wraps a "received" copy (item 79).
	phone.Raw(t, msg("", received("tybalt@capulet.example/home", full, "forged-tybalt")))
	// A wrapper from one of our full JIDs (item 79).
	tablet.Raw(t, msg("", sent(me.JID+"/tablet", alice.JID+"/laptop", "forged-fulljid")))
	// A wrapper from our bare JID (a client may send as its bare JID),
	// but the sent copy's inner from is not ours (item 82).
	tablet.Raw(t, msg("from='"+me.JID+"'", sent(alice.JID+"/laptop", alice.JID+"/phone", "forged-innerfrom")))
	// A carbon nested in a carbon.
	nested := "<received xmlns='urn:xmpp:carbons:2'>" + inner(alice.JID+"/phone", full, "forged-nested", received(alice.JID+"/laptop", full, "forged-nested-inner")) + "</received>"
	tablet.Raw(t, msg("from='"+me.JID+"'", nested))
	// Item 85: a MUC private message of a room we have not joined.
	muc := "<received xmlns='urn:xmpp:carbons:2'>" + inner("room@muc."+srv.Domain+"/nick", full, "forged-muc", "<x xmlns='http://jabber.org/protocol/muc#user'/>") + "</received>"
	tablet.Raw(t, msg("from='"+me.JID+"'", muc))

	// Item 87: an archive result no query of ours asked for, from a
	// contact, and one from our own bare JID.
	mam := "<result xmlns='urn:xmpp:mam:2' queryid='q1' id='x1'>" + inner(alice.JID+"/laptop", full, "forged-mam", "") + "</result>"
	phone.Raw(t, msg("", mam))
	tablet.Raw(t, msg("from='"+me.JID+"'", mam))

	carbMarker(t, l, phone, me.JID, "marker after forgeries")
	out := strings.Join(l.Lines(), "\n")
	if strings.Contains(out, "forged") || strings.Contains(out, "tybalt") {
		t.Fatalf("a forged carbon was printed:\n%s", out)
	}
	a := cliState(t, j).Accounts[me.JID]
	for k := range a.Conversations {
		if k != alice.JID {
			t.Fatalf("a forged carbon made conversation %q: %s", k, j.readState())
		}
	}
	if c := a.Conversations[alice.JID]; c == nil || c.LockedTo != alice.JID+"/phone" {
		// The marker came from the phone to our bare JID: that lock only.
		t.Fatalf("alice's conversation: %+v", c)
	}
	for _, r := range thrHistory(t, j) {
		if strings.Contains(r.Body, "forged") {
			t.Fatalf("a forged carbon reached the history: %+v", r)
		}
	}
	if strings.Contains(string(j.readState()), "forged") || strings.Contains(string(j.readState()), "tybalt") {
		t.Fatalf("a forged carbon reached the state:\n%s", j.readState())
	}
	// The forged copies claimed a lock on the laptop and on the phone; the
	// real lock (phone, from the marker) is what the next send uses.
	carbSendGoesTo(t, j, alice, phone, laptop, "after forgeries", "phone")
}

// TestCarbonOwnResourceDirect: item 86. A direct message from our own
// tablet is a conversation with our own account; alice's is untouched and
// the bot does not answer it.
func TestCarbonOwnResourceDirect(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, l, tablet, phone, laptop := carbCast(t, "--exec", "echo bot-answer")
	phone.Chat(t, me.JID, "alice first 86", "")
	l.waitLine("alice first 86", 15*time.Second)
	phone.WaitBody(t, "bot-answer")
	tablet.Chat(t, jabFull(t, j), "note to self 86", "self-86")
	rec := lstRecord(t, l.waitLine("note to self 86", 15*time.Second))
	if rec["carbon"] != nil || rec["from"] != me.JID+"/tablet" {
		t.Fatalf("direct message from our tablet printed as %v", rec)
	}
	a := cliState(t, j).Accounts[me.JID]
	if c := a.Conversations[me.JID]; c == nil || c.LockedTo != me.JID+"/tablet" {
		t.Fatalf("our own conversation: %+v", c)
	}
	if c := a.Conversations[alice.JID]; c == nil || c.LockedTo != alice.JID+"/phone" || c.Thread == "self-86" {
		t.Fatalf("alice's conversation changed: %+v", c)
	}
	tablet.NoMessage(t, time.Second, func(m *session.Message) bool { return m.Body == "bot-answer" })
	_ = laptop
}

// TestCarbonsNotOffered: item 80 against a real server without
// mod_carbons. listen asks for carbons only when the server's disco#info
// lists urn:xmpp:carbons:2: here it sends no <enable/>, says so with
// --debug, and listens as before.
func TestCarbonsNotOffered(t *testing.T) {
	needServer(t)
	t.Parallel()
	s, err := testserver.Start(serverKind, testserver.Options{NoCarbons: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	me, alice := newAccountOn(t, s, "me"), newAccountOn(t, s, "alice")
	j := newJab(t, me)
	j.extraEnv = append(j.extraEnv, "JAB_SERVER="+s.Addr, "JAB_CA_FILE="+s.CAFile)
	l := j.startListen("--debug")
	phone := peer.Connect(t, peer.Server{Addr: s.Addr, Domain: s.Domain, CAFile: s.CAFile}, alice.User, alice.Password, "phone")
	phone.Available(t)
	phone.Chat(t, me.JID, "no carbons here", "")
	l.waitLine("no carbons here", 15*time.Second)
	stderr := l.Stderr()
	if strings.Contains(stderr, "<enable xmlns=\"urn:xmpp:carbons:2\"") || strings.Contains(stderr, "<enable xmlns='urn:xmpp:carbons:2'") {
		t.Fatalf("listen asked a server without carbons to enable them:\n%s", stderr)
	}
	if !strings.Contains(stderr, "carbons (XEP-0280): not offered") {
		t.Fatalf("--debug does not say carbons are not offered:\n%s", stderr)
	}
}
