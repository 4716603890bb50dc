package commands

import (
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
)

// TestOOBRecords: a received XEP-0066 URL in listen's records: text mode
// shows it as [file: URL] (sanitised; once when it is the body), JSON as
// oob_url, and a bot's CMD gets JAB_OOB_URL (empty when there is none, so
// jab's own environment cannot leak one in).
func TestOOBRecords(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u := "https://f.example/a/\x1b[2Jx.png"
	for name, c := range map[string]struct {
		body, url, want string
	}{
		"body is the URL": {u, u, `: [file: https://f.example/a/\u{1b}[2Jx.png]`},
		"text and a URL":  {"look", u, `: look [file: https://f.example/a/\u{1b}[2Jx.png]`},
		"URL only":        {"", u, `: [file: https://f.example/a/\u{1b}[2Jx.png]`},
		"no URL":          {"plain", "", ": plain"},
	} {
		ev := session.Event{Kind: session.KindMessage, From: "a@b/c", Type: "chat", Body: c.body, OOBURL: c.url, Time: at}
		if got := textRecord(ev); !strings.HasSuffix(got, c.want) {
			t.Errorf("%s: text %q, want the suffix %q", name, got, c.want)
		}
		js := string(jsonRecord(ev))
		if has := strings.Contains(js, `"oob_url":`); has != (c.url != "") {
			t.Errorf("%s: JSON %s", name, js)
		}
	}
	t.Setenv("JAB_OOB_URL", "https://stale.example/")
	for _, url := range []string{"https://f.example/x", ""} {
		env := childEnv(execOptions{}, session.JID{Local: "me", Domain: "b"}, session.Event{From: "a@b/c", OOBURL: url})
		n := 0
		for _, kv := range env {
			if strings.HasPrefix(kv, "JAB_OOB_URL=") {
				n++
				if kv != "JAB_OOB_URL="+url {
					t.Errorf("CMD's environment has %q, want %q", kv, url)
				}
			}
		}
		if n != 1 {
			t.Errorf("JAB_OOB_URL set %d times", n)
		}
	}
}

// TestProgressBar: drawn for a file of 1 MiB or more, at most five times
// a second plus the end, on one line that end clears; nothing for a
// smaller file. (send draws it only when stderr is a terminal.)
func TestProgressBar(t *testing.T) {
	var b strings.Builder
	now := time.Unix(0, 0)
	p := &progressBar{w: &b, now: func() time.Time { return now }}
	small := &session.UploadFile{Name: "s", Size: progressMin - 1}
	p.update(small, 10)
	p.end()
	if b.Len() != 0 {
		t.Fatalf("a small file drew %q", b.String())
	}
	big := &session.UploadFile{Name: "big\x1b.bin", Size: 4 << 20}
	p.update(big, 1<<20)
	p.update(big, 2<<20) // within 200 ms: not drawn
	now = now.Add(250 * time.Millisecond)
	p.update(big, 3<<20)
	p.update(big, 4<<20) // the end is always drawn
	p.end()
	out := b.String()
	if n := strings.Count(out, "jab: uploading"); n != 3 {
		t.Fatalf("%d draws, want 3: %q", n, out)
	}
	if !strings.Contains(out, ` 25% 1.0 MiB`) || !strings.Contains(out, `100% 4.0 MiB`) || !strings.Contains(out, `big\u{1b}.bin`) ||
		!strings.HasSuffix(out, "\r\x1b[K") || strings.Contains(out, "\n") {
		t.Fatalf("progress output %q", out)
	}
}
