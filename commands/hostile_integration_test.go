package commands_test

// Hostile servers at the login (issue 13): the real jab binary against a
// scripted fake server (internal/hostile) that sends garbage after its
// stream header, stalls in the middle of a stanza, or hangs up during
// SASL. Each gets a clear error and its exit status, well within
// --timeout, and jab's memory stays small while it waits.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/hostile"
	"github.com/jab-xmpp/jab/internal/testserver"
)

// hostileJab starts a fake server playing script and returns it with a
// jab of me@ its domain that connects to it.
func hostileJab(t *testing.T, script []hostile.Step) (*hostile.Server, *jab) {
	t.Helper()
	onlyOn(t, "it talks to a scripted fake server, whatever the run's server", testserver.Prosody)
	t.Parallel()
	h, err := hostile.Start(script)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	j := newJab(t, account{User: "me", Password: "pw-me-secret", JID: "me@" + hostile.Domain})
	j.extraEnv = []string{"JAB_SERVER=" + h.Addr, "JAB_CA_FILE=" + h.CAFile}
	return h, j
}

// hostileRun runs `jab --timeout timeout send` against a fake server
// playing script, and returns the result and how long it took.
func hostileRun(t *testing.T, script []hostile.Step, timeout time.Duration) (result, time.Duration) {
	t.Helper()
	h, j := hostileJab(t, script)
	start := time.Now()
	r := j.run("", "--timeout", timeout.String(), "send", "alice@"+hostile.Domain, "hello")
	took := time.Since(start)
	if err := h.Err(); err != nil {
		t.Errorf("the fake server's script: %v", err)
	}
	return r, took
}

// wantFailure checks the exit status, that the error names want, that no
// password hint is given, and that jab did not wait out its timeout when
// it had no reason to.
func wantFailure(t *testing.T, r result, took, limit time.Duration, code int, want string) {
	t.Helper()
	if r.Code != code {
		t.Errorf("exit %d, want %d: %s", r.Code, code, r)
	}
	if !strings.Contains(r.Stderr, "jab: error: ") || !strings.Contains(r.Stderr, want) {
		t.Errorf("stderr does not say %q: %s", want, r.Stderr)
	}
	if strings.Contains(r.Stderr, "password source") {
		t.Errorf("a misbehaving server got the password hint: %s", r.Stderr)
	}
	if took > limit {
		t.Errorf("took %v, want at most %v", took, limit)
	}
}

// TestHostileGarbageAfterHeader: bytes that are not XML right after the
// server's stream header end the login at once (exit 1), without waiting
// for --timeout.
func TestHostileGarbageAfterHeader(t *testing.T) {
	r, took := hostileRun(t, []hostile.Step{
		{Expect: "<starttls", Send: hostile.Header + "\x00\x01 <<garbage>> \xff\xfe", Stall: true},
	}, 20*time.Second)
	wantFailure(t, r, took, 10*time.Second, 1, "XML syntax error")
}

// TestHostileStallMidStanza: a server that logs jab in and then stops in
// the middle of a stanza, the connection open, holds jab no longer than
// --timeout (exit 5); meanwhile jab's memory stays small.
func TestHostileStallMidStanza(t *testing.T) {
	r, took := hostileRun(t, stallScript(), 3*time.Second)
	wantFailure(t, r, took, 3*time.Second+5*time.Second, 5, "timed out")
	if took < 3*time.Second {
		t.Errorf("gave up after %v, before --timeout 3s", took)
	}
}

// stallScript logs jab in, then answers its first IQ with half a message
// and stalls, the connection open.
func stallScript() []hostile.Step {
	return append(hostile.Login("me@"+hostile.Domain),
		hostile.Step{Expect: "<iq", Send: "<message from='alice@" + hostile.Domain + "/x' type='chat'><body>half a sta", Stall: true})
}

// TestHostileCloseDuringSASL: a server that hangs up after <auth/> is a
// closed connection during the login (exit 1), not a wrong password.
func TestHostileCloseDuringSASL(t *testing.T) {
	script := hostile.Login("me@" + hostile.Domain)[:2]
	script = append(script, hostile.Step{Expect: "<auth", Close: true})
	r, took := hostileRun(t, script, 20*time.Second)
	wantFailure(t, r, took, 10*time.Second, 1, "authenticate")
}

// TestHostileStallMemory: while jab waits on a server that stalled
// halfway through a stanza, its peak memory (VmHWM) stays small: nothing
// accumulates while nothing arrives.
func TestHostileStallMemory(t *testing.T) {
	_, j := hostileJab(t, stallScript())
	p := j.start("--timeout", "5s", "send", "alice@"+hostile.Domain, "hello")
	time.Sleep(2 * time.Second)
	hwm := vmHWM(t, p.Pid())
	if code := p.wait(15 * time.Second); code != 5 {
		t.Errorf("exit %d, want 5; stderr: %s", code, p.Stderr())
	}
	t.Logf("jab's peak memory while stalled: %d KiB (a -race build)", hwm)
	// Measured: about 44 MiB for the -race build the tests use.
	if hwm > 100<<10 {
		t.Errorf("VmHWM %d KiB while stalled, want under 100 MiB", hwm)
	}
}

// vmHWM reads the peak resident set (KiB) of process pid.
func vmHWM(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return n
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
