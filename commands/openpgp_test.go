package commands

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/session/ox"
	"github.com/jab-xmpp/jab/statefile"
)

// The hand-over to jab-ox (openpgp.go), in-process: Env.Exec records
// what would replace the process. The real exec is in
// ox_integration_test.go (TestOXCompanion*).

// execCall is one Env.Exec.
type execCall struct {
	path          string
	argv, environ []string
}

var errExecFake = errors.New("fake exec: not replaced")

// oxEnv is an Env for plain jab whose Exec records its calls; stdin
// fails the test when read: jab-ox must find it unread.
func oxEnv(t *testing.T, vars map[string]string, calls *[]execCall) (*Env, *bytes.Buffer) {
	var errb bytes.Buffer
	e := &Env{Stdin: readFails{t}, Stdout: &bytes.Buffer{}, Stderr: &errb,
		Getenv: func(k string) string { return vars[k] }, Now: time.Now, Host: "test",
		// A marker inherited from a jab-ox that ran us is replaced.
		Environ: func() []string { return []string{envOXExec + "=1", "JAB_JID=" + vars["JAB_JID"]} },
		Exec: func(path string, argv, environ []string) error {
			*calls = append(*calls, execCall{path, argv, environ})
			return errExecFake
		}}
	return e, &errb
}

type readFails struct{ t *testing.T }

func (r readFails) Read([]byte) (int, error) {
	r.t.Error("stdin was read before the hand-over to jab-ox")
	return 0, errors.New("no stdin")
}

// fakeJabOX is an executable named jab-ox in a fresh directory.
func fakeJabOX(t *testing.T) (dir, path string) {
	dir = t.TempDir()
	path = filepath.Join(dir, OXBinary)
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

// withOX registers a fake OpenPGP for the test, as jab-ox does.
func withOX(t *testing.T, p OpenPGP) {
	old := oxImpl
	oxImpl = p
	t.Cleanup(func() { oxImpl = old })
}

func TestOXReexec(t *testing.T) {
	withOX(t, nil)
	dir, bin := fakeJabOX(t)
	state := t.TempDir()
	keyed := t.TempDir()
	store, err := statefile.Open(keyed)
	if err != nil {
		t.Fatal(err)
	}
	// Only a stat decides: the content is never read by plain jab.
	if err := store.WriteSecretKey(statefile.SecretKey{Account: "me@example.net", Fingerprint: "X", Armored: "not parsed"}); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"JAB_JID": "me@example.net", "JAB_PASSWORD": "x", "JAB_SERVER": "127.0.0.1:1",
		"JAB_STATE_DIR": state, "PATH": dir}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		vars map[string]string
		args []string
		exec bool // jab-ox is run
	}{
		{"keys generate", base, []string{"keys", "generate"}, true},
		{"keys list", base, []string{"keys", "list"}, true},
		{"keys import from stdin", base, []string{"keys", "import", "-"}, true},
		{"send --encrypt", base, []string{"send", "--encrypt", "a@b"}, true},
		{"send --encrypt --lines", base, []string{"send", "--encrypt", "--lines", "a@b"}, true},
		{"encrypt in the config", with("JAB_ENCRYPT", "true"), []string{"send", "a@b"}, true},
		{"encrypt_to lists the recipient", with("JAB_ENCRYPT_TO", "x@y,a@b"), []string{"send", "a@b"}, true},
		{"listen with a key file", with("JAB_STATE_DIR", keyed), []string{"listen"}, true},
		{"repl with a key file", with("JAB_STATE_DIR", keyed), []string{"repl"}, true},
		// No OpenPGP needed: plain jab goes on, up to the password it
		// does not have (a usage error; nothing is contacted).
		{"encrypt_to lists others", with("JAB_ENCRYPT_TO", "x@y", "JAB_PASSWORD", ""), []string{"send", "a@b", "hi"}, false},
		{"listen without a key file", with("JAB_PASSWORD", ""), []string{"listen"}, false},
		{"repl without a key file", with("JAB_PASSWORD", ""), []string{"repl"}, false},
		{"send --encrypt to a room", base, []string{"send", "--encrypt", "--room", "r@muc.b", "hi"}, false},
		{"bad --trust for listen", with("JAB_STATE_DIR", keyed, "JAB_TRUST", "never"), []string{"listen"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []execCall
			e, errb := oxEnv(t, tt.vars, &calls)
			args := append([]string{"jab"}, tt.args...)
			code := Run(context.Background(), e, args)
			if !tt.exec {
				if len(calls) != 0 || code != ExitUsage {
					t.Fatalf("exit %d, ran jab-ox %+v, stderr:\n%s", code, calls, errb)
				}
				return
			}
			if len(calls) != 1 {
				t.Fatalf("exit %d, %d execs, stderr:\n%s", code, len(calls), errb)
			}
			c := calls[0]
			if c.path != bin || !slices.Equal(c.argv, args) {
				t.Errorf("exec %s %q, want %s %q", c.path, c.argv, bin, args)
			}
			want := []string{"JAB_JID=me@example.net", envOXExec + "=" + strconv.Itoa(os.Getpid())}
			if !slices.Equal(c.environ, want) {
				t.Errorf("environment %q, want %q", c.environ, want)
			}
			// A failed exec: exit 2 with the hint, nothing else done.
			if code != ExitUsage || !strings.Contains(errb.String(), oxHint) {
				t.Errorf("failed exec: exit %d, stderr:\n%s", code, errb)
			}
		})
	}
}

// TestOXReexecMissing: no jab-ox next to jab nor on PATH: exit 2 with the
// hint, before stdin is read or anything is contacted.
func TestOXReexecMissing(t *testing.T) {
	withOX(t, nil)
	vars := map[string]string{"JAB_JID": "me@example.net", "JAB_PASSWORD": "x", "JAB_SERVER": "127.0.0.1:1",
		"JAB_STATE_DIR": t.TempDir(), "PATH": t.TempDir()}
	for _, args := range [][]string{{"keys", "list"}, {"send", "--encrypt", "a@b"}} {
		var calls []execCall
		e, errb := oxEnv(t, vars, &calls)
		code := Run(context.Background(), e, append([]string{"jab"}, args...))
		if code != ExitUsage || len(calls) != 0 || !strings.Contains(errb.String(), "jab-ox not found") ||
			!strings.Contains(errb.String(), "jab: hint: "+oxHint+"\n") {
			t.Errorf("%q: exit %d, %d execs, stderr:\n%s", args, code, len(calls), errb)
		}
	}
}

// TestOXNoLoop: a binary with OpenPGP (jab-ox) never runs another; one
// without it that finds its own pid in JAB_OX_EXEC was itself run as
// jab-ox (a copy of jab under that name) and stops instead of running it
// again.
func TestOXNoLoop(t *testing.T) {
	dir, _ := fakeJabOX(t)
	vars := map[string]string{"JAB_JID": "me@example.net", "JAB_PASSWORD": "x", "JAB_STATE_DIR": t.TempDir(), "PATH": dir}

	withOX(t, nil)
	vars[envOXExec] = strconv.Itoa(os.Getpid())
	var calls []execCall
	e, errb := oxEnv(t, vars, &calls)
	code := Run(context.Background(), e, []string{"jab", "keys", "list"})
	if code != ExitUsage || len(calls) != 0 || !strings.Contains(errb.String(), "copy of jab, not jab-ox") {
		t.Errorf("re-executed binary without OpenPGP: exit %d, %d execs, stderr:\n%s", code, len(calls), errb)
	}
	// Another pid (a child of jab-ox: a bot's --exec): it may go to jab-ox.
	calls = nil
	vars[envOXExec] = strconv.Itoa(os.Getpid() + 1)
	e, _ = oxEnv(t, vars, &calls)
	Run(context.Background(), e, []string{"jab", "keys", "list"})
	if len(calls) != 1 {
		t.Errorf("a child of jab-ox was not sent to jab-ox: %d execs", len(calls))
	}

	// jab-ox: the command runs here, whatever the environment says.
	withOX(t, fakeOX{})
	for _, marker := range []string{"", strconv.Itoa(os.Getpid())} {
		vars[envOXExec] = marker
		calls = nil
		e, errb = oxEnv(t, vars, &calls)
		code = Run(context.Background(), e, []string{"jab", "keys", "list"})
		if code != ExitOK || len(calls) != 0 {
			t.Errorf("jab-ox (JAB_OX_EXEC=%q): exit %d, %d execs, stderr:\n%s", marker, code, len(calls), errb)
		}
	}
	e, errb = oxEnv(t, vars, &calls)
	e.Stdin = strings.NewReader("hi")
	code = Run(context.Background(), e, []string{"jab", "send", "--encrypt", "a@b"})
	if len(calls) != 0 || !strings.Contains(errb.String(), "no OpenPGP key for me@example.net") {
		t.Errorf("jab-ox send --encrypt without a key: exit %d, %d execs, stderr:\n%s", code, len(calls), errb)
	}
}

// fakeOX stands for session/ox; TestOXNoLoop calls none of it.
type fakeOX struct{}

func (fakeOX) Generate(string, []byte, time.Time) (*statefile.SecretKey, error) {
	return nil, errExecFake
}
func (fakeOX) Import(string, []byte, []byte, time.Time) (*statefile.SecretKey, error) {
	return nil, errExecFake
}
func (fakeOX) ArmoredPublicKey(*statefile.SecretKey) (string, error) { return "", errExecFake }
func (fakeOX) Publish(context.Context, *session.Session, *statefile.SecretKey, time.Time) error {
	return errExecFake
}
func (fakeOX) NormalizeFingerprint(s string) (string, error) { return s, nil }
func (fakeOX) Trust(context.Context, *statefile.Store, string, string, string, time.Time) error {
	return errExecFake
}
func (fakeOX) Untrust(context.Context, *statefile.Store, string, string, string) error {
	return errExecFake
}
func (fakeOX) Engine(*statefile.Store, *statefile.SecretKey, []byte, string, func() time.Time) (session.E2E, error) {
	return nil, errExecFake
}

// TestOXAgrees: the values commands keeps for itself are session/ox's
// (a test may import it: plain jab's deps do not include tests).
func TestOXAgrees(t *testing.T) {
	if trustFirstUse != ox.TrustFirstUse || trustAlways != ox.TrustAlways || maxKeySize != ox.MaxKeySize {
		t.Errorf("commands has %q, %q, %d; session/ox %q, %q, %d", trustFirstUse, trustAlways, maxKeySize,
			ox.TrustFirstUse, ox.TrustAlways, ox.MaxKeySize)
	}
}
