package commands_test

// The hand-off (issue 11 §2): with a jab listen or repl of the account
// running on the same state directory, jab send gives its messages to it
// over the Unix socket instead of logging in. Each test proves which path
// a message took by the full JID the contact received it from: the
// observer's stable resource, or a one-shot "<stable>-<6 hex>".

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/peer"
	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// hoFrom is the full JID the running observer of j sends from.
func hoFrom(t *testing.T, j *jab) string {
	t.Helper()
	return j.acct.JID + "/" + readObserverResource(t, j)
}

// hoSocket is the hand-off socket of j's account.
func hoSocket(t *testing.T, j *jab) string {
	t.Helper()
	store, err := statefile.Open(j.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	return store.HandoffPath(j.acct.JID)
}

// hoWaitSocket waits until the observer serves its socket (it makes it
// once online, right after the observer record). A client that connects
// and goes without a word is no bad request.
func hoWaitSocket(t *testing.T, j *jab) string {
	t.Helper()
	path := hoSocket(t, j)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return path
		}
		if time.Now().After(deadline) {
			t.Fatalf("no hand-off socket at %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hoListen starts listen and waits for its socket.
func hoListen(t *testing.T, j *jab, args ...string) *proc {
	t.Helper()
	l := j.startListen(args...)
	hoWaitSocket(t, j)
	t.Cleanup(func() {
		// The binary is built with -race: the observer serving sends
		// concurrently must not race.
		if strings.Contains(l.Stderr(), "DATA RACE") {
			t.Errorf("listen raced:\n%s", l.Stderr())
		}
	})
	return l
}

// hoWantOneShot fails unless m came from a one-shot resource of j's
// account: the send logged in itself.
func hoWantOneShot(t *testing.T, what string, j *jab, m *session.Message) {
	t.Helper()
	res := cliResourceOf(t, m.From)
	if !strings.HasPrefix(m.From, j.acct.JID+"/") || cliOneShotRes.FindStringSubmatch(res) == nil {
		t.Fatalf("%s: received from %s, want a one-shot resource of %s (the direct path)", what, m.From, j.acct.JID)
	}
}

// hoWantFrom fails unless m came from the observer's full JID, on the
// wire too.
func hoWantFrom(t *testing.T, what string, p *peer.Peer, m *session.Message, from string) {
	t.Helper()
	if m.From != from {
		t.Fatalf("%s: received from %s, want the observer's %s (the hand-off)", what, m.From, from)
	}
	wire(t, p, m).wantAttr(t, what+" (on the wire)", "from", from)
}

// hoHistory returns the history records of j's account.
func hoHistory(t *testing.T, j *jab) []statefile.Record {
	t.Helper()
	store, err := statefile.Open(j.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	var recs []statefile.Record
	if _, err := store.History(statefile.DefaultHistoryMax).Scan(func(r statefile.Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestHandoffSend: a send through a running listen comes from listen's
// full JID, in the conversation's thread, needs no password and no
// login, says so with --debug, and records the state and history as the
// direct path does; --json and several recipients work through it; the
// socket goes when listen does.
func TestHandoffSend(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	bob := newAccount(t, "bob")
	j := newJab(t, me)
	ap, bp := cliOnline(t, alice), cliOnline(t, bob)
	l := j.startListen()
	// The socket is made before the observer record is written: whoever
	// sees the record (this harness, a script) finds it.
	if sc, err := net.Dial("unix", hoSocket(t, j)); err != nil {
		t.Fatalf("listen wrote its observer record before its hand-off socket: %v", err)
	} else {
		sc.Close()
	}
	from := hoFrom(t, j)

	// A password command that fails would end a login: the hand-off
	// needs none.
	r := j.mustRun("", "--debug", "--password-cmd", "exit 3", "send", alice.JID, "through listen")
	if want := fmt.Sprintf("jab: debug: sent through the running listen (pid %d) as %s", l.Pid(), from); !strings.Contains(r.Stderr, want) {
		t.Fatalf("--debug does not say %q:\n%s", want, r.Stderr)
	}
	if strings.Contains(r.Stderr, "SEND <") || strings.Contains(r.Stderr, "round trips") {
		t.Fatalf("the send logged in although listen runs:\n%s", r.Stderr)
	}
	m := ap.WaitBody(t, "through listen")
	hoWantFrom(t, "send through listen", ap, m, from)
	c := cliConv(t, j, alice.JID)
	if !cliUUIDv4.MatchString(m.ThreadValue()) || c.Thread != m.ThreadValue() {
		t.Fatalf("thread %q received, %q recorded", m.ThreadValue(), c.Thread)
	}
	// The next message continues the thread.
	j.send(alice.JID, "second")
	if m2 := ap.WaitBody(t, "second"); m2.ThreadValue() != c.Thread || m2.From != from {
		t.Fatalf("second message: thread %q from %s, want %q from %s", m2.ThreadValue(), m2.From, c.Thread, from)
	}
	out := 0
	for _, rec := range hoHistory(t, j) {
		if rec.Dir == statefile.DirOut && (rec.Body == "through listen" || rec.Body == "second") {
			out++
			if rec.Thread != c.Thread || rec.Peer != alice.JID || rec.ID == "" {
				t.Errorf("history record %+v", rec)
			}
		}
	}
	if out != 2 {
		t.Fatalf("%d history records of the messages sent, want 2", out)
	}

	// --json, two recipients.
	r = j.mustRun("", "send", "--json", alice.JID, bob.JID, "to both")
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want two JSON lines, got %q", r.Stdout)
	}
	peers := map[string]*peer.Peer{alice.JID: ap, bob.JID: bp}
	for _, line := range lines {
		var s session.Sent
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		p := peers[s.To]
		if p == nil || s.Type != "chat" {
			t.Fatalf("unexpected record %s", line)
		}
		delete(peers, s.To)
		m := p.WaitBody(t, "to both")
		hoWantFrom(t, "--json through listen", p, m, from)
		if m.ID != s.ID || m.ThreadValue() != s.Thread {
			t.Errorf("%s received id %q thread %q, --json said %q %q", s.To, m.ID, m.ThreadValue(), s.ID, s.Thread)
		}
	}

	// listen prints what it receives as before.
	chatWithID(t, ap, from, "answer to listen", m.ThreadValue())
	l.waitLine("answer to listen", 10*time.Second)

	path := hoSocket(t, j)
	l.stop()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("the socket outlived listen: %v", err)
	}
	j.send(alice.JID, "after listen")
	hoWantOneShot(t, "after listen ended", j, ap.WaitBody(t, "after listen"))
}

// TestHandoffRepl: a running repl takes sends as listen does.
func TestHandoffRepl(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	p := j.startPiped(true, "repl")
	waitObserver(t, j.stateDir, p.done, p.Stderr)
	hoWaitSocket(t, j)
	from := hoFrom(t, j)
	r := j.mustRun("", "--debug", "send", alice.JID, "through repl")
	if want := fmt.Sprintf("sent through the running repl (pid %d)", p.Pid()); !strings.Contains(r.Stderr, want) {
		t.Fatalf("--debug does not say %q:\n%s", want, r.Stderr)
	}
	m := phone.WaitBody(t, "through repl")
	hoWantFrom(t, "send through repl", phone, m, from)
	chatWithID(t, phone, from, "answer to repl", m.ThreadValue())
	p.waitLine("answer to repl", 10*time.Second)
}

// TestHandoffLines: --lines through the hand-off is streamed (each line
// reaches the contact before the next is written), in order, with its
// --json records, and exits 0 at the end of the input.
func TestHandoffLines(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	hoListen(t, j)
	from := hoFrom(t, j)
	s := j.startPiped(true, "send", "--lines", "--json", alice.JID)
	var ids []string
	for i, body := range []string{"line one", "line two", "line three"} {
		s.line(body)
		m := phone.WaitBody(t, body)
		hoWantFrom(t, "--lines through listen", phone, m, from)
		// The record of the line is printed before the next is read.
		s.waitLine(m.ID, 10*time.Second)
		if len(s.Lines()) != i+1 {
			t.Fatalf("stdout %q after line %d", s.Lines(), i+1)
		}
		ids = append(ids, m.ID)
	}
	s.stdin.Close()
	if code := s.wait(20 * time.Second); code != 0 {
		t.Fatalf("send --lines exit %d: %s", code, s.Stderr())
	}
	if got := cliBodies(phone.Messages(), j.acct.JID+"/"); !slices.Equal(got, []string{"line one", "line two", "line three"}) {
		t.Fatalf("received %q", got)
	}
	var hist []string
	for _, r := range hoHistory(t, j) {
		if r.Dir == statefile.DirOut {
			hist = append(hist, r.ID)
		}
	}
	if !slices.Equal(hist, ids) {
		t.Fatalf("history ids %q, sent %q", hist, ids)
	}
}

// TestHandoffReplyFork: --reply-to and --fork through the hand-off: the
// reply goes to the full JID it answers, in its thread, with In-Reply-To;
// the fork starts a child thread of the current one.
func TestHandoffReplyFork(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)
	l := hoListen(t, j)
	from := hoFrom(t, j)
	const thread = "f3b1c2d4-0000-4000-8000-000000000001"
	id := chatWithID(t, phone, me.JID, "question for you", thread)
	l.waitLine("question for you", 10*time.Second)

	j.send(alice.JID, "the answer", "--reply-to", id)
	m := phone.WaitBody(t, "the answer")
	hoWantFrom(t, "--reply-to through listen", phone, m, from)
	w := wire(t, phone, m)
	w.wantAttr(t, "--reply-to goes to the full JID it answers", "to", phone.JID)
	if got := w.one(t, "--reply-to keeps the thread", "thread").Text; got != thread {
		t.Fatalf("reply in thread %q, want %q", got, thread)
	}
	if got := inReplyTo(m); got != id {
		t.Fatalf("In-Reply-To %q, want %q", got, id)
	}

	j.send(alice.JID, "a side question", "--fork")
	m = phone.WaitBody(t, "a side question")
	hoWantFrom(t, "--fork through listen", phone, m, from)
	th := wire(t, phone, m).one(t, "--fork (on the wire)", "thread")
	th.wantAttr(t, "--fork names the parent thread", "parent", thread)
	if th.Text == thread || !cliUUIDv4.MatchString(th.Text) {
		t.Fatalf("child thread %q", th.Text)
	}
}

// TestHandoffReceipt: --receipt through the hand-off: exit 0 once the
// contact's client confirmed, 5 with the count after --timeout otherwise.
func TestHandoffReceipt(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	hoListen(t, j)
	from := hoFrom(t, j)
	done := make(chan result, 1)
	go func() {
		r, _ := j.exec("", "send", "--receipt", alice.JID, "please confirm")
		done <- r
	}()
	m := phone.WaitBody(t, "please confirm")
	hoWantFrom(t, "--receipt through listen", phone, m, from)
	wire(t, phone, m).one(t, "XEP-0184 request through the hand-off", "{urn:xmpp:receipts}request")
	phone.Send(t, session.ReceiptFor(m))
	if r := <-done; r.Code != 0 {
		t.Fatalf("want exit 0 after the receipt; %s", r)
	}
	r := j.run("", "--timeout", "2s", "send", "--receipt", alice.JID, "nobody confirms")
	cliWantError(t, r, 5, "0 of 1 messages confirmed")
	if !strings.Contains(cliHint(r), "XEP-0184") {
		t.Fatalf("hint %q, want the direct path's", cliHint(r))
	}
	hoWantFrom(t, "unconfirmed --receipt through listen", phone, phone.WaitBody(t, "nobody confirms"), from)
}

// TestHandoffWaitReply: --wait-reply through the hand-off prints the
// contact's answer to listen's full JID, whose lock is saved before send
// exits; without an answer, exit 5 as on the direct path.
func TestHandoffWaitReply(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	l := hoListen(t, j)
	from := hoFrom(t, j)
	done := make(chan result, 1)
	go func() {
		r, _ := j.exec("", "send", "--wait-reply", "20s", alice.JID, "Deploy? yes/no")
		done <- r
	}()
	q := phone.WaitBody(t, "Deploy? yes/no")
	hoWantFrom(t, "--wait-reply through listen", phone, q, from)
	chatWithID(t, phone, q.From, "unrelated", "other-thread")
	chatWithID(t, phone, q.From, "yes", q.ThreadValue())
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("send --wait-reply did not return")
	}
	if r.Code != 0 || r.Stdout != "yes\n" {
		t.Fatalf("want exit 0 and stdout \"yes\\n\"; %s", r)
	}
	if c := cliConv(t, j, alice.JID); c.LockedTo != phone.JID {
		t.Fatalf("locked to %q after the reply, want %q", c.LockedTo, phone.JID)
	}
	l.waitLine("yes", 10*time.Second)

	go func() {
		r, _ := j.exec("", "send", "--json", "--wait-reply=20s", alice.JID, "Again?")
		done <- r
	}()
	q = phone.WaitBody(t, "Again?")
	chatWithID(t, phone, q.From, "sure", "")
	r = <-done
	var ev struct{ Body, From string }
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &ev) != nil || ev.Body != "sure" || ev.From != phone.JID {
		t.Fatalf("want exit 0 and a JSON record of \"sure\" from %s; %s", phone.JID, r)
	}

	r = j.run("", "send", "--wait-reply", "1s", alice.JID, "anyone?")
	cliWantError(t, r, 5, "no reply from "+alice.JID+" within 1s")
}

// TestHandoffBounce: a bounce through the hand-off is exit 5 naming the
// recipient, as on the direct path.
func TestHandoffBounce(t *testing.T) {
	needServer(t)
	t.Parallel()
	me := newAccount(t, "me")
	j := newJab(t, me)
	l := hoListen(t, j)
	ghost := fmt.Sprintf("ghost%d@%s", userN.Add(1), srv.Domain)
	r := j.run("", "--debug", "send", ghost, "anyone there?")
	if r.Code != 5 || !strings.Contains(r.Stderr, "not delivered") || !strings.Contains(r.Stderr, ghost) {
		t.Fatalf("want exit 5 naming %s; %s", ghost, r)
	}
	if !strings.Contains(r.Stderr, fmt.Sprintf("sent through the running listen (pid %d)", l.Pid())) {
		t.Fatalf("the bounce did not go through the hand-off:\n%s", r.Stderr)
	}
	cliState(t, j)
}

// TestHandoffStale: a socket left by a listen that was killed is noticed
// and the send logs in itself.
func TestHandoffStale(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	l := hoListen(t, j)
	l.signal(syscall.SIGKILL)
	l.wait(10 * time.Second)
	if _, err := os.Lstat(hoSocket(t, j)); err != nil {
		t.Fatalf("a killed listen leaves its socket: %v", err)
	}
	r := j.mustRun("", "--debug", "send", alice.JID, "after the crash")
	if !strings.Contains(r.Stderr, "no hand-off: stale socket") || strings.Contains(r.Stderr, "warning") {
		t.Fatalf("--debug does not name the stale socket, or warns:\n%s", r.Stderr)
	}
	hoWantOneShot(t, "stale socket", j, phone.WaitBody(t, "after the crash"))
	// A new listen replaces it.
	hoListen(t, j)
	j.send(alice.JID, "new listen")
	hoWantFrom(t, "after a new listen", phone, phone.WaitBody(t, "new listen"), hoFrom(t, j))
}

// TestHandoffNotSocket: a file at the socket's path that is not a socket
// is left alone by listen and ignored by send with a warning.
func TestHandoffNotSocket(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	path := hoSocket(t, j)
	if err := os.WriteFile(path, []byte("not a socket"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := j.startListen()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(l.Stderr(), "not a socket of ours") {
		if time.Now().After(deadline) {
			t.Fatalf("listen did not say why it offers no hand-off: %s", l.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := j.mustRun("", "send", alice.JID, "not through a file")
	if !strings.Contains(r.Stderr, "jab: warning: "+path+" is not a socket; ignored; logging in") {
		t.Fatalf("no warning about %s:\n%s", path, r.Stderr)
	}
	hoWantOneShot(t, "not a socket", j, phone.WaitBody(t, "not through a file"))
	if data, _ := os.ReadFile(path); string(data) != "not a socket" {
		t.Fatalf("the file was changed: %q", data)
	}
}

// TestHandoffBadClients: a client that sends garbage costs one line on
// listen's stderr and listen keeps serving; a request for another account
// is refused; a send of another account never reaches this listen.
func TestHandoffBadClients(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)
	l := hoListen(t, j)
	path := hoSocket(t, j)
	exchange := func(send string) string {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, send)
		c.(*net.UnixConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		return string(b)
	}
	before := strings.Count(l.Stderr(), "\n")
	if got := exchange("\x16\x03\x01garbage, not JSON\n"); got != "" {
		t.Fatalf("garbage was answered %q", got)
	}
	waitStderr := func(n int) {
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(l.Stderr(), "\n") < n {
			if time.Now().After(deadline) {
				t.Fatalf("listen logged nothing: %q", l.Stderr())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitStderr(before + 1)
	lines := strings.Split(strings.TrimSuffix(l.Stderr(), "\n"), "\n")[before:]
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "jab: hand-off: ignored a bad request from pid") {
		t.Fatalf("want one line about the bad request, got %q", lines)
	}

	other := newAccount(t, "other")
	req := fmt.Sprintf(`{"v":2,"op":"send","send":{"account":%q,"to":[%q],"type":"chat","lock_idle":0,"history":false}}`+"\n", other.JID, alice.JID)
	if got := exchange(req); !strings.Contains(got, `"refused":"account"`) {
		t.Fatalf("a request for another account was answered %q", got)
	}
	waitStderr(before + 2)
	if !strings.Contains(l.Stderr(), "for another account") {
		t.Fatalf("the refusal was not logged: %s", l.Stderr())
	}
	phone.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool { return m.Body != "" && strings.HasPrefix(m.From, me.JID) })

	// Still serving.
	j.send(alice.JID, "after the garbage")
	hoWantFrom(t, "after the bad clients", phone, phone.WaitBody(t, "after the garbage"), hoFrom(t, j))

	// Another account on the same state directory logs in itself.
	jo := newJab(t, other)
	jo.stateDir = j.stateDir
	r := jo.mustRun("", "--debug", "send", alice.JID, "from the other account")
	if strings.Contains(r.Stderr, "sent through") {
		t.Fatalf("another account's send went through this listen:\n%s", r.Stderr)
	}
	hoWantOneShot(t, "another account", jo, phone.WaitBody(t, "from the other account"))
}

// TestHandoffObserverDies: once listen took a message, a listen that dies
// before it confirmed makes send exit 5 saying the delivery is unknown,
// and the message is not sent again (by the direct path or otherwise).
func TestHandoffObserverDies(t *testing.T) {
	needServer(t)
	t.Parallel()
	t.Run("lines", func(t *testing.T) {
		_, alice, j, phone := meAndAlice(t)
		l := hoListen(t, j)
		from := hoFrom(t, j)
		s := j.startPiped(true, "send", "--lines", alice.JID)
		s.line("taken once")
		hoWantFrom(t, "before the crash", phone, phone.WaitBody(t, "taken once"), from)
		l.signal(syscall.SIGKILL)
		l.wait(10 * time.Second)
		// send may have noticed already (the history of the line was
		// still being written): then it has exited and this write fails.
		io.WriteString(s.stdin, "after the crash\n")
		s.stdin.Close()
		code := s.wait(20 * time.Second)
		if code != 5 || !strings.Contains(s.Stderr(), "delivery unknown") || !strings.Contains(s.Stderr(), "not sent again") {
			t.Fatalf("want exit 5 and delivery unknown, got %d: %s", code, s.Stderr())
		}
		phone.NoMessage(t, time.Second, func(m *session.Message) bool { return m.Body == "after the crash" })
		if got := cliBodies(phone.Messages(), j.acct.JID+"/"); !slices.Equal(got, []string{"taken once"}) {
			t.Fatalf("received %q, want the one message once", got)
		}
	})
	t.Run("receipt", func(t *testing.T) {
		_, alice, j, phone := meAndAlice(t)
		l := hoListen(t, j)
		done := make(chan result, 1)
		go func() {
			r, _ := j.exec("", "send", "--receipt", alice.JID, "confirm me")
			done <- r
		}()
		hoWantFrom(t, "before the crash", phone, phone.WaitBody(t, "confirm me"), hoFrom(t, j))
		// listen now waits for the receipt, which never comes.
		time.Sleep(200 * time.Millisecond)
		l.signal(syscall.SIGKILL)
		r := <-done
		cliWantError(t, r, 5, "delivery unknown", fmt.Sprintf("pid %d", l.Pid()))
		time.Sleep(time.Second)
		phone.Sync(t)
		if got := cliBodies(phone.Messages(), j.acct.JID+"/"); !slices.Equal(got, []string{"confirm me"}) {
			t.Fatalf("received %q, want the one message once", got)
		}
	})
}

// TestHandoffLoad: 50 concurrent sends of three lines each through one
// listen: every message arrives exactly once, each sender's in order.
func TestHandoffLoad(t *testing.T) {
	needServer(t)
	t.Parallel()
	const n, per = 50, 3
	_, alice, j, phone := meAndAlice(t)
	hoListen(t, j)
	from := hoFrom(t, j)
	var wg sync.WaitGroup
	results := make([]result, n)
	errs := make([]error, n)
	for i := range n {
		var in strings.Builder
		for k := range per {
			fmt.Fprintf(&in, "sender %d line %d\n", i, k)
		}
		wg.Go(func() { results[i], errs[i] = j.exec(in.String(), "--debug", "send", "--lines", alice.JID) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || results[i].Code != 0 {
			t.Fatalf("send %d: %v %s", i, errs[i], results[i])
		}
		if !strings.Contains(results[i].Stderr, "sent through the running listen") {
			t.Fatalf("send %d did not hand off:\n%s", i, results[i].Stderr)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(cliBodies(phone.Messages(), j.acct.JID+"/")) < n*per && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	phone.Sync(t)
	next := make([]int, n)
	count := 0
	for _, m := range phone.Messages() {
		if !strings.HasPrefix(m.From, j.acct.JID+"/") || m.Body == "" {
			continue
		}
		count++
		if m.From != from {
			t.Fatalf("message %q from %s, want %s", m.Body, m.From, from)
		}
		var i, k int
		if _, err := fmt.Sscanf(m.Body, "sender %d line %d", &i, &k); err != nil || i < 0 || i >= n {
			t.Fatalf("unexpected body %q", m.Body)
		}
		if k != next[i] {
			t.Fatalf("sender %d: line %d arrived when line %d was due (a duplicate or out of order)", i, k, next[i])
		}
		next[i]++
	}
	if count != n*per {
		t.Fatalf("received %d messages, want %d", count, n*per)
	}
}

// TestHandoffOff: --no-handoff, JAB_NO_HANDOFF and the config key
// no_handoff make send log in itself although listen runs.
func TestHandoffOff(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	hoListen(t, j)
	r := j.mustRun("", "--debug", "--no-handoff", "send", alice.JID, "flag off")
	if !strings.Contains(r.Stderr, "no hand-off: --no-handoff") {
		t.Fatalf("--debug does not say why:\n%s", r.Stderr)
	}
	hoWantOneShot(t, "--no-handoff", j, phone.WaitBody(t, "flag off"))

	je := *j
	je.extraEnv = append(slices.Clone(j.extraEnv), "JAB_NO_HANDOFF=1")
	je.mustRun("", "send", alice.JID, "env off")
	hoWantOneShot(t, "JAB_NO_HANDOFF=1", j, phone.WaitBody(t, "env off"))

	conf := filepath.Join(j.home, "config.toml")
	if err := os.WriteFile(conf, []byte("no_handoff = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	j.mustRun("", "--config", conf, "send", alice.JID, "config off")
	hoWantOneShot(t, "no_handoff = true", j, phone.WaitBody(t, "config off"))

	j.send(alice.JID, "on again")
	hoWantFrom(t, "without the switch", phone, phone.WaitBody(t, "on again"), hoFrom(t, j))
}

// TestHandoffBadInput: what is wrong with the message itself is refused
// through the hand-off exactly as on the direct path (same exit status,
// error and hint), sends nothing and leaves the state file as it was;
// misuse of the command line never reaches the observer.
func TestHandoffBadInput(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)
	j.send(alice.JID, "primer")
	phone.WaitBody(t, "primer")
	l := hoListen(t, j)
	before := j.readState()
	big := strings.Repeat("x", 300000)
	for _, c := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"over the stanza limit", big, []string{"send", alice.JID}, 1, "limit"},
		{"fork without a parent", "", []string{"send", "--fork", "carol@" + srv.Domain, "hi"}, 2, "no thread to fork from"},
		{"reply to an unknown id", "", []string{"send", "--reply-to", "no-such-id", alice.JID, "hi"}, 2, "no message with id"},
		{"invalid UTF-8 in lines", "caf\xe9\n", []string{"send", "--lines", alice.JID}, 2, "UTF-8"},
		{"empty message", "", []string{"send", alice.JID, " "}, 2, "empty"},
		{"malformed recipient", "", []string{"send", "alice@@" + srv.Domain, "hi"}, 2, "recipient"},
	} {
		t.Run(c.name, func(t *testing.T) {
			jj := *j
			jj.t = t
			direct := jj.run(c.stdin, append([]string{"--no-handoff"}, c.args...)...)
			r := jj.run(c.stdin, c.args...)
			cliWantError(t, r, c.code, c.want)
			if r.Code != direct.Code || r.Stderr != direct.Stderr {
				t.Errorf("through listen: %s\ndirect: %s", r, direct)
			}
			if after := jj.readState(); !bytes.Equal(before, after) {
				t.Errorf("state file changed:\nbefore: %s\nafter:  %s", before, after)
				before = after
			}
		})
	}
	// A bad line among good ones: the good ones go through the hand-off,
	// and the exit status says some were skipped.
	r := j.run("good one\ncaf\xe9\ngood two\n", "send", "--lines", alice.JID)
	if r.Code != 1 || !strings.Contains(r.Stderr, "line 2 is not valid UTF-8") {
		t.Fatalf("want exit 1 naming line 2; %s", r)
	}
	from := hoFrom(t, j)
	hoWantFrom(t, "good lines around a bad one", phone, phone.WaitBody(t, "good two"), from)
	phone.Sync(t)
	if got := cliBodies(phone.Messages(), me.JID+"/"); !slices.Equal(got, []string{"primer", "good one", "good two"}) {
		t.Fatalf("received %q", got)
	}
	if strings.Contains(l.Stderr(), "hand-off") {
		t.Fatalf("listen complained: %s", l.Stderr())
	}
}
