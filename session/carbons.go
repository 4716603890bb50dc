package session

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// This file holds XEP-0280 Message Carbons: enabling them, checking a
// carbon copy before anything else looks at it (items 79, 82, 85), and the
// rule of what a copy of our own outgoing message does to a conversation
// (items 82, 83; decision D-14). Unwrapping and the rule are pure; observe
// and Apply use them.

// Carbon directions, as Event.Carbon and history records mark them.
const (
	CarbonReceived = "received" // a contact wrote to another of our devices
	CarbonSent     = "sent"     // another of our devices wrote
)

// UnlockCarbon: a sent carbon addressed to the bare JID (item 82).
const UnlockCarbon = "carbon"

// Unwrapped is the outcome of looking at a received message for a carbon.
type Unwrapped struct {
	// Dir is "" for a plain message, else CarbonReceived or CarbonSent.
	Dir string
	// Msg is what the rest of jab handles: the message itself when it is
	// no carbon, the forwarded inner message of an accepted carbon, nil
	// when Drop is set.
	Msg *Message
	// Drop, when not empty, says why the whole stanza is ignored: no
	// output, no state, no history (only --debug shows it).
	Drop string
}

// UnwrapCarbon checks a received message that may be a XEP-0280 carbon.
// account is our bare JID; own is the observer's stable resource ("" for
// none): a sent copy from it or one of its one-shot resources is jab's
// own send, recorded when it was sent. joined says whether we are in a MUC
// room (nil: in none). Every check comes before any use of the inner
// message.
func UnwrapCarbon(m *Message, account, own string, joined func(room string) bool) Unwrapped {
	if m.CarbonReceived == nil && m.CarbonSent == nil {
		return Unwrapped{Msg: m}
	}
	// Items 79, 82, D-14: the wrapper must come from our own bare JID,
	// exactly; a wrapper with no from comes from our own account
	// (RFC 6120 §8.1.2.1), which Apply maps to the bare JID as well.
	// A full JID of ours is refused too: a resource cannot forge copies.
	if m.From != "" && m.From != account {
		return Unwrapped{Drop: fmt.Sprintf("carbon wrapper from %q, not our bare JID (item 79)", m.From)}
	}
	if m.CarbonReceived != nil && m.CarbonSent != nil {
		return Unwrapped{Drop: "carbon with both <received/> and <sent/>"}
	}
	if m.MAMResult != nil {
		return Unwrapped{Drop: "carbon that is also an archive result"}
	}
	dir, w := CarbonReceived, m.CarbonReceived
	if w == nil {
		dir, w = CarbonSent, m.CarbonSent
	}
	if len(w.Forwarded) != 1 || w.Forwarded[0].Message == nil {
		return Unwrapped{Drop: "carbon without exactly one forwarded message"}
	}
	in := w.Forwarded[0].Message
	if in.CarbonReceived != nil || in.CarbonSent != nil || in.MAMResult != nil {
		// A copy of a copy: only the server makes carbons, never of one.
		return Unwrapped{Drop: "carbon nested in a carbon"}
	}
	if MessageType(in.Type) == "groupchat" {
		return Unwrapped{Drop: "carbon of a groupchat message (XEP-0280 §6.1)"}
	}
	from, err := ParseJID(in.From)
	if in.From == "" || err != nil {
		return Unwrapped{Drop: "carbon whose inner message has no valid from"}
	}
	to, err := ParseJID(in.To)
	if in.To == "" || err != nil {
		return Unwrapped{Drop: "carbon whose inner message has no valid to"}
	}
	peer := from
	if dir == CarbonSent {
		// Item 82: what our other device sent comes from one of our own
		// full JIDs.
		if from.Bare() != account || !from.IsFull() {
			return Unwrapped{Drop: fmt.Sprintf("sent carbon from %q, not one of our full JIDs (item 82)", in.From)}
		}
		if OwnResource(from.Resource, own) {
			return Unwrapped{Drop: "sent carbon of a message this jab sent, recorded already"}
		}
		if to.Bare() == account {
			// Between our own devices: a copy of a message to us, which
			// arrives itself when it is ours (item 86), or our devices'
			// own talk. No conversation of ours moves for it.
			return Unwrapped{Drop: "sent carbon of a message to our own account"}
		}
		peer = to
	} else if to.Bare() != account {
		return Unwrapped{Drop: fmt.Sprintf("received carbon addressed to %q, not to us", in.To)}
	}
	if in.MUCUser != nil && (joined == nil || !joined(peer.Bare())) {
		// Item 85: a MUC private message of a room we are not in.
		return Unwrapped{Drop: "carbon of a private message in room " + peer.Bare() + ", which we have not joined (item 85)"}
	}
	return Unwrapped{Dir: dir, Msg: in}
}

// OwnResource reports whether resource is own (the observer's stable
// resource) or one of the one-shot resources made from it.
func OwnResource(resource, own string) bool {
	return own != "" && (resource == own || strings.HasPrefix(resource, own+"-"))
}

// SentCarbon is what the rule needs to know of a copy of a message that
// another of our devices sent.
type SentCarbon struct {
	To        JID    // the inner message's to
	Type      string // message type
	Thread    string // trimmed (D-8), "" when absent
	ChatState string
	Content   bool // carries a body or subject
	Occupant  bool // a MUC private message
	Time      time.Time
}

// ApplySent returns the conversation after our other device sent a message
// in it (items 82, 83; D-14): a <gone/> ends it; a chat message moves the
// lock to its to (full JID: locked there as if the user had typed it, D-2;
// bare JID: unlocked) and its thread becomes the conversation's. Other
// types change no conversation, as when jab itself sends them (item 69).
func ApplySent(c statefile.Conversation, exists bool, s SentCarbon) (next statefile.Conversation, store bool) {
	if MessageType(s.Type) != "chat" {
		return c, exists
	}
	if !exists {
		c = statefile.Conversation{Peer: ConversationKey(s.To, s.Occupant), Occupant: s.Occupant}
		if s.Occupant {
			c.LockedTo, c.LockKind, c.LockedAt = s.To.String(), statefile.LockForced, s.Time
		}
	}
	if s.ChatState == "gone" {
		// Item 83: the conversation ended on our other device; as for an
		// inbound <gone/>, the old thread is not reused (XEP-0085 §5.7).
		unlock(&c, UnlockGone, s.Time)
		c.Thread, c.PeerThreaded = "", false
		return c, true
	}
	if !s.Content {
		// A standalone chat state of our other device moves nothing.
		return c, exists
	}
	c.LastActivity = s.Time
	if !c.Occupant {
		if s.To.IsFull() {
			lock(&c, s.To.String(), statefile.LockForced, s.Time)
		} else {
			unlock(&c, UnlockCarbon, s.Time)
		}
	}
	if s.Thread != "" && c.Thread != s.Thread {
		c.Thread, c.PeerThreaded = s.Thread, false
	}
	return c, true
}

// EnableCarbons turns carbons on for s when the server advertises them
// (item 80) and reports whether they are on. A refusal is no error: jab
// goes on without them.
func EnableCarbons(req Requester, serverFeatures map[string]bool) (bool, error) {
	if !serverFeatures[nsCarbons] {
		return false, nil
	}
	_, err := req(&IQ{Type: "set", Payload: &RawElement{XMLName: xml.Name{Space: nsCarbons, Local: "enable"}}})
	if _, refused := err.(*IQError); refused {
		return false, nil
	}
	return err == nil, err
}

// applyOwn records our own outgoing message that jab did not send itself:
// a sent carbon (carbon is CarbonSent; item 82), or one caught up from the
// archive (o.Archived: it changes no conversation, D-15). It is shown and
// kept as an outgoing message to its to; nothing ever answers it (item 84:
// the Event is Sent, which neither the bot nor receipts take).
func applyOwn(ctx context.Context, env Env, account string, m *Message, carbon string, o applyOpts) (Event, bool, error) {
	now := env.Now()
	if encrypted(m) {
		m, o.e2e = env.openE2E(ctx, o.S, m, refTime(m, o.Stamp, now))
	}
	thread, parent := m.ThreadValue(), m.ThreadParent()
	if !ValidThread(thread) {
		thread = ""
	}
	if !ValidThread(parent) || parent == thread {
		parent = ""
	}
	ev := Event{Kind: KindMessage, From: m.From, To: m.To, Type: MessageType(m.Type), ID: m.ID, OriginID: originID(m),
		Thread: thread, Parent: parent, Body: m.Body, Subject: m.Subject, ChatState: m.ChatState(), Time: now,
		InReplyTo: m.Header("In-Reply-To"), Occupant: m.MUCUser != nil, Carbon: carbon, Sent: true,
		Archived: o.Archived, Delayed: o.Archived || m.Delayed(), OOBURL: OOBURLOf(m)}
	o.e2e.set(&ev)
	if !ValidThread(ev.InReplyTo) {
		ev.InReplyTo = ""
	}
	if o.Archived {
		if t, err := time.Parse(time.RFC3339Nano, o.Stamp); err == nil {
			ev.Time = t
		}
	}
	to, err := ParseJID(m.To)
	if err != nil || ev.Type == "error" || ev.Type == "groupchat" {
		return ev, false, nil
	}
	content := m.Body != "" || m.Subject != ""
	show := (content || ev.EncryptionError != "") && !m.IsTerminate()
	key := ConversationKey(to, ev.Occupant)
	dup := false
	_, err = env.Store.Update(ctx, func(st *statefile.State) error {
		a := st.Account(account)
		var moved bool
		if moved, dup = recordOnce(a, o.ArchiveID, ev.From, ev.ID, true); dup {
			return changedIf(moved)
		}
		c, exists := conversationOf(a, key)
		if !o.Archived {
			next, store := ApplySent(c, exists, SentCarbon{To: to, Type: m.Type, Thread: thread, ChatState: ev.ChatState,
				Content: content, Occupant: ev.Occupant, Time: now})
			if store && !(exists && reflect.DeepEqual(c, next)) {
				a.Conversations[key] = &next
			}
		}
		switch {
		case m.IsTerminate():
			MarkClosed(a.Threads, thread, now)
		case content && thread != "":
			TouchThread(a.Threads, ThreadMsg{Thread: thread, Parent: parent, Peer: key, Type: ev.Type,
				Subject: ev.Subject, Body: ev.Body, Time: ev.Time})
			PruneThreads(a.Threads, MaxThreadsPerPeer, MaxThreads, CurrentThreads(a))
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return ev, false, err
	}
	if !dup && show && env.History != nil {
		if err := env.History.Append(ctx, ev.record(account, statefile.DirOut)); err != nil {
			return ev, false, err
		}
	}
	return ev, show, nil
}
