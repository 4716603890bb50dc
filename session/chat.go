package session

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// Chat is the conversation model of an interactive client (the REPL): the
// current conversee, what the next message does to its thread (/thread,
// /fork), a XEP-0085 chat-state machine per conversation, auto-away
// (XEP-0296 §3.3), the presence and chat state last seen from contacts,
// and the clock that drives them. The terminal (readline, the prompt,
// slash commands) stays in the front end, which tells Chat what the user
// does and asks it what to show.
//
// Concurrency: the methods are safe from any goroutine. Everything Chat
// writes to the stream (messages, chat states, presence) goes through one
// writer goroutine, Run, in the order it was decided, so a standalone
// state never overtakes the message it belongs with. The maps keyed by
// conversation use the state file's keys (KeyIn): the bare JID, or a MUC
// occupant's full JID (D-12).
type Chat struct {
	env  Env
	o    ChatOptions
	live *Live
	jobs chan func()
	ctx  context.Context // the Chat's life: actions wait on it

	mu       sync.Mutex
	conn     StanzaWriter // the current session's writer; nil when offline
	peer     JID          // the current conversee; zero when none
	pending  map[string]Pending
	states   map[string]*ChatStates
	presence map[string]map[string]SeenPresence // bare JID -> resource -> last seen
	status   map[string]PeerState               // conversation -> its last chat state (transient)
	roster   []string
	away     *AutoAway
	myShow   string
	myStatus string
}

// ChatOptions configures a Chat.
type ChatOptions struct {
	Account  JID
	LockIdle time.Duration
	// NoChatStates sends no chat state at all (XEP-0085 §5.2).
	NoChatStates               bool
	PausedAfter, InactiveAfter time.Duration // 0: the XEP-0085 defaults
	AutoAway, AutoXA           time.Duration // 0: off
	Priority                   int
	// Wait bounds how long an action waits for a connection while the
	// listen loop reconnects.
	Wait time.Duration
	// Rooms are the REPL's group chat rooms (muc_chat.go), nil for none.
	Rooms *Rooms
	// OnChange, if not nil, is called (never with Chat's lock held) when
	// something the prompt shows changed by itself: a contact's chat state
	// arrived or expired, a presence came.
	OnChange func()
}

// StanzaWriter writes one stanza: a session's *Conn, or a fake in tests.
type StanzaWriter interface{ Send(v any) error }

// Pending is what the next message to a conversee does to its thread.
type Pending struct {
	NewThread bool   // /thread new
	Thread    string // /thread ID, or the parent of a fork
	Fork      bool   // /fork: a child thread of Thread
}

// PeerState is a conversee's last chat state, shown until it expires, its
// sender goes offline, or a message replaces it.
type PeerState struct {
	State, From string
	At          time.Time
}

// PeerStateTTL: a peer's chat state older than this is no longer shown (a
// client that lost its connection never sends the state that ends
// <composing/>).
const PeerStateTTL = 30 * time.Second

// SeenPresence is the last presence seen from one resource.
type SeenPresence struct {
	Resource, Type, Show, Status string
	At                           time.Time
}

// ErrNoConversee: an action needs a conversee and there is none.
var ErrNoConversee = errors.New("no conversee")

// ErrNoThread: /fork or /close without a current thread.
var ErrNoThread = errors.New("no current thread")

// NewChat returns the model of a conversation with nobody yet, for as long
// as ctx lasts.
func NewChat(ctx context.Context, env Env, o ChatOptions) *Chat {
	return &Chat{env: env, o: o, live: NewLive(), jobs: make(chan func(), 256), ctx: ctx,
		pending: map[string]Pending{}, states: map[string]*ChatStates{},
		presence: map[string]map[string]SeenPresence{}, status: map[string]PeerState{},
		away: NewAutoAway(env.Now(), o.AutoAway, o.AutoXA)}
}

// SetSession is the listen loop's ListenOptions.OnSession. A new session
// after a lost one sends our presence again: Listen announced plain
// availability, and the show and status the user set, or auto-away's,
// must not be lost to a reconnect.
//
// A resumed session (XEP-0198 §5) still has the presence we last sent:
// sending it again would be a new broadcast, which unlocks every
// contact's lock on us (XEP-0296 §2.3).
func (c *Chat) SetSession(s *Session) {
	c.live.Set(s)
	if s != nil && s.Resumed() {
		c.mu.Lock()
		c.conn = s.Conn()
		c.mu.Unlock()
		return
	}
	var w StanzaWriter
	if s != nil {
		w = s.Conn()
	}
	c.setWriter(w)
}

func (c *Chat) setWriter(w StanzaWriter) {
	c.mu.Lock()
	c.conn = w
	resend := w != nil && (c.myShow != "" || c.myStatus != "" || c.away.Show() != "")
	c.mu.Unlock()
	if resend {
		c.do(func() {
			c.mu.Lock()
			show := c.away.Show()
			c.mu.Unlock()
			c.sendPresence(show, "")
		})
	}
}

// Session is the current session, waiting up to ChatOptions.Wait for a
// reconnect.
func (c *Chat) Session() (*Session, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.o.Wait)
	defer cancel()
	s, err := c.live.Wait(ctx)
	if err != nil && c.ctx.Err() == nil {
		return nil, fmt.Errorf("%w: not connected (reconnecting)", ErrTimeout)
	}
	return s, err
}

// Env is the state and history the Chat works on.
func (c *Chat) Env() Env { return c.env }

// Current is the current session, nil while offline.
func (c *Chat) Current() *Session { return c.live.Current() }

// Run writes what the Chat sends, in order, and runs its clock (paused and
// inactive chat states, auto-away, the expiry of peers' states) until ctx
// or the Chat's life ends.
func (c *Chat) Run(ctx context.Context) {
	tick := time.Second
	for _, d := range []time.Duration{c.o.PausedAfter, c.o.InactiveAfter, c.o.AutoAway, c.o.AutoXA} {
		if d > 0 && d/4 < tick {
			tick = max(d/4, 20*time.Millisecond)
		}
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.ctx.Done():
			return
		case f := <-c.jobs:
			f()
		case <-t.C:
			c.Tick()
		}
	}
}

// do queues f on the writer without waiting.
func (c *Chat) do(f func()) {
	select {
	case c.jobs <- f:
	case <-c.ctx.Done():
	}
}

// call runs f on the writer and waits for it.
func (c *Chat) call(f func() error) error {
	done := make(chan error, 1)
	select {
	case c.jobs <- func() { done <- f() }:
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

func (c *Chat) changed() {
	if c.o.OnChange != nil {
		c.o.OnChange()
	}
}

// Peer is the current conversee (zero when none).
func (c *Chat) Peer() JID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peer
}

// needPeer is Peer or ErrNoConversee.
func (c *Chat) needPeer() (JID, error) {
	p := c.Peer()
	if p.Domain == "" {
		return p, ErrNoConversee
	}
	return p, nil
}

// To makes j the conversee; the old conversation keeps its thread.
func (c *Chat) To(j JID) {
	key := c.Key(j)
	c.mu.Lock()
	c.peer = j
	c.machine(key).Touch(c.env.Now())
	c.mu.Unlock()
}

// Account reads the account's persisted state (nil when there is none).
func (c *Chat) Account() (*statefile.Account, error) {
	st, err := c.env.Store.Load()
	if err != nil {
		return nil, err
	}
	return st.Accounts[c.o.Account.Bare()], nil
}

// Conversation reads the persisted conversation with key, or nil.
func (c *Chat) Conversation(key string) *statefile.Conversation {
	if a, err := c.Account(); err == nil && a != nil {
		return a.Conversations[key]
	}
	return nil
}

// Key is the key of peer's conversation in the state file (KeyIn, D-12).
func (c *Chat) Key(peer JID) string {
	if !peer.IsFull() {
		return peer.Bare() // no state to read: only an occupant keeps its full JID
	}
	if a, err := c.Account(); err == nil && a != nil {
		return KeyIn(a.Conversations, peer)
	}
	return peer.Bare()
}

// Occupant reports whether peer is a MUC occupant we have a conversation
// with (XEP-0045 §7.5, D-12).
func (c *Chat) Occupant(peer JID) bool {
	return peer.IsFull() && c.Key(peer) == peer.String()
}

// machine returns the chat-state machine of a conversation; c.mu must be
// held.
func (c *Chat) machine(key string) *ChatStates {
	m := c.states[key]
	if m == nil {
		off := c.o.NoChatStates
		if cv := c.Conversation(key); cv != nil && cv.Occupant {
			off = true // XEP-0085 §5.5, D-12: none in a MUC, PMs included
		}
		m = NewChatStates(c.env.Now(), off, c.o.PausedAfter, c.o.InactiveAfter)
		c.states[key] = m
	}
	return m
}

// Route is the address the next message to peer goes to: a full JID the
// user gave, the lock, or the bare JID. It pings nothing.
func (c *Chat) Route(peer JID) string {
	p, err := NewPlanner(c.env, SendOptions{Account: c.o.Account, To: []JID{peer}, Type: "chat", LockIdle: c.o.LockIdle})
	if err != nil {
		return peer.String()
	}
	return p.Preview()[0].To
}

// Pending is what the next message to peer does to its thread.
func (c *Chat) Pending(peer JID) Pending {
	key := c.Key(peer)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending[key]
}

// CurrentThread is the thread the next message to peer goes in: a pending
// one, or the conversation's ("" when a new one starts).
func (c *Chat) CurrentThread(peer JID) string {
	pend := c.Pending(peer)
	if pend.Thread != "" {
		return pend.Thread
	}
	if pend.NewThread {
		return ""
	}
	if cv := c.Conversation(c.Key(peer)); cv != nil {
		return cv.Thread
	}
	return ""
}

// PeerState is the conversee's chat state to show ("" when none or
// expired).
func (c *Chat) PeerState(peer JID) string {
	key := c.Key(peer)
	c.mu.Lock()
	st := c.status[key]
	c.mu.Unlock()
	if c.env.Now().Sub(st.At) >= PeerStateTTL {
		return ""
	}
	return st.State
}

// Say sends a chat message to the conversee.
func (c *Chat) Say(ctx context.Context, body string) error {
	peer, err := c.needPeer()
	if err != nil {
		return err
	}
	if c.IsRoom(peer) {
		return c.sayRoom(ctx, peer, body, "") // muc_chat.go
	}
	return c.send(ctx, peer, Outgoing{Body: body}, nil)
}

// Reply answers a message from the history in its thread and type, to
// the resource it came from unless that has gone, with In-Reply-To.
func (c *Chat) Reply(ctx context.Context, original *statefile.Record, body string) error {
	j, err := ParseJID(BareOf(original.Peer))
	if err != nil {
		return err
	}
	return c.send(ctx, j, Outgoing{Body: body}, original)
}

// send sends one chat (or, for a reply, the original's type) message
// along the conversation's route, on the writer. The chat-state machine
// is restored if the message did not go out.
func (c *Chat) send(ctx context.Context, peer JID, out Outgoing, original *statefile.Record) error {
	s, err := c.Session()
	if err != nil {
		return err
	}
	key := c.Key(peer)
	return c.call(func() error {
		now := c.env.Now()
		c.mu.Lock()
		pend := c.pending[key]
		m := c.machine(key)
		saved := *m
		c.mu.Unlock()
		o := SendOptions{Account: c.o.Account, To: []JID{peer}, Type: "chat", LockIdle: c.o.LockIdle,
			NewThread: pend.NewThread, Thread: pend.Thread, Fork: pend.Fork,
			Occupant: peer.IsFull() && c.o.Rooms.Joined(peer.Bare())} // D-12: a PM from /msg
		if original != nil {
			o = SendOptions{Account: c.o.Account, To: []JID{peer}, Type: original.Type,
				LockIdle: c.o.LockIdle, ReplyTo: original}
			out.InReplyTo = InReplyToOf(original)
		}
		if o.Type == "chat" {
			c.mu.Lock()
			out.ChatState = m.Message(now)
			c.mu.Unlock()
		}
		_, err := SendOne(ctx, c.env, s, o, out)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			*m = saved
			return err
		}
		c.sentTo(peer, key, original != nil)
		return nil
	})
}

// sentTo updates the conversee after a message to peer went out; c.mu
// must be held. A message ends the pending thread change (a reply, which
// goes in the original's thread, leaves it). A full JID the user gave is
// a forced lock (D-2), in the state now: later messages follow the lock
// rules from the bare JID. A MUC occupant is no resource of the room: its
// messages always go to its full JID, never to the room (D-12).
func (c *Chat) sentTo(peer JID, key string, reply bool) {
	if reply {
		return
	}
	delete(c.pending, key)
	if peer.IsFull() && c.peer == peer && key != peer.String() {
		c.peer, _ = ParseJID(peer.Bare())
	}
}

// NewThread makes the conversee's next message start a new thread.
func (c *Chat) NewThread() error {
	peer, err := c.needPeer()
	if err != nil {
		return err
	}
	key := c.Key(peer)
	c.mu.Lock()
	c.pending[key] = Pending{NewThread: true}
	c.mu.Unlock()
	return nil
}

// Resume makes the next message to the thread's peer go in thread t, and
// that peer the conversee; switched says whether the conversee changed.
func (c *Chat) Resume(t *statefile.Thread) (peer JID, switched bool, err error) {
	j, err := ParseJID(t.Peer)
	if err != nil {
		return j, false, err
	}
	if !c.Occupant(j) {
		j, _ = ParseJID(j.Bare())
	}
	key := c.Key(j)
	cur := c.Peer()
	switched = cur.Domain == "" || c.Key(cur) != key
	c.mu.Lock()
	if switched {
		c.peer = j
	}
	c.pending[key] = Pending{Thread: t.ID}
	c.mu.Unlock()
	return j, switched, nil
}

// Fork makes the conversee's next message start a child thread of the
// current one (XEP-0201 1.0 parent), and returns that parent.
func (c *Chat) Fork() (string, error) {
	peer, err := c.needPeer()
	if err != nil {
		return "", err
	}
	cur := c.CurrentThread(peer)
	if cur == "" {
		return "", ErrNoThread
	}
	key := c.Key(peer)
	c.mu.Lock()
	c.pending[key] = Pending{Thread: cur, Fork: true}
	c.mu.Unlock()
	return cur, nil
}

// Closed says what Close did.
type Closed struct {
	Thread  string
	To      string // where the terminate went
	Gone    bool   // a <gone/> went with it
	Already bool   // the thread was closed before: nothing was sent
}

// Close ends the conversee's current thread: the XEP-0155 terminate and,
// in a chat thread, a standalone <gone/> (D-6: <gone/> only here, on an
// explicit close; XEP-0085 is about chat, so none in a normal thread).
// The next message starts a new thread.
func (c *Chat) Close(ctx context.Context) (Closed, error) {
	peer, err := c.needPeer()
	if err != nil {
		return Closed{}, err
	}
	id := c.CurrentThread(peer)
	if id == "" {
		return Closed{}, ErrNoThread
	}
	s, err := c.Session()
	if err != nil {
		return Closed{}, err
	}
	key := c.Key(peer)
	chat := false
	if a, err := c.Account(); err == nil && a != nil && a.Threads[id] != nil {
		chat = a.Threads[id].Type == "chat"
	}
	res := Closed{Thread: id}
	err = c.call(func() error {
		c.mu.Lock()
		m := c.machine(key)
		saved := *m
		if chat {
			res.Gone = m.Close(c.env.Now()) != ""
		} else {
			m.Touch(c.env.Now())
		}
		c.mu.Unlock()
		to, err := CloseThreadGone(ctx, s, c.env, c.o.Account.Bare(), id, NewBounces(), res.Gone)
		res.To = to
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			*m = saved
		}
		if err == nil || errors.Is(err, ErrAlreadyClosed) {
			delete(c.pending, key)
			delete(c.status, key) // the peer's last state was about the closed thread
		}
		return err
	})
	if errors.Is(err, ErrAlreadyClosed) {
		return Closed{Thread: id, Already: true}, nil
	}
	return res, err
}

// Input notes input from the user: it brings auto-away back.
func (c *Chat) Input() {
	c.mu.Lock()
	back := c.away.Input(c.env.Now())
	c.mu.Unlock()
	if back {
		c.do(func() { c.sendPresence("", "") })
	}
}

// Typing feeds a key typed into a message line (empty: the line is now
// empty) to the conversation's chat-state machine, and sends what it
// decides to the conversee as addressed (the full JID when the user gave
// one), where the next message goes. Offline the key only counts as use:
// a state decided now could not go out.
func (c *Chat) Typing(empty bool) {
	peer := c.Peer()
	if peer.Domain == "" {
		return
	}
	key := c.Key(peer)
	now := c.env.Now()
	c.mu.Lock()
	var state string
	if m := c.machine(key); c.conn == nil {
		m.Touch(now)
	} else {
		state = m.Key(now, empty)
	}
	c.mu.Unlock()
	if state != "" {
		c.do(func() { c.sendState(peer, state) })
	}
}

// Tick runs the clock: paused and inactive, auto-away, and the expiry of
// the conversee's chat state. Offline, the machines are not run: what
// they decide could not go out, and is decided again online. Run calls it.
func (c *Chat) Tick() {
	now := c.env.Now()
	type out struct {
		peer  JID
		state string
	}
	var states []out
	var show string
	expired := false
	c.mu.Lock()
	cur := c.peer
	if c.conn != nil {
		for key, m := range c.states {
			if s := m.Tick(now); s != "" {
				j, _ := ParseJID(key)
				states = append(states, out{j, s})
			}
		}
		show = c.away.Tick(now)
	}
	for key, st := range c.status {
		if now.Sub(st.At) >= PeerStateTTL {
			delete(c.status, key)
			expired = true
		}
	}
	c.mu.Unlock()
	for _, o := range states {
		// The current conversee as addressed (a forced full JID, an
		// occupant), so the state goes where its next message goes.
		if cur.Domain != "" && c.Key(cur) == c.Key(o.peer) {
			o.peer = cur
		}
		c.sendState(o.peer, o.state)
	}
	if show != "" {
		c.sendPresence(show, "")
	}
	if expired {
		c.changed()
	}
}

// sendState sends a standalone chat state to a conversee; if it cannot go
// out (offline) it is not recorded as sent. Runs on the writer.
func (c *Chat) sendState(peer JID, state string) {
	if m := c.stateMessage(peer, state); m != nil && c.write(m) {
		return
	}
	key := c.Key(peer)
	c.mu.Lock()
	if m := c.states[key]; m != nil {
		m.Unsent(state)
	}
	c.mu.Unlock()
}

// stateMessage is the standalone chat state for peer, addressed where the
// next message to peer goes, in the thread that message goes in (XEP-0085
// §5.6: the thread is required when the conversation uses one; none when
// a new one is about to start); nil for a MUC occupant (XEP-0085 §5.5,
// D-12). It does not ping a stale lock: a chat state is not worth a round
// trip.
func (c *Chat) stateMessage(peer JID, state string) *Message {
	if c.Occupant(peer) {
		return nil
	}
	if cv := c.Conversation(c.Key(peer)); cv != nil && cv.Occupant {
		return nil
	}
	thread := c.CurrentThread(peer)
	if c.Pending(peer).Fork {
		thread = "" // a child thread starts with the next message
	}
	m := &Message{To: c.Route(peer), Type: "chat", ID: NewID()}
	if thread != "" {
		m.Thread = &Thread{Value: thread}
	}
	m.SetChatState(state)
	return m
}

// write sends one stanza on the current connection; false when offline or
// the write failed (which Listen sees as a lost connection).
func (c *Chat) write(v any) bool {
	c.mu.Lock()
	w := c.conn
	c.mu.Unlock()
	return w != nil && w.Send(v) == nil
}

// sendPresence broadcasts presence; show "" is available with the user's
// own show and status (after auto-away). Offline it sends nothing: a new
// session sends the current presence (SetSession). Runs on the writer.
func (c *Chat) sendPresence(show, status string) {
	c.mu.Lock()
	if show == "" {
		show, status = c.myShow, c.myStatus
	} else if status == "" {
		status = c.myStatus
	}
	c.mu.Unlock()
	prio := c.o.Priority
	c.write(&Presence{Show: show, Status: status, Priority: &prio})
}

// SetStatus sets and broadcasts our presence (show "" is available).
func (c *Chat) SetStatus(show, status string) error {
	s, err := c.Session()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.myShow, c.myStatus = show, status
	c.mu.Unlock()
	return c.call(func() error {
		prio := c.o.Priority
		return s.Conn().Send(&Presence{Show: show, Status: status, Priority: &prio})
	})
}

// Status is our presence as the user set it, and what auto-away set.
func (c *Chat) Status() (show, status, auto string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.myShow, c.myStatus, c.away.Show()
}

// Received takes a stanza listen emitted (already applied to the state):
// the presence and chat state seen. It reports whether the front end
// should print it: a standalone chat state is a transient status, never
// printed or stored as a message (XEP-0085 §5.8, item 41).
func (c *Chat) Received(ev Event) (show bool) {
	from, err := ParseJID(ev.From)
	bare := BareOf(ev.From)
	key := bare
	if err == nil {
		key = c.Key(from)
	}
	if ev.Kind == KindPresence {
		c.mu.Lock()
		if err == nil && from.IsFull() {
			if c.presence[bare] == nil {
				c.presence[bare] = map[string]SeenPresence{}
			}
			c.presence[bare][from.Resource] = SeenPresence{Resource: from.Resource, Type: ev.Type, Show: ev.Show, Status: ev.Status, At: ev.Time}
		}
		// The resource that was typing has gone: it will not finish.
		if st, ok := c.status[key]; ok && ev.Type == "unavailable" && (st.From == ev.From || !from.IsFull()) {
			delete(c.status, key)
		}
		c.mu.Unlock()
		c.changed()
		return false
	}
	content := ev.Body != "" || ev.Subject != ""
	if ev.Type == "chat" && ev.Error == "" && !ev.Sent && !ev.Archived {
		// Items 84, 87: what our other device sent, and what the archive
		// replays, neither change a contact's status nor draw a chat state
		// from us; a copy of what the contact wrote to our other device
		// shows its status but is that device's conversation.
		c.mu.Lock()
		if ev.Carbon == "" {
			c.machine(key).Received(content, ev.ChatState)
		}
		switch {
		case ev.ChatState != "":
			c.status[key] = PeerState{State: ev.ChatState, From: ev.From, At: c.env.Now()}
		case content:
			delete(c.status, key)
		}
		c.mu.Unlock()
	}
	if !content && ev.Type != "error" {
		c.changed()
		return false
	}
	return true
}

// Seen lists the presence last seen from bare's resources, by resource.
func (c *Chat) Seen(bare string) []SeenPresence {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []SeenPresence
	for _, p := range c.presence[bare] {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

// RefreshRoster asks the server for the roster (RFC 6121 §2.2) and
// refreshes the roster cache that shell completion reads. It is advisory:
// a failure leaves the cached roster in use.
func (c *Chat) RefreshRoster(ctx context.Context) {
	account := c.o.Account.Bare()
	var jids []string
	if cached := c.env.Store.ReadRoster(account); cached != nil {
		for _, it := range cached.Items {
			jids = append(jids, it.JID)
		}
	}
	if s := c.Current(); s != nil {
		if items, err := FetchRoster(ctx, s); err == nil {
			c.env.Store.WriteRoster(statefile.Roster{Account: account, Fetched: c.env.Now().UTC(), Items: items})
			jids = jids[:0]
			for _, it := range items {
				jids = append(jids, it.JID)
			}
		}
	}
	c.mu.Lock()
	c.roster = jids
	c.mu.Unlock()
}

// Known lists the JIDs seen: the roster, the conversations and their
// locks, and the resources that sent presence; our own account excluded.
func (c *Chat) Known() []string {
	set := map[string]bool{}
	c.mu.Lock()
	for _, j := range c.roster {
		set[j] = true
	}
	for bare, res := range c.presence {
		set[bare] = true
		for k := range res {
			set[bare+"/"+k] = true
		}
	}
	c.mu.Unlock()
	if a, err := c.Account(); err == nil && a != nil {
		for k, cv := range a.Conversations {
			set[k] = true
			if cv.LockedTo != "" {
				set[cv.LockedTo] = true
			}
		}
	}
	delete(set, c.o.Account.Bare())
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	return out
}
