package prosody

import (
	"strings"
	"testing"
)

// TestConfigTextOptions: the defaults the test suite relies on stay as
// they were, and each login option renders the setting Prosody 0.12 reads.
func TestConfigTextOptions(t *testing.T) {
	base := configParams{Dir: "/d", Domain: "example.test", Port: 5999, LogFile: "/d/l", LogLevel: "info", CertFile: "/c", KeyFile: "/k"}
	def := configText(base)
	for _, want := range []string{
		"c2s_ports = { 5999 }\n",
		"c2s_direct_tls_ports = {}\n",
		`authentication = "internal_hashed"` + "\n",
		`disable_sasl_mechanisms = { "DIGEST-MD5" }` + "\n",
		`ssl = { certificate = "/c"; key = "/k"; }`,
	} {
		if !strings.Contains(def, want) {
			t.Errorf("default config lacks %q:\n%s", want, def)
		}
	}
	p := base
	p.DirectTLSPort = 6000
	p.Authentication = "internal_plain"
	p.DisableMechanisms = []string{"SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"}
	p.TLSProtocol = "tlsv1_2"
	got := configText(p)
	for _, want := range []string{
		"c2s_direct_tls_ports = { 6000 }\n",
		`c2s_direct_tls_ssl = { certificate = "/c"; key = "/k"; protocol = "tlsv1_2"; }`,
		`authentication = "internal_plain"` + "\n",
		`disable_sasl_mechanisms = { "DIGEST-MD5"; "SCRAM-SHA-1"; "SCRAM-SHA-1-PLUS" }` + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
}
