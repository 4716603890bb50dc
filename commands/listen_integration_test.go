package commands_test

// Integration tests of `jab listen` against the real Prosody: what it
// prints for what a contact sent, its exit statuses, and the state it
// keeps while it runs.

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// lstRecord parses one JSON Lines record.
func lstRecord(t *testing.T, line string) map[string]any {
	t.Helper()
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("not a JSON record: %q: %v", line, err)
	}
	return rec
}

// lstObserverFiles lists the observer records in j's state directory.
func lstObserverFiles(j *jab) []string {
	files, _ := filepath.Glob(filepath.Join(j.stateDir, "observer-*.json"))
	return files
}

// lstObserver returns the observer record, or nil while there is none.
func lstObserver(j *jab) *statefile.Observer {
	files := lstObserverFiles(j)
	if len(files) != 1 {
		return nil
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		return nil
	}
	var o statefile.Observer
	if json.Unmarshal(data, &o) != nil {
		return nil
	}
	return &o
}

// lstExited reports whether p has ended.
func lstExited(p *proc) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// TestListenTextOneLinePerMessage: each message is one line; newlines are
// escaped and no control character reaches the terminal.
func TestListenTextOneLinePerMessage(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	l := j.startListen()
	phone := alice.connect(t, "phone")

	// (No CR: XML end-of-line handling turns it into LF on the way.)
	// ESC cannot travel in XML (the peer's encoder turns it into U+FFFD);
	// the C1 CSI (U+009B), DEL and a bidi override can, and are as
	// dangerous on a terminal.
	phone.Chat(t, me.JID, "first line\nsecond \x1b[31mred\u009b[0m\x7f \u202eevil\tend-23", "")
	line := l.waitLine("end-23", 10*time.Second)
	phone.Chat(t, me.JID, "plain-23", "")
	plain := l.waitLine("plain-23", 10*time.Second)

	if lines := l.Lines(); len(lines) != 2 {
		t.Fatalf("want one line per message, got %q", lines)
	}
	if !strings.Contains(line, `first line\nsecond `) || !strings.Contains(line, `evil\tend-23`) {
		t.Errorf("newline and tab are not escaped: %q", line)
	}
	for _, bad := range []string{"\x1b", "\u009b", "\x7f", "\u202e", "\r", "\t"} {
		if strings.Contains(line, bad) {
			t.Errorf("raw %q on stdout: %q", bad, line)
		}
	}
	for _, l := range []string{line, plain} {
		f := strings.Fields(l)
		if len(f) < 4 || f[1] != phone.JID || f[2] != "chat" {
			t.Errorf("line %q: want TIME FROM chat THREAD …", l)
			continue
		}
		if _, err := time.Parse(time.RFC3339, f[0]); err != nil {
			t.Errorf("line %q: time: %v", l, err)
		}
	}
	if !strings.HasSuffix(plain, ": plain-23") {
		t.Errorf("plain line %q", plain)
	}
}

// TestListenJSONFields: --json prints every field; from is the sender's
// full JID.
func TestListenJSONFields(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	l := j.startListen("--json")
	phone := alice.connect(t, "phone")

	id := session.NewID()
	m := &session.Message{To: me.JID, Type: "chat", ID: id, Subject: "subj-24", Body: "body-24\nline two",
		Thread: &session.Thread{Value: "thread-24"}}
	m.SetChatState("active")
	before := time.Now()
	phone.Send(t, m)
	rec := lstRecord(t, l.waitLine("body-24", 10*time.Second))

	for _, k := range []string{"kind", "from", "to", "type", "id", "thread", "body", "subject", "chat_state", "delayed", "time"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("field %q missing in %v", k, rec)
		}
	}
	want := map[string]any{"kind": "message", "from": phone.JID, "to": me.JID, "type": "chat", "id": id,
		"thread": "thread-24", "body": "body-24\nline two", "subject": "subj-24", "chat_state": "active", "delayed": false}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %#v, want %#v", k, rec[k], v)
		}
	}
	ts, _ := rec["time"].(string)
	tm, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || tm.Before(before.Add(-time.Minute)) || tm.After(time.Now().Add(time.Minute)) {
		t.Errorf("time %q is not a current RFC 3339 time (%v)", ts, err)
	}
}

// TestListenPresence: with --presence, a directed presence to listen's full
// JID is printed as a presence record.
func TestListenPresence(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	l := j.startListen("--presence", "--json", "--resource", "listener")
	phone := alice.connect(t, "phone")

	phone.Presence(t, me.JID+"/listener", "", "away")
	rec := lstRecord(t, l.waitLine(phone.JID, 10*time.Second))
	for k, v := range map[string]any{"kind": "presence", "from": phone.JID, "type": "available", "show": "away"} {
		if rec[k] != v {
			t.Errorf("%s = %#v, want %#v (record %v)", k, rec[k], v, rec)
		}
	}
	phone.Presence(t, me.JID+"/listener", "unavailable", "")
	l.waitLine(`"type":"unavailable"`, 10*time.Second)
}

// TestListenCount: --count 2 exits 0 after exactly two messages.
func TestListenCount(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	l := j.startListen("--count", "2")
	phone := alice.connect(t, "phone")

	phone.Chat(t, me.JID, "count-1", "")
	l.waitLine("count-1", 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if lstExited(l) {
		t.Fatalf("listen --count 2 exited after one message (%d): %s", l.Code(), l.Stderr())
	}
	phone.Chat(t, me.JID, "count-2", "")
	phone.Chat(t, me.JID, "count-3", "")
	if code := l.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d, want 0; stderr: %s", code, l.Stderr())
	}
	lines := l.Lines()
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "count-1") || !strings.HasSuffix(lines[1], "count-2") {
		t.Fatalf("want exactly count-1 and count-2, got %q", lines)
	}
	if f := lstObserverFiles(j); len(f) != 0 {
		t.Errorf("observer record left behind: %v", f)
	}
}

// TestListenTimeout: --timeout 1s with no message exits 5 soon after.
func TestListenTimeout(t *testing.T) {
	needServer(t)
	t.Parallel()
	me := newAccount(t, "me")
	j := newJab(t, me)
	start := time.Now()
	l := j.start("listen", "--timeout", "1s")
	code := l.wait(10 * time.Second)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %s to time out after 1s", took)
	}
	cliWantError(t, result{Stdout: strings.Join(l.Lines(), "\n"), Stderr: l.Stderr(), Code: code}, 5)
	if f := lstObserverFiles(j); len(f) != 0 {
		t.Errorf("observer record left behind: %v", f)
	}
}

// TestListenSignals: SIGINT exits 130, SIGTERM 143, silently, and the
// observer record (present while listen runs) is removed.
func TestListenSignals(t *testing.T) {
	needServer(t)
	t.Parallel()
	for _, c := range []struct {
		name string
		sig  syscall.Signal
		code int
	}{{"SIGINT", syscall.SIGINT, 130}, {"SIGTERM", syscall.SIGTERM, 143}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			me := newAccount(t, "me")
			j := newJab(t, me)
			l := j.startListen()
			o := lstObserver(j)
			if o == nil || o.PID != l.Pid() || o.Account != me.JID {
				t.Fatalf("observer record %+v, want pid %d account %s", o, l.Pid(), me.JID)
			}
			l.signal(c.sig)
			if code := l.wait(10 * time.Second); code != c.code {
				t.Fatalf("exit %d after %s, want %d; stderr: %s", code, c.name, c.code, l.Stderr())
			}
			if strings.Contains(l.Stderr(), "jab: error:") {
				t.Errorf("a signal is not an error: %s", l.Stderr())
			}
			if f := lstObserverFiles(j); len(f) != 0 {
				t.Errorf("observer record left behind: %v", f)
			}
		})
	}
}

// TestListenDurableBeforePrint: when a line appears, the state file
// already holds what the message changed.
func TestListenDurableBeforePrint(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	l := j.startListen("--json")
	phone, tablet := alice.connect(t, "phone"), alice.connect(t, "tablet")

	phone.Chat(t, me.JID, "durable-1", "")
	rec := lstRecord(t, l.waitLine("durable-1", 10*time.Second))
	c := cliConv(t, j, alice.JID)
	if c.LockedTo != phone.JID || c.Thread == "" || c.Thread != rec["thread"] {
		t.Fatalf("when the line appeared the state had lock %q thread %q; want %q and the printed thread %v",
			c.LockedTo, c.Thread, phone.JID, rec["thread"])
	}
	tablet.Chat(t, me.JID, "durable-2", "tablet-thread")
	l.waitLine("durable-2", 10*time.Second)
	c = cliConv(t, j, alice.JID)
	if c.LockedTo != tablet.JID || c.Thread != "tablet-thread" {
		t.Fatalf("when the line appeared the state had lock %q thread %q; want %q and tablet-thread",
			c.LockedTo, c.Thread, tablet.JID)
	}
}

// cutProxy forwards loopback TCP connections to the test server; cut
// drops every connection open at that moment (a network failure) while
// new ones still go through.
func cutProxy(t *testing.T) (addr string, cut func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var open []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", srv.Addr)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			open = append(open, c, up)
			mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return ln.Addr().String(), func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range open {
			c.Close()
		}
		open = nil
	}
}

// TestListenReconnect: when the connection drops, listen says so on
// stderr, reconnects (a new observer record), and keeps printing.
func TestListenReconnect(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	addr, cut := cutProxy(t)
	l := j.startListen("--server", addr, "--resource", "listener")
	first := lstObserver(j)
	if first == nil {
		t.Fatal("no observer record")
	}
	phone := alice.connect(t, "phone")
	phone.Chat(t, me.JID+"/listener", "before-cut", "")
	l.waitLine("before-cut", 10*time.Second)

	cut()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(l.Stderr(), "connection lost") {
		if lstExited(l) {
			t.Fatalf("listen exited (%d) when the connection dropped: %s", l.Code(), l.Stderr())
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen reported no lost connection; stderr: %q", l.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		if o := lstObserver(j); o != nil && o.ConnectedSince.After(first.ConnectedSince) {
			break
		}
		if lstExited(l) {
			t.Fatalf("listen exited (%d) while reconnecting: %s", l.Code(), l.Stderr())
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen did not come back online; stderr: %q", l.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	phone.Chat(t, me.JID+"/listener", "after-reconnect", "")
	l.waitLine("after-reconnect", time.Until(deadline)+time.Second)
	if n := strings.Count(strings.Join(l.Lines(), "\n"), "before-cut"); n != 1 {
		t.Fatalf("the message before the cut was printed %d times", n)
	}
}

// TestListenConflict: a second listen on the same resource is refused up
// front, and a listen whose resource another session takes over exits
// with an error instead of taking it back (the two would take turns).
func TestListenConflict(t *testing.T) {
	needServer(t)
	t.Parallel()
	me := newAccount(t, "me")
	j := newJab(t, me)
	l := j.startListen("--resource", "listener")

	r := j.run("", "listen", "--resource", "listener")
	if r.Code != 1 || !strings.Contains(r.Stderr, "already runs") || !strings.Contains(r.Stderr, "--resource") {
		t.Fatalf("second listen on the same resource: %s", r)
	}
	if lstExited(l) {
		t.Fatalf("the first listen exited: %s", l.Stderr())
	}

	me.connect(t, "listener") // the server throws listen off
	if code := l.wait(15 * time.Second); code != 1 {
		t.Fatalf("listen exited %d, want 1; stderr: %s", code, l.Stderr())
	}
	if !strings.Contains(l.Stderr(), "took over") {
		t.Fatalf("stderr does not say the resource was taken over: %q", l.Stderr())
	}
}
