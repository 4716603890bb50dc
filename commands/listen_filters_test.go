package commands

import (
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
)

func TestListenFilterPass(t *testing.T) {
	msg := func(from, typ, thread, body string) session.Event {
		return session.Event{Kind: session.KindMessage, From: from, Type: typ, Thread: thread, Body: body}
	}
	pres := session.Event{Kind: session.KindPresence, From: "alice@example.org/phone"}
	tests := []struct {
		name   string
		from   []string
		types  []string
		thread string
		match  string
		ev     session.Event
		want   bool
	}{
		{"no filter", nil, nil, "", "", msg("a@b/c", "chat", "", "x"), true},
		{"no filter presence", nil, nil, "", "", pres, true},
		{"bare from matches any resource", []string{"alice@example.org"}, nil, "", "", msg("alice@example.org/laptop", "chat", "", "x"), true},
		{"bare from matches bare sender", []string{"alice@example.org"}, nil, "", "", msg("alice@example.org", "chat", "", "x"), true},
		{"from is case-insensitive in the bare part", []string{"Alice@Example.ORG/phone"}, nil, "", "", msg("alice@example.org/phone", "chat", "", "x"), true},
		{"full from matches that resource", []string{"alice@example.org/phone"}, nil, "", "", msg("alice@example.org/phone", "chat", "", "x"), true},
		{"full from rejects another resource", []string{"alice@example.org/phone"}, nil, "", "", msg("alice@example.org/laptop", "chat", "", "x"), false},
		{"full from rejects the bare JID", []string{"alice@example.org/phone"}, nil, "", "", msg("alice@example.org", "chat", "", "x"), false},
		{"from rejects another contact", []string{"alice@example.org"}, nil, "", "", msg("bob@example.org/phone", "chat", "", "x"), false},
		{"repeated from", []string{"bob@example.org", "alice@example.org"}, nil, "", "", msg("alice@example.org/x", "chat", "", "x"), true},
		{"resource with a comma", []string{"alice@example.org/a,b"}, nil, "", "", msg("alice@example.org/a,b", "chat", "", "x"), true},
		{"from applies to presence", []string{"alice@example.org"}, nil, "", "", pres, true},
		{"from excludes presence", []string{"bob@example.org"}, nil, "", "", pres, false},
		{"malformed sender never matches", []string{"alice@example.org"}, nil, "", "", msg("@@", "chat", "", "x"), false},
		{"type", nil, []string{"chat"}, "", "", msg("a@b", "chat", "", "x"), true},
		{"type rejects", nil, []string{"chat"}, "", "", msg("a@b", "normal", "", "x"), false},
		{"repeated type", nil, []string{"headline", "normal"}, "", "", msg("a@b", "normal", "", "x"), true},
		{"type hides presence", nil, []string{"chat"}, "", "", pres, false},
		{"thread exact", nil, nil, "t1", "", msg("a@b", "chat", "t1", "x"), true},
		{"thread is not a prefix match", nil, nil, "t1", "", msg("a@b", "chat", "t10", "x"), false},
		{"thread rejects no thread", nil, nil, "t1", "", msg("a@b", "chat", "", "x"), false},
		{"thread hides presence", nil, nil, "t1", "", pres, false},
		{"match", nil, nil, "", "^x", msg("a@b", "chat", "", "x1"), true},
		{"match rejects", nil, nil, "", "^x", msg("a@b", "chat", "", "y1"), false},
		{"match hides presence", nil, nil, "", ".*", pres, false},
		{"match spans lines with flags", nil, nil, "", "(?s)a.b", msg("a@b", "chat", "", "a\nb"), true},
		{"all must hold", []string{"alice@example.org/phone"}, []string{"chat"}, "", "^x", msg("alice@example.org/phone", "chat", "", "x1"), true},
		{"all must hold: wrong resource", []string{"alice@example.org/phone"}, []string{"chat"}, "", "^x", msg("alice@example.org/laptop", "chat", "", "x2"), false},
		{"all must hold: wrong body", []string{"alice@example.org/phone"}, []string{"chat"}, "", "^x", msg("alice@example.org/phone", "chat", "", "y1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseListenFilter(tt.from, tt.types, tt.thread, tt.match)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Pass(tt.ev); got != tt.want {
				t.Fatalf("Pass(%+v) = %v, want %v", tt.ev, got, tt.want)
			}
		})
	}
}

func TestListenFilterUsageErrors(t *testing.T) {
	base := map[string]string{"JAB_JID": "me@example.net", "JAB_PASSWORD": "x", "JAB_STATE_DIR": t.TempDir(), "JAB_SERVER": "127.0.0.1:1"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"malformed from", []string{"--from", "alice@"}, "--from"},
		{"empty resource", []string{"--from", "alice@example.org/"}, "--from"},
		{"bad type", []string{"--type", "group"}, "--type"},
		{"invalid regexp", []string{"--match", "(x"}, "--match"},
		{"json and format", []string{"--json", "--format", "{{.Body}}"}, "--format"},
		{"format does not parse", []string{"--format", "{{.Body"}, "--format"},
		{"format names an unknown field", []string{"--format", "{{.Bodyy}}"}, "Bodyy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runApp(t, "", base, append([]string{"listen"}, tt.args...)...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, ExitUsage, errs)
			}
			if out != "" || !strings.Contains(errs, tt.want) {
				t.Errorf("stdout %q, stderr %q: want an error naming %q", out, errs, tt.want)
			}
		})
	}
}

func TestFormatRecord(t *testing.T) {
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	ev := session.Event{Kind: session.KindMessage, From: "Alice@Example.org/phone", To: "me@example.net/jab", Type: "chat",
		ID: "m1", OriginID: "o1", Thread: "t1", Parent: "p1", Body: "line 1\nline 2\x1b[31m", Subject: "s",
		ChatState: "active", Delayed: true, Time: ts, Error: "e", InReplyTo: "r1"}
	tests := []struct {
		name string
		tmpl string
		ev   session.Event
		want string
	}{
		{"from and body verbatim", "{{.From}}: {{.Body}}", ev, "Alice@Example.org/phone: line 1\nline 2\x1b[31m"},
		{"bare", "{{.FromBare}}", ev, "alice@example.org"},
		{"every message field", "{{.Kind}} {{.To}} {{.Type}} {{.ID}} {{.OriginID}} {{.Thread}} {{.Parent}} {{.Subject}} {{.ChatState}} {{.Delayed}} {{.Error}} {{.InReplyTo}}", ev,
			"message me@example.net/jab chat m1 o1 t1 p1 s active true e r1"},
		{"time is a time.Time", `{{.Time.Format "2006-01-02"}} {{.Time.Unix}}`, ev, "2026-11-22 1795341600"},
		{"presence", "{{.Kind}} {{.From}} {{.Type}} {{.Show}} {{.Status}}",
			session.Event{Kind: session.KindPresence, From: "a@b/c", Show: "away", Status: "lunch"}, "presence a@b/c available away lunch"},
		{"conditional", `{{if .Thread}}[{{.Thread}}] {{end}}{{.Body}}`, session.Event{Kind: "message", Body: "hi"}, "hi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := parseFormat(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			got, err := formatRecord(tmpl, tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFormatRecordFraming(t *testing.T) {
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	ev := session.Event{Kind: session.KindMessage, From: "a@b/c", Type: "chat", Body: "x\x00y\nz\x1b", Time: ts}
	tmpl, err := parseFormat("{{.FromBare}}|{{.Body}}")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    listenOptions
		want string
	}{
		{"format, newline", listenOptions{format: tmpl}, "a@b|x\x00y\nz\x1b\n"},
		{"format, null: verbatim but NUL removed", listenOptions{format: tmpl, null: true}, "a@b|xy\nz\x1b\x00"},
		{"text, null", listenOptions{null: true}, `2026-11-22T10:00:00Z a@b/c chat -: x\u{0}y\nz\u{1b}` + "\x00"},
		{"json, null", listenOptions{json: true, null: true}, string(jsonRecord(ev)) + "\x00"},
		{"json, newline", listenOptions{json: true}, string(jsonRecord(ev)) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.o.record(ev)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if tt.o.null && strings.Count(string(got), "\x00") != 1 {
				t.Fatalf("record %q: want exactly one NUL, its terminator", got)
			}
		})
	}
}
