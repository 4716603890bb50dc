package commands

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
)

// Issue 13: the password never reaches a child: neither a bot's CMD nor a
// --password-cmd inherits JAB_PASSWORD. A room message's CMD gets the
// room and the sender's nick without losing our own JAB_NICK.
func TestChildrenDoNotInheritPassword(t *testing.T) {
	t.Setenv("JAB_PASSWORD", "leaked-secret")
	t.Setenv("JAB_OTHER", "kept")
	env := childEnv(execOptions{}, session.JID{Local: "me", Domain: "example.org"}, session.Event{From: "a@b/c"})
	joined := strings.Join(env, "\n")
	if strings.Contains(joined, "leaked-secret") || !strings.Contains(joined, "JAB_OTHER=kept") {
		t.Errorf("--exec environment: JAB_PASSWORD passed on, or other variables dropped:\n%s", joined)
	}
	res := runExec(context.Background(), `printf %s "${JAB_PASSWORD-unset}"`, 10*time.Second, "", env, 1000)
	if res.stdout != "unset" {
		t.Errorf("--exec child saw JAB_PASSWORD=%q", res.stdout)
	}
	line, err := firstLineOf(context.Background(), 10*time.Second, io.Discard, "sh", "-c", `printf '%s\n' "${JAB_PASSWORD-unset}"`)
	if err != nil || line != "unset" {
		t.Errorf("--password-cmd child saw JAB_PASSWORD=%q (err %v)", line, err)
	}
	t.Setenv("JAB_NICK", "ours")
	room := childEnv(execOptions{}, session.JID{Local: "me", Domain: "example.org"},
		session.Event{From: "room@muc.example.org/tybalt", Room: "room@muc.example.org", Nick: "tybalt"})
	joined = strings.Join(room, "\n")
	if !strings.Contains(joined, "JAB_NICK=ours") || !strings.Contains(joined, "JAB_FROM_NICK=tybalt") || !strings.Contains(joined, "JAB_ROOM=room@muc.example.org") {
		t.Errorf("room message: want JAB_ROOM, JAB_FROM_NICK and our own JAB_NICK kept:\n%s", joined)
	}
	if strings.Contains(strings.Join(env, "\n"), "JAB_ROOM") {
		t.Error("a one-to-one message exports JAB_ROOM")
	}
	if os.Getenv("JAB_PASSWORD") != "leaked-secret" {
		t.Error("jab's own environment changed")
	}
}
