package commands

import (
	"crypto/tls"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/session"
)

// loginOpts are the login and TLS options: how the connection is secured
// and which SASL mechanisms jab accepts.
type loginOpts struct {
	directTLS bool
	tlsMin    uint16 // 0: session's default (TLS 1.2)
	noPlain   bool
	insecure  bool
	noFAST    bool // no XEP-0484 token is used or stored
}

func (l loginOpts) apply(cfg *session.Config) {
	cfg.DirectTLS = l.directTLS
	cfg.TLSMin = l.tlsMin
	cfg.NoPlain = l.noPlain
	cfg.InsecureSkipVerify = l.insecure
}

// insecureWarning is printed on every run that connects with
// --insecure-skip-verify, so it never goes unnoticed in a script's log.
const insecureWarning = "jab: warning: --insecure-skip-verify: the server's certificate is not checked; " +
	"anyone on the network path can impersonate the server and read the session (and, with PLAIN, the password)"

// loginOptions reads --direct-tls, --tls-min, --no-plain, --no-fast and
// --insecure-skip-verify (flags, else their environment variables) into
// o.login. A run that will connect with --insecure-skip-verify gets the
// warning on stderr.
func loginOptions(c *cli.Context, env *Env, o *options, connects bool) error {
	var err error
	l := &o.login
	if l.directTLS, err = boolOpt(c, env, flagDirectTLS); err != nil {
		return err
	}
	if l.noPlain, err = boolOpt(c, env, flagNoPlain); err != nil {
		return err
	}
	if l.noFAST, err = boolOpt(c, env, flagNoFAST); err != nil {
		return err
	}
	if l.insecure, err = boolOpt(c, env, flagInsecure); err != nil {
		return err
	}
	if l.tlsMin, err = parseTLSMin(stringOpt(c, env, flagTLSMin)); err != nil {
		return err
	}
	if l.insecure && connects {
		fmt.Fprintln(env.Stderr, insecureWarning)
	}
	return nil
}

// parseTLSMin maps "1.2" and "1.3" ("" is the default, 1.2) to a
// crypto/tls version. Older versions are not offered: RFC 9325 §3.1.1
// forbids TLS 1.0 and 1.1.
func parseTLSMin(v string) (uint16, error) {
	switch v {
	case "":
		return 0, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, usagef("use --tls-min 1.2 or --tls-min 1.3", "--%s %q is not a TLS version jab accepts", flagTLSMin, v)
}
