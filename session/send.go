package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// ObserverMaxAge is how old an observer's heartbeat may be before the
// observer is presumed dead; the observer beats every ObserverBeat.
const (
	ObserverBeat   = 5 * time.Second
	ObserverMaxAge = 3 * ObserverBeat
)

// Env is what the session needs from its surroundings.
type Env struct {
	Store   *statefile.Store
	History *statefile.History // nil when history is off
	Now     func() time.Time
	Host    string // os.Hostname, for the observer record
	// Debug, when set (--debug), gets a line for each stanza dropped
	// without a trace elsewhere: a forged carbon, an unsolicited archive
	// result.
	Debug io.Writer
	// E2E opens end-to-end encrypted messages received (e2e.go); nil
	// when the account has no key: such a message is then shown as
	// one that cannot be read, never by its fallback body.
	E2E E2E
}

func (e Env) debugf(format string, args ...any) {
	if e.Debug != nil {
		fmt.Fprintf(e.Debug, "jab: debug: "+format+"\n", args...)
	}
}

// errNoChange aborts a statefile.Update without writing.
var errNoChange = errors.New("no change")

// trusted reports whether a live observer for account has been watching
// since at, so a lock recorded at that time is still true (decision D-9).
func (e Env) trusted(account string, at time.Time) bool {
	o, err := e.Store.ReadObserver(account)
	if err != nil || o == nil {
		return false
	}
	if !o.Live(e.Now(), ObserverMaxAge, e.Host, statefile.PIDAlive) {
		return false
	}
	return !o.ConnectedSince.After(at)
}

// SendOptions is one `jab send` request.
type SendOptions struct {
	Account   JID
	To        []JID
	Type      string // chat, normal, headline
	Thread    string
	NewThread bool
	Subject   string
	LockIdle  time.Duration
	// Resource, if not "", is stored as the account's stable resource at
	// Commit when none is stored yet (see StableResource).
	Resource string
	// Fork starts a child thread of Thread (or of the current thread).
	Fork bool
	// Occupant: the recipients are room occupants (send --pm), D-12.
	Occupant bool
	// Trust vouches for the persisted locks without a live observer or a
	// ping: listen --exec answering a message it has just received from
	// the locked resource. (While the bot is backlogged its heartbeat may
	// lapse, and a ping's answer would wait behind the backlog.)
	Trust bool
	// ReplyTo is the message answered (from the history): the reply goes
	// to its sender's full JID unless that resource has gone, in its
	// thread and type.
	ReplyTo *statefile.Record
	// E2E, when set, encrypts every message end to end (e2e.go): each
	// recipient's keys are checked before anything is sent, and no
	// message ever goes in plaintext instead.
	E2E E2E
}

// Planner decides where each recipient's messages go. It reads the state
// without a lock to preview the routes and list the stale locks to check
// (which needs no connection, so it can run while logging in), and writes
// nothing until Commit, which the caller runs just before the first
// message is written: a send that fails before that leaves the state file
// untouched.
type Planner struct {
	env      Env
	o        SendOptions
	now      time.Time
	fresh    []string
	verified map[string]bool
	state    *statefile.State
	written  os.FileInfo // the state file as Commit left it
	// unrecorded counts messages sent since the last Commit per thread, so
	// the thread index counts every line of a --lines run (Flush).
	unrecorded map[string]int
	routes     []Route
	// pending is what Commits left to Flush: bookkeeping only (activity
	// times, thread counts), never a lock, an unlock or a new thread.
	pending []pendingTouch
	// occupants are full JIDs disco found to be room occupants
	// (muc_send.go).
	occupants map[string]bool
}

// pendingTouch is the bookkeeping of one Commit that Flush writes.
type pendingTouch struct {
	now     time.Time
	active  []string // peers whose conversation's LastActivity is now
	threads []ThreadMsg
}

// NewPlanner reads the state and prepares the routes.
func NewPlanner(env Env, o SendOptions) (*Planner, error) {
	st, err := env.Store.Load()
	if err != nil {
		return nil, err
	}
	return PlannerFrom(env, o, st), nil
}

// PlannerFrom is NewPlanner on a state already read, so a send reads the
// state file once before it logs in.
func PlannerFrom(env Env, o SendOptions, st *statefile.State) *Planner {
	p := &Planner{env: env, o: o, now: env.Now(), verified: map[string]bool{}, state: st,
		fresh: make([]string, len(o.To)), unrecorded: map[string]int{}}
	p.refresh()
	return p
}

// refresh takes a new time and new candidate thread ids, so a thread ended
// since the last commit is never started again with the same id.
func (p *Planner) refresh() {
	p.now = p.env.Now()
	for i := range p.fresh {
		p.fresh[i] = NewID()
	}
}

// Stale reports whether anyone wrote the state file since the last Commit
// (a listen that saw a presence or a <gone/>, say): the routes must then be
// committed again before the next message.
func (p *Planner) Stale() bool {
	cur := p.env.Store.Stat()
	switch {
	case cur == nil && p.written == nil:
		return false
	case cur == nil || p.written == nil:
		return true
	}
	return !os.SameFile(cur, p.written)
}

func (p *Planner) route(st *statefile.State, i int) Route {
	account := p.o.Account.Bare()
	to := p.o.To[i]
	var c statefile.Conversation
	exists := false
	if a := st.Accounts[account]; a != nil {
		if conv := a.Conversations[KeyIn(a.Conversations, to)]; conv != nil {
			c, exists = *conv, true
		}
	}
	out := Outbound{To: to, Type: p.o.Type, Thread: p.o.Thread, NewThread: p.o.NewThread, Fork: p.o.Fork,
		Now: p.now, LockIdle: p.o.LockIdle, Trusted: exists && c.LockedTo != "" && (p.o.Trust || p.env.trusted(account, LockTime(c))),
		Verified: p.verified, FreshThread: p.fresh[i], Occupant: p.o.Occupant || p.occupants[to.String()]}
	if r := p.o.ReplyTo; r != nil {
		if j, err := ParseJID(r.Peer); err == nil {
			// RFC 6121 §5.2.1: to the full JID it came from, unless gone.
			if t, err := ParseJID(ReplyTarget(c, j)); err == nil {
				out.To = t
			}
		}
		out.Reply, out.ReplyThread = true, r.Thread
	}
	return RouteOutbound(c, exists, out)
}

// Check is a locked full JID to ping before use, with the thread of the
// conversation it serves.
type Check struct{ JID, Thread string }

// Checks lists the locked full JIDs that must answer a ping before they
// are used (decision D-9).
func (p *Planner) Checks() []Check {
	var out []Check
	for i := range p.o.To {
		if r := p.route(p.state, i); r.Check != "" && !slices.ContainsFunc(out, func(c Check) bool { return c.JID == r.Check }) {
			out = append(out, Check{JID: r.Check, Thread: r.Conv.Thread})
		}
	}
	return out
}

// Verified records the result of checking a locked full JID.
func (p *Planner) Verified(full string, alive bool) { p.verified[full] = alive }

// Preview returns the routes as the state read at NewPlanner gives them.
func (p *Planner) Preview() []Route {
	routes := make([]Route, len(p.o.To))
	for i := range routes {
		routes[i] = p.route(p.state, i)
	}
	return routes
}

// Commit routes again under the state file's lock, so concurrent changes
// are not lost, records the conversations and the first message (subject,
// body) in the thread index, and returns the routes to use. It may be
// called again when the state went Stale.
//
// The state is written before any message follows these routes when the
// commit changes where messages go: a lock or an unlock, a new or changed
// conversation, a new thread, the account's resource. A commit that only
// moves the bookkeeping on (the conversation's last activity, the thread's
// count and time) is written by Flush instead, which a send runs while the
// server confirms its messages: a crash in between loses a count, never a
// route or a thread a peer has seen.
func (p *Planner) Commit(ctx context.Context, subject, body string) ([]Route, error) {
	if p.written != nil {
		p.refresh()
	}
	account := p.o.Account.Bare()
	var routes []Route
	var touch pendingTouch
	routing := false
	_, err := p.env.Store.Update(ctx, func(st *statefile.State) error {
		routes = routes[:0]
		touch = pendingTouch{now: p.now}
		routing = false
		changed := p.recordUnrecorded(st)
		if p.o.Resource != "" {
			if a := st.Account(account); a.Resource == "" {
				a.Resource, changed, routing = p.o.Resource, true, true
			}
		}
		for i := range p.o.To {
			r := p.route(st, i)
			if r.Check != "" {
				// The lock changed under us to one we have not checked:
				// use the bare JID rather than an unverified resource.
				r.To, r.Check = p.o.To[i].Bare(), ""
				r.Conv.LockedTo, r.Conv.LockKind = "", ""
			}
			a := st.Account(account)
			if r.Store {
				conv := r.Conv
				if prev := a.Conversations[conv.Peer]; prev == nil || !sameRouting(*prev, conv) {
					routing = true
				}
				a.Conversations[conv.Peer] = &conv
				touch.active = append(touch.active, conv.Peer)
				changed = true
			}
			if r.Thread != "" && (p.o.Type == "chat" || p.o.Type == "normal") {
				peer := r.Conv.Peer
				if peer == "" || !r.Store {
					peer = p.o.To[i].Bare()
				}
				if a.Threads[r.Thread] == nil {
					routing = true
				}
				m := ThreadMsg{Thread: r.Thread, Parent: r.Parent, Peer: peer, Type: p.o.Type,
					Subject: subject, Body: body, Time: p.now, Ours: r.Thread == p.fresh[i]}
				touch.threads = append(touch.threads, m)
				TouchThread(a.Threads, m)
				PruneThreads(a.Threads, MaxThreadsPerPeer, MaxThreads, CurrentThreads(a))
				changed = true
			}
			routes = append(routes, r)
		}
		if !changed || !routing {
			return errNoChange
		}
		p.applyPending(st)
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return nil, err
	}
	if routing {
		p.unrecorded, p.pending = map[string]int{}, nil
	} else {
		p.pending = append(p.pending, touch)
	}
	p.written = p.env.Store.Stat()
	p.routes = routes
	return routes, nil
}

// applyPending applies the bookkeeping earlier Commits left to Flush.
func (p *Planner) applyPending(st *statefile.State) bool {
	a := st.Account(p.o.Account.Bare())
	changed := false
	for _, t := range p.pending {
		for _, peer := range t.active {
			if c := a.Conversations[peer]; c != nil && t.now.After(c.LastActivity) {
				c.LastActivity, changed = t.now, true
			}
		}
		for _, m := range t.threads {
			// Only threads that still exist: one deleted meanwhile stays
			// deleted.
			if a.Threads[m.Thread] != nil {
				TouchThread(a.Threads, m)
				changed = true
			}
		}
	}
	return changed
}

// sameRouting reports whether two versions of a conversation differ in
// their last activity at most.
func sameRouting(a, b statefile.Conversation) bool {
	a.LastActivity, b.LastActivity = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// Sent notes one more message along the committed routes, for the thread
// index; Flush (or the next Commit) records the counts.
func (p *Planner) Sent() {
	for _, r := range p.routes {
		if r.Thread != "" {
			p.unrecorded[r.Thread]++
		}
	}
}

func (p *Planner) recordUnrecorded(st *statefile.State) bool {
	a := st.Account(p.o.Account.Bare())
	changed := false
	for id, n := range p.unrecorded {
		if t := a.Threads[id]; t != nil && n > 0 {
			t.Count += n
			if p.env.Now().After(t.Last) {
				t.Last = p.env.Now()
			}
			changed = true
		}
	}
	return changed
}

// Flush records the messages sent since the last Commit in the thread
// index, and the bookkeeping Commit left to it; it writes only if there
// is any.
func (p *Planner) Flush(ctx context.Context) error {
	if len(p.unrecorded) == 0 && len(p.pending) == 0 {
		return nil
	}
	_, err := p.env.Store.Update(ctx, func(st *statefile.State) error {
		changed := p.recordUnrecorded(st)
		if p.applyPending(st) {
			changed = true
		}
		if !changed {
			return errNoChange
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return err
	}
	p.unrecorded, p.pending = map[string]int{}, nil
	p.written = p.env.Store.Stat()
	return nil
}

// SentRecord is the history record of a message we sent.
func SentRecord(account string, m *Message, now time.Time) statefile.Record {
	r := statefile.Record{Account: account, Dir: "out", Time: now, Peer: m.To, Type: MessageType(m.Type), ID: m.ID,
		Subject: m.Subject, Body: m.Body, ChatState: m.ChatState(), InReplyTo: m.Header("In-Reply-To")}
	if m.OriginID != nil {
		r.OriginID = m.OriginID.ID
	}
	if m.Thread != nil {
		r.Thread, r.Parent = m.Thread.Value, m.Thread.Parent
	}
	return r
}

// RoomSentRecord is the history record of a group chat message we sent
// to a room as nick.
func RoomSentRecord(account string, m *Message, nick string, now time.Time) statefile.Record {
	r := SentRecord(account, m, now)
	if r.Type == "groupchat" {
		r.Nick = nick
	}
	return r
}

// Sent describes one message written to the stream.
type Sent struct {
	To     string `json:"to"`
	ID     string `json:"id"`
	Thread string `json:"thread,omitempty"`
	Type   string `json:"type"`
	OOBURL string `json:"oob_url,omitempty"` // send --file: the file's GET URL
}

// BuildMessage makes the stanza for one body along one route. The id is
// also the XEP-0359 origin-id: a fresh UUIDv4 with no by, no text. A reply
// carries the SHIM In-Reply-To header with the original's id (0.3 §8).
func BuildMessage(r Route, typ, subject, body, inReplyTo string) *Message {
	id := NewID()
	m := &Message{To: r.To, ID: id, Type: typ, Subject: subject, Body: body, OriginID: &OriginID{ID: id}}
	if r.Thread != "" {
		m.Thread = &Thread{Value: r.Thread, Parent: r.Parent}
	}
	m.MUCUser = privateX(r, typ) // muc.go
	if inReplyTo != "" {
		m.Headers = &Headers{Header: []Header{{Name: "In-Reply-To", Value: inReplyTo}}}
	}
	return m
}

// DeliveryError lists messages the server bounced.
type DeliveryError struct {
	Failed []string // "to: condition"
	Total  int
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("%d of %d messages not delivered: %s", len(e.Failed), e.Total, strings.Join(e.Failed, "; "))
}

// Bounces records errors bounced for our message ids. Its Handle method
// is the one-shot session's handler (see OpenHandler), so a bounce that
// precedes the confirming ping's answer on the stream is always recorded.
type Bounces struct {
	mu     sync.Mutex
	ids    map[string]string // id -> to
	failed []string
}

// NewBounces returns an empty recorder.
func NewBounces() *Bounces { return &Bounces{ids: map[string]string{}} }

// Handle records message errors for tracked ids and ignores the rest.
func (b *Bounces) Handle(v any) {
	m, ok := v.(*Message)
	if !ok || m.Type != "error" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if to, ok := b.ids[m.ID]; ok {
		b.failed = append(b.failed, to+": "+m.Error.Cond())
	}
}

// Track registers a sent message id.
func (b *Bounces) Track(id, to string) {
	b.mu.Lock()
	b.ids[id] = to
	b.mu.Unlock()
}

// Confirm makes a round trip to the server after the last stanza: the
// server handles a stream's stanzas in order, so once the ping is answered
// every message has been routed and any local bounce has arrived.
func (b *Bounces) Confirm(ctx context.Context, s *Session) error {
	return b.confirm(s.Ping(ctx, ""))
}

// ConfirmClose is Confirm on the last round trip of a one-shot session:
// the closing tag goes with the ping (Session.PingClose).
func (b *Bounces) ConfirmClose(ctx context.Context, s *Session) error {
	return b.confirm(s.PingClose(ctx))
}

func (b *Bounces) confirm(err error) error {
	if err != nil {
		var iqe *IQError
		// A server without XEP-0199 still answers, with an error: that
		// answer is the round trip we need.
		if !errors.As(err, &iqe) {
			return fmt.Errorf("confirm delivery: %w", err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.failed) > 0 {
		return &DeliveryError{Failed: append([]string(nil), b.failed...), Total: len(b.ids)}
	}
	return nil
}

// Outgoing is the content of one message sent on an existing session.
type Outgoing struct {
	Subject   string
	Body      string
	InReplyTo string // SHIM In-Reply-To (XEP-0201 0.3 §8), or ""
	ChatState string // XEP-0085 state to attach ("active"), or ""
	Receipt   bool   // ask for a XEP-0184 receipt
	// OOBURL is the URL of an uploaded file the message points to
	// (XEP-0066, upload.go), or "".
	OOBURL string
}

// Receipts tracks the XEP-0184 receipts asked for by our messages. Its
// Handle method belongs in the one-shot session's handler, next to
// Bounces.Handle.
type Receipts struct {
	mu      sync.Mutex
	asked   map[string]string // id -> to
	got     map[string]bool
	changed chan struct{} // closed and replaced on every new receipt
}

// NewReceipts returns an empty tracker.
func NewReceipts() *Receipts {
	return &Receipts{asked: map[string]string{}, got: map[string]bool{}, changed: make(chan struct{})}
}

// Any reports whether a receipt was asked for.
func (r *Receipts) Any() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.asked) > 0
}

// Track registers a sent message that asked for a receipt.
func (r *Receipts) Track(id, to string) {
	r.mu.Lock()
	r.asked[id] = to
	r.mu.Unlock()
}

// Handle records a receipt for one of the tracked ids. A receipt is
// accepted from the bare JID the message went to or any of its resources
// (the message may have been addressed to the bare JID).
func (r *Receipts) Handle(v any) {
	m, ok := v.(*Message)
	if !ok || m.Received == nil || m.Type == "error" {
		return
	}
	id := m.Received.ID
	if id == "" {
		// XEP-0184 1.2 and earlier: the receipt's own id names the message.
		id = m.ID
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	to, ok := r.asked[id]
	if !ok || r.got[id] {
		return
	}
	// From the resource the message went to; a message to the bare JID
	// may be confirmed by any of the contact's resources.
	if t, err := ParseJID(to); err != nil || (t.IsFull() && m.From != to) || (!t.IsFull() && BareOf(m.From) != t.Bare()) {
		return
	}
	r.got[id] = true
	close(r.changed)
	r.changed = make(chan struct{})
}

// ReceiptError says how many receipts came before the wait ended.
type ReceiptError struct {
	Confirmed, Sent int
	Wait            time.Duration
}

func (e *ReceiptError) Error() string {
	return fmt.Sprintf("%s: %d of %d messages confirmed by the recipient's client (XEP-0184) within %s",
		ErrTimeout, e.Confirmed, e.Sent, e.Wait)
}

func (e *ReceiptError) Unwrap() error { return ErrTimeout }

// Wait returns once every tracked message has its receipt, or a
// *ReceiptError (which is an ErrTimeout) after d.
func (r *Receipts) Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		r.mu.Lock()
		n, sent, changed := len(r.got), len(r.asked), r.changed
		r.mu.Unlock()
		if n == sent {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return &ReceiptError{Confirmed: n, Sent: sent, Wait: d}
		case <-changed:
		}
	}
}
