package session

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// pipeSender is a Sender of me to alice over a pipe that discards what
// it is sent, with a state and a history in a temporary directory.
func pipeSender(tb testing.TB, now func() time.Time) (*Sender, Env) {
	tb.Helper()
	store, err := statefile.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	env := Env{Store: store, History: store.History(0), Now: now}
	client, server := net.Pipe()
	tb.Cleanup(func() { client.Close() })
	go io.Copy(io.Discard, server)
	c := &Conn{raw: client}
	c.maxBytes.Store(DefaultMaxStanza)
	s := &Session{conn: c, done: make(chan struct{})}
	me, alice := JID{Local: "me", Domain: "example.org"}, JID{Local: "alice", Domain: "example.org"}
	sd := &Sender{env: env, s: s, o: SendOptions{Account: me, To: []JID{alice}, Type: "chat"}, account: me.Bare(),
		bounces: NewBounces(), receipts: NewReceipts()}
	st, err := store.Load()
	if err != nil {
		tb.Fatal(err)
	}
	sd.planner = PlannerFrom(env, sd.o, st)
	return sd, env
}

// TestSenderBurstIsBounded: however long a burst of Send with more set
// is, at most BurstMax messages wait for the history; the rest are
// appended as the burst goes (group commit), so memory stays flat.
func TestSenderBurstIsBounded(t *testing.T) {
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	sd, env := pipeSender(t, func() time.Time { return now })
	ctx := context.Background()
	const n = 3*BurstMax + 10
	for i := 0; i < n; i++ {
		if _, err := sd.Send(ctx, Outgoing{Body: "line"}, true); err != nil {
			t.Fatal(err)
		}
		if len(sd.history) >= BurstMax {
			t.Fatalf("after %d messages %d history records wait; at most %d may", i+1, len(sd.history), BurstMax-1)
		}
	}
	count := func() int {
		c := 0
		if _, err := env.History.Scan(func(statefile.Record) error { c++; return nil }); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if got := count(); got != 3*BurstMax {
		t.Fatalf("%d records appended during the burst, want %d", got, 3*BurstMax)
	}
	if err := sd.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != n {
		t.Fatalf("%d records after Flush, want %d", got, n)
	}
}

// BenchmarkSenderLines: the client's own cost of one --lines message
// (route, build, encode, write, history), bursts of 256 on a pipe.
func BenchmarkSenderLines(b *testing.B) {
	sd, _ := pipeSender(b, time.Now)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		more := i%256 != 255
		if _, err := sd.Send(ctx, Outgoing{Body: "line 1234"}, more); err != nil {
			b.Fatal(err)
		}
		if !more {
			if err := sd.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
}
