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
func testRepl(t *testing.T) (*repl, *bytes.Buffer) { return testReplIdle(t, 15*time.Minute) }

// testReplIdle is testRepl with --lock-idle idle.
func testReplIdle(t *testing.T, idle time.Duration) (*repl, *bytes.Buffer) {
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
	if err := store.WriteRoster(statefile.Roster{Account: "me@example.org",
		Items: []statefile.RosterItem{{JID: "carol@example.org"}}}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	env := &Env{Getenv: func(string) string { return "" }, Now: func() time.Time { return now }, Host: "test"}
	var out bytes.Buffer
	acct, _ := session.ParseJID("me@example.org")
	r := newRepl(context.Background(), env, &options{account: acct, timeout: time.Second, lockIdle: idle},
		&replOptions{}, session.Env{Store: store, Now: env.Now})
	r.out, r.errw = &out, &out
	r.chat.RefreshRoster(context.Background()) // the cached roster: carol
	r.chat.Received(session.Event{Kind: session.KindPresence, From: "bob@example.org/laptop"})
	return r, &out
}

// completions are what Tab offers at the end of line (the rest of each
// candidate).
func completions(c *replCompleter, line string) []string {
	got, _ := c.Do([]rune(line), len([]rune(line)))
	var s []string
	for _, g := range got {
		s = append(s, string(g))
	}
	return s
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
			if got := completions(c, tc.line); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
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
	alice, _ := session.ParseJID("alice@example.org")
	r.chat.To(alice)
	// The lock is recorded but no observer watched it: the prompt still
	// shows the locked resource, which a send would check first.
	if p := r.prompt(); !strings.HasPrefix(p, "alice@example.org/phone ") || !strings.Contains(p, "#abcd1234") {
		t.Fatalf("prompt %q should show the lock and the thread", p)
	}
	// Idle past --lock-idle, the next message goes to the bare JID.
	idle, _ := testReplIdle(t, 30*time.Second)
	idle.chat.To(alice)
	if p := idle.prompt(); !strings.HasPrefix(p, "alice@example.org ") {
		t.Fatalf("prompt %q should show the idle conversation unlocked", p)
	}
	r.chat.Received(session.Event{Kind: session.KindMessage, From: "alice@example.org/phone", Type: "chat",
		ChatState: session.StateComposing})
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

// TestReplOccupantPrompt: the prompt addresses a MUC occupant by its full
// JID in its thread (D-12).
func TestReplOccupantPrompt(t *testing.T) {
	r, _ := testRepl(t)
	r.noColour = true
	const occ = "room@muc.example.org/nick1"
	_, err := r.chat.Env().Store.Update(context.Background(), func(st *statefile.State) error {
		a := st.Account("me@example.org")
		a.Conversations[occ] = &statefile.Conversation{Peer: occ, Occupant: true, Thread: "occ-thread-1"}
		a.Threads["occ-thread-1"] = &statefile.Thread{ID: "occ-thread-1", Peer: occ, Type: "chat"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := session.ParseJID(occ)
	r.chat.To(j)
	if p := r.prompt(); !strings.HasPrefix(p, occ+" #occ-thre") {
		t.Fatalf("prompt %q should address the occupant in its thread", p)
	}
}

// TestReplSanitisedCandidates: thread ids come from peers; one holding a
// C1 control (U+009B, CSI) or a bidi override (U+202E) is never offered
// for completion, and hints and listings print it escaped, once.
func TestReplSanitisedCandidates(t *testing.T) {
	r, out := testRepl(t)
	const evil1, evil2 = "evil\u009b1-0000", "evil\u202e2-0000"
	_, err := r.chat.Env().Store.Update(context.Background(), func(st *statefile.State) error {
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
	r.chat.Resume(&statefile.Thread{ID: "child000-0000", Peer: "alice@example.org"})
	if err := r.handleLine("/thread"); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); raw(s) || !strings.Contains(s, `(child of pa\u{9b}ren-)`) {
		t.Fatalf("/thread printed %q, want the parent escaped once", s)
	}
}

// testReplRoom is testRepl in room@muc.example.org as "me", with alice,
// "bob smith" (a nick with a space) and mallory with a bidi override as
// the other occupants: the presences the REPL's listen loop hands to
// Rooms while joining.
func testReplRoom(t *testing.T) (*repl, *bytes.Buffer) {
	t.Helper()
	r, out := testRepl(t)
	room, _ := session.ParseRoom("room@muc.example.org")
	if err := r.rooms.Add(nil, session.RoomTarget{Room: room, Nick: "me"}); err != nil {
		t.Fatal(err)
	}
	r.chat.To(room)
	if p := r.prompt(); !strings.HasPrefix(p, "room@muc.example.org as me #new (joining)> ") {
		t.Fatalf("prompt while joining: %q", p)
	}
	for _, p := range []*session.Presence{
		{From: "room@muc.example.org/alice", MUCUser: &session.MUCUser{}},
		{From: "room@muc.example.org/bob smith", MUCUser: &session.MUCUser{}},
		{From: "room@muc.example.org/mal\u202elory", MUCUser: &session.MUCUser{}},
		{From: "room@muc.example.org/gone", MUCUser: &session.MUCUser{}},
		{From: "room@muc.example.org/me", MUCUser: &session.MUCUser{Status: []session.MUCStatus{{Code: session.StatusSelf}}}},
		{From: "room@muc.example.org/gone", Type: "unavailable", MUCUser: &session.MUCUser{}},
		{From: "room@muc.example.org/carol", MUCUser: &session.MUCUser{}},
	} {
		if _, _, ok := r.rooms.Handle(context.Background(), nil, p); !ok {
			t.Fatalf("presence %s not the room's", p.From)
		}
	}
	return r, out
}

// TestReplRoomCompletion: in a room, the occupants' nicks complete /msg
// and, at the start of a message, "nick: " (the address room bots answer);
// /part completes the rooms. Nicks that would split the line or carry a
// control character are not offered; occupants who left are not either.
func TestReplRoomCompletion(t *testing.T) {
	r, _ := testReplRoom(t)
	_, err := r.chat.Env().Store.Update(context.Background(), func(st *statefile.State) error {
		a := st.Account("me@example.org")
		a.RoomArchive = map[string]string{"archived@muc.example.org": "s1"}
		a.Conversations["pm@muc.example.org/bob"] = &statefile.Conversation{Peer: "pm@muc.example.org/bob", Occupant: true}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &replCompleter{r: r}
	for _, tc := range []struct {
		name, line string
		want       []string
	}{
		{"/msg nicks", "/msg ", []string{"alice ", "carol "}},
		{"/msg nick prefix", "/msg a", []string{"lice "}},
		{"a nick at the start of a line", "ca", []string{"rol: "}},
		{"every nick on an empty line", "", []string{"alice: ", "carol: "}},
		{"not after the first word", "hello a", nil},
		{"/part rooms", "/part ", []string{"room@muc.example.org "}},
		{"/join rooms the state knows", "/join ", []string{"archived@muc.example.org ", "pm@muc.example.org "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := completions(c, tc.line); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	// Not in a room: a message's first word is not completed.
	alice, _ := session.ParseJID("alice@example.org")
	r.chat.To(alice)
	if got := completions(c, "ca"); len(got) != 0 {
		t.Fatalf("a one-to-one message completed: %q", got)
	}
	if got := completions(c, "/msg "); len(got) != 0 {
		t.Fatalf("/msg completed outside a room: %q", got)
	}
}

// TestReplRoomPrompt: with a room conversee the prompt shows the room, our
// nick and the room's topic thread (D-13), #new before the first line and
// after /thread new.
func TestReplRoomPrompt(t *testing.T) {
	r, _ := testReplRoom(t)
	r.noColour = true
	if p := r.prompt(); p != "room@muc.example.org as me #new> " {
		t.Fatalf("prompt in the room: %q", p)
	}
	// Our nick changes (303): the prompt follows.
	r.rooms.Handle(context.Background(), nil, &session.Presence{From: "room@muc.example.org/me", Type: "unavailable",
		MUCUser: &session.MUCUser{Status: []session.MUCStatus{{Code: session.StatusSelf}, {Code: session.StatusNickChange}},
			Items: []session.MUCItem{{Nick: "me2"}}}})
	if p := r.prompt(); p != "room@muc.example.org as me2 #new> " {
		t.Fatalf("prompt after our nick changed: %q", p)
	}
}
