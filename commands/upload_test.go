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
