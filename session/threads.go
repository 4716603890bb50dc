package session

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jab-xmpp/jab/statefile"
)

// Bounds on what peers can make the thread index hold: a peer must not be
// able to grow the state without limit (issue 3, "length-capped on input").
const (
	MaxThreadLen      = 256  // bytes; a longer peer thread or parent is dropped
	MaxThreadsPerPeer = 200  // the least recently active beyond this are dropped
	MaxThreads        = 5000 // per account, overall
	maxHeadline       = 120  // runes kept of a subject or first line (Headline)
	maxGone           = 16   // remembered gone resources per conversation
)

// ValidThread reports whether a received thread (or parent) value is kept:
// non-empty, valid UTF-8, at most MaxThreadLen bytes, no control
// characters. Anything else is treated as absent, never stored.
func ValidThread(s string) bool {
	if s == "" || len(s) > MaxThreadLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// ThreadMsg is one message as the thread index sees it.
type ThreadMsg struct {
	Thread  string
	Parent  string // "" or a valid thread different from Thread
	Peer    string // conversation key
	Type    string // chat or normal (headlines and errors are never indexed)
	Subject string
	Body    string
	Time    time.Time
	Ours    bool // we generated the thread id
}

// TouchThread records one message in the thread index. Headlines, errors
// and groupchat keep no thread state (XEP-0201 0.3 §5, item 70).
func TouchThread(threads map[string]*statefile.Thread, m ThreadMsg) {
	if m.Thread == "" || (m.Type != "chat" && m.Type != "normal") {
		return
	}
	t := threads[m.Thread]
	if t == nil {
		t = &statefile.Thread{ID: m.Thread, Peer: m.Peer, Type: m.Type, First: m.Time, Ours: m.Ours}
		threads[m.Thread] = t
	}
	if m.Parent != "" && m.Parent != m.Thread && t.Parent == "" {
		// RFC 6121 §5.2.5: parent MUST differ from the thread itself.
		t.Parent = m.Parent
	}
	if t.Subject == "" {
		t.Subject = Headline(m.Subject, m.Body)
	}
	t.Count++
	if m.Time.After(t.Last) {
		t.Last = m.Time
	}
	if t.First.IsZero() || m.Time.Before(t.First) {
		t.First = m.Time
	}
	// A thread that gets messages again after a terminate is a restarted
	// conversation (XEP-0201: a thread id can restart a conversation).
	if t.Closed && m.Time.After(t.ClosedAt) {
		t.Closed, t.ClosedAt = false, time.Time{}
	}
}

// Headline is what a thread is called: the subject, else the first line of
// the body, trimmed and capped at maxHeadline runes. The index keeps it as
// the thread's subject; every front end shows threads by it.
func Headline(subject, body string) string {
	s := subject
	if s == "" {
		s, _, _ = strings.Cut(body, "\n")
	}
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxHeadline {
		r := []rune(s)
		s = string(r[:maxHeadline-1]) + "…"
	}
	return s
}

// MarkClosed marks a thread closed (XEP-0201 0.3 §5: destroyed by a
// XEP-0155 terminate, sent or received). It reports whether it was open.
func MarkClosed(threads map[string]*statefile.Thread, id string, now time.Time) bool {
	t := threads[id]
	if t == nil || t.Closed {
		return false
	}
	t.Closed, t.ClosedAt = true, now
	return true
}

// PruneThreads keeps at most perPeer threads per conversation and overall
// in total, dropping the least recently active (ties by id), but never a
// thread listed in keep (the conversations' current threads). It is
// linear when little is over the caps, which is the case after one
// message: each call adds at most one thread.
func PruneThreads(threads map[string]*statefile.Thread, perPeer, overall int, keep map[string]bool) {
	perCount := map[string]int{}
	for _, t := range threads {
		perCount[t.Peer]++
	}
	for peer, n := range perCount {
		for ; n > perPeer; n-- {
			if !dropOldest(threads, keep, func(t *statefile.Thread) bool { return t.Peer == peer }) {
				break
			}
		}
	}
	for len(threads) > overall {
		if !dropOldest(threads, keep, func(*statefile.Thread) bool { return true }) {
			break
		}
	}
}

// dropOldest deletes the least recently active thread matching match and
// not in keep; false if there is none.
func dropOldest(threads map[string]*statefile.Thread, keep map[string]bool, match func(*statefile.Thread) bool) bool {
	var oldest *statefile.Thread
	for _, t := range threads {
		if keep[t.ID] || !match(t) {
			continue
		}
		if oldest == nil || t.Last.Before(oldest.Last) || (t.Last.Equal(oldest.Last) && t.ID < oldest.ID) {
			oldest = t
		}
	}
	if oldest == nil {
		return false
	}
	delete(threads, oldest.ID)
	return true
}

// CurrentThreads returns the current thread of every conversation.
func CurrentThreads(a *statefile.Account) map[string]bool {
	keep := map[string]bool{}
	for _, c := range a.Conversations {
		if c.Thread != "" {
			keep[c.Thread] = true
		}
	}
	return keep
}

// noteGone remembers (or forgets) that a full JID went unavailable, so a
// reply is not addressed to it (RFC 6121 §5.2.1).
func noteGone(c *statefile.Conversation, full string, gone bool) {
	out := c.Gone[:0:0]
	for _, g := range c.Gone {
		if g != full {
			out = append(out, g)
		}
	}
	if gone {
		out = append(out, full)
		if len(out) > maxGone {
			out = out[len(out)-maxGone:]
		}
	}
	if len(out) == 0 {
		out = nil
	}
	c.Gone = out
}

// ReplyTarget is where a reply to a message from (or to) full goes: that
// full JID, unless the conversation knows the resource has gone, then the
// bare JID (RFC 6121 §5.2.1, item 68).
func ReplyTarget(c statefile.Conversation, full JID) string {
	if !full.IsFull() {
		return full.String()
	}
	for _, g := range c.Gone {
		if g == full.String() {
			return full.Bare()
		}
	}
	return full.String()
}

// ByActivity sorts threads the most recently active first, then by id.
func ByActivity(threads []*statefile.Thread) {
	slices.SortFunc(threads, func(a, b *statefile.Thread) int {
		if c := b.Last.Compare(a.Last); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
