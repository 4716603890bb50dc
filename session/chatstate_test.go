package session

import (
	"slices"
	"testing"
	"time"
)

// step is one event fed to the chat-state machine at an offset from t0.
type step struct {
	at   time.Duration
	op   string // key, clear, msg, tick, touch, close, recv-plain, recv-state, recv-standalone
	want string // the state the machine says to send ("" for nothing)
}

func TestChatStates(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	const s = time.Second
	cases := []struct {
		name  string
		off   bool
		steps []step
	}{
		{"composing once while typing, then paused after 5s", false, []step{
			{0, "key", "composing"}, {1 * s, "key", ""}, {2 * s, "key", ""},
			{6 * s, "tick", ""}, {7 * s, "tick", "paused"}, {8 * s, "tick", ""},
		}},
		{"typing again after paused composes again", false, []step{
			{0, "key", "composing"}, {5 * s, "tick", "paused"}, {6 * s, "key", "composing"},
		}},
		{"message carries active, then inactive after 2 min", false, []step{
			{0, "key", "composing"}, {1 * s, "msg", "active"}, {2 * s, "tick", ""},
			{120 * s, "tick", ""}, {121 * s, "tick", "inactive"}, {200 * s, "tick", ""},
		}},
		{"no paused after the message was sent", false, []step{
			{0, "key", "composing"}, {1 * s, "msg", "active"}, {10 * s, "tick", ""},
		}},
		{"interaction postpones inactive", false, []step{
			{0, "msg", "active"}, {100 * s, "touch", ""}, {130 * s, "tick", ""}, {220 * s, "tick", "inactive"},
		}},
		{"clearing the line after composing is active", false, []step{
			{0, "key", "composing"}, {1 * s, "clear", "active"}, {2 * s, "clear", ""},
		}},
		{"no standalone state twice in a row", false, []step{
			{0, "key", "composing"}, {1 * s, "clear", "active"}, {2 * s, "key", "composing"}, {3 * s, "key", ""},
		}},
		{"states go out before the first reply", false, []step{
			{0, "msg", "active"}, {1 * s, "key", "composing"},
		}},
		{"a reply without chat state stops them all", false, []step{
			{0, "msg", "active"}, {1 * s, "recv-plain", ""}, {2 * s, "key", ""}, {3 * s, "msg", ""},
			{400 * s, "tick", ""}, {401 * s, "close", ""},
		}},
		{"a reply with a chat state keeps them", false, []step{
			{0, "msg", "active"}, {1 * s, "recv-state", ""}, {2 * s, "key", "composing"}, {3 * s, "msg", "active"},
		}},
		{"a standalone notification from the peer shows support", false, []step{
			{0, "recv-plain", ""}, {1 * s, "key", ""}, {2 * s, "recv-standalone", ""}, {3 * s, "key", "composing"},
		}},
		{"gone only on close", false, []step{
			{0, "msg", "active"}, {10000 * s, "tick", "inactive"}, {20000 * s, "tick", ""}, {20001 * s, "close", "gone"},
		}},
		{"switched off: nothing at all", true, []step{
			{0, "key", ""}, {1 * s, "msg", ""}, {10 * s, "tick", ""}, {500 * s, "tick", ""}, {501 * s, "close", ""},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewChatStates(t0, tc.off, 0, 0)
			for i, st := range tc.steps {
				now := t0.Add(st.at)
				var got string
				switch st.op {
				case "key":
					got = c.Key(now, false)
				case "clear":
					got = c.Key(now, true)
				case "msg":
					got = c.Message(now)
				case "tick":
					got = c.Tick(now)
				case "touch":
					c.Touch(now)
				case "close":
					got = c.Close(now)
				case "recv-plain":
					c.Received(true, "")
				case "recv-state":
					c.Received(true, StateActive)
				case "recv-standalone":
					c.Received(false, StateComposing)
				default:
					t.Fatalf("bad op %q", st.op)
				}
				if got != st.want {
					t.Fatalf("step %d (%s at %s): got %q, want %q", i, st.op, st.at, got, st.want)
				}
			}
		})
	}
}

func TestChatStatesNeverRepeatStandalone(t *testing.T) {
	// Any sequence of keys, clears and ticks: two standalone states in a
	// row are never equal (XEP-0085 §5.3, conformance item 33).
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	c := NewChatStates(t0, false, 2*time.Second, 10*time.Second)
	ops := []string{"key", "key", "tick", "clear", "clear", "tick", "key", "tick", "tick", "key", "clear", "tick"}
	var sent []string
	now := t0
	for i := 0; i < 200; i++ {
		now = now.Add(time.Duration(i%7) * time.Second)
		var got string
		switch ops[i%len(ops)] {
		case "key":
			got = c.Key(now, false)
		case "clear":
			got = c.Key(now, true)
		case "tick":
			got = c.Tick(now)
		}
		if got != "" {
			sent = append(sent, got)
		}
	}
	for i := 1; i < len(sent); i++ {
		if sent[i] == sent[i-1] {
			t.Fatalf("sent %q twice in a row: %v", sent[i], sent)
		}
	}
	if !slices.Contains(sent, StateComposing) || !slices.Contains(sent, StatePaused) {
		t.Fatalf("expected composing and paused among %v", sent)
	}
}

// TestChatStatesUnsent: a state that could not be written (offline) is not
// recorded as sent, so the machine decides it again and it goes out once
// online; a paused that was never written does not stop inactive either.
func TestChatStatesUnsent(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	c := NewChatStates(t0, false, 2*time.Second, 10*time.Second)
	if got := c.Key(t0, false); got != StateComposing {
		t.Fatalf("key: %q", got)
	}
	c.Unsent(StateComposing)
	if got := c.Key(t0.Add(time.Second), false); got != StateComposing {
		t.Fatalf("after an unsent composing, the next key should compose again, got %q", got)
	}
	if got := c.Tick(t0.Add(4 * time.Second)); got != StatePaused {
		t.Fatalf("tick: %q", got)
	}
	c.Unsent(StatePaused)
	if c.Last() != StateComposing {
		t.Fatalf("after an unsent paused the last sent is %q, want composing", c.Last())
	}
	if got := c.Tick(t0.Add(5 * time.Second)); got != StatePaused {
		t.Fatalf("the unsent paused should be decided again, got %q", got)
	}
	c.Unsent(StateComposing) // not the last: no effect
	if c.Last() != StatePaused {
		t.Fatalf("Unsent of an older state changed the last to %q", c.Last())
	}
}

func TestAutoAway(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	const m = time.Minute
	type ev struct {
		at   time.Duration
		op   string // tick, input
		want string // tick: show to send; input: "back" if it must announce available
	}
	cases := []struct {
		name     string
		away, xa time.Duration
		evs      []ev
	}{
		{"away after the delay, once", 10 * m, 0, []ev{
			{9 * m, "tick", ""}, {10 * m, "tick", "away"}, {11 * m, "tick", ""}, {60 * m, "tick", ""},
		}},
		{"input brings us back and restarts the delay", 10 * m, 0, []ev{
			{10 * m, "tick", "away"}, {12 * m, "input", "back"}, {13 * m, "input", ""},
			{21 * m, "tick", ""}, {23 * m, "tick", "away"},
		}},
		{"xa after away", 10 * m, 30 * m, []ev{
			{10 * m, "tick", "away"}, {29 * m, "tick", ""}, {30 * m, "tick", "xa"}, {40 * m, "tick", ""},
			{41 * m, "input", "back"},
		}},
		{"input before the delay keeps us available", 10 * m, 0, []ev{
			{9 * m, "input", ""}, {18 * m, "tick", ""}, {19 * m, "tick", "away"},
		}},
		{"zero disables", 0, 0, []ev{{1000 * m, "tick", ""}, {1001 * m, "input", ""}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAutoAway(t0, tc.away, tc.xa)
			for i, e := range tc.evs {
				now := t0.Add(e.at)
				var got string
				if e.op == "tick" {
					got = a.Tick(now)
				} else if a.Input(now) {
					got = "back"
				}
				if got != e.want {
					t.Fatalf("event %d (%s at %s): got %q, want %q", i, e.op, e.at, got, e.want)
				}
			}
		})
	}
}
