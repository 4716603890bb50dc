package commands_test

// Integration tests of the archive catch-up (XEP-0313) against a server of
// the run's kind with an archive (Prosody's or ejabberd's mod_mam) (started once, for these tests only, so the other
// tests keep a server without an archive) and mod_offline; its rooms keep
// archives too (muc_mam_integration_test.go).

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/peer"
	"github.com/jab-xmpp/jab/internal/testserver"
	"github.com/jab-xmpp/jab/session"
)

var (
	archiveOnce sync.Once
	archiveSrv  *testserver.Server
	archiveErr  error
)

func stopArchiveServer() {
	if archiveSrv != nil {
		archiveSrv.Stop()
	}
}

// archiveServer is a server of the run's kind with an archive (mod_mam),
// for its rooms too (RoomArchive).
func archiveServer(t *testing.T) *testserver.Server {
	t.Helper()
	archiveOnce.Do(func() {
		archiveSrv, archiveErr = testserver.Start(serverKind, testserver.Options{Archive: true, RoomArchive: true})
	})
	if archiveErr != nil {
		t.Fatalf("start %s with an archive: %v", serverKind.Describe(), archiveErr)
	}
	return archiveSrv
}

// mamAccount registers a user on the archive server.
func mamAccount(t *testing.T, prefix string) account {
	t.Helper()
	return newAccountOn(t, archiveServer(t), prefix)
}

// mamJab is a jab of a on the archive server.
func mamJab(t *testing.T, a account) *jab {
	j := newJab(t, a)
	s := archiveServer(t)
	j.extraEnv = append(j.extraEnv, "JAB_SERVER="+s.Addr, "JAB_CA_FILE="+s.CAFile)
	return j
}

func mamPeer(t *testing.T, a account, resource string) *peer.Peer {
	s := archiveServer(t)
	return peer.Connect(t, peer.Server{Addr: s.Addr, Domain: s.Domain, CAFile: s.CAFile}, a.User, a.Password, resource)
}

// mamCast: our account and its jab on the archive server, and alice
// available on "phone".
func mamCast(t *testing.T) (me, alice account, j *jab, phone *peer.Peer) {
	t.Helper()
	me, alice = mamAccount(t, "me"), mamAccount(t, "alice")
	j = mamJab(t, me)
	phone = mamPeer(t, alice, "phone")
	phone.Available(t)
	return me, alice, j, phone
}

// mamCount counts stdout lines holding s.
func mamCount(l *proc, s string) int {
	n := 0
	for _, line := range l.Lines() {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// TestCatchUpSinceLastRun: what arrived while no listen ran is printed,
// archived, in order, each once (offline storage is active too), over
// several RSM pages, before the first live message; it neither locks nor
// unlocks (item 87, D-15), and the next run prints none of it again.
func TestCatchUpSinceLastRun(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := mamCast(t)
	laptop := mamPeer(t, alice, "laptop")
	laptop.Available(t)

	// Run 1: a live message locks alice to the phone and gives listen a
	// position in the archive.
	l := j.startListen("--json")
	phone.Chat(t, me.JID, "live before 1", "")
	l.waitLine("live before 1", 15*time.Second)
	l.stop()
	a := cliAccount(t, j)
	if a.ArchiveLast == "" || a.Conversations[alice.JID].LockedTo != alice.JID+"/phone" {
		t.Fatalf("after run 1: position %q, conversation %+v", a.ArchiveLast, a.Conversations[alice.JID])
	}

	// Offline: 12 messages from the laptop asking for receipts, a normal
	// message and a <gone/> (Prosody archives no standalone chat state).
	const n = 12
	for i := range n {
		laptop.Send(t, &session.Message{To: me.JID, Type: "chat", ID: session.NewID(), Body: "offline " + strconv.Itoa(i+100),
			Request: &session.Empty{}})
	}
	// A normal message from another resource unlocks when live (D-4);
	// archived, it must not.
	laptop.Send(t, &session.Message{To: me.JID, Type: "normal", ID: session.NewID(), Body: "archived-normal"})
	gone := &session.Message{To: me.JID, Type: "chat", ID: session.NewID()}
	gone.SetChatState("gone")
	laptop.Send(t, gone)
	laptop.Sync(t)

	// Run 2, pages of 5: 12 archived lines in order, before the live one.
	// With a bot: it answers the live message only (item 87, D-15: no
	// --exec and no receipt for archived messages).
	l = j.start("listen", "--json", "--catch-up-page", "5", "--debug", "--exec", "echo bot-answer")
	waitObserver(t, j.stateDir, l.done, l.Stderr)
	// Online, so the catch-up is over: the laptop's archived messages and
	// its <gone/> neither locked nor unlocked (item 87, D-15).
	if c := cliAccount(t, j).Conversations[alice.JID]; c.LockedTo != alice.JID+"/phone" || c.UnlockReason != "" {
		t.Fatalf("conversation after the catch-up: %+v", c)
	}
	phone.Chat(t, me.JID, "live after 2", "")
	l.waitLine("live after 2", 15*time.Second)
	phone.WaitBody(t, "bot-answer")
	// (ejabberd bounces the bodiless <gone/> sent while we were offline,
	// service-unavailable from our bare JID: that error is the server's.)
	laptop.NoMessage(t, time.Second, func(m *session.Message) bool { return strings.HasPrefix(m.From, me.JID) && m.Type != "error" })
	time.Sleep(time.Second) // a late offline replay would show by now
	var got []string
	for _, line := range l.Lines() {
		if strings.Contains(line, "offline ") {
			rec := lstRecord(t, line)
			if rec["archived"] != true || rec["delayed"] != true {
				t.Fatalf("not marked archived: %s", line)
			}
			got = append(got, rec["body"].(string))
		}
	}
	want := []string{}
	for i := range n {
		want = append(want, "offline "+strconv.Itoa(i+100))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("caught up %q, want %q", got, want)
	}
	lines := l.Lines()
	if !strings.Contains(lines[len(lines)-1], "live after 2") {
		t.Fatalf("the live message is not after the archived ones: %q", lines)
	}
	if pages := strings.Count(l.Stderr(), "catch-up page"); pages < 3 {
		t.Fatalf("%d pages for 12 results of 5 per page; stderr:\n%s", pages, l.Stderr())
	}
	// Archived messages from the laptop did not move the lock (D-15);
	// the live one from the phone keeps it there.
	if c := cliAccount(t, j).Conversations[alice.JID]; c.LockedTo != alice.JID+"/phone" {
		t.Fatalf("conversation after the catch-up: %+v", c)
	}
	archived := 0
	for _, r := range thrHistory(t, j) {
		if r.Archived {
			archived++
		}
	}
	if archived != n+1 {
		t.Fatalf("%d archived history records, want %d", archived, n+1)
	}
	l.stop()

	// Run 3: nothing to catch up again.
	l = j.startListen("--json")
	phone.Chat(t, me.JID, "live 3", "")
	l.waitLine("live 3", 15*time.Second)
	if c := mamCount(l, "offline "); c != 0 {
		t.Fatalf("run 3 printed %d old messages again: %q", c, l.Lines())
	}
}

// TestCatchUpFirstRunAndSince: a first run with no stored position
// catches nothing up and says so with --debug; --since replays the
// archive; --no-catch-up makes no query.
func TestCatchUpFirstRunAndSince(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, _, j, phone := mamCast(t)
	phone.Chat(t, me.JID, "before any run", "")
	phone.Sync(t)

	l := j.startListen("--json", "--debug")
	phone.Chat(t, me.JID, "live first", "")
	l.waitLine("live first", 15*time.Second)
	if !strings.Contains(l.Stderr(), "no stored archive position") {
		t.Fatalf("--debug does not say why nothing was caught up:\n%s", l.Stderr())
	}
	// ejabberd also keeps the message in offline storage and delivers it,
	// delayed, at the initial presence; that is no catch-up.
	if n := mamCount(l, "before any run"); n != 0 && (serverKind != testserver.Ejabberd || n != 1 || mamCount(l, `"delayed":true`) != 1) {
		t.Fatalf("a first run caught up: %q", l.Lines())
	}
	l.stop()

	l = j.startListen("--json", "--since", "1h")
	l.waitLine("before any run", 15*time.Second)
	l.stop()
	if r := j.run("", "listen", "--since", "1h", "--no-catch-up"); r.Code != 2 {
		t.Fatalf("--since with --no-catch-up: %s", r)
	}
	st := cliAccount(t, j)
	if st.ArchiveLast == "" {
		t.Fatal("no position stored")
	}
}

// TestCatchUpRepl: the REPL catches up as listen does; with stdin not a
// terminal it prints listen's text records, marked (archived).
func TestCatchUpRepl(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, _, j, phone := mamCast(t)
	l := j.startListen()
	phone.Chat(t, me.JID, "live before repl", "")
	l.waitLine("live before repl", 15*time.Second)
	l.stop()
	phone.Chat(t, me.JID, "while away", "")
	phone.Sync(t)
	r := j.startPiped(true, "repl")
	line := r.waitLine("while away", 15*time.Second)
	if !strings.Contains(line, "(archived)") {
		t.Fatalf("REPL line %q is not marked archived", line)
	}
}

// TestStanzaIDNotTrusted: item 88 against the real server. On a server
// whose account advertises neither an archive nor urn:xmpp:sid:0, a
// <stanza-id> a contact put in its message claims our bare JID as "by";
// jab prints the message and never takes that id as its archive
// position (a later catch-up would start from a forged id).
func TestStanzaIDNotTrusted(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, _, j, phone := meAndAlice(t)
	l := j.startListen("--json")
	phone.Raw(t, "<message type='chat' to='"+me.JID+"' id='"+session.NewID()+"'><body>stanza-id from a contact</body>"+
		"<stanza-id xmlns='urn:xmpp:sid:0' by='"+me.JID+"' id='forged-sid'/></message>")
	l.waitLine("stanza-id from a contact", 15*time.Second)
	a := cliState(t, j).Accounts[me.JID]
	if a == nil {
		t.Fatalf("no account in the state: %s", j.readState())
	}
	if a.ArchiveLast == "forged-sid" {
		t.Fatalf("a contact's stanza-id became the archive position: %s", j.readState())
	}
}
