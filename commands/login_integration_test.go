package commands_test

// Integration tests of login and TLS (issue 6) against real Prosody
// servers: direct TLS (XEP-0368), every SASL mechanism Prosody 0.12
// offers (PLAIN, SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants with
// tls-unique on TLS 1.2), --no-plain, --tls-min and
// --insecure-skip-verify. Each test starts the specially configured
// Prosody it needs beside the package's one; what the contact's client
// actually received is the proof that a login worked.

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/peer"
	"github.com/jab-xmpp/jab/internal/prosody"
	"github.com/jab-xmpp/jab/internal/testserver"
	"github.com/jab-xmpp/jab/session"
)

// loginServer starts a Prosody for one test and stops it afterwards.
func loginServer(t *testing.T, opts prosody.Options) *prosody.Server {
	t.Helper()
	onlyOn(t, "it starts a Prosody configured for it", testserver.Prosody)
	s, err := prosody.Start(opts)
	if err != nil {
		t.Fatalf("start prosody %+v: %v", opts, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prosody log tail (%s):\n%s", s.Addr, s.LogTail(30))
		}
		s.Stop()
	})
	return s
}

// loginCast registers me and alice on s and returns jab for me (talking
// to s's STARTTLS port and trusting its CA) and alice's online "phone".
func loginCast(t *testing.T, s *prosody.Server) (j *jab, alice account, phone *peer.Peer) {
	t.Helper()
	reg := func(prefix string) account {
		n := userN.Add(1)
		a := account{User: fmt.Sprintf("%s%d", prefix, n), Password: fmt.Sprintf("pw-%d-secret", n)}
		a.JID = a.User + "@" + s.Domain
		if err := s.Register(a.User, a.Password); err != nil {
			t.Fatalf("register %s: %v", a.User, err)
		}
		return a
	}
	me, alice := reg("me"), reg("alice")
	j = newJab(t, me)
	j.extraEnv = []string{"JAB_SERVER=" + s.Addr, "JAB_CA_FILE=" + s.CAFile}
	phone = peer.Connect(t, peer.Server{Addr: s.Addr, Domain: s.Domain, CAFile: s.CAFile}, alice.User, alice.Password, "phone")
	phone.Available(t)
	return j, alice, phone
}

var reAuth = regexp.MustCompile(`SEND <auth mechanism='([^']+)'(?: channel-binding='([^']+)')?>`)

// authUsed returns the mechanism and channel binding type jab's --debug
// output shows it used.
func authUsed(t *testing.T, r result) (mech, cb string) {
	t.Helper()
	m := reAuth.FindAllStringSubmatch(r.Stderr, -1)
	if len(m) != 1 {
		t.Fatalf("want exactly one <auth> in the debug output, got %d:\n%.3000s", len(m), r.Stderr)
	}
	return m[0][1], m[0][2]
}

// noBody checks that alice's phone received nothing from jab.
func noBody(t *testing.T, phone *peer.Peer, body string) {
	t.Helper()
	phone.NoMessage(t, 500*time.Millisecond, func(m *session.Message) bool { return m.Body == body })
}

// TestLoginMechanisms logs in with every mechanism the test servers
// offer: jab picks the strongest, a -PLUS variant whenever Prosody offers
// one (TLS 1.2: tls-unique), and the message arrives.
func TestLoginMechanisms(t *testing.T) {
	onlyOn(t, "Prosody's mechanisms and TLS versions; ejabberd's login is TestEjabberdLogin", testserver.Prosody)
	t.Parallel()
	tests := []struct {
		name     string
		opts     *prosody.Options // nil: the package's server
		wantMech string
		wantCB   string
	}{
		{name: "internal_hashed TLS 1.3", wantMech: "SCRAM-SHA-1"},
		{name: "internal_plain TLS 1.3", opts: &prosody.Options{Authentication: "internal_plain"}, wantMech: "SCRAM-SHA-256"},
		{name: "internal_hashed TLS 1.2", opts: &prosody.Options{TLSProtocol: "tlsv1_2"},
			wantMech: "SCRAM-SHA-1-PLUS", wantCB: "tls-unique"},
		{name: "internal_plain TLS 1.2", opts: &prosody.Options{Authentication: "internal_plain", TLSProtocol: "tlsv1_2"},
			wantMech: "SCRAM-SHA-256-PLUS", wantCB: "tls-unique"},
		{name: "PLAIN only", opts: &prosody.Options{DisableMechanisms: []string{"SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"}},
			wantMech: "PLAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var j *jab
			var alice account
			var phone *peer.Peer
			if tt.opts == nil {
				var me account
				me, alice, j, phone = meAndAlice(t)
				_ = me
			} else {
				j, alice, phone = loginCast(t, loginServer(t, *tt.opts))
			}
			body := "via " + tt.wantMech
			r := j.mustRun("", "send", "--debug", alice.JID, body)
			phone.WaitBody(t, body)
			mech, cb := authUsed(t, r)
			if mech != tt.wantMech || cb != tt.wantCB {
				t.Errorf("used %s (channel binding %q), want %s (%q)", mech, cb, tt.wantMech, tt.wantCB)
			}
			if strings.Contains(r.Stderr, j.acct.Password) {
				t.Error("the password appears in the debug output")
			}
		})
	}
}

// TestLoginDirectTLS: --direct-tls speaks TLS from the first byte to
// Prosody's c2s_direct_tls port (no STARTTLS), the message arrives, and
// the certificate is still verified against the JID's domain.
func TestLoginDirectTLS(t *testing.T) {
	needServer(t)
	t.Parallel()
	s := loginServer(t, prosody.Options{DirectTLS: true, Authentication: "internal_plain"})
	j, alice, phone := loginCast(t, s)

	r := j.mustRun("", "send", "--direct-tls", "--server", s.DirectTLSAddr, "--debug", alice.JID, "over direct TLS")
	phone.WaitBody(t, "over direct TLS")
	if strings.Contains(r.Stderr, "starttls") {
		t.Errorf("direct TLS negotiated STARTTLS:\n%.2000s", r.Stderr)
	}
	if mech, _ := authUsed(t, r); mech != "SCRAM-SHA-256" {
		t.Errorf("mechanism %s over direct TLS, want SCRAM-SHA-256", mech)
	}

	// The environment variable does the same.
	j.extraEnv = append(j.extraEnv, "JAB_DIRECT_TLS=1", "JAB_SERVER="+s.DirectTLSAddr)
	j.mustRun("", "send", alice.JID, "direct TLS from the environment")
	phone.WaitBody(t, "direct TLS from the environment")

	// Direct TLS to the STARTTLS port: a TLS error, nothing sent.
	r = j.run("", "send", "--server", s.Addr, alice.JID, "must not arrive 1")
	cliWantError(t, r, 1, "TLS")
	noBody(t, phone, "must not arrive 1")

	// A CA that did not sign the server's certificate.
	r = j.run("", "send", "--ca-file", cliWriteCA(t), alice.JID, "must not arrive 2")
	cliWantError(t, r, 1, "certificate")
	if h := cliHint(r); !strings.Contains(h, "--ca-file") {
		t.Errorf("hint %q does not point at --ca-file", h)
	}
	// Another name: SNI is the JID's domain, not the address connected
	// to, and Prosody refuses a name it does not serve before jab's own
	// name check gets to run (session's TestDirectTLSHandshake covers that
	// check with a server that answers any name).
	r = j.run("", "send", "--jid", "me@other.test", alice.JID, "must not arrive 3")
	cliWantError(t, r, 1, "TLS", "unrecognized name")
	noBody(t, phone, "must not arrive 2")
	noBody(t, phone, "must not arrive 3")
}

// TestLoginNoPlain: against a server that offers only PLAIN, --no-plain
// (or JAB_NO_PLAIN) refuses to log in: exit 4, the error names what the
// server offers, and nothing is sent. Without it PLAIN works inside TLS.
func TestLoginNoPlain(t *testing.T) {
	needServer(t)
	t.Parallel()
	s := loginServer(t, prosody.Options{DisableMechanisms: []string{"SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"}})
	j, alice, phone := loginCast(t, s)

	r := j.run("", "send", "--no-plain", "--debug", alice.JID, "must not arrive")
	cliWantErrorDebug(t, r, 4, "PLAIN is refused", "the server offers PLAIN")
	if strings.Contains(r.Stderr, "SEND <auth") {
		t.Errorf("jab started a SASL exchange despite --no-plain:\n%.2000s", r.Stderr)
	}
	if h := cliHint(r); !strings.Contains(h, "--no-plain") {
		t.Errorf("hint %q does not mention --no-plain", h)
	}
	j.extraEnv = append(j.extraEnv, "JAB_NO_PLAIN=true")
	r = j.run("", "send", alice.JID, "must not arrive")
	cliWantError(t, r, 4, "PLAIN")
	noBody(t, phone, "must not arrive")
	if len(j.readState()) != 0 {
		t.Errorf("a refused login wrote the state file:\n%s", j.readState())
	}

	// The flag overrides the environment, and PLAIN is then used.
	r = j.mustRun("", "send", "--no-plain=false", "--debug", alice.JID, "with PLAIN")
	phone.WaitBody(t, "with PLAIN")
	if mech, _ := authUsed(t, r); mech != "PLAIN" {
		t.Errorf("mechanism %s, want PLAIN", mech)
	}
}

// cliWantErrorDebug is cliWantError for a run with --debug: the SEND/RECV
// and "jab: debug:" lines are allowed on stderr.
func cliWantErrorDebug(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	var keep []string
	for _, l := range strings.Split(r.Stderr, "\n") {
		if !strings.HasPrefix(l, "SEND ") && !strings.HasPrefix(l, "RECV ") && !strings.HasPrefix(l, "jab: debug: ") {
			keep = append(keep, l)
		}
	}
	r.Stderr = strings.Join(keep, "\n")
	cliWantError(t, r, code, want...)
}

// TestLoginTLSMin: --tls-min 1.3 logs in to a server that speaks TLS 1.3
// and refuses one that offers only TLS 1.2, before anything is sent.
func TestLoginTLSMin(t *testing.T) {
	onlyOn(t, "Prosody's mechanisms and TLS versions; ejabberd's login is TestEjabberdLogin", testserver.Prosody)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)
	_ = me
	j.mustRun("", "send", "--tls-min", "1.3", alice.JID, "over TLS 1.3")
	phone.WaitBody(t, "over TLS 1.3")

	old := loginServer(t, prosody.Options{TLSProtocol: "tlsv1_2"})
	j2, alice2, phone2 := loginCast(t, old)
	j2.mustRun("", "send", "--tls-min", "1.2", alice2.JID, "over TLS 1.2")
	phone2.WaitBody(t, "over TLS 1.2")
	r := j2.run("", "send", "--tls-min", "1.3", alice2.JID, "must not arrive")
	cliWantError(t, r, 1, "TLS", "protocol version")
	j2.extraEnv = append(j2.extraEnv, "JAB_TLS_MIN=1.3")
	r = j2.run("", "send", alice2.JID, "must not arrive")
	cliWantError(t, r, 1, "TLS")
	noBody(t, phone2, "must not arrive")
}

// TestLoginInsecureSkipVerify: without the server's CA the login fails
// with a TLS error; --insecure-skip-verify (or its environment variable)
// makes the same run succeed and warns on stderr every time.
func TestLoginInsecureSkipVerify(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)
	_ = me
	j.extraEnv = []string{"JAB_CA_FILE="}
	r := j.run("", "send", alice.JID, "must not arrive")
	cliWantError(t, r, 1, "TLS", "certificate")
	if strings.Contains(r.Stderr, "warning") {
		t.Errorf("warning without --insecure-skip-verify:\n%s", r.Stderr)
	}
	noBody(t, phone, "must not arrive")

	const warning = "jab: warning: --insecure-skip-verify: the server's certificate is not checked"
	r = j.mustRun("", "send", "--insecure-skip-verify", alice.JID, "unverified 1")
	phone.WaitBody(t, "unverified 1")
	if !strings.HasPrefix(r.Stderr, warning) || strings.Count(r.Stderr, "\n") != 1 {
		t.Errorf("want exactly the warning on stderr, got:\n%s", r.Stderr)
	}
	j.extraEnv = append(j.extraEnv, "JAB_INSECURE_SKIP_VERIFY=1")
	r = j.mustRun("", "send", alice.JID, "unverified 2")
	phone.WaitBody(t, "unverified 2")
	if !strings.HasPrefix(r.Stderr, warning) {
		t.Errorf("no warning with JAB_INSECURE_SKIP_VERIFY:\n%s", r.Stderr)
	}
}
