package prosody

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/serverproc"
)

const (
	nsStream = "http://etherx.jabber.org/streams"
	nsTLS    = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL   = "urn:ietf:params:xml:ns:xmpp-sasl"
)

// requireProsody skips in -short mode and fails (not skips) when Prosody
// is not installed.
func requireProsody(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping Prosody integration test in -short mode")
	}
	if err := Available(); err != nil {
		t.Fatal(err)
	}
}

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prosody log tail (%s):\n%s", s.Addr, s.LogTail(50))
		}
		if err := s.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

// features is <stream:features/> as far as these tests care.
type features struct {
	StartTLS *struct {
		Required *struct{} `xml:"required"`
	} `xml:"urn:ietf:params:xml:ns:xmpp-tls starttls"`
	Mechanisms []string `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanisms>mechanism"`
	Raw        []byte   `xml:",innerxml"`
}

// client is a minimal raw XMPP client: just enough for STARTTLS and SASL.
type client struct {
	t    *testing.T
	conn net.Conn
	dec  *xml.Decoder
}

func dial(t *testing.T, s *Server) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr, err)
	}
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// openStream sends a stream header and returns the stream features.
func (c *client) openStream(domain string) features {
	c.t.Helper()
	c.send("<?xml version='1.0'?><stream:stream to='" + domain +
		"' xmlns='jabber:client' xmlns:stream='" + nsStream + "' version='1.0'>")
	return c.readFeatures()
}

// readFeatures reads the server's stream header and stream features.
func (c *client) readFeatures() features {
	c.t.Helper()
	c.dec = xml.NewDecoder(c.conn)
	for {
		se := c.nextStart()
		if se.Name.Space == nsStream && se.Name.Local == "stream" {
			break
		}
		c.t.Fatalf("expected <stream:stream>, got <%s xmlns=%q>", se.Name.Local, se.Name.Space)
	}
	se := c.nextStart()
	if se.Name.Space != nsStream || se.Name.Local != "features" {
		c.t.Fatalf("expected <stream:features>, got <%s xmlns=%q>", se.Name.Local, se.Name.Space)
	}
	var f features
	if err := c.dec.DecodeElement(&f, &se); err != nil {
		c.t.Fatalf("decoding features: %v", err)
	}
	return f
}

func (c *client) nextStart() xml.StartElement {
	c.t.Helper()
	for {
		tok, err := c.dec.Token()
		if err != nil {
			c.t.Fatalf("reading stream: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se
		}
	}
}

// startTLS negotiates STARTTLS and verifies the certificate for s.Domain
// with s.CAFile as the only root.
func (c *client) startTLS(s *Server) *tls.ConnectionState {
	c.t.Helper()
	c.send("<starttls xmlns='" + nsTLS + "'/>")
	se := c.nextStart()
	if se.Name.Space != nsTLS || se.Name.Local != "proceed" {
		c.t.Fatalf("expected <proceed/>, got <%s xmlns=%q>", se.Name.Local, se.Name.Space)
	}
	pemData, err := os.ReadFile(s.CAFile)
	if err != nil {
		c.t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemData) {
		c.t.Fatalf("no certificates in %s", s.CAFile)
	}
	tc := tls.Client(c.conn, &tls.Config{ServerName: s.Domain, RootCAs: roots, MinVersion: tls.VersionTLS12})
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake with %s for %s: %v", s.Addr, s.Domain, err)
	}
	c.conn = tc
	st := tc.ConnectionState()
	return &st
}

// authPlain performs SASL PLAIN and reports whether it succeeded.
func (c *client) authPlain(user, password string) (bool, string) {
	c.t.Helper()
	payload := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	c.send("<auth xmlns='" + nsSASL + "' mechanism='PLAIN'>" + payload + "</auth>")
	se := c.nextStart()
	var inner struct {
		Raw []byte `xml:",innerxml"`
	}
	if err := c.dec.DecodeElement(&inner, &se); err != nil {
		c.t.Fatalf("decoding SASL reply: %v", err)
	}
	if se.Name.Space != nsSASL {
		c.t.Fatalf("unexpected SASL reply <%s xmlns=%q>", se.Name.Local, se.Name.Space)
	}
	switch se.Name.Local {
	case "success":
		return true, ""
	case "failure":
		return false, string(inner.Raw)
	}
	c.t.Fatalf("unexpected SASL reply <%s>", se.Name.Local)
	return false, ""
}

// login runs stream → STARTTLS → stream → SASL PLAIN on a new connection.
func login(t *testing.T, s *Server, user, password string) (bool, string) {
	t.Helper()
	c := dial(t, s)
	f := c.openStream(s.Domain)
	if f.StartTLS == nil {
		t.Fatalf("no STARTTLS offered: %s", f.Raw)
	}
	c.startTLS(s)
	f = c.openStream(s.Domain)
	if !contains(f.Mechanisms, "PLAIN") {
		t.Fatalf("PLAIN not offered after TLS; mechanisms %v", f.Mechanisms)
	}
	return c.authPlain(user, password)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestServer(t *testing.T) {
	requireProsody(t)
	s := startServer(t, Options{})

	if s.Domain != DefaultDomain {
		t.Errorf("Domain = %q, want %q", s.Domain, DefaultDomain)
	}
	if host, _, err := net.SplitHostPort(s.Addr); err != nil || host != "127.0.0.1" {
		t.Errorf("Addr = %q, want 127.0.0.1:PORT", s.Addr)
	}
	for _, u := range []struct{ user, pass string }{{"alice", "alice-secret"}, {"bob", "b0b pass"}} {
		if err := s.Register(u.user, u.pass); err != nil {
			t.Fatalf("Register(%s): %v", u.user, err)
		}
	}

	t.Run("StreamFeatures", func(t *testing.T) {
		c := dial(t, s)
		f := c.openStream(s.Domain)
		if f.StartTLS == nil {
			t.Fatalf("STARTTLS not offered: %s", f.Raw)
		}
		if f.StartTLS.Required == nil {
			t.Errorf("STARTTLS not marked <required/> despite c2s_require_encryption: %s", f.Raw)
		}
		if len(f.Mechanisms) != 0 {
			t.Errorf("SASL mechanisms offered before TLS: %v", f.Mechanisms)
		}
		st := c.startTLS(s)
		if len(st.PeerCertificates) == 0 || st.PeerCertificates[0].VerifyHostname(s.Domain) != nil {
			t.Errorf("peer certificate does not cover %s", s.Domain)
		}
		f = c.openStream(s.Domain)
		t.Logf("features after TLS: %s; mechanisms %v; TLS %s", f.Raw, f.Mechanisms, tls.VersionName(st.Version))
		for _, m := range []string{"PLAIN", "SCRAM-SHA-1"} {
			if !contains(f.Mechanisms, m) {
				t.Errorf("mechanism %s not offered after TLS; got %v", m, f.Mechanisms)
			}
		}
	})

	t.Run("WrongDomainCertFails", func(t *testing.T) {
		// The certificate must not verify for an unrelated name.
		c := dial(t, s)
		c.openStream(s.Domain)
		c.send("<starttls xmlns='" + nsTLS + "'/>")
		c.nextStart()
		pemData, _ := os.ReadFile(s.CAFile)
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pemData)
		tc := tls.Client(c.conn, &tls.Config{ServerName: "other.invalid", RootCAs: roots})
		var herr *tls.CertificateVerificationError
		if err := tc.Handshake(); !errors.As(err, &herr) {
			t.Errorf("handshake for wrong name: err = %v, want certificate verification error", err)
		}
	})

	t.Run("Login", func(t *testing.T) {
		if ok, why := login(t, s, "alice", "alice-secret"); !ok {
			t.Errorf("alice with right password failed: %s", why)
		}
		if ok, why := login(t, s, "bob", "b0b pass"); !ok {
			t.Errorf("bob with right password failed: %s", why)
		}
		if ok, _ := login(t, s, "alice", "wrong"); ok {
			t.Errorf("alice with wrong password succeeded")
		}
		if ok, _ := login(t, s, "nobody", "x"); ok {
			t.Errorf("unregistered user succeeded")
		}
	})

	t.Run("RegisterWhileRunning", func(t *testing.T) {
		// Password change via Register takes effect immediately.
		if err := s.Register("bob", "new-pass"); err != nil {
			t.Fatal(err)
		}
		if ok, why := login(t, s, "bob", "new-pass"); !ok {
			t.Errorf("bob with new password failed: %s", why)
		}
		if ok, _ := login(t, s, "bob", "b0b pass"); ok {
			t.Errorf("bob with old password succeeded")
		}
	})

	t.Run("LogTail", func(t *testing.T) {
		tail := s.LogTail(5)
		if n := strings.Count(tail, "\n"); n == 0 || n > 10 {
			t.Errorf("LogTail(5) returned %d lines:\n%s", n, tail)
		}
	})
}

func TestConcurrentServers(t *testing.T) {
	requireProsody(t)
	const n = 2
	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			servers[i], errs[i] = Start(Options{Domain: "example.test"})
		}()
	}
	wg.Wait()
	for i, s := range servers {
		if s != nil {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("server %d log:\n%s", i, s.LogTail(40))
				}
				if err := s.Stop(); err != nil {
					t.Errorf("Stop %d: %v", i, err)
				}
			})
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Start %d: %v", i, err)
		}
	}
	if servers[0].Addr == servers[1].Addr || servers[0].Dir == servers[1].Dir {
		t.Fatalf("servers share Addr/Dir: %q %q / %q %q", servers[0].Addr, servers[1].Addr, servers[0].Dir, servers[1].Dir)
	}
	// Same user name, different passwords: the servers are independent.
	for i, s := range servers {
		if err := s.Register("carol", fmt.Sprintf("pw%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range servers {
		if ok, why := login(t, s, "carol", fmt.Sprintf("pw%d", i)); !ok {
			t.Errorf("server %d: login failed: %s", i, why)
		}
		if ok, _ := login(t, s, "carol", fmt.Sprintf("pw%d", 1-i)); ok {
			t.Errorf("server %d accepted the other server's password", i)
		}
		// Only the c2s listener on loopback may be opened.
		log := s.LogTail(1000)
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, "Activated service") && !strings.Contains(line, "on no ports") &&
				!strings.Contains(line, "'c2s' on [127.0.0.1]:") {
				t.Errorf("server %d opened an unexpected listener: %s", i, line)
			}
		}
	}
}

func TestStopRemovesDirAndClosesPort(t *testing.T) {
	requireProsody(t)
	if os.Getenv("KEEP_PROSODY") == "1" {
		t.Skip("KEEP_PROSODY=1 keeps the directory")
	}
	s, err := Start(Options{Domain: "stop.test", Limits: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("Dir %s still exists (err %v)", s.Dir, err)
	}
	if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", s.Addr)
	}
}

func TestStartInvalidDomain(t *testing.T) {
	if _, err := Start(Options{Domain: "bad domain\"; os.exit()"}); err == nil {
		t.Fatal("Start accepted an invalid domain")
	}
}

func TestStartRetriesWhenPortTaken(t *testing.T) {
	requireProsody(t)
	// Occupy a loopback port and make the first attempt use it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	calls := 0
	pickPort = func() (int, error) {
		calls++
		if calls == 1 {
			return taken, nil
		}
		return serverproc.FreePort()
	}
	defer func() { pickPort = serverproc.FreePort }()

	s := startServer(t, Options{Domain: "retry.test"})
	if calls < 2 {
		t.Errorf("pickPort called %d times, want a retry", calls)
	}
	if s.Addr == l.Addr().String() {
		t.Errorf("server claims the occupied port %s", s.Addr)
	}
	if err := s.Register("dave", "pw"); err != nil {
		t.Fatal(err)
	}
	if ok, why := login(t, s, "dave", "pw"); !ok {
		t.Errorf("login failed: %s", why)
	}
}
