package commands_test

// Integration tests of `jab repl` against the real Prosody. Scripted mode
// runs through a pipe; interactive mode runs the real binary in a tmux
// pane, types with send-keys and reads the rendered screen with
// capture-pane. Every test asserts on what the peer received.

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/peer"
	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// startReplPipe starts `jab repl` with stdin and stdout pipes (scripted
// mode) and waits until it is online.
func (j *jab) startReplPipe(args ...string) *proc {
	j.t.Helper()
	p := j.startPiped(true, append([]string{"repl"}, args...)...)
	waitObserver(j.t, j.stateDir, p.done, p.Stderr)
	return p
}

// waitStderr waits until stderr contains substr.
func (p *proc) waitStderr(substr string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(p.Stderr(), substr) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("stderr has no %q within %s: %s", substr, timeout, p.Stderr())
}

// lineWithin reports whether a stdout line containing substr appears
// within d, without failing the test.
func (p *proc) lineWithin(substr string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		for _, l := range p.Lines() {
			if strings.Contains(l, substr) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// noRepeatedStates fails if the peer got the same standalone chat state
// twice in a row (XEP-0085 §5.3).
func noRepeatedStates(t *testing.T, p *peer.Peer) {
	t.Helper()
	last := ""
	for _, m := range p.Messages() {
		if m.Body != "" {
			last = ""
			continue
		}
		if s := m.ChatState(); s != "" {
			if s == last {
				t.Fatalf("standalone <%s/> twice in a row:\n%s", s, p.Dump())
			}
			last = s
		}
	}
}

func isChatState(state string) func(*session.Message) bool {
	return func(m *session.Message) bool { return m.Body == "" && m.ChatState() == state }
}

// activeChat is a chat message with <active/>, as a client that
// supports chat states sends it.
func activeChat(to, body, thread string) *session.Message {
	m := &session.Message{To: to, Type: "chat", ID: session.NewID(), Body: body}
	if thread != "" {
		m.Thread = &session.Thread{Value: thread}
	}
	m.SetChatState("active")
	return m
}

func countMessages(p *peer.Peer, match func(*session.Message) bool) int {
	n := 0
	for _, m := range p.Messages() {
		if match(m) {
			n++
		}
	}
	return n
}

// TestReplPipe: scripted mode sends lines as chat messages with <active/>,
// prints incoming messages as listen does (sanitised), runs commands and
// jab subcommands, refuses bad input without sending, and /close sends
// <gone/> and the terminate; the end of the input quits without <gone/>.
func TestReplPipe(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)
	r := j.startReplPipe(alice.JID)

	r.line("hello alice")
	m := phone.WaitBody(t, "hello alice")
	if m.ChatState() != "active" || m.Type != "chat" || m.ThreadValue() == "" {
		t.Fatalf("message should be a chat with <active/> and a thread: %+v", m)
	}
	thread := m.ThreadValue()
	w := wire(t, phone, m)
	w.wantAttr(t, "XEP-0085 §5.1 (on the wire)", "type", "chat")
	w.wantAttr(t, "XEP-0085 §5.1 (on the wire)", "to", alice.JID)
	if s := wireChatStates(w); len(s) != 1 || s[0] != "active" {
		t.Fatalf("XEP-0085 §5.1: a chat line carries chat states %q as received, want [active]:\n%s", s, w.raw)
	}

	// An incoming message is printed as listen prints it, sanitised.
	// The reply carries <active/>, so chat states go on (XEP-0085 §5.1).
	phone.Send(t, activeChat(me.JID, "hi back \u009b[31m", thread))
	got := r.waitLine("hi back", 10*time.Second)
	if !strings.Contains(got, phone.JID+" chat "+thread[:8]+": hi back \\u{9b}[31m") {
		t.Fatalf("incoming line %q is not listen's text record", got)
	}

	// Bad input: nothing is sent.
	r.line("/tread")
	r.waitStderr(`unknown command /tread`, 10*time.Second)
	r.waitStderr(`did you mean /thread?`, 10*time.Second)
	r.line("/to not@@a")
	r.waitStderr("malformed JID", 10*time.Second)
	r.line("/thread")
	r.waitLine("thread "+thread, 10*time.Second)

	// A jab subcommand from the prompt, with a fresh app.
	r.line("/threads list")
	r.waitLine(thread[:8], 10*time.Second)

	// A message starting with // keeps one slash.
	r.line("//not a command")
	phone.WaitBody(t, "/not a command")

	// The locked conversation: the reply from /phone locked it.
	r.line("/lock")
	r.waitLine("locked to "+phone.JID+" since", 10*time.Second)

	r.line("/close")
	gone := phone.WaitMessage(t, 10*time.Second, func(m *session.Message) bool {
		return m.Body == "" && m.ChatState() == "gone" && m.ThreadValue() == thread
	})
	w = wire(t, phone, gone)
	w.wantNo(t, "XEP-0085 §5.4 (/close sends a standalone <gone/>, on the wire)", "body")
	if s := wireChatStates(w); len(s) != 1 || s[0] != "gone" {
		t.Fatalf("XEP-0085 §5.4: /close sent chat states %q as received, want [gone]:\n%s", s, w.raw)
	}
	phone.WaitMessage(t, 10*time.Second, func(m *session.Message) bool {
		return m.IsTerminate() && m.ThreadValue() == thread
	})
	r.waitLine("closed thread "+thread, 10*time.Second)
	r.line("after close")
	after := phone.WaitBody(t, "after close")
	if after.ThreadValue() == "" || after.ThreadValue() == thread {
		t.Fatalf("a message after /close should start a new thread, got %q (closed %q)", after.ThreadValue(), thread)
	}

	r.stdin.Close()
	if code := r.wait(15 * time.Second); code != 0 {
		t.Fatalf("repl exited %d at the end of the input: %s", code, r.Stderr())
	}
	phone.Sync(t)
	if n := countMessages(phone, isChatState("gone")); n != 1 {
		t.Fatalf("peer got %d <gone/>, want exactly the one of /close (none on quit):\n%s", n, phone.Dump())
	}
	for _, m := range phone.Messages() {
		if m.Body == "/tread" || strings.Contains(m.Body, "not@@a") {
			t.Fatalf("bad input was sent: %+v", m)
		}
	}
}

// TestReplPipeChatStateDiscovery: a reply without chat states stops them
// (XEP-0085 §5.1 rule 2); --no-chat-states sends none, not even <gone/>.
func TestReplPipeChatStateDiscovery(t *testing.T) {
	needServer(t)
	t.Parallel()
	t.Run("reply without states", func(t *testing.T) {
		t.Parallel()
		me, alice, j, phone := meAndAlice(t)
		r := j.startReplPipe(alice.JID)
		r.line("one")
		m := phone.WaitBody(t, "one")
		if m.ChatState() != "active" {
			t.Fatalf("first message should carry <active/>: %+v", m)
		}
		// XEP-0085 §4: a client that sends chat states says so in disco#info.
		res := phone.Request(t, &session.IQ{To: m.From, Type: "get",
			Payload: &session.RawElement{XMLName: xml.Name{Space: "http://jabber.org/protocol/disco#info", Local: "query"}}})
		if res.Payload == nil || !strings.Contains(string(res.Payload.Inner), session.NSChatStates) {
			t.Fatalf("disco#info of %s lacks %s: %+v", m.From, session.NSChatStates, res)
		}
		phone.Chat(t, me.JID, "plain reply", "")
		r.waitLine("plain reply", 10*time.Second)
		r.line("two")
		if m := phone.WaitBody(t, "two"); m.ChatState() != "" {
			t.Fatalf("after a reply without chat states, got %q", m.ChatState())
		}
	})
	t.Run("switched off", func(t *testing.T) {
		t.Parallel()
		_, alice, j, phone := meAndAlice(t)
		r := j.startReplPipe("--no-chat-states", alice.JID)
		r.line("quiet")
		m := phone.WaitBody(t, "quiet")
		if m.ChatState() != "" {
			t.Fatalf("--no-chat-states sent %q", m.ChatState())
		}
		r.line("/close")
		phone.WaitMessage(t, 10*time.Second, func(m *session.Message) bool { return m.IsTerminate() })
		phone.Sync(t)
		r.line("/quit")
		r.wait(15 * time.Second)
		for _, m := range phone.Messages() {
			if m.ChatState() != "" {
				t.Fatalf("--no-chat-states sent a chat state: %+v", m)
			}
			if w := wire(t, phone, m); len(wireChatStates(w)) > 0 {
				t.Fatalf("--no-chat-states sent chat states %q, as received:\n%s", wireChatStates(w), w.raw)
			}
		}
	})
}

// TestReplPipeTooLong: a line over the server's limit is refused with a
// clear error, nothing is sent, and the REPL goes on.
func TestReplPipeTooLong(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	r := j.startReplPipe(alice.JID)
	r.line(strings.Repeat("x", 300*1024))
	r.waitStderr("message not sent", 20*time.Second)
	r.waitStderr("over the server's limit", 5*time.Second)
	// No line history without a terminal: the hint must not promise one.
	r.waitStderr("jab: hint: shorten or split the line", 5*time.Second)
	if strings.Contains(r.Stderr(), "history") {
		t.Fatalf("the scripted-mode hint mentions a history: %s", r.Stderr())
	}
	r.line("short one")
	phone.WaitBody(t, "short one")
	for _, m := range phone.Messages() {
		if len(m.Body) > 1000 {
			t.Fatalf("the long line was sent (%d bytes)", len(m.Body))
		}
	}
}

// tmuxRepl is `jab repl` running in a tmux pane of a private tmux server.
type tmuxRepl struct {
	t    *testing.T
	sock string
	j    *jab
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (j *jab) startReplTmux(args ...string) *tmuxRepl {
	j.t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		j.t.Fatalf("the terminal tests need tmux (.ci/deps installs it): %v", err)
	}
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	for _, e := range j.env() {
		b.WriteString("export " + shellQuote(e) + "\n")
	}
	// The inner shell records jab's pid (exec keeps it); the outer one
	// records jab's exit status, which tmux reports unreliably.
	cmd := "echo $$ > " + shellQuote(filepath.Join(j.home, "repl.pid")) + "; exec " + shellQuote(jabBin) + " repl"
	for _, a := range args {
		cmd += " " + shellQuote(a)
	}
	b.WriteString("sh -c " + shellQuote(cmd) + "\n")
	b.WriteString("echo $? > " + shellQuote(filepath.Join(j.home, "repl.status")) + "\n")
	script := filepath.Join(j.home, "repl.sh")
	if err := os.WriteFile(script, []byte(b.String()), 0o700); err != nil {
		j.t.Fatal(err)
	}
	// tmux socket paths are limited to about 100 bytes: keep it short.
	dir, err := os.MkdirTemp("", "jabtmux")
	if err != nil {
		j.t.Fatal(err)
	}
	tr := &tmuxRepl{t: j.t, sock: filepath.Join(dir, "s"), j: j}
	j.t.Cleanup(func() {
		exec.Command("tmux", "-S", tr.sock, "kill-server").Run()
		// jab gets SIGHUP and exits on its own time; wait for it, or it
		// may still write the state directory while the test removes it.
		if data, err := os.ReadFile(filepath.Join(j.home, "repl.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
					if syscall.Kill(pid, 0) != nil {
						break
					}
				}
			}
		}
		os.RemoveAll(dir)
	})
	tr.tmux("-f", "/dev/null", "new-session", "-d", "-s", "repl", "-x", "200", "-y", "50", "sh "+shellQuote(script))
	tr.tmux("set-option", "-t", "repl", "remain-on-exit", "on")
	waitObserver(j.t, j.stateDir, nil, tr.screen)
	return tr
}

func (tr *tmuxRepl) tmux(args ...string) string {
	tr.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tr.sock}, args...)...).CombinedOutput()
	if err != nil {
		tr.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

// screen is what the pane shows now.
func (tr *tmuxRepl) screen() string {
	out, err := exec.Command("tmux", "-S", tr.sock, "capture-pane", "-p", "-t", "repl").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(capture-pane: %v: %s)", err, out)
	}
	return string(out)
}

// typeText types text literally, without Enter.
func (tr *tmuxRepl) typeText(text string) { tr.tmux("send-keys", "-t", "repl", "-l", text) }

// key presses named keys (Enter, Tab, C-c, C-d).
func (tr *tmuxRepl) key(keys ...string) {
	tr.tmux(append([]string{"send-keys", "-t", "repl"}, keys...)...)
}

// waitScreen waits until ok accepts the screen, and returns it.
func (tr *tmuxRepl) waitScreen(what string, timeout time.Duration, ok func(string) bool) string {
	tr.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := tr.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tr.t.Fatalf("screen never showed %s within %s; screen:\n%s", what, timeout, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (tr *tmuxRepl) waitText(substr string) string {
	tr.t.Helper()
	return tr.waitScreen(fmt.Sprintf("%q", substr), 15*time.Second, func(s string) bool { return strings.Contains(s, substr) })
}

// lastLine is the last non-empty line of a screen.
func lastLine(screen string) string {
	lines := strings.Split(strings.TrimRight(screen, "\n "), "\n")
	return strings.TrimRight(lines[len(lines)-1], " ")
}

// exited reports jab's exit status once it has ended.
func (tr *tmuxRepl) exited() (bool, string) {
	data, err := os.ReadFile(filepath.Join(tr.j.home, "repl.status"))
	if err != nil || !strings.HasSuffix(string(data), "\n") {
		return false, ""
	}
	return true, strings.TrimSpace(string(data))
}

// waitExit waits for the program in the pane to end; if it hangs, its
// goroutines are dumped (SIGQUIT) into the failure message.
func (tr *tmuxRepl) waitExit(timeout time.Duration) {
	tr.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if dead, _ := tr.exited(); dead {
			return
		}
		if time.Now().After(deadline) {
			pid, _ := os.ReadFile(filepath.Join(tr.j.home, "repl.pid"))
			exec.Command("kill", "-QUIT", strings.TrimSpace(string(pid))).Run()
			time.Sleep(time.Second)
			tr.t.Fatalf("repl did not exit within %s; pane history:\n%s", timeout,
				tr.tmux("capture-pane", "-p", "-t", "repl", "-S", "-3000"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplTerminal: in a terminal, the prompt shows the conversee, lock
// and thread; typing sends <composing/> once, then <paused/>; Enter sends
// the message with <active/>; an incoming message is printed above an
// unfinished input line, which survives intact; a peer's chat state shows
// in the prompt and is not printed as a message; /close sends <gone/> and
// the terminate; Ctrl-C clears the line; Ctrl-D quits without <gone/>;
// the line history is a 0600 file.
func TestReplTerminal(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)
	tr := j.startReplTmux("--paused-after=1s", alice.JID)
	tr.waitText(alice.JID + " #new>")

	tr.typeText("hel")
	phone.WaitMessage(t, 10*time.Second, isChatState("composing"))
	tr.typeText("lo")
	phone.WaitMessage(t, 10*time.Second, isChatState("paused"))
	// A slow pane may let --paused-after pass between the two typings,
	// which legitimately composes again; never twice in a row.
	noRepeatedStates(t, phone)
	tr.key("Enter")
	m := phone.WaitBody(t, "hello")
	if m.ChatState() != "active" {
		t.Fatalf("message should carry <active/>: %+v", m)
	}
	thread := m.ThreadValue()
	tr.waitText(alice.JID + " #" + thread[:8])

	// A reply locks to /phone; an unfinished line survives the print.
	tr.typeText("unfinished draft")
	phone.Chat(t, me.JID, "reply from phone \u009b[2J", thread)
	s := tr.waitText("reply from phone")
	if !strings.Contains(s, phone.JID+" #"+thread[:8]+": reply from phone \\u{9b}[2J") {
		t.Fatalf("incoming line should show the full JID, short thread and the sanitised body; screen:\n%s", s)
	}
	s = tr.waitScreen("the prompt locked to /phone", 10*time.Second, func(s string) bool {
		return strings.HasSuffix(lastLine(s), phone.JID+" #"+thread[:8]+"> unfinished draft")
	})
	if strings.Index(s, "reply from phone") > strings.LastIndex(s, "unfinished draft") {
		t.Fatalf("the message should be above the input line; screen:\n%s", s)
	}
	tr.key("Enter")
	if m := phone.WaitBody(t, "unfinished draft"); m.To != phone.JID {
		t.Fatalf("the locked conversation should go to %s, went to %s", phone.JID, m.To)
	}

	// The peer's chat state: a transient status in the prompt.
	phone.Send(t, func() *session.Message {
		m := &session.Message{To: me.JID, Type: "chat", Thread: &session.Thread{Value: thread}}
		m.SetChatState("composing")
		return m
	}())
	tr.waitScreen("the peer typing", 10*time.Second, func(s string) bool { return strings.Contains(lastLine(s), "(typing…)>") })
	if s := tr.screen(); strings.Count(s, "composing") > 0 {
		t.Fatalf("a chat state must not print as a message; screen:\n%s", s)
	}

	// Ctrl-C clears the line; nothing is sent.
	tr.typeText("/who zzqx")
	tr.waitScreen("the typed line", 10*time.Second, func(s string) bool { return strings.HasSuffix(lastLine(s), "> /who zzqx") })
	tr.key("C-c")
	tr.waitScreen("a cleared line", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "zzqx^C") && strings.HasSuffix(lastLine(s), ">") && !strings.Contains(lastLine(s), "zzqx")
	})

	// Completion of a command name.
	tr.typeText("/clo")
	tr.key("Tab")
	tr.waitScreen("/close completed", 10*time.Second, func(s string) bool { return strings.HasSuffix(lastLine(s), "> /close") })
	tr.key("Enter")
	phone.WaitMessage(t, 10*time.Second, func(m *session.Message) bool {
		return m.ChatState() == "gone" && m.Body == "" && m.ThreadValue() == thread
	})
	phone.WaitMessage(t, 10*time.Second, func(m *session.Message) bool { return m.IsTerminate() && m.ThreadValue() == thread })
	tr.waitText("closed thread " + thread)
	tr.waitScreen("an unlocked prompt", 10*time.Second, func(s string) bool { return strings.HasSuffix(lastLine(s), alice.JID+" #new>") })

	tr.key("C-d")
	tr.waitExit(15 * time.Second)
	if _, status := tr.exited(); status != "0" {
		t.Fatalf("Ctrl-D should quit with 0, got %s; screen:\n%s", status, tr.screen())
	}
	phone.Sync(t)
	if n := countMessages(phone, isChatState("gone")); n != 1 {
		t.Fatalf("peer got %d <gone/>, want only the one of /close:\n%s", n, phone.Dump())
	}
	for _, m := range phone.Messages() {
		if strings.Contains(m.Body, "/who") || strings.Contains(m.Body, "/close") {
			t.Fatalf("a command was sent as a message: %+v", m)
		}
	}
	fi, err := os.Stat(filepath.Join(j.stateDir, "repl_history"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("history file mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(filepath.Join(j.stateDir, "repl_history"))
	if !strings.Contains(string(data), "unfinished draft") {
		t.Fatalf("history file lacks the typed line: %q", data)
	}
}

// TestReplAutoAway: after --auto-away without input the REPL announces
// away, after --auto-xa extended away, and available again at the next
// key (XEP-0296 §3.3). Our own other resource sees the broadcasts.
func TestReplAutoAway(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	other := me.connect(t, "other")
	other.Available(t)
	// Taken before the REPL starts, so its idle clock starts later.
	start := time.Now()
	tr := j.startReplTmux("--auto-away=2s", "--auto-xa=4s", alice.JID)
	tr.waitText(alice.JID + " #new>")
	fromRepl := func(show string) func(*session.Presence) bool {
		return func(p *session.Presence) bool {
			return p.From != other.JID && strings.HasPrefix(p.From, me.JID+"/") && p.Type == "" && p.Show == show
		}
	}
	const slack = 100 * time.Millisecond
	other.WaitPresence(t, 15*time.Second, fromRepl("away"))
	if d := time.Since(start); d < 2*time.Second-slack {
		t.Fatalf("away came after %s, before the 2s delay", d)
	}
	other.WaitPresence(t, 15*time.Second, fromRepl("xa"))
	if d := time.Since(start); d < 4*time.Second-slack {
		t.Fatalf("xa came after %s, before the 4s delay", d)
	}
	n := len(other.Received())
	tr.typeText("x")
	deadline := time.Now().Add(10 * time.Second)
	for {
		back := false
		for _, x := range other.Received()[n:] {
			if p, ok := x.(*session.Presence); ok && fromRepl("")(p) {
				back = true
			}
		}
		if back {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no available presence after the key:\n%s", other.Dump())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplPipeCommands: /reply answers in the original's thread with an
// In-Reply-To header, /fork starts a child thread, /thread ID resumes a
// thread, /history groups by thread, /who shows presence, /status sends
// presence, and an idle lock unlocks past --lock-idle (XEP-0296 §3.2).
func TestReplPipeCommands(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)
	other := me.connect(t, "other")
	other.Available(t)
	r := j.startReplPipe("--lock-idle=2s", alice.JID)

	r.line("first")
	first := phone.WaitBody(t, "first")
	thread := first.ThreadValue()
	orig := activeChat(me.JID, "question?", thread)
	phone.Send(t, orig)
	r.waitLine("question?", 10*time.Second)

	r.line("/reply " + orig.ID[:8] + " an answer")
	ans := phone.WaitBody(t, "an answer")
	if ans.Header("In-Reply-To") != orig.ID || ans.ThreadValue() != thread || ans.To != phone.JID {
		t.Fatalf("reply should go to %s in thread %s with In-Reply-To %s: %+v", phone.JID, thread, orig.ID, ans)
	}

	r.line("/fork")
	r.waitLine("child thread of "+thread, 10*time.Second)
	r.line("in the child")
	child := phone.WaitBody(t, "in the child")
	if child.ThreadParent() != thread || child.ThreadValue() == thread || child.ThreadValue() == "" {
		t.Fatalf("forked message should carry a new thread with parent %s: %+v", thread, child.Thread)
	}

	r.line("/thread " + thread[:8])
	r.waitLine("resuming thread "+thread, 10*time.Second)
	r.line("back in the first")
	if m := phone.WaitBody(t, "back in the first"); m.ThreadValue() != thread {
		t.Fatalf("/thread ID should resume %s, got %s", thread, m.ThreadValue())
	}

	r.line("/history 10")
	r.waitLine("#"+child.ThreadValue()[:8], 10*time.Second)
	r.waitLine("<- "+phone.JID+" "+orig.ID[:8]+": question?", 10*time.Second)

	r.line("/status dnd in a meeting")
	other.WaitPresence(t, 10*time.Second, func(p *session.Presence) bool {
		return p.From != other.JID && p.Show == "dnd" && p.Status == "in a meeting"
	})

	// The conversation is locked to /phone; idle past --lock-idle it is not.
	r.line("/lock")
	r.waitLine("locked to "+phone.JID+" since", 10*time.Second)
	time.Sleep(2500 * time.Millisecond)
	r.line("/lock")
	r.waitLine("longer than --lock-idle", 10*time.Second)
	r.line("after idle")
	if m := phone.WaitBody(t, "after idle"); m.To != alice.JID {
		t.Fatalf("an idle conversation should go to the bare JID %s, went to %s", alice.JID, m.To)
	}

	// Presence as last seen (alice is not subscribed: directed presence).
	// The REPL records it asynchronously: ask until it shows.
	phone.Presence(t, me.JID, "", "away")
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.line("/who")
		if r.lineWithin(phone.JID+": available (away)", 500*time.Millisecond) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/who never showed %s away; lines: %q", phone.JID, r.Lines())
		}
	}
}

// TestReplPipeInactive: after the inactivity delay without interaction the
// conversee gets a standalone <inactive/> in the conversation's thread,
// once.
func TestReplPipeInactive(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)
	r := j.startReplPipe("--inactive-after=1s", alice.JID)
	// Before the line: the REPL's inactivity clock starts when it sends.
	sent := time.Now()
	r.line("brb")
	m := phone.WaitBody(t, "brb")
	phone.WaitMessage(t, 10*time.Second, func(x *session.Message) bool {
		return isChatState("inactive")(x) && x.ThreadValue() == m.ThreadValue()
	})
	if d := time.Since(sent); d < time.Second-50*time.Millisecond {
		t.Fatalf("<inactive/> after %s, before the 1s delay", d)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := countMessages(phone, isChatState("inactive")); n != 1 {
		t.Fatalf("want one <inactive/>, got %d:\n%s", n, phone.Dump())
	}
}

// TestReplRefusesSecondObserver: the REPL uses the stable observer
// resource, so it refuses to start while jab listen holds it.
func TestReplRefusesSecondObserver(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, _ := meAndAlice(t)
	j.startListen()
	res := j.run("", "repl", alice.JID)
	if res.Code == 0 || !strings.Contains(res.Stderr, "jab listen already runs") {
		t.Fatalf("repl should refuse while listen runs: %s", res)
	}
}

// TestReplReceipts: the REPL answers XEP-0184 receipt requests like listen,
// and --no-receipts stops it.
func TestReplReceipts(t *testing.T) {
	needServer(t)
	t.Parallel()
	for _, off := range []bool{false, true} {
		me, alice, j, phone := meAndAlice(t)
		allowPresence(t, j, alice, phone)
		args := []string{alice.JID}
		if off {
			args = append([]string{"--no-receipts"}, args...)
		}
		r := j.startReplPipe(args...)
		m := &session.Message{To: me.JID, Type: "chat", ID: session.NewID(), Body: "ack?", Request: &session.Empty{}}
		phone.Send(t, m)
		r.waitLine("ack?", 10*time.Second)
		isReceipt := func(x *session.Message) bool { return x.Received != nil && x.Received.ID == m.ID }
		if off {
			phone.NoMessage(t, 500*time.Millisecond, isReceipt)
		} else {
			phone.WaitMessage(t, 10*time.Second, isReceipt)
		}
	}
}

// TestReplPipeReadError: a line longer than the reader's 16 MiB limit ends
// the REPL with an error (exit 1), not silently as the end of the input.
func TestReplPipeReadError(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, _ := meAndAlice(t)
	r := j.startReplPipe(alice.JID)
	go func() {
		chunk := strings.Repeat("x", 1<<20)
		for i := 0; i < 17; i++ {
			if _, err := io.WriteString(r.stdin, chunk); err != nil {
				return
			}
		}
	}()
	if code := r.wait(30 * time.Second); code != 1 {
		t.Fatalf("repl exited %d after an over-long line, want 1: %s", code, r.Stderr())
	}
	if !strings.Contains(r.Stderr(), "jab: error: read input:") {
		t.Fatalf("stderr lacks the read error: %s", r.Stderr())
	}
}

// TestReplPipeCloseNormalThread: /close of a normal-type thread sends the
// terminate and no <gone/> (XEP-0085 is about chat), and says so.
func TestReplPipeCloseNormalThread(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)
	r := j.startReplPipe(alice.JID)
	const thread = "normal-thread-1"
	phone.Send(t, &session.Message{To: me.JID, Type: "normal", ID: session.NewID(), Body: "a memo",
		Thread: &session.Thread{Value: thread}})
	r.waitLine("a memo", 10*time.Second)
	r.line("/thread " + thread)
	r.waitLine("resuming thread "+thread, 10*time.Second)
	r.line("/close")
	phone.WaitMessage(t, 10*time.Second, func(m *session.Message) bool { return m.IsTerminate() && m.ThreadValue() == thread })
	got := r.waitLine("closed thread "+thread, 10*time.Second)
	if !strings.Contains(got, "(terminate sent to") {
		t.Fatalf("/close of a normal thread reports %q, want only the terminate", got)
	}
	phone.Sync(t)
	if n := countMessages(phone, isChatState("gone")); n != 0 {
		t.Fatalf("a normal thread got %d <gone/>:\n%s", n, phone.Dump())
	}
}

// TestReplPipeConversation: /to switches and keeps the old conversation's
// thread; /thread new starts one on the wire; /help lists the commands; a
// failing subcommand leaves the REPL running; /reply to a normal message
// carries no chat state; a <gone/> from the peer makes the next message
// start a new thread.
func TestReplPipeConversation(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)
	bob := newAccount(t, "bob")
	pc := bob.connect(t, "pc")
	pc.Available(t)
	r := j.startReplPipe(alice.JID)

	r.line("a1")
	ta := phone.WaitBody(t, "a1").ThreadValue()
	r.line("/to " + bob.JID)
	r.waitLine("talking to "+bob.JID, 10*time.Second)
	r.line("b1")
	if tb := pc.WaitBody(t, "b1").ThreadValue(); tb == "" || tb == ta {
		t.Fatalf("bob's conversation should have its own thread, got %q (alice's %q)", tb, ta)
	}
	r.line("/to " + alice.JID)
	r.waitLine("talking to "+alice.JID+", thread "+ta, 10*time.Second)
	r.line("a2")
	if got := phone.WaitBody(t, "a2").ThreadValue(); got != ta {
		t.Fatalf("after switching back the thread is %q, want the kept %q", got, ta)
	}

	r.line("/thread new")
	r.waitLine("the next message starts a new thread", 10*time.Second)
	r.line("a3")
	t3 := phone.WaitBody(t, "a3").ThreadValue()
	if t3 == "" || t3 == ta {
		t.Fatalf("/thread new: the next message carries thread %q (old %q)", t3, ta)
	}

	r.line("/help")
	for _, c := range []string{"/to JID", "/thread [new|ID]", "/close", "/reply ID TEXT", "/quit"} {
		r.waitLine(c, 10*time.Second)
	}

	r.line("/threads show nosuchthread")
	r.waitStderr(`no thread or conversation "nosuchthread"`, 10*time.Second)
	r.line("still here")
	phone.WaitBody(t, "still here")

	memo := &session.Message{To: me.JID, Type: "normal", ID: session.NewID(), Body: "a normal question"}
	phone.Send(t, memo)
	r.waitLine("a normal question", 10*time.Second)
	r.line("/reply " + memo.ID[:8] + " a normal answer")
	ans := phone.WaitBody(t, "a normal answer")
	if msgType(ans) != "normal" || ans.ChatState() != "" {
		t.Fatalf("a reply to a normal message should be normal with no chat state: %+v", ans)
	}

	gone := &session.Message{To: me.JID, Type: "chat", Thread: &session.Thread{Value: t3}}
	gone.SetChatState("gone")
	phone.Send(t, gone)
	rulesWaitConv(t, j, alice.JID, "the thread ended by <gone/>", func(c statefile.Conversation) bool { return c.Thread != t3 })
	r.line("after gone")
	if got := phone.WaitBody(t, "after gone").ThreadValue(); got == "" || got == t3 {
		t.Fatalf("after the peer's <gone/> the next message carries thread %q, want a new one (old %q)", got, t3)
	}
}

// TestReplOneShotSendTrustsLock: while the REPL runs it is the live
// observer, so a one-shot `jab send` to the locked contact goes to the
// locked full JID at once, without a ping (D-9). /phone never answers
// pings: a ping would time out and send to the bare JID.
func TestReplOneShotSendTrustsLock(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndSilentAlice(t)
	r := j.startReplPipe(alice.JID)
	phone.Chat(t, me.JID, "lock me", "T-oneshot")
	r.waitLine("lock me", 10*time.Second)
	rulesWaitConv(t, j, alice.JID, "the lock to /phone", func(c statefile.Conversation) bool { return c.LockedTo == phone.JID })
	j.send(alice.JID, "one-shot", "--timeout", "2s")
	m := phone.WaitBody(t, "one-shot")
	rulesTo(t, "D-9 (the REPL is the live observer: its lock is trusted)", m, phone.JID)
	for _, iq := range phone.IQs() {
		if iq.Payload != nil && iq.Payload.XMLName.Space == "urn:xmpp:ping" {
			t.Fatalf("the locked resource was pinged: %+v", iq)
		}
	}
}
