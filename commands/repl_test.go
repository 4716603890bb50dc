package commands

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

func TestSplitWords(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string
		err      bool
	}{
		{"plain", "threads list --json", []string{"threads", "list", "--json"}, false},
		{"spaces", "  send   a@b  ", []string{"send", "a@b"}, false},
		{"double quotes", `send a@b "two words"`, []string{"send", "a@b", "two words"}, false},
		{"single quotes keep backslash", `x 'a\b'`, []string{"x", `a\b`}, false},
		{"backslash escapes", `x a\ b`, []string{"x", "a b"}, false},
		{"empty quotes are a word", `x ""`, []string{"x", ""}, false},
		{"unterminated", `x "oops`, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := splitWords(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want error %v", err, tc.err)
			}
			if !tc.err && !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// testRepl is a REPL with a state file and no connection.
func testRepl(t *testing.T) (*repl, *bytes.Buffer) {
	t.Helper()
	store, err := statefile.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Update(context.Background(), func(st *statefile.State) error {
		a := st.Account("me@example.org")
		a.Conversations["alice@example.org"] = &statefile.Conversation{Peer: "alice@example.org",
			LockedTo: "alice@example.org/phone", LockKind: statefile.LockMessage, Thread: "abcd1234-0000",
			LockedAt: time.Date(2026, 11, 22, 7, 59, 0, 0, time.UTC), LastActivity: time.Date(2026, 11, 22, 7, 59, 0, 0, time.UTC)}
		a.Threads["abcd1234-0000"] = &statefile.Thread{ID: "abcd1234-0000", Peer: "alice@example.org", Type: "chat"}
		a.Threads["closed99-0000"] = &statefile.Thread{ID: "closed99-0000", Peer: "alice@example.org", Type: "chat", Closed: true}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	env := &Env{Getenv: func(string) string { return "" }, Now: func() time.Time { return now }, Host: "test"}
	var out bytes.Buffer
	acct, _ := session.ParseJID("me@example.org")
	r := &repl{ctx: context.Background(), env: env, g: &options{account: acct, timeout: time.Second, lockIdle: 15 * time.Minute},
		o: &replOptions{}, senv: session.Env{Store: store, Now: env.Now}, account: "me@example.org",
		out: &out, errw: &out, pending: map[string]pendingThread{}, states: map[string]*session.ChatStates{},
		presence: map[string]map[string]seenPresence{"bob@example.org": {"laptop": {}}}, status: map[string]peerState{},
		away: session.NewAutoAway(now, 0, 0), roster: []string{"carol@example.org"}}
	return r, &out
}

func TestReplCompleter(t *testing.T) {
	r, _ := testRepl(t)
	c := &replCompleter{r: r}
	cases := []struct {
		name, line string
		want       []string // completions (the rest of each candidate)
	}{
		{"command prefix", "/th", []string{"read ", "reads "}},
		{"unique command", "/clo", []string{"se "}},
		{"a message is not completed", "hel", nil},
		{"JIDs from roster, state and presence", "/to ", []string{"alice@example.org ", "alice@example.org/phone ",
			"bob@example.org ", "bob@example.org/laptop ", "carol@example.org "}},
		{"JID prefix", "/to ca", []string{"rol@example.org "}},
		{"open thread ids", "/thread ", []string{"abcd1234-0000 ", "new "}},
		{"shows", "/status a", []string{"way "}},
		{"subcommands of a jab command", "/threads l", []string{"ist "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := c.Do([]rune(tc.line), len([]rune(tc.line)))
			var s []string
			for _, g := range got {
				s = append(s, string(g))
			}
			if !slices.Equal(s, tc.want) {
				t.Fatalf("got %q, want %q", s, tc.want)
			}
		})
	}
}

func TestReplBadInput(t *testing.T) {
	r, out := testRepl(t)
	cases := []struct {
		name, line, err, hint string
	}{
		{"unknown command", "/tread", "unknown command /tread; nothing was sent", `did you mean /thread?`},
		{"malformed JID", "/to a@@b", `malformed JID "a@@b"`, "a JID looks like"},
		{"message without conversee", "hello", "no conversee", "/to JID"},
		{"closed thread", "/thread closed99", "is closed", "/thread new"},
		{"history needs a number", "/history x", "positive number", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := r.handleLine(tc.line)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
			if !strings.Contains(hintFor(err), tc.hint) {
				t.Fatalf("hint %q, want one containing %q", hintFor(err), tc.hint)
			}
		})
	}
	if out.Len() != 0 {
		t.Fatalf("bad input printed %q", out.String())
	}
}

func TestReplPromptAndLock(t *testing.T) {
	r, out := testRepl(t)
	r.peer, _ = session.ParseJID("alice@example.org")
	// The lock is recorded but no observer watched it: the prompt still
	// shows the locked resource, which a send would check first.
	if p := r.prompt(); !strings.HasPrefix(p, "alice@example.org/phone ") {
		t.Fatalf("prompt %q should show the lock", p)
	}
	// Idle past --lock-idle, the next message goes to the bare JID.
	r.g.lockIdle = 30 * time.Second
	if p := r.prompt(); !strings.HasPrefix(p, "alice@example.org ") {
		t.Fatalf("prompt %q should show the idle conversation unlocked", p)
	}
	r.g.lockIdle = 15 * time.Minute
	if p := r.prompt(); !strings.HasPrefix(p, "alice@example.org/phone ") || !strings.Contains(p, "#abcd1234") {
		t.Fatalf("prompt %q", p)
	}
	r.status["alice@example.org"] = peerState{state: session.StateComposing, at: r.env.Now()}
	if p := r.prompt(); !strings.HasSuffix(p, "(typing…)> ") {
		t.Fatalf("prompt %q should show the peer typing", p)
	}
	if err := r.handleLine("/thread new"); err != nil {
		t.Fatal(err)
	}
	if p := r.prompt(); !strings.Contains(p, "#new") {
		t.Fatalf("prompt %q should show a new thread pending", p)
	}
	if err := r.handleLine("/lock"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "locked to alice@example.org/phone") {
		t.Fatalf("/lock printed %q", out.String())
	}
}

func TestReplEventLineSanitised(t *testing.T) {
	r, _ := testRepl(t)
	ev := session.Event{Kind: session.KindMessage, From: "alice@example.org/ph\u009bone", Type: "chat",
		Thread: "abcd1234-0000", Body: "hi\x1b[2J\nthere", Time: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)}
	line := r.eventLine(ev)
	if strings.ContainsAny(line, "\n\u009b") || strings.Contains(line, "\x1b[2J") {
		t.Fatalf("control characters reached the line: %q", line)
	}
	if !strings.Contains(line, `alice@example.org/ph\u{9b}one`) || !strings.Contains(line, `hi\u{1b}[2J\nthere`) ||
		!strings.Contains(line, "#abcd1234") {
		t.Fatalf("line %q lacks the sender, thread or body", line)
	}
}

// TestReplNoColor: the thread colour is an ANSI escape on a terminal, and
// none at all with NO_COLOR (https://no-color.org).
func TestReplNoColor(t *testing.T) {
	r, _ := testRepl(t)
	ev := session.Event{Kind: session.KindMessage, From: "alice@example.org/phone", Type: "chat",
		Thread: "abcd1234-0000", Body: "hi", Time: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)}
	if line := r.eventLine(ev); !strings.Contains(line, "\x1b[") {
		t.Fatalf("no colour on a terminal: %q", line)
	}
	r.noColour = true
	if line := r.eventLine(ev); strings.Contains(line, "\x1b") || !strings.Contains(line, "#abcd1234") {
		t.Fatalf("NO_COLOR line %q still has escapes or lost the thread", line)
	}
}

// fakeConn records the stanzas the REPL writes.
type fakeConn struct{ sent []any }

func (f *fakeConn) Send(v any) error { f.sent = append(f.sent, v); return nil }

func (f *fakeConn) messages() []*session.Message {
	var out []*session.Message
	for _, v := range f.sent {
		if m, ok := v.(*session.Message); ok {
			out = append(out, m)
		}
	}
	return out
}

func (f *fakeConn) presences() []*session.Presence {
	var out []*session.Presence
	for _, v := range f.sent {
		if p, ok := v.(*session.Presence); ok {
			out = append(out, p)
		}
	}
	return out
}

// onlineRepl is testRepl with a fake connection, a queue for the writer's
// jobs (run with runJobs) and a clock the test moves with advance.
func onlineRepl(t *testing.T) (r *repl, conn *fakeConn, out *bytes.Buffer, advance func(time.Duration)) {
	t.Helper()
	r, out = testRepl(t)
	now := r.env.Now()
	r.env.Now = func() time.Time { return now }
	r.senv.Now = r.env.Now
	conn = &fakeConn{}
	r.conn = conn
	r.jobs = make(chan func(), 64)
	return r, conn, out, func(d time.Duration) { now = now.Add(d) }
}

// runJobs runs what the REPL queued for its writer.
func runJobs(r *repl) {
	for {
		select {
		case f := <-r.jobs:
			f()
		default:
			return
		}
	}
}

const occupantJID = "room@muc.example.org/nick1"

func addOccupant(t *testing.T, r *repl) session.JID {
	t.Helper()
	_, err := r.senv.Store.Update(context.Background(), func(st *statefile.State) error {
		a := st.Account("me@example.org")
		a.Conversations[occupantJID] = &statefile.Conversation{Peer: occupantJID, Occupant: true, Thread: "occ-thread-1"}
		a.Threads["occ-thread-1"] = &statefile.Thread{ID: "occ-thread-1", Peer: occupantJID, Type: "chat"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := session.ParseJID(occupantJID)
	return j
}

// TestReplNoChatStatesToOccupant: a MUC occupant's conversation is keyed by
// its full JID (D-12), and no chat state ever goes to it (XEP-0085 §5.5),
// whether typing, clearing the line or by the clock.
func TestReplNoChatStatesToOccupant(t *testing.T) {
	r, conn, _, advance := onlineRepl(t)
	r.o.pausedAfter, r.o.inactiveAfter = time.Second, 2*time.Second
	r.peer = addOccupant(t, r)
	r.onKey([]rune("h"), 'h')
	runJobs(r)
	advance(3 * time.Second)
	r.tick()
	r.onKey(nil, 127)
	r.onInterrupt()
	runJobs(r)
	if m := conn.messages(); len(m) != 0 {
		t.Fatalf("chat states went to an occupant: %+v", m[0])
	}
	for key, m := range r.states {
		if m.Enabled() {
			t.Fatalf("the chat-state machine %q is on while talking to an occupant", key)
		}
	}
	if r.machine(occupantJID).Enabled() {
		t.Fatal("the occupant's chat-state machine is on")
	}
	if m := r.stateMessage(r.peer, session.StateComposing); m != nil {
		t.Fatalf("stateMessage built %+v for an occupant", m)
	}
}

// TestReplOccupantStaysAddressed: after a message to a MUC occupant the
// conversee stays the occupant's full JID (D-12, item 74), while a full
// JID of a contact becomes a forced lock and the conversee its bare JID.
func TestReplOccupantStaysAddressed(t *testing.T) {
	r, _ := testRepl(t)
	r.noColour = true
	occ := addOccupant(t, r)
	r.peer = occ
	r.mu.Lock()
	r.sentTo(occ, r.convKey(occ), false)
	r.mu.Unlock()
	if r.peer != occ {
		t.Fatalf("after a message to the occupant the conversee is %s, want %s", r.peer, occ)
	}
	if p := r.prompt(); !strings.HasPrefix(p, occupantJID+" #occ-thre") {
		t.Fatalf("prompt %q should address the occupant in its thread", p)
	}
	laptop, _ := session.ParseJID("alice@example.org/laptop")
	r.peer = laptop
	r.mu.Lock()
	r.sentTo(laptop, r.convKey(laptop), false)
	r.mu.Unlock()
	if r.peer.String() != "alice@example.org" {
		t.Fatalf("after a forced lock the conversee is %s, want the bare JID", r.peer)
	}
}

// TestReplStateGoesWhereTheMessageGoes: a standalone state goes to the
// conversee as addressed (here a full JID the user gave, not the lock) in
// the thread the next message goes in, and with no thread when a new one
// is pending.
func TestReplStateGoesWhereTheMessageGoes(t *testing.T) {
	r, conn, _, _ := onlineRepl(t)
	r.peer, _ = session.ParseJID("alice@example.org/laptop")
	r.onKey([]rune("h"), 'h')
	runJobs(r)
	ms := conn.messages()
	if len(ms) != 1 || ms[0].ChatState() != session.StateComposing {
		t.Fatalf("want one <composing/>, got %+v", ms)
	}
	if ms[0].To != "alice@example.org/laptop" || ms[0].ThreadValue() != "abcd1234-0000" {
		t.Fatalf("<composing/> to %q in thread %q, want alice@example.org/laptop in abcd1234-0000", ms[0].To, ms[0].ThreadValue())
	}
	if err := r.handleLine("/thread new"); err != nil {
		t.Fatal(err)
	}
	r.onKey(nil, 127) // the line cleared: active
	runJobs(r)
	ms = conn.messages()
	if len(ms) != 2 || ms[1].ChatState() != session.StateActive {
		t.Fatalf("want <active/> after clearing, got %+v", ms)
	}
	if ms[1].Thread != nil {
		t.Fatalf("with a new thread pending the state carries thread %q, want none", ms[1].ThreadValue())
	}
	// /fork: the next message starts a child thread, so no thread either.
	r.pending["alice@example.org"] = pendingThread{thread: "abcd1234-0000", fork: true}
	if m := r.stateMessage(r.peer, session.StateComposing); m.Thread != nil {
		t.Fatalf("with a fork pending the state carries thread %q", m.ThreadValue())
	}
	r.pending["alice@example.org"] = pendingThread{thread: "other000-0000"}
	if m := r.stateMessage(r.peer, session.StateComposing); m.ThreadValue() != "other000-0000" {
		t.Fatalf("with /thread ID pending the state carries thread %q", m.ThreadValue())
	}
}

// TestReplReconnectResendsPresence: a new session after a lost one sends
// the user's show and status, or auto-away's show, again.
func TestReplReconnectResendsPresence(t *testing.T) {
	r, conn, _, advance := onlineRepl(t)
	r.myShow, r.myStatus = "dnd", "in a meeting"
	r.setSession(nil, nil)
	c2 := &fakeConn{}
	r.setSession(nil, c2)
	runJobs(r)
	if ps := c2.presences(); len(ps) != 1 || ps[0].Show != "dnd" || ps[0].Status != "in a meeting" {
		t.Fatalf("after a reconnect, want dnd \"in a meeting\", got %+v", ps)
	}
	r.away = session.NewAutoAway(r.env.Now(), time.Second, 0)
	advance(2 * time.Second)
	r.tick()
	c3 := &fakeConn{}
	r.setSession(nil, nil)
	r.setSession(nil, c3)
	runJobs(r)
	if ps := c3.presences(); len(ps) != 1 || ps[0].Show != "away" || ps[0].Status != "in a meeting" {
		t.Fatalf("after a reconnect while auto-away, want away, got %+v", ps)
	}
	// Nothing set: Listen's own presence is the whole story.
	r2, _, _, _ := onlineRepl(t)
	c4 := &fakeConn{}
	r2.setSession(nil, c4)
	runJobs(r2)
	if len(c4.sent) != 0 {
		t.Fatalf("nothing to restore, yet sent %+v", c4.sent)
	}
	_ = conn
}

// TestReplOfflineNotRecorded: offline, no chat state or auto-away presence
// is recorded as sent; online again they go out.
func TestReplOfflineNotRecorded(t *testing.T) {
	r, _, _, advance := onlineRepl(t)
	r.peer, _ = session.ParseJID("alice@example.org")
	r.away = session.NewAutoAway(r.env.Now(), time.Second, 0)
	r.setSession(nil, nil)
	r.onKey([]rune("h"), 'h')
	if n := len(r.jobs); n != 0 {
		t.Fatalf("offline, a key queued %d writes", n)
	}
	advance(2 * time.Second)
	r.tick()
	runJobs(r)
	if last := r.machine("alice@example.org").Last(); last != "" {
		t.Fatalf("offline, the machine recorded %q as sent", last)
	}
	if r.away.Show() != "" {
		t.Fatalf("offline, auto-away recorded %q as sent", r.away.Show())
	}
	c := &fakeConn{}
	r.setSession(nil, c)
	r.tick()
	runJobs(r)
	if ps := c.presences(); len(ps) != 1 || ps[0].Show != "away" {
		t.Fatalf("online again, want away, got %+v", ps)
	}
	r.onKey([]rune("he"), 'e')
	runJobs(r)
	if ms := c.messages(); len(ms) != 1 || ms[0].ChatState() != session.StateComposing {
		t.Fatalf("online again, want <composing/>, got %+v", ms)
	}
	// Lost between the decision and the write: not recorded either.
	r.onKey(nil, 127) // the line cleared: <active/> decided and queued
	r.setSession(nil, nil)
	runJobs(r)
	if last := r.machine("alice@example.org").Last(); last != session.StateComposing {
		t.Fatalf("an <active/> that was not written is recorded: last %q", last)
	}
}

// TestReplPeerStateExpires: the conversee's chat state leaves the prompt
// after 30 s without a new one, or when the resource that sent it goes
// offline.
func TestReplPeerStateExpires(t *testing.T) {
	r, _, _, advance := onlineRepl(t)
	r.peer, _ = session.ParseJID("alice@example.org")
	composing := func(from string) session.Event {
		return session.Event{Kind: session.KindMessage, From: from, Type: "chat", ChatState: session.StateComposing, Time: r.env.Now()}
	}
	typing := func() bool { return strings.Contains(r.prompt(), "(typing…)") }
	r.onEvent(composing("alice@example.org/phone"))
	if !typing() {
		t.Fatalf("prompt %q should show the peer typing", r.prompt())
	}
	advance(31 * time.Second)
	if typing() {
		t.Fatalf("prompt %q still shows a state 31 s old", r.prompt())
	}
	r.tick()
	if _, ok := r.status["alice@example.org"]; ok {
		t.Fatal("tick left the expired state")
	}
	r.onEvent(composing("alice@example.org/phone"))
	r.onEvent(session.Event{Kind: session.KindPresence, From: "alice@example.org/laptop", Type: "unavailable", Time: r.env.Now()})
	if !typing() {
		t.Fatal("another resource going offline cleared the state")
	}
	r.onEvent(session.Event{Kind: session.KindPresence, From: "alice@example.org/phone", Type: "unavailable", Time: r.env.Now()})
	if typing() {
		t.Fatalf("prompt %q still shows the state of a resource that went offline", r.prompt())
	}
}

// TestReplSanitisedCandidates: thread ids come from peers; one holding a
// C1 control (U+009B, CSI) or a bidi override (U+202E) is never offered
// for completion, and hints and listings print it escaped, once.
func TestReplSanitisedCandidates(t *testing.T) {
	r, out := testRepl(t)
	const evil1, evil2 = "evil\u009b1-0000", "evil\u202e2-0000"
	_, err := r.senv.Store.Update(context.Background(), func(st *statefile.State) error {
		a := st.Account("me@example.org")
		for _, id := range []string{evil1, evil2} {
			a.Threads[id] = &statefile.Thread{ID: id, Peer: "alice@example.org", Type: "chat"}
		}
		a.Threads["child000-0000"] = &statefile.Thread{ID: "child000-0000", Peer: "alice@example.org", Type: "chat",
			Parent: "pa\u009bren-0000"}
		a.Conversations["mallory\u202e@example.org"] = &statefile.Conversation{Peer: "mallory\u202e@example.org"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &replCompleter{r: r}
	for _, line := range []string{"/thread ", "/thread e", "/threads show ", "/threads show e", "/to ", "/to m"} {
		got, _ := c.Do([]rune(line), len([]rune(line)))
		for _, g := range got {
			if s := string(g); strings.ContainsAny(s, "\u009b\u202e") {
				t.Fatalf("%q offers %q", line, s)
			}
		}
	}
	raw := func(s string) bool { return strings.ContainsAny(s, "\u009b\u202e") }
	err = r.handleLine("/thread evix")
	if err == nil || raw(hintFor(err)) || !strings.Contains(hintFor(err), `\u{9b}`) {
		t.Fatalf("closest hint %q (error %v) should name the id escaped", hintFor(err), err)
	}
	err = r.handleLine("/thread evil")
	if err == nil || raw(err.Error()) || !strings.Contains(err.Error(), `evil\u{202e}2-0000`) {
		t.Fatalf("ambiguous prefix error %q should list the ids escaped", err)
	}
	r.peer, _ = session.ParseJID("alice@example.org")
	r.pending["alice@example.org"] = pendingThread{thread: "child000-0000"}
	if err := r.handleLine("/thread"); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); raw(s) || !strings.Contains(s, `(child of pa\u{9b}ren-)`) {
		t.Fatalf("/thread printed %q, want the parent escaped once", s)
	}
}
