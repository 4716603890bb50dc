package commands_test

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/delayproxy"
	"github.com/jab-xmpp/jab/internal/prosody"
)

var reBound = regexp.MustCompile(`jab: debug: bound (\S+) after (\d+) round trips`)

// loginTurns is the round trips to the bound resource that a --debug run
// reports (session's turn counter: a burst of writes the server answers is
// one; the TCP connect is one).
func loginTurns(t *testing.T, r result) int {
	t.Helper()
	m := reBound.FindStringSubmatch(r.Stderr)
	if m == nil {
		t.Fatalf("no round-trip count in --debug output:\n%.3000s", r.Stderr)
	}
	n, _ := strconv.Atoi(m[2])
	return n
}

// TestLoginRoundTrips: the pipelining of a cold login, against the real
// servers. On Prosody 0.12 with STARTTLS and SCRAM: TCP, the stream
// header with <starttls/>, the TLS 1.3 handshake, the header after TLS,
// two SCRAM steps, and the restarted stream's header with the binding
// request: 7. Each pipelining undone adds one (9 before it). On Prosody
// 13 with direct TLS and a FAST token: TCP, TLS, the header, the one-step
// FAST authentication and the binding request: 5. The message arrives
// each time, so the server took every pipelined request.
func TestLoginRoundTrips(t *testing.T) {
	needServer(t)
	t.Parallel()
	t.Run("Prosody 0.12 STARTTLS SCRAM", func(t *testing.T) {
		t.Parallel()
		j, alice, phone := loginCast(t, loginServer(t, prosody.Options{}))
		r := j.mustRun("", "--debug", "send", alice.JID, "seven round trips")
		phone.WaitBody(t, "seven round trips")
		if mech, _ := authUsed(t, r); mech == "PLAIN" {
			t.Fatalf("logged in with PLAIN; the count assumes SCRAM")
		}
		if n := loginTurns(t, r); n != 7 {
			t.Errorf("login took %d round trips, want 7:\n%.4000s", n, r.Stderr)
		}
	})
	t.Run("Prosody 13 direct TLS FAST", func(t *testing.T) {
		t.Parallel()
		s := fastServer(t, prosody.Options{DirectTLS: true})
		j, alice, phone := loginCast(t, s)
		j.mustRun("", "--direct-tls", "--server", s.DirectTLSAddr, "send", alice.JID, "first, for the token")
		phone.WaitBody(t, "first, for the token")
		r := j.mustRun("", "--debug", "--direct-tls", "--server", s.DirectTLSAddr, "send", alice.JID, "with the token")
		phone.WaitBody(t, "with the token")
		if got := authenticates(r); len(got) != 1 || got[0].mech[:3] != "HT-" {
			t.Fatalf("second login did not use the FAST token: %v", got)
		}
		if n := loginTurns(t, r); n > 5 {
			t.Errorf("login took %d round trips, want at most 5:\n%.4000s", n, r.Stderr)
		}
	})
}

// TestSendRoundTripsOverDelay: a whole one-shot send through a proxy that
// delays each direction by 100 ms, as the proxy counts it on the wire:
// connect, the TLS handshake's two flights, two SCRAM steps, then the
// stream restart with the binding request, the message, the confirming
// ping and the closing tag, all in one write (the first stanzas follow the
// binding request without waiting for its answer, and the stream closes
// with the ping), and last the close of the connection: 7. Each of those
// pipelinings undone costs one more. The delay is long so that the
// client's own work between the binding request and the message (the
// state file write) stays well inside one round trip on a busy machine.
func TestSendRoundTripsOverDelay(t *testing.T) {
	needServer(t)
	t.Parallel()
	s := loginServer(t, prosody.Options{})
	j, alice, phone := loginCast(t, s)
	p, err := delayproxy.Start(delayproxy.Options{Target: s.Addr, Delay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	j.mustRun("", "--server", p.Addr(), "send", alice.JID, "over a slow link")
	phone.WaitBody(t, "over a slow link")
	if !p.WaitIdle(10 * time.Second) {
		t.Fatal("the proxied connection did not end")
	}
	st := p.Stats()
	if len(st) != 1 {
		t.Fatalf("%d connections through the proxy, want 1", len(st))
	}
	if n := st[0].RoundTrips; n > 7 {
		t.Errorf("the send took %d round trips on the wire, want at most 7", n)
	} else if testing.Verbose() {
		t.Logf("%d round trips on the wire", n)
	}
}
