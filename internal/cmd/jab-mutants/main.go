// Command jab-mutants breaks one protocol rule at a time in a copy of the
// repository and runs the integration tests that pin that rule against the
// real Prosody, to show those tests fail when the rule is broken. Every
// mutant must compile and must be killed (its test must fail); the command
// exits non-zero otherwise. It takes about ten minutes, so it is `make
// mutants`, not part of `make test`.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

type mutant struct {
	name, old, new, tests string
	file                  string // default session/rules.go
}

// Each mutant's old text must occur in its file.
var mutants = []mutant{
	{"XEP-0296 §2.3: presence does not unlock", `unlock(&c, UnlockPresence, in.Time)`, `_ = UnlockPresence`, "TestRulesPresenceUnlocks", ""},
	{"XEP-0085 §5.7: gone keeps the thread", "c.Thread, c.PeerThreaded = \"\", false\n\t\treturn c, true\n\t}\n\tif !in.Delayed", "return c, true\n\t}\n\tif !in.Delayed", "TestRulesGone", ""},
	{"XEP-0296 §2.4: gone does not unlock", `unlock(&c, UnlockGone, in.Time)`, `_ = UnlockGone`, "TestRulesGone", ""},
	{"D-15: delayed messages lock", `if !in.Delayed && !in.Occupant {`, `if !in.Occupant {`, "TestRulesOfflineMessageDoesNotLock", ""},
	{"XEP-0296 §2.3: no re-lock to a new resource", `lock(&c, in.From.String(), statefile.LockMessage, in.Time)`, "if c.LockedTo == \"\" {\n\t\t\t\tlock(&c, in.From.String(), statefile.LockMessage, in.Time)\n\t\t\t}", "TestRulesRelockOtherResource", ""},
	{"XEP-0296 §2.2: chat never locks", `lock(&c, in.From.String(), statefile.LockMessage, in.Time)`, `_ = statefile.LockMessage`, "TestRulesLockOnChat", ""},
	{"D-5: an error does not unlock", `unlock(&c, UnlockError, in.Time)`, `_ = UnlockError`, "TestRulesErrorMessage", ""},
	{"D-4: normal from another resource keeps the lock", `unlock(&c, UnlockResource, in.Time)`, `_ = UnlockResource`, "TestRulesNonChatMessages", ""},
	{"D-7: a thread-less chat always starts a thread", `case c.Thread != "" && !c.PeerThreaded:`, `case false:`, "TestRulesThreadlessPeer", ""},
	{"XEP-0201: the peer's thread is not adopted", `c.Thread, c.PeerThreaded = in.Thread, true`, `c.PeerThreaded = true`, "TestRulesUnknownThread|TestRulesPeerThreadExact", ""},
	{"XEP-0296 §3.2: idle never unlocks", `case out.LockIdle > 0 && out.Now.Sub(latest(c.LastActivity, c.LockedAt)) >= out.LockIdle:`, `case false:`, "TestRulesIdleUnlock", ""},
	{"D-9: a stale lock is never checked", `case out.Trusted:`, `case true:`, "TestRulesStaleLockChecked", ""},
	{"D-3: subscribe unlocks", `case "", "unavailable", "error":`, `case "", "unavailable", "error", "subscribe":`, "TestRulesPresenceTypes", ""},
	{"D-9: a live observer's locks are not trusted", `Trusted: exists && c.LockedTo != "" && (p.o.Trust || p.env.trusted(account, LockTime(c))),`, `Trusted: false,`, "TestRulesFreshnessTrusted", "session/send.go"},
	{"D-9: a lock older than the observer is trusted", `return !o.ConnectedSince.After(at)`, `return true`, "TestRulesFreshnessRestartedListen", "session/send.go"},
	{"--lines keeps the first route", `if routes == nil || planner.Stale() {`, `if routes == nil {`, "TestCLILinesFollowState", "commands/cmd_send.go"},
	{"XEP-0201 0.3 §5: close sends no <gone/>", `msgs = append(msgs, GoneMessage(to, id))`, `_ = GoneMessage`, "TestThreadsClose$", "session/close.go"},
	{"XEP-0155: terminate carries the legacy FORM_TYPE", `{Var: "FORM_TYPE", Values: []string{"urn:xmpp:ssn"}},`, `{Var: "FORM_TYPE", Values: []string{"urn:xmpp:chatneg"}},`, "TestThreadsClose$", "session/close.go"},
	{"XEP-0201 0.3 §5: a received terminate does not close", `changed = MarkClosed(a.Threads, in.Thread, now) || changed`, `_ = MarkClosed`, "TestThreadsReceivedTerminate", "session/listen.go"},
	{"RFC 6121 §5.2.1: replies ignore gone resources", "if g == full.String() {\n\t\t\treturn full.Bare()", "if g == full.String() {\n\t\t\treturn full.String()", "TestThreadsReplyChat", "session/threads.go"},
	{"0.3 §8: replies carry no In-Reply-To", `if inReplyTo != "" {`, `if false {`, "TestThreadsReplyChat", "session/send.go"},
	{"1.0 §3.3: forks carry no parent", `m.Thread = &Thread{Value: r.Thread, Parent: r.Parent}`, `m.Thread = &Thread{Value: r.Thread}`, "TestThreadsFork", "session/send.go"},
	{"0.3 §7: liveness pings carry no ThreadID", `if thread != "" {
		h, err := xml.Marshal`, `if false {
		h, err := xml.Marshal`, "TestThreadsPingThreadID", "session/session.go"},
	{"XEP-0184: listen answers no receipt request", `if r := ReceiptFor(m); r != nil && auth.allows(m.From) {`, `if r := ReceiptFor(m); r != nil && false {`, "TestListenAnswersReceipts", "session/listen.go"},
	{"XEP-0184: send --receipt does not wait", `if err := receipts.Wait(ctx, g.timeout); err != nil {`, `if err := error(nil); err != nil {`, "TestSendReceipt", "commands/cmd_send.go"},
	{"bot: the reply leaves the thread", `Thread: ev.Thread, LockIdle: b.lockIdle, Trust: s == job.s && !ev.Delayed}`, `LockIdle: b.lockIdle, Trust: s == job.s && !ev.Delayed}`, "TestExecBotReplies", "commands/exec.go"},
	{"bot: CMD runs for headlines", `if ev.Type != "chat" && ev.Type != "normal" {`, `if ev.Type == "groupchat" {`, "TestExecSkips", "commands/exec.go"},
	{"bot: the timeout kills CMD but not its process group", `return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)`, `return cmd.Process.Kill()`, "TestExecFailureAndTimeout", "commands/exec_unix.go"},
	{"wait-reply: a message in another thread is taken", `if t := m.ThreadValue(); t != "" && !w.threads[t] {`, `if t := m.ThreadValue(); t == "\x00" && !w.threads[t] {`, "TestSendWaitReply$", "commands/wait_reply.go"},
	{"wait-reply: not online while waiting", `if err := s.SendPresence(0); err != nil {`, `if err := error(nil); err != nil {`, "TestSendWaitReply$", "commands/cmd_send.go"},
	{"XEP-0184 §8: receipts go to strangers", `return a.ok[bare]`, `return true`, "TestListenAnswersReceipts", "session/listen.go"},
	{"D-9: lock_seen does not confirm the lock", `func LockTime(c statefile.Conversation) time.Time { return latest(c.LockedAt, c.LockSeen) }`, `func LockTime(c statefile.Conversation) time.Time { return c.LockedAt }`, "TestRulesFreshnessLockSeen", ""},
	{"bot: listen waits for CMD when it ends", `	if b.cancel != nil {
		b.cancel()
	}`, ``, "TestExecStopsWithListen", "commands/exec.go"},
	{"wait-reply: an old offline answer is taken", `|| ev.Body == "" || ev.Delayed {`, `|| ev.Body == "" {`, "TestSendWaitReply$", "commands/wait_reply.go"},
	{"issue 3: oversized peer threads are stored", `if s == "" || len(s) > MaxThreadLen || !utf8.ValidString(s) {`, `if s == "" || !utf8.ValidString(s) {`, "TestThreadsOversizedRemote", "session/threads.go"},
}

func main() {
	root, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	tmp, err := os.MkdirTemp("", "jab-mutants-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	copyTree := exec.Command("cp", "-a", root+"/.", tmp)
	if out, err := copyTree.CombinedOutput(); err != nil {
		fail(fmt.Errorf("copy tree: %v: %s", err, out))
	}
	only := os.Getenv("JAB_MUTANTS") // a substring of the names to run; all when empty
	survived, ran := 0, 0
	for _, m := range mutants {
		if only != "" && !strings.Contains(m.name, only) {
			continue
		}
		ran++
		if m.file == "" {
			m.file = "session/rules.go"
		}
		path := filepath.Join(tmp, m.file)
		orig, err := os.ReadFile(path)
		if err != nil {
			fail(err)
		}
		if !strings.Contains(string(orig), m.old) {
			fail(fmt.Errorf("mutant %q: its text is no longer in %s; update the table", m.name, m.file))
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(orig), m.old, m.new, 1)), 0o644); err != nil {
			fail(err)
		}
		verdict := "killed"
		if out, err := run(tmp, "go", "build", "./..."); err != nil {
			fail(fmt.Errorf("mutant %q does not compile: %s", m.name, out))
		}
		if _, err := run(tmp, "go", "test", "-count=1", "-run", m.tests, "./commands/"); err == nil {
			verdict = "SURVIVED"
			survived++
		}
		fmt.Printf("%-8s %s (%s)\n", verdict, m.name, m.tests)
		os.WriteFile(path, orig, 0o644)
	}
	fmt.Printf("%d mutants, %d killed, %d survived\n", ran, ran-survived, survived)
	if survived > 0 {
		os.Exit(1)
	}
}

func run(dir string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "jab-mutants:", err)
	os.Exit(1)
}
