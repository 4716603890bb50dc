package commands_test

// Integration test of the config file against the real Prosody: the
// account, password, server and CA come from the file alone, and the
// contact receives the message.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jab-xmpp/jab/session"
)

func TestConfigIntegrationSend(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(me.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config.toml")
	conf := fmt.Sprintf(`# the server and CA for every account
server = %q
ca_file = %q
default_account = "wrong"

[accounts.wrong]
jid = %q
password = "not-the-password"

[accounts.bot]
jid = %q
password = %q

[accounts.byfile]
jid = %q
password_file = %q
`, srv.Addr, srv.CAFile, me.JID, me.JID, me.Password, "other@"+srv.Domain, pwFile)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// Nothing from the harness's environment: no JID, password, server
	// or CA.
	j.extraEnv = []string{"JAB_JID=", "JAB_PASSWORD=", "JAB_SERVER=", "JAB_CA_FILE="}

	r := j.run("", "--config", cfg, "--account", "bot", "send", alice.JID, "from the config file")
	if r.Code != 0 {
		t.Fatalf("send with --account bot: %s", r)
	}
	m := phone.WaitBody(t, "from the config file")
	if session.BareOf(m.From) != me.JID {
		t.Errorf("message from %q, want %s", m.From, me.JID)
	}
	if strings.Contains(r.Stdout+r.Stderr, me.Password) {
		t.Errorf("the password shows in the output:\n%s", r)
	}

	// JAB_ACCOUNT as a bare JID (what listen --exec children get) selects
	// the table with that jid; the global option comes after the command.
	j.extraEnv = append(j.extraEnv, "JAB_CONFIG="+cfg, "JAB_ACCOUNT="+me.JID)
	r = j.run("", "send", alice.JID, "account by JID")
	if r.Code != 0 {
		t.Fatalf("send with JAB_ACCOUNT=%s: %s", me.JID, r)
	}
	phone.WaitBody(t, "account by JID")

	// The default account's wrong password is what is used without
	// --account: authentication fails, so the table is really read.
	j.extraEnv = []string{"JAB_JID=", "JAB_PASSWORD=", "JAB_SERVER=", "JAB_CA_FILE=", "JAB_CONFIG=" + cfg}
	r = j.run("", "send", alice.JID, "must not arrive")
	cliWantError(t, r, 4, "authentication")

	// A password file named in the config file, for the account whose jid
	// --jid overrides (flag > account table).
	r = j.run("", "--account", "byfile", "--jid", me.JID, "send", alice.JID, "password file from config")
	if r.Code != 0 {
		t.Fatalf("send with --account byfile --jid: %s", r)
	}
	phone.WaitBody(t, "password file from config")
}
