package commands_test

// Integration tests of the locking (XEP-0296) and thread (XEP-0201) rules
// against the real Prosody, asserting on what the contact's connections
// actually received. Each test names the items of
// docs/PROTOCOL.md (A–K) it covers; a failure message names the
// item too.

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jab-xmpp/jab/internal/peer"
	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// rulesListener is the observer resource the tests give listen when a peer
// must address it directly (directed presence, error stanzas).
const rulesListener = "listener"

// rulesTwoDevices registers me and alice and brings alice online as /phone
// and /laptop (both priority 0, so a bare-JID chat reaches both).
func rulesTwoDevices(t *testing.T) (me, alice account, j *jab, phone, laptop *peer.Peer) {
	t.Helper()
	me, alice = newAccount(t, "me"), newAccount(t, "alice")
	j = newJab(t, me)
	phone = alice.connect(t, "phone")
	laptop = alice.connect(t, "laptop")
	phone.Available(t)
	laptop.Available(t)
	return me, alice, j, phone, laptop
}

// rulesTo fails unless m was delivered addressed to want.
func rulesTo(t *testing.T, item string, m *session.Message, want string) {
	t.Helper()
	if m.To != want {
		t.Fatalf("%s: message %q was delivered with to=%q, want %q", item, m.Body, m.To, want)
	}
}

// wireTo fails unless the stanza p received for m has the to attribute
// want as its connection read it, and exactly one <thread/> whose text is
// thread ("" skips that check): where a message goes and which thread it
// belongs to, checked on the wire rather than through session's decoder.
func wireTo(t *testing.T, item string, p *peer.Peer, m *session.Message, want, thread string) {
	t.Helper()
	w := wire(t, p, m)
	w.wantAttr(t, item+" (on the wire)", "to", want)
	if thread == "" {
		return
	}
	if got := w.one(t, item+" (on the wire)", "thread").Text; got != thread {
		t.Fatalf("%s (on the wire): <thread> %q, want %q:\n%s", item, got, thread, w.raw)
	}
}

// rulesThread fails unless m carries exactly one thread equal to want,
// byte for byte (no trimming).
func rulesThread(t *testing.T, item string, m *session.Message, want string) {
	t.Helper()
	if m.Thread == nil {
		t.Fatalf("%s: message %q carries no <thread/>, want %q", item, m.Body, want)
	}
	if m.Thread.Value != want {
		t.Fatalf("%s: message %q carries thread %q, want %q", item, m.Body, m.Thread.Value, want)
	}
}

// rulesV4 fails unless thread is a random (version 4, RFC 4122 variant)
// UUID in canonical form (items 50, 51).
func rulesV4(t *testing.T, thread string) {
	t.Helper()
	u, err := uuid.Parse(thread)
	if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != thread {
		t.Fatalf("item 50: jab generated thread %q, want a canonical version-4 UUID (err %v)", thread, err)
	}
}

// rulesConv returns the persisted conversation of me with peerBare.
func rulesConv(t *testing.T, j *jab, peerBare string) (statefile.Conversation, bool) {
	t.Helper()
	data := j.readState()
	if len(data) == 0 {
		return statefile.Conversation{}, false
	}
	var st statefile.State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("parse state file: %v\n%s", err, data)
	}
	if a := st.Accounts[j.acct.JID]; a != nil {
		if c := a.Conversations[peerBare]; c != nil {
			return *c, true
		}
	}
	return statefile.Conversation{}, false
}

// rulesWaitConv polls the state file until the conversation satisfies ok
// (listen records a stanza's effect before printing or dropping it).
func rulesWaitConv(t *testing.T, j *jab, peerBare, what string, ok func(statefile.Conversation) bool) statefile.Conversation {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, exists := rulesConv(t, j, peerBare)
		if exists && ok(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("state never showed %s for %s; last: %+v (exists %v)", what, peerBare, c, exists)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// rulesNoNew asserts that p receives no message beyond those it already has
// within d.
func rulesNoNew(t *testing.T, item string, p *peer.Peer, d time.Duration) {
	t.Helper()
	old := map[*session.Message]bool{}
	for _, m := range p.Messages() {
		old[m] = true
	}
	time.Sleep(d)
	for _, m := range p.Messages() {
		if !old[m] {
			t.Fatalf("%s: %s unexpectedly received %+v", item, p.JID, *m)
		}
	}
}

// rulesLock makes alice's phone send a chat (optionally threaded) to me and
// waits until listen has printed it, so the lock is recorded.
func rulesLock(t *testing.T, l *proc, me account, phone *peer.Peer, body, thread string) {
	t.Helper()
	phone.Chat(t, me.JID, body, thread)
	l.waitLine(body, 10*time.Second)
}

// TestRulesInitialBare: items 1 and 2. With /phone and /laptop online (and
// their presence, with priorities 10 and 1, known to listen) and no chat
// traffic, three sends all go to the bare JID.
func TestRulesInitialBare(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone, laptop := rulesTwoDevices(t)
	l := j.startListen("--resource", rulesListener, "--presence")
	listenJID := me.JID + "/" + rulesListener
	for p, prio := range map[*peer.Peer]int{phone: 10, laptop: 1} {
		p.Send(t, &session.Presence{To: listenJID, Priority: &prio})
		l.waitLine(p.JID+" presence available", 10*time.Second)
	}
	for i, body := range []string{"one", "two", "three"} {
		j.send(alice.JID, body)
		item := "item 1"
		if i > 0 {
			item = "item 2"
		}
		rulesTo(t, item, phone.WaitBody(t, body), alice.JID)
		rulesTo(t, item, laptop.WaitBody(t, body), alice.JID)
	}
}

// TestRulesLockOnChat: items 3 and 5 (and 50). After a chat from /phone,
// the next five sends go to /phone only, with the thread jab started.
func TestRulesLockOnChat(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone, laptop := rulesTwoDevices(t)
	l := j.startListen()
	j.send(alice.JID, "opener")
	first := phone.WaitBody(t, "opener")
	rulesTo(t, "item 1", first, alice.JID)
	thread := first.ThreadValue()
	rulesV4(t, thread)
	wireTo(t, "item 1", phone, first, alice.JID, thread)
	rulesLock(t, l, me, phone, "reply from phone", thread)
	bodies := []string{"l1", "l2", "l3", "l4", "l5"}
	for i, body := range bodies {
		j.send(alice.JID, body)
		item := "item 3"
		if i > 0 {
			item = "item 5"
		}
		m := phone.WaitBody(t, body)
		rulesTo(t, item, m, phone.JID)
		rulesThread(t, "item 49", m, thread)
		wireTo(t, item+" and item 49", phone, m, phone.JID, thread)
	}
	laptop.NoMessage(t, 500*time.Millisecond, func(m *session.Message) bool {
		return strings.HasPrefix(m.Body, "l") && len(m.Body) == 2
	})
}

// TestRulesLockWhenPeerStarts: item 4. Alice opens the conversation from
// /phone; our first message goes to /phone.
func TestRulesLockWhenPeerStarts(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone, laptop := rulesTwoDevices(t)
	l := j.startListen()
	rulesLock(t, l, me, phone, "hi from phone", "")
	j.send(alice.JID, "first reply")
	m := phone.WaitBody(t, "first reply")
	rulesTo(t, "item 4", m, phone.JID)
	// Alice sent no thread, so jab started one (item 58) with a v4 UUID.
	rulesV4(t, m.ThreadValue())
	laptop.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool { return m.Body == "first reply" })
}

// TestRulesLockPerContact: item 6. Locking alice to /phone does not change
// where a message to bob goes.
func TestRulesLockPerContact(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone, _ := rulesTwoDevices(t)
	bob := newAccount(t, "bob")
	bobX := bob.connect(t, "x")
	bobX.Available(t)
	l := j.startListen()
	rulesLock(t, l, me, phone, "alice here", "")
	j.send(bob.JID, "to bob")
	rulesTo(t, "item 6", bobX.WaitBody(t, "to bob"), bob.JID)
	j.send(alice.JID, "to alice")
	rulesTo(t, "item 3", phone.WaitBody(t, "to alice"), phone.JID)
}

// TestRulesNonChatMessages: items 8 and 22 (decision D-4). Normal and
// headline messages from /phone do not lock; while locked to /phone, a
// normal or headline message from /laptop unlocks and does not lock to
// /laptop.
func TestRulesNonChatMessages(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone, laptop := rulesTwoDevices(t)
	l := j.startListen()
	nonChat := func(p *peer.Peer, typ, body string) {
		t.Helper()
		p.Send(t, &session.Message{To: me.JID, Type: typ, ID: session.NewID(), Body: body})
		l.waitLine(body, 10*time.Second)
	}
	j.send(alice.JID, "m0")
	rulesTo(t, "item 1", phone.WaitBody(t, "m0"), alice.JID)

	// Item 8: a normal and a headline from /phone lock nothing.
	for _, typ := range []string{"normal", "headline"} {
		nonChat(phone, typ, typ+" from phone")
		j.send(alice.JID, "after "+typ)
		rulesTo(t, "item 8 ("+typ+" must not lock)", phone.WaitBody(t, "after "+typ), alice.JID)
	}

	// Item 22: locked to /phone, a non-chat message from /laptop unlocks
	// and does not lock to /laptop.
	for _, typ := range []string{"normal", "headline"} {
		rulesLock(t, l, me, phone, "lock before "+typ, "")
		j.send(alice.JID, "locked before "+typ)
		rulesTo(t, "item 3", phone.WaitBody(t, "locked before "+typ), phone.JID)
		nonChat(laptop, typ, typ+" from laptop")
		j.send(alice.JID, "after laptop "+typ)
		item := "item 22 (" + typ + " from /laptop must unlock, not lock to /laptop)"
		rulesTo(t, item, laptop.WaitBody(t, "after laptop "+typ), alice.JID)
		rulesTo(t, item, phone.WaitBody(t, "after laptop "+typ), alice.JID)
	}
}

// TestRulesChatStateLocks: items 9 and 40. A standalone <composing/> from
// /phone locks; one from /laptop while locked to /phone moves the lock.
func TestRulesChatStateLocks(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone, laptop := rulesTwoDevices(t)
	j.startListen()
	composing := func(p *peer.Peer) {
		t.Helper()
		p.Send(t, &session.Message{To: me.JID, Type: "chat", ID: session.NewID(), Compose: &session.Empty{}})
		rulesWaitConv(t, j, alice.JID, "locked_to "+p.JID, func(c statefile.Conversation) bool { return c.LockedTo == p.JID })
	}
	composing(phone)
	j.send(alice.JID, "after phone composing")
	m := phone.WaitBody(t, "after phone composing")
	rulesTo(t, "item 9", m, phone.JID)
	thread := m.ThreadValue()
	rulesV4(t, thread)

	composing(laptop)
	j.send(alice.JID, "after laptop composing")
	m = laptop.WaitBody(t, "after laptop composing")
	rulesTo(t, "item 40", m, laptop.JID)
	rulesThread(t, "item 63", m, thread)
	phone.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool { return m.Body == "after laptop composing" })
}

// TestRulesOfflineMessageDoesNotLock: item 10 (decision D-15). A chat
// alice sent from /phone while no resource of ours was online arrives from
// offline storage with <delay/> when listen logs in; it does not lock.
func TestRulesOfflineMessageDoesNotLock(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone, _ := rulesTwoDevices(t)
	phone.Chat(t, me.JID, "sent-while-offline", "")
	phone.Sync(t)
	l := j.startListen("--json")
	line := l.waitLine(`"body":"sent-while-offline"`, 10*time.Second)
	var rec struct {
		From    string `json:"from"`
		Delayed bool   `json:"delayed"`
	}
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("listen --json line %q: %v", line, err)
	}
	if !rec.Delayed || rec.From != phone.JID {
		t.Fatalf("item 10: offline message printed as %s, want from %s with \"delayed\":true", line, phone.JID)
	}
	j.send(alice.JID, "reply to offline")
	m := phone.WaitBody(t, "reply to offline")
	rulesTo(t, "item 10 (a delayed message must not lock)", m, alice.JID)
	rulesV4(t, m.ThreadValue())
}

// TestRulesExplicitFullJID: item 11 (decision D-2). A full JID given by the
// user is used as given and recorded as a forced lock.
func TestRulesExplicitFullJID(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone, laptop := rulesTwoDevices(t)
	j.send(laptop.JID, "to laptop")
	m := laptop.WaitBody(t, "to laptop")
	rulesTo(t, "item 11", m, laptop.JID)
	rulesV4(t, m.ThreadValue())
	phone.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool { return m.Body == "to laptop" })
	c, _ := rulesConv(t, j, alice.JID)
	if c.LockedTo != laptop.JID || c.LockKind != statefile.LockForced {
		t.Fatalf("item 11: state after a send to %s: %+v, want a forced lock to it", laptop.JID, c)
	}
	// The forced lock is kept for the bare-JID send that follows (the
	// laptop is alive and answers the liveness check).
	j.send(alice.JID, "follow-up")
	m = laptop.WaitBody(t, "follow-up")
	rulesTo(t, "item 11 (forced lock)", m, laptop.JID)
}

// TestRulesRelockOtherResource: item 12. Locked to /phone, a chat from
// /laptop moves the lock to /laptop; /phone gets nothing more.
func TestRulesRelockOtherResource(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone, laptop := rulesTwoDevices(t)
	l := j.startListen()
	rulesLock(t, l, me, phone, "from phone", "")
	rulesLock(t, l, me, laptop, "from laptop", "")
	for _, body := range []string{"r1", "r2"} {
		j.send(alice.JID, body)
		rulesTo(t, "item 12", laptop.WaitBody(t, body), laptop.JID)
	}
	phone.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool { return m.Body == "r1" || m.Body == "r2" })
}

// TestRulesPresenceUnlocks: items 14–17 and 59. Locked to /phone, each kind
// of presence update from any of alice's resources unlocks; the thread is
// kept.
func TestRulesPresenceUnlocks(t *testing.T) {
	needServer(t)
	t.Parallel()
	cases := []struct {
		name, item string
		laptop     bool // from /laptop (else /phone)
		typ, show  string
		printed    string // what listen prints after the JID
	}{
		{"available-laptop", "item 14", true, "", "", " presence available"},
		{"away-phone", "item 15", false, "", "away", " presence available away"},
		{"unavailable-phone", "item 16", false, "unavailable", "", " presence unavailable"},
		{"unavailable-laptop", "item 17", true, "unavailable", "", " presence unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			me, alice, j, phone, laptop := rulesTwoDevices(t)
			l := j.startListen("--resource", rulesListener, "--presence")
			j.send(alice.JID, "start")
			thread := phone.WaitBody(t, "start").ThreadValue()
			rulesV4(t, thread)
			rulesLock(t, l, me, phone, "lock", thread)
			j.send(alice.JID, "locked")
			rulesTo(t, "item 3", phone.WaitBody(t, "locked"), phone.JID)

			from := phone
			if tc.laptop {
				from = laptop
			}
			from.Presence(t, me.JID+"/"+rulesListener, tc.typ, tc.show)
			l.waitLine(from.JID+tc.printed, 10*time.Second)

			j.send(alice.JID, "after presence")
			m := phone.WaitBody(t, "after presence")
			rulesTo(t, tc.item, m, alice.JID)
			rulesThread(t, "item 59 (presence must not change the thread)", m, thread)
		})
	}
}

// TestRulesPresenceTypes: item 19 (decision D-3). A subscription request
// from alice does not unlock; a presence error from /phone does.
func TestRulesPresenceTypes(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone, _ := rulesTwoDevices(t)
	listenJID := me.JID + "/" + rulesListener
	l1 := j.startListen("--resource", rulesListener)
	rulesLock(t, l1, me, phone, "lock", "")
	// Prosody keeps the request pending and hands it to listen at its next
	// login, even though listen fetches the roster (and so gets it live too).
	phone.Presence(t, me.JID, "subscribe", "")
	phone.Sync(t)
	l1.stop()
	l2 := j.startListen("--resource", rulesListener, "--presence")
	l2.waitLine(alice.JID+" presence subscribe", 10*time.Second)
	if c, _ := rulesConv(t, j, alice.JID); c.LockedTo != phone.JID {
		t.Fatalf("item 19: after presence subscribe the state is %+v, want still locked to %s", c, phone.JID)
	}
	// The lock predates this listen, so send checks it with a ping first.
	j.send(alice.JID, "after subscribe")
	rulesTo(t, "item 19 (subscribe must not unlock)", phone.WaitBody(t, "after subscribe"), phone.JID)

	phone.Raw(t, "<presence to='"+listenJID+"' type='error'><error type='cancel'>"+
		"<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>")
	l2.waitLine(phone.JID+" presence error", 10*time.Second)
	j.send(alice.JID, "after error presence")
	rulesTo(t, "item 19 (presence error must unlock)", phone.WaitBody(t, "after error presence"), alice.JID)
}

// TestRulesErrorMessage: items 23 and 24 (decision D-5). Locked to /phone,
// an error message from /phone is shown as an error, unlocks, keeps the
// thread and is never answered.
func TestRulesErrorMessage(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone, _ := rulesTwoDevices(t)
	l := j.startListen("--resource", rulesListener, "--json")
	j.send(alice.JID, "start")
	thread := phone.WaitBody(t, "start").ThreadValue()
	rulesLock(t, l, me, phone, "lock", thread)
	j.send(alice.JID, "locked")
	rulesTo(t, "item 3", phone.WaitBody(t, "locked"), phone.JID)

	phone.Raw(t, "<message type='error' to='"+me.JID+"/"+rulesListener+"' id='bounce1'>"+
		"<body>bounced-original</body><error type='cancel'>"+
		"<recipient-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
	line := l.waitLine(`"type":"error"`, 10*time.Second)
	var rec struct {
		From, Type, Error string
	}
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("listen --json line %q: %v", line, err)
	}
	if rec.From != phone.JID || rec.Type != "error" || rec.Error != "recipient-unavailable" {
		t.Fatalf("item 23: error message printed as %s, want type error, error recipient-unavailable from %s", line, phone.JID)
	}
	rulesNoNew(t, "item 24 (an error message must never be answered)", phone, time.Second)

	j.send(alice.JID, "after error")
	m := phone.WaitBody(t, "after error")
	rulesTo(t, "item 23 (an error from the locked JID must unlock)", m, alice.JID)
	rulesThread(t, "item 23 (an error must not change the thread)", m, thread)
}

// TestRulesGone: items 25 and 26. Locked to /phone with thread T, <gone/>
// from /phone unlocks and the next message starts a new thread.
func TestRulesGone(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone, _ := rulesTwoDevices(t)
	l := j.startListen()
	j.send(alice.JID, "start")
	thread := phone.WaitBody(t, "start").ThreadValue()
	rulesLock(t, l, me, phone, "lock", thread)
	j.send(alice.JID, "locked")
	rulesTo(t, "item 3", phone.WaitBody(t, "locked"), phone.JID)

	phone.Send(t, &session.Message{To: me.JID, Type: "chat", ID: session.NewID(),
		Thread: &session.Thread{Value: thread}, Gone: &session.Empty{}})
	rulesWaitConv(t, j, alice.JID, "unlock_reason gone", func(c statefile.Conversation) bool {
		return c.LockedTo == "" && c.UnlockReason == "gone"
	})
	j.send(alice.JID, "after gone")
	m := phone.WaitBody(t, "after gone")
	rulesTo(t, "item 25", m, alice.JID)
	if m.ThreadValue() == thread || m.ThreadValue() == "" {
		t.Fatalf("item 26: after <gone/> the message carries thread %q, want a new one (old %q)", m.ThreadValue(), thread)
	}
	rulesV4(t, m.ThreadValue())
}

// TestRulesIdleUnlock: item 42 (XEP-0296 §3.2). With --lock-idle 1s, a lock
// idle for 1.5 s is dropped; the thread is kept.
func TestRulesIdleUnlock(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone, _ := rulesTwoDevices(t)
	l := j.startListen()
	j.send(alice.JID, "start")
	thread := phone.WaitBody(t, "start").ThreadValue()
	rulesLock(t, l, me, phone, "lock", thread)
	rulesWaitConv(t, j, alice.JID, "locked_to "+phone.JID, func(c statefile.Conversation) bool { return c.LockedTo == phone.JID })
	time.Sleep(1500 * time.Millisecond)
	j.send(alice.JID, "after idle", "--lock-idle", "1s")
	m := phone.WaitBody(t, "after idle")
	rulesTo(t, "item 42", m, alice.JID)
	rulesThread(t, "item 42 (idle unlock must keep the thread)", m, thread)
	if c, _ := rulesConv(t, j, alice.JID); c.UnlockReason != session.UnlockIdle {
		t.Fatalf("item 42: state after the idle send: %+v, want unlock_reason %q", c, session.UnlockIdle)
	}
}

// TestRulesPeerThreadExact: items 49, 52 and 53. Replies carry the peer's
// thread byte for byte, whatever its form; "ABC" and "abc" are different.
func TestRulesPeerThreadExact(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone, _ := rulesTwoDevices(t)
	l := j.startListen()
	threads := []struct{ item, thread string }{
		{"item 49/53", "Act2Scene2-chat1"},
		{"item 49/53", "e0ffe42b28561960c6b12b944a142c7e0a1f6d3c"},
		{"item 49/53", "Act 2 & <Scene> 2?"},
		{"item 52", "ABC"},
		{"item 52", "abc"},
	}
	for i, tc := range threads {
		body := "peer says " + string(rune('a'+i))
		rulesLock(t, l, me, phone, body, tc.thread)
		reply := "reply " + string(rune('a'+i))
		j.send(alice.JID, reply)
		m := phone.WaitBody(t, reply)
		rulesTo(t, "item 3", m, phone.JID)
		rulesThread(t, tc.item, m, tc.thread)
	}
}

// TestRulesUnknownThread: item 57. A chat with an unknown thread Z while our
// thread is T makes our next message carry Z.
func TestRulesUnknownThread(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone, _ := rulesTwoDevices(t)
	l := j.startListen()
	j.send(alice.JID, "start")
	ours := phone.WaitBody(t, "start").ThreadValue()
	rulesV4(t, ours)
	const z = "unknown-thread-Z"
	rulesLock(t, l, me, phone, "new topic", z)
	j.send(alice.JID, "on Z")
	rulesThread(t, "item 57", phone.WaitBody(t, "on Z"), z)
}

// TestRulesThreadlessPeer: item 58 (decision D-7). A peer that never sends
// threads stays in one thread: ours when we spoke first, else the one jab
// starts for her first message.
func TestRulesThreadlessPeer(t *testing.T) {
	needServer(t)
	t.Parallel()
	for _, weFirst := range []bool{true, false} {
		name := "peer-first"
		if weFirst {
			name = "we-first"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			me, alice, j, phone, _ := rulesTwoDevices(t)
			l := j.startListen()
			thread := ""
			if weFirst {
				j.send(alice.JID, "opener")
				thread = phone.WaitBody(t, "opener").ThreadValue()
				rulesV4(t, thread)
			}
			for i := range 3 {
				rulesLock(t, l, me, phone, "legacy "+string(rune('a'+i)), "")
				reply := "reply " + string(rune('a'+i))
				j.send(alice.JID, reply)
				m := phone.WaitBody(t, reply)
				if thread == "" {
					thread = m.ThreadValue()
					rulesV4(t, thread)
				}
				rulesThread(t, "item 58", m, thread)
			}
		})
	}
}

// TestRulesStaleLockChecked: item 59's freshness side, decision D-9. With
// no listen running since the lock was recorded, send checks the locked
// resource: alive → used; gone → bare JID, and the unlock is recorded.
func TestRulesStaleLockChecked(t *testing.T) {
	needServer(t)
	t.Parallel()
	for _, phoneGone := range []bool{false, true} {
		name := "phone-alive"
		if phoneGone {
			name = "phone-gone"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			me, alice, j, phone, laptop := rulesTwoDevices(t)
			l := j.startListen()
			j.send(alice.JID, "start")
			thread := phone.WaitBody(t, "start").ThreadValue()
			rulesLock(t, l, me, phone, "lock", thread)
			l.stop()
			if code := l.wait(5 * time.Second); code != 143 {
				t.Fatalf("listen exited %d after SIGTERM, want 143; stderr: %s", code, l.Stderr())
			}
			if !phoneGone {
				j.send(alice.JID, "checked")
				m := phone.WaitBody(t, "checked")
				rulesTo(t, "D-9 (a live locked resource is kept)", m, phone.JID)
				rulesThread(t, "item 59", m, thread)
				return
			}
			phone.Close()
			laptop.WaitPresence(t, 10*time.Second, func(p *session.Presence) bool {
				return p.From == phone.JID && p.Type == "unavailable"
			})
			j.send(alice.JID, "checked")
			m := laptop.WaitBody(t, "checked")
			rulesTo(t, "D-9 (a stale lock must fall back to the bare JID)", m, alice.JID)
			rulesThread(t, "item 59", m, thread)
			c, _ := rulesConv(t, j, alice.JID)
			if c.LockedTo != "" || c.UnlockReason != session.UnlockCheck {
				t.Fatalf("D-9: state after the failed check: %+v, want unlocked with unlock_reason %q", c, session.UnlockCheck)
			}
		})
	}
}

// TestRulesLockMovesThreadStays: items 63 and 12. A chat from /laptop
// carrying the current thread moves the lock and keeps the thread.
func TestRulesLockMovesThreadStays(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone, laptop := rulesTwoDevices(t)
	l := j.startListen()
	j.send(alice.JID, "start")
	thread := phone.WaitBody(t, "start").ThreadValue()
	rulesV4(t, thread)
	rulesLock(t, l, me, phone, "hello from the phone", thread)
	rulesLock(t, l, me, laptop, "hello from the laptop", thread)
	j.send(alice.JID, "moved")
	m := laptop.WaitBody(t, "moved")
	rulesTo(t, "item 63", m, laptop.JID)
	rulesThread(t, "item 63", m, thread)
	phone.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool { return m.Body == "moved" })
}
