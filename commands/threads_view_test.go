package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// No other file of package commands defines an "update" flag (the session
// package's is in another test binary).
var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	tvAccount = "me@example.net"
	tvT1      = "a1b2c3d4-0000-4000-8000-000000000001" // alice, current, locked conversation
	tvT2      = "a1b2ffff-0000-4000-8000-000000000002" // child of tvT1
	tvT3      = "c0ffee00-1111-4222-8333-444455556666" // bob, closed
	tvFoo     = "cyc-foo"                              // parent cyc-bar
	tvBar     = "cyc-bar"                              // parent cyc-foo
	tvHist    = "hist-only-77"                         // in the history only (index pruned)
)

var tvT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func tvAt(min int) time.Time { return tvT0.Add(time.Duration(min) * time.Minute) }

// tvFixture writes a state directory with a handful of threads: a child
// thread, a parent cycle, a closed thread, two peers, a reply, an error, a
// thread-less message and hostile control characters.
func tvFixture(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	store, err := statefile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Update(context.Background(), func(st *statefile.State) error {
		a := st.Account(tvAccount)
		a.Conversations["alice@example.org"] = &statefile.Conversation{Peer: "alice@example.org",
			LockedTo: "alice@example.org/phone", LockKind: statefile.LockMessage, LockedAt: tvAt(1), Thread: tvT1, LastActivity: tvAt(12)}
		a.Conversations["bob@example.com"] = &statefile.Conversation{Peer: "bob@example.com", LastActivity: tvAt(30)}
		a.Threads = map[string]*statefile.Thread{
			tvT1: {ID: tvT1, Peer: "alice@example.org", Type: "chat", Subject: "Lunch?", Count: 6, First: tvAt(0), Last: tvAt(12), Ours: true},
			tvT2: {ID: tvT2, Parent: tvT1, Peer: "alice@example.org", Type: "chat", Subject: "Dessert\x1b]0;pwned\x07", Count: 2, First: tvAt(6), Last: tvAt(7), Ours: true},
			tvT3: {ID: tvT3, Peer: "bob@example.com", Type: "normal", Subject: "Quarterly report", Count: 2, First: tvAt(20), Last: tvAt(21),
				Closed: true, ClosedAt: tvAt(25)},
			tvFoo: {ID: tvFoo, Parent: tvBar, Peer: "bob@example.com", Type: "chat", Subject: "foo", Count: 1, First: tvAt(28), Last: tvAt(28)},
			tvBar: {ID: tvBar, Parent: tvFoo, Peer: "bob@example.com", Type: "chat", Subject: "bar", Count: 1, First: tvAt(29), Last: tvAt(30)},
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	in := func(min int, peer, thread, body string) statefile.Record {
		return statefile.Record{Account: tvAccount, Dir: statefile.DirIn, Time: tvAt(min), Peer: peer, Type: "chat",
			ID: fmt.Sprintf("m%d", min), Thread: thread, Body: body}
	}
	out := func(min int, peer, thread, body string) statefile.Record {
		r := in(min, peer, thread, body)
		r.Dir = statefile.DirOut
		return r
	}
	recs := []statefile.Record{
		in(-60, "alice@example.org/laptop", tvHist, "an old thread the index forgot"),
		func() statefile.Record {
			// A child of a thread the index forgot: show finds it in a
			// second pass over the history.
			r := in(-50, "alice@example.org/laptop", "hist-child", "a reply in a forgotten child thread")
			r.Parent = tvHist
			return r
		}(),
		in(0, "alice@example.org/phone", tvT1, "lunch today?"),
		func() statefile.Record {
			r := out(1, "alice@example.org/phone", tvT1, "sure, where?")
			r.InReplyTo, r.OriginID = "m0", "o-1"
			return r
		}(),
		func() statefile.Record {
			r := in(2, "alice@example.org/phone", tvT1, "")
			r.ChatState = "composing"
			return r
		}(),
		in(3, "alice@example.org/phone", tvT1, "line one\nline two \x1b[31mred\u009b[2J\u202etxt.exe"),
		func() statefile.Record {
			r := in(4, "Alice@Example.ORG/phone", tvT1, "")
			r.Type, r.Error = "error", "service-unavailable"
			return r
		}(),
		func() statefile.Record {
			r := out(6, "alice@example.org/phone", tvT2, "and dessert?")
			r.Parent = tvT1
			return r
		}(),
		func() statefile.Record {
			r := in(7, "alice@example.org/phone", tvT2, "cake")
			r.Parent = tvT1
			return r
		}(),
		in(10, "alice@example.org/phone", "", "a message without a thread"),
		out(12, "alice@example.org/phone", tvT1, "see you"),
		func() statefile.Record {
			r := out(20, "bob@example.com", tvT3, "attached")
			r.Type, r.Subject = "normal", "Quarterly report"
			return r
		}(),
		func() statefile.Record {
			r := in(21, "bob@example.com/work", tvT3, "thanks")
			r.Type = "normal"
			return r
		}(),
		func() statefile.Record {
			r := in(28, "bob@example.com/work", tvFoo, "foo says hi")
			r.Parent = tvBar
			return r
		}(),
		func() statefile.Record {
			r := in(29, "bob@example.com/work", tvBar, "bar says hi")
			r.Parent = tvFoo
			return r
		}(),
		func() statefile.Record {
			r := in(30, "alice@example.org/phone", tvT1, "another account's message")
			r.Account = "other@example.net"
			return r
		}(),
	}
	if err := store.History(0).Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	return dir
}

type tvResult struct {
	code        int
	out, errout string
}

// runThreadsView runs jab in-process with the fixture's state directory.
func runThreadsView(t testing.TB, dir string, tty bool, env map[string]string, args ...string) tvResult {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, StdoutTTY: tty,
		Getenv: func(k string) string {
			switch k {
			case "JAB_JID":
				return tvAccount
			case "JAB_STATE_DIR":
				return dir
			}
			return env[k]
		},
		Now: func() time.Time { return tvAt(60) }, Host: "test"}
	code := Run(context.Background(), e, append([]string{"jab"}, args...))
	return tvResult{code, out.String(), errb.String()}
}

func tvGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "threads", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// tvColourCode is the only escape sequence allowed: a colour around a whole
// line.
var tvColourLine = regexp.MustCompile("^\x1b\\[38;5;[0-9]+m([^\x1b]*)\x1b\\[0m$")

// tvTerminalSafe fails if text that is not a colour code around a whole
// line could act on a terminal.
func tvTerminalSafe(t *testing.T, out string, colour bool) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if colour {
			m := tvColourLine.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("line not wrapped in exactly one colour: %q", line)
				continue
			}
			line = m[1]
		}
		for _, r := range line {
			if r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) {
				t.Errorf("control character %U reaches the terminal: %q", r, line)
			}
		}
	}
}

func TestThreadsGolden(t *testing.T) {
	dir := tvFixture(t)
	tests := []struct {
		name   string
		golden string
		tty    bool
		env    map[string]string
		args   []string
	}{
		{"list text", "list.txt", false, nil, []string{"threads", "list"}},
		{"list json", "list.jsonl", false, nil, []string{"threads", "list", "--json"}},
		{"list on a terminal has a header", "list_tty.txt", true, nil, []string{"threads", "list"}},
		{"list one peer, open", "list_bob_open.txt", false, nil, []string{"threads", "list", "--peer", "Bob@example.com/work", "--open"}},
		{"list closed", "list_closed.txt", false, nil, []string{"threads", "list", "--closed"}},
		{"show by thread", "show_thread.txt", false, nil, []string{"threads", "show", tvT1}},
		{"show by prefix", "show_thread.txt", false, nil, []string{"threads", "show", "a1b2c3"}},
		{"show by JID", "show_jid.txt", false, nil, []string{"threads", "show", "alice@example.org"}},
		{"show by full JID", "show_jid.txt", false, nil, []string{"threads", "show", "alice@example.org/phone"}},
		{"show json", "show_jid.jsonl", false, nil, []string{"threads", "show", "--json", "alice@example.org"}},
		{"show colour", "show_colour.txt", true, nil, []string{"threads", "show", "alice@example.org"}},
		{"show NO_COLOR", "show_jid.txt", true, map[string]string{"NO_COLOR": "1"}, []string{"threads", "show", "alice@example.org"}},
		{"show cycle", "show_bob.txt", false, nil, []string{"threads", "show", "bob@example.com"}},
		{"show history-only thread", "show_hist.txt", false, nil, []string{"threads", "show", "hist-only"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runThreadsView(t, dir, tt.tty, tt.env, tt.args...)
			if r.code != ExitOK || r.errout != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.errout)
			}
			colour := tt.tty && tt.env["NO_COLOR"] == "" && tt.args[1] == "show"
			tvTerminalSafe(t, r.out, colour)
			if tt.name == "show NO_COLOR" && *updateGolden {
				return // the same file as "show by JID"
			}
			tvGolden(t, tt.golden, r.out)
		})
	}
}

func TestThreadsListJSONFields(t *testing.T) {
	r := runThreadsView(t, tvFixture(t), false, nil, "threads", "list", "--json")
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(lines), r.out)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "short_id", "parent", "peer", "type", "subject", "count", "first", "last", "closed", "closed_at", "ours", "lock", "current"} {
		if _, ok := first[k]; !ok {
			t.Errorf("field %q missing: %s", k, lines[0])
		}
	}
	// Newest activity first: bob's cyc-bar (min 30), then alice's current thread.
	var ids []string
	for _, l := range lines {
		var m map[string]any
		json.Unmarshal([]byte(l), &m)
		ids = append(ids, m["id"].(string))
		if m["id"] == tvT1 && (m["current"] != true || m["lock"] != "alice@example.org/phone") {
			t.Errorf("current thread not marked with its lock: %s", l)
		}
		if m["id"] == tvT2 && (m["current"] != false || m["parent"] != tvT1) {
			t.Errorf("child thread: %s", l)
		}
	}
	want := []string{tvBar, tvFoo, tvT3, tvT1, tvT2}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("order %v, want %v", ids, want)
	}
}

func TestThreadsShowTree(t *testing.T) {
	dir := tvFixture(t)
	r := runThreadsView(t, dir, false, nil, "threads", "show", tvT1)
	lines := strings.Split(r.out, "\n")
	if !strings.HasPrefix(lines[0], "thread "+tvT1+" with alice@example.org") {
		t.Errorf("first line is not the thread's header: %q", lines[0])
	}
	child := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "  ↳ thread "+tvT2) {
			child = i
		}
	}
	if child < 0 {
		t.Fatalf("child thread not shown indented under its parent:\n%s", r.out)
	}
	if !strings.HasPrefix(lines[child+1], "    2026-") {
		t.Errorf("child's messages are not indented under it: %q", lines[child+1])
	}
	for _, want := range []string{"(re: m0)", "error=service-unavailable", "(composing)", `line one\nline two \u{1b}[31mred\u{9b}[2J\u{202e}txt.exe`} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "another account") {
		t.Errorf("another account's message is shown:\n%s", r.out)
	}
	if strings.Contains(r.out, "without a thread") {
		t.Errorf("a thread-less message is shown for a thread:\n%s", r.out)
	}
}

func TestThreadsParentCycle(t *testing.T) {
	dir := tvFixture(t)
	for _, arg := range []string{"bob@example.com", tvFoo, tvBar} {
		t.Run(arg, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done := make(chan tvResult, 1)
			go func() { done <- runThreadsView(t, dir, false, nil, "threads", "show", arg) }()
			var r tvResult
			select {
			case r = <-done:
			case <-ctx.Done():
				t.Fatal("show loops on a parent cycle")
			}
			for _, id := range []string{tvFoo, tvBar} {
				if n := strings.Count(r.out, "thread "+id+" "); n != 1 {
					t.Errorf("thread %s headed %d times, want once:\n%s", id, n, r.out)
				}
				if n := strings.Count(r.out, strings.TrimPrefix(id, "cyc-")+" says hi"); n != 1 {
					t.Errorf("thread %s's message shown %d times, want once:\n%s", id, n, r.out)
				}
			}
			if arg != "bob@example.com" && !strings.HasPrefix(r.out, "thread "+arg+" ") {
				t.Errorf("the thread asked for is not the root:\n%s", r.out)
			}
		})
	}
}

func TestThreadsShowLimit(t *testing.T) {
	dir := t.TempDir()
	store, err := statefile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var recs []statefile.Record
	for i := range 53 {
		recs = append(recs, statefile.Record{Account: tvAccount, Dir: statefile.DirIn, Time: tvAt(i), Peer: "carol@example.org/x",
			Type: "chat", Thread: "long-thread", Body: fmt.Sprintf("message %d", i)})
	}
	if err := store.History(0).Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	r := runThreadsView(t, dir, false, nil, "threads", "show", "carol@example.org")
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	if len(lines) != 51 || !strings.Contains(lines[0], "… 3 earlier messages") || !strings.HasSuffix(lines[1], "message 3") {
		t.Errorf("without --all: want a header saying 3 are cut and the last 50:\n%s", r.out)
	}
	r = runThreadsView(t, dir, false, nil, "threads", "show", "--all", "long-thread")
	lines = strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	if len(lines) != 54 || strings.Contains(lines[0], "earlier") || !strings.HasSuffix(lines[1], "message 0") {
		t.Errorf("--all: want every message:\n%s", r.out)
	}
	r = runThreadsView(t, dir, false, nil, "threads", "show", "--json", "long-thread")
	if n := strings.Count(r.out, "\n"); n != 50 {
		t.Errorf("--json without --all: %d records, want 50", n)
	}
}

func TestThreadsHistoryWarnings(t *testing.T) {
	dir := tvFixture(t)
	path := filepath.Join(dir, "history.jsonl")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := fmt.Sprintf("line %d: skipped", bytes.Count(data, []byte("\n"))+1)
	if err := os.WriteFile(path, append(data, "{not json\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runThreadsView(t, dir, false, nil, "threads", "show", "alice@example.org")
	if r.code != ExitOK || !strings.HasPrefix(r.errout, "jab: warning: history ") || !strings.Contains(r.errout, bad) {
		t.Errorf("exit %d, stderr %q: want a warning naming the line", r.code, r.errout)
	}
	if !strings.Contains(r.out, "lunch today?") {
		t.Errorf("the valid records are lost:\n%s", r.out)
	}
}

func TestThreadsWithoutHistory(t *testing.T) {
	// History can be turned off; the index alone still shows the threads.
	dir := tvFixture(t)
	if err := os.Remove(filepath.Join(dir, "history.jsonl")); err != nil {
		t.Fatal(err)
	}
	r := runThreadsView(t, dir, false, nil, "threads", "show", "alice@example.org")
	want := "thread " + tvT1 + " with alice@example.org (chat, no messages in the history): Lunch?\n" +
		"  ↳ thread " + tvT2 + " with alice@example.org (chat, no messages in the history): Dessert\\u{1b}]0;pwned\\u{7}\n"
	if r.code != ExitOK || r.out != want {
		t.Errorf("exit %d, stdout:\n%s\nwant:\n%s", r.code, r.out, want)
	}
}

func TestThreadsErrors(t *testing.T) {
	dir := tvFixture(t)
	tests := []struct {
		name     string
		args     []string
		want     []string // in the error line
		wantHint []string
	}{
		{"unknown thread", []string{"show", "zzzz9999"}, []string{`no thread or conversation "zzzz9999"`}, []string{"jab threads list"}},
		{"mistyped id", []string{"show", "a1b2c3d5"}, []string{`no thread or conversation "a1b2c3d5"`}, []string{"closest: " + tvT1 + ", " + tvT2}},
		{"unknown peer", []string{"show", "alicia@example.org"}, []string{`no thread or conversation "alicia@example.org"`}, []string{"closest: alice@example.org"}},
		{"short prefix", []string{"show", "a1b"}, []string{`no thread or conversation "a1b"`}, []string{"at least 4 characters"}},
		{"ambiguous prefix", []string{"show", "a1b2"}, []string{`"a1b2" is ambiguous`, tvT1, tvT2}, []string{"more characters"}},
		{"no argument", []string{"show"}, []string{"no thread or JID"}, nil},
		{"two arguments", []string{"show", tvT1, tvT2}, []string{"one THREAD or JID"}, nil},
		{"open and closed", []string{"list", "--open", "--closed"}, []string{"--open and --closed conflict"}, nil},
		{"malformed peer", []string{"list", "--peer", "@example.org"}, []string{"--peer", "malformed JID"}, nil},
		{"list with an argument", []string{"list", "x"}, []string{"no arguments"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runThreadsView(t, dir, false, nil, append([]string{"threads"}, tt.args...)...)
			if r.code != ExitUsage {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, ExitUsage, r.errout)
			}
			if r.out != "" {
				t.Errorf("stdout not empty: %q", r.out)
			}
			errLine, hint, _ := strings.Cut(r.errout, "\njab: hint: ")
			if !strings.HasPrefix(errLine, "jab: error: ") {
				t.Errorf("stderr %q", r.errout)
			}
			for _, w := range tt.want {
				if !strings.Contains(errLine, w) {
					t.Errorf("error %q lacks %q", errLine, w)
				}
			}
			for _, w := range tt.wantHint {
				if !strings.Contains(hint, w) {
					t.Errorf("hint %q lacks %q", hint, w)
				}
			}
		})
	}
}

func TestThreadsColourStable(t *testing.T) {
	// The same thread gets the same colour in every run, and the palette
	// gives different threads different colours often enough to tell
	// neighbours apart.
	if threadColour(tvT1) != threadColour(tvT1) {
		t.Fatal("colour is not deterministic")
	}
	seen := map[string]bool{}
	for i := range 64 {
		seen[threadColour(fmt.Sprintf("thread-%d", i))] = true
	}
	if len(seen) != len(threadPalette) {
		t.Errorf("64 threads used %d of %d colours", len(seen), len(threadPalette))
	}
}

// tvBigHistory builds a state directory with 100,000 messages: 100 peers,
// 10 threads each (one a child), 100 messages per thread.
func tvBigHistory(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	store, err := statefile.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	const peers, threadsPer, perThread = 100, 10, 100
	tid := func(p, k int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", p*threadsPer+k, p) }
	_, err = store.Update(context.Background(), func(st *statefile.State) error {
		a := st.Account(tvAccount)
		a.Threads = map[string]*statefile.Thread{}
		for p := range peers {
			peer := fmt.Sprintf("peer%d@example.org", p)
			a.Conversations[peer] = &statefile.Conversation{Peer: peer, LockedTo: peer + "/r", Thread: tid(p, 0)}
			for k := range threadsPer {
				t := &statefile.Thread{ID: tid(p, k), Peer: peer, Type: "chat", Subject: "subject", Count: perThread,
					First: tvAt(k), Last: tvAt(k + perThread)}
				if k == 1 {
					t.Parent = tid(p, 0)
				}
				a.Threads[t.ID] = t
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	h := store.History(0)
	batch := make([]statefile.Record, 0, 10000)
	n := 0
	for m := range perThread {
		for p := range peers {
			for k := range threadsPer {
				dirn := statefile.DirIn
				if n%3 == 0 {
					dirn = statefile.DirOut
				}
				batch = append(batch, statefile.Record{Account: tvAccount, Dir: dirn, Time: tvAt(m), Type: "chat",
					Peer: fmt.Sprintf("peer%d@example.org/r", p), ID: fmt.Sprintf("id-%d", n), Thread: tid(p, k),
					Body: "a message body of a typical length, some forty to eighty characters"})
				n++
				if len(batch) == cap(batch) {
					if err := h.Append(context.Background(), batch...); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
		}
	}
	return dir
}

func BenchmarkThreadsShow100k(b *testing.B) {
	dir := tvBigHistory(b)
	env := &Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		Getenv: func(k string) string {
			return map[string]string{"JAB_JID": tvAccount, "JAB_STATE_DIR": dir}[k]
		}, Now: time.Now, Host: "bench"}
	for _, args := range [][]string{{"peer42@example.org"}, {"0000000a-0000"}} {
		b.Run(args[0], func(b *testing.B) {
			for b.Loop() {
				if code := Run(context.Background(), env, append([]string{"jab", "threads", "show"}, args...)); code != 0 {
					b.Fatalf("exit %d", code)
				}
			}
		})
	}
}

func BenchmarkThreadsList100k(b *testing.B) {
	dir := tvBigHistory(b)
	env := &Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		Getenv: func(k string) string {
			return map[string]string{"JAB_JID": tvAccount, "JAB_STATE_DIR": dir}[k]
		}, Now: time.Now, Host: "bench"}
	for b.Loop() {
		if code := Run(context.Background(), env, []string{"jab", "threads", "list"}); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
