package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jab-xmpp/jab/statefile"
)

// A short run of the fault program itself: its children write, it kills
// them and finds every file whole and in order.
func TestFaultsShortRun(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes for a few seconds")
	}
	bin := filepath.Join(t.TempDir(), "jab-faults")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "-kills", "30").CombinedOutput()
	if err != nil {
		t.Fatalf("jab-faults: %v\n%s", err, out)
	}
	for _, kind := range []string{"| state | 30 |", "| history | 30 |"} {
		if !strings.Contains(string(out), kind) {
			t.Errorf("no %q row in:\n%s", kind, out)
		}
	}
	_ = os.Remove(bin)
}

// A state that goes back is caught: the check is not a formality.
func TestCheckStateCatchesLoss(t *testing.T) {
	dir := t.TempDir()
	st := openStore(dir)
	if _, err := st.Update(t.Context(), func(s *statefile.State) error {
		s.Account(account).Conversations[peer] = &statefile.Conversation{Peer: peer, Thread: "3"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	five, three := 5, 3
	r := &result{}
	checkState(r, dir, &five) // 5 was reported written, the file holds 3
	if r.bad != 1 {
		t.Errorf("a lost update was not counted: %+v", r)
	}
	r = &result{}
	checkState(r, dir, &three)
	if r.bad != 0 || r.old != 1 {
		t.Errorf("the state as reported was counted wrong: %+v", r)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte("{torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = &result{}
	checkState(r, dir, &three)
	if r.corrupt != 1 {
		t.Errorf("a corrupt file was not counted: %+v", r)
	}
}
