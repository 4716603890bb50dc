package commands_test

// Integration tests of the scripting features against the real Prosody:
// bot mode (listen --exec), ask-and-wait (send --wait-reply) and delivery
// receipts (XEP-0184). Each asserts what the peer actually received.

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
)

func inReplyTo(m *session.Message) string { return m.Header("In-Reply-To") }

// chatWithID sends a chat message and returns its id.
func chatWithID(t *testing.T, p interface {
	Send(testing.TB, any)
}, to, body, thread string) string {
	t.Helper()
	m := &session.Message{To: to, Type: "chat", ID: session.NewID(), Body: body}
	if thread != "" {
		m.Thread = &session.Thread{Value: thread}
	}
	p.Send(t, m)
	return m.ID
}

// TestExecBotReplies: a bot made of `tr a-z A-Z` answers each resource
// that wrote, in the thread it wrote in, with In-Reply-To naming the
// message, and the same type.
func TestExecBotReplies(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	l := j.startListen("--exec", "tr a-z A-Z", "--count", "3")
	phone, laptop := alice.connect(t, "phone"), alice.connect(t, "laptop")
	phone.Available(t)
	laptop.Available(t)

	id1 := chatWithID(t, phone, me.JID, "hello bot", "T-phone")
	r1 := phone.WaitBody(t, "HELLO BOT")
	id2 := chatWithID(t, laptop, me.JID, "from the laptop", "T-laptop")
	r2 := laptop.WaitBody(t, "FROM THE LAPTOP")
	n := &session.Message{To: me.JID, Type: "normal", ID: session.NewID(), Body: "a normal one",
		Thread: &session.Thread{Value: "T-normal"}}
	phone.Send(t, n)
	r3 := phone.WaitMessage(t, 10*time.Second, func(m *session.Message) bool { return m.Body == "A NORMAL ONE" })
	if code := l.wait(10 * time.Second); code != 0 {
		t.Fatalf("listen exit %d; stderr: %s", code, l.Stderr())
	}
	for _, c := range []struct {
		m                  *session.Message
		to, thread, id, ty string
	}{
		{r1, phone.JID, "T-phone", id1, "chat"},
		{r2, laptop.JID, "T-laptop", id2, "chat"},
		// Only chat locks (D-4): a normal message's reply goes to the
		// bare JID, as the conversation's lock says.
		{r3, alice.JID, "T-normal", n.ID, "normal"},
	} {
		if c.m.To != c.to || c.m.ThreadValue() != c.thread || inReplyTo(c.m) != c.id || session.MessageType(c.m.Type) != c.ty {
			t.Errorf("reply %q: to %q thread %q in-reply-to %q type %q; want %q %q %q %q",
				c.m.Body, c.m.To, c.m.ThreadValue(), inReplyTo(c.m), c.m.Type, c.to, c.thread, c.id, c.ty)
		}
	}
	// The replies were recorded in the history like any sent message.
	out := j.mustRun("", "threads", "show", "T-phone").Stdout
	if !strings.Contains(out, "HELLO BOT") {
		t.Errorf("threads show T-phone lacks the reply:\n%s", out)
	}
}

// TestExecEnvironment: CMD sees the message in JAB_* variables and the
// body on stdin.
func TestExecEnvironment(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)
	l := j.startListen("--exec", `printf '%s|%s|%s|%s|%s|%s|%s|' "$JAB_FROM" "$JAB_FROM_BARE" "$JAB_TYPE" "$JAB_THREAD" "$JAB_ACCOUNT" "$JAB_ID" "$JAB_SUBJECT"; cat`, "--count", "1")
	m := &session.Message{To: me.JID, Type: "chat", ID: session.NewID(), Subject: "the subject", Body: "body on stdin",
		Thread: &session.Thread{Value: "T1"}}
	phone.Send(t, m)
	want := strings.Join([]string{phone.JID, alice.JID, "chat", "T1", me.JID, m.ID, "the subject", "body on stdin"}, "|")
	phone.WaitBody(t, want)
	if code := l.wait(10 * time.Second); code != 0 {
		t.Fatalf("listen exit %d; stderr: %s", code, l.Stderr())
	}
}

// TestExecFilters: CMD runs only for messages that pass listen's filters.
func TestExecFilters(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, _, j, phone := meAndAlice(t)
	l := j.startListen("--thread", "T-yes", "--type", "chat", "--exec", `echo "r:$JAB_THREAD:$JAB_TYPE"`, "--count", "1")
	chatWithID(t, phone, me.JID, "other thread", "T-no")
	phone.Send(t, &session.Message{To: me.JID, Type: "normal", ID: session.NewID(), Body: "other type",
		Thread: &session.Thread{Value: "T-yes"}})
	chatWithID(t, phone, me.JID, "this one", "T-yes")
	phone.WaitBody(t, "r:T-yes:chat")
	if code := l.wait(10 * time.Second); code != 0 {
		t.Fatalf("listen exit %d; stderr: %s", code, l.Stderr())
	}
	phone.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool {
		return strings.HasPrefix(m.Body, "r:") && m.Body != "r:T-yes:chat"
	})
}

// TestExecFailureAndTimeout: a CMD exiting non-zero sends nothing and
// says why on stderr; a CMD that hangs is killed with its process group
// after --exec-timeout; a reply over the server's limit is an error line;
// the bot goes on answering afterwards.
func TestExecFailureAndTimeout(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, _, j, phone := meAndAlice(t)
	pidFile := filepath.Join(t.TempDir(), "bg.pid")
	script := fmt.Sprintf(`case "$(cat)" in
fail) echo partial; echo 'it broke' >&2; exit 3;;
hang) sleep 60 & echo $! > %s; wait;;
flood) head -c 400000 /dev/zero | tr '\0' a;;
*) echo ok;;
esac`, pidFile)
	l := j.startListen("--exec", script, "--exec-timeout", "1s", "--count", "4")
	for _, b := range []string{"fail", "hang", "flood", "next"} {
		chatWithID(t, phone, me.JID, b, "")
	}
	phone.WaitBody(t, "ok")
	if code := l.wait(10 * time.Second); code != 0 {
		t.Fatalf("listen exit %d; stderr: %s", code, l.Stderr())
	}
	phone.NoMessage(t, 200*time.Millisecond, func(m *session.Message) bool {
		return m.Body != "" && m.Body != "ok"
	})
	stderr := l.Stderr()
	for _, want := range []string{"exit status 3: it broke", "killed after 1s (--exec-timeout)", "over the server's limit"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the hanging CMD did not start its background child: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if pid <= 0 {
		t.Fatalf("bad pid file %q", data)
	}
	// Killed: gone, or a zombie nobody has reaped yet.
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] != "Z" {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("CMD's background child %d (state %s) outlived the timeout: the process group was not killed", pid, f[0])
		}
	}
}

// TestExecSkips: CMD never runs for headlines, errors or our own
// messages, nor for offline (delayed) messages unless --include-delayed.
func TestExecSkips(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	phone := alice.connect(t, "phone")
	phone.Available(t)
	// Stored offline: nobody of ours is online.
	chatWithID(t, phone, me.JID, "while you were out", "")
	phone.Sync(t)

	l := j.startListen("--exec", "echo answer:$(cat)", "--count", "5")
	phone.Send(t, &session.Message{To: me.JID, Type: "headline", ID: session.NewID(), Body: "news"})
	// RFC 6121 §8.5.2.1.1: the server drops an error sent to a bare JID.
	phone.Send(t, &session.Message{To: me.JID + "/" + readObserverResource(t, j), Type: "error", ID: session.NewID(), Body: "bounced"})
	j.send(me.JID, "note to self")
	chatWithID(t, phone, me.JID, "real", "")
	phone.WaitBody(t, "answer:real")
	if code := l.wait(10 * time.Second); code != 0 {
		t.Fatalf("listen exit %d; stderr: %s\nstdout: %q\npeer got:\n%s", code, l.Stderr(), l.Lines(), phone.Dump())
	}
	phone.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool {
		return strings.HasPrefix(m.Body, "answer:") && m.Body != "answer:real"
	})

	// With --include-delayed the offline message is answered.
	chatWithID(t, phone, me.JID, "offline again", "")
	phone.Sync(t)
	// Not startListen: with the message already waiting, this listen may
	// answer it and exit before its observer record is ever seen.
	l2 := j.start("listen", "--exec", "echo answer:$(cat)", "--include-delayed", "--count", "1")
	phone.WaitBody(t, "answer:offline again")
	if code := l2.wait(10 * time.Second); code != 0 {
		t.Fatalf("listen exit %d; stderr: %s", code, l2.Stderr())
	}
}

// TestExecOrder: one conversation's replies leave in the order its
// messages came, even with several workers.
func TestExecOrder(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, _, j, phone := meAndAlice(t)
	const n = 12
	// Earlier messages take longer: out-of-order workers would show.
	l := j.startListen("--exec", `b=$(cat); sleep 0.$((12 - b))$((12 - b)); echo "r$b"`, "--exec-concurrency", "4", "--count", strconv.Itoa(n))
	for i := 0; i < n; i++ {
		chatWithID(t, phone, me.JID, strconv.Itoa(i), "")
	}
	if code := l.wait(30 * time.Second); code != 0 {
		t.Fatalf("listen exit %d; stderr: %s", code, l.Stderr())
	}
	phone.WaitBody(t, "r"+strconv.Itoa(n-1))
	var got []string
	for _, m := range phone.Messages() {
		if strings.HasPrefix(m.Body, "r") {
			got = append(got, m.Body)
		}
	}
	for i, b := range got {
		if b != "r"+strconv.Itoa(i) {
			t.Fatalf("replies out of order: %q", got)
		}
	}
	if len(got) != n {
		t.Fatalf("%d replies, want %d: %q", len(got), n, got)
	}
}

// TestSendWaitReply: send --wait-reply prints the contact's answer and
// exits 0; the answer locked the conversation, persisted before exit.
// Answers in another thread are not taken; one without a thread is.
func TestSendWaitReply(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)
	bob := newAccount(t, "bob").connect(t, "pc")
	// An old answer waiting in offline storage is not the answer.
	chatWithID(t, phone, me.JID, "stale yes", "")
	phone.Sync(t)
	done := make(chan result, 1)
	go func() {
		r, _ := j.exec("", "send", "--wait-reply", "20s", alice.JID, "Deploy 4.2? yes/no")
		done <- r
	}()
	q := phone.WaitBody(t, "Deploy 4.2? yes/no")
	// A message in another thread is not the answer, nor is one from
	// another contact, an error or a headline.
	chatWithID(t, phone, q.From, "unrelated", "other-thread")
	chatWithID(t, bob, q.From, "yes from bob", "")
	phone.Send(t, &session.Message{To: q.From, Type: "headline", ID: session.NewID(), Body: "yes headline"})
	phone.Send(t, &session.Message{To: q.From, Type: "error", ID: session.NewID(), Body: "yes error", Thread: &session.Thread{Value: q.ThreadValue()}})
	phone.Sync(t)
	bob.Sync(t)
	// The answer goes to our bare JID: it reaches the waiting send only
	// because it is online as a live observer.
	chatWithID(t, phone, me.JID, "yes", q.ThreadValue())
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("send --wait-reply did not return")
	}
	if r.Code != 0 || r.Stdout != "yes\n" {
		t.Fatalf("want exit 0 and stdout \"yes\\n\"; %s", r)
	}
	var st struct {
		Accounts map[string]struct {
			Conversations map[string]struct {
				LockedTo string `json:"locked_to"`
			} `json:"conversations"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal(j.readState(), &st); err != nil {
		t.Fatal(err)
	}
	if got := st.Accounts[me.JID].Conversations[alice.JID].LockedTo; got != phone.JID {
		t.Fatalf("conversation locked to %q after the reply, want %q", got, phone.JID)
	}

	// A thread-less answer counts (a peer that does not echo threads);
	// --json prints it as listen --json does.
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
}

// TestSendWaitReplyTimeout: no answer is exit 5 with a clear error.
func TestSendWaitReplyTimeout(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	start := time.Now()
	r := j.run("", "send", "--wait-reply", "1s", alice.JID, "anyone?")
	if r.Code != 5 || !strings.Contains(r.Stderr, "no reply from "+alice.JID+" within 1s") || r.Stdout != "" {
		t.Fatalf("want exit 5 naming the wait; %s", r)
	}
	if time.Since(start) > 15*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
	phone.WaitBody(t, "anyone?")
}

// TestSendReceipt: --receipt succeeds once the recipient's client sent the
// receipt, and is exit 5 naming the count when it never comes.
func TestSendReceipt(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	done := make(chan result, 1)
	go func() {
		r, _ := j.exec("", "send", "--receipt", alice.JID, "please confirm")
		done <- r
	}()
	m := phone.WaitBody(t, "please confirm")
	if m.Request == nil {
		t.Fatalf("the message asks for no receipt: %+v", m)
	}
	w := wire(t, phone, m)
	w.one(t, "XEP-0184 §5 (--receipt asks for one, on the wire)", "{urn:xmpp:receipts}request")
	if _, ok := w.attr("id"); !ok {
		t.Fatalf("XEP-0184 §5: a message asking for a receipt has no id as received:\n%s", w.raw)
	}
	phone.Send(t, session.ReceiptFor(m))
	if r := <-done; r.Code != 0 {
		t.Fatalf("want exit 0 after the receipt; %s", r)
	}

	r := j.run("", "--timeout", "2s", "send", "--receipt", alice.JID, "nobody confirms")
	if r.Code != 5 || !strings.Contains(r.Stderr, "0 of 1 messages confirmed") {
		t.Fatalf("want exit 5 with 0 of 1 confirmed; %s", r)
	}
	// A message without --receipt asks for none.
	j.send(alice.JID, "plain")
	plain := phone.WaitBody(t, "plain")
	if plain.Request != nil {
		t.Fatalf("a plain send asked for a receipt")
	}
	wire(t, phone, plain).wantNo(t, "a plain send asks for no receipt (on the wire)", "{urn:xmpp:receipts}request")
	// A message to a full JID is confirmed only by that resource.
	laptop := alice.connect(t, "laptop")
	go func() {
		r, _ := j.exec("", "--timeout", "2s", "send", "--receipt", phone.JID, "to the phone")
		done <- r
	}()
	m = phone.WaitBody(t, "to the phone")
	laptop.Send(t, session.ReceiptFor(m))
	if r := <-done; r.Code != 5 || !strings.Contains(r.Stderr, "0 of 1 messages confirmed") {
		t.Fatalf("a receipt from another resource was accepted; %s", r)
	}
}

// allowPresence makes alice a contact who may see our presence: she asks
// to subscribe and we approve (RFC 6121 §3), so our roster has her with
// subscription "from".
func allowPresence(t *testing.T, j *jab, alice account, p interface {
	Presence(testing.TB, string, string, string)
	Sync(testing.TB)
}) {
	t.Helper()
	p.Presence(t, j.acct.JID, "subscribe", "")
	p.Sync(t)
	j.mustRun("<presence to='"+alice.JID+"' type='subscribed'/>", "raw")
}

// TestListenAnswersReceipts: listen acknowledges receipt requests of
// contacts allowed to see its presence, from its full JID, naming the
// message, and advertises the feature; a stranger gets no receipt
// (XEP-0184 §8); with --no-receipts nobody does and the feature is not
// advertised.
func TestListenAnswersReceipts(t *testing.T) {
	needServer(t)
	t.Parallel()
	for _, off := range []bool{false, true} {
		t.Run(fmt.Sprintf("no-receipts=%v", off), func(t *testing.T) {
			me, alice, j, phone := meAndAlice(t)
			stranger := newAccount(t, "bob").connect(t, "pc")
			allowPresence(t, j, alice, phone)
			args := []string{"--count", "2"}
			if off {
				args = append(args, "--no-receipts")
			}
			l := j.startListen(args...)
			m := &session.Message{To: me.JID, Type: "chat", ID: session.NewID(), Body: "got it?", Request: &session.Empty{}}
			phone.Send(t, m)
			sm := &session.Message{To: me.JID, Type: "chat", ID: session.NewID(), Body: "me too?", Request: &session.Empty{}}
			stranger.Send(t, sm)
			isReceipt := func(id string) func(r *session.Message) bool {
				return func(r *session.Message) bool { return r.Received != nil && r.Received.ID == id }
			}
			full := me.JID + "/" + readObserverResource(t, j)
			disco := phone.Request(t, &session.IQ{To: full, Type: "get",
				Payload: &session.RawElement{XMLName: xml.Name{Space: "http://jabber.org/protocol/disco#info", Local: "query"}}})
			if code := l.wait(10 * time.Second); code != 0 {
				t.Fatalf("listen exit %d; stderr: %s", code, l.Stderr())
			}
			stranger.NoMessage(t, 300*time.Millisecond, isReceipt(sm.ID))
			advertised := disco.Type == "result" && strings.Contains(string(disco.Payload.Inner), session.NSReceipts)
			if off {
				phone.NoMessage(t, 300*time.Millisecond, isReceipt(m.ID))
				if advertised {
					t.Fatalf("--no-receipts still advertises %s", session.NSReceipts)
				}
				return
			}
			r := phone.WaitMessage(t, 10*time.Second, isReceipt(m.ID))
			if r.From != full {
				t.Fatalf("receipt from %q, want listen's full JID %s", r.From, full)
			}
			w := wire(t, phone, r)
			w.wantAttr(t, "XEP-0184 §5 (the receipt, on the wire)", "from", full)
			w.one(t, "XEP-0184 §5 (the receipt names the message, on the wire)", "{urn:xmpp:receipts}received").wantAttr(t,
				"XEP-0184 §5 (the receipt names the message, on the wire)", "id", m.ID)
			if !advertised {
				t.Fatalf("disco#info answer lacks %s: %+v", session.NSReceipts, disco)
			}
		})
	}
}

func readObserverResource(t *testing.T, j *jab) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(j.stateDir, "observer-*.json"))
	if len(m) == 0 {
		t.Fatal("no observer record")
	}
	data, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	var o struct{ Resource string }
	if err := json.Unmarshal(data, &o); err != nil || o.Resource == "" {
		t.Fatalf("observer record %s: %v", data, err)
	}
	return o.Resource
}

// TestExecFlagsReachCMD: global options given as flags reach CMD as their
// JAB_* variables, so a jab inside CMD uses the same state directory.
func TestExecFlagsReachCMD(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, _, j, phone := meAndAlice(t)
	dir := filepath.Join(t.TempDir(), "other-state")
	l := j.start("listen", "--state-dir", dir, "--lock-idle", "7m", "--exec", `echo "$JAB_STATE_DIR $JAB_LOCK_IDLE"`, "--count", "1")
	waitObserver(t, dir, l.done, l.Stderr)
	chatWithID(t, phone, me.JID, "where?", "")
	phone.WaitBody(t, dir+" 7m0s")
	l.wait(10 * time.Second)
}

// TestScriptingBadInput: misuse of the scripting flags is a usage error
// (exit 2) with one error line, before anything is contacted.
func TestScriptingBadInput(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"listen", "--exec", " "}, "--exec needs a command"},
		{[]string{"listen", "--exec-timeout", "5s"}, "--exec-timeout applies only with --exec"},
		{[]string{"listen", "--include-delayed"}, "--include-delayed applies only with --exec"},
		{[]string{"listen", "--exec", "cat", "--exec-concurrency", "0"}, "--exec-concurrency must be between 1 and 256"},
		{[]string{"listen", "--exec", "cat", "--exec-timeout", "0s"}, "--exec-timeout must be positive"},
		{[]string{"send", "--wait-reply", "5m", alice.JID, "bob@example.test", "hi"}, "give exactly one JID"},
		{[]string{"send", "--wait-reply", "soon", alice.JID, "hi"}, `"soon" is neither a duration nor a JID`},
		{[]string{"send", "--wait-reply=-1s", alice.JID, "hi"}, "not a positive duration"},
		{[]string{"send", "--wait-reply", "--type", "headline", alice.JID, "hi"}, "does not apply to --type headline"},
	} {
		r := j.run("", c.args...)
		if r.Code != 2 || !strings.Contains(r.Stderr, c.want) || strings.Count(r.Stderr, "jab: error:") != 1 {
			t.Errorf("jab %q: want exit 2 with %q; %s", c.args, c.want, r)
		}
	}
	if _, err := os.Stat(j.stateDir); err == nil {
		if data := j.readState(); len(data) > 0 {
			t.Errorf("bad input wrote the state file: %s", data)
		}
	}
}

// TestListenUnknownIQ: an IQ listen does not understand gets a well-formed
// service-unavailable error, and listen stays online (a malformed error
// would make the server close its stream, so any contact could end it).
func TestListenUnknownIQ(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, _, j, phone := meAndAlice(t)
	l := j.startListen("--count", "1")
	full := me.JID + "/" + readObserverResource(t, j)
	r := phone.Request(t, &session.IQ{To: full, Type: "get",
		Payload: &session.RawElement{XMLName: xml.Name{Space: "jabber:iq:version", Local: "query"}}})
	if r.Type != "error" || r.Error.Cond() != "service-unavailable" {
		t.Fatalf("answer %+v, want a service-unavailable error", r)
	}
	chatWithID(t, phone, me.JID, "still there?", "")
	l.waitLine("still there?", 10*time.Second)
	if code := l.wait(10 * time.Second); code != 0 {
		t.Fatalf("listen exit %d; stderr: %s", code, l.Stderr())
	}
}

// TestExecStopsWithListen: when listen ends (here its --timeout) while CMD
// still runs, CMD is killed, listen exits with its own status at once and
// says how many messages were left unanswered.
func TestExecStopsWithListen(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, _, j, phone := meAndAlice(t)
	l := j.startListen("--timeout", "2s", "--exec", "sleep 30; echo late")
	chatWithID(t, phone, me.JID, "slow one", "")
	l.waitLine("slow one", 10*time.Second)
	start := time.Now()
	if code := l.wait(15 * time.Second); code != 5 {
		t.Fatalf("listen exit %d, want 5 (--timeout); stderr: %s", code, l.Stderr())
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Fatalf("listen took %s to end after its timeout: it waited for CMD", d)
	}
	if !strings.Contains(l.Stderr(), "1 messages not answered") {
		t.Fatalf("no word of the unanswered message: %s", l.Stderr())
	}
	phone.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool { return m.Body == "late" })
}
