package commands_test

import (
	"testing"
	"time"
)

// TestSmokeLockFollowsReply is the product in one test: the first message
// goes to the bare JID, the contact's reply from /phone locks, the next
// message goes to /phone with the same thread.
func TestSmokeLockFollowsReply(t *testing.T) {
	needServer(t)
	_, alice, j, phone := meAndAlice(t)
	l := j.startListen()

	j.send(alice.JID, "first")
	got := phone.WaitBody(t, "first")
	if got.To != alice.JID {
		t.Fatalf("first message went to %q, want the bare JID %q", got.To, alice.JID)
	}
	thread := got.ThreadValue()
	phone.Chat(t, got.From, "reply", thread)
	l.waitLine("reply", 10*time.Second)

	j.send(alice.JID, "second")
	got2 := phone.WaitBody(t, "second")
	if got2.To != phone.JID {
		t.Fatalf("after the reply, message went to %q, want the locked %q", got2.To, phone.JID)
	}
	if got2.ThreadValue() != thread {
		t.Fatalf("thread changed: %q then %q", thread, got2.ThreadValue())
	}
}
