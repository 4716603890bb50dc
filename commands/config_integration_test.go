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
password_file = %q
`, srv.Addr, srv.CAFile, me.JID, me.JID, me.Password, pwFile)
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
	// Here two tables have it: that is an error, not a guess.
	env := j.extraEnv
	j.extraEnv = append(env, "JAB_CONFIG="+cfg, "JAB_ACCOUNT="+me.JID)
	r = j.run("", "send", alice.JID, "must not arrive")
	cliWantError(t, r, 2, "several accounts", "bot, wrong")
	cfg2 := filepath.Join(t.TempDir(), "config.toml")
	conf2 := fmt.Sprintf("server = %q\nca_file = %q\n[accounts.bot]\njid = %q\npassword = %q\n", srv.Addr, srv.CAFile, me.JID, me.Password)
	if err := os.WriteFile(cfg2, []byte(conf2), 0o600); err != nil {
		t.Fatal(err)
	}
	j.extraEnv = append(env, "JAB_CONFIG="+cfg2, "JAB_ACCOUNT="+me.JID)
	r = j.run("", "send", alice.JID, "account by JID")
	if r.Code != 0 {
		t.Fatalf("send with JAB_ACCOUNT=%s: %s", me.JID, r)
	}
	phone.WaitBody(t, "account by JID")

	// A table's password is for its own jid: with --jid naming another
	// account it is not used (nor sent to that account's server), and
	// the hint says whose it is.
	j.extraEnv = append(env, "JAB_CONFIG="+cfg)
	r = j.run("", "--account", "bot", "--jid", "other@"+srv.Domain, "send", alice.JID, "must not arrive")
	cliWantError(t, r, 2, "no password source for other@"+srv.Domain,
		"the password in "+cfg+" [accounts.bot] is for "+me.JID+"; for other@"+srv.Domain+" pass --password-cmd CMD")

	// The default account's wrong password is what is used without
	// --account: authentication fails, so the table is really read.
	// (JAB_NO_FAST: on Prosody 13 the token stored by the sends above
	// would log in whatever the password.)
	j.extraEnv = []string{"JAB_JID=", "JAB_PASSWORD=", "JAB_SERVER=", "JAB_CA_FILE=", "JAB_CONFIG=" + cfg, "JAB_NO_FAST=1"}
	r = j.run("", "send", alice.JID, "must not arrive")
	cliWantError(t, r, 4, "authentication")

	// A password file named in an account table without a jid, for the
	// account --jid gives.
	r = j.run("", "--account", "byfile", "--jid", me.JID, "send", alice.JID, "password file from config")
	if r.Code != 0 {
		t.Fatalf("send with --account byfile --jid: %s", r)
	}
	phone.WaitBody(t, "password file from config")
}
