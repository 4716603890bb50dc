package statefile

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// FuzzDecode checks that the loader never panics, fails only with its two
// documented error types, returns the invariants callers rely on, and that
// whatever it accepts survives the write path unchanged.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		validFile,
		`{"version":1}`,
		`{"version":2,"accounts":"x"}`,
		`{"version":0}`,
		`{"version":1,"accounts":{"a@x":null,"b@x":{"conversations":{"c@x":null,"d@x":{}}}}}`,
		`{"version":1,"accounts":{"a@x":{"conversations":{"d@x":{"locked_at":"2025-03-01T12:00:00.123456789+05:30","last_activity":"0000-01-01T00:00:00-01:00"}}}}}`,
		`{"VERSION":1,"Accounts":{"<&>":{"resource":"\u0000\ud800"}}}`,
		`{"version":1,"version":3}`,
		`{"version":1,"accounts":{"a@x":{"conversations":{"b@x":{"gone":[]}}}}}`,
		`{"version":1,"accounts":{"a@x":{"threads":{"t1":null,"t2":{"id":"t2","parent":"t1","peer":"b@x","count":-1,"first":"2025-03-01T12:00:00+05:30","closed_at":"0001-01-01T00:00:00Z"}}}}}`,
		``,
		`null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := Decode(data)
		if err != nil {
			var ce *CorruptError
			var ve *VersionError
			if !errors.As(err, &ce) && !errors.As(err, &ve) {
				t.Fatalf("Decode() error %T %v is neither *CorruptError nor *VersionError", err, err)
			}
			if st != nil {
				t.Fatal("Decode() returned a state with an error")
			}
			return
		}
		checkInvariants(t, st)
		out, err := encode(st)
		if err != nil {
			t.Fatalf("decoded state does not encode: %v", err)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v\n%s", err, out)
		}
		if a, b := normalized(st), normalized(again); !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed the state:\nfirst  %#v\nsecond %#v", a, b)
		}
	})
}

func checkInvariants(t *testing.T, st *State) {
	t.Helper()
	if st.Version < 1 || st.Version > Version {
		t.Fatalf("decoded version %d", st.Version)
	}
	if st.Accounts == nil {
		t.Fatal("nil Accounts")
	}
	for jid, a := range st.Accounts {
		if a == nil || a.Conversations == nil || a.Threads == nil {
			t.Fatalf("account %q is nil or has nil Conversations or Threads", jid)
		}
		for peer, c := range a.Conversations {
			if c == nil {
				t.Fatalf("conversation %q of %q is nil", peer, jid)
			}
		}
		for id, th := range a.Threads {
			if th == nil {
				t.Fatalf("thread %q of %q is nil", id, jid)
			}
		}
	}
}

// normalized returns a deep copy of st with times in UTC (JSON keeps the
// instant and offset, but the *time.Location value is rebuilt on each decode)
// and empty slices as nil (omitempty writes neither).
func normalized(st *State) *State {
	out := &State{Version: st.Version, Accounts: map[string]*Account{}}
	for jid, a := range st.Accounts {
		na := &Account{Resource: a.Resource, Conversations: map[string]*Conversation{}, Threads: map[string]*Thread{}}
		for peer, c := range a.Conversations {
			nc := *c
			for _, tp := range []*time.Time{&nc.LockedAt, &nc.UnlockedAt, &nc.LastActivity} {
				*tp = tp.UTC()
			}
			if len(nc.Gone) == 0 {
				nc.Gone = nil // omitempty writes [] and nil alike
			}
			na.Conversations[peer] = &nc
		}
		for id, th := range a.Threads {
			nt := *th
			for _, tp := range []*time.Time{&nt.First, &nt.Last, &nt.ClosedAt} {
				*tp = tp.UTC()
			}
			na.Threads[id] = &nt
		}
		out.Accounts[jid] = na
	}
	return out
}
