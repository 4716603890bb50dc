package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

func TestSanitize(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "hello", "hello"},
		{"newlines stay on one line", "a\nb\r\nc", `a\nb\r\nc`},
		{"backslash is escaped so escapes are unambiguous", `a\nb`, `a\\nb`},
		{"tab", "a\tb", `a\tb`},
		{"ESC never reaches the terminal", "\x1b[31mred", `\u{1b}[31mred`},
		{"C1 CSI", "x\u009by", `x\u{9b}y`},
		{"DEL", "x\x7fy", `x\u{7f}y`},
		{"bidi override", "abc\u202Edef", `abc\u{202e}def`},
		{"non-ASCII text is kept", "héllo ☃ 日本", "héllo ☃ 日本"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sanitize(tt.in); got != tt.want {
				t.Fatalf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTextRecord(t *testing.T) {
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		ev   session.Event
		want string
	}{
		{"chat", session.Event{Kind: "message", From: "alice@example.org/phone", Type: "chat", Thread: "6f1c0b3e-8a7d", Body: "hi\nthere", Time: ts},
			`2026-11-22T10:00:00Z alice@example.org/phone chat 6f1c0b3e: hi\nthere`},
		{"no thread, subject, delayed", session.Event{Kind: "message", From: "a@b/c", Type: "normal", Subject: "s", Body: "b", Delayed: true, Time: ts},
			`2026-11-22T10:00:00Z a@b/c normal - (delayed): [subject: s] b`},
		{"reply", session.Event{Kind: "message", From: "a@b/c", Type: "chat", Thread: "t", InReplyTo: "m1", Body: "yes", Time: ts},
			`2026-11-22T10:00:00Z a@b/c chat t: (re: m1) yes`},
		{"error", session.Event{Kind: "message", From: "a@b", Type: "error", Error: "service-unavailable", Time: ts},
			`2026-11-22T10:00:00Z a@b error -: error=service-unavailable`},
		{"presence", session.Event{Kind: "presence", From: "a@b/c", Show: "away", Status: "out\x1b", Time: ts},
			`2026-11-22T10:00:00Z a@b/c presence available away out\u{1b}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := textRecord(tt.ev); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestJSONRecordFields(t *testing.T) {
	body := "x\x1b\ny\x7f\u009b[2J\u202egnp.exe\ufeff"
	data := jsonRecord(session.Event{Kind: "message", From: "a@b/c", Type: "chat", Body: body, Time: time.Unix(0, 0)})
	if bytes.ContainsAny(data, "\n\x1b\x7f\u009b\u202e\ufeff") {
		t.Fatalf("JSON record is not one safe line: %q", data)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m["body"] != body {
		t.Fatalf("escaping changed the body: %q", m["body"])
	}
	for _, k := range []string{"kind", "from", "to", "type", "id", "thread", "body", "subject", "chat_state", "delayed", "time"} {
		if _, ok := m[k]; !ok {
			t.Errorf("field %q missing from %s", k, data)
		}
	}
}

// TestRoomRecords: a room's nick, subject and room name are neutralised
// in text, JSON and the presence lines, whatever the server let through.
func TestRoomRecords(t *testing.T) {
	evil := "n\x1b[2J\u202eick\u009b"
	for _, ev := range []session.Event{
		{Kind: "message", From: "r\u202e@c/" + evil, Type: "groupchat", Room: "r\u202e@c", Nick: evil, Subject: evil, Body: evil, Own: true},
		{Kind: "presence", From: "r@c/" + evil, Room: "r@c", Nick: evil, Type: "unavailable"},
	} {
		for _, rec := range [][]byte{[]byte(textRecord(ev)), jsonRecord(ev)} {
			if bytes.ContainsAny(rec, "\n\x1b\u009b\u202e") {
				t.Errorf("unsafe record %q", rec)
			}
		}
	}
	var m map[string]any
	json.Unmarshal(jsonRecord(session.Event{Kind: "message", From: "r@c/n", Type: "groupchat", Room: "r@c", Nick: "n", Own: true}), &m)
	if m["kind"] != "groupchat" || m["room"] != "r@c" || m["nick"] != "n" || m["own"] != true {
		t.Errorf("room JSON record: %v", m)
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitError},
		{usagef("", "bad"), ExitUsage},
		{fmt.Errorf("wrapped: %w", &session.AuthError{Condition: "not-authorized"}), ExitAuth},
		{fmt.Errorf("%w: server", session.ErrTimeout), ExitTimeout},
		{&session.DeliveryError{Failed: []string{"x"}, Total: 1}, ExitTimeout},
		{fmt.Errorf("%w: refused", session.ErrUnreachable), ExitTimeout},
		{context.DeadlineExceeded, ExitTimeout},
		{&signalError{code: ExitInterrupted}, ExitInterrupted},
		{&signalError{code: ExitTerminated}, ExitTerminated},
		{&statefile.CorruptError{Path: "/x", Err: errors.New("bad")}, ExitError},
		{&session.RoomError{Room: "r@c", Cond: session.NoSuchRoom}, ExitUsage},
		{&session.RoomError{Room: "r@c", Cond: "item-not-found"}, ExitUsage},
		{fmt.Errorf("join: %w", &session.RoomError{Room: "r@c", Cond: "forbidden"}), ExitRoom},
		{&session.RoomError{Room: "r@c", Cond: "conflict"}, ExitRoom},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// runApp runs the app in-process for argument handling that never reaches
// the network.
func runApp(t *testing.T, stdin string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }, Now: time.Now, Host: "test"}
	code := Run(context.Background(), e, append([]string{"jab"}, args...))
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	base := map[string]string{"JAB_JID": "me@example.net", "JAB_PASSWORD": "x", "JAB_STATE_DIR": t.TempDir(), "JAB_SERVER": "127.0.0.1:1"}
	without := func(k string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			if a != k {
				m[a] = b
			}
		}
		return m
	}
	tests := []struct {
		name  string
		stdin string
		env   map[string]string
		args  []string
		want  string
	}{
		{"no account", "", without("JAB_JID"), []string{"send", "a@b", "x"}, "no account"},
		{"malformed account", "", map[string]string{"JAB_JID": "me@@x", "JAB_PASSWORD": "x"}, []string{"send", "a@b", "x"}, "--jid"},
		{"no password", "", without("JAB_PASSWORD"), []string{"send", "a@b", "x"}, "no password source"},
		{"no recipient", "", base, []string{"send"}, "no recipient"},
		{"malformed recipient", "", base, []string{"send", "@x", "hi"}, "recipient"},
		{"empty message", "", base, []string{"send", "a@b", ""}, "empty"},
		{"empty stdin", "\n", base, []string{"send", "a@b"}, "empty"},
		{"invalid UTF-8", "\xff\xfe", base, []string{"send", "a@b"}, "UTF-8"},
		{"bad type", "", base, []string{"send", "--type", "bogus", "a@b", "x"}, "--type"},
		{"thread conflict", "", base, []string{"send", "--thread", "t", "--new-thread", "a@b", "x"}, "conflict"},
		{"lines with text", "", base, []string{"send", "--lines", "a@b", "x"}, "--lines"},
		{"unknown flag", "", base, []string{"send", "--bogus", "a@b", "x"}, "bogus"},
		{"unknown command", "", base, []string{"bogus"}, "unknown command"},
		{"bad timeout env", "", map[string]string{"JAB_JID": "me@example.net", "JAB_PASSWORD": "x", "JAB_LOCK_IDLE": "soon"}, []string{"send", "a@b", "x"}, "JAB_LOCK_IDLE"},
		{"listen with arguments", "", base, []string{"listen", "extra"}, "no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runApp(t, tt.stdin, tt.env, tt.args...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, ExitUsage, errs)
			}
			if out != "" {
				t.Errorf("stdout not empty: %q", out)
			}
			if !strings.HasPrefix(errs, "jab: error: ") || !strings.Contains(errs, tt.want) {
				t.Errorf("stderr %q does not name %q", errs, tt.want)
			}
		})
	}
}

func TestGlobalFlagsEitherSide(t *testing.T) {
	// A global flag before the subcommand and one after it are both seen;
	// the unreachable server proves the options were resolved (exit 5, not 2).
	env := map[string]string{"JAB_PASSWORD": "x", "JAB_STATE_DIR": t.TempDir()}
	for _, args := range [][]string{
		{"--jid", "me@example.net", "send", "--server", "127.0.0.1:1", "a@b", "x"},
		{"send", "--jid", "me@example.net", "--server", "127.0.0.1:1", "a@b", "x"},
	} {
		code, _, errs := runApp(t, "", env, args...)
		if code != ExitTimeout || !strings.Contains(errs, "127.0.0.1:1") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
}

func TestParseRecipients(t *testing.T) {
	env := map[string]string{"JAB_JID": "me@example.net", "JAB_PASSWORD": "x"}
	_ = env
	tests := []struct {
		args     []string
		wantTo   []string
		wantText string
	}{
		{[]string{"a@b", "hello", "world"}, []string{"a@b"}, "hello world"},
		{[]string{"a@b", "c@d/r", "hi"}, []string{"a@b", "c@d/r"}, "hi"},
		{[]string{"a@b", "--", "c@d", "is here"}, []string{"a@b"}, "c@d is here"},
		{[]string{"news.example.org", "x"}, []string{"news.example.org"}, "x"},
	}
	for _, tt := range tests {
		o, err := splitArgs(tt.args, false)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		var to []string
		for _, j := range o.to {
			to = append(to, j.String())
		}
		if strings.Join(to, ",") != strings.Join(tt.wantTo, ",") || strings.Join(o.textArgs, " ") != tt.wantText {
			t.Errorf("%v: to %v text %q", tt.args, to, strings.Join(o.textArgs, " "))
		}
	}
}

// TestImportDirection keeps the tiers: main → commands → session →
// statefile, with readline only in commands and statefile on the standard
// library alone; and OpenPGP out of plain jab.
func TestImportDirection(t *testing.T) {
	deps := func(pkg string) string {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		return string(out)
	}
	const mod = "github.com/jab-xmpp/jab/"
	st := deps(mod + "statefile")
	for _, line := range strings.Fields(st) {
		if strings.Contains(line, ".") && !strings.HasPrefix(line, mod+"statefile") && strings.Contains(strings.SplitN(line, "/", 2)[0], ".") {
			t.Errorf("statefile imports %s: it must use the standard library only", line)
		}
	}
	s := deps(mod + "session")
	for _, bad := range []string{mod + "commands", "github.com/urfave/cli", "github.com/chzyer/readline"} {
		if strings.Contains(s, bad) {
			t.Errorf("session depends on %s", bad)
		}
	}
	if strings.Contains(deps(mod+"statefile"), mod+"session") {
		t.Error("statefile depends on session")
	}
	// Option resolution is tested without a cli.App (issue 10 §4).
	if set := deps(mod + "commands/internal/settings"); strings.Contains(set, "github.com/urfave/cli") {
		t.Error("commands/internal/settings depends on urfave/cli")
	}
	// session speaks XMPP itself (session/doc.go says why).
	if strings.Contains(deps(mod+"commands"), "github.com/xmppo/go-xmpp") {
		t.Error("jab depends on github.com/xmppo/go-xmpp")
	}
	// OpenPGP is in the companion jab-ox alone (commands/openpgp.go): the
	// crypto would cost every cold send of plain jab 1.5 MiB of memory.
	for _, pkg := range []string{strings.TrimSuffix(mod, "/"), mod + "commands"} {
		for _, line := range strings.Fields(deps(pkg)) {
			if strings.Contains(line, "go-crypto") || strings.Contains(line, "circl") || line == mod+"session/ox" || line == mod+"commands/oxcli" {
				t.Errorf("%s depends on %s: OpenPGP belongs in jab-ox", pkg, line)
			}
		}
	}
	// Uploads have an HTTP client of their own (session/upload_http.go):
	// net/http and what it pulls in (13 more package inits) raised the
	// peak memory of every cold send by about 1 MiB.
	for _, pkg := range []string{strings.TrimSuffix(mod, "/"), mod + "commands"} {
		for _, line := range strings.Fields(deps(pkg)) {
			switch line {
			case "net/http", "mime", "mime/multipart", "compress/gzip", "log":
				t.Errorf("%s depends on %s: jab's PUT needs none of it (docs/ARCHITECTURE.md, \"The upload's HTTP client\")", pkg, line)
			}
		}
	}
	if ox := deps(mod + "cmd/jab-ox"); !strings.Contains(ox, mod+"session/ox\n") || !strings.Contains(ox, mod+"commands\n") {
		t.Error("jab-ox does not link commands and session/ox")
	}
	// oxcli is a leaf of the commands tier: session/ox below it, commands
	// beside it; nothing imports it but jab-ox.
	if strings.Contains(deps(mod+"session/ox"), mod+"commands") {
		t.Error("session/ox depends on commands")
	}
}
