package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// Event is one received stanza as the command layer prints it.
type Event struct {
	Kind      string // "message" or "presence"
	From      string
	To        string
	Type      string
	ID        string
	OriginID  string
	Thread    string
	Parent    string
	Body      string
	Subject   string
	ChatState string
	Delayed   bool
	Time      time.Time
	Error     string
	InReplyTo string
	Show      string
	Status    string
	// OOBURL is the XEP-0066 URL the message points to (a shared file),
	// or "" (OOBURLOf).
	OOBURL string
	// Occupant marks a MUC private message (it carries muc#user): its
	// conversation is the occupant's full JID, never the room (D-12).
	Occupant bool
	// Carbon is CarbonReceived or CarbonSent for a XEP-0280 copy, else "".
	Carbon string
	// Sent marks our own outgoing message, seen by a sent carbon or in the
	// archive: From is our full JID, To the contact.
	Sent bool
	// Archived marks a message caught up from the archive (XEP-0313);
	// Delayed is then set too.
	Archived bool
	// Room, Nick and Own are set for traffic of a joined room
	// (muc_listen.go): its bare JID, the occupant's nick, and whether it
	// is our own (an echo of our message, our own presence).
	Room, Nick string
	Own        bool
	// roomSID is the stanza-id the room's own archive gave a room
	// message (muc_catchup.go), "" when the room keeps none.
	roomSID string
	// Encrypted marks an end-to-end encrypted message (e2e.go): Body is
	// what it decrypted to, never the fallback body. Verified says the
	// signature was checked against the sender's pinned key (a message
	// that is not verified runs no --exec). EncryptionError says why
	// it could not be read (Body is then empty) or why it is not
	// verified.
	Encrypted, Verified bool
	EncryptionError     string
}

// ConflictError: another session took over listen's full JID.
type ConflictError struct{ Resource string }

func (e *ConflictError) Error() string {
	return "another session took over " + e.Resource + "; not reconnecting, so the two do not take turns"
}

// ErrSkipped, returned by an emit function, says the event was filtered
// out: it is not an error, and it does not count as a message for the idle
// timeout.
var ErrSkipped = errors.New("skipped")

// ErrStop, returned by an emit function, ends Listen without error.
var ErrStop = errors.New("stop")

// ListenOptions configures the observer.
type ListenOptions struct {
	Account  JID
	Priority int
	Presence bool          // also emit presence events
	Idle     time.Duration // >0: give up with ErrTimeout when no message is emitted for this long
	// Receipts answers XEP-0184 receipt requests of the messages received
	// (the dialer should then advertise NSReceipts in Config.Features).
	Receipts bool
	// OnSession, when set, is called with each new session once it is
	// online (available presence sent), just before the observer record
	// is written, and with nil when that session ends; other goroutines
	// may send on it meanwhile (Conn writes are safe for concurrent use).
	OnSession func(*Session)
	// ChatStates also emits standalone XEP-0085 notifications (chat
	// messages with a state and no body), which are not printed as
	// messages or stored (§5.8): for an interactive client's status line.
	ChatStates bool
	// CatchUp configures the archive catch-up (XEP-0313) when the
	// server offers it.
	CatchUp CatchUpOptions
	// Logf gets warnings (a catch-up stopped at its limit); nil: Listen's.
	Logf func(string, ...any)
	// Rooms are the group chat rooms to join on every connection
	// (muc_listen.go); nil for none.
	Rooms *Rooms
}

func (o ListenOptions) logf() func(string, ...any) {
	if o.Logf != nil {
		return o.Logf
	}
	return func(string, ...any) {}
}

// Dialer opens a new session; Listen calls it again to reconnect.
type Dialer func(ctx context.Context) (*Session, error)

// Backoff bounds for reconnecting.
const (
	backoffMin = time.Second
	backoffMax = time.Minute
)

// Listen is the live observer: it keeps the account online, applies every
// stanza to the persisted lock and thread state (durably, before the stanza
// is emitted) and marks itself in the state directory so one-shot sends can
// trust the persisted locks. It reconnects with capped exponential backoff
// on connection loss, logging each attempt with logf.
func Listen(ctx context.Context, env Env, dial Dialer, o ListenOptions, emit func(Event) error, logf func(string, ...any)) error {
	// Enough for one whole catch-up (three keys a message) and then some.
	seen := newDedup(3*MaxCatchUp + 1024)
	if o.Logf == nil {
		o.Logf = logf
	}
	var idle <-chan time.Time
	var idleTimer *time.Timer
	if o.Idle > 0 {
		idleTimer = time.NewTimer(o.Idle)
		defer idleTimer.Stop()
		idle = idleTimer.C
	}
	emitted := func(ev Event) error {
		if err := emit(ev); errors.Is(err, ErrSkipped) {
			return nil
		} else if err != nil {
			return err
		}
		if idleTimer != nil && ev.Kind == KindMessage {
			idleTimer.Reset(o.Idle)
		}
		return nil
	}
	first := true
	delay := backoffMin
	attempt := 0
	for {
		s, err := dial(ctx)
		if err != nil {
			var ae *AuthError
			var te *TLSError
			if first || errors.As(err, &ae) || errors.As(err, &te) || ctx.Err() != nil {
				return err
			}
			attempt++
			logf("reconnect attempt %d failed: %v; next in %s", attempt, err, delay)
			if err := sleep(ctx, idle, o.Idle, delay); err != nil {
				return err
			}
			delay = min(delay*2, backoffMax)
			continue
		}
		if !first {
			logf("reconnected as %s%s", s.JID(), resumptionNote(s.Resumption()))
		}
		first, attempt = false, 0
		up := time.Now()
		err = observe(ctx, env, s, o, seen, emitted, idle)
		if isConnectionLoss(err) && s.Resumable() {
			// XEP-0198 §5: a closing tag would end the session the
			// next connection resumes.
			s.Drop()
		} else {
			s.Close()
		}
		switch {
		case errors.Is(err, ErrStop):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !isConnectionLoss(err):
			// A local failure (state file, observer record, stdout) or our
			// own timeout: reconnecting would not help and would broadcast
			// presence again, which unlocks every contact's lock on us.
			return err
		}
		var stErr *StreamError
		if errors.As(err, &stErr) && stErr.Condition() == "conflict" {
			// RFC 6120 §7.7.2.2: another session bound our full JID and the
			// server closed ours. Reconnecting would throw that session out
			// in turn, and the two would take turns for ever.
			return &ConflictError{Resource: s.JID().String()}
		}
		if time.Since(up) >= stableAfter {
			delay = backoffMin
		}
		logf("connection lost: %v; reconnecting in %s", err, delay)
		if err := sleep(ctx, idle, o.Idle, delay); err != nil {
			return err
		}
		delay = min(delay*2, backoffMax)
	}
}

// stableAfter is how long a connection must last before the backoff starts
// again from its minimum, so a server that drops us at once is not hammered.
const stableAfter = 30 * time.Second

// sleep waits d, or returns early on cancellation or the idle timeout.
func sleep(ctx context.Context, idle <-chan time.Time, idleFor, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-idle:
		return fmt.Errorf("%w: no message within %s", ErrTimeout, idleFor)
	case <-t.C:
		return nil
	}
}

// connLost marks errors of the connection itself, as opposed to local ones.
type connLost struct{ err error }

func (e *connLost) Error() string {
	if e.err == nil {
		return "connection lost"
	}
	return e.err.Error()
}
func (e *connLost) Unwrap() error { return e.err }

func isConnectionLoss(err error) bool {
	var cl *connLost
	return errors.As(err, &cl)
}

// Keepalive pings s's server every d until ctx ends or the stream does,
// and reports on the returned channel, once, a ping that went unanswered:
// the connection is presumed half-open. An error answer is still an
// answer. An answer held up because we were the ones not reading (Events
// full: bot mode's backpressure) is late, not lost; a dead connection is
// then noticed by the first ping after the backlog drains.
func Keepalive(ctx context.Context, s *Session, d time.Duration) <-chan error {
	lost := make(chan error, 1)
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.Done():
				return
			case <-t.C:
			}
			before := s.Stalls()
			err := s.Ping(ctx, "")
			var iqe *IQError
			if err == nil || ctx.Err() != nil || errors.As(err, &iqe) || s.Stalls() > before || s.Backlogged() {
				continue
			}
			lost <- fmt.Errorf("server did not answer a keepalive ping: %w", err)
			return
		}
	}()
	return lost
}

// KeepaliveEvery is how often an observer (listen, a waiting send) pings
// its server: a half-open TCP connection must not keep the observer
// record, and so the trust in persisted locks, alive.
const KeepaliveEvery = 2 * ObserverBeat

func observe(ctx context.Context, env Env, s *Session, o ListenOptions, seen *dedup, emit func(Event) error, idle <-chan time.Time) error {
	account := o.Account.Bare()
	var auth *receiptAuth
	if o.Receipts {
		// XEP-0184 §8: receipts only to those allowed to see our
		// presence, so the roster is needed; it is fetched before the
		// initial presence (RFC 6121 §2.2) and kept up to date by pushes.
		// It is also cached for shell completion.
		auth = &receiptAuth{account: account, ok: map[string]bool{}}
		s.OnRosterPush(auth.update)
		items, err := FetchRoster(ctx, s)
		var iqe *IQError
		switch {
		case err == nil:
			auth.update(items)
			if err := env.Store.WriteRoster(statefile.Roster{Account: account, Fetched: env.Now().UTC(), Items: items}); err != nil {
				return err
			}
		case errors.As(err, &iqe):
			// No roster service: receipts go to our own resources only.
		default:
			return &connLost{err}
		}
	}
	// Item 88: a stanza-id counts only when our own archive added it,
	// and our account advertises one (set below, before any use).
	trustSID := false
	handle := func(v any) error {
		if ev, show, ok := o.Rooms.Handle(ctx, s, v); ok {
			// Room traffic never reaches Apply (item 73).
			if ev.Kind != KindMessage {
				if !show || !o.Presence {
					return nil
				}
				return emit(ev)
			}
			if !seen.add(messageKeys(ev.From, ev.ID, ev.OriginID, ev.roomKey())) {
				return nil // printed already: caught up from the room's archive, or delivered again
			}
			if err := o.Rooms.record(ctx, ev, show); err != nil {
				return err
			}
			if !show {
				return nil
			}
			return emit(ev)
		}
		sid := ""
		if m, ok := v.(*Message); ok && trustSID {
			sid = liveStanzaID(m, account)
		}
		ev, show, err := apply(ctx, env, account, v, applyOpts{ArchiveID: sid, Own: s.JID().Resource, S: s})
		if err != nil {
			return err
		}
		if m, ok := v.(*Message); ok && o.Receipts && m.CarbonReceived == nil && m.CarbonSent == nil && m.MAMResult == nil {
			// Answered once the message is recorded, whether or not a
			// filter prints it: the client has received it. Never for a
			// carbon (our other device answers, item 84) nor an archive
			// result (D-15).
			if r := ReceiptFor(m); r != nil && auth.allows(m.From) {
				if err := s.Conn().Send(r); err != nil {
					return &connLost{err}
				}
			}
		}
		if show {
			// A send handed to us waiting for this reply (WatchApplied)
			// gets it now that it is recorded.
			s.applied(v, ev)
		}
		if !show && o.ChatStates && ev.Kind == KindMessage && ev.Type == "chat" && ev.ChatState != "" &&
			ev.Error == "" && ev.Body == "" && ev.Subject == "" && !ev.Sent {
			show = true
		}
		if !show {
			return nil
		}
		if ev.Kind == KindMessage && !seen.add(messageKeys(ev.From, ev.ID, ev.OriginID, sid)) {
			return nil
		}
		if ev.Kind == KindPresence && !o.Presence {
			return nil
		}
		return emit(ev)
	}
	// What arrives while observe waits for answers before its loop is
	// held back and handled after (holder).
	held := &holder{live: handle}
	req := func(iq *IQ) (*IQ, error) { return awaitIQ(ctx, s, iq, held.take) }
	// Item 80: carbons only where the server offers them; the archive
	// (XEP-0313) where our account's disco#info lists it. Both before
	// the initial presence, which starts the flow of stored messages.
	serverFeats, accountFeats, err := Features(req, o.Account)
	if err != nil {
		return err
	}
	trustSID = accountFeats[nsMAM] || accountFeats[nsSID]
	if !s.Resumed() {
		// A resumed session keeps its carbons (XEP-0198 §5 resumes the
		// session's state with it).
		on, err := EnableCarbons(req, serverFeats)
		if err != nil {
			return err
		}
		env.debugf("carbons (XEP-0280): %s", map[bool]string{true: "enabled", false: "not offered or refused; going on without"}[on])
	}
	var cu *catchUp
	switch {
	case o.CatchUp.Off:
	case !accountFeats[nsMAM]:
		env.debugf("the server keeps no archive for %s (no %s): no catch-up", account, nsMAM)
	default:
		cu = &catchUp{env: env, s: s, account: account, own: s.JID().Resource, o: o.CatchUp, seen: seen,
			emit: emit, hold: held, logf: o.logf()}
	}
	if !s.Resumed() { // a resumed session is online already (XEP-0198 §5)
		// Before the presence: Prosody then keeps the offline replay of
		// what the archive returns from this session.
		if cu != nil {
			if err := cu.phase(ctx, true); err != nil {
				return err
			}
		}
		if err := s.SendPresence(o.Priority); err != nil {
			return &connLost{err}
		}
	}
	if cu != nil {
		// Again after the presence: what arrived between the end of the
		// first query and the presence went to offline storage, which
		// Prosody no longer replays to us (issue 12 measured 9 of 1,000
		// lost). A resumed session catches up too, though its queue holds
		// what it missed: a live stanza held back by a catch-up that the
		// lost connection cut short was acknowledged already (catchUp).
		if err := cu.phase(ctx, false); err != nil {
			return err
		}
	}
	if err := o.Rooms.Join(s); err != nil {
		return &connLost{err}
	}
	// Each room's own archive (muc#mam), after the join: what it
	// archived before the join took effect is caught up, what came after
	// arrives live and is held back meanwhile (muc_catchup.go).
	if err := o.Rooms.catchUp(ctx, req, catchUp{env: env, s: s, account: account, o: o.CatchUp, seen: seen,
		emit: emit, hold: held, logf: o.logf()}); err != nil {
		return err
	}
	// Before the observer record: whoever waits for the record (a test,
	// a script) then finds what OnSession set up, the hand-off socket
	// among it.
	if o.OnSession != nil {
		o.OnSession(s)
		defer o.OnSession(nil)
	}
	// Mark ourselves as the live observer from now on: every presence from
	// here is seen, so locks recorded from now are kept true.
	rec := statefile.Observer{Account: account, PID: os.Getpid(), Host: env.Host,
		Resource: s.JID().Resource, ConnectedSince: env.Now(), Heartbeat: env.Now()}
	if err := env.Store.WriteObserver(rec); err != nil {
		return err
	}
	defer env.Store.RemoveObserver(account, rec.PID)
	beat := time.NewTicker(ObserverBeat)
	defer beat.Stop()
	kctx, stopKeepalive := context.WithCancel(ctx)
	defer stopKeepalive()
	pingFailed := Keepalive(kctx, s, KeepaliveEvery)
	took := false // a stanza was taken from Events and is being handled
	// What arrived live meanwhile, after what the catch-up printed.
	for _, v := range held.deferred {
		if err := handle(v); err != nil {
			return err
		}
		s.Handled()
	}
	held.deferred = nil
	for {
		if took {
			s.Handled() // XEP-0198: recorded and emitted, it may be acknowledged
			took = false
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-idle:
			return fmt.Errorf("%w: no message within %s", ErrTimeout, o.Idle)
		case err := <-pingFailed:
			return &connLost{err}
		case <-beat.C:
			rec.Heartbeat = env.Now()
			if err := env.Store.WriteObserver(rec); err != nil {
				return err
			}
		case v, ok := <-s.Events():
			if !ok {
				return &connLost{s.Err()}
			}
			took = true
			if err := handle(v); err != nil {
				return err
			}
		}
	}
}

// Apply turns a stanza into an Event and records its effect durably: on
// the conversation, on the thread index and in the history. show is false
// for stanzas that are not printed (standalone chat states, terminates)
// and for those dropped: a forged carbon (items 79, 82, 85) or an archive
// result no query of ours asked for (item 87) leaves no trace.
func Apply(ctx context.Context, env Env, account string, v any) (Event, bool, error) {
	return apply(ctx, env, account, v, applyOpts{})
}

// applyOpts says where a message came from beyond its own content.
type applyOpts struct {
	// Archived: caught up from the archive (XEP-0313, D-15).
	Archived bool
	// ArchiveID is the stanza-id our archive gave the message (a live
	// one's trusted stanza-id, a result's id): recorded as the position
	// of the next catch-up. Only listen's observer passes it.
	ArchiveID string
	// Stamp is when the archive says the message was sent.
	Stamp string
	// Own is the observer's stable resource: copies of what this jab sent
	// are not applied again (UnwrapCarbon, catchUp).
	Own string
	// S is the session the message came on, for fetching a sender's
	// keys (E2E.Open); nil when there is none to use.
	S *Session
	// e2e is what opening an encrypted message found (apply sets it).
	e2e e2eResult
}

func apply(ctx context.Context, env Env, account string, v any, o applyOpts) (Event, bool, error) {
	now := env.Now()
	var ev Event
	var in Inbound
	carbon := ""
	if m, ok := v.(*Message); ok && !o.Archived {
		if m.MAMResult != nil {
			// Item 87: a result outside an open query of ours.
			env.debugf("dropped an archive result outside any query of ours (item 87)")
			return ev, false, nil
		}
		u := UnwrapCarbon(m, account, o.Own, nil)
		if u.Drop != "" {
			env.debugf("dropped a message: %s", u.Drop)
			return ev, false, nil
		}
		if u.Dir == CarbonSent {
			return applyOwn(ctx, env, account, u.Msg, CarbonSent, o)
		}
		carbon = u.Dir
		v = u.Msg
	}
	if m, ok := v.(*Message); ok && encrypted(m) {
		v, o.e2e = env.openE2E(ctx, o.S, m, refTime(m, o.Stamp, now))
	}
	if m, ok := v.(*Message); ok && o.Archived && m.From != "" && BareOf(m.From) == account && m.To != "" && BareOf(m.To) != account {
		// Our own message, archived: sent by us or another of our devices.
		return applyOwn(ctx, env, account, m, "", o)
	}
	switch m := v.(type) {
	case *Message:
		thread, parent := m.ThreadValue(), m.ThreadParent()
		if !ValidThread(thread) {
			// Oversized or malformed: kept out of the state (issue 3).
			thread = ""
		}
		if !ValidThread(parent) || parent == thread {
			parent = ""
		}
		ev = Event{Kind: KindMessage, From: m.From, To: m.To, Type: MessageType(m.Type), ID: m.ID,
			OriginID: originID(m), Thread: thread, Parent: parent, Body: m.Body, Subject: m.Subject,
			ChatState: m.ChatState(), Delayed: m.Delayed(), Time: now, InReplyTo: m.Header("In-Reply-To"),
			Occupant: m.MUCUser != nil, Carbon: carbon, Archived: o.Archived, OOBURL: OOBURLOf(m)}
		o.e2e.set(&ev)
		if m.Error != nil || ev.Type == "error" {
			ev.Error = m.Error.Cond()
		}
		if !ValidThread(ev.InReplyTo) {
			// A message id is as opaque and as bounded as a thread id.
			ev.InReplyTo = ""
		}
		if m.Delay != nil {
			if t, err := time.Parse(time.RFC3339Nano, m.Delay.Stamp); err == nil {
				ev.Time = t
			}
		}
		if o.Archived {
			ev.Delayed = true
			if t, err := time.Parse(time.RFC3339Nano, o.Stamp); err == nil {
				ev.Time = t
			}
		}
		in = Inbound{Kind: KindMessage, Type: m.Type, Thread: thread, ChatState: ev.ChatState,
			Content: m.Body != "" || m.Subject != "", Delayed: ev.Delayed, Terminate: m.IsTerminate(),
			Occupant: m.MUCUser != nil, Archived: o.Archived, Time: now, FreshThread: NewID()}
	case *Presence:
		ev = Event{Kind: KindPresence, From: m.From, To: m.To, Type: m.Type, ID: m.ID, Time: now,
			Show: m.Show, Status: m.Status}
		if m.Error != nil {
			ev.Error = m.Error.Cond()
		}
		in = Inbound{Kind: KindPresence, Type: m.Type, Occupant: m.MUCUser != nil, Time: now}
	default:
		return ev, false, nil
	}
	if ev.From == "" {
		// RFC 6120 §8.1.2.1: no from means our own account.
		ev.From = account
	}
	show := ev.Kind == KindPresence || printable(ev, in)
	from, err := ParseJID(ev.From)
	if err != nil {
		// A malformed from cannot name a conversation; show it, change nothing.
		return ev, show, nil
	}
	in.From = from
	key := ConversationKey(from, in.Occupant)
	var after statefile.Conversation
	dup := false
	_, err = env.Store.Update(ctx, func(st *statefile.State) error {
		a := st.Account(account)
		var moved bool
		if moved, dup = recordOnce(a, o.ArchiveID, ev.From, ev.ID, in.Kind == KindMessage && MessageType(in.Type) != "error"); dup {
			return changedIf(moved)
		}
		c, exists := conversationOf(a, key)
		next, store := ApplyInbound(c, exists, in)
		after = next
		changed := false
		if store && !(exists && reflect.DeepEqual(c, next)) {
			a.Conversations[key] = &next
			changed = true
		}
		if in.Kind == KindMessage {
			typ := MessageType(in.Type)
			switch {
			case in.Terminate:
				changed = MarkClosed(a.Threads, in.Thread, now) || changed
			case in.Content && (typ == "chat" || typ == "normal"):
				thread := in.Thread
				if thread == "" && typ == "chat" {
					thread = next.Thread // attached per D-7, or newly started
				}
				if thread != "" {
					TouchThread(a.Threads, ThreadMsg{Thread: thread, Parent: ev.Parent, Peer: key, Type: typ,
						Subject: ev.Subject, Body: ev.Body, Time: ev.Time})
					PruneThreads(a.Threads, MaxThreadsPerPeer, MaxThreads, CurrentThreads(a))
					changed = true
				}
			}
		}
		if !changed && !moved && (in.Kind != KindMessage || ev.ID == "" || MessageType(in.Type) == "error") {
			return errNoChange
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return ev, false, err
	}
	if dup {
		if ev.Kind == KindMessage && ev.Thread == "" && in.Content && MessageType(in.Type) == "chat" {
			if st, err := env.Store.Load(); err == nil {
				if c := st.Account(account).Conversations[key]; c != nil {
					ev.Thread = c.Thread
				}
			}
		}
		return ev, show, nil
	}
	if ev.Kind == KindMessage && ev.Thread == "" && in.Content && MessageType(in.Type) == "chat" {
		// Show which conversation thread a thread-less chat was attached to.
		ev.Thread = after.Thread
	}
	if show && ev.Kind == KindMessage && env.History != nil {
		if err := env.History.Append(ctx, ev.record(account, statefile.DirIn)); err != nil {
			return ev, false, err
		}
	}
	return ev, show, nil
}

// noteSeen records the message id from sent in a.Seen, bounded, and
// reports whether it is new.
func noteSeen(a *statefile.Account, from, id string) bool {
	seen := from + " " + id
	if slices.Contains(a.Seen, seen) {
		return false
	}
	a.Seen = append(a.Seen, seen)
	if len(a.Seen) > statefile.MaxSeen {
		a.Seen = slices.Delete(a.Seen, 0, len(a.Seen)-statefile.MaxSeen)
	}
	return true
}

// recordOnce starts recording a message in a: it moves the catch-up
// position to archiveID (moved) and, with check, notes the message as
// seen. dup says it was recorded already, by another of our processes
// (listen and a waiting send both get what goes to the bare JID) or
// before a reconnect: the caller then records nothing twice.
func recordOnce(a *statefile.Account, archiveID, from, id string, check bool) (moved, dup bool) {
	moved = moveArchive(a, archiveID)
	return moved, check && id != "" && !noteSeen(a, from, id)
}

// changedIf is an update function's result: nil to write, errNoChange
// when nothing changed.
func changedIf(changed bool) error {
	if changed {
		return nil
	}
	return errNoChange
}

// conversationOf is a copy of a's conversation under key, and whether it
// exists.
func conversationOf(a *statefile.Account, key string) (statefile.Conversation, bool) {
	if p := a.Conversations[key]; p != nil {
		return *p, true
	}
	return statefile.Conversation{}, false
}

// moveArchive records id ("" for none) as the catch-up position and
// reports whether it changed.
func moveArchive(a *statefile.Account, id string) bool {
	if id == "" || a.ArchiveLast == id {
		return false
	}
	a.ArchiveLast = id
	return true
}

// receiptAuth says who may get a receipt: our own account, and contacts
// with a "from" or "both" subscription, who may see our presence anyway
// (XEP-0184 §8: a receipt would otherwise tell a stranger we are online).
type receiptAuth struct {
	account string
	mu      sync.Mutex
	ok      map[string]bool // bare JID -> may see our presence
}

// update applies roster items (the result or a push).
func (a *receiptAuth) update(items []statefile.RosterItem) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, it := range items {
		switch it.Subscription {
		case "from", "both":
			a.ok[BareOf(it.JID)] = true
		default: // none, to, remove
			delete(a.ok, BareOf(it.JID))
		}
	}
}

func (a *receiptAuth) allows(from string) bool {
	if a == nil {
		return false
	}
	bare := BareOf(from)
	if bare == a.account {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ok[bare]
}

// ReceiptFor is the XEP-0184 receipt for m, or nil when m asks for none or
// must not get one: no id to acknowledge (§5.4), an error or groupchat
// message (§5.3, §5.4), or a message that is itself a receipt.
func ReceiptFor(m *Message) *Message {
	if m.Request == nil || m.ID == "" || m.Received != nil || m.From == "" {
		return nil
	}
	switch m.Type {
	case "error", "groupchat":
		return nil
	}
	r := &Message{To: m.From, ID: NewID(), Received: &ReceiptElem{ID: m.ID}}
	if m.Type == "chat" {
		r.Type = "chat"
	}
	return r
}

func originID(m *Message) string {
	if m.OriginID == nil {
		return ""
	}
	return m.OriginID.ID
}

// record is the history record of a received message.
func (ev Event) record(account, dir string) statefile.Record {
	peer := ev.From
	if dir == statefile.DirOut {
		peer = ev.To
	}
	return statefile.Record{Account: account, Dir: dir, Time: ev.Time, Peer: peer, Type: ev.Type, ID: ev.ID,
		OriginID: ev.OriginID, Thread: ev.Thread, Parent: ev.Parent, Subject: ev.Subject, Body: ev.Body,
		ChatState: ev.ChatState, InReplyTo: ev.InReplyTo, Error: ev.Error, Carbon: ev.Carbon, Archived: ev.Archived,
		Encrypted: ev.Encrypted, Verified: ev.Verified, EncryptionError: ev.EncryptionError, Nick: roomNick(ev)}
}

// roomNick is the nick a group chat message of a joined room is recorded
// with.
func roomNick(ev Event) string {
	if ev.Room == "" || ev.Type != "groupchat" {
		return ""
	}
	return ev.Nick
}

func printable(ev Event, in Inbound) bool {
	if in.Terminate {
		return false // XEP-0201 0.3 §5: never shown as a message
	}
	return ev.Body != "" || ev.Subject != "" || ev.Type == "error" || ev.EncryptionError != ""
}

// dedup remembers recent message identities (messageKeys) so a message
// delivered again (after a reconnect, by offline storage after the
// archive, live during a catch-up) is not printed twice. Bounded.
type dedup struct {
	max   int
	order []string
	set   map[string]bool
}

func newDedup(n int) *dedup { return &dedup{max: n, set: map[string]bool{}} }

// has reports whether any of keys was seen.
func (d *dedup) has(keys []string) bool {
	for _, k := range keys {
		if d.set[k] {
			return true
		}
	}
	return false
}

// add records keys and reports whether the message is new (none of its
// keys seen). A message with no keys is always new.
func (d *dedup) add(keys []string) bool {
	if d.has(keys) {
		for _, k := range keys {
			d.put(k)
		}
		return false
	}
	for _, k := range keys {
		d.put(k)
	}
	return true
}

func (d *dedup) put(k string) {
	if d.set[k] {
		return
	}
	d.set[k] = true
	d.order = append(d.order, k)
	if len(d.order) > d.max {
		delete(d.set, d.order[0])
		d.order = d.order[1:]
	}
}
