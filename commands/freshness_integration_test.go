package commands_test

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// TestRulesFreshnessTrusted: D-9. A lock recorded while a live listen has
// been watching is used as it is, with no ping: /phone here never answers
// pings, so a ping would time out and send the message to the bare JID.
func TestRulesFreshnessTrusted(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndSilentAlice(t)
	l := j.startListen()
	rulesLock(t, l, me, phone, "lock", "T-trusted")
	j.send(alice.JID, "trusted", "--timeout", "2s")
	m := phone.WaitBody(t, "trusted")
	rulesTo(t, "D-9 (a lock watched by a live listen is trusted, not pinged)", m, phone.JID)
}

// TestRulesFreshnessRestartedListen: D-9. A lock recorded before the
// running listen connected is not trusted: it is pinged, and a resource
// that does not answer makes the message go to the bare JID, with the
// unlock recorded.
func TestRulesFreshnessRestartedListen(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndSilentAlice(t)
	l := j.startListen()
	rulesLock(t, l, me, phone, "lock", "T-restart")
	l.stop()
	l.wait(5 * time.Second)
	// A new listen: it has not seen alice's presence since the lock (no
	// subscription, so nothing arrives at login and the lock stays).
	j.startListen()
	if c, _ := rulesConv(t, j, alice.JID); c.LockedTo != phone.JID {
		t.Fatalf("setup: lock lost on restart: %+v", c)
	}
	j.send(alice.JID, "after-restart", "--timeout", "2s")
	m := phone.WaitBody(t, "after-restart")
	rulesTo(t, "D-9 (a lock older than the observer is checked; no answer falls back to the bare JID)", m, alice.JID)
	if c, _ := rulesConv(t, j, alice.JID); c.LockedTo != "" || c.UnlockReason != session.UnlockCheck {
		t.Fatalf("D-9: state after the failed check: %+v", c)
	}
}

// TestRulesFreshnessLockSeen: D-9 with lock_seen. A lock older than the
// restarted listen is trusted again, without a ping, once the locked
// resource has written since the listen connected: the listen has watched
// every presence since that message.
func TestRulesFreshnessLockSeen(t *testing.T) {
	needServer(t)
	t.Parallel()
	// phone never answers a ping: a ping would time out and send the
	// message to the bare JID.
	me, alice, j, phone := meAndSilentAlice(t)
	l := j.startListen()
	rulesLock(t, l, me, phone, "lock", "T-seen")
	l.stop()
	l.wait(5 * time.Second)
	l2 := j.startListen()
	rulesLock(t, l2, me, phone, "again", "T-seen")
	j.send(alice.JID, "after-seen", "--timeout", "2s")
	rulesTo(t, "D-9 (a lock confirmed since the observer connected is trusted)", phone.WaitBody(t, "after-seen"), phone.JID)
	if n := len(phone.IQs()); n != 0 {
		t.Fatalf("D-9: send pinged a lock the observer had seen confirmed (%d IQs)", n)
	}
}

// pipeSend starts `jab send --lines` fed through a pipe, line by line.
func (j *jab) pipeSend(args ...string) *proc {
	j.t.Helper()
	return j.startPiped(true, append([]string{"send", "--lines"}, args...)...)
}

// TestCLILinesFollowState: XEP-0296 §2.3/§2.4 and XEP-0085 §5.7 during a
// long `send --lines`. When a running listen records a <gone/> from the
// locked /phone, the next line goes to the bare JID with a new thread.
func TestCLILinesFollowState(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)
	l := j.startListen()
	rulesLock(t, l, me, phone, "lock", "T-old")

	p := j.pipeSend(alice.JID)
	p.line("line-1")
	m1 := phone.WaitBody(t, "line-1")
	rulesTo(t, "locked before the gone", m1, phone.JID)
	rulesThread(t, "thread before the gone", m1, "T-old")

	gone := &session.Message{To: me.JID, Type: "chat", Thread: &session.Thread{Value: "T-old"}}
	gone.SetChatState("gone")
	phone.Send(t, gone)
	rulesWaitConv(t, j, alice.JID, "the unlock from <gone/>", func(c statefile.Conversation) bool {
		return c.LockedTo == "" && c.UnlockReason == session.UnlockGone
	})
	p.line("line-2")
	m2 := phone.WaitBody(t, "line-2")
	rulesTo(t, "XEP-0296 §2.4: after <gone/> the next line goes to the bare JID", m2, alice.JID)
	if m2.ThreadValue() == "" || m2.ThreadValue() == "T-old" {
		t.Fatalf("XEP-0085 §5.7: after <gone/> the next line carries thread %q, want a new one", m2.ThreadValue())
	}
	rulesV4(t, m2.ThreadValue())
	p.stdin.Close()
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("jab send --lines exited %d: %s", code, p.Stderr())
	}
}

// TestCLILinesReplyToSendResource: a contact answering the send's own full
// JID during a --lines run is not lost: the reply locks the conversation
// and is shown on stderr.
func TestCLILinesReplyToSendResource(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	p := j.pipeSend(alice.JID)
	p.line("question")
	q := phone.WaitBody(t, "question")
	phone.Chat(t, q.From, "answer-to-send", q.ThreadValue())
	rulesWaitConv(t, j, alice.JID, "the lock from the reply", func(c statefile.Conversation) bool {
		return c.LockedTo == phone.JID
	})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.Stderr(), "answer-to-send") {
		if time.Now().After(deadline) {
			t.Fatalf("the reply was not shown on stderr: %q", p.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.stdin.Close()
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, p.Stderr())
	}
}

// TestCLILinesSignal: a signal stops `send --lines` while it waits for
// input (exit 143), and a line written after the signal is not sent.
func TestCLILinesSignal(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	p := j.pipeSend(alice.JID)
	p.line("before-signal")
	phone.WaitBody(t, "before-signal")
	p.signal(syscall.SIGTERM)
	if code := p.wait(3 * time.Second); code != 143 {
		t.Fatalf("exit %d after SIGTERM, want 143; stderr: %s", code, p.Stderr())
	}
	io.WriteString(p.stdin, "after-signal\n")
	phone.NoMessage(t, 500*time.Millisecond, func(m *session.Message) bool { return m.Body == "after-signal" })
}

// TestCLILinesInvalidUTF8: a line that is not UTF-8 is skipped with a
// warning naming it; the others are sent, and the exit status is 1.
func TestCLILinesInvalidUTF8(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	r := j.run("ok-1\ncaf\xe9\nok-2\n", "send", "--lines", alice.JID)
	if r.Code != 1 || !strings.Contains(r.Stderr, "line 2") || !strings.Contains(r.Stderr, "jab: warning:") {
		t.Fatalf("want exit 1 naming line 2: %s", r)
	}
	phone.WaitBody(t, "ok-1")
	phone.WaitBody(t, "ok-2")
	if n := len(phone.Messages()); n != 2 {
		t.Fatalf("phone got %d messages, want 2:\n%s", n, phone.Dump())
	}
}

// TestCLILinesCountsThread: every line of a --lines run is counted in the
// thread index and recorded in the history, not just the first.
func TestCLILinesCountsThread(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	j.mustRun("one\ntwo\nthree\n", "send", "--lines", alice.JID)
	m := phone.WaitBody(t, "three")
	var st statefile.State
	if err := json.Unmarshal(j.readState(), &st); err != nil {
		t.Fatal(err)
	}
	th := st.Accounts[j.acct.JID].Threads[m.ThreadValue()]
	if th == nil || th.Count != 3 {
		t.Fatalf("thread index entry %+v, want count 3", th)
	}
	data, err := os.ReadFile(filepath.Join(j.stateDir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"dir":"out"`); n != 3 {
		t.Fatalf("history has %d outgoing records, want 3:\n%s", n, data)
	}
}
