package commands

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
)

// TestBotQueueBackpressure: when a conversation's queue is full, enqueue
// waits (it never drops), says so once, and goes on when a slot frees.
func TestBotQueueBackpressure(t *testing.T) {
	var warnings []string
	b := newBot(execOptions{command: "true", timeout: time.Second, concurrency: 1}, &Env{}, session.Env{},
		session.JID{Local: "me", Domain: "example.org"}, 0, func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) })
	ev := session.Event{Kind: session.KindMessage, Type: "chat", From: "alice@example.org/phone", Body: "x"}
	ctx := context.Background()
	for i := 0; i < execQueue; i++ {
		if err := b.enqueue(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(warnings) != 0 {
		t.Fatalf("warned before the queue was full: %q", warnings)
	}
	done := make(chan error, 1)
	go func() { done <- b.enqueue(ctx, ev) }()
	select {
	case err := <-done:
		t.Fatalf("enqueue on a full queue returned at once (%v): a message would be dropped or the queue unbounded", err)
	case <-time.After(100 * time.Millisecond):
	}
	<-b.queues[0] // a worker takes one
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("enqueue still waits after a slot freed")
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "nothing is dropped") {
		t.Fatalf("want one queue-full warning, got %q", warnings)
	}
	if got := len(b.queues[0]); got != execQueue {
		t.Fatalf("queue holds %d, want %d", got, execQueue)
	}
	// Cancelling the wait is the only way out of it, and it says so.
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if err := b.enqueue(cctx, ev); err == nil {
		t.Fatal("enqueue on a full queue returned nil after cancellation")
	}
}

// TestBotSharding: one conversation always goes to the same worker, so its
// replies stay in order whatever the concurrency.
func TestBotSharding(t *testing.T) {
	b := newBot(execOptions{concurrency: 8}, &Env{}, session.Env{}, session.JID{Local: "me", Domain: "example.org"}, 0, func(string, ...any) {})
	for _, res := range []string{"phone", "laptop", "tablet"} {
		b.enqueue(context.Background(), session.Event{From: "alice@example.org/" + res})
	}
	busy := 0
	for _, q := range b.queues {
		if len(q) > 0 {
			busy++
			if len(q) != 3 {
				t.Fatalf("alice's messages were split across workers")
			}
		}
	}
	if busy != 1 {
		t.Fatalf("%d workers got alice's messages, want 1", busy)
	}
}

// TestBotEligible: CMD runs only for chat and normal messages with a body
// from someone else, delayed ones only on request.
func TestBotEligible(t *testing.T) {
	me := session.JID{Local: "me", Domain: "example.org"}
	msg := func(f func(*session.Event)) session.Event {
		ev := session.Event{Kind: session.KindMessage, Type: "chat", From: "alice@example.org/phone", Body: "hi"}
		f(&ev)
		return ev
	}
	cases := []struct {
		name    string
		ev      session.Event
		delayed bool
		want    bool
	}{
		{"chat", msg(func(*session.Event) {}), false, true},
		{"normal", msg(func(e *session.Event) { e.Type = "normal" }), false, true},
		{"headline", msg(func(e *session.Event) { e.Type = "headline" }), false, false},
		{"groupchat", msg(func(e *session.Event) { e.Type = "groupchat" }), false, false},
		{"error", msg(func(e *session.Event) { e.Type, e.Error = "error", "service-unavailable" }), false, false},
		{"no body", msg(func(e *session.Event) { e.Body = ""; e.ChatState = "composing" }), false, false},
		{"own account", msg(func(e *session.Event) { e.From = "me@example.org/laptop" }), false, false},
		{"delayed", msg(func(e *session.Event) { e.Delayed = true }), false, false},
		{"delayed, included", msg(func(e *session.Event) { e.Delayed = true }), true, true},
		{"presence", session.Event{Kind: session.KindPresence, From: "alice@example.org/phone"}, false, false},
	}
	for _, c := range cases {
		b := newBot(execOptions{concurrency: 1, includeDelayed: c.delayed}, &Env{}, session.Env{}, me, 0, func(string, ...any) {})
		if got := b.eligible(c.ev); got != c.want {
			t.Errorf("%s: eligible %v, want %v", c.name, got, c.want)
		}
	}
}

// TestRunExecCapsOutput: a CMD flooding stdout is read to the end (it is
// not blocked) but only limit+1 bytes are kept, and the result says so.
func TestRunExecCapsOutput(t *testing.T) {
	res := runExec(context.Background(), "head -c 100000 /dev/zero", 10*time.Second, "", os.Environ(), 1000)
	if res.err != nil || !res.truncated || len(res.stdout) != 1001 {
		t.Fatalf("err %v truncated %v kept %d; want nil, true, 1001", res.err, res.truncated, len(res.stdout))
	}
	res = runExec(context.Background(), "echo out; echo first >&2; echo second >&2; exit 7", 10*time.Second, "", os.Environ(), 1000)
	if res.err == nil || !strings.Contains(res.err.Error(), "exit status 7: first") || strings.Contains(res.err.Error(), "second") {
		t.Fatalf("err %v; want exit status 7 with the first stderr line only", res.err)
	}
}
