package prosody

import (
	"strings"
	"testing"
)

// TestProsody13: the private Prosody 13 starts, prosodyctl from the same
// tree registers accounts, and after TLS it offers SASL2 (XEP-0388) with
// FAST (XEP-0484) to a stream that names its account. It fails, not
// skips, when .ci/deps has not unpacked Prosody 13.
func TestProsody13(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping Prosody integration test in -short mode")
	}
	if err := Available13(); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, Options{Prosody13: true})
	if err := s.Register("fast", "fast-secret"); err != nil {
		t.Fatal(err)
	}
	if ok, why := login(t, s, "fast", "fast-secret"); !ok {
		t.Fatalf("PLAIN login to Prosody 13 failed: %s", why)
	}
	if ok, _ := login(t, s, "fast", "wrong"); ok {
		t.Fatal("PLAIN login with a wrong password succeeded")
	}

	c := dial(t, s)
	c.openStream(s.Domain)
	c.startTLS(s)
	c.send("<?xml version='1.0'?><stream:stream to='" + s.Domain + "' from='fast@" + s.Domain +
		"' xmlns='jabber:client' xmlns:stream='" + nsStream + "' version='1.0'>")
	c.dec = nil
	f := c.readFeatures()
	for _, want := range []string{"urn:xmpp:sasl:2", "urn:xmpp:fast:0", "HT-SHA-256-NONE"} {
		if !strings.Contains(string(f.Raw), want) {
			t.Errorf("features after TLS lack %q:\n%s", want, f.Raw)
		}
	}
}
