package session

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

const tRoom = "team@conference.example.org"

func mucPresence(from, typ string, codes ...int) *Presence {
	p := &Presence{From: from, Type: typ, MUCUser: &MUCUser{}}
	for _, c := range codes {
		p.MUCUser.Status = append(p.MUCUser.Status, MUCStatus{Code: c})
	}
	return p
}

func TestJoinAnswer(t *testing.T) {
	errPresence := func(from, cond string) *Presence {
		p := &Presence{From: from, Type: "error", Error: &StanzaError{Type: "cancel"}}
		p.Error.Condition = append(p.Error.Condition, xml.Name{Space: nsStanzas, Local: cond})
		return p
	}
	for _, c := range []struct {
		name string
		p    *Presence
		want JoinStep
	}{
		{"our presence, 110", mucPresence(tRoom+"/me", "", StatusSelf), JoinStep{Kind: JoinedRoom, Nick: "me"}},
		{"assigned nick, 110 and 210", mucPresence(tRoom+"/Me (2)", "", StatusSelf, StatusNickAssign), JoinStep{Kind: JoinedRoom, Nick: "Me (2)"}},
		{"no 110 but our nick", mucPresence(tRoom+"/me", ""), JoinStep{Kind: JoinedRoom, Nick: "me"}},
		{"created, 201", mucPresence(tRoom+"/me", "", StatusSelf, StatusCreated), JoinStep{Kind: CreatedRoom, Nick: "me"}},
		{"another occupant", mucPresence(tRoom+"/alice", ""), JoinStep{Kind: JoinOther}},
		{"another occupant leaving", mucPresence(tRoom+"/me", "unavailable"), JoinStep{Kind: JoinOther}},
		{"another room", mucPresence("other@conference.example.org/me", "", StatusSelf), JoinStep{Kind: JoinOther}},
		{"the room's bare JID", mucPresence(tRoom, "", StatusSelf), JoinStep{Kind: JoinOther}},
		{"conflict", errPresence(tRoom+"/me", "conflict"), JoinStep{Kind: JoinRefused, Cond: "conflict"}},
		{"error from the bare room", errPresence(tRoom, "registration-required"), JoinStep{Kind: JoinRefused, Cond: "registration-required"}},
		{"error for another nick", errPresence(tRoom+"/other", "conflict"), JoinStep{Kind: JoinOther}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := JoinAnswer(c.p, tRoom, "me"); got != c.want {
				t.Errorf("JoinAnswer = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestEchoOf(t *testing.T) {
	pending := func(id string) bool { return id == "m1" }
	for _, c := range []struct {
		name string
		m    *Message
		kind int
	}{
		{"echo by id", &Message{From: tRoom + "/me", Type: "groupchat", ID: "m1"}, EchoOK},
		{"echo by origin-id, id rewritten", &Message{From: tRoom + "/me", Type: "groupchat", ID: "x", OriginID: &OriginID{ID: "m1"}}, EchoOK},
		{"from another occupant with our id", &Message{From: tRoom + "/alice", Type: "groupchat", ID: "m1"}, EchoNone},
		{"from another room", &Message{From: "other@conference.example.org/me", Type: "groupchat", ID: "m1"}, EchoNone},
		{"a chat with our id", &Message{From: tRoom + "/me", Type: "chat", ID: "m1"}, EchoNone},
		{"bounce from the room", &Message{From: tRoom, Type: "error", ID: "m1", Error: &StanzaError{}}, EchoBounced},
		{"another id", &Message{From: tRoom + "/me", Type: "groupchat", ID: "m2"}, EchoNone},
	} {
		t.Run(c.name, func(t *testing.T) {
			kind, id := EchoOf(c.m, tRoom, "me", pending)
			if kind != c.kind || (kind != EchoNone && id != "m1") {
				t.Errorf("EchoOf = %d %q, want %d", kind, id, c.kind)
			}
		})
	}
}

func TestParseRoomAndNick(t *testing.T) {
	for _, s := range []string{"team@conference.example.org", "Team@Conference.example.org"} {
		if j, err := ParseRoom(s); err != nil || j.Bare() != strings.ToLower(s) {
			t.Errorf("ParseRoom(%q) = %v, %v", s, j, err)
		}
	}
	for _, s := range []string{"", "conference.example.org", "team@conference.example.org/nick", "a b@c", "@c"} {
		if _, err := ParseRoom(s); err == nil {
			t.Errorf("ParseRoom(%q) accepted", s)
		}
	}
	for _, n := range []string{"", " me", "me ", strings.Repeat("n", MaxNick+1), "a\x1bb", "a\u202eb", "\xff"} {
		if CheckNick(n) == nil {
			t.Errorf("CheckNick(%q) accepted", n)
		}
	}
	for _, n := range []string{"me", "Zoë", strings.Repeat("n", MaxNick)} {
		if err := CheckNick(n); err != nil {
			t.Errorf("CheckNick(%q): %v", n, err)
		}
	}
	if got := RetryNick(strings.Repeat("n", MaxNick), "abcd"); len(got) != MaxNick || !strings.HasSuffix(got, "-abcd") {
		t.Errorf("RetryNick of a long nick: %d bytes", len(got))
	}
	if got := DefaultNick(JID{Local: "me", Domain: "example.org"}, ""); got != "me" {
		t.Errorf("DefaultNick = %q", got)
	}
}

func TestRoomPresence(t *testing.T) {
	item := func(p *Presence, it MUCItem) *Presence { p.MUCUser.Items = append(p.MUCUser.Items, it); return p }
	destroyed := mucPresence(tRoom+"/me", "unavailable", StatusSelf)
	destroyed.MUCUser.Destroy = &MUCDestroy{Reason: "bye"}
	for _, c := range []struct {
		name   string
		p      *Presence
		joined bool
		want   int
	}{
		{"joining: occupant already there", mucPresence(tRoom+"/alice", ""), false, RoomOccupantOther},
		{"joining: ours", mucPresence(tRoom+"/me", "", StatusSelf), false, RoomSelfJoined},
		{"joining: created", mucPresence(tRoom+"/me", "", StatusSelf, StatusCreated), false, RoomSelfCreated},
		{"in: occupant joins", mucPresence(tRoom+"/bob", ""), true, RoomOccupantJoined},
		{"in: occupant leaves", mucPresence(tRoom+"/bob", "unavailable"), true, RoomOccupantLeft},
		{"in: occupant renames", item(mucPresence(tRoom+"/bob", "unavailable", StatusNickChange), MUCItem{Nick: "rob"}), true, RoomOccupantNick},
		{"in: we are renamed", item(mucPresence(tRoom+"/me", "unavailable", StatusSelf, StatusNickChange), MUCItem{Nick: "me2"}), true, RoomSelfNick},
		{"in: kicked", mucPresence(tRoom+"/me", "unavailable", StatusSelf, StatusKicked), true, RoomKicked},
		{"in: banned", mucPresence(tRoom+"/me", "unavailable", StatusSelf, StatusBanned), true, RoomBanned},
		{"in: destroyed", destroyed, true, RoomDestroyed},
		{"in: left", mucPresence(tRoom+"/me", "unavailable", StatusSelf), true, RoomSelfLeft},
		{"in: our status change", mucPresence(tRoom+"/me", "", StatusSelf), true, RoomOccupantOther},
		{"in: another room", mucPresence("x@conference.example.org/me", "unavailable", StatusSelf, StatusBanned), true, RoomOccupantOther},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := RoomPresence(c.p, tRoom, "me", c.joined); got.Kind != c.want {
				t.Errorf("RoomPresence = %+v, want kind %d", got, c.want)
			}
		})
	}
}

func TestFollowOccupant(t *testing.T) {
	old, next := tRoom+"/alice", tRoom+"/alice2"
	convs := map[string]*statefile.Conversation{
		old:            {Peer: old, Occupant: true, Thread: "t1"},
		"bob@example":  {Peer: "bob@example", Thread: "t2"},
		tRoom + "/bob": {Peer: tRoom + "/bob", Occupant: true},
	}
	// D-12: a 303 moves the conversation, the old key forwards.
	if !FollowOccupant(convs, tRoom, RoomChange{Kind: RoomOccupantNick, Nick: "alice", NewNick: "alice2"}) {
		t.Fatal("nick change: nothing changed")
	}
	if c := convs[next]; c == nil || c.Peer != next || c.Thread != "t1" || !c.Occupant {
		t.Fatalf("new key: %+v", c)
	}
	if r := RouteOutbound(*convs[old], true, Outbound{To: JID{Local: "team", Domain: "conference.example.org", Resource: "alice"}, Type: "chat"}); r.To != next {
		t.Errorf("the old nick's conversation routes to %q, want %q", r.To, next)
	}
	if k := KeyIn(convs, JID{Local: "team", Domain: "conference.example.org", Resource: "alice"}); k != next {
		t.Errorf("KeyIn of the old nick = %q, want %q", k, next)
	}
	// Item 76: a leave marks it gone; never the room.
	FollowOccupant(convs, tRoom, RoomChange{Kind: RoomOccupantLeft, Nick: "alice2"})
	if !OccupantGone(*convs[next]) || !OccupantGone(*convs[old]) {
		t.Errorf("left occupant not marked gone: %+v %+v", convs[next], convs[old])
	}
	if r := RouteOutbound(*convs[next], true, Outbound{To: JID{Local: "team", Domain: "conference.example.org", Resource: "alice2"}, Type: "chat"}); r.To != next {
		t.Errorf("a gone occupant routes to %q", r.To)
	}
	FollowOccupant(convs, tRoom, RoomChange{Kind: RoomOccupantJoined, Nick: "alice2"})
	if OccupantGone(*convs[next]) {
		t.Error("a returning occupant stays gone")
	}
	// Another occupant's change touches nothing else; a contact never.
	if FollowOccupant(convs, tRoom, RoomChange{Kind: RoomOccupantLeft, Nick: "carol"}) || convs["bob@example"].Gone != nil {
		t.Error("an unrelated occupant changed something")
	}
	// Item 77: a message to an occupant is type chat with muc#user <x/>.
	m := BuildMessage(Route{To: next, Conv: *convs[next]}, "chat", "", "hi", "")
	if m.MUCUser == nil || m.Type != "chat" {
		t.Errorf("private message: %+v", m)
	}
	if m := BuildMessage(Route{To: "bob@example", Conv: *convs["bob@example"]}, "chat", "", "hi", ""); m.MUCUser != nil {
		t.Error("muc#user on a one-to-one message")
	}
}

// TestRoomsHandle: everything from a joined room but private messages is
// the room's (item 73); a chat from its occupant is a PM even without the
// muc#user <x/> (recognised by the joined room, not the type); our echo
// is own; the subject that ends the join is not printed, a later one is.
func TestRoomsHandle(t *testing.T) {
	room, _ := ParseRoom(tRoom)
	r := NewRooms(Env{Now: time.Now}, JID{Local: "me", Domain: "example.org"}, []RoomTarget{{Room: room, Nick: "me"}}, t.Logf)
	r.rooms[0].phase = roomIn
	pm := &Message{From: tRoom + "/alice", Type: "chat", Body: "psst"}
	if _, _, handled := r.Handle(context.Background(), nil, pm); handled || pm.MUCUser == nil {
		t.Errorf("a chat from an occupant: handled %v, muc#user %v", handled, pm.MUCUser)
	}
	if _, _, handled := r.Handle(context.Background(), nil, &Message{From: tRoom, Type: "chat", Body: "from the room"}); !handled {
		t.Error("a chat from the room's bare JID was left to the one-to-one rules (item 73)")
	}
	contact := &Message{From: "alice@example.org/phone", Type: "chat", Body: "hi"}
	if _, _, handled := r.Handle(context.Background(), nil, contact); handled || contact.MUCUser != nil {
		t.Error("a contact's chat was taken for the room's")
	}
	for _, c := range []struct {
		name      string
		m         *Message
		show, own bool
	}{
		{"the join's subject", &Message{From: tRoom, Type: "groupchat", Subject: "old topic"}, false, false},
		{"a message", &Message{From: tRoom + "/alice", Type: "groupchat", Body: "hi", ID: "a1"}, true, false},
		{"our echo", &Message{From: tRoom + "/me", Type: "groupchat", Body: "mine", ID: "m1"}, true, true},
		{"history", &Message{From: tRoom + "/alice", Type: "groupchat", Body: "old", Delay: &Delay{Stamp: "2020-01-01T00:00:00Z"}}, false, false},
		{"a subject change", &Message{From: tRoom + "/alice", Type: "groupchat", Subject: "new topic"}, true, false},
	} {
		ev, show, handled := r.Handle(context.Background(), nil, c.m)
		if !handled || show != c.show || ev.Own != c.own || (handled && ev.Room != tRoom) {
			t.Errorf("%s: handled %v show %v own %v room %q", c.name, handled, show, ev.Own, ev.Room)
		}
	}
}

func TestIsRoomInfo(t *testing.T) {
	for _, c := range []struct {
		inner string
		want  bool
	}{
		{`<identity category='conference' type='text' name='Team'/><feature var='http://jabber.org/protocol/muc'/>`, true},
		{`<identity category='account' type='registered'/>`, false},
		{`<identity category='client' type='pc'/><identity category='conference' type='text'/>`, true},
		{``, false},
		{`<identity category='conference'`, false},
	} {
		if got := IsRoomInfo([]byte(c.inner)); got != c.want {
			t.Errorf("IsRoomInfo(%q) = %v", c.inner, got)
		}
	}
}

// roomResult is a XEP-0313 result of tRoom's archive, forwarding inner.
func roomResult(from, qid, id, inner string) string {
	return "<message xmlns='jabber:client' to='me@example.org/cli' from='" + from + "'><result xmlns='urn:xmpp:mam:2' queryid='" + qid +
		"' id='" + id + "'><forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2026-01-02T03:04:05Z'/>" +
		inner + "</forwarded></result></message>"
}

// TestAcceptRoomResult: item 87 for a room's archive (muc#mam). A result
// comes from the room queried, for the open query, and forwards one group
// chat message of that room.
func TestAcceptRoomResult(t *testing.T) {
	msg := func(from, typ string) string {
		return "<message xmlns='jabber:client' from='" + from + "' type='" + typ + "' id='m1'><body>hi</body></message>"
	}
	for _, c := range []struct {
		name, xml string
		ok        bool
	}{
		{"from the room", roomResult(tRoom, "q1", "a1", msg(tRoom+"/alice", "groupchat")), true},
		{"no from: our account's archive, not the room's", roomResult("", "q1", "a1", msg(tRoom+"/alice", "groupchat")), false},
		{"from our account", roomResult("me@example.org", "q1", "a1", msg(tRoom+"/alice", "groupchat")), false},
		{"from another room", roomResult("other@conference.example.org", "q1", "a1", msg(tRoom+"/alice", "groupchat")), false},
		{"from an occupant", roomResult(tRoom+"/alice", "q1", "a1", msg(tRoom+"/alice", "groupchat")), false},
		{"another query", roomResult(tRoom, "q2", "a1", msg(tRoom+"/alice", "groupchat")), false},
		{"a message of another room inside", roomResult(tRoom, "q1", "a1", msg("other@conference.example.org/alice", "groupchat")), false},
		{"a private message inside", roomResult(tRoom, "q1", "a1", msg(tRoom+"/alice", "chat")), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var m Message
			if err := xml.Unmarshal([]byte(c.xml), &m); err != nil {
				t.Fatal(err)
			}
			inner, id, stamp, drop := AcceptRoomResult(&m, tRoom, "q1")
			if (drop == "") != c.ok {
				t.Fatalf("accepted=%v (drop %q), want %v", drop == "", drop, c.ok)
			}
			if c.ok && (inner.Body != "hi" || id != "a1" || stamp == "") {
				t.Fatalf("inner %+v id %q stamp %q", inner, id, stamp)
			}
		})
	}
}

// TestRoomStanzaID: only the room's own stanza-id, and a live room
// message carries it only where the room offers stanza-ids; positions are
// per room.
func TestRoomStanzaID(t *testing.T) {
	m := &Message{From: tRoom + "/alice", Type: "groupchat", Body: "hi", ID: "x1",
		StanzaID: []StanzaIDElem{{ID: "forged", By: "me@example.org"}, {ID: "r1", By: tRoom}}}
	if id := TrustedStanzaID(m, tRoom); id != "r1" {
		t.Fatalf("TrustedStanzaID %q, want r1", id)
	}
	room, _ := ParseRoom(tRoom)
	r := NewRooms(Env{Now: time.Now}, JID{Local: "me", Domain: "example.org"}, []RoomTarget{{Room: room, Nick: "me"}}, t.Logf)
	r.rooms[0].phase = roomIn
	if ev, _, _ := r.Handle(context.Background(), nil, m); ev.roomSID != "" {
		t.Errorf("a stanza-id taken from a room that offers none: %q", ev.roomSID)
	}
	r.rooms[0].sids = true
	if ev, _, _ := r.Handle(context.Background(), nil, m); ev.roomSID != "r1" || ev.roomKey() != tRoom+"\x00r1" {
		t.Errorf("roomSID %q", ev.roomSID)
	}
	var a statefile.Account
	if !moveRoomArchive(&a, tRoom, "r1") || moveRoomArchive(&a, tRoom, "r1") || a.ArchiveLast != "" ||
		!moveRoomArchive(&a, "other@conference.example.org", "o1") || a.RoomArchive[tRoom] != "r1" {
		t.Errorf("positions: %+v", a)
	}
}
