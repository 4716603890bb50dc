package commands_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRosterCommand: jab roster prints what the server holds, caches it,
// and shell completion then offers the contacts without connecting.
func TestRosterCommand(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	if r := j.mustRun("", "roster"); r.Stdout != "" {
		t.Fatalf("a new account's roster is not empty: %q", r.Stdout)
	}
	// RFC 6121 §2.3: add alice with a name and a group.
	j.mustRun(`<iq type='set'><query xmlns='jabber:iq:roster'><item jid='`+alice.JID+`' name='Alice &#x202e;gro'><group>work</group></item></query></iq>`,
		"raw", "--wait-iq")
	r := j.mustRun("", "roster")
	if want := alice.JID + "\tnone\tAlice \\u{202e}gro\twork\n"; r.Stdout != want {
		t.Fatalf("roster printed %q, want %q (the name's escape sanitised)", r.Stdout, want)
	}
	r = j.mustRun("", "roster", "--json")
	var it struct {
		JID, Name, Subscription string
		Groups                  []string
	}
	if err := json.Unmarshal([]byte(r.Stdout), &it); err != nil || it.JID != alice.JID || it.Groups[0] != "work" {
		t.Fatalf("roster --json: %q (%v)", r.Stdout, err)
	}
	// Completion offers the cached contact; no conversation exists yet.
	c := j.run("", "send", "--generate-bash-completion")
	if c.Code != 0 || !strings.Contains(c.Stdout, alice.JID) {
		t.Fatalf("completion does not offer the roster contact: %s", c)
	}
}
