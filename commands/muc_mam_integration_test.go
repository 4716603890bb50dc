package commands_test

// listen --room catches a room up from the room's own archive (muc#mam,
// mod_muc_mam on the archive server's MUC component): since the last
// message it saw in that room, once, archived, never to --exec.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
)

// TestRoomCatchUp: a message posted while listen was down is printed once,
// marked archived, after the restart, and never answered by --exec; a
// second restart prints none of it again; the room history of the join
// (maxstanzas 0) stays off. Each room has its own position.
func TestRoomCatchUp(t *testing.T) {
	needServer(t)
	s := archiveServer(t)
	alice := mamPeer(t, mamAccount(t, "owner"), "laptop")
	room := fmt.Sprintf("archived%d@%s", time.Now().UnixNano()%1e9, s.MUCDomain)
	alice.CreateRoom(t, room, "alice", nil)
	alice.Groupchat(t, room, "before the first run", "")
	me := mamAccount(t, "me")
	j := mamJab(t, me)
	bot := []string{"--json", "--room", room, "--exec", "echo bot-answer"}
	botAnswers := func() int {
		return countMessages(alice, func(m *session.Message) bool { return m.Type == "groupchat" && m.Body == "bot-answer" })
	}

	// Run 1: the first run catches nothing up (no position yet); a live
	// message gives the room its position.
	l := j.startListen(bot...)
	joinedBy(t, alice, room, me.User, 0)
	alice.Groupchat(t, room, "live in run 1", "")
	l.waitLine("live in run 1", 15*time.Second)
	l.stop()
	if pos := cliAccount(t, j).RoomArchive[room]; pos == "" {
		t.Fatalf("no archive position for the room after run 1: %s", j.readState())
	}
	for _, line := range l.Lines() {
		if strings.Contains(line, "before the first run") {
			t.Errorf("run 1 printed the room's past: %s", line)
		}
	}

	// Down: two messages, one addressed to the bot's nick.
	alice.Groupchat(t, room, me.User+": while down 1", "down-thread")
	alice.Groupchat(t, room, "while down 2", "")
	alice.Sync(t)

	// Run 2: both, once each, archived and delayed, before anything live;
	// the bot answers the live message only.
	l = j.startListen(bot...)
	for _, body := range []string{"while down 1", "while down 2"} {
		line := l.waitLine(body, 15*time.Second)
		rec := lstRecord(t, line)
		if rec["archived"] != true || rec["delayed"] != true || rec["room"] != room || rec["nick"] != "alice" {
			t.Errorf("caught-up line: %s", line)
		}
	}
	alice.Groupchat(t, room, me.User+": live in run 2", "")
	l.waitLine("live in run 2", 15*time.Second)
	alice.WaitMessage(t, 15*time.Second, isGroupchat("bot-answer"))
	time.Sleep(time.Second) // a late answer to an archived message would be here by now
	if n := botAnswers(); n != 1 {
		t.Errorf("the bot answered %d times, want 1 (the live message only):\n%s", n, alice.Dump())
	}
	l.stop()
	want := map[string]int{"while down 1": 1, "while down 2": 1, "live in run 1": 0, "before the first run": 0, "live in run 2": 1}
	for body, n := range want {
		if got := mamCount(l, body); got != n {
			t.Errorf("run 2 printed %q %d times, want %d:\n%s", body, got, n, strings.Join(l.Lines(), "\n"))
		}
	}
	// The caught-up messages are in the history, marked archived, with
	// the nick: threads show gives them under the room.
	show := j.mustRun("", "threads", "show", "down-thread").Stdout
	if !strings.Contains(show, room+"/alice") || !strings.Contains(show, "while down 1") {
		t.Errorf("threads show of a caught-up room thread:\n%s", show)
	}

	// Run 3: nothing of the earlier runs again.
	l = j.startListen(bot...)
	alice.Groupchat(t, room, "live in run 3", "")
	l.waitLine("live in run 3", 15*time.Second)
	for _, line := range l.Lines() {
		if !strings.Contains(line, "live in run 3") && strings.Contains(line, `"kind":"groupchat"`) {
			t.Errorf("run 3 printed again: %s", line)
		}
	}
	if n := botAnswers(); n != 1 {
		t.Errorf("the bot answered %d times after run 3, want 1", n)
	}
}
