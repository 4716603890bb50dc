// Command jab-demo is `make demo`: it walks through jab's main job with the
// real jab binary against a throwaway local Prosody, and prints each step
// as a shell transcript with what the contact's client actually received.
//
// The cast: our account me@example.test, and alice@example.test online on
// two devices, /phone and /laptop. alice's devices are not jab but plain
// XMPP connections (package session) that record every message the server
// delivers to them, so the demo shows, and checks, where each message went.
//
// Each expected outcome is checked; when one is not seen the demo says
// which step and what happened instead, and exits 1, so CI catches a
// broken demo. Everything it starts is stopped, and everything it creates
// is removed, on success, on failure and on Ctrl-C.
package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jab-xmpp/jab/internal/jabrun"
	"github.com/jab-xmpp/jab/internal/prosody"
	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// waitFor bounds every wait for something to arrive or appear.
const waitFor = 10 * time.Second

var errInterrupted = errors.New("interrupted")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	d := &demo{ctx: ctx, out: os.Stdout}
	err := d.run()
	// Cleanup runs on every path: after a failure and after Ctrl-C too.
	if cerr := d.cleanup(); cerr != nil && err == nil {
		err = fmt.Errorf("step 9: %w", cerr)
	}
	switch {
	case err == nil:
		fmt.Fprintf(d.out, "\nDemo finished in %.1fs: every step behaved as described.\n", time.Since(start).Seconds())
	case errors.Is(err, errInterrupted) || ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "jab-demo: interrupted; everything it started is stopped and removed")
		os.Exit(130)
	default:
		fmt.Fprintln(os.Stderr, "\njab-demo: FAILED:", err)
		if d.listen != nil {
			if s := strings.TrimSpace(d.listen.Stderr()); s != "" {
				fmt.Fprintln(os.Stderr, "jab-demo: jab listen's stderr:\n"+s)
			}
		}
		os.Exit(1)
	}
}

type demo struct {
	ctx context.Context
	out io.Writer

	tmp      string // our temp dir: jab binary, home, state dir, password file
	jab      string // the built binary
	stateDir string
	env      []string // jab's environment
	srv      *prosody.Server
	me       string // me@example.test
	alice    string // alice@example.test
	phone    *device
	laptop   *device
	listen   *jabrun.Proc // `jab listen &`
	shown    int          // how many of listen's lines the transcript shows
	thread   string       // the conversation's thread, as alice received it

	undo []func() error // cleanup, run in reverse order
}

// device is one of alice's resources: an XMPP client that records the
// messages the server delivered to it.
type device struct {
	name string // "phone"
	jid  string // alice@example.test/phone
	s    *session.Session

	mu  sync.Mutex
	got []*session.Message
}

func (v *device) record(x any) {
	if m, ok := x.(*session.Message); ok && m.Body != "" {
		v.mu.Lock()
		v.got = append(v.got, m)
		v.mu.Unlock()
	}
}

// since returns the messages received after the first n.
func (v *device) since(n int) []*session.Message {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]*session.Message(nil), v.got[n:]...)
}

func (v *device) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.got)
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, format+"\n", args...) }

// note is narration in the transcript: a shell comment.
func (d *demo) note(format string, args ...any) { d.say("# "+format, args...) }

func (d *demo) title(n int, text string) { d.say("\n== %d. %s ==", n, text) }

func (d *demo) interrupted() error {
	if d.ctx.Err() != nil {
		return errInterrupted
	}
	return nil
}

func (d *demo) cleanup() error {
	var first error
	for i := len(d.undo) - 1; i >= 0; i-- {
		if err := d.undo[i](); err != nil && first == nil {
			first = err
		}
	}
	d.undo = nil
	return first
}

func (d *demo) run() error {
	fmt.Fprintln(d.out, "jab demo: the real jab binary against a throwaway local Prosody.")
	fmt.Fprintln(d.out, "Lines starting with $ are what you would type; # lines explain, and say what alice's client received.")
	if err := d.setUp(); err != nil {
		return err
	}
	steps := []func() error{d.aliceOnline, d.startListen, d.firstSend, d.aliceReplies, d.lockedSend, d.presenceUnlocks, d.threadsList, d.stopAll}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
		if err := d.interrupted(); err != nil {
			return err
		}
	}
	return nil
}

// Step 1: Prosody, the accounts, the jab binary, a state directory.
func (d *demo) setUp() error {
	d.title(1, "A throwaway Prosody, two accounts, a freshly built jab")
	if err := prosody.Available(); err != nil {
		return fmt.Errorf("step 1: %w (make demo runs .ci/deps, which installs them)", err)
	}
	tmp, err := os.MkdirTemp("", "jab-demo-")
	if err != nil {
		return fmt.Errorf("step 1: %w", err)
	}
	d.tmp = tmp
	d.undo = append(d.undo, func() error { return os.RemoveAll(tmp) })
	d.jab = filepath.Join(tmp, "bin", "jab")

	// Build while Prosody starts; the build is usually the slower.
	built := make(chan error, 1)
	go func() { built <- jabrun.Build(d.ctx, d.jab) }()

	srv, err := prosody.Start(prosody.Options{})
	if err != nil {
		<-built
		return fmt.Errorf("step 1: start Prosody: %w", err)
	}
	d.srv = srv
	d.undo = append(d.undo, srv.Stop)
	d.me, d.alice = "me@"+srv.Domain, "alice@"+srv.Domain
	for _, u := range []string{"me", "alice"} {
		if err := srv.Register(u, u+"-demo-secret"); err != nil {
			<-built
			return fmt.Errorf("step 1: %w", err)
		}
	}
	d.note("Prosody for %s listens on %s (STARTTLS with a throwaway CA);", srv.Domain, srv.Addr)
	d.note("accounts %s and %s are registered.", d.me, d.alice)

	d.say("$ go build -o %s github.com/jab-xmpp/jab", d.jab)
	if err := <-built; err != nil {
		if d.ctx.Err() != nil {
			return errInterrupted
		}
		return fmt.Errorf("step 1: %w", err)
	}

	pwFile := filepath.Join(tmp, "me.password")
	if err := os.WriteFile(pwFile, []byte("me-demo-secret\n"), 0o600); err != nil {
		return fmt.Errorf("step 1: %w", err)
	}
	d.stateDir = filepath.Join(tmp, "state")
	home := filepath.Join(tmp, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return fmt.Errorf("step 1: %w", err)
	}
	bin := filepath.Dir(d.jab)
	exports := [][2]string{
		{"JAB_JID", d.me}, {"JAB_PASSWORD_FILE", pwFile},
		{"JAB_SERVER", srv.Addr}, {"JAB_CA_FILE", srv.CAFile},
		{"JAB_STATE_DIR", d.stateDir},
	}
	// jab sees only these, a PATH and an empty home: no JAB_* setting or
	// config file of the user's leaks into the demo.
	d.env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_STATE_HOME=" + filepath.Join(home, ".local", "state"), "NO_COLOR=1", "LANG=C.UTF-8"}
	for _, e := range exports {
		d.env = append(d.env, e[0]+"="+e[1])
	}
	d.say("$ export PATH=%s:$PATH", bin)
	d.say("$ export %s=%s %s=%s", exports[0][0], exports[0][1], exports[1][0], exports[1][1])
	d.say("$ export %s=%s %s=%s", exports[2][0], exports[2][1], exports[3][0], exports[3][1])
	d.say("$ export %s=%s", exports[4][0], exports[4][1])
	d.note("me's password is in that file (mode 0600); jab never takes one on the command line.")
	return nil
}

// Step 2: alice's two devices come online.
func (d *demo) aliceOnline() error {
	d.title(2, "alice comes online on two devices")
	pem, err := os.ReadFile(d.srv.CAFile)
	if err != nil {
		return fmt.Errorf("step 2: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	for _, name := range []string{"phone", "laptop"} {
		v := &device{name: name}
		cfg := session.Config{JID: session.JID{Local: "alice", Domain: d.srv.Domain}, Password: "alice-demo-secret",
			Server: d.srv.Addr, ExtraCAs: pool, Resource: name, Timeout: waitFor}
		s, err := session.OpenHandler(d.ctx, cfg, v.record)
		if err != nil {
			if d.ctx.Err() != nil {
				return errInterrupted
			}
			return fmt.Errorf("step 2: alice's %s cannot log in: %w", name, err)
		}
		v.s, v.jid = s, s.JID().String()
		d.undo = append(d.undo, func() error { s.Close(); return nil })
		if err := s.SendPresence(0); err != nil {
			return fmt.Errorf("step 2: alice's %s: %w", name, err)
		}
		if name == "phone" {
			d.phone = v
		} else {
			d.laptop = v
		}
	}
	// The presences are in once the server has answered a ping sent after them.
	if err := d.sync(2); err != nil {
		return err
	}
	d.note("%-26s is online (available, priority 0)", d.phone.jid)
	d.note("%-26s is online (available, priority 0)", d.laptop.jid)
	d.note("(alice's client is a plain XMPP connection per device that records what it receives.)")
	return nil
}

// Step 3: jab listen in the background, until its observer record appears.
func (d *demo) startListen() error {
	const step = 3
	d.title(step, "jab listen runs in the background")
	d.say("$ jab listen --presence &")
	cmd := exec.Command(d.jab, "listen", "--presence")
	cmd.Env = d.env
	// Its own process group, so a Ctrl-C reaches only the demo, which then
	// stops it with SIGTERM; and it dies with the demo if the demo is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	l, err := jabrun.Start(cmd, false)
	if err != nil {
		return fmt.Errorf("step 3: %w", err)
	}
	d.listen = l
	d.undo = append(d.undo, func() error { l.Stop(); return nil })

	ctx, cancel := context.WithTimeout(d.ctx, waitFor)
	defer cancel()
	record, err := jabrun.WaitObserver(ctx, d.stateDir, l.Done())
	switch {
	case d.ctx.Err() != nil:
		return errInterrupted
	case errors.Is(err, jabrun.ErrExited):
		return fmt.Errorf("step 3: jab listen exited (status %d) before it was online", l.Code())
	case err != nil:
		return fmt.Errorf("step 3: jab listen was not online within %s: %w", waitFor, err)
	}
	res, err := d.listenResource()
	if err != nil {
		return fmt.Errorf("step 3: %w", err)
	}
	// The server echoes listen's own presence back to it; show that line
	// here rather than in the middle of a later step.
	echo := d.me + "/" + res + " presence available"
	if _, err := d.waitListenFor(step, echo, "its own presence", 2*time.Second); errors.Is(err, errInterrupted) {
		return err
	}
	d.note("listen is online as %s/%s (the server echoes its own presence to it).", d.me, res)
	d.note("Its observer record in the state dir, %s,", filepath.Base(record))
	d.note("tells one-shot sends that a live listen is watching presence, so they trust its locks.")
	return nil
}

// listenResource reads listen's stable resource from the state file.
func (d *demo) listenResource() (string, error) {
	data, err := os.ReadFile(filepath.Join(d.stateDir, "state.json"))
	if err != nil {
		return "", fmt.Errorf("read the state file: %w", err)
	}
	var st statefile.State
	if err := json.Unmarshal(data, &st); err != nil {
		return "", fmt.Errorf("parse the state file: %w", err)
	}
	a := st.Accounts[d.me]
	if a == nil || a.Resource == "" {
		return "", fmt.Errorf("the state file has no resource for %s (accounts.%s.resource)", d.me, d.me)
	}
	return a.Resource, nil
}

// jabRun runs a jab command to completion, showing it and its output.
func (d *demo) jabRun(step int, args ...string) (string, error) {
	d.say("$ jab %s", shellJoin(args))
	r, err := jabrun.Run(d.ctx, d.jab, d.env, nil, args...)
	if d.ctx.Err() != nil {
		return "", errInterrupted
	}
	fmt.Fprint(d.out, r.Stdout)
	fmt.Fprint(d.out, r.Stderr)
	if err != nil {
		return "", fmt.Errorf("step %d: jab %s: %w", step, args[0], err)
	}
	if r.Code != 0 {
		return "", fmt.Errorf("step %d: jab %s failed (exit status %d): %s", step, args[0], r.Code, strings.TrimSpace(r.Stderr))
	}
	return r.Stdout, nil
}

// sync makes sure every stanza the server routed to alice's devices so
// far has been recorded: each device pings the server, and the server
// answers only after what it queued for that device before.
func (d *demo) sync(step int) error {
	for _, v := range []*device{d.phone, d.laptop} {
		if err := v.s.Ping(d.ctx, ""); err != nil {
			if d.ctx.Err() != nil {
				return errInterrupted
			}
			return fmt.Errorf("step %d: alice's %s: %w", step, v.name, err)
		}
	}
	return nil
}

// sendAndSee runs `jab send alice TEXT` and returns what each device got.
// jab send exits 0 only after the server processed the message, so after a
// sync every copy the server delivered has been recorded.
func (d *demo) sendAndSee(step int, text string) (map[*device][]*session.Message, error) {
	marks := map[*device]int{d.phone: d.phone.count(), d.laptop: d.laptop.count()}
	if _, err := d.jabRun(step, "send", d.alice, text); err != nil {
		return nil, err
	}
	if err := d.sync(step); err != nil {
		return nil, err
	}
	got := map[*device][]*session.Message{}
	for _, v := range []*device{d.phone, d.laptop} {
		ms := v.since(marks[v])
		if len(ms) == 0 {
			d.note("%-26s received nothing", v.jid)
		}
		for _, m := range ms {
			if m.Body != text {
				return nil, fmt.Errorf("step %d: alice's %s received an unexpected message %q", step, v.name, m.Body)
			}
			got[v] = append(got[v], m)
			d.note("%-26s received %q, addressed to %s, thread %s", v.jid, m.Body, m.To, threadOf(m))
		}
	}
	if len(got) == 0 {
		return nil, fmt.Errorf("step %d: alice received %q on no device", step, text)
	}
	return got, nil
}

// arrivals describes where a message arrived, for error messages.
func arrivals(got map[*device][]*session.Message) string {
	var parts []string
	for _, v := range sortedDevices(got) {
		for _, m := range got[v] {
			parts = append(parts, fmt.Sprintf("%s (to=%s)", v.jid, m.To))
		}
	}
	if len(parts) == 0 {
		return "nowhere"
	}
	return strings.Join(parts, " and ")
}

// sortedDevices lists the devices of got, phone before laptop.
func sortedDevices(got map[*device][]*session.Message) []*device {
	var vs []*device
	for v := range got {
		vs = append(vs, v)
	}
	slices.SortFunc(vs, func(a, b *device) int { return strings.Compare(b.name, a.name) })
	return vs
}

func threadOf(m *session.Message) string {
	if t := m.ThreadValue(); t != "" {
		return t
	}
	return "(none)"
}

// checkThread checks that every copy carries the conversation's thread.
func (d *demo) checkThread(step int, got map[*device][]*session.Message) error {
	for _, v := range sortedDevices(got) {
		for _, m := range got[v] {
			if m.ThreadValue() != d.thread {
				return fmt.Errorf("step %d: expected thread %s, %s received thread %s", step, d.thread, v.jid, threadOf(m))
			}
		}
	}
	return nil
}

// checkBare checks that every copy was addressed to alice's bare JID.
func (d *demo) checkBare(step int, got map[*device][]*session.Message, why string) error {
	for _, ms := range got {
		for _, m := range ms {
			if m.To != d.alice {
				return fmt.Errorf("step %d: expected the message at the bare JID %s (%s), it arrived at %s",
					step, d.alice, why, arrivals(got))
			}
		}
	}
	return nil
}

// Step 4: a new conversation goes to the bare JID, with a new thread.
func (d *demo) firstSend() error {
	const step = 4
	d.title(step, "The first message goes to alice's bare JID")
	got, err := d.sendAndSee(step, "Hello Alice")
	if err != nil {
		return err
	}
	if err := d.checkBare(step, got, "a new conversation is unlocked"); err != nil {
		return err
	}
	for _, v := range sortedDevices(got) {
		t := got[v][0].ThreadValue()
		if t == "" {
			return fmt.Errorf("step %d: expected a thread id, the message at %s carries none", step, v.jid)
		}
		if d.thread != "" && t != d.thread {
			return fmt.Errorf("step %d: the copies carry different threads, %s and %s", step, d.thread, t)
		}
		d.thread = t
	}
	d.note("Unlocked, so jab addressed the bare JID and the server gave it to alice's devices;")
	d.note("jab started the conversation's thread %s (XEP-0201).", d.thread)
	return nil
}

// waitListen waits for a line of listen's output containing want, and
// shows every line it prints meanwhile.
func (d *demo) waitListen(step int, want, what string) (string, error) {
	return d.waitListenFor(step, want, what, waitFor)
}

func (d *demo) waitListenFor(step int, want, what string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(d.ctx, timeout)
	defer cancel()
	i, err := d.listen.WaitLine(ctx, d.shown, want)
	// Show what listen printed meanwhile, the line waited for included.
	lines := d.listen.Lines()
	if err == nil {
		lines = lines[:i+1]
	}
	for _, line := range lines[d.shown:] {
		d.say("%s", line)
	}
	d.shown = len(lines)
	switch {
	case err == nil:
		return lines[i], nil
	case d.ctx.Err() != nil:
		return "", errInterrupted
	case errors.Is(err, jabrun.ErrExited):
		return "", fmt.Errorf("step %d: jab listen exited (status %d) before it printed %s", step, d.listen.Code(), what)
	}
	return "", fmt.Errorf("step %d: jab listen did not print %s (a line with %q) within %s", step, what, want, timeout)
}

// Step 5: alice answers from her laptop; listen prints it and locks.
func (d *demo) aliceReplies() error {
	const step = 5
	d.title(step, "alice answers from her laptop")
	body := "Hi! Yes, I'm here."
	m := &session.Message{To: d.me, Type: "chat", ID: session.NewID(), Body: body, Thread: &session.Thread{Value: d.thread}}
	d.note("%s sends %q to %s, thread %s", d.laptop.jid, body, d.me, d.thread)
	if err := d.laptop.s.Conn().Send(m); err != nil {
		return fmt.Errorf("step %d: alice's laptop: %w", step, err)
	}
	d.note("jab listen (in the background) prints:")
	want := d.laptop.jid + " chat " + d.thread[:8] + ": " + body
	if _, err := d.waitListen(step, want, "alice's reply"); err != nil {
		return err
	}
	d.note("A chat from one of alice's devices locks the conversation to it (XEP-0296 §2.2).")
	return nil
}

// Step 6: the locked conversation goes to the laptop only.
func (d *demo) lockedSend() error {
	const step = 6
	d.title(step, "The next message goes to the laptop only (locked)")
	got, err := d.sendAndSee(step, "Are you on your laptop?")
	if err != nil {
		return err
	}
	if len(got) != 1 || len(got[d.laptop]) != 1 || got[d.laptop][0].To != d.laptop.jid {
		return fmt.Errorf("step %d: expected the message at %s only, it arrived at %s", step, d.laptop.jid, arrivals(got))
	}
	if err := d.checkThread(step, got); err != nil {
		return err
	}
	d.note("Locked: jab addressed %s, so the phone got nothing; same thread.", d.laptop.jid)
	return nil
}

// Step 7: a presence change from the laptop unlocks.
func (d *demo) presenceUnlocks() error {
	const step = 7
	d.title(step, "alice's laptop goes away: the lock is released")
	res, err := d.listenResource()
	if err != nil {
		return fmt.Errorf("step %d: %w", step, err)
	}
	listenJID := d.me + "/" + res
	prio := 0
	p := &session.Presence{To: listenJID, Show: "away", Status: "in a meeting", Priority: &prio}
	d.note("%s sends presence \"away\" to %s", d.laptop.jid, listenJID)
	d.note("(directed to listen's full JID: me and alice have no presence subscription)")
	if err := d.laptop.s.Conn().Send(p); err != nil {
		return fmt.Errorf("step %d: alice's laptop: %w", step, err)
	}
	d.note("jab listen prints:")
	if _, err := d.waitListen(step, d.laptop.jid+" presence", "the laptop's presence"); err != nil {
		return err
	}
	got, err := d.sendAndSee(step, "Which device gets this one?")
	if err != nil {
		return err
	}
	if err := d.checkBare(step, got, "the presence change unlocked the conversation"); err != nil {
		return err
	}
	if err := d.checkThread(step, got); err != nil {
		return err
	}
	d.note("A presence change unlocks (XEP-0296 §2.3): the bare JID again, and the thread stays the same.")
	return nil
}

// Step 8: the thread index.
func (d *demo) threadsList() error {
	const step = 8
	d.title(step, "The thread jab keeps")
	out, err := d.jabRun(step, "threads", "list")
	if err != nil {
		return err
	}
	var line string
	for l := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(l, d.thread[:8]) {
			line = l
		}
	}
	// id, peer, type, open/closed, count, last activity, lock, subject
	f := strings.Fields(line)
	if len(f) < 7 || f[1] != d.alice || f[3] != "open" || f[4] != "4" || f[6] != "-" {
		return fmt.Errorf("step %d: expected jab threads list to show thread %s with %s, open, 4 messages, unlocked; it printed:\n%s",
			step, d.thread[:8], d.alice, out)
	}
	d.note("The conversation's thread: open, 4 messages (three sent, alice's reply), no lock now (-).")
	return nil
}

// Step 9: stop listen and clean up.
func (d *demo) stopAll() error {
	const step = 9
	d.title(step, "Clean up")
	d.say("$ kill %%1")
	code := d.listen.Stop()
	if code != 143 {
		return fmt.Errorf("step %d: expected jab listen to exit with status 143 on SIGTERM, it exited with %d", step, code)
	}
	if err := d.cleanup(); err != nil {
		return fmt.Errorf("step %d: %w", step, err)
	}
	d.note("jab listen stopped (exit status 143, SIGTERM); alice's devices logged out;")
	d.note("Prosody stopped; the temporary directories are removed.")
	return nil
}

// shellJoin quotes args the way a user would type them.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	if !strings.ContainsAny(s, "\"$`\\!") {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
