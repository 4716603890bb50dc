// Package testserver chooses the XMPP server an integration test run
// talks to: Prosody 0.12 (the system package), Prosody 13 (the private
// tree .ci/deps unpacks) or ejabberd 23.01, by the environment variable
// JAB_TEST_SERVER (prosody, the default; prosody13; ejabberd). Each kind
// starts with the same features: c2s with STARTTLS and direct TLS on
// loopback, a test CA, roster, disco, ping, offline storage, carbons and
// MUC on conference.DOMAIN, and on request an archive (XEP-0313) or
// stream management (XEP-0198).
//
// ejabberd runs only inside a network namespace of its own: a test
// binary for that kind calls Isolate first (see internal/netns).
package testserver

import (
	"fmt"
	"os"

	"github.com/jab-xmpp/jab/internal/ejabberd"
	"github.com/jab-xmpp/jab/internal/netns"
	"github.com/jab-xmpp/jab/internal/prosody"
)

// Kind is a server implementation and version.
type Kind string

// The kinds of test server.
const (
	Prosody   Kind = "prosody"   // Prosody 0.12, Debian bookworm's package
	Prosody13 Kind = "prosody13" // Prosody 13 from bookworm-backports, with mod_sasl2 and mod_sasl2_fast
	Ejabberd  Kind = "ejabberd"  // ejabberd 23.01, Debian bookworm's package
)

// Kinds lists every kind.
var Kinds = []Kind{Prosody, Prosody13, Ejabberd}

// EnvVar names the environment variable that chooses the kind.
const EnvVar = "JAB_TEST_SERVER"

// FromEnv returns the kind JAB_TEST_SERVER names; Prosody when unset.
func FromEnv() (Kind, error) {
	v := os.Getenv(EnvVar)
	if v == "" {
		return Prosody, nil
	}
	for _, k := range Kinds {
		if string(k) == v {
			return k, nil
		}
	}
	return "", fmt.Errorf("%s=%q: not a test server kind (want one of %v)", EnvVar, v, Kinds)
}

// Isolate re-executes the test binary in a network namespace of its own
// when kind k needs one (ejabberd); done says the caller must exit with
// code. See netns.Run.
func (k Kind) Isolate() (code int, done bool, err error) {
	if k != Ejabberd {
		return 0, false, nil
	}
	return netns.Run()
}

// Available says whether kind k can run here; the error says what to
// install.
func (k Kind) Available() error {
	switch k {
	case Prosody13:
		return prosody.Available13()
	case Ejabberd:
		return ejabberd.Available()
	}
	return prosody.Available()
}

// Options are the features a test needs beyond the default set.
type Options struct {
	Archive          bool // XEP-0313 message archive, archiving every message
	RoomArchive      bool // XEP-0313 archives of the rooms on conference.DOMAIN (muc#mam), on by default in each room
	StreamManagement bool // XEP-0198 with resumption
	NoCarbons        bool // no XEP-0280
	PEP              bool // XEP-0163 personal eventing (Prosody's mod_pep; not offered for ejabberd yet)
}

// Server is a running test server of some kind.
type Server struct {
	Kind          Kind
	Domain        string // XMPP domain (connect via Addr)
	MUCDomain     string // "conference." + Domain
	Addr          string // 127.0.0.1:PORT, c2s with STARTTLS
	DirectTLSAddr string // 127.0.0.1:PORT, c2s with direct TLS
	CAFile        string // PEM of the CA that signed the server certificate
	impl          backend
}

// backend is what a server of each kind does.
type backend interface {
	Register(user, password string) error
	Restart() error
	Stop() error
	LogTail(n int) string
}

// Start starts a server of kind k with opts.
func Start(k Kind, opts Options) (*Server, error) {
	switch k {
	case Ejabberd:
		o := ejabberd.Options{Modules: map[string]string{}}
		if opts.Archive || opts.RoomArchive {
			o.Modules["mod_mam"] = ""
		}
		o.RoomArchive = opts.RoomArchive
		if opts.StreamManagement {
			o.Modules["mod_stream_mgmt"] = ""
		}
		if opts.NoCarbons {
			o.Without = append(o.Without, "mod_carboncopy")
		}
		if opts.PEP {
			return nil, fmt.Errorf("testserver: PEP is not configured for %s", k.Describe())
		}
		s, err := ejabberd.Start(o)
		if err != nil {
			return nil, err
		}
		return wrap(k, s, s.Domain, s.MUCDomain, s.Addr, s.DirectTLSAddr, s.CAFile), nil
	case Prosody, Prosody13:
		o := prosody.Options{DirectTLS: true, Prosody13: k == Prosody13}
		if opts.Archive {
			o.Modules = append(o.Modules, "mam")
		}
		if opts.RoomArchive {
			o.MUCModules = append(o.MUCModules, "muc_mam")
		}
		if opts.StreamManagement {
			o.Modules = append(o.Modules, "smacks")
		}
		if opts.NoCarbons {
			o.Without = append(o.Without, "carbons")
		}
		if opts.PEP {
			o.Modules = append(o.Modules, "pep")
		}
		s, err := prosody.Start(o)
		if err != nil {
			return nil, err
		}
		return wrap(k, s, s.Domain, s.MUCDomain, s.Addr, s.DirectTLSAddr, s.CAFile), nil
	}
	return nil, fmt.Errorf("testserver: unknown kind %q", k)
}

func wrap(k Kind, impl backend, domain, muc, addr, direct, ca string) *Server {
	return &Server{Kind: k, Domain: domain, MUCDomain: muc, Addr: addr, DirectTLSAddr: direct, CAFile: ca, impl: impl}
}

// Register creates the account user@Domain (replacing one that exists).
func (s *Server) Register(user, password string) error { return s.impl.Register(user, password) }

// Restart stops the server with SIGTERM and starts it again on the same
// ports with the same data.
func (s *Server) Restart() error { return s.impl.Restart() }

// Stop stops the server and removes its files.
func (s *Server) Stop() error { return s.impl.Stop() }

// LogTail returns the end of the server's log, for failure messages.
func (s *Server) LogTail(n int) string { return s.impl.LogTail(n) }

// String names the server for messages, e.g. "ejabberd at 127.0.0.1:5222".
func (s *Server) String() string { return string(s.Kind) + " at " + s.Addr }

// Describe is the kind's name and version for test output.
func (k Kind) Describe() string {
	return map[Kind]string{Prosody: "Prosody 0.12", Prosody13: "Prosody 13", Ejabberd: "ejabberd 23.01"}[k]
}

// FromProsody wraps a Prosody 0.12 that a test started itself with
// options of its own (say prosody.Options.Upload), so the harness can
// register accounts on it as on any Server.
func FromProsody(s *prosody.Server) *Server {
	return wrap(Prosody, s, s.Domain, s.MUCDomain, s.Addr, s.DirectTLSAddr, s.CAFile)
}
