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

// TestConfigTextProsody13: the Prosody 13 server loads the SASL2 and FAST
// community modules; the default one does not.
func TestConfigTextProsody13(t *testing.T) {
	base := configParams{Dir: "/d", Domain: "example.test", Port: 5999, LogFile: "/d/l", LogLevel: "info", CertFile: "/c", KeyFile: "/k"}
	if def := configText(base); strings.Contains(def, "sasl2") {
		t.Errorf("default config loads SASL2:\n%s", def)
	}
	base.Prosody13 = true
	base.NoNagle = true
	base.Settings = []string{"sasl2_fast_token_min_ttl = 0"}
	got := configText(base)
	for _, want := range []string{`"sasl2"; "sasl2_fast" }`, "network_settings = { nagle = false }\n", "\nsasl2_fast_token_min_ttl = 0\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("Prosody 13 config lacks %q:\n%s", want, got)
		}
	}
}

// TestConfigTextMUCModules: the MUC component loads the test module from
// the plugin directory, and the extra component modules after it.
func TestConfigTextMUCModules(t *testing.T) {
	base := configParams{Dir: "/d", Domain: "example.test", Port: 5999, LogFile: "/d/l", LogLevel: "info", CertFile: "/c", KeyFile: "/k",
		PluginDir: "/d/plugins", MUCModules: []string{"muc_mam"}}
	got := configText(base)
	for _, want := range []string{"plugin_paths = { \"/d/plugins\" }\n",
		"Component \"conference.example.test\" \"muc\"\n\tssl = { certificate = \"/c\"; key = \"/k\"; }\n\tmodules_enabled = { \"jab_muc_test\"; \"muc_mam\" }\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
	if idx := strings.Index(got, "Component"); strings.Contains(got[:idx], "muc_mam") {
		t.Errorf("muc_mam loaded on the virtual host:\n%s", got)
	}
}
