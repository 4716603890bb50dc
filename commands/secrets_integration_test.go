package commands_test

// The FAST token and the password never leave jab's token file and its
// password source (issue 13): not in --debug output of a one-shot send or
// of a listen, not in an error, not in the history or any other file of
// the state directory.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/prosody"
	"github.com/jab-xmpp/jab/internal/testserver"
)

// TestFastTokenNeverShown logs in to Prosody 13 with a password (which
// stores a token), then with the token: a send, a listen that receives
// and answers, and a failing send, all with --debug. Neither the token
// read from the token file nor the password appears in their output or
// in any file of the state directory but the token file.
func TestFastTokenNeverShown(t *testing.T) {
	onlyOn(t, "it starts the Prosody 13 with FAST it needs", testserver.Prosody)
	t.Parallel()
	j, alice, phone := loginCast(t, fastServer(t, prosody.Options{}))
	r := j.mustRun("", "send", "--debug", alice.JID, "with the password")
	phone.WaitBody(t, "with the password")
	tok := tokenFile(t, j)
	if tok == nil || !tok.HasToken() {
		t.Fatalf("no token after the first login: %+v", tok)
	}
	secrets := []string{tok.Token, j.acct.Password}
	check := func(what, text string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s shows a secret (%d bytes of it):\n%.2000s", what, len(s), text)
			}
		}
	}
	check("the first send", r.Stdout+r.Stderr)

	r = j.mustRun("", "send", "--debug", alice.JID, "with the token")
	phone.WaitBody(t, "with the token")
	if !strings.Contains(r.Stderr, "mechanism='"+tok.Mechanism+"'") {
		t.Fatalf("the second send did not use the token:\n%.3000s", r.Stderr)
	}
	check("a send with the token", r.Stdout+r.Stderr)

	l := j.startListen("--debug", "--json", "--exec", "echo answered")
	phone.Chat(t, j.acct.JID, "listen, please", "")
	l.waitLine("listen, please", 15*time.Second)
	phone.WaitBody(t, "answered")
	l.stop()
	check("listen", strings.Join(l.Lines(), "\n")+l.Stderr())

	// An error after a token login: a room that does not exist.
	r = j.run("", "send", "--debug", "--room", "nosuchroom@conference."+alice.JID[strings.Index(alice.JID, "@")+1:], "hello?")
	if r.Code == 0 {
		t.Fatalf("a send to a missing room succeeded: %s", r)
	}
	check("an error", r.Stdout+r.Stderr)

	// Every file of the state directory but the token file itself.
	err := filepath.WalkDir(j.stateDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), "fast-") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		check(d.Name(), string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
