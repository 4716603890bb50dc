package statefile

import (
	"os"
	"testing"
	"time"
)

func TestRosterCache(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if r := s.ReadRoster("me@example.org"); r != nil {
		t.Fatalf("empty store has a roster: %+v", r)
	}
	want := Roster{Account: "me@example.org", Fetched: time.Unix(1700000000, 0).UTC(),
		Items: []RosterItem{{JID: "alice@example.org", Name: "Alice", Subscription: "both", Groups: []string{"work"}}}}
	if err := s.WriteRoster(want); err != nil {
		t.Fatal(err)
	}
	got := s.ReadRoster("me@example.org")
	if got == nil || len(got.Items) != 1 || got.Items[0].Name != "Alice" || !got.Fetched.Equal(want.Fetched) {
		t.Fatalf("read back %+v", got)
	}
	if s.ReadRoster("other@example.org") != nil {
		t.Fatal("another account's roster is returned")
	}
	fi, err := os.Stat(s.rosterPath("me@example.org"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("roster cache mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	// A corrupt cache is no roster, not an error.
	os.WriteFile(s.rosterPath("me@example.org"), []byte("{"), 0o600)
	if s.ReadRoster("me@example.org") != nil {
		t.Fatal("a corrupt cache is returned")
	}
	big := Roster{Account: "me@example.org"}
	for i := 0; i < MaxRosterItems+5; i++ {
		big.Items = append(big.Items, RosterItem{JID: "x@example.org"})
	}
	if err := s.WriteRoster(big); err != nil {
		t.Fatal(err)
	}
	if n := len(s.ReadRoster("me@example.org").Items); n != MaxRosterItems {
		t.Fatalf("%d items cached, want the cap %d", n, MaxRosterItems)
	}
}
