package statefile

import (
	"context"
	"testing"
	"time"
)

func TestSyncLater(t *testing.T) {
	// Under WithSyncLater, Update and Append put their change in place
	// (a reader sees it) and hand their last fsync to later, once each;
	// without it they run it themselves.
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var pending []func() error
	ctx := WithSyncLater(context.Background(), func(sync func() error) { pending = append(pending, sync) })

	if _, err := s.Update(ctx, func(st *State) error {
		st.Account("me@example.net").Resource = "r1"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 {
		t.Fatalf("Update handed over %d syncs, want 1", len(pending))
	}
	if st, err := s.Load(); err != nil || st.Accounts["me@example.net"].Resource != "r1" {
		t.Fatalf("before its sync the update is not visible: %v", err)
	}

	h := s.History(10)
	rec := Record{Account: "me@example.net", Dir: DirOut, Time: time.Now().UTC(), Peer: "a@b", Type: "chat", ID: "1", Body: "x"}
	if err := h.Append(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 {
		t.Fatalf("Append handed over %d syncs in all, want 2", len(pending))
	}
	n := 0
	if _, err := h.Scan(func(Record) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("before its sync the history has %d records (%v), want 1", n, err)
	}
	for i, sync := range pending {
		if err := sync(); err != nil {
			t.Errorf("sync %d: %v", i, err)
		}
	}

	// Without the hook, nothing is handed over.
	pending = nil
	if err := h.Append(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(context.Background(), func(*State) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(pending) != 0 {
		t.Errorf("%d syncs handed over without WithSyncLater", len(pending))
	}
}
