package oxcli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session/ox"
	"github.com/jab-xmpp/jab/statefile"
)

// TestScheme: the adapter hands session/ox's results through: a key
// generated, its public half, unlocked into an engine with the right
// passphrase only, imported back.
func TestScheme(t *testing.T) {
	var s scheme
	now := time.Now()
	k, err := s.Generate("me@example.net", []byte("pw"), now)
	if err != nil || k.Account != "me@example.net" || len(k.Fingerprint) != 40 {
		t.Fatalf("Generate: %+v, %v", k, err)
	}
	pub, err := s.ArmoredPublicKey(k)
	if err != nil || !strings.Contains(pub, "PGP PUBLIC KEY BLOCK") {
		t.Fatalf("ArmoredPublicKey: %q, %v", pub, err)
	}
	store, err := statefile.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if e, err := s.Engine(store, k, []byte("pw"), ox.TrustFirstUse, time.Now); err != nil || e == nil {
		t.Fatalf("Engine: %v, %v", e, err)
	}
	if _, err := s.Engine(store, k, []byte("wrong"), ox.TrustFirstUse, time.Now); err == nil || !strings.Contains(err.Error(), "passphrase is wrong") {
		t.Fatalf("Engine with a wrong passphrase: %v", err)
	}
	if k2, err := s.Import("me@example.net", []byte(k.Armored), []byte("pw"), now); err != nil || k2.Fingerprint != k.Fingerprint {
		t.Fatalf("Import: %+v, %v", k2, err)
	}
	fp, err := s.NormalizeFingerprint(strings.ToLower(k.Fingerprint))
	if err != nil || fp != k.Fingerprint {
		t.Fatalf("NormalizeFingerprint: %q, %v", fp, err)
	}
	if err := s.Trust(context.Background(), store, "me@example.net", "alice@example.org", fp, now); err != nil {
		t.Fatal(err)
	}
	st, err := store.Load()
	if err != nil || st.Accounts["me@example.net"].OpenPGP["alice@example.org"] == nil {
		t.Fatalf("Trust pinned nothing: %v", err)
	}
}
