package session

import (
	"strings"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// This file holds the protocol rules as pure functions: plain values in,
// decisions out, no I/O and no clock. The session applies them; the table
// tests in rules_test.go walk docs/PROTOCOL.md sections A–F.

// Unlock reasons recorded in the state file.
const (
	UnlockPresence  = "presence"  // XEP-0296 §2.3 bullet 2
	UnlockGone      = "gone"      // XEP-0296 §2.4
	UnlockError     = "error"     // decision D-5
	UnlockIdle      = "idle"      // XEP-0296 §3.2
	UnlockResource  = "resource"  // XEP-0296 §2.3 bullet 1 (non-chat message, D-4)
	UnlockBare      = "bare"      // conformance item 7: chat from the bare JID
	UnlockCheck     = "check"     // decision D-9: the stale lock did not answer
	UnlockTerminate = "terminate" // XEP-0201 0.3 §5, XEP-0155 terminate
)

// Stanza kinds for Inbound.
const (
	KindMessage  = "message"
	KindPresence = "presence"
)

// Inbound is what the rules need to know of one received stanza.
type Inbound struct {
	Kind      string // KindMessage or KindPresence
	From      JID
	Type      string // message type, or presence type ("" = available)
	Thread    string // already trimmed (decision D-8); "" when absent
	ChatState string // active, composing, paused, inactive, gone or ""
	Content   bool   // carries a body or subject (not a standalone notification)
	Delayed   bool   // offline storage or archive (XEP-0203 delay): never locks (D-15)
	// Archived: caught up from the archive (XEP-0313). It neither locks
	// nor unlocks nor ends anything (item 87, D-15); only its thread is
	// kept.
	Archived  bool
	Terminate bool // a XEP-0155 terminate form
	Occupant  bool // carries a muc#user element: a MUC occupant, not a resource
	Time      time.Time
	// FreshThread is a newly generated thread id the rules use when they
	// must start a thread; the caller generates it so the rules stay pure.
	FreshThread string
}

// MessageType normalises a message type: a missing or unknown type is
// "normal" (RFC 6121 §5.2.2).
func MessageType(t string) string {
	switch t {
	case "chat", "groupchat", "headline", "error", "normal":
		return t
	}
	return "normal"
}

// ConversationKey is the key of the conversation a stanza from j belongs
// to: the bare JID, or the full JID of a MUC occupant (decision D-12).
func ConversationKey(j JID, occupant bool) string {
	if occupant {
		return j.String()
	}
	return j.Bare()
}

// KeyIn is the key of the conversation with j among an account's
// conversations: j's full JID when a MUC occupant's conversation is kept
// under it (D-12), else the bare JID. Every front end looks conversations
// up through it.
func KeyIn(convs map[string]*statefile.Conversation, j JID) string {
	if j.IsFull() {
		if c := convs[j.String()]; c != nil && c.Occupant {
			if c.Peer != j.String() && convs[c.Peer] != nil {
				return c.Peer // D-12: the occupant changed nick (FollowOccupant)
			}
			return j.String()
		}
	}
	return j.Bare()
}

func unlock(c *statefile.Conversation, reason string, now time.Time) {
	if c.LockedTo == "" || c.Occupant {
		return
	}
	c.LockedTo, c.LockKind, c.LockedAt, c.LockSeen = "", "", time.Time{}, time.Time{}
	c.UnlockReason, c.UnlockedAt = reason, now
}

func lock(c *statefile.Conversation, full, kind string, now time.Time) {
	if c.LockedTo == full && c.LockKind == kind {
		return
	}
	c.LockedTo, c.LockKind, c.LockedAt, c.LockSeen = full, kind, now, time.Time{}
	c.UnlockReason, c.UnlockedAt = "", time.Time{}
}

// ApplyInbound returns the conversation after one received stanza. exists
// says whether c was in the state; store says whether the result should be
// stored (false: nothing to record, e.g. a headline from a stranger).
func ApplyInbound(c statefile.Conversation, exists bool, in Inbound) (next statefile.Conversation, store bool) {
	if in.Kind == KindPresence {
		if !exists || in.Occupant {
			// XEP-0045: occupant presence never unlocks a PM (item 75).
			return c, exists
		}
		switch in.Type {
		case "", "unavailable", "error":
			// XEP-0296 §2.3: any presence from any resource of the
			// conversee unlocks; the thread is kept (XEP-0201 0.3 §5).
			unlock(&c, UnlockPresence, in.Time)
			if in.From.IsFull() {
				noteGone(&c, in.From.String(), in.Type == "unavailable")
			}
		}
		// Subscription management and probes do not count (D-3).
		return c, true
	}

	if in.Archived {
		return applyArchived(c, exists, in)
	}
	switch MessageType(in.Type) {
	case "groupchat":
		// Room traffic never touches 1:1 locks (item 73).
		return c, exists
	case "error":
		// D-5: never lock on an error; unlock when it comes from the locked JID.
		if exists && c.LockedTo == in.From.String() {
			unlock(&c, UnlockError, in.Time)
		}
		return c, exists
	case "headline", "normal":
		if in.Terminate {
			return applyTerminate(c, exists, in)
		}
		// D-4: any message from another resource unlocks; only chat locks.
		if exists && c.LockedTo != "" && c.LockedTo != in.From.String() {
			unlock(&c, UnlockResource, in.Time)
		}
		return c, exists
	}

	// type chat
	if in.Terminate {
		return applyTerminate(c, exists, in)
	}
	if !exists {
		c = statefile.Conversation{Peer: ConversationKey(in.From, in.Occupant), Occupant: in.Occupant}
		if in.Occupant {
			c.LockedTo, c.LockKind, c.LockedAt = in.From.String(), statefile.LockForced, in.Time
		}
	}
	c.LastActivity = in.Time
	if in.From.IsFull() {
		noteGone(&c, in.From.String(), false)
	}
	if in.ChatState == "gone" {
		// XEP-0296 §2.4 unlocks; XEP-0085 §5.7: the old thread must not be
		// reused, a new one starts with the next message.
		unlock(&c, UnlockGone, in.Time)
		c.Thread, c.PeerThreaded = "", false
		return c, true
	}
	if !in.Delayed && !in.Occupant {
		if in.From.IsFull() {
			// XEP-0296 §2.2 locks; §2.3 bullet 1 re-locks to a new resource.
			lock(&c, in.From.String(), statefile.LockMessage, in.Time)
			if c.LockedAt.Before(in.Time) {
				// The same resource wrote again: the lock is confirmed
				// now (D-9 freshness counts from here).
				c.LockSeen = in.Time
			}
		} else {
			// Item 7: a chat from the bare JID names no resource to lock to.
			unlock(&c, UnlockBare, in.Time)
		}
	}
	switch {
	case in.Thread != "":
		// Reuse the peer's thread byte for byte; an unknown thread starts
		// a new conversation thread, which is that value (0.3 §5, item 57).
		c.Thread, c.PeerThreaded = in.Thread, true
	case !in.Content:
		// A thread-less standalone chat state does not start a thread.
	case c.Thread != "" && !c.PeerThreaded:
		// XEP-0201 0.3 §5 branch B, decision D-7: a peer that never echoed
		// our thread stays attached to it.
	default:
		c.Thread, c.PeerThreaded = in.FreshThread, false
	}
	return c, true
}

// applyArchived: an archived chat message (item 87, D-15) changes no lock,
// whatever it carries (a <gone/>, a bare or another resource's from): its
// resource may be long gone, and what happened since is already in the
// state. Its thread, when it has one, becomes the conversation's, so a
// reply continues the conversation the user just read.
func applyArchived(c statefile.Conversation, exists bool, in Inbound) (statefile.Conversation, bool) {
	if MessageType(in.Type) != "chat" || in.Thread == "" || !in.Content || in.Terminate {
		return c, exists
	}
	if !exists {
		c = statefile.Conversation{Peer: ConversationKey(in.From, in.Occupant), Occupant: in.Occupant}
		if in.Occupant {
			c.LockedTo, c.LockKind, c.LockedAt = in.From.String(), statefile.LockForced, in.Time
		}
	}
	if c.Thread != in.Thread {
		c.PeerThreaded, c.Thread = true, in.Thread
	}
	return c, true
}

func applyTerminate(c statefile.Conversation, exists bool, in Inbound) (statefile.Conversation, bool) {
	// XEP-0201 0.3 §5: a terminate destroys the thread it carries.
	if !exists || in.Thread == "" || c.Thread != in.Thread {
		return c, exists
	}
	c.Thread, c.PeerThreaded = "", false
	unlock(&c, UnlockTerminate, in.Time)
	return c, true
}

// Outbound describes one message the user asks to send to one recipient.
type Outbound struct {
	To        JID    // as the user gave it
	Type      string // chat, normal or headline
	Thread    string // --thread; with Fork, the parent
	NewThread bool   // --new-thread
	// Fork starts a child thread (XEP-0201 1.0 §3.3) whose parent is
	// Thread, or the conversation's current thread.
	Fork bool
	// Reply is a reply to a message in thread ReplyThread ("" when the
	// original had none); a reply stays in the thread it answers (item 62).
	Reply       bool
	ReplyThread string
	Now         time.Time
	LockIdle    time.Duration // 0 disables the idle unlock
	// Trusted: a live observer has watched the account since the lock was
	// recorded, so the persisted lock is known to be true (decision D-9).
	Trusted bool
	// Verified holds the results of liveness checks of locked full JIDs
	// (true: it answered). A lock that is neither trusted nor verified
	// yields a Route with Check set.
	Verified    map[string]bool
	FreshThread string
	// Occupant: To is a room occupant (send --pm), whose new conversation
	// is keyed by its full JID (D-12, item 74).
	Occupant bool
}

// Route is where and how to send one message, and the conversation after it.
type Route struct {
	To     string // the address to put in the stanza
	Thread string // "" for no <thread/>
	Parent string // the thread's parent, for a fork
	// Check is a locked full JID whose liveness must be checked before the
	// lock is used; the caller checks it and routes again with Verified.
	Check string
	Conv  statefile.Conversation
	Store bool // whether Conv should be stored
}

// RouteOutbound decides the address and thread of one outgoing message
// from the persisted conversation.
func RouteOutbound(c statefile.Conversation, exists bool, out Outbound) Route {
	switch out.Type {
	case "headline":
		// Headlines create no conversation state and carry a thread only if
		// asked (XEP-0201 0.3 §5, item 70).
		return Route{To: out.To.String(), Thread: out.Thread, Conv: c, Store: false}
	case "normal":
		// A normal message goes to the address given, never to a remembered
		// full JID (item 69), with a new thread unless it is a reply or one
		// is given (0.3 §5).
		thread := out.Thread
		switch {
		case out.Reply && out.ReplyThread != "":
			thread = out.ReplyThread
		case out.Fork && thread != "":
			return Route{To: out.To.String(), Thread: out.FreshThread, Parent: thread, Conv: c}
		case thread == "":
			thread = out.FreshThread
		}
		return Route{To: out.To.String(), Thread: thread, Conv: c, Store: false}
	}

	if !exists {
		c = statefile.Conversation{Peer: ConversationKey(out.To, out.Occupant), Occupant: out.Occupant}
	}
	r := Route{Store: true}
	switch {
	case c.Occupant:
		r.To = c.Peer
	case out.Reply && out.To.IsFull():
		// RFC 6121 §5.2.1: a reply goes to the full JID it answers; it is an
		// immediate reply, not a lock.
		r.To = out.To.String()
	case out.To.IsFull():
		// D-2: a full JID given by the user is honoured and recorded as a
		// forced lock that the ordinary unlock rules release.
		lock(&c, out.To.String(), statefile.LockForced, out.Now)
		r.To = c.LockedTo
	case c.LockedTo == "":
		// XEP-0296 §2.1: unlocked conversations go to the bare JID.
		r.To = c.Peer
	case Idle(c, out.Now, out.LockIdle):
		// XEP-0296 §3.2: an idle conversation unlocks; the thread is kept.
		unlock(&c, UnlockIdle, out.Now)
		r.To = c.Peer
	case out.Trusted:
		r.To = c.LockedTo
	default:
		ok, known := out.Verified[c.LockedTo]
		switch {
		case !known:
			r.Check = c.LockedTo
			r.To = c.LockedTo
		case ok:
			r.To = c.LockedTo
		default:
			unlock(&c, UnlockCheck, out.Now)
			r.To = c.Peer
		}
	}
	switch {
	case out.Fork:
		// XEP-0201 1.0 §3.3: a child thread of the given or current one;
		// a fresh random id never equals its parent.
		r.Parent = out.Thread
		if r.Parent == "" {
			r.Parent = c.Thread
		}
		c.Thread, c.PeerThreaded = out.FreshThread, false
	case out.Reply && out.ReplyThread != "":
		if c.Thread != out.ReplyThread {
			c.Thread, c.PeerThreaded = out.ReplyThread, true
		}
	case out.Thread != "":
		if c.Thread != out.Thread {
			c.Thread, c.PeerThreaded = out.Thread, false
		}
	case out.NewThread || c.Thread == "":
		c.Thread, c.PeerThreaded = out.FreshThread, false
	}
	c.LastActivity = out.Now
	r.Thread = c.Thread
	r.Conv = c
	return r
}

// Idle reports whether a locked conversation has been idle for lockIdle
// (0: never), so its lock no longer holds (XEP-0296 §3.2).
func Idle(c statefile.Conversation, now time.Time, lockIdle time.Duration) bool {
	return lockIdle > 0 && now.Sub(LastActive(c)) >= lockIdle
}

// LastActive is the conversation's last activity: a message either way,
// or the lock.
func LastActive(c statefile.Conversation) time.Time { return latest(c.LastActivity, c.LockedAt) }

// UnlockWhy explains each unlock reason of statefile.Conversation.
var UnlockWhy = map[string]string{
	UnlockPresence:  "a presence from the contact (XEP-0296 §2.3)",
	UnlockGone:      "the contact sent <gone/> (XEP-0296 §2.4)",
	UnlockError:     "an error from the locked resource",
	UnlockIdle:      "the conversation was idle longer than --lock-idle (XEP-0296 §3.2)",
	UnlockResource:  "a non-chat message from another resource",
	UnlockBare:      "a chat message from the bare JID",
	UnlockCheck:     "the locked resource did not answer a ping",
	UnlockTerminate: "the thread was ended (XEP-0155 terminate)",
	UnlockCarbon:    "our other device wrote to the bare JID (a sent carbon)",
}

// LockTime is when the conversation's lock was last known true: set, or
// confirmed by a message from the locked resource (decision D-9).
func LockTime(c statefile.Conversation) time.Time { return latest(c.LockedAt, c.LockSeen) }

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// TrimThread strips the XML whitespace around a received thread value
// (decision D-8: pretty-printing cannot be meaningful) and nothing else.
func TrimThread(s string) string {
	return strings.Trim(s, " \t\r\n")
}
