package commands_test

// How each test server delivers what jab's rules depend on (issue 13,
// the README's "Tested servers", docs/SERVERS.md). These tests hold on
// every server; where the servers differ they log what this one did, so
// that `go test -v -run TestServerDelivery` with each JAB_TEST_SERVER
// shows the difference.

import (
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
)

// TestServerDeliveryBareJID: a chat to alice's bare JID while she has two
// available resources of equal priority (RFC 6121 §8.5.2.1.1) reaches at
// least one of them, and jab, which sent to the bare JID, locks to the
// one that answers (item 3): whatever the server chose.
func TestServerDeliveryBareJID(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	laptop := alice.connect(t, "laptop")
	laptop.Available(t)
	phone.Sync(t)
	j.send(alice.JID, "to the bare JID")
	got := map[string]bool{}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && len(got) < 2 {
		for name, p := range map[string]interface{ Messages() []*session.Message }{"phone": phone, "laptop": laptop} {
			for _, m := range p.Messages() {
				if m.Body == "to the bare JID" {
					got[name] = true
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(got) == 0 {
		t.Fatal("neither resource got the message")
	}
	t.Logf("%s delivered a chat to the bare JID to %d of 2 resources of priority 0: %v", serverKind.Describe(), len(got), got)
	l := j.startListen()
	laptop.Chat(t, j.acct.JID, "answer from the laptop", "")
	l.waitLine("answer from the laptop", 10*time.Second)
	l.stop()
	j.send(alice.JID, "after the answer")
	m := laptop.WaitBody(t, "after the answer")
	if m.To != alice.JID+"/laptop" {
		t.Errorf("after the laptop answered, jab sent to %q, want the laptop (item 3)", m.To)
	}
}
