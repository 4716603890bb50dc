package session

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"hash"
	"io"
	"math/big"
	"net"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeResolver answers SRV lookups from a table and records the
// questions; no DNS query leaves the test.
type fakeResolver struct {
	records map[string][]*net.SRV // "_service._proto.name"
	partial bool                  // return an error beside the records, as for dropped invalid names
	asked   []string
}

func (f *fakeResolver) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	q := "_" + service + "._" + proto + "." + name
	f.asked = append(f.asked, q)
	recs, ok := f.records[q]
	if !ok {
		return "", nil, &net.DNSError{Err: "no such host", Name: q, IsNotFound: true}
	}
	if f.partial {
		return q, recs, &net.DNSError{Err: "DNS response contained records which contain invalid names", Name: q}
	}
	return q, recs, nil
}

func srvRec(target string, port, prio, weight uint16) *net.SRV {
	return &net.SRV{Target: target, Port: port, Priority: prio, Weight: weight}
}

func TestTargets(t *testing.T) {
	const c, s = "_xmpp-client._tcp.example.org", "_xmpps-client._tcp.example.org"
	jid := JID{Local: "me", Domain: "example.org"}
	tests := []struct {
		name      string
		server    string
		directTLS bool
		records   map[string][]*net.SRV
		partial   bool
		want      []string // addr, "+tls" for direct TLS
		wantAsked []string
		wantErr   string
	}{
		{name: "server with port", server: "127.0.0.1:1234", want: []string{"127.0.0.1:1234"}},
		{name: "server without port", server: "xmpp.example.org", want: []string{"xmpp.example.org:5222"}},
		{name: "direct TLS server without port", server: "xmpp.example.org", directTLS: true,
			want: []string{"xmpp.example.org:5223+tls"}},
		{name: "direct TLS server with port", server: "[::1]:7000", directTLS: true, want: []string{"[::1]:7000+tls"}},
		{name: "no SRV records: the domain", want: []string{"example.org:5222"},
			wantAsked: []string{s, c}},
		{name: "no SRV records, direct TLS: the domain on 5223", directTLS: true,
			want: []string{"example.org:5223+tls"}, wantAsked: []string{s}},
		{name: "STARTTLS records only", records: map[string][]*net.SRV{
			c: {srvRec("b.example.org.", 5222, 10, 0), srvRec("a.example.org.", 5333, 5, 0)},
		}, want: []string{"a.example.org:5333", "b.example.org:5222"}},
		{name: "merged by priority, then weight, direct TLS first on a tie", records: map[string][]*net.SRV{
			c: {srvRec("c1.example.org.", 5222, 10, 5), srvRec("c0.example.org.", 5222, 0, 5), srvRec("c2.example.org.", 5222, 10, 50)},
			s: {srvRec("s1.example.org.", 443, 10, 5), srvRec("s3.example.org.", 5223, 20, 100)},
		}, want: []string{"c0.example.org:5222", "c2.example.org:5222", "s1.example.org:443+tls",
			"c1.example.org:5222", "s3.example.org:5223+tls"}},
		{name: "direct TLS uses only _xmpps-client", directTLS: true, records: map[string][]*net.SRV{
			c: {srvRec("c.example.org.", 5222, 0, 0)},
			s: {srvRec("s.example.org.", 5223, 5, 0)},
		}, want: []string{"s.example.org:5223+tls"}, wantAsked: []string{s}},
		{name: "'.' for STARTTLS, records for direct TLS", records: map[string][]*net.SRV{
			c: {srvRec(".", 0, 0, 0)},
			s: {srvRec("s.example.org.", 5223, 0, 0)},
		}, want: []string{"s.example.org:5223+tls"}},
		{name: "records beside an error are used", partial: true, records: map[string][]*net.SRV{
			c: {srvRec("c.example.org.", 5222, 0, 0)},
		}, want: []string{"c.example.org:5222"}},
		{name: "'.' means no service, no fallback", records: map[string][]*net.SRV{
			c: {srvRec(".", 0, 0, 0)},
		}, wantErr: "offers no XMPP client service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &fakeResolver{records: tt.records, partial: tt.partial}
			ts, err := targets(context.Background(), Config{JID: jid, Server: tt.server, DirectTLS: tt.directTLS, Resolver: r})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrUnreachable) {
					t.Errorf("err %v is not ErrUnreachable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range ts {
				a := x.addr
				if x.directTLS {
					a += "+tls"
				}
				got = append(got, a)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("targets = %q, want %q", got, tt.want)
			}
			if tt.server != "" && len(r.asked) > 0 {
				t.Errorf("looked up SRV %q although --server was given", r.asked)
			}
			if tt.wantAsked != nil && !reflect.DeepEqual(r.asked, tt.wantAsked) {
				t.Errorf("asked %q, want %q", r.asked, tt.wantAsked)
			}
		})
	}
}

// TestDialUnreachableSRV: when no SRV target accepts a connection the
// error is ErrUnreachable, one line, and names every target tried.
func TestDialUnreachableSRV(t *testing.T) {
	closed := func() uint16 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return uint16(ln.Addr().(*net.TCPAddr).Port)
	}
	p1, p2 := closed(), closed()
	r := &fakeResolver{records: map[string][]*net.SRV{
		"_xmpp-client._tcp.example.org":  {srvRec("127.0.0.1.", p1, 0, 0)},
		"_xmpps-client._tcp.example.org": {srvRec("127.0.0.1.", p2, 1, 0)},
	}}
	_, err := Dial(context.Background(), Config{JID: JID{Local: "me", Domain: "example.org"}, Password: "x",
		Resolver: r, Timeout: 5 * time.Second})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	msg := err.Error()
	for _, want := range []string{"127.0.0.1:" + itoa(p1), "127.0.0.1:" + itoa(p2) + " (direct TLS)", "connection refused"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	if strings.Index(msg, itoa(p1)) > strings.Index(msg, itoa(p2)) {
		t.Errorf("targets not tried in priority order: %q", msg)
	}
}

func itoa(p uint16) string { return big.NewInt(int64(p)).String() }

func TestChooseMechanism(t *testing.T) {
	both := map[string][]byte{cbExporter: []byte("e"), cbEndPoint: []byte("p")}
	tls12 := map[string][]byte{cbExporter: []byte("e"), cbEndPoint: []byte("p"), cbUnique: []byte("u")}
	prosody := []string{"SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "PLAIN"}
	tests := []struct {
		name      string
		offered   []string
		cbOffered []string
		have      map[string][]byte
		version   uint16
		noPlain   bool
		mode      string
		want      saslChoice
		wantErr   string
		wantCB    bool // a *ChannelBindingError
	}{
		{name: "strongest SCRAM; binding possible, none offered: y", offered: []string{"PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512"},
			have: both, version: tls.VersionTLS13, want: saslChoice{mech: "SCRAM-SHA-512", gs2: "y,,"}},
		{name: "no binding possible: n", offered: []string{"SCRAM-SHA-1", "PLAIN"},
			version: tls.VersionTLS13, want: saslChoice{mech: "SCRAM-SHA-1", gs2: "n,,"}},
		{name: "TLS 1.2 without XEP-0440: tls-unique (Prosody 0.12)", offered: prosody, have: tls12, version: tls.VersionTLS12,
			want: saslChoice{mech: "SCRAM-SHA-256-PLUS", gs2: "p=tls-unique,,", cbType: cbUnique}},
		{name: "PLUS with a weaker hash beats no binding", offered: []string{"SCRAM-SHA-512", "SCRAM-SHA-1-PLUS"}, have: tls12,
			version: tls.VersionTLS12, want: saslChoice{mech: "SCRAM-SHA-1-PLUS", gs2: "p=tls-unique,,", cbType: cbUnique}},
		{name: "TLS 1.3 without XEP-0440: tls-exporter", offered: prosody, have: both, version: tls.VersionTLS13,
			want: saslChoice{mech: "SCRAM-SHA-256-PLUS", gs2: "p=tls-exporter,,", cbType: cbExporter}},
		{name: "XEP-0440 list: our preference among the common types", offered: prosody, have: tls12, version: tls.VersionTLS12,
			cbOffered: []string{cbUnique, cbEndPoint}, want: saslChoice{mech: "SCRAM-SHA-256-PLUS", gs2: "p=tls-server-end-point,,", cbType: cbEndPoint}},
		{name: "PLUS offered, no common type: a binding error, never n", offered: prosody, have: both, version: tls.VersionTLS13,
			cbOffered: []string{"tls-foo"}, wantCB: true},
		{name: "PLUS offered, TLS 1.3 without the default type: a binding error", offered: prosody,
			have: map[string][]byte{cbEndPoint: []byte("p")}, version: tls.VersionTLS13, wantCB: true},
		{name: "mode none: no binding although PLUS is offered, n", offered: prosody, have: both, version: tls.VersionTLS13,
			mode: BindingNone, want: saslChoice{mech: "SCRAM-SHA-256", gs2: "n,,"}},
		{name: "mode none, no PLUS offered: still y", offered: []string{"SCRAM-SHA-1"}, have: both, version: tls.VersionTLS13,
			mode: BindingNone, want: saslChoice{mech: "SCRAM-SHA-1", gs2: "y,,"}},
		{name: "mode tls-unique on TLS 1.2", offered: prosody, have: tls12, version: tls.VersionTLS12, mode: BindingUnique,
			want: saslChoice{mech: "SCRAM-SHA-256-PLUS", gs2: "p=tls-unique,,", cbType: cbUnique}},
		{name: "mode tls-exporter where the server names only tls-unique: a binding error", offered: prosody, have: tls12,
			version: tls.VersionTLS12, cbOffered: []string{cbUnique}, mode: BindingExporter, wantCB: true},
		{name: "PLAIN when nothing else", offered: []string{"PLAIN", "X-OAUTH2"}, have: both, version: tls.VersionTLS13,
			want: saslChoice{mech: "PLAIN"}},
		{name: "no-plain refuses PLAIN and names the offer", offered: []string{"PLAIN", "X-OAUTH2"}, noPlain: true,
			wantErr: "PLAIN is refused (no-plain); the server offers PLAIN, X-OAUTH2"},
		{name: "no-plain with SCRAM offered", offered: []string{"PLAIN", "SCRAM-SHA-1"}, noPlain: true,
			want: saslChoice{mech: "SCRAM-SHA-1", gs2: "n,,"}},
		{name: "nothing usable", offered: []string{"DIGEST-MD5"}, wantErr: "the server offers DIGEST-MD5"},
		{name: "nothing offered", wantErr: "no mechanism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chooseMechanism(tt.offered, tt.cbOffered, tt.have, tt.version, tt.noPlain, tt.mode)
			if tt.wantCB {
				var ce *ChannelBindingError
				if !errors.As(err, &ce) {
					t.Fatalf("got %+v, %v; want a ChannelBindingError", got, err)
				}
				return
			}
			if tt.wantErr != "" {
				var ae *AuthError
				if !errors.As(err, &ae) || ae.Condition != "no-usable-mechanism" || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want an AuthError no-usable-mechanism with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// scramServer is a minimal RFC 5802 server (SHA-256) that checks the
// channel binding the client sent against the one it expects.
type scramServer struct {
	h         func() hash.Hash
	password  string
	salt      []byte
	iters     int
	wantGS2   string
	wantCB    []byte
	first     string // client-first-message-bare
	srvFirst  string
	serverKey []byte
}

func (s *scramServer) hmac(key []byte, msg string) []byte {
	m := hmac.New(s.h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func (s *scramServer) challenge(clientFirst string) (string, error) {
	if !strings.HasPrefix(clientFirst, s.wantGS2) {
		return "", errors.New("unexpected gs2 header in " + clientFirst)
	}
	s.first = strings.TrimPrefix(clientFirst, s.wantGS2)
	_, cnonce, _ := strings.Cut(s.first, ",r=")
	s.srvFirst = "r=" + cnonce + "SERVERNONCE,s=" + base64.StdEncoding.EncodeToString(s.salt) + ",i=" + big.NewInt(int64(s.iters)).String()
	return s.srvFirst, nil
}

func (s *scramServer) finish(clientFinal string) (string, error) {
	withoutProof, proof64, ok := strings.Cut(clientFinal, ",p=")
	if !ok {
		return "", errors.New("no proof")
	}
	wantC := "c=" + base64.StdEncoding.EncodeToString(append([]byte(s.wantGS2), s.wantCB...))
	if !strings.HasPrefix(withoutProof, wantC+",") {
		return "", errors.New("channel binding mismatch: " + withoutProof)
	}
	salted, _ := pbkdf2.Key(s.h, s.password, s.salt, s.iters, s.h().Size())
	clientKey := s.hmac(salted, "Client Key")
	sum := s.h()
	sum.Write(clientKey)
	stored := sum.Sum(nil)
	auth := s.first + "," + s.srvFirst + "," + withoutProof
	sig := s.hmac(stored, auth)
	proof, _ := base64.StdEncoding.DecodeString(proof64)
	if len(proof) != len(sig) {
		return "", errors.New("bad proof length")
	}
	for i := range proof {
		proof[i] ^= sig[i]
	}
	sum = s.h()
	sum.Write(proof)
	if !hmac.Equal(sum.Sum(nil), stored) {
		return "", errors.New("proof does not verify")
	}
	return "v=" + base64.StdEncoding.EncodeToString(s.hmac(s.hmac(salted, "Server Key"), auth)), nil
}

// TestSCRAMChannelBinding runs the client against the server above: the
// GS2 header and binding data go where RFC 5802 §7 puts them (the
// client-first message and c=), and a binding that differs from the
// server's view of the channel (a man in the middle) fails.
func TestSCRAMChannelBinding(t *testing.T) {
	tests := []struct {
		name          string
		gs2           string
		clientCB      []byte
		serverCB      []byte
		wantChallenge bool // the server accepts the header
		wantOK        bool
	}{
		{name: "no binding", gs2: "n,,", wantChallenge: true, wantOK: true},
		{name: "binding supported, server offered none", gs2: "y,,", wantChallenge: true, wantOK: true},
		{name: "tls-exporter", gs2: "p=tls-exporter,,", clientCB: []byte("0123456789abcdef0123456789abcdef"),
			serverCB: []byte("0123456789abcdef0123456789abcdef"), wantChallenge: true, wantOK: true},
		{name: "different channel", gs2: "p=tls-exporter,,", clientCB: []byte("0123456789abcdef0123456789abcdef"),
			serverCB: []byte("ffffffffffffffffffffffffffffffff"), wantChallenge: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &scramServer{h: sha256.New, password: "pencil", salt: []byte("saltsalt"), iters: 4096,
				wantGS2: tt.gs2, wantCB: tt.serverCB}
			c, err := newSCRAM("SCRAM-SHA-256-PLUS", "user", "pencil", "clientnonce")
			if err != nil {
				t.Fatal(err)
			}
			c.setBinding(tt.gs2, tt.clientCB)
			first := c.first()
			if want := tt.gs2 + "n=user,r=clientnonce"; first != want {
				t.Fatalf("client-first %q, want %q", first, want)
			}
			ch, err := srv.challenge(first)
			if (err == nil) != tt.wantChallenge {
				t.Fatalf("challenge: %v", err)
			}
			final, err := c.final(ch)
			if err != nil {
				t.Fatal(err)
			}
			v, err := srv.finish(final)
			if (err == nil) != tt.wantOK {
				t.Fatalf("server verification: err = %v, want ok %v", err, tt.wantOK)
			}
			if err == nil {
				if err := c.verify(v); err != nil {
					t.Fatalf("client rejected a correct server signature: %v", err)
				}
			}
		})
	}
}

// TestChannelBindings computes the binding data on both ends of a real
// TLS connection: what the client binds to must be what the server sees.
func TestChannelBindings(t *testing.T) {
	cert, leaf := testCert(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			srv := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: v, MaxVersion: v})
			done := make(chan error, 1)
			go func() { done <- srv.Handshake() }()
			cli := tls.Client(b, &tls.Config{InsecureSkipVerify: true, MaxVersion: v})
			if err := cli.Handshake(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			got := channelBindings(cli.ConnectionState())
			scs := srv.ConnectionState()
			wantExp, err := scs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[cbExporter], wantExp) || len(wantExp) != 32 {
				t.Errorf("tls-exporter %x, server has %x", got[cbExporter], wantExp)
			}
			sum := sha256.Sum256(leaf.Raw) // ECDSA with SHA-256
			if !bytes.Equal(got[cbEndPoint], sum[:]) {
				t.Errorf("tls-server-end-point %x, want %x", got[cbEndPoint], sum)
			}
			if v == tls.VersionTLS13 {
				if _, ok := got[cbUnique]; ok {
					t.Error("tls-unique offered for TLS 1.3 (RFC 5929 defines it only up to 1.2)")
				}
			} else if !bytes.Equal(got[cbUnique], scs.TLSUnique) || len(scs.TLSUnique) == 0 {
				t.Errorf("tls-unique %x, server has %x", got[cbUnique], scs.TLSUnique)
			}
		})
	}
}

func testCert(t *testing.T) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "example.org"},
		DNSNames: []string{"example.org"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf
}

// TestTLSConfig: verification is on unless asked otherwise, the floor
// is TLS 1.2, and direct TLS announces ALPN xmpp-client.
func TestTLSConfig(t *testing.T) {
	cfg := Config{JID: JID{Local: "me", Domain: "example.org"}}
	c := tlsConfig(cfg, false)
	if c.InsecureSkipVerify || c.MinVersion != tls.VersionTLS12 || c.ServerName != "example.org" || len(c.NextProtos) != 0 {
		t.Errorf("default: %+v", c)
	}
	cfg.TLSMin = tls.VersionTLS13
	c = tlsConfig(cfg, true)
	if c.MinVersion != tls.VersionTLS13 || !reflect.DeepEqual(c.NextProtos, []string{"xmpp-client"}) {
		t.Errorf("direct TLS, 1.3: min %x, ALPN %q", c.MinVersion, c.NextProtos)
	}
	cfg.InsecureSkipVerify = true
	if c = tlsConfig(cfg, false); !c.InsecureSkipVerify || c.VerifyConnection != nil {
		t.Error("InsecureSkipVerify not applied")
	}
}

// TestDirectTLSHandshake runs Dial against an in-process direct TLS
// listener whose certificate names example.org: the ClientHello carries
// SNI = the JID's domain and ALPN "xmpp-client" (XEP-0368 §4), a JID on
// another domain fails jab's name check, --tls-min 1.3 refuses a TLS 1.2
// server, and InsecureSkipVerify accepts the wrong name.
func TestDirectTLSHandshake(t *testing.T) {
	cert, leaf := testCert(t)
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	type hello struct {
		sni  string
		alpn []string
	}
	serve := func(t *testing.T, maxVersion uint16) (string, chan hello) {
		hellos := make(chan hello, 4)
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
			MaxVersion: maxVersion,
			GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
				hellos <- hello{h.ServerName, h.SupportedProtos}
				return nil, nil
			},
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"xmpp-client"},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				// Complete the handshake, then end the stream at once.
				go func() {
					c.(*tls.Conn).Handshake()
					c.Write([]byte("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'><stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"))
					c.Close()
				}()
			}
		}()
		return ln.Addr().String(), hellos
	}
	dial := func(addr, domain string, mod func(*Config)) error {
		cfg := Config{JID: JID{Local: "me", Domain: domain}, Password: "x", Server: addr, DirectTLS: true,
			ExtraCAs: roots, Timeout: 5 * time.Second}
		if mod != nil {
			mod(&cfg)
		}
		_, err := Dial(context.Background(), cfg)
		return err
	}

	addr, hellos := serve(t, 0)
	err := dial(addr, "example.org", nil)
	var se *StreamError
	if !errors.As(err, &se) || se.Condition() != "host-unknown" {
		t.Fatalf("trusted server: err = %v, want the server's stream error (TLS done)", err)
	}
	h := <-hellos
	if h.sni != "example.org" || !reflect.DeepEqual(h.alpn, []string{"xmpp-client"}) {
		t.Errorf("ClientHello SNI %q ALPN %q, want example.org and xmpp-client", h.sni, h.alpn)
	}

	err = dial(addr, "other.org", nil)
	var he x509.HostnameError
	var te *TLSError
	if !errors.As(err, &te) || !errors.As(err, &he) {
		t.Errorf("wrong name: err = %v, want a TLSError with an x509.HostnameError", err)
	}
	if h := <-hellos; h.sni != "other.org" {
		t.Errorf("SNI %q, want the JID's domain other.org", h.sni)
	}

	err = dial(addr, "other.org", func(c *Config) { c.InsecureSkipVerify = true; c.ExtraCAs = nil })
	if !errors.As(err, &se) {
		t.Errorf("InsecureSkipVerify: err = %v, want the server's stream error (TLS accepted)", err)
	}
	<-hellos

	old, _ := serve(t, tls.VersionTLS12)
	if err := dial(old, "example.org", func(c *Config) { c.TLSMin = tls.VersionTLS13 }); !errors.As(err, &te) {
		t.Errorf("TLSMin 1.3 against a TLS 1.2 server: err = %v, want a TLSError", err)
	}
	if err := dial(old, "example.org", nil); !errors.As(err, &se) {
		t.Errorf("TLS 1.2 server with the default minimum: err = %v, want the server's stream error", err)
	}
}

// RFC 6120 §7.6.1: the server binds a resource to the account that
// authenticated; any other JID refuses the session (issue 13: a hostile
// server answered the bind with mallory@evil.example).
func TestCheckBound(t *testing.T) {
	me := JID{Local: "me", Domain: "example.org"}
	for _, c := range []struct {
		bound string
		ok    bool
	}{
		{"me@example.org/jab-1", true},
		{"Me@Example.ORG/jab-1", true}, // servers fold the case
		{"mallory@evil.example/x", false},
		{"me@evil.example/x", false},
		{"mallory@example.org/x", false},
		{"me@example.org", false}, // no resource bound
		{"example.org/x", false},
	} {
		j, err := ParseJID(c.bound)
		if err != nil {
			t.Fatal(err)
		}
		err = checkBound(me, j)
		var be *BindError
		if got := err == nil; got != c.ok || (!c.ok && !errors.As(err, &be)) {
			t.Errorf("bound %s: err = %v, want ok=%v", c.bound, err, c.ok)
		}
	}
}

// Issue 13: a hostile server's 10 MiB stanza is refused after
// MaxIncomingStanza, with bounded memory (it took 125 MiB before).
func TestIncomingStanzaBounded(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &Conn{raw: a}
	c.dec = xml.NewDecoder(debugReader{a, c})
	go func() {
		io.WriteString(b, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
		io.WriteString(b, "<message xmlns='jabber:client' from='a@b/c'><body>small</body></message>")
		io.WriteString(b, "<message xmlns='jabber:client' from='a@b/c'><body>")
		chunk := strings.Repeat("x", 64<<10)
		for i := 0; i < 160; i++ { // 10 MiB
			if _, err := io.WriteString(b, chunk); err != nil {
				return
			}
		}
		io.WriteString(b, "</body></message>")
	}()
	if _, err := c.nextStart(); err != nil { // the stream header
		t.Fatal(err)
	}
	v, err := c.Read()
	if m, ok := v.(*Message); err != nil || !ok || m.Body != "small" {
		t.Fatalf("first stanza: %v, %v", v, err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = c.Read()
	runtime.ReadMemStats(&after)
	var tl *IncomingTooLargeError
	if !errors.As(err, &tl) {
		t.Fatalf("10 MiB stanza: err = %v, want IncomingTooLargeError", err)
	}
	// Reading the whole 10 MiB stanza allocated 62 MiB; refused at the
	// bound, 16 MiB (24 MiB under the race detector).
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 10*MaxIncomingStanza {
		t.Errorf("reading the refused stanza allocated %d MiB, want under %d", alloc>>20, 10*MaxIncomingStanza>>20)
	}
}

// Issue 13: entity expansion and external entities cannot reach jab: a
// DTD in the stream is refused (RFC 6120 §11.1), and an entity of one
// inside a stanza is not expanded.
func TestRestrictedXML(t *testing.T) {
	for name, stream := range map[string]string{
		"DTD with entities": `<!DOCTYPE s [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><message xmlns='jabber:client'><body>&b;</body></message>`,
		"external entity":   `<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><message xmlns='jabber:client'><body>&x;</body></message>`,
		"entity, no DTD":    `<message xmlns='jabber:client'><body>&b;</body></message>`,
		"processing instr.": `<?evil x?><message xmlns='jabber:client'><body>x</body></message>`,
	} {
		t.Run(name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			c := &Conn{raw: a}
			c.dec = xml.NewDecoder(debugReader{a, c})
			go io.WriteString(b, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"+stream)
			if _, err := c.nextStart(); err != nil {
				t.Fatal(err)
			}
			v, err := c.Read()
			if err == nil {
				t.Fatalf("read %#v, want an error", v)
			}
			if m, ok := v.(*Message); ok && strings.Contains(m.Body, "aaaa") {
				t.Fatal("an entity was expanded")
			}
		})
	}
}

// Issue 13: every stream error condition of RFC 6120 §4.9.3 ends the
// stream with a *StreamError naming it (and the server's text).
func TestStreamErrorConditions(t *testing.T) {
	for _, cond := range []string{"bad-format", "bad-namespace-prefix", "conflict", "connection-timeout", "host-gone",
		"host-unknown", "improper-addressing", "internal-server-error", "invalid-from", "invalid-namespace",
		"invalid-xml", "not-authorized", "not-well-formed", "policy-violation", "remote-connection-failed", "reset",
		"resource-constraint", "restricted-xml", "see-other-host", "system-shutdown", "undefined-condition",
		"unsupported-encoding", "unsupported-feature", "unsupported-stanza-type", "unsupported-version"} {
		a, b := net.Pipe()
		c := &Conn{raw: a}
		c.dec = xml.NewDecoder(debugReader{a, c})
		go io.WriteString(b, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"+
			"<stream:error><"+cond+" xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"+
			"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>why "+cond+"</text></stream:error></stream:stream>")
		if _, err := c.nextStart(); err != nil {
			t.Fatal(err)
		}
		_, err := c.Read()
		var se *StreamError
		if !errors.As(err, &se) || se.Condition() != cond || !strings.Contains(err.Error(), "why "+cond) {
			t.Errorf("%s: err = %v, want a StreamError with that condition and text", cond, err)
		}
		a.Close()
		b.Close()
	}
}
