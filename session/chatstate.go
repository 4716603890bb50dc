package session

import "time"

// This file holds the XEP-0085 chat-state machine of one conversation and
// the overall-inactivity machine of an interactive session (XEP-0296
// §3.3), as pure values: the caller passes the time of every event and
// sends what the methods return. Neither keeps a clock or does I/O, so
// table tests drive them with an injected clock.

// NSChatStates is XEP-0085's namespace; a client that sends chat states
// lists it in its disco#info answer (§4, conformance item 39).
const NSChatStates = "http://jabber.org/protocol/chatstates"

// Chat states (XEP-0085 §2).
const (
	StateActive    = "active"
	StateComposing = "composing"
	StatePaused    = "paused"
	StateInactive  = "inactive"
	StateGone      = "gone"
)

// Default chat-state delays: XEP-0085 §2 suggests paused after about 5
// seconds without typing and inactive after about 2 minutes without
// interaction.
const (
	DefaultPausedAfter   = 5 * time.Second
	DefaultInactiveAfter = 2 * time.Minute
)

// Peer support for chat states, learnt from its replies (XEP-0085 §5.1).
const (
	supportUnknown = iota
	supportYes
	supportNo
)

// ChatStates is the chat-state machine of one conversation with one
// conversee. The zero value is not usable: make it with NewChatStates.
type ChatStates struct {
	pausedAfter, inactiveAfter time.Duration
	off                        bool // --no-chat-states, or a MUC room/occupant (§5.5, D-12)
	support                    int
	last                       string    // the last state sent, standalone or in a message
	prev                       string    // last before the latest standalone state, for Unsent
	lastKey                    time.Time // the last key typed into a non-empty line
	lastUse                    time.Time // the last interaction with the conversation
}

// NewChatStates makes the machine of a conversation that starts now. off
// disables every chat state (XEP-0085 §5.2, §9: the user's switch; §5.5:
// never to a MUC room). Zero delays take the defaults.
func NewChatStates(now time.Time, off bool, pausedAfter, inactiveAfter time.Duration) *ChatStates {
	if pausedAfter <= 0 {
		pausedAfter = DefaultPausedAfter
	}
	if inactiveAfter <= 0 {
		inactiveAfter = DefaultInactiveAfter
	}
	return &ChatStates{pausedAfter: pausedAfter, inactiveAfter: inactiveAfter, off: off, lastUse: now}
}

// allowed: XEP-0085 §5.1 rules 1 and 2: states go out until the peer's
// reply shows it does not support them.
func (c *ChatStates) allowed() bool { return !c.off && c.support != supportNo }

// standalone returns s if it may go out as a standalone notification now
// and records it as sent; §5.3: never the same standalone state twice in a
// row.
func (c *ChatStates) standalone(s string) string {
	if !c.allowed() || c.last == s {
		return ""
	}
	c.prev, c.last = c.last, s
	return s
}

// Unsent says the standalone state s, returned by Key or Tick, could not
// be written (no connection): it is not recorded as sent, so the same
// state is decided again and goes out once online.
func (c *ChatStates) Unsent(s string) {
	if s != "" && c.last == s {
		c.last = c.prev
	}
}

// Key records a key typed into the input line; empty says the line is
// empty after it. It returns the standalone state to send, or "":
// composing when typing starts, active when the line was cleared (the
// user stopped composing without sending).
func (c *ChatStates) Key(now time.Time, empty bool) string {
	c.lastUse = now
	if empty {
		if c.last == StateComposing || c.last == StatePaused {
			return c.standalone(StateActive)
		}
		return ""
	}
	c.lastKey = now
	return c.standalone(StateComposing)
}

// Message returns the state to put in a content message sent now (§5.6:
// only active goes with a body), or "" for none.
func (c *ChatStates) Message(now time.Time) string {
	c.lastUse = now
	if !c.allowed() {
		return ""
	}
	c.last = StateActive
	return StateActive
}

// Touch records an interaction with the conversation that sends nothing
// (switching to it, a command about it): it postpones inactive.
func (c *ChatStates) Touch(now time.Time) { c.lastUse = now }

// Tick returns the standalone state that time alone calls for, or "":
// paused some seconds after the last key while composing, inactive after
// a long time without interaction. gone is never sent by time (D-6).
func (c *ChatStates) Tick(now time.Time) string {
	switch c.last {
	case StateComposing:
		if now.Sub(c.lastKey) >= c.pausedAfter {
			return c.standalone(StatePaused)
		}
	case StateActive, StatePaused:
		if now.Sub(c.lastUse) >= c.inactiveAfter {
			return c.standalone(StateInactive)
		}
	}
	return ""
}

// Close returns the state that goes with an explicit close of the
// conversation (gone, D-6), or "" when chat states are off.
func (c *ChatStates) Close(now time.Time) string {
	c.lastUse = now
	if !c.allowed() {
		return ""
	}
	c.last = StateGone
	return StateGone
}

// Received records a chat message from the conversee: content says it had
// a body, state is the chat state it carried ("" for none). A standalone
// notification shows support; a content message decides it (§5.1 rules 2
// and 3).
func (c *ChatStates) Received(content bool, state string) {
	switch {
	case state != "":
		c.support = supportYes
	case content:
		c.support = supportNo
	}
}

// Enabled reports whether chat states go out to this conversee now.
func (c *ChatStates) Enabled() bool { return c.allowed() }

// Last is the last state sent ("" for none yet).
func (c *ChatStates) Last() string { return c.last }

// Presence shows of the inactivity machine.
const (
	ShowAway = "away"
	ShowXA   = "xa"
)

// AutoAway is the overall-inactivity machine of an interactive session
// (XEP-0296 §3.3): after Away without user input the user is away, after
// XA extended away, and available again with the next input. A zero
// duration disables that step.
type AutoAway struct {
	Away, XA  time.Duration
	lastInput time.Time
	show      string // what auto-away has set: "", away or xa
}

// NewAutoAway starts the machine with input at now.
func NewAutoAway(now time.Time, away, xa time.Duration) *AutoAway {
	return &AutoAway{Away: away, XA: xa, lastInput: now}
}

// Tick returns the show to announce now (away or xa), or "" for no change.
func (a *AutoAway) Tick(now time.Time) string {
	idle := now.Sub(a.lastInput)
	switch {
	case a.XA > 0 && idle >= a.XA && a.show != ShowXA:
		a.show = ShowXA
		return ShowXA
	case a.Away > 0 && idle >= a.Away && a.show == "":
		a.show = ShowAway
		return ShowAway
	}
	return ""
}

// Input records user input; back says auto-away had set a show that must
// now be replaced by the user's own presence.
func (a *AutoAway) Input(now time.Time) (back bool) {
	a.lastInput = now
	back = a.show != ""
	a.show = ""
	return back
}

// Show is what auto-away has set: "", away or xa.
func (a *AutoAway) Show() string { return a.show }
