package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReportedPath(t *testing.T) {
	tests := []struct {
		name, debug, want string
	}{
		{"hand-off", "jab: debug: sent through the running listen (pid 42) as me@example.test/jab-1\n", "hand-off"},
		{"hand-off named", "jab: debug: hand-off to jab listen (pid 42)\nSEND <message/>\n", "hand-off"},
		{"no hand-off", "jab: debug: no hand-off: no jab listen or repl runs for me@example.test; logging in\nSEND <?xml\n", "direct"},
		{"silent", "SEND <?xml version='1.0'?>\nRECV <stream:features/>\njab: debug: 7 round trips in all\n", "direct"},
		{"stanza text is not a report", "SEND <message><body>hand-off through the running listen</body></message>\n", "direct"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := reportedPath(tt.debug); got != tt.want {
				t.Errorf("reportedPath = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCommand(t *testing.T) {
	// Spare capacity: a with() that shares it would show.
	jab := tool{bin: "jab", args: append(make([]string, 0, 8), "send"), to: "alice@example.test"}
	gsx := tool{bin: "go-sendxmpp", args: []string{"-u", "me@example.test"}, to: "alice@example.test", gsx: true}
	tests := []struct {
		name  string
		tool  tool
		args  []string
		stdin string
	}{
		// Flags go before the recipient: after it they would be the
		// message (jab) or another recipient (go-sendxmpp).
		{"jab", jab.with("--debug").message("hi"), []string{"send", "--debug", "alice@example.test", "hi"}, ""},
		{"jab lines", func() tool { l := jab.with("--lines"); l.stdin = "a\nb\n"; return l }(),
			[]string{"send", "--lines", "alice@example.test"}, "a\nb\n"},
		{"go-sendxmpp", gsx.with("-d").message("hi"), []string{"-u", "me@example.test", "-d", "alice@example.test"}, "hi\n"},
	}
	if !slices.Equal(jab.args, []string{"send"}) || !slices.Equal(gsx.args, []string{"-u", "me@example.test"}) {
		t.Errorf("with() changed the tool it was called on: %q, %q", jab.args, gsx.args)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, stdin := tt.tool.command()
			if !slices.Equal(args, tt.args) || stdin != tt.stdin {
				t.Errorf("command() = %q, %q; want %q, %q", args, stdin, tt.args, tt.stdin)
			}
		})
	}
}

func TestTable(t *testing.T) {
	walls := func(ms ...int) []sample {
		var ss []sample
		for _, m := range ms {
			ss = append(ss, sample{wall: time.Duration(m) * time.Millisecond, rt: m})
		}
		return ss
	}
	var tb table
	tb.add("fast enough", "wall", wallOf, walls(10, 20, 30), walls(100, 100, 100), 0.4)
	tb.add("too slow", "wall", wallOf, walls(50, 50, 50), walls(100, 100, 100), 0.4)
	tb.add("no target", "wall", wallOf, walls(90), walls(100), 0)
	tb.add("just over", "wall", wallOf, []sample{{wall: 80100 * time.Microsecond}}, walls(100), 0.8)
	tb.addAbs("round trips", "round trips", rtOf, walls(5, 5, 6), walls(10, 10, 10), 5)
	tb.addAbs("too many", "round trips", rtOf, walls(6, 6, 6), walls(10, 10, 10), 5)
	want := []row{
		{label: "fast enough", metric: "wall", jab: "20.0 ms", gsx: "100.0 ms", ratio: "0.20", target: "≤ 0.4", holds: "yes"},
		{label: "too slow", metric: "wall", jab: "50.0 ms", gsx: "100.0 ms", ratio: "0.50", target: "≤ 0.4", holds: "NO"},
		{label: "no target", metric: "wall", jab: "90.0 ms", gsx: "100.0 ms", ratio: "0.90"},
		{label: "just over", metric: "wall", jab: "80.1 ms", gsx: "100.0 ms", ratio: "0.801", target: "≤ 0.8", holds: "NO"},
		{label: "round trips", metric: "round trips", jab: "5 (5–6)", gsx: "10", ratio: "0.50", target: "jab ≤ 5", holds: "yes"},
		{label: "too many", metric: "round trips", jab: "6", gsx: "10", ratio: "0.60", target: "jab ≤ 5", holds: "NO"},
	}
	if !slices.Equal(tb.rows, want) {
		t.Errorf("rows:\n%+v\nwant\n%+v", tb.rows, want)
	}
	var b strings.Builder
	tb.print(&b)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2+len(want) {
		t.Fatalf("printed %d lines:\n%s", len(lines), b.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "| ") || !strings.HasSuffix(l, " |") || strings.Count(l, "|") != 8 {
			t.Errorf("not a Markdown table row: %q", l)
		}
	}
}

func TestMedian(t *testing.T) {
	if m := median([]int64{5, 1, 3}); m != 3 {
		t.Errorf("median of 5 1 3 = %d", m)
	}
	if m := median([]int64{4, 1, 3, 2}); m != 2 {
		t.Errorf("median of 4 1 3 2 = %d", m)
	}
}

func TestMechanisms(t *testing.T) {
	tests := []struct{ name, log, want string }{
		{"jab SASL2", "SEND <?xml version='1.0'?>\nSEND <authenticate mechanism='HT-SHA-256-EXPR' channel-binding='tls-exporter'>[redacted]\n", "HT-SHA-256-EXPR"},
		{"jab fallback", "SEND <authenticate mechanism='HT-SHA-256-EXPR'>[redacted]\nSEND <authenticate mechanism='SCRAM-SHA-1-PLUS' channel-binding='tls-exporter' request-token='HT-SHA-256-EXPR'>\n", "HT-SHA-256-EXPR, then SCRAM-SHA-1-PLUS"},
		{"jab RFC 6120", "SEND <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>[redacted]\n", "SCRAM-SHA-1"},
		{"go-sendxmpp", "SEND: <authenticate xmlns='urn:xmpp:sasl:2' mechanism='SCRAM-SHA-1-PLUS'><initial-response>", "SCRAM-SHA-1-PLUS"},
		{"received, not sent", "RECV <authenticate mechanism='PLAIN'>", "?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mechanisms(tt.log); got != tt.want {
				t.Errorf("mechanisms = %q, want %q", got, tt.want)
			}
		})
	}
}
