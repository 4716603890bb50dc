package commands_test

// The REPL in a group chat room, in a real terminal (tmux): the prompt
// names the room and our nick, and Tab completes the occupants' nicks.

import (
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
)

// TestRoomReplTerminal: after /join the prompt is "ROOM as NICK #new>",
// then the topic thread of the first line; Tab at the start of a line
// completes an occupant's nick as "nick: ", and /msg's nick too; what the
// occupants received is checked.
func TestRoomReplTerminal(t *testing.T) {
	needServer(t)
	t.Parallel()
	room, alice := teamRoom(t, nil)
	bob := newAccount(t, "bob").connect(t, "x")
	bob.Join(t, room, "bob", "")
	me := newAccount(t, "me")
	j := newJab(t, me)
	tr := j.startReplTmux()
	tr.typeText("/join " + room)
	tr.key("Enter")
	joinedBy(t, alice, room, me.User, 0)
	prompt := room + " as " + me.User + " "
	tr.waitScreen("the room's prompt", 10*time.Second, func(s string) bool { return strings.HasSuffix(lastLine(s), prompt+"#new>") })

	tr.typeText("al")
	tr.key("Tab")
	tr.waitScreen("alice's nick completed", 10*time.Second, func(s string) bool { return strings.HasSuffix(lastLine(s), "#new> alice:") })
	tr.typeText("ship it")
	tr.key("Enter")
	m := alice.WaitMessage(t, 10*time.Second, isGroupchat("alice: ship it"))
	if m.From != room+"/"+me.User || m.ThreadValue() == "" {
		t.Fatalf("the line reached the room as %s", alice.RawOf(t, m))
	}
	tr.waitScreen("the topic thread in the prompt", 10*time.Second, func(s string) bool {
		return strings.HasSuffix(lastLine(s), prompt+"#"+m.ThreadValue()[:8]+">")
	})

	tr.typeText("/msg b")
	tr.key("Tab")
	tr.waitScreen("bob's nick completed", 10*time.Second, func(s string) bool { return strings.HasSuffix(lastLine(s), "> /msg bob") })
	tr.typeText("psst")
	tr.key("Enter")
	pm := bob.WaitMessage(t, 10*time.Second, func(m *session.Message) bool { return m.Body == "psst" })
	if pm.Type != "chat" || pm.From != room+"/"+me.User {
		t.Fatalf("/msg: %s", bob.RawOf(t, pm))
	}
}
