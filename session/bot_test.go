package session

import (
	"context"
	"strings"
	"testing"
	"time"
)

func testBot(concurrency int, delayed bool, notice func(string)) *Bot {
	return NewBot(Env{}, NewLive(), BotOptions{Account: JID{Local: "me", Domain: "example.org"},
		Concurrency: concurrency, IncludeDelayed: delayed, Notice: notice})
}

// TestBotQueueBackpressure: when a conversation's queue is full, Enqueue
// waits (it never drops), says so once, and goes on when a slot frees.
func TestBotQueueBackpressure(t *testing.T) {
	var notices []string
	b := testBot(1, false, func(s string) { notices = append(notices, s) })
	ev := Event{Kind: KindMessage, Type: "chat", From: "alice@example.org/phone", Body: "x"}
	ctx := context.Background()
	for i := 0; i < BotQueue; i++ {
		if err := b.Enqueue(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(notices) != 0 {
		t.Fatalf("notice before the queue was full: %q", notices)
	}
	done := make(chan error, 1)
	go func() { done <- b.Enqueue(ctx, ev) }()
	select {
	case err := <-done:
		t.Fatalf("Enqueue on a full queue returned at once (%v): a message would be dropped or the queue unbounded", err)
	case <-time.After(100 * time.Millisecond):
	}
	<-b.queues[0] // a worker takes one
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Enqueue still waits after a slot freed")
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "nothing is dropped") {
		t.Fatalf("want one queue-full notice, got %q", notices)
	}
	if got := len(b.queues[0]); got != BotQueue {
		t.Fatalf("queue holds %d, want %d", got, BotQueue)
	}
	// Cancelling the wait is the only way out of it.
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if err := b.Enqueue(cctx, ev); err == nil {
		t.Fatal("Enqueue on a full queue returned nil after cancellation")
	}
}

// TestBotSharding: one conversation always goes to the same worker, so its
// replies stay in order whatever the concurrency.
func TestBotSharding(t *testing.T) {
	b := testBot(8, false, nil)
	for _, res := range []string{"phone", "laptop", "tablet"} {
		b.Enqueue(context.Background(), Event{From: "alice@example.org/" + res})
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

// TestBotEligible: the bot answers only chat and normal messages with a
// body from someone else, delayed ones only on request.
func TestBotEligible(t *testing.T) {
	msg := func(f func(*Event)) Event {
		ev := Event{Kind: KindMessage, Type: "chat", From: "alice@example.org/phone", Body: "hi"}
		f(&ev)
		return ev
	}
	cases := []struct {
		name    string
		ev      Event
		delayed bool
		want    bool
	}{
		{"chat", msg(func(*Event) {}), false, true},
		{"normal", msg(func(e *Event) { e.Type = "normal" }), false, true},
		{"headline", msg(func(e *Event) { e.Type = "headline" }), false, false},
		{"groupchat", msg(func(e *Event) { e.Type = "groupchat" }), false, false},
		{"error", msg(func(e *Event) { e.Type, e.Error = "error", "service-unavailable" }), false, false},
		{"no body", msg(func(e *Event) { e.Body = ""; e.ChatState = "composing" }), false, false},
		{"own account", msg(func(e *Event) { e.From = "me@example.org/laptop" }), false, false},
		{"delayed", msg(func(e *Event) { e.Delayed = true }), false, false},
		{"delayed, included", msg(func(e *Event) { e.Delayed = true }), true, true},
		{"presence", Event{Kind: KindPresence, From: "alice@example.org/phone"}, false, false},
	}
	for _, c := range cases {
		if got := testBot(1, c.delayed, nil).Eligible(c.ev); got != c.want {
			t.Errorf("%s: Eligible %v, want %v", c.name, got, c.want)
		}
	}
}

// TestLive: Wait blocks until a session is set, and WaitAfter never
// returns the dead one.
func TestLive(t *testing.T) {
	l := NewLive()
	if l.Current() != nil {
		t.Fatal("a new Live has a session")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := l.Wait(ctx); err == nil {
		t.Fatal("Wait returned without a session")
	}
	s1, s2 := &Session{}, &Session{}
	got := make(chan *Session, 1)
	go func() { s, _ := l.Wait(context.Background()); got <- s }()
	time.Sleep(10 * time.Millisecond)
	l.Set(s1)
	if s := <-got; s != s1 {
		t.Fatal("Wait did not return the session set")
	}
	go func() { s, _ := l.WaitAfter(context.Background(), s1); got <- s }()
	time.Sleep(80 * time.Millisecond)
	select {
	case <-got:
		t.Fatal("WaitAfter returned the dead session")
	default:
	}
	l.Set(nil)
	l.Set(s2)
	if s := <-got; s != s2 {
		t.Fatal("WaitAfter did not return the new session")
	}
}
