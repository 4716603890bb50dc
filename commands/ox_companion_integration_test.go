package commands_test

// Plain jab and its companion jab-ox (commands/openpgp.go), as real
// processes: every OX test runs jabBin, plain jab without the crypto,
// which replaces itself with the jab-ox that the harness built next to
// it. Here: jab alone refuses and sends nothing, a copy of jab named
// jab-ox does not loop, and jab-ox never runs another binary.

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/jabrun"
)

const oxHint = "jab: hint: OpenPGP needs jab-ox, installed with jab: make install, or go install github.com/jab-xmpp/jab/cmd/jab-ox@latest"

// copyBin copies the binary src into dir as name.
func copyBin(t *testing.T, src, dir, name string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(dir, name)
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// runAs runs bin (not jabBin) as j's account, with PATH set to path,
// for at most 20 s: a loop would be a timeout.
func runAs(t *testing.T, j *jab, bin, path, stdin string, args ...string) result {
	t.Helper()
	var env []string
	for _, kv := range j.env() {
		if !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := jabrun.Run(ctx, bin, append(env, "PATH="+path), strings.NewReader(stdin), args...)
	if err != nil {
		t.Fatalf("run %s %v: %v", bin, args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %v still running after 20 s (a loop?): %s", bin, args, r)
	}
	return r
}

// TestOXCompanionMissing: plain jab without jab-ox (not next to it, not
// on PATH) refuses what needs OpenPGP with exit 2 and the hint, sending
// nothing; what does not need it works.
func TestOXCompanionMissing(t *testing.T) {
	needServer(t)
	c := newOXCast(t) // a key generated and published through jab-ox
	dir := t.TempDir()
	lone := copyBin(t, jabBin, dir, "jab")
	empty := t.TempDir()
	for _, tc := range []struct {
		name  string
		env   []string
		stdin string
		args  []string
	}{
		{"keys list", nil, "", []string{"keys", "list"}},
		{"send --encrypt", nil, "", []string{"send", "--encrypt", c.alice.JID, "secret 1"}},
		{"send --encrypt, text on stdin", nil, "secret 2\n", []string{"send", "--encrypt", c.alice.JID}},
		{"encrypt_to", []string{"JAB_ENCRYPT_TO=" + c.alice.JID}, "", []string{"send", c.alice.JID, "secret 3"}},
		{"listen with a key", nil, "", []string{"listen"}},
		{"repl with a key", nil, "", []string{"repl"}},
	} {
		saved := c.j.extraEnv
		c.j.extraEnv = append(append([]string(nil), saved...), tc.env...)
		r := runAs(t, c.j, lone, empty, tc.stdin, tc.args...)
		c.j.extraEnv = saved
		if r.Code != 2 || !strings.Contains(r.Stderr, "jab-ox not found") || !strings.Contains(r.Stderr, oxHint+"\n") || r.Stdout != "" {
			t.Errorf("%s: %s", tc.name, r)
		}
	}
	if n := encryptedCount(c.phone, time.Second); n != 0 {
		t.Fatalf("alice received %d messages from a jab without jab-ox", n)
	}
	if m, _ := filepath.Glob(filepath.Join(c.j.stateDir, "observer-*.json")); len(m) != 0 {
		t.Errorf("a listen came online: %v", m)
	}
	// A plain send needs no jab-ox.
	runAsOK(t, c.j, lone, empty, "send", c.alice.JID, "in the clear")
	c.phone.WaitBody(t, "in the clear")
}

func runAsOK(t *testing.T, j *jab, bin, path string, args ...string) result {
	t.Helper()
	r := runAs(t, j, bin, path, "", args...)
	if r.Code != 0 {
		t.Fatalf("%s %v: %s", bin, args, r)
	}
	return r
}

// TestOXCompanionNoLoop: a copy of plain jab installed as jab-ox is run
// once and stops (it finds its own pid in JAB_OX_EXEC); the real jab-ox
// runs OpenPGP itself, even with a jab-ox next to it, and comes online
// as the observer of an account with a key.
func TestOXCompanionNoLoop(t *testing.T) {
	needServer(t)
	c := newOXCast(t)
	empty := t.TempDir()

	dir := t.TempDir()
	jab := copyBin(t, jabBin, dir, "jab")
	copyBin(t, jabBin, dir, "jab-ox")
	// Also when jab itself inherited a marker (from a jab-ox that ran
	// it): jab replaces it with its own pid.
	for _, inherited := range []string{"", "JAB_OX_EXEC=1"} {
		saved := c.j.extraEnv
		if inherited != "" {
			c.j.extraEnv = append(append([]string(nil), saved...), inherited)
		}
		r := runAs(t, c.j, jab, empty, "", "keys", "list")
		c.j.extraEnv = saved
		if r.Code != 2 || !strings.Contains(r.Stderr, "it is a copy of jab, not jab-ox") || !strings.Contains(r.Stderr, oxHint) {
			t.Fatalf("a copy of jab as jab-ox (%q): %s", inherited, r)
		}
	}

	// The real jab-ox under the name jab, and a "jab-ox" beside it
	// that records being run: it never is.
	dir = t.TempDir()
	ox := copyBin(t, filepath.Join(filepath.Dir(jabBin), "jab-ox"), dir, "jab")
	ran := filepath.Join(dir, "ran")
	if err := os.WriteFile(filepath.Join(dir, "jab-ox"), []byte("#!/bin/sh\necho \"$@\" >> "+ran+"\nexit 99\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out := runAsOK(t, c.j, ox, dir, "keys", "list").Stdout; !strings.Contains(out, c.meFP) {
		t.Errorf("jab-ox keys list: %q", out)
	}
	runAsOK(t, c.j, ox, dir, "send", "--encrypt", c.alice.JID, "from jab-ox itself")
	cmd := exec.Command(ox, "listen")
	cmd.Env = append(c.j.env(), "PATH="+dir)
	l, err := jabrun.Start(cmd, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := jabrun.WaitObserver(ctx, c.j.stateDir, l.Done()); err != nil {
		t.Fatalf("jab-ox listen: %v\n%s", err, l.Stderr())
	}
	l.Stop()
	if got, err := os.ReadFile(ran); err == nil {
		t.Fatalf("jab-ox ran the jab-ox beside it: %q", got)
	}
	if n := encryptedCount(c.phone, 0); n != 1 {
		t.Errorf("alice has %d encrypted messages, want 1", n)
	}
}
