// Package hostile is a scripted fake XMPP server for tests of how jab
// copes with a server that misbehaves: it listens on loopback, and for
// every connection plays a script of steps (wait for the client to send
// something, answer, switch to TLS, stall, hang up). The certificate is
// for Domain, signed by a throwaway CA (CAFile), so a client that trusts
// CAFile gets as far as the script lets it.
package hostile

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jab-xmpp/jab/internal/testcert"
)

// Domain is the XMPP domain the fake server claims.
const Domain = "example.test"

// Step is one step of a script. Each field that is set is done, in this
// order: Expect, Send, StartTLS, then Stall or Close.
type Step struct {
	// Expect waits until what the client sent since the previous step
	// contains this text.
	Expect string
	// Send writes this text.
	Send string
	// StartTLS makes the TLS server handshake (after <proceed/>).
	StartTLS bool
	// Stall keeps the connection open without writing, reading and
	// discarding what the client sends, until the server closes.
	Stall bool
	// Close hangs up.
	Close bool
}

// Server is a running fake server.
type Server struct {
	Addr   string // 127.0.0.1:PORT
	CAFile string // PEM of the CA that signed its certificate
	dir    string
	ln     net.Listener
	tlsCfg *tls.Config
	script []Step
	done   chan struct{}

	mu    sync.Mutex
	conns []net.Conn
	errs  []error
}

// Start listens on a free loopback port and plays script to every
// connection.
func Start(script []Step) (*Server, error) {
	dir, err := os.MkdirTemp("", "jab-hostile-")
	if err != nil {
		return nil, err
	}
	certFile, keyFile, caFile, err := testcert.Write(dir, Domain)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{Addr: ln.Addr().String(), CAFile: caFile, dir: dir, ln: ln, script: script, done: make(chan struct{}),
		tlsCfg: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go s.accept()
	return s, nil
}

func (s *Server) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go s.play(c)
	}
}

// play runs the script on one connection.
func (s *Server) play(c net.Conn) {
	defer c.Close()
	var seen bytes.Buffer
	buf := make([]byte, 4096)
	for i, st := range s.script {
		for st.Expect != "" && !strings.Contains(seen.String(), st.Expect) {
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			n, err := c.Read(buf)
			seen.Write(buf[:n])
			if err != nil {
				s.fail(fmt.Errorf("step %d: waiting for %q: %w (got %q)", i, st.Expect, err, seen.String()))
				return
			}
		}
		seen.Reset()
		if st.Send != "" {
			if _, err := c.Write([]byte(st.Send)); err != nil {
				s.fail(fmt.Errorf("step %d: write: %w", i, err))
				return
			}
		}
		if st.StartTLS {
			tc := tls.Server(c, s.tlsCfg)
			if err := tc.Handshake(); err != nil {
				s.fail(fmt.Errorf("step %d: TLS handshake: %w", i, err))
				return
			}
			c = tc
		}
		switch {
		case st.Stall:
			c.SetReadDeadline(time.Time{})
			go func() {
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
			<-s.done
			return
		case st.Close:
			return
		}
	}
}

func (s *Server) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err)
}

// Err returns what went wrong playing the script (the client did not send
// what a step expected), or nil.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

// Close stops listening, ends every connection and removes the files.
func (s *Server) Close() {
	select {
	case <-s.done:
		return
	default:
	}
	close(s.done)
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	os.RemoveAll(s.dir)
}

// Stream texts for scripts.
const (
	// Header is the server's stream header.
	Header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
		"id='hostile' from='" + Domain + "' version='1.0'>"
	// StartTLSFeatures offers STARTTLS.
	StartTLSFeatures = "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>"
	// Proceed accepts STARTTLS.
	Proceed = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
	// PlainFeatures offers SASL PLAIN only.
	PlainFeatures = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
	// Success ends SASL.
	Success = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
	// BindFeatures offers resource binding.
	BindFeatures = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
)

// Bound answers jab's binding request (id bind1) with jid.
func Bound(jid string) string {
	return "<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>" + jid + "</jid></bind></iq>"
}

// Login is the script of a STARTTLS login with PLAIN that binds
// account/hostile; what follows it is the test's.
func Login(account string) []Step {
	return []Step{
		{Expect: "<starttls", Send: Header + StartTLSFeatures + Proceed, StartTLS: true},
		{Expect: "<stream:stream", Send: Header + PlainFeatures},
		{Expect: "<auth", Send: Success},
		{Expect: "bind", Send: Header + BindFeatures + Bound(account+"/hostile")},
	}
}
