package session

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
)

// tlsConfig verifies the server against the JID's domain unless
// InsecureSkipVerify. With extra CAs it verifies against them first and
// loads the system roots only if that fails: parsing the system bundle
// costs a one-shot send more time and memory than the rest of the
// handshake. A direct TLS connection announces the ALPN protocol
// "xmpp-client" (XEP-0368 §4); SNI is always the domain, never the SRV
// target.
func tlsConfig(cfg Config, directTLS bool) *tls.Config {
	tc := tlsFor(cfg.JID.Domain, cfg)
	if cfg.capTLS12 {
		// tls-unique is defined up to TLS 1.2 (RFC 5929 §3, RFC 9266).
		tc.MaxVersion = tls.VersionTLS12
	}
	if directTLS {
		tc.NextProtos = []string{"xmpp-client"}
	}
	return tc
}

// tlsFor verifies a server as domain, with cfg's TLS settings: the XMPP
// server as the JID's domain, an upload slot's host as itself
// (upload_http.go).
func tlsFor(domain string, cfg Config) *tls.Config {
	tc := &tls.Config{ServerName: domain, MinVersion: tls.VersionTLS12}
	if cfg.TLSMin > tls.VersionTLS12 {
		tc.MinVersion = cfg.TLSMin
	}
	if cfg.InsecureSkipVerify {
		// The command line warns on every run that sets this.
		tc.InsecureSkipVerify = true
		return tc
	}
	extra := cfg.ExtraCAs
	if extra == nil {
		return tc
	}
	// Go's own verification is replaced by VerifyConnection below, which
	// performs the same checks (chain and name) against both root sets.
	tc.InsecureSkipVerify = true
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("server sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		opts := x509.VerifyOptions{DNSName: domain, Roots: extra, Intermediates: inter}
		_, err := cs.PeerCertificates[0].Verify(opts)
		if err == nil {
			return nil
		}
		opts.Roots = nil // the system roots
		if _, err2 := cs.PeerCertificates[0].Verify(opts); err2 == nil {
			return nil
		}
		return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
	}
	return tc
}

// Channel binding types (RFC 5056), in the order jab prefers them.
const (
	cbExporter = "tls-exporter"         // RFC 9266
	cbEndPoint = "tls-server-end-point" // RFC 5929 §4
	cbUnique   = "tls-unique"           // RFC 5929 §3
)

var cbPreference = []string{cbExporter, cbEndPoint, cbUnique}

// channelBindings returns the channel binding data this TLS connection
// can provide, by type.
func channelBindings(cs tls.ConnectionState) map[string][]byte {
	out := map[string][]byte{}
	// RFC 9266 §2: 32 bytes of the exporter with this label and no
	// context. crypto/tls refuses the exporter on TLS 1.2 without the
	// extended master secret, where it would be unsafe (RFC 9266 §3).
	if data, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32); err == nil {
		out[cbExporter] = data
	}
	// RFC 5929 §3: undefined for TLS 1.3; crypto/tls leaves it nil there
	// and on a resumed session without the extended master secret.
	if cs.Version < tls.VersionTLS13 && len(cs.TLSUnique) > 0 {
		out[cbUnique] = cs.TLSUnique
	}
	if len(cs.PeerCertificates) > 0 {
		if data := endPointHash(cs.PeerCertificates[0]); data != nil {
			out[cbEndPoint] = data
		}
	}
	return out
}

// endPointHash is RFC 5929 §4.1: the hash of the server's certificate
// with the hash function of its signature, SHA-256 if that is MD5 or
// SHA-1; nil when the signature algorithm names no single hash (Ed25519).
func endPointHash(cert *x509.Certificate) []byte {
	var h crypto.Hash
	switch cert.SignatureAlgorithm {
	case x509.MD5WithRSA, x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1,
		x509.SHA256WithRSA, x509.SHA256WithRSAPSS, x509.ECDSAWithSHA256, x509.DSAWithSHA256:
		h = crypto.SHA256
	case x509.SHA384WithRSA, x509.SHA384WithRSAPSS, x509.ECDSAWithSHA384:
		h = crypto.SHA384
	case x509.SHA512WithRSA, x509.SHA512WithRSAPSS, x509.ECDSAWithSHA512:
		h = crypto.SHA512
	default:
		return nil
	}
	d := h.New()
	d.Write(cert.Raw)
	return d.Sum(nil)
}
