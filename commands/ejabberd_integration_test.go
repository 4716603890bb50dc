package commands_test

// Logging in to ejabberd 23.01 (issue 13), in the JAB_TEST_SERVER=ejabberd
// run: it offers SCRAM-SHA-1-PLUS on TLS 1.3 without listing channel
// binding types (XEP-0440) and accepts only tls-unique, which Go cannot
// compute on TLS 1.3. The rule (session/binding.go, docs/PROTOCOL.md
// "Login: channel binding"): one retry capped at TLS 1.2 with tls-unique,
// remembered per account, never a login without binding unless asked.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/testserver"
	"github.com/jab-xmpp/jab/session"
)

// auths returns the mechanism and binding of every <auth> in jab's
// --debug output, as "MECH/TYPE".
func auths(r result) []string {
	var out []string
	for _, m := range reAuth.FindAllStringSubmatch(r.Stderr, -1) {
		out = append(out, m[1]+"/"+m[2])
	}
	return out
}

// bindingRecords lists the channel binding records in j's state directory.
func bindingRecords(t *testing.T, j *jab) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(j.stateDir, "binding-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEjabberdLogin: out of the box, the first send retries on TLS 1.2
// with tls-unique and is delivered; the account remembers it, and the
// next send goes there at once, with one login.
func TestEjabberdLogin(t *testing.T) {
	onlyOn(t, "ejabberd 23.01's channel binding", testserver.Ejabberd)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	r := j.mustRun("", "send", "--debug", alice.JID, "first, with a retry")
	phone.WaitBody(t, "first, with a retry")
	if got := strings.Join(auths(r), " "); got != "SCRAM-SHA-1-PLUS/tls-exporter SCRAM-SHA-1-PLUS/tls-unique" {
		t.Errorf("first login: %s, want tls-exporter refused, then tls-unique", got)
	}
	if recs := bindingRecords(t, j); len(recs) != 1 {
		t.Fatalf("%d binding records after the retry, want 1", len(recs))
	}
	r = j.mustRun("", "send", "--debug", alice.JID, "second, at once")
	phone.WaitBody(t, "second, at once")
	if got := strings.Join(auths(r), " "); got != "SCRAM-SHA-1-PLUS/tls-unique" {
		t.Errorf("second login: %s, want tls-unique at once", got)
	}
	if strings.Contains(r.Stderr, j.acct.Password) {
		t.Error("the password appears in the debug output")
	}
}

// TestEjabberdLoginModes: --channel-binding tls-unique logs in at once;
// tls-exporter, and --tls-min 1.3, are a refused binding (exit 7, its own
// hint, nothing sent); none logs in without binding and warns; a wrong
// password after the retry is still a wrong password (exit 4).
func TestEjabberdLoginModes(t *testing.T) {
	onlyOn(t, "ejabberd 23.01's channel binding", testserver.Ejabberd)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)

	r := j.mustRun("", "send", "--debug", "--channel-binding", "tls-unique", alice.JID, "unique")
	phone.WaitBody(t, "unique")
	if got := strings.Join(auths(r), " "); got != "SCRAM-SHA-1-PLUS/tls-unique" {
		t.Errorf("--channel-binding tls-unique: %s", got)
	}
	if recs := bindingRecords(t, j); len(recs) != 0 {
		t.Errorf("an explicit mode wrote a record: %v", recs)
	}

	for _, args := range [][]string{{"--channel-binding", "tls-exporter"}, {"--tls-min", "1.3"}} {
		r := j.run("", append(append([]string{"send", "--debug"}, args...), alice.JID, "refused "+args[0])...)
		if r.Code != 7 || !strings.Contains(r.Stderr, "jab: error: channel binding: ") || !strings.Contains(r.Stderr, "Invalid channel binding") {
			t.Errorf("%v: want exit 7 naming the refused binding: %s", args, r)
		}
		if strings.Contains(r.Stderr, "password source") || !strings.Contains(r.Stderr, "jab: hint: the password was not checked") {
			t.Errorf("%v: wrong hint: %s", args, r.Stderr)
		}
		if n := len(auths(r)); n != 1 {
			t.Errorf("%v: %d logins, want 1 (no retry)", args, n)
		}
		phone.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool { return m.Body == "refused "+args[0] })
	}

	r = j.mustRun("", "send", "--debug", "--channel-binding", "none", alice.JID, "unbound")
	phone.WaitBody(t, "unbound")
	if got := strings.Join(auths(r), " "); got != "SCRAM-SHA-1/" {
		t.Errorf("--channel-binding none: %s, want SCRAM-SHA-1 without binding", got)
	}
	if !strings.Contains(r.Stderr, "jab: warning: --channel-binding none") {
		t.Errorf("no warning for --channel-binding none: %s", r.Stderr)
	}

	bad := newJab(t, account{User: j.acct.User, Password: "wrong", JID: j.acct.JID})
	r = bad.run("", "send", "--debug", alice.JID, "wrong password")
	if r.Code != 4 || !strings.Contains(r.Stderr, "password source") {
		t.Errorf("wrong password: want exit 4 with the password hint: %s", r)
	}
	if got := strings.Join(auths(r), " "); got != "SCRAM-SHA-1-PLUS/tls-exporter SCRAM-SHA-1-PLUS/tls-unique" {
		t.Errorf("wrong password: %s", got)
	}
	if _, err := os.Stat(bad.stateDir); err == nil && len(bindingRecords(t, bad)) != 0 {
		t.Error("a failed login wrote a binding record")
	}
}
