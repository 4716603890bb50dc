package commands_test

// The integration harness: one real server for the package (started in
// TestMain), the real jab binary (and jab-ox next to it) built once, and
// fresh accounts per test so tests never see each other's state. `go test -short` skips everything
// that needs the server. JAB_TEST_SERVER chooses the server
// (internal/testserver): prosody (0.12, the default), prosody13 or
// ejabberd, for which the test binary runs in a network namespace of its
// own. A test that depends on one server's behaviour says so with
// onlyOn or notOn, and skips with the reason on the others.

import (
	"context"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/jabrun"
	"github.com/jab-xmpp/jab/internal/peer"
	"github.com/jab-xmpp/jab/internal/testserver"
	"github.com/jab-xmpp/jab/session"
)

var (
	srv        *testserver.Server
	serverKind testserver.Kind
	jabBin     string
	userN      atomic.Int64
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if testing.Short() {
			return m.Run()
		}
		var err error
		if serverKind, err = testserver.FromEnv(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if code, done, err := serverKind.Isolate(); err != nil || done {
			if err != nil {
				fmt.Fprintln(os.Stderr, "isolate the test run:", err)
				return 1
			}
			return code
		}
		if err := serverKind.Available(); err != nil {
			fmt.Fprintln(os.Stderr, "integration tests need their server:", err)
			return 1
		}
		dir, err := os.MkdirTemp("", "jab-test-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		jabBin = filepath.Join(dir, "jab")
		if err := jabrun.Build(context.Background(), jabBin, "-race"); err != nil {
			fmt.Fprintln(os.Stderr, "build jab:", err)
			return 1
		}
		// jab-ox next to jab, as make install puts it: the OX tests run
		// jabBin, which re-executes it (ox_integration_test.go).
		if err := jabrun.BuildOX(context.Background(), jabBin, "-race"); err != nil {
			fmt.Fprintln(os.Stderr, "build jab-ox:", err)
			return 1
		}
		srv, err = testserver.Start(serverKind, testserver.Options{})
		if err != nil {
			fmt.Fprintf(os.Stderr, "start %s: %v\n", serverKind.Describe(), err)
			return 1
		}
		defer srv.Stop()
		defer stopArchiveServer()
		defer stopUploadServers()
		defer stopOXServer()
		code := m.Run()
		if code != 0 {
			fmt.Fprintf(os.Stderr, "--- %s log tail:\n%s", serverKind.Describe(), srv.LogTail(40))
		}
		return code
	}()
	os.Exit(code)
}

// needServer skips in -short mode; every integration test calls it first.
func needServer(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs a server (skipped with -short)")
	}
}

// onlyOn skips the test unless the run's server is one of kinds: the
// test checks a behaviour of those servers (why says which), or needs
// their configuration.
func onlyOn(t *testing.T, why string, kinds ...testserver.Kind) {
	t.Helper()
	needServer(t)
	if !slices.Contains(kinds, serverKind) {
		t.Skipf("only against %v: %s (this run: %s)", kinds, why, serverKind.Describe())
	}
}

// notOn skips the test when the run's server is one of kinds, saying why.
func notOn(t *testing.T, why string, kinds ...testserver.Kind) {
	t.Helper()
	needServer(t)
	if slices.Contains(kinds, serverKind) {
		t.Skipf("not against %s: %s", serverKind.Describe(), why)
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
	return newAccountOn(t, srv, prefix)
}

// newAccountOn registers a fresh user on server s.
func newAccountOn(t *testing.T, s *testserver.Server, prefix string) account {
	t.Helper()
	n := userN.Add(1)
	a := account{User: fmt.Sprintf("%s%d", prefix, n), Password: fmt.Sprintf("pw-%d-secret", n)}
	a.JID = a.User + "@" + s.Domain
	if err := s.Register(a.User, a.Password); err != nil {
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

// result is a finished run of jab.
type result = jabrun.Result

// run runs jab to completion with stdin and arguments.
func (j *jab) run(stdin string, args ...string) result {
	j.t.Helper()
	r, err := j.exec(stdin, args...)
	if err != nil {
		j.t.Fatalf("run jab %v: %v", args, err)
	}
	return r
}

// exec runs jab without touching t, so goroutines can use it. A run still
// going after 60 s is stopped.
func (j *jab) exec(stdin string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return jabrun.Run(ctx, jabBin, j.env(), strings.NewReader(stdin), args...)
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

// proc is a jab running in the background (listen, repl, send --lines),
// stopped at the end of the test.
type proc struct {
	*jabrun.Proc
	t     *testing.T
	done  <-chan struct{} // closed when it has exited
	stdin io.WriteCloser  // nil unless started with one
}

// start runs jab in the background, collecting stdout lines.
func (j *jab) start(args ...string) *proc {
	j.t.Helper()
	return j.startPiped(false, args...)
}

// startPiped is start, with a pipe to the process's stdin when withStdin
// (closed at cleanup, before the process is stopped).
func (j *jab) startPiped(withStdin bool, args ...string) *proc {
	j.t.Helper()
	cmd := exec.Command(jabBin, args...)
	cmd.Env = j.env()
	jp, err := jabrun.Start(cmd, withStdin)
	if err != nil {
		j.t.Fatal(err)
	}
	p := &proc{Proc: jp, t: j.t, done: jp.Done(), stdin: jp.Stdin()}
	j.t.Cleanup(func() {
		if p.stdin != nil {
			p.stdin.Close()
		}
		p.Stop()
	})
	return p
}

// line writes s and a newline to the process's stdin.
func (p *proc) line(s string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, s+"\n"); err != nil {
		p.t.Fatalf("write to jab: %v", err)
	}
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
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := jabrun.WaitObserver(ctx, stateDir, done); err != nil {
		t.Fatalf("jab did not come online: %v: %s", err, stderr())
	}
}

// waitLine waits for a stdout line containing substr and returns it.
func (p *proc) waitLine(substr string, timeout time.Duration) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	i, err := p.WaitLine(ctx, 0, substr)
	if err != nil {
		p.t.Fatalf("%v; lines: %q; stderr: %s", err, p.Lines(), p.Stderr())
	}
	return p.Lines()[i]
}

// wait waits for the process to exit and returns its status.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	code, err := p.Wait(ctx)
	if err != nil {
		p.t.Fatalf("process still running after %s; stderr: %s", timeout, p.Stderr())
	}
	return code
}

// signal sends sig to the process.
func (p *proc) signal(sig syscall.Signal) {
	p.Signal(sig)
}

// stop ends the process (SIGTERM, then a kill).
func (p *proc) stop() { p.Stop() }

// readState returns the raw state file.
func (j *jab) readState() []byte {
	j.t.Helper()
	data, err := os.ReadFile(filepath.Join(j.stateDir, "state.json"))
	if err != nil && !os.IsNotExist(err) {
		j.t.Fatal(err)
	}
	return data
}

// wireElem is an element of a stanza as the peer's connection read it,
// parsed with encoding/xml alone. Assertions on the wire format use it, not
// session's types, so an encoding bug shared by jab's sender and the test
// peer's decoder cannot pass unseen.
type wireElem struct {
	XMLName xml.Name
	Attrs   []xml.Attr  `xml:",any,attr"`
	Text    string      `xml:",chardata"`
	Kids    []*wireElem `xml:",any"`
	raw     string      // the whole stanza, for failure messages
}

// wire parses the raw XML p received for v (a stanza p returned).
func wire(t *testing.T, p *peer.Peer, v any) *wireElem {
	t.Helper()
	raw := p.RawOf(t, v)
	var e wireElem
	if err := xml.Unmarshal(raw, &e); err != nil {
		t.Fatalf("peer %s received XML that does not parse: %v\n%s", p.JID, err, raw)
	}
	var walk func(*wireElem)
	walk = func(x *wireElem) {
		x.raw = string(raw)
		for _, k := range x.Kids {
			walk(k)
		}
	}
	walk(&e)
	return &e
}

// attr returns the value of the attribute name (no namespace) and whether
// it is present.
func (e *wireElem) attr(name string) (string, bool) {
	for _, a := range e.Attrs {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// all returns the elements at path below e. path is a /-separated list of
// steps, each "local" or "{namespace}local"; a step without a namespace
// has that of the element before it, as an inherited default namespace
// would (so "body" below a stanza is in the stanza's namespace, and
// "{http://jabber.org/protocol/shim}headers/header" is a SHIM header).
func (e *wireElem) all(path string) []*wireElem {
	cur := []*wireElem{e}
	for path != "" {
		// A namespace holds slashes: a step ends at the first / after it.
		ns, local := "", path
		if rest, ok := strings.CutPrefix(path, "{"); ok {
			ns, local, _ = strings.Cut(rest, "}")
		}
		local, path, _ = strings.Cut(local, "/")
		var next []*wireElem
		for _, x := range cur {
			space := x.XMLName.Space
			if ns != "" {
				space = ns
			}
			for _, k := range x.Kids {
				if k.XMLName.Space == space && k.XMLName.Local == local {
					next = append(next, k)
				}
			}
		}
		cur = next
	}
	return cur
}

// one returns the single element at path below e; it fails the test, naming
// what, when there is none or more than one.
func (e *wireElem) one(t *testing.T, what, path string) *wireElem {
	t.Helper()
	found := e.all(path)
	if len(found) != 1 {
		t.Fatalf("%s: %d <%s> in the stanza as received, want one:\n%s", what, len(found), path, e.raw)
	}
	return found[0]
}

// wantAttr fails unless e has the attribute name with the value want. A
// message without a type is normal (RFC 6121 §5.2.2), and ejabberd drops
// type='normal' when it delivers one: for type normal, absent will do.
func (e *wireElem) wantAttr(t *testing.T, what, name, want string) {
	t.Helper()
	if _, ok := e.attr(name); !ok && name == "type" && want == "normal" && e.XMLName.Local == "message" {
		return
	}
	if got, ok := e.attr(name); !ok || got != want {
		t.Fatalf("%s: <%s> has %s=%q (present %v) as received, want %q:\n%s", what, e.XMLName.Local, name, got, ok, want, e.raw)
	}
}

// msgType is a received message's type, "normal" when it has none (RFC
// 6121 §5.2.2): ejabberd drops type='normal' when it delivers a message.
func msgType(m *session.Message) string {
	if m.Type == "" {
		return "normal"
	}
	return m.Type
}

// wireNSChatStates is the XEP-0085 namespace, spelled here rather than
// taken from package session so a wrong constant there cannot hide.
const wireNSChatStates = "http://jabber.org/protocol/chatstates"

// wireChatStates returns the XEP-0085 chat states among e's children.
func wireChatStates(e *wireElem) []string {
	var states []string
	for _, k := range e.Kids {
		if k.XMLName.Space == wireNSChatStates {
			states = append(states, k.XMLName.Local)
		}
	}
	return states
}

// wantNo fails if e has any element at path.
func (e *wireElem) wantNo(t *testing.T, what, path string) {
	t.Helper()
	if n := len(e.all(path)); n > 0 {
		t.Fatalf("%s: %d <%s> in the stanza as received, want none:\n%s", what, n, path, e.raw)
	}
}

// TestWirePath pins the path steps of wireElem.all: namespaces with
// slashes, and a step without one inheriting the one before it.
func TestWirePath(t *testing.T) {
	var w wireElem
	raw := `<message><body>b</body><headers xmlns='http://jabber.org/protocol/shim'><header name='A'>1</header>` +
		`<header name='B'>2</header></headers><x xmlns='urn:other'><header>3</header></x></message>`
	if err := xml.Unmarshal([]byte(raw), &w); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"body": "b",
		"{http://jabber.org/protocol/shim}headers/header":      "12",
		"{urn:other}x/header":                                  "3",
		"header":                                               "",
		"{http://jabber.org/protocol/shim}body":                "",
		"{urn:other}x/{http://jabber.org/protocol/shim}header": "",
	} {
		var got string
		for _, e := range w.all(path) {
			got += e.Text
		}
		if got != want {
			t.Errorf("all(%q) = %q, want %q", path, got, want)
		}
	}
}
