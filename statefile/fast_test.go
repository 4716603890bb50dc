package statefile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFASTFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const acct = "me@example.test"
	if f, err := s.ReadFAST(acct); f != nil || err != nil {
		t.Fatalf("ReadFAST with no file = %+v, %v; want nil, nil", f, err)
	}
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	want := FAST{Account: acct, ClientID: "c1", Mechanism: "HT-SHA-256-EXPR", Token: "secret-token:fast-x", Expiry: exp}
	if err := s.WriteFAST(want); err != nil {
		t.Fatal(err)
	}
	path := s.FASTPath(acct)
	if !strings.HasPrefix(filepath.Base(path), "fast-") || filepath.Dir(path) != dir {
		t.Errorf("token file %q is not fast-<key>.json in %s", path, dir)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := s.ReadFAST(acct)
	if err != nil || got == nil {
		t.Fatalf("ReadFAST = %v, %v", got, err)
	}
	want.Version = FASTVersion
	if *got != want || !got.HasToken() {
		t.Errorf("ReadFAST = %+v, want %+v", *got, want)
	}
	// Another account's file is separate; the state file is untouched.
	if f, _ := s.ReadFAST("other@example.test"); f != nil {
		t.Errorf("other account sees %+v", f)
	}
	if _, err := os.Stat(s.Path()); !os.IsNotExist(err) {
		t.Errorf("WriteFAST created the state file: %v", err)
	}
	// A token-less record keeps the client id.
	if err := s.WriteFAST(FAST{Account: acct, ClientID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ReadFAST(acct); got == nil || got.HasToken() || got.ClientID != "c1" {
		t.Errorf("token-less record read back as %+v", got)
	}
	if err := s.RemoveFAST(acct); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveFAST(acct); err != nil {
		t.Errorf("removing a missing file: %v", err)
	}
	if f, _ := s.ReadFAST(acct); f != nil {
		t.Errorf("after RemoveFAST: %+v", f)
	}
	if err := s.WriteFAST(FAST{Account: acct}); err == nil {
		t.Error("WriteFAST without a client id succeeded")
	}
}

// TestFASTFileCorrupt: a token file that is not what this jab wrote
// counts as none, so the next login replaces it; it is never an error.
func TestFASTFileCorrupt(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const acct = "me@example.test"
	for name, content := range map[string]string{
		"not JSON":      "{oops",
		"empty":         "",
		"newer version": `{"version": 2, "account": "me@example.test", "client_id": "c"}`,
		"other account": `{"version": 1, "account": "you@example.test", "client_id": "c"}`,
		"no client id":  `{"version": 1, "account": "me@example.test"}`,
	} {
		if err := os.WriteFile(s.FASTPath(acct), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if f, err := s.ReadFAST(acct); f != nil || err != nil {
			t.Errorf("%s: ReadFAST = %+v, %v; want nil, nil", name, f, err)
		}
	}
}
