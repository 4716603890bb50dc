package commands_test

// The integration harness: one real Prosody for the package (started in
// TestMain), the real jab binary built once, and fresh accounts per test so
// tests never see each other's state. `go test -short` skips everything
// that needs the server; nothing else may skip.

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/peer"
	"github.com/jab-xmpp/jab/internal/prosody"
)

var (
	srv    *prosody.Server
	jabBin string
	userN  atomic.Int64
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if testing.Short() {
			return m.Run()
		}
		if err := prosody.Available(); err != nil {
			fmt.Fprintln(os.Stderr, "integration tests need Prosody:", err)
			return 1
		}
		dir, err := os.MkdirTemp("", "jab-test-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		jabBin = filepath.Join(dir, "jab")
		build := exec.Command("go", "build", "-race", "-o", jabBin, "github.com/jab-xmpp/jab")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build jab:", err)
			return 1
		}
		srv, err = prosody.Start(prosody.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, "start prosody:", err)
			return 1
		}
		defer srv.Stop()
		code := m.Run()
		if code != 0 {
			fmt.Fprintln(os.Stderr, "--- prosody log tail:\n"+srv.LogTail(40))
		}
		return code
	}()
	os.Exit(code)
}

// needServer skips in -short mode; every integration test calls it first.
func needServer(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs Prosody (skipped with -short)")
	}
}

func peerServer() peer.Server {
	return peer.Server{Addr: srv.Addr, Domain: srv.Domain, CAFile: srv.CAFile}
}

// account is a freshly registered user.
type account struct {
	User     string
	Password string
	JID      string // bare
}

func newAccount(t *testing.T, prefix string) account {
	t.Helper()
	n := userN.Add(1)
	a := account{User: fmt.Sprintf("%s%d", prefix, n), Password: fmt.Sprintf("pw-%d-secret", n)}
	a.JID = a.User + "@" + srv.Domain
	if err := srv.Register(a.User, a.Password); err != nil {
		t.Fatalf("register %s: %v", a.User, err)
	}
	return a
}

// connect logs a peer resource in (no presence sent yet).
func (a account) connect(t *testing.T, resource string) *peer.Peer {
	return peer.Connect(t, peerServer(), a.User, a.Password, resource)
}

// meAndAlice is the common cast: our account with its jab, and a contact
// alice with one available resource, "phone".
func meAndAlice(t *testing.T) (me, alice account, j *jab, phone *peer.Peer) {
	t.Helper()
	me, alice = newAccount(t, "me"), newAccount(t, "alice")
	j = newJab(t, me)
	phone = alice.connect(t, "phone")
	phone.Available(t)
	return me, alice, j, phone
}

// meAndSilentAlice is meAndAlice with a "phone" that never answers an IQ,
// so a ping to it times out: it tells whether jab checked a lock at all,
// and a checked lock falls back to the bare JID.
func meAndSilentAlice(t *testing.T) (me, alice account, j *jab, phone *peer.Peer) {
	t.Helper()
	me, alice = newAccount(t, "me"), newAccount(t, "alice")
	j = newJab(t, me)
	phone = peer.ConnectSilent(t, peerServer(), alice.User, alice.Password, "phone")
	phone.Available(t)
	return me, alice, j, phone
}

// jab runs the real binary as one account with its own state directory.
type jab struct {
	t        *testing.T
	acct     account
	stateDir string
	home     string
	extraEnv []string
}

func newJab(t *testing.T, a account) *jab {
	home := t.TempDir()
	return &jab{t: t, acct: a, stateDir: filepath.Join(home, "state"), home: home}
}

func (j *jab) env() []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + j.home,
		"JAB_JID=" + j.acct.JID,
		"JAB_PASSWORD=" + j.acct.Password,
		"JAB_SERVER=" + srv.Addr,
		"JAB_CA_FILE=" + srv.CAFile,
		"JAB_STATE_DIR=" + j.stateDir,
	}
	return append(env, j.extraEnv...)
}

type result struct {
	Stdout, Stderr string
	Code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// run runs jab to completion with stdin and arguments.
func (j *jab) run(stdin string, args ...string) result {
	j.t.Helper()
	r, err := j.exec(stdin, args...)
	if err != nil {
		j.t.Fatalf("run jab %v: %v", args, err)
	}
	return r
}

// exec runs jab without touching t, so goroutines can use it.
func (j *jab) exec(stdin string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, jabBin, args...)
	cmd.Env = j.env()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errb.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			return r, err
		}
		r.Code = ee.ExitCode()
	}
	return r, nil
}

// mustRun runs jab and fails the test unless it exits 0.
func (j *jab) mustRun(stdin string, args ...string) result {
	j.t.Helper()
	r := j.run(stdin, args...)
	if r.Code != 0 {
		j.t.Fatalf("jab %v: %s", args, r)
	}
	return r
}

// send runs `jab send` with TEXT arguments and requires success.
func (j *jab) send(to, body string, flags ...string) result {
	j.t.Helper()
	args := append([]string{"send"}, flags...)
	return j.mustRun("", append(args, to, body)...)
}

// proc is a jab running in the background (listen).
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	cond   *sync.Cond
	stderr bytes.Buffer
	done   chan struct{}
	code   int
}

// start runs jab in the background, collecting stdout lines.
func (j *jab) start(args ...string) *proc {
	j.t.Helper()
	p, _ := j.startPiped(false, args...)
	return p
}

// startPiped is start, with a pipe to the process's stdin when withStdin
// (closed at cleanup).
func (j *jab) startPiped(withStdin bool, args ...string) (*proc, io.WriteCloser) {
	j.t.Helper()
	cmd := exec.Command(jabBin, args...)
	cmd.Env = j.env()
	p := &proc{t: j.t, cmd: cmd, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	var stdin io.WriteCloser
	if withStdin {
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			j.t.Fatal(err)
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		j.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		j.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1024*1024), 1024*1024)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		err := cmd.Wait()
		p.mu.Lock()
		p.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		}
		close(p.done)
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	j.t.Cleanup(func() {
		if stdin != nil {
			stdin.Close()
		}
		p.stop()
	})
	return p, stdin
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// startListen starts `jab listen` and waits until it is online as the
// account's observer (its observer record exists).
func (j *jab) startListen(args ...string) *proc {
	j.t.Helper()
	p := j.start(append([]string{"listen"}, args...)...)
	waitObserver(j.t, j.stateDir, p.done, p.Stderr)
	return p
}

// waitObserver waits until a jab process (listen, repl) is online as the
// account's observer: its observer record exists in stateDir. done (nil
// when unknown) closes if the process exits first.
func waitObserver(t *testing.T, stateDir string, done <-chan struct{}, stderr func() string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if m, _ := filepath.Glob(filepath.Join(stateDir, "observer-*.json")); len(m) > 0 {
			return
		}
		select {
		case <-done:
			t.Fatalf("jab exited before coming online: %s", stderr())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("jab did not come online: %s", stderr())
}

// Stderr returns what the process wrote to stderr so far.
func (p *proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Lines returns the stdout lines so far.
func (p *proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// waitLine waits for a stdout line containing substr and returns it.
func (p *proc) waitLine(substr string, timeout time.Duration) string {
	p.t.Helper()
	timer := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; ; {
		for ; i < len(p.lines); i++ {
			if strings.Contains(p.lines[i], substr) {
				return p.lines[i]
			}
		}
		select {
		case <-p.done:
			p.t.Fatalf("process exited (%d) before printing %q; stderr: %s", p.code, substr, p.stderr.String())
		default:
		}
		if !time.Now().Before(deadline) {
			p.t.Fatalf("no line containing %q within %s; lines: %q; stderr: %s", substr, timeout, p.lines, p.stderr.String())
		}
		p.cond.Wait()
	}
}

// wait waits for the process to exit and returns its status.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		p.t.Fatalf("process still running after %s; stderr: %s", timeout, p.Stderr())
		return -1
	}
}

// signal sends sig to the process.
func (p *proc) signal(sig syscall.Signal) {
	p.cmd.Process.Signal(sig)
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// readState returns the raw state file.
func (j *jab) readState() []byte {
	j.t.Helper()
	data, err := os.ReadFile(filepath.Join(j.stateDir, "state.json"))
	if err != nil && !os.IsNotExist(err) {
		j.t.Fatal(err)
	}
	return data
}
