package commands_test

// Integration tests of SASL2 (XEP-0388) and FAST tokens (XEP-0484)
// against Prosody 13 with mod_sasl2 and mod_sasl2_fast, which .ci/deps
// unpacks into a private tree beside the system Prosody 0.12. Like every
// integration test they fail, not skip, when that server is missing; only
// -short skips them. What the contact's client received is the proof that
// a login worked; the --debug output says how jab logged in.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/prosody"
	"github.com/jab-xmpp/jab/internal/testserver"
	"github.com/jab-xmpp/jab/statefile"
)

// fastServer starts a Prosody 13 with SASL2 and FAST for one test.
func fastServer(t *testing.T, opts prosody.Options) *prosody.Server {
	t.Helper()
	if err := prosody.Available13(); err != nil {
		t.Fatal(err)
	}
	opts.Prosody13 = true
	return loginServer(t, opts)
}

var reAuthenticate = regexp.MustCompile(`SEND <authenticate mechanism='([^']+)'(?: channel-binding='([^']+)')?(?: request-token='([^']+)')?>`)

// sasl2Login is one SASL2 <authenticate/> as jab's --debug output shows it.
type sasl2Login struct{ mech, cb, request string }

func authenticates(r result) []sasl2Login {
	var out []sasl2Login
	for _, m := range reAuthenticate.FindAllStringSubmatch(r.Stderr, -1) {
		out = append(out, sasl2Login{m[1], m[2], m[3]})
	}
	return out
}

// tokenFile reads the account's FAST token file, checking its mode.
func tokenFile(t *testing.T, j *jab) *statefile.FAST {
	t.Helper()
	store, err := statefile.Open(j.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	path := store.FASTPath(j.acct.JID)
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file %s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	f, err := store.ReadFAST(j.acct.JID)
	if err != nil || f == nil {
		t.Fatalf("read token file %s: %v, %v", path, f, err)
	}
	return f
}

// editToken rewrites the account's token file with change applied.
func editToken(t *testing.T, j *jab, change func(*statefile.FAST)) {
	t.Helper()
	f := tokenFile(t, j)
	if f == nil {
		t.Fatal("no token file to edit")
	}
	change(f)
	store, _ := statefile.Open(j.stateDir)
	if err := store.WriteFAST(*f); err != nil {
		t.Fatal(err)
	}
}

// noSecrets checks that neither the password nor any token jab has
// stored appears in a run's output.
func noSecrets(t *testing.T, r result, j *jab, tokens ...string) {
	t.Helper()
	if strings.Contains(r.Stderr+r.Stdout, j.acct.Password) {
		t.Error("the password appears in the output")
	}
	for _, tok := range tokens {
		if tok != "" && strings.Contains(r.Stderr+r.Stdout, tok) {
			t.Errorf("the FAST token appears in the output")
		}
	}
}

// TestFastLogin: the first send logs in with SASL2 and SCRAM and stores a
// token (0600, never printed); the second logs in with it (the HT-*
// mechanism with the strongest channel binding: tls-exporter on TLS 1.3,
// tls-unique on TLS 1.2), and both messages arrive.
func TestFastLogin(t *testing.T) {
	needServer(t)
	t.Parallel()
	tests := []struct {
		name     string
		opts     prosody.Options
		scram    string
		cb, fast string
	}{
		{name: "TLS 1.3", scram: "SCRAM-SHA-1-PLUS", cb: "tls-exporter", fast: "HT-SHA-256-EXPR"},
		{name: "TLS 1.2", opts: prosody.Options{TLSProtocol: "tlsv1_2"}, scram: "SCRAM-SHA-1-PLUS", cb: "tls-unique", fast: "HT-SHA-256-UNIQ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j, alice, phone := loginCast(t, fastServer(t, tt.opts))

			r := j.mustRun("", "send", "--debug", alice.JID, "first, with the password")
			phone.WaitBody(t, "first, with the password")
			got := authenticates(r)
			want := []sasl2Login{{tt.scram, tt.cb, tt.fast}}
			if !slices.Equal(got, want) {
				t.Fatalf("first login: %v, want %v\n%.3000s", got, want, r.Stderr)
			}
			if strings.Contains(r.Stderr, "SEND <auth ") {
				t.Errorf("RFC 6120 <auth> despite SASL2:\n%.3000s", r.Stderr)
			}
			tok := tokenFile(t, j)
			if tok == nil || !tok.HasToken() || tok.Mechanism != tt.fast {
				t.Fatalf("token file after the first login: %+v", tok)
			}
			if until := time.Until(tok.Expiry); until < 24*time.Hour {
				t.Errorf("token expires in %v; Prosody issues them for 21 days", until)
			}
			noSecrets(t, r, j, tok.Token)

			r = j.mustRun("", "send", "--debug", alice.JID, "second, with the token")
			phone.WaitBody(t, "second, with the token")
			got = authenticates(r)
			if want := []sasl2Login{{tt.fast, tt.cb, ""}}; !slices.Equal(got, want) {
				t.Fatalf("second login: %v, want %v\n%.3000s", got, want, r.Stderr)
			}
			if strings.Contains(r.Stderr, "SEND <response") {
				t.Errorf("a FAST login took more than one step:\n%.3000s", r.Stderr)
			}
			noSecrets(t, r, j, tok.Token)
			if again := tokenFile(t, j); again == nil || again.Token != tok.Token || again.ClientID != tok.ClientID {
				t.Errorf("a FAST login within a day changed the token file: %+v", again)
			}

			// Without --debug too, and a third time.
			j.mustRun("", "send", alice.JID, "third")
			phone.WaitBody(t, "third")
		})
	}
}

// TestFastFallback: a token the server does not know (corrupted in the
// file, or revoked on the server) is tried once, refused, and the same
// run logs in with the password on a new connection, delivers the message
// and stores a fresh token. An expired token and a corrupt file are never
// sent.
func TestFastFallback(t *testing.T) {
	needServer(t)
	t.Parallel()
	s := fastServer(t, prosody.Options{})
	j, alice, phone := loginCast(t, s)
	j.mustRun("", "send", alice.JID, "get a token")
	phone.WaitBody(t, "get a token")
	orig := tokenFile(t, j)
	if !orig.HasToken() {
		t.Fatalf("no token after a first login: %+v", orig)
	}

	// A token the server never issued.
	bad := orig.Token + "-corrupted"
	editToken(t, j, func(f *statefile.FAST) { f.Token = bad })
	r := j.mustRun("", "send", "--debug", alice.JID, "after a bad token")
	phone.WaitBody(t, "after a bad token")
	want := []sasl2Login{{"HT-SHA-256-EXPR", "tls-exporter", ""}, {"SCRAM-SHA-1-PLUS", "tls-exporter", "HT-SHA-256-EXPR"}}
	if got := authenticates(r); !slices.Equal(got, want) {
		t.Fatalf("logins %v, want %v\n%.4000s", got, want, r.Stderr)
	}
	noSecrets(t, r, j, bad, orig.Token)
	fresh := tokenFile(t, j)
	if !fresh.HasToken() || fresh.Token == bad || fresh.Token == orig.Token || fresh.ClientID != orig.ClientID {
		t.Fatalf("token file after the fallback: %+v (was %+v)", fresh, orig)
	}
	noSecrets(t, r, j, fresh.Token)
	r = j.mustRun("", "send", "--debug", alice.JID, "with the fresh token")
	phone.WaitBody(t, "with the fresh token")
	if got := authenticates(r); len(got) != 1 || got[0].mech != "HT-SHA-256-EXPR" {
		t.Fatalf("the fresh token was not used: %v", got)
	}

	// Revoked on the server: its token store is gone.
	revoked, _ := filepath.Glob(filepath.Join(s.Dir, "data", "*", "fast_tokens", "*"))
	if len(revoked) == 0 {
		t.Fatalf("no FAST token store under %s/data", s.Dir)
	}
	for _, f := range revoked {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	r = j.mustRun("", "send", "--debug", alice.JID, "after revocation")
	phone.WaitBody(t, "after revocation")
	if got := authenticates(r); !slices.Equal(got, want) {
		t.Fatalf("logins after revocation %v, want %v\n%.4000s", got, want, r.Stderr)
	}
	if f := tokenFile(t, j); !f.HasToken() || f.Token == fresh.Token {
		t.Fatalf("revoked token not replaced: %+v", f)
	}
	fresh = tokenFile(t, j)

	// Expired by its own expiry: not sent at all, replaced.
	editToken(t, j, func(f *statefile.FAST) { f.Expiry = time.Now().Add(-time.Minute) })
	r = j.mustRun("", "send", "--debug", alice.JID, "after expiry")
	phone.WaitBody(t, "after expiry")
	if got, want := authenticates(r), []sasl2Login{{"SCRAM-SHA-1-PLUS", "tls-exporter", "HT-SHA-256-EXPR"}}; !slices.Equal(got, want) {
		t.Fatalf("logins with an expired token %v, want %v", got, want)
	}
	if f := tokenFile(t, j); !f.HasToken() || f.Token == fresh.Token || !f.Expiry.After(time.Now()) {
		t.Errorf("expired token not replaced: %+v", f)
	}

	// A token file that is not JSON counts as none and is replaced.
	store, _ := statefile.Open(j.stateDir)
	if err := os.WriteFile(store.FASTPath(j.acct.JID), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = j.mustRun("", "send", "--debug", alice.JID, "after a corrupt file")
	phone.WaitBody(t, "after a corrupt file")
	if got := authenticates(r); len(got) != 1 || !strings.HasPrefix(got[0].mech, "SCRAM-") || got[0].request == "" {
		t.Fatalf("logins with a corrupt token file: %v", got)
	}
	if f := tokenFile(t, j); !f.HasToken() {
		t.Errorf("corrupt token file not replaced: %+v", f)
	}
}

// TestFastRotation: a server that rotates the token on a FAST login
// (XEP-0484; Prosody after sasl2_fast_token_min_ttl, here at once)
// has jab store the new token, and the next login uses it.
func TestFastRotation(t *testing.T) {
	needServer(t)
	t.Parallel()
	j, alice, phone := loginCast(t, fastServer(t, prosody.Options{Settings: []string{"sasl2_fast_token_min_ttl = 0"}}))
	j.mustRun("", "send", alice.JID, "get a token")
	phone.WaitBody(t, "get a token")
	prev := tokenFile(t, j)
	for i := range 2 {
		body := fmt.Sprintf("rotation %d", i)
		r := j.mustRun("", "send", "--debug", alice.JID, body)
		phone.WaitBody(t, body)
		if got, want := authenticates(r), []sasl2Login{{"HT-SHA-256-EXPR", "tls-exporter", ""}}; !slices.Equal(got, want) {
			t.Fatalf("login %d: %v, want %v", i, got, want)
		}
		cur := tokenFile(t, j)
		if !cur.HasToken() || cur.Token == prev.Token || cur.Mechanism != "HT-SHA-256-EXPR" || cur.ClientID != prev.ClientID {
			t.Fatalf("login %d did not store the rotated token: %+v (was %+v)", i, cur, prev)
		}
		noSecrets(t, r, j, prev.Token, cur.Token)
		prev = cur
	}
}

// TestFastConcurrent: one-shot sends of one account that run at once all
// log in with the shared token (one client id, one token file), and every
// message arrives.
func TestFastConcurrent(t *testing.T) {
	needServer(t)
	t.Parallel()
	j, alice, phone := loginCast(t, fastServer(t, prosody.Options{}))
	j.mustRun("", "send", alice.JID, "get a token")
	phone.WaitBody(t, "get a token")
	const n = 4
	type outcome struct {
		r   result
		err error
	}
	done := make(chan outcome, n)
	for i := range n {
		go func() {
			r, err := j.exec("", "send", "--debug", alice.JID, fmt.Sprintf("concurrent %d", i))
			done <- outcome{r, err}
		}()
	}
	for range n {
		o := <-done
		r := o.r
		if o.err != nil || r.Code != 0 {
			t.Fatalf("concurrent send: %v\n%s", o.err, r)
		}
		if got := authenticates(r); len(got) != 1 || got[0].mech != "HT-SHA-256-EXPR" {
			t.Errorf("concurrent send logged in with %v", got)
		}
	}
	for i := range n {
		phone.WaitBody(t, fmt.Sprintf("concurrent %d", i))
	}
}

// TestFastOff: --no-fast (or JAB_NO_FAST) neither asks for, stores nor
// uses a token; SASL2 with SCRAM still works.
func TestFastOff(t *testing.T) {
	needServer(t)
	t.Parallel()
	j, alice, phone := loginCast(t, fastServer(t, prosody.Options{}))
	r := j.mustRun("", "send", "--no-fast", "--debug", alice.JID, "no token 1")
	phone.WaitBody(t, "no token 1")
	if got, want := authenticates(r), []sasl2Login{{"SCRAM-SHA-1-PLUS", "tls-exporter", ""}}; !slices.Equal(got, want) {
		t.Fatalf("--no-fast logins %v, want %v", got, want)
	}
	if strings.Contains(r.Stderr, "user-agent") || tokenFile(t, j) != nil {
		t.Fatal("--no-fast stored a token or sent a user agent")
	}

	// With a stored token, JAB_NO_FAST leaves it alone and unused.
	j.mustRun("", "send", alice.JID, "get a token")
	phone.WaitBody(t, "get a token")
	before := tokenFile(t, j)
	if !before.HasToken() {
		t.Fatal("no token stored without --no-fast")
	}
	j.extraEnv = append(j.extraEnv, "JAB_NO_FAST=1")
	r = j.mustRun("", "send", "--debug", alice.JID, "no token 2")
	phone.WaitBody(t, "no token 2")
	if got := authenticates(r); len(got) != 1 || got[0].mech != "SCRAM-SHA-1-PLUS" || got[0].request != "" {
		t.Fatalf("JAB_NO_FAST logins %v", got)
	}
	if after := tokenFile(t, j); *after != *before {
		t.Errorf("JAB_NO_FAST changed the token file: %+v -> %+v", before, after)
	}
	// The flag overrides the environment.
	r = j.mustRun("", "send", "--no-fast=false", "--debug", alice.JID, "token again")
	phone.WaitBody(t, "token again")
	if got := authenticates(r); len(got) != 1 || got[0].mech != "HT-SHA-256-EXPR" {
		t.Fatalf("--no-fast=false logins %v", got)
	}
}

// TestFastNoSASL2: against Prosody 0.12 (no SASL2) jab logs in with RFC
// 6120 SASL as before and writes no token file.
func TestFastNoSASL2(t *testing.T) {
	onlyOn(t, "the package's server must be Prosody 0.12, which has no SASL2 and offers SCRAM-SHA-1 on TLS 1.3", testserver.Prosody)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	r := j.mustRun("", "send", "--debug", alice.JID, "old server")
	phone.WaitBody(t, "old server")
	if mech, _ := authUsed(t, r); mech != "SCRAM-SHA-1" {
		t.Errorf("mechanism %s", mech)
	}
	if strings.Contains(r.Stderr, "<authenticate") || tokenFile(t, j) != nil {
		t.Errorf("SASL2 or a token file against a server without SASL2:\n%.3000s", r.Stderr)
	}
}
