package commands_test

// Integration tests of listen's filters and output framing against the
// real Prosody.

import (
	"strings"
	"testing"
	"time"
)

// TestListenFilterFromMatch: --from with a full JID and --match print only
// what that resource sent with a matching body; the others do not count
// toward --count.
func TestListenFilterFromMatch(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	l := j.startListen("--from", alice.JID+"/phone", "--match", "^x", "--count", "2")
	phone, laptop := alice.connect(t, "phone"), alice.connect(t, "laptop")

	laptop.Chat(t, me.JID, "x2", "")
	laptop.Sync(t)
	phone.Chat(t, me.JID, "x1", "")
	phone.Chat(t, me.JID, "y1", "")
	phone.Chat(t, me.JID, "x-end", "")
	if code := l.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d, want 0 after two printed messages; stderr: %s", code, l.Stderr())
	}
	lines := l.Lines()
	if len(lines) != 2 || !strings.Contains(lines[0], " "+phone.JID+" chat ") || !strings.HasSuffix(lines[0], ": x1") || !strings.HasSuffix(lines[1], ": x-end") {
		t.Fatalf("want only phone's x1 and x-end, got %q", lines)
	}
}

// TestListenFormatNull: --format with --null prints NUL-terminated records
// with the body verbatim, newline included.
func TestListenFormatNull(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	l := j.startListen("--format", "{{.FromBare}}|{{.Body}}", "--null", "--count", "2")
	phone := alice.connect(t, "phone")

	phone.Chat(t, me.JID, "first\nsecond \u202e\t", "")
	phone.Chat(t, me.JID, "third", "")
	if code := l.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d, want 0; stderr: %s", code, l.Stderr())
	}
	// The harness splits stdout at newlines; put them back.
	out := strings.Join(l.Lines(), "\n")
	want := alice.JID + "|first\nsecond \u202e\t\x00" + alice.JID + "|third\x00"
	if out != want {
		t.Fatalf("stdout %q, want %q", out, want)
	}
}

// TestListenFilterTimeout: messages a filter drops are not activity for
// --timeout: listen still gives up (exit 5) while only dropped ones arrive.
func TestListenFilterTimeout(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	laptop := alice.connect(t, "laptop")
	l := j.startListen("--from", alice.JID+"/phone", "--timeout", "2s")
	start := time.Now()
	stop := time.After(4 * time.Second)
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-stop:
			done = true
		case <-l.done:
			done = true
		case <-tick.C:
			laptop.Chat(t, me.JID, "not for this listen", "")
		}
	}
	if code := l.wait(5 * time.Second); code != 5 {
		t.Fatalf("listen exited %d, want 5 (timeout); stderr: %s", code, l.Stderr())
	}
	if d := time.Since(start); d > 3500*time.Millisecond {
		t.Fatalf("listen took %s to time out: the dropped messages kept it alive", d)
	}
	if lines := l.Lines(); len(lines) != 0 {
		t.Fatalf("printed %q", lines)
	}
}
