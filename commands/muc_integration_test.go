package commands_test

// Group chat (XEP-0045) against the real Prosody's MUC component: what the
// other occupants received, what the service says exists afterwards, exit
// codes.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/peer"
	"github.com/jab-xmpp/jab/internal/testserver"
	"github.com/jab-xmpp/jab/session"
)

var roomN int

// newRoom is a fresh room name on the test server's MUC service.
func newRoom(prefix string) string {
	roomN++
	return fmt.Sprintf("%s%d-%d@conference.%s", prefix, roomN, time.Now().UnixNano()%1e6, srv.Domain)
}

// teamRoom creates a room owned by alice (who stays in it as "alice") with
// the configuration fields given, and returns it with alice's client.
func teamRoom(t *testing.T, fields map[string]string) (room string, alice *peer.Peer) {
	t.Helper()
	a := newAccount(t, "owner")
	alice = a.connect(t, "laptop")
	room = newRoom("team")
	alice.CreateRoom(t, room, "alice", fields)
	return room, alice
}

func isGroupchat(body string) func(*session.Message) bool {
	return func(m *session.Message) bool { return m.Type == "groupchat" && m.Body == body }
}

// TestRoomSend: the message reaches the other occupant as group chat from
// our nick, with an id, an origin-id and a thread (item 78, D-13); jab
// joined without history and left; exit 0 once echoed.
func TestRoomSend(t *testing.T) {
	needServer(t)
	room, alice := teamRoom(t, nil)
	alice.Groupchat(t, room, "old news", "")
	me := newAccount(t, "me")
	j := newJab(t, me)
	r := j.run("", "send", "--room", room, "--json", "build 42 passed")
	if r.Code != 0 {
		t.Fatalf("send --room: %s", r)
	}
	got := alice.WaitMessage(t, 10*time.Second, isGroupchat("build 42 passed"))
	if got.From != room+"/"+me.User {
		t.Errorf("from %q, want %q (the nick defaults to the local part)", got.From, room+"/"+me.User)
	}
	if got.OriginID == nil || got.OriginID.ID == "" || got.ThreadValue() == "" {
		t.Errorf("room message without origin-id or thread: %s", alice.RawOf(t, got))
	}
	var sent session.Sent
	if err := json.Unmarshal([]byte(r.Stdout), &sent); err != nil || sent.To != room || sent.Type != "groupchat" || sent.Thread != got.ThreadValue() {
		t.Errorf("--json: %q (%v), thread on the wire %q", r.Stdout, err, got.ThreadValue())
	}
	// We joined and left: alice saw both presences.
	alice.WaitPresence(t, 5*time.Second, func(p *session.Presence) bool {
		return p.From == room+"/"+me.User && p.Type == "unavailable"
	})
	// A second send is a new topic: a new thread; --thread continues.
	j.mustRun("", "send", "--room", room, "second")
	second := alice.WaitMessage(t, 10*time.Second, isGroupchat("second"))
	if second.ThreadValue() == got.ThreadValue() {
		t.Errorf("a new send reused thread %q", second.ThreadValue())
	}
	j.mustRun("", "send", "--room", room, "--thread", got.ThreadValue(), "third")
	if third := alice.WaitMessage(t, 10*time.Second, isGroupchat("third")); third.ThreadValue() != got.ThreadValue() {
		t.Errorf("--thread: thread %q, want %q", third.ThreadValue(), got.ThreadValue())
	}
	// The history is not replayed to jab (maxstanzas 0): it printed
	// nothing about "old news" and the state file holds no lock.
	if strings.Contains(r.Stderr, "old news") {
		t.Errorf("room history reached jab: %s", r.Stderr)
	}
}

// TestRoomSendReplyTo: a reply in a room goes in the thread of the
// message it answers, with In-Reply-To naming it (item 78, D-13); the
// message is found in the history listen keeps of the room.
func TestRoomSendReplyTo(t *testing.T) {
	needServer(t)
	room, alice, _, j, l := listenInRoom(t)
	q := alice.Groupchat(t, room, "who deploys today?", "ops-thread")
	l.waitLine("who deploys today?", 10*time.Second)
	j.mustRun("", "send", "--room", room, "--reply-to", q.ID, "I do")
	m := alice.WaitMessage(t, 10*time.Second, isGroupchat("I do"))
	if m.ThreadValue() != "ops-thread" || m.Header("In-Reply-To") != q.ID {
		t.Errorf("reply in thread %q with In-Reply-To %q, want ops-thread and %s", m.ThreadValue(), m.Header("In-Reply-To"), q.ID)
	}
	// A new send without it is a new topic: a thread of its own.
	j.mustRun("", "send", "--room", room, "something else")
	if m := alice.WaitMessage(t, 10*time.Second, isGroupchat("something else")); m.ThreadValue() == "ops-thread" || m.ThreadValue() == "" {
		t.Errorf("a new topic in thread %q", m.ThreadValue())
	}
}

// TestRoomSendLinesSeveralRooms: --lines to two rooms over one connection.
func TestRoomSendLinesSeveralRooms(t *testing.T) {
	needServer(t)
	room1, alice := teamRoom(t, nil)
	room2 := newRoom("ops")
	alice.CreateRoom(t, room2, "alice", nil)
	j := newJab(t, newAccount(t, "me"))
	r := j.run("one\ntwo\n", "send", "--room", room1, "--room", room2, "--lines", "--nick", "ci-bot")
	if r.Code != 0 {
		t.Fatalf("send --lines: %s", r)
	}
	for _, room := range []string{room1, room2} {
		for _, body := range []string{"one", "two"} {
			m := alice.WaitMessage(t, 10*time.Second, func(m *session.Message) bool {
				return m.Type == "groupchat" && m.Body == body && m.From == room+"/ci-bot"
			})
			_ = m
		}
	}
}

// TestRoomSendNoSuchRoom: a typo never creates a room. The join created
// it (201), jab destroyed it, sent nothing, and said so (exit 2).
func TestRoomSendNoSuchRoom(t *testing.T) {
	needServer(t)
	watcher := newAccount(t, "watch").connect(t, "x")
	room := newRoom("typo")
	j := newJab(t, newAccount(t, "me"))
	r := j.run("", "send", "--room", room, "hello?")
	if r.Code != 2 || !strings.Contains(r.Stderr, "no such room") {
		t.Fatalf("send to a missing room: %s", r)
	}
	if watcher.RoomExists(t, room) {
		t.Errorf("room %s exists after the send", room)
	}
	if data, _ := os.ReadFile(filepath.Join(j.stateDir, "history.jsonl")); strings.Contains(string(data), "hello?") {
		t.Errorf("history records an unsent message: %s", data)
	}
}

// TestRoomSendRefusals: each refusal has its own message and exit 6, and
// nothing reaches the room.
func TestRoomSendRefusals(t *testing.T) {
	needServer(t)
	t.Run("members-only", func(t *testing.T) {
		room, alice := teamRoom(t, map[string]string{"muc#roomconfig_membersonly": "1"})
		j := newJab(t, newAccount(t, "me"))
		r := j.run("", "send", "--room", room, "let me in")
		if r.Code != 6 || !strings.Contains(r.Stderr, "members-only") {
			t.Fatalf("members-only: %s", r)
		}
		alice.NoMessage(t, 500*time.Millisecond, isGroupchat("let me in"))
	})
	t.Run("password", func(t *testing.T) {
		room, alice := teamRoom(t, map[string]string{"muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "s3cret"})
		j := newJab(t, newAccount(t, "me"))
		if r := j.run("", "send", "--room", room, "no password"); r.Code != 6 || !strings.Contains(r.Stderr, "password") {
			t.Fatalf("missing password: %s", r)
		}
		pw := filepath.Join(t.TempDir(), "pw")
		os.WriteFile(pw, []byte("wrong\n"), 0o600)
		if r := j.run("", "send", "--room", room, "--room-password-file", pw, "wrong password"); r.Code != 6 || !strings.Contains(r.Stderr, "password") {
			t.Fatalf("wrong password: %s", r)
		}
		alice.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool { return m.Type == "groupchat" && m.Body != "" && m.From != room+"/alice" })
		j.mustRun("", "send", "--room", room, "--room-password-cmd", "echo s3cret", "right password")
		alice.WaitMessage(t, 10*time.Second, isGroupchat("right password"))
	})
	t.Run("banned", func(t *testing.T) {
		room, alice := teamRoom(t, nil)
		me := newAccount(t, "me")
		alice.SetAffiliation(t, room, me.JID, "outcast")
		j := newJab(t, me)
		if r := j.run("", "send", "--room", room, "still here"); r.Code != 6 || !strings.Contains(r.Stderr, "banned") {
			t.Fatalf("banned: %s", r)
		}
		alice.NoMessage(t, 300*time.Millisecond, isGroupchat("still here"))
	})
	t.Run("full", func(t *testing.T) {
		notOn(t, "the room's occupant limit of 1 is mod_jab_muc_test's (ejabberd offers 5 and up)", testserver.Ejabberd)
		// XEP-0045 §7.2.10: a room at its maximum of occupants (alice)
		// answers a join with service-unavailable.
		room, alice := teamRoom(t, map[string]string{"muc#roomconfig_maxusers": "1"})
		j := newJab(t, newAccount(t, "me"))
		r := j.run("", "send", "--room", room, "room for one more?")
		if r.Code != 6 || !strings.Contains(r.Stderr, "jab: error: room "+room+" is full") {
			t.Fatalf("full room: %s", r)
		}
		alice.NoMessage(t, 300*time.Millisecond, isGroupchat("room for one more?"))
	})
	t.Run("nick and its retry in use", func(t *testing.T) {
		notOn(t, "nicks taken by prefix are mod_jab_muc_test's", testserver.Ejabberd)
		// The room takes every nick starting with "taken" for in use:
		// the retry with a suffix conflicts too, and that is the error.
		room, alice := teamRoom(t, map[string]string{"jab#takenprefix": "taken"})
		j := newJab(t, newAccount(t, "me"))
		r := j.run("", "send", "--room", room, "--nick", "taken", "who am I now")
		if r.Code != 6 || !strings.Contains(r.Stderr, "the nick \"taken-") || !strings.Contains(r.Stderr, "is in use (the retry with a suffix too)") {
			t.Fatalf("nick and retry in use: %s", r)
		}
		alice.NoMessage(t, 300*time.Millisecond, isGroupchat("who am I now"))
	})
	t.Run("nick conflict", func(t *testing.T) {
		room, alice := teamRoom(t, nil)
		j := newJab(t, newAccount(t, "me"))
		// "alice" is taken: one retry with a suffix gets in.
		r := j.run("", "send", "--room", room, "--nick", "alice", "who am I")
		if r.Code != 0 || !strings.Contains(r.Stderr, "the nick is alice-") {
			t.Fatalf("nick conflict: %s", r)
		}
		m := alice.WaitMessage(t, 10*time.Second, isGroupchat("who am I"))
		if !strings.HasPrefix(m.From, room+"/alice-") {
			t.Errorf("from %q", m.From)
		}
	})
}

// TestRoomSendBadInput: each bad input has its own error and its exit
// status: refused before connecting (exit 2), or, over the server's size
// limit, after the login and before the join (exit 1); nothing reaches
// the room, not even our presence, and no state is written.
func TestRoomSendBadInput(t *testing.T) {
	needServer(t)
	room, alice := teamRoom(t, nil)
	me := newAccount(t, "me")
	j := newJab(t, me)
	for name, c := range map[string]struct {
		args []string
		err  string
	}{
		"malformed room":  {[]string{"--room", "not a room", "x"}, "room: "},
		"room with nick":  {[]string{"--room", room + "/nick", "x"}, "has a resource"},
		"room without @":  {[]string{"--room", "conference." + srv.Domain, "x"}, "has no room name"},
		"empty nick":      {[]string{"--room", room, "--nick", "", "x"}, "the nick is empty"},
		"blank nick":      {[]string{"--room", room, "--nick", " ", "x"}, "starts or ends with space"},
		"over-long nick":  {[]string{"--room", room, "--nick", strings.Repeat("n", 1024), "x"}, "1024 bytes long; at most 1023"},
		"control in nick": {[]string{"--room", room, "--nick", "a\x1bb", "x"}, "control character"},
		"subject":         {[]string{"--room", room, "--subject", "topic", "x"}, "--room and --subject conflict"},
		"empty message":   {[]string{"--room", room, ""}, "empty"},
	} {
		r := j.run("", append([]string{"send"}, c.args...)...)
		if r.Code != 2 || !strings.Contains(r.Stderr, "jab: error: ") || !strings.Contains(r.Stderr, c.err) {
			t.Errorf("%s: want exit 2 and %q: %s", name, c.err, r)
		}
	}
	// Over the server's size limit: refused after login, before the join.
	big := strings.Repeat("x", 300*1024)
	if r := j.run(big, "send", "--room", room); r.Code != 1 || !strings.Contains(r.Stderr, "over the server's limit") {
		t.Errorf("a message over the size limit: %s", r)
	}
	alice.Sync(t)
	for _, v := range alice.Received() {
		if p, ok := v.(*session.Presence); ok && p.From == room+"/"+me.User {
			t.Errorf("bad input joined the room: %s", alice.Dump())
		}
	}
	alice.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool { return m.Type == "groupchat" && m.Body != "" && m.From != room+"/alice" })
	if _, err := os.Stat(filepath.Join(j.stateDir, "history.jsonl")); err == nil {
		t.Errorf("bad input left a history")
	}
	if st := string(j.readState()); strings.Contains(st, room) {
		t.Errorf("bad input changed the state: %s", st)
	}
}

// TestRoomSendBounced: a room that refuses the message (a visitor in a
// moderated room may not speak, §8.5) is exit 5, not 0 as go-sendxmpp.
func TestRoomSendBounced(t *testing.T) {
	needServer(t)
	fields := map[string]string{"muc#roomconfig_moderatedroom": "1"}
	if serverKind == testserver.Ejabberd {
		// ejabberd gives newcomers voice in a moderated room unless
		// members_by_default is off; Prosody makes them visitors.
		fields["members_by_default"] = "0"
	}
	room, alice := teamRoom(t, fields)
	j := newJab(t, newAccount(t, "me"))
	r := j.run("", "send", "--room", room, "can anyone hear me")
	if r.Code != 5 || !strings.Contains(r.Stderr, "not delivered") || !strings.Contains(r.Stderr, "forbidden") {
		t.Fatalf("bounced room message: %s", r)
	}
	alice.NoMessage(t, 300*time.Millisecond, isGroupchat("can anyone hear me"))
}

// TestRoomSendNoEcho: a room that passes the message on but never
// reflects it to us (jab#noecho) leaves its delivery unconfirmed: exit 5
// after --timeout, "no echo", though the other occupant has it.
func TestRoomSendNoEcho(t *testing.T) {
	notOn(t, "a room that never echoes is mod_jab_muc_test's: every real service reflects (§7.4)", testserver.Ejabberd)
	room, alice := teamRoom(t, map[string]string{"jab#noecho": "1"})
	j := newJab(t, newAccount(t, "me"))
	start := time.Now()
	r := j.run("", "send", "--timeout", "2s", "--room", room, "did it arrive?")
	if r.Code != 5 || !strings.Contains(r.Stderr, room+": no echo within 2s") || !strings.Contains(r.Stderr, "not delivered") {
		t.Fatalf("no echo: %s", r)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("gave up after %s, before --timeout", d)
	}
	alice.WaitMessage(t, 5*time.Second, isGroupchat("did it arrive?"))
}

// joinedBy waits until owner sees nick's (available) presence in room.
func joinedBy(t *testing.T, owner *peer.Peer, room, nick string, after int) {
	t.Helper()
	n := 0
	owner.WaitPresence(t, 10*time.Second, func(p *session.Presence) bool {
		if p.From == room+"/"+nick && p.Type == "" {
			n++
		}
		return n > after
	})
}

// listenInRoom starts listen in a new room of alice's, with args, and
// waits until alice sees it come in.
func listenInRoom(t *testing.T, args ...string) (room string, alice *peer.Peer, me account, j *jab, l *proc) {
	t.Helper()
	room, alice = teamRoom(t, nil)
	me = newAccount(t, "me")
	j = newJab(t, me)
	l = j.startListen(append(args, "--room", room)...)
	joinedBy(t, alice, room, me.User, 0)
	return room, alice, me, j, l
}

// TestRoomListen: listen --room prints the room's messages with room and
// nick (kind groupchat), subject changes, occupants with --presence, our
// own echo marked own, and no room history.
func TestRoomListen(t *testing.T) {
	needServer(t)
	room, alice := teamRoom(t, nil)
	alice.Groupchat(t, room, "before we came", "")
	me := newAccount(t, "me")
	j := newJab(t, me)
	l := j.startListen("--json", "--presence", "--room", room)
	joinedBy(t, alice, room, me.User, 0)
	alice.Groupchat(t, room, "hello room", "t-1")
	line := l.waitLine("hello room", 10*time.Second)
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["kind"] != "groupchat" || rec["room"] != room || rec["nick"] != "alice" || rec["thread"] != "t-1" || rec["own"] != nil {
		t.Errorf("record: %s", line)
	}
	// Subject change, occupant join (a hostile nick), our own echo.
	alice.Send(t, &session.Message{To: room, Type: "groupchat", ID: session.NewID(), Subject: "release \u202eday"})
	l.waitLine(`"subject":"release \u202eday"`, 10*time.Second)
	bob := newAccount(t, "bob").connect(t, "x")
	bob.Join(t, room, "bob", "")
	l.waitLine(`"nick":"bob"`, 10*time.Second)
	j.mustRun("", "send", "--room", room, "from me")
	own := l.waitLine("from me", 10*time.Second)
	if !strings.Contains(own, `"own":true`) || !strings.Contains(own, `"nick":"`+me.User+`"`) {
		t.Errorf("own echo: %s", own)
	}
	for _, line := range l.Lines() {
		if strings.Contains(line, "before we came") {
			t.Errorf("room history printed: %s", line)
		}
	}
	// Group chat leaves the one-to-one state alone (item 73).
	if st := string(j.readState()); strings.Contains(st, room) {
		t.Errorf("state file mentions the room: %s", st)
	}
}

// TestRoomListenTextHostile: text output neutralises a hostile nick and
// subject.
func TestRoomListenTextHostile(t *testing.T) {
	needServer(t)
	room, alice, _, _, l := listenInRoom(t, "--presence")
	// XML carries no C0 control but ESC's C1 cousin CSI (U+009B) and the
	// bidi overrides; Prosody refuses them in nicks (resourceprep), so
	// the nick case is a unit test of the output.
	alice.Send(t, &session.Message{To: room, Type: "groupchat", ID: session.NewID(), Subject: "evil\u009b2J\u202etopic"})
	l.waitLine("evil", 10*time.Second)
	alice.Groupchat(t, room, "body\u202eevil\u009b", "")
	l.waitLine("body", 10*time.Second)
	for _, line := range l.Lines() {
		if strings.ContainsAny(line, "\x1b\u009b\u202e") {
			t.Errorf("raw control character in %q", line)
		}
	}
}

// TestRoomListenKickBan: a kick is one stderr line and one rejoin; a ban
// one stderr line and no rejoin.
func TestRoomListenKickBan(t *testing.T) {
	needServer(t)
	room, alice, me, _, l := listenInRoom(t)
	alice.Kick(t, room, me.User)
	l.waitStderr("kicked; rejoining once", 10*time.Second)
	joinedBy(t, alice, room, me.User, 1)
	alice.SetAffiliation(t, room, me.JID, "outcast")
	l.waitStderr("banned; not rejoining", 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	if n := strings.Count(l.Stderr(), "room "); n != 2 {
		t.Errorf("%d room lines on stderr: %s", n, l.Stderr())
	}
	// listen is still running, for its one-to-one conversations.
	select {
	case <-l.done:
		t.Fatalf("listen ended: %s", l.Stderr())
	default:
	}
}

// TestRoomListenConfig: rooms and nick from the account's table in the
// config file; the room the join would create is not left behind.
func TestRoomListenConfig(t *testing.T) {
	needServer(t)
	room, alice := teamRoom(t, nil)
	missing := newRoom("typo")
	me := newAccount(t, "me")
	j := newJab(t, me)
	cfg := filepath.Join(t.TempDir(), "config.toml")
	text := fmt.Sprintf("[accounts.work]\njid = %q\nnick = \"robot\"\nrooms = [%q, %q]\n", me.JID, room, missing)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	j.extraEnv = []string{"JAB_CONFIG=" + cfg, "JAB_ACCOUNT=work"}
	l := j.startListen()
	joinedBy(t, alice, room, "robot", 0)
	l.waitStderr("no such room", 10*time.Second)
	alice.Groupchat(t, room, "configured", "")
	l.waitLine("configured", 10*time.Second)
	if alice.RoomExists(t, missing) {
		t.Errorf("listen left the room %s behind", missing)
	}
}

// TestRoomConfigPerRoom: a table of rooms in the account's table gives
// each room a nick and a password source of its own; listen joins those
// not marked autojoin = false; send --room takes the room's nick, and
// --nick still wins.
func TestRoomConfigPerRoom(t *testing.T) {
	needServer(t)
	locked, alice := teamRoom(t, map[string]string{"muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "s3cret"})
	plain := newRoom("plain")
	alice.CreateRoom(t, plain, "alice", nil)
	quiet := newRoom("quiet")
	alice.CreateRoom(t, quiet, "alice", nil)
	me := newAccount(t, "me")
	j := newJab(t, me)
	cfg := filepath.Join(t.TempDir(), "config.toml")
	text := fmt.Sprintf(`[accounts.work]
jid = %q
nick = "robot"
[accounts.work.rooms.%q]
nick = "ci"
password_cmd = "echo s3cret"
[accounts.work.rooms.%q]
[accounts.work.rooms.%q]
nick = "quiet-one"
autojoin = false
`, me.JID, locked, plain, quiet)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	j.extraEnv = []string{"JAB_CONFIG=" + cfg, "JAB_ACCOUNT=work"}
	l := j.startListen("--presence")
	joinedBy(t, alice, locked, "ci", 0)
	joinedBy(t, alice, plain, "robot", 0)
	alice.Sync(t)
	for _, p := range alice.Received() {
		if pr, ok := p.(*session.Presence); ok && strings.HasPrefix(pr.From, quiet+"/") && pr.From != quiet+"/alice" {
			t.Errorf("listen joined the room marked autojoin = false: %s", pr.From)
		}
	}
	j.mustRun("", "send", "--room", quiet, "configured nick")
	if m := alice.WaitMessage(t, 10*time.Second, isGroupchat("configured nick")); m.From != quiet+"/quiet-one" {
		t.Errorf("send --room took nick %q, want the room's quiet-one", m.From)
	}
	j.mustRun("", "send", "--room", quiet, "--nick", "flagged", "flag nick")
	if m := alice.WaitMessage(t, 10*time.Second, isGroupchat("flag nick")); m.From != quiet+"/flagged" {
		t.Errorf("--nick: from %q", m.From)
	}
	if strings.Contains(l.Stderr(), "password") {
		t.Errorf("listen: %s", l.Stderr())
	}
}

// TestRoomExec: in a room the bot answers only messages addressed to its
// nick, in the room and the message's thread, and never its own echo
// (which here addresses it too: no loop).
func TestRoomExec(t *testing.T) {
	needServer(t)
	room, alice, me, _, _ := listenInRoom(t, "--exec", "tr a-z A-Z")
	alice.Groupchat(t, room, "not for the bot", "")
	alice.Groupchat(t, room, me.User+": ping", "t-7")
	reply := alice.WaitMessage(t, 10*time.Second, isGroupchat(strings.ToUpper(me.User)+": PING"))
	if reply.From != room+"/"+me.User || reply.ThreadValue() != "t-7" {
		t.Errorf("reply from %q in thread %q", reply.From, reply.ThreadValue())
	}
	alice.NoMessage(t, time.Second, func(m *session.Message) bool {
		return m.Type == "groupchat" && m.From == room+"/"+me.User && m.Body != strings.ToUpper(me.User)+": PING"
	})
	n := 0
	for _, m := range alice.Messages() {
		if m.From == room+"/"+me.User {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the bot sent %d messages to the room, want 1:\n%s", n, alice.Dump())
	}
}

// TestRoomListenReconnect: after the connection drops, listen rejoins its
// room and prints its messages again.
func TestRoomListenReconnect(t *testing.T) {
	needServer(t)
	room, alice := teamRoom(t, nil)
	me := newAccount(t, "me")
	j := newJab(t, me)
	addr, cut := cutProxy(t)
	l := j.startListen("--server", addr, "--room", room)
	joinedBy(t, alice, room, me.User, 0)
	cut()
	// The service sees the old occupant go (its connection closed) and
	// the new one come.
	joinedBy(t, alice, room, me.User, 1)
	l.waitStderr("reconnected", 20*time.Second)
	alice.Groupchat(t, room, "after the cut", "")
	l.waitLine("after the cut", 10*time.Second)
}

// TestRoomPM: a private message from an occupant is a conversation keyed
// by the occupant's full JID (item 74); replies go there as chat with the
// muc#user <x/> (item 77), never to the room; occupant presence leaves it
// alone (item 75); a nick change is followed and a leave marks it gone
// (item 76). Each checked through where the next send went.
func TestRoomPM(t *testing.T) {
	needServer(t)
	room, alice, me, j, l := listenInRoom(t, "--json", "--debug")
	occupant := room + "/alice"
	alice.Send(t, &session.Message{To: room + "/" + me.User, Type: "chat", ID: session.NewID(), Body: "psst", MUCUser: &session.Empty{}})
	l.waitLine("psst", 10*time.Second)
	if st := string(j.readState()); !strings.Contains(st, `"`+occupant+`"`) || !strings.Contains(st, `"occupant": true`) {
		t.Fatalf("no occupant conversation: %s", st)
	}
	private := func(body string) func(*session.Message) bool {
		return func(m *session.Message) bool { return m.Type == "chat" && m.Body == body && m.From == room+"/"+me.User }
	}
	j.mustRun("", "send", occupant, "reply")
	alice.WaitMessage(t, 10*time.Second, private("reply"))
	// Prosody adds the <x/> to what it routes, so what jab wrote is read
	// from listen's --debug stream (the send went through it).
	wantPrivate(t, l.Stderr(), "reply")
	// Item 75: another occupant comes and goes, alice changes her show.
	bob := newAccount(t, "bob").connect(t, "x")
	bob.Join(t, room, "bob", "")
	bob.Presence(t, room+"/bob", "unavailable", "")
	alice.Presence(t, room+"/alice", "", "away")
	alice.Sync(t)
	j.mustRun("", "send", occupant, "still you")
	alice.WaitMessage(t, 10*time.Second, private("still you"))
	if c := cliAccount(t, j).Conversations[occupant]; c == nil || c.Peer != occupant || !c.Occupant || len(c.Gone) > 0 {
		t.Errorf("occupant presence changed the private conversation: %+v", c)
	}
	// Item 76: alice becomes alice2; the conversation follows.
	alice.Presence(t, room+"/alice2", "", "")
	waitState(t, j, `"`+room+`/alice2"`)
	j.mustRun("", "send", occupant, "after rename")
	alice.WaitMessage(t, 10*time.Second, private("after rename"))
	// She leaves: gone, and a send to her is not delivered (exit 5),
	// never redirected to the room.
	alice.Presence(t, room+"/alice2", "unavailable", "")
	waitState(t, j, `"gone": [`)
	r := j.run("", "send", occupant, "anyone?")
	if r.Code != 5 || !strings.Contains(r.Stderr, room+"/alice2") {
		t.Fatalf("send to a gone occupant: %s", r)
	}
	for _, m := range bob.Messages() {
		if m.Body == "anyone?" || m.Body == "reply" {
			t.Errorf("a private message reached the room: %s", bob.Dump())
		}
	}
}

// waitState waits until the state file contains substr.
func waitState(t *testing.T, j *jab, substr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(string(j.readState()), substr) {
		if time.Now().After(deadline) {
			t.Fatalf("state file has no %s: %s", substr, j.readState())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRoomSendPM: send --pm joins the room and sends the occupant a chat
// with muc#user (item 77), recorded as the occupant's conversation (item
// 74); an unknown occupant is a bounce (exit 5), never the room.
func TestRoomSendPM(t *testing.T) {
	needServer(t)
	room, alice := teamRoom(t, nil)
	me := newAccount(t, "me")
	j := newJab(t, me)
	r := j.run("", "send", "--debug", "--pm", room+"/alice", "just for you")
	if r.Code != 0 {
		t.Fatalf("send --pm: %s", r)
	}
	m := alice.WaitMessage(t, 10*time.Second, func(m *session.Message) bool { return m.Body == "just for you" })
	if m.Type != "chat" || m.From != room+"/"+me.User {
		t.Errorf("private message: %s", alice.RawOf(t, m))
	}
	wantPrivate(t, r.Stderr, "just for you")
	waitState(t, j, `"`+room+`/alice"`)
	if st := string(j.readState()); !strings.Contains(st, `"occupant": true`) || strings.Contains(st, `"`+room+`"`) {
		t.Errorf("state: %s", st)
	}
	alice.NoMessage(t, 300*time.Millisecond, isGroupchat("just for you"))
	// An occupant who is not there: bounced, exit 5.
	if r := j.run("", "send", "--pm", room+"/nobody", "hello?"); r.Code != 5 || !strings.Contains(r.Stderr, "item-not-found") {
		t.Errorf("send --pm to nobody: %s", r)
	}
	if r := j.run("", "send", "--pm", room, "x"); r.Code != 2 {
		t.Errorf("send --pm without a nick: %s", r)
	}
}

// wantPrivate checks, in a --debug stream, that the message jab wrote
// with body is type chat and carries the muc#user <x/> (item 77).
func wantPrivate(t *testing.T, stream, body string) {
	t.Helper()
	for _, line := range strings.Split(stream, "\n") {
		if strings.HasPrefix(line, "SEND <message") && strings.Contains(line, "<body>"+body+"</body>") {
			if !strings.Contains(line, `type="chat"`) || !strings.Contains(line, `xmlns="http://jabber.org/protocol/muc#user"`) {
				t.Errorf("private message without type chat or muc#user <x/>: %s", line)
			}
			return
		}
	}
	t.Errorf("the --debug stream shows no message %q:\n%s", body, stream)
}

// TestRoomThreads: a room thread, our messages and others', is in the
// history: threads show gives it under the room with each message's nick
// (ours too), and threads list lists the room's threads, grouped under the
// room, after the one-to-one ones. A private message from an occupant
// stays in its own conversation (D-12), never in the room's threads.
func TestRoomThreads(t *testing.T) {
	needServer(t)
	room, alice := teamRoom(t, nil)
	j := newJab(t, newAccount(t, "me"))
	l := j.startListen("--nick", "ci", "--room", room)
	joinedBy(t, alice, room, "ci", 0)
	alice.Groupchat(t, room, "release planning", "rt-1")
	l.waitLine("release planning", 10*time.Second)
	alice.Send(t, &session.Message{To: room + "/ci", Type: "chat", ID: session.NewID(), Body: "psst", MUCUser: &session.Empty{},
		Thread: &session.Thread{Value: "pm-1"}})
	l.waitLine("psst", 10*time.Second)
	j.mustRun("", "send", "--room", room, "--thread", "rt-1", "I am in")
	l.waitLine("I am in", 10*time.Second)
	alice.Groupchat(t, room, "another topic", "rt-2")
	l.waitLine("another topic", 10*time.Second)
	bob := newAccount(t, "bob")
	j.mustRun("", "send", bob.JID, "one to one")
	show := j.mustRun("", "threads", "show", "rt-1").Stdout
	if !strings.Contains(show, "thread rt-1 with "+room+" (groupchat)") || !strings.Contains(show, "<-  "+room+"/alice  release planning") ||
		!strings.Contains(show, "->  "+room+"/ci  I am in") || strings.Contains(show, "psst") {
		t.Errorf("threads show:\n%s", show)
	}
	js := j.mustRun("", "threads", "show", "--json", "rt-1").Stdout
	if !strings.Contains(js, `"nick":"alice"`) || !strings.Contains(js, `"nick":"ci"`) {
		t.Errorf("threads show --json:\n%s", js)
	}
	// The room's threads, newest first, after bob's; the occupant's
	// private thread is hers, not the room's.
	list := strings.Split(strings.TrimSpace(j.mustRun("", "threads", "list").Stdout), "\n")
	var rows []string
	for _, line := range list {
		f := strings.Fields(line)
		rows = append(rows, f[0]+" "+f[1]+" "+f[2])
	}
	want := []string{"rt-2 " + room + " groupchat", "rt-1 " + room + " groupchat"}
	if len(rows) != 4 || !strings.HasSuffix(rows[0], bob.JID+" chat") && !strings.HasSuffix(rows[1], bob.JID+" chat") ||
		!slices.Equal(rows[2:], want) {
		t.Errorf("threads list:\n%s", strings.Join(list, "\n"))
	}
	if r := j.mustRun("", "threads", "list", "--peer", room, "--json").Stdout; strings.Count(r, "\n") != 2 ||
		!strings.Contains(r, `"peer":"`+room+`"`) || !strings.Contains(r, `"type":"groupchat"`) || !strings.Contains(r, `"count":2`) {
		t.Errorf("threads list --peer ROOM --json:\n%s", r)
	}
	if r := j.mustRun("", "threads", "show", room).Stdout; !strings.Contains(r, "rt-1") || !strings.Contains(r, "rt-2") || strings.Contains(r, "psst") {
		t.Errorf("threads show ROOM:\n%s", r)
	}
}

// TestRoomRepl: /join, lines to the room in one topic thread (D-13),
// /msg to an occupant (a PM, never the room), /rooms, /part.
func TestRoomRepl(t *testing.T) {
	needServer(t)
	room, alice := teamRoom(t, nil)
	me := newAccount(t, "me")
	j := newJab(t, me)
	r := j.startReplPipe()
	r.line("/join " + room)
	joinedBy(t, alice, room, me.User, 0)
	r.line("hello room")
	first := alice.WaitMessage(t, 10*time.Second, isGroupchat("hello room"))
	r.line("same topic")
	second := alice.WaitMessage(t, 10*time.Second, isGroupchat("same topic"))
	if first.From != room+"/"+me.User || first.ThreadValue() == "" || second.ThreadValue() != first.ThreadValue() {
		t.Errorf("room lines: from %q, threads %q and %q", first.From, first.ThreadValue(), second.ThreadValue())
	}
	r.line("/msg alice just you")
	pm := alice.WaitMessage(t, 10*time.Second, func(m *session.Message) bool { return m.Body == "just you" })
	if pm.Type != "chat" || pm.From != room+"/"+me.User {
		t.Errorf("/msg: %s", alice.RawOf(t, pm))
	}
	r.line("/rooms")
	r.waitLine(room+" as "+me.User+" (joined)", 10*time.Second)
	r.line("/part")
	alice.WaitPresence(t, 10*time.Second, func(p *session.Presence) bool {
		return p.From == room+"/"+me.User && p.Type == "unavailable"
	})
	if st := string(j.readState()); strings.Contains(st, `"`+room+`"`) {
		t.Errorf("the room is a one-to-one conversation in the state: %s", st)
	}
}

// TestRoomSendHandoff: with a listen in the room, send --room goes through
// it (no login, no join: the room sees no new occupant) and still waits
// for the echo; a room the listen is not in is joined by send itself.
func TestRoomSendHandoff(t *testing.T) {
	needServer(t)
	room, alice, me, j, _ := listenInRoom(t)
	other, _ := teamRoom(t, nil)
	r := j.run("", "send", "--debug", "--room", room, "through listen")
	if r.Code != 0 || !strings.Contains(r.Stderr, "sent through the running listen") {
		t.Fatalf("send --room with a listen in the room: %s", r)
	}
	m := alice.WaitMessage(t, 10*time.Second, isGroupchat("through listen"))
	if m.From != room+"/"+me.User {
		t.Errorf("from %q", m.From)
	}
	joinedBy(t, alice, room, me.User, 0)
	n := 0
	for _, v := range alice.Received() {
		if p, ok := v.(*session.Presence); ok && p.From == room+"/"+me.User {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the hand-off joined or left the room: %d presences of ours\n%s", n, alice.Dump())
	}
	r = j.run("", "send", "--debug", "--room", other, "elsewhere")
	if r.Code != 0 || !strings.Contains(r.Stderr, "not in the room") {
		t.Fatalf("send --room to a room the listen is not in: %s", r)
	}
}

// TestRoomListenDestroyed: a destroyed room is one stderr line, with the
// reason made safe, and no rejoin (which would create the room again).
func TestRoomListenDestroyed(t *testing.T) {
	needServer(t)
	room, alice, _, _, l := listenInRoom(t)
	alice.Destroy(t, room, "moving\u202e on")
	l.waitStderr("destroyed (moving\\u{202e} on); not rejoining", 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	if alice.RoomExists(t, room) {
		t.Errorf("room %s exists again: listen rejoined it", room)
	}
	if n := strings.Count(l.Stderr(), "room "); n != 1 {
		t.Errorf("%d room lines on stderr: %s", n, l.Stderr())
	}
}

// TestRoomOccupantByDisco: a one-shot send to room@service/nick, with no
// conversation stored, is recognised as an occupant by disco (item 73):
// its conversation is keyed by the full JID, no lock is recorded on the
// room, and the message is a PM (type chat, muc#user).
func TestRoomOccupantByDisco(t *testing.T) {
	needServer(t)
	room, alice := teamRoom(t, nil)
	j := newJab(t, newAccount(t, "me"))
	r := j.run("", "send", "--debug", room+"/alice", "are you there?")
	// Not being in the room, we may not send a PM (XEP-0045 §7.5): the
	// service bounces it, and send says so.
	if r.Code != 5 || !strings.Contains(r.Stderr, "not-acceptable") {
		t.Errorf("send to an occupant without being in the room: exit %d", r.Code)
	}
	wantPrivate(t, r.Stderr, "are you there?")
	st := string(j.readState())
	if strings.Contains(st, `"`+room+`"`) || !strings.Contains(st, `"`+room+`/alice"`) || !strings.Contains(st, `"occupant": true`) {
		t.Errorf("state after a send to an occupant: %s", st)
	}
	if strings.Contains(st, `"locked_to"`) {
		t.Errorf("a lock was recorded: %s", st)
	}
	alice.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool { return m.Body == "are you there?" })
}
