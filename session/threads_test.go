package session

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

func TestValidThread(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"6f1c0b3e-8a7d-4f0e-9b1e-2a4c5d6e7f80", true},
		{"act2scene2chat1", true},
		{"Act 2 & <Scene> 2?", true},
		{"", false},
		{strings.Repeat("x", MaxThreadLen), true},
		{strings.Repeat("x", MaxThreadLen+1), false},
		{"bad\xff", false},
		{"a\x1bb", false},
		{"a\nb", false},
	}
	for _, tt := range tests {
		if got := ValidThread(tt.in); got != tt.want {
			t.Errorf("ValidThread(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestTouchThread(t *testing.T) {
	th := map[string]*statefile.Thread{}
	TouchThread(th, ThreadMsg{Thread: "T", Peer: alice, Type: "chat", Body: "first line\nsecond", Time: t0, Ours: true})
	TouchThread(th, ThreadMsg{Thread: "T", Peer: alice, Type: "chat", Subject: "later subject", Time: t0.Add(time.Minute)})
	TouchThread(th, ThreadMsg{Thread: "C", Parent: "T", Peer: alice, Type: "chat", Body: "child", Time: t0.Add(2 * time.Minute)})
	TouchThread(th, ThreadMsg{Thread: "S", Parent: "S", Peer: alice, Type: "chat", Body: "self", Time: t0})
	TouchThread(th, ThreadMsg{Thread: "H", Peer: alice, Type: "headline", Body: "news", Time: t0})
	if got := th["T"]; got.Count != 2 || got.Subject != "first line" || !got.Ours || !got.Last.Equal(t0.Add(time.Minute)) {
		t.Errorf("thread T = %+v", got)
	}
	if th["C"].Parent != "T" {
		t.Errorf("child parent = %q", th["C"].Parent)
	}
	if th["S"].Parent != "" {
		t.Error("a parent equal to the thread itself was kept (RFC 6121 §5.2.5)")
	}
	if th["H"] != nil {
		t.Error("item 70: a headline created thread state")
	}
	if !MarkClosed(th, "T", t0.Add(time.Hour)) || MarkClosed(th, "T", t0.Add(time.Hour)) {
		t.Error("MarkClosed: not closed once")
	}
	TouchThread(th, ThreadMsg{Thread: "T", Peer: alice, Type: "chat", Body: "again", Time: t0.Add(2 * time.Hour)})
	if th["T"].Closed {
		t.Error("a thread with new messages after its terminate stays closed")
	}
}

// The flood test: 100,000 distinct thread ids from one peer (and a
// second peer) leave the index within its caps, the state file small, and
// the conversations' current threads kept.
func TestThreadFloodStaysBounded(t *testing.T) {
	st := &statefile.State{Version: statefile.Version}
	a := st.Account("me@example.net")
	a.Conversations[alice] = &statefile.Conversation{Peer: alice}
	for i := 0; i < 100000; i++ {
		peer := alice
		if i%10 == 0 {
			peer = "bob@example.org"
		}
		c := a.Conversations[peer]
		if c == nil {
			c = &statefile.Conversation{Peer: peer}
			a.Conversations[peer] = c
		}
		in := chatFrom(peer+"/x", fmt.Sprintf("flood-%06d-%s", i, strings.Repeat("y", 200)))
		in.Time = t0.Add(time.Duration(i) * time.Millisecond)
		next, _ := ApplyInbound(*c, true, in)
		*c = next
		TouchThread(a.Threads, ThreadMsg{Thread: in.Thread, Peer: peer, Type: "chat", Body: "b", Time: in.Time})
		PruneThreads(a.Threads, MaxThreadsPerPeer, MaxThreads, CurrentThreads(a))
	}
	if n := len(a.Threads); n > 2*MaxThreadsPerPeer {
		t.Fatalf("%d threads kept, want at most %d (two peers)", n, 2*MaxThreadsPerPeer)
	}
	for _, c := range a.Conversations {
		if a.Threads[c.Thread] == nil {
			t.Errorf("the current thread of %s was pruned", c.Peer)
		}
	}
	data, _ := json.Marshal(st)
	if len(data) > 1<<20 {
		t.Fatalf("state grew to %d bytes", len(data))
	}
}

func TestPruneThreadsOverall(t *testing.T) {
	th := map[string]*statefile.Thread{}
	for i := 0; i < 50; i++ {
		id := fmt.Sprintf("t%02d", i)
		th[id] = &statefile.Thread{ID: id, Peer: fmt.Sprintf("p%d@x", i), Last: t0.Add(time.Duration(i) * time.Second)}
	}
	PruneThreads(th, 10, 20, map[string]bool{"t00": true})
	if len(th) != 20 || th["t00"] == nil || th["t49"] == nil || th["t30"] != nil || th["t31"] == nil {
		t.Fatalf("kept %d threads (t00 %v t49 %v t30 %v)", len(th), th["t00"] != nil, th["t49"] != nil, th["t30"] != nil)
	}
}

func TestGoneAndReplyTarget(t *testing.T) {
	c := lockedTo(phone, "T")
	c, _ = ApplyInbound(c, true, Inbound{Kind: KindPresence, From: jid(laptop), Type: "unavailable", Time: t0})
	if got := ReplyTarget(c, jid(laptop)); got != alice {
		t.Errorf("reply to a gone resource goes to %q, want the bare JID", got)
	}
	if got := ReplyTarget(c, jid(phone)); got != phone {
		t.Errorf("reply to a live resource goes to %q", got)
	}
	c, _ = ApplyInbound(c, true, Inbound{Kind: KindPresence, From: jid(laptop), Time: t0})
	if got := ReplyTarget(c, jid(laptop)); got != laptop {
		t.Errorf("after laptop came back, reply goes to %q", got)
	}
	for i := 0; i < 40; i++ {
		c, _ = ApplyInbound(c, true, Inbound{Kind: KindPresence, From: jid(fmt.Sprintf("%s/r%d", alice, i)), Type: "unavailable", Time: t0})
	}
	if len(c.Gone) > maxGone {
		t.Errorf("gone list grew to %d", len(c.Gone))
	}
}

func TestRouteForkAndReply(t *testing.T) {
	conv := statefile.Conversation{Peer: alice, Thread: "T"}
	r := RouteOutbound(conv, true, Outbound{To: jid(alice), Type: "chat", Fork: true, Now: t0, FreshThread: "C"})
	if r.Thread != "C" || r.Parent != "T" || r.Conv.Thread != "C" {
		t.Errorf("fork of the current thread: %+v", r)
	}
	r = RouteOutbound(conv, true, Outbound{To: jid(alice), Type: "chat", Fork: true, Thread: "P", Now: t0, FreshThread: "C"})
	if r.Parent != "P" || r.Thread == r.Parent {
		t.Errorf("fork of a named parent: %+v", r)
	}
	r = RouteOutbound(lockedTo(phone, "T"), true, Outbound{To: jid(laptop), Type: "chat", Reply: true, ReplyThread: "R", Now: t0, Trusted: true, FreshThread: "new"})
	if r.To != laptop || r.Thread != "R" || r.Conv.LockedTo != phone {
		t.Errorf("item 68: a reply goes to the full JID it answers, in its thread, without forcing a lock: %+v", r)
	}
	r = RouteOutbound(statefile.Conversation{}, false, Outbound{To: jid(laptop), Type: "normal", Reply: true, ReplyThread: "R", Now: t0, FreshThread: "new"})
	if r.To != laptop || r.Thread != "R" {
		t.Errorf("item 68: normal reply = %+v", r)
	}
}

func TestPruneRemovesIdleAndClosed(t *testing.T) {
	env := testEnv(t)
	env.Now = func() time.Time { return t0.Add(48 * time.Hour) }
	_, err := env.Store.Update(context.Background(), func(st *statefile.State) error {
		a := st.Account("me@example.net")
		a.Threads["old"] = &statefile.Thread{ID: "old", Peer: alice, Last: t0}
		a.Threads["closed"] = &statefile.Thread{ID: "closed", Peer: alice, Last: t0.Add(47 * time.Hour), Closed: true, ClosedAt: t0}
		a.Threads["fresh"] = &statefile.Thread{ID: "fresh", Peer: alice, Last: t0.Add(47 * time.Hour)}
		a.Conversations[alice] = &statefile.Conversation{Peer: alice, Thread: "old"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Prune(context.Background(), env, "me@example.net", 24*time.Hour)
	if err != nil || res.Threads != 2 {
		t.Fatalf("pruned %+v, %v", res, err)
	}
	st, _ := env.Store.Load()
	a := st.Accounts["me@example.net"]
	if a.Threads["fresh"] == nil || a.Threads["old"] != nil || a.Threads["closed"] != nil || a.Conversations[alice].Thread != "" {
		t.Fatalf("after prune: threads %v, conversation thread %q", a.Threads, a.Conversations[alice].Thread)
	}
}
