package session

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// The send pipeline. A Sender plans the routes of one send request
// (XEP-0296 locks, XEP-0201 threads), checks stale locks (D-9), commits
// the plan to the state file just before the first message is written,
// builds the stanzas, writes them, confirms bounces and records the
// history. Any front end drives it: the one-shot `jab send` through
// StartSend, listen's bot and the REPL through SendOne on the session they
// already have.

// Sender sends the messages of one request over one session.
type Sender struct {
	env     Env
	s       *Session
	own     bool // StartSend opened s: Close closes it
	o       SendOptions
	account string
	planner *Planner
	routes  []Route // as last committed; nil before the first message

	bounces  *Bounces
	receipts *Receipts
	waiter   *replyWaiter // nil unless OneShot.WaitReply

	history []statefile.Record // sent, not yet appended (group commit)
	holding bool
	burst   int  // messages since the last Flush
	inBurst bool // the last Send said more follow at once
	sent    int
	unwatch []func() // Attach's watchers of a session read by someone else
	enc     stanzaEncoder
}

// stanzaEncoder marshals the stanzas of one Send into a buffer it keeps
// from one Send to the next: messages of the shape a send builds with
// appendMessage, anything else with one encoding/xml encoder (xml.Marshal
// makes a new one, with a 4 KiB buffer, for every stanza). Most of the
// garbage of a --lines run was there.
type stanzaEncoder struct {
	out []byte
	buf bytes.Buffer
	enc *xml.Encoder
}

// reset starts a new batch: the slices add returned before are reused.
func (e *stanzaEncoder) reset() { e.out = e.out[:0] }

// add appends m's XML to the batch and returns it; the slice is valid
// until the next reset.
func (e *stanzaEncoder) add(m *Message) ([]byte, error) {
	start := len(e.out)
	if out, ok := appendMessage(e.out, m); ok {
		e.out = out
		return e.out[start:len(e.out):len(e.out)], nil
	}
	if e.enc == nil {
		e.enc = xml.NewEncoder(&e.buf)
	}
	e.buf.Reset()
	if err := e.enc.Encode(m); err != nil {
		e.enc = nil // its state is unknown after an error
		return nil, err
	}
	e.out = append(e.out, e.buf.Bytes()...)
	return e.out[start:len(e.out):len(e.out)], nil
}

// OneShot is a send on a connection of its own, as `jab send` makes.
type OneShot struct {
	// Config is the login; its Resource is chosen by StartSend.
	Config Config
	Send   SendOptions
	// WaitReply goes online before the first message, so that the answer
	// of Send.To[0] reaches this resource, and keeps that answer for
	// WaitReply.
	WaitReply bool
	// Received, if not nil, is given the messages that reach the one-shot
	// resource while it sends (a contact answering it during a long
	// --lines run), other than errors and the awaited reply. They have
	// already changed the conversation (a lock, D-5).
	Received func(Event)
	// Warn, if not nil, is told of a received stanza that could not be
	// recorded.
	Warn func(error)
}

// NoParentError: --fork found no thread to fork from.
type NoParentError struct{ To string }

func (e *NoParentError) Error() string { return "--fork: " + e.To + " has no thread to fork from" }

// StartSend logs in on a one-shot resource while it previews the routes,
// checks the locks nobody watched (D-9) and returns a Sender ready for
// the first message. Nothing is written to the state file yet.
//
// A one-shot send never binds the observer's stable resource (the server
// would disconnect the observer) and never collides with a concurrent
// send: its resource is the stable one with a random suffix. It sends no
// presence unless it waits for a reply: by XEP-0296 an available presence
// would unlock every contact's conversation with us.
func StartSend(ctx context.Context, env Env, o OneShot) (*Sender, error) {
	account := o.Send.Account.Bare()
	// The state is read once: for the stable resource and for the plan.
	st, err := env.Store.Load()
	if err != nil {
		return nil, err
	}
	base, stored := ResourceFrom(st, account)
	sd := &Sender{env: env, own: true, o: o.Send, account: account, bounces: NewBounces(), receipts: NewReceipts()}
	if o.WaitReply {
		sd.waiter = newReplyWaiter(o.Send.To[0].Bare())
	}
	type dialed struct {
		s   *Session
		err error
	}
	dialc := make(chan dialed, 1)
	cfg := o.Config
	cfg.Resource = oneShotResource(base)
	// The first stanzas (a D-9 ping, the messages) follow the binding
	// request without waiting for its answer.
	cfg.PipelineBind = true
	go func() {
		s, err := OpenHandler(ctx, cfg, func(v any) { sd.inbound(ctx, v, o.Received, o.Warn) })
		dialc <- dialed{s, err}
	}()
	if !stored {
		sd.o.Resource = base
	}
	sd.planner = PlannerFrom(env, sd.o, st)
	d := <-dialc
	if d.err != nil {
		return nil, d.err
	}
	sd.s = d.s
	if o.WaitReply {
		// Online before the question goes out, so a quick answer to our
		// bare JID reaches us instead of offline storage; anything the
		// server stored for us arrives now, delayed, and is no answer.
		// The archive is queried first: a session that goes online
		// without querying it gets the offline messages Prosody kept
		// back from an earlier catch-up, as stale duplicates (issue 12).
		if err := SuppressOffline(ctx, sd.s); err != nil {
			sd.Close()
			return nil, err
		}
		if err := sd.s.SendPresence(0); err != nil {
			sd.Close()
			return nil, err
		}
	}
	if err := sd.check(ctx); err != nil {
		sd.Close()
		return nil, err
	}
	return sd, nil
}

// Attach returns a Sender for a session that is already online and read
// by someone else (listen's, the REPL's). It watches that session
// (Session.Watch) for the bounces and receipts of its messages until
// Close, so Finish and WaitReceipts work as on a one-shot session.
func Attach(ctx context.Context, env Env, s *Session, o SendOptions) (*Sender, error) {
	return attach(ctx, env, s, o, false)
}

// AttachWaiting is Attach for a send that then waits for the answer of
// o.To[0] (WaitReply) on a session that Listen runs: the answer is taken
// from what Listen has recorded (Session.WatchApplied), so its lock and
// thread are in the state file before WaitReply returns it. Listen keeps
// the observer record and the keepalive meanwhile.
func AttachWaiting(ctx context.Context, env Env, s *Session, o SendOptions) (*Sender, error) {
	return attach(ctx, env, s, o, true)
}

func attach(ctx context.Context, env Env, s *Session, o SendOptions, waitReply bool) (*Sender, error) {
	st, err := env.Store.Load()
	if err != nil {
		return nil, err
	}
	sd := &Sender{env: env, s: s, o: o, account: o.Account.Bare(), planner: PlannerFrom(env, o, st),
		bounces: NewBounces(), receipts: NewReceipts()}
	if waitReply {
		sd.waiter = newReplyWaiter(o.To[0].Bare())
	}
	if err := sd.check(ctx); err != nil {
		return nil, err
	}
	sd.unwatch = append(sd.unwatch, s.Watch(func(v any) {
		sd.bounces.Handle(v)
		sd.receipts.Handle(v)
	}))
	if sd.waiter != nil {
		sd.unwatch = append(sd.unwatch, s.WatchApplied(func(v any, ev Event) { sd.waiter.offer(v, ev) }))
	}
	return sd, nil
}

// waitAttached is WaitReply for an attached Sender: Listen, which reads
// the session, records the answer and offers it (AttachWaiting).
func (sd *Sender) waitAttached(ctx context.Context, wait time.Duration) (Event, error) {
	select {
	case ev := <-sd.waiter.got:
		return ev, nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case ev := <-sd.waiter.got:
		return ev, nil
	case <-t.C:
		return Event{}, &NoReplyError{Peer: sd.waiter.peer, Wait: wait}
	case <-ctx.Done():
		return Event{}, ctx.Err()
	case <-sd.s.Done():
		return Event{}, fmt.Errorf("waiting for the reply: connection lost: %w", sd.s.Err())
	}
}

// check pings the locked full JIDs nobody has watched since they were
// recorded (D-9): such a lock is used only if the resource answers.
func (sd *Sender) check(ctx context.Context) error {
	sd.recognizeRooms(ctx) // muc_send.go: item 73
	if sd.o.E2E != nil {
		// Every recipient's keys before the first message: a contact
		// without a usable, trusted key gets nothing, and neither does
		// anyone else in the same send.
		for _, to := range sd.o.To {
			if err := sd.o.E2E.Prepare(ctx, sd.s, to.Bare()); err != nil {
				return err
			}
		}
	}
	for _, c := range sd.planner.Checks() {
		sd.planner.Verified(c.JID, sd.s.PingThread(ctx, c.JID, c.Thread) == nil)
	}
	if sd.o.Fork {
		for _, r := range sd.planner.Preview() {
			if r.Parent == "" {
				return &NoParentError{To: r.To}
			}
		}
	}
	return nil
}

// inbound is the one-shot session's handler. What reaches the one-shot
// resource besides bounces still changes the conversation (a lock, an
// unlock on error, D-5).
func (sd *Sender) inbound(ctx context.Context, v any, received func(Event), warn func(error)) {
	sd.bounces.Handle(v)
	sd.receipts.Handle(v)
	// No S: this runs in the reader goroutine, which must not wait
	// for an answer it would have to read itself (no key is fetched).
	ev, show, err := apply(ctx, sd.env, sd.account, v, applyOpts{})
	switch {
	case err != nil:
		if warn != nil {
			warn(fmt.Errorf("could not record a received stanza: %w", err))
		}
	case sd.waiter != nil && show && sd.waiter.offer(v, ev):
		// The awaited reply, for WaitReply.
	case show && ev.Kind == KindMessage && ev.Type != "error" && received != nil:
		received(ev)
	}
}

// Session is the session the Sender writes to.
func (sd *Sender) Session() *Session { return sd.s }

// Routes previews where the messages go, as the state read at the start
// gives them.
func (sd *Sender) Routes() []Route { return sd.planner.Preview() }

// Send routes, builds and writes one message to each recipient. The plan
// is committed to the state file just before the first message is
// written, so a send refused before that (a message too large, bad input
// on the first line) leaves the state file as it was; it is committed
// again whenever someone else wrote the state meanwhile (a listen that saw
// a presence or a <gone/>), so every message follows the current lock and
// thread. A message over the server's limit on any route refuses the whole
// batch before any of it is written.
//
// more says that another message follows at once: the writes are then
// held so that a burst goes out in few TLS records. The history records
// wait for Flush or Finish (group commit). However long a burst is, no
// more than BurstMax messages are held or wait for the history: memory
// stays flat.
func (sd *Sender) Send(ctx context.Context, out Outgoing, more bool) ([]*Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	committed := false
	// The state is checked for other writers at the start of each burst:
	// within a burst the lines were all waiting at once.
	if sd.routes == nil || (!sd.inBurst && sd.planner.Stale()) {
		if _, _, err := sd.build(sd.planner.Preview(), out); err != nil {
			return nil, err
		}
		routes, err := sd.planner.Commit(ctx, out.Subject, out.Body)
		if err != nil {
			return nil, err
		}
		sd.routes, committed = routes, true // Commit counted this message in the thread index
	}
	msgs, data, err := sd.build(sd.routes, out)
	if err != nil {
		return nil, err
	}
	if more && !sd.holding {
		sd.s.Conn().Hold()
		sd.holding = true
	}
	for i, m := range msgs {
		sd.bounces.Track(m.ID, m.To)
		if out.Receipt {
			sd.receipts.Track(m.ID, m.To)
		}
		if sd.waiter != nil {
			sd.waiter.expect(m.ThreadValue())
		}
		if err := sd.s.Conn().SendRaw(data[i]); err != nil {
			return msgs[:i], err
		}
		sd.sent++
		if sd.env.History != nil {
			rec := SentRecord(sd.account, m, sd.env.Now())
			rec.Encrypted = sd.o.E2E != nil
			sd.history = append(sd.history, rec)
		}
	}
	if !committed {
		sd.planner.Sent()
	}
	sd.burst++
	sd.inBurst = more
	switch {
	case !more:
		return msgs, sd.release()
	case sd.burst >= BurstMax:
		if err := sd.Flush(ctx); err != nil {
			return msgs, err
		}
		sd.s.Conn().Hold()
		sd.holding = true
	}
	return msgs, nil
}

// BurstMax bounds a burst of Send: after this many messages the held
// writes go out and the history is appended, even if more follow.
const BurstMax = 256

// Flush writes what is held and appends the history of the messages sent
// so far (a --lines run calls it whenever its input pauses).
func (sd *Sender) Flush(ctx context.Context) error {
	sd.burst = 0
	if err := sd.release(); err != nil {
		return err
	}
	return sd.flushHistory(ctx)
}

// build makes the stanzas for one message along routes, refusing all of
// them if one is over the server's limit.
func (sd *Sender) build(routes []Route, out Outgoing) ([]*Message, [][]byte, error) {
	limit := sd.s.Conn().MaxStanza()
	msgs := make([]*Message, len(routes))
	data := make([][]byte, len(routes))
	sd.enc.reset()
	for i, r := range routes {
		m := BuildMessage(r, sd.o.Type, out.Subject, out.Body, out.InReplyTo)
		if out.ChatState != "" && sd.o.Type == "chat" {
			m.SetChatState(out.ChatState)
		}
		if out.Receipt {
			// XEP-0184 §5.1: a request rides on the message it is for.
			m.Request = &Empty{}
		}
		setOOB(m, out.OOBURL)
		wire := m
		if sd.o.E2E != nil {
			// m keeps the plaintext for the history; the wire copy is
			// sealed, and a failure sends nothing.
			sealed := *m
			if err := sd.o.E2E.Seal(&sealed); err != nil {
				return nil, nil, err
			}
			wire = &sealed
		}
		b, err := sd.enc.add(wire)
		if err != nil {
			return nil, nil, fmt.Errorf("encode message: %w", err)
		}
		if limit > 0 && len(b) > limit {
			return nil, nil, &StanzaTooLargeError{Size: len(b), Limit: limit}
		}
		msgs[i], data[i] = m, b
	}
	return msgs, data, nil
}

func (sd *Sender) release() error {
	if !sd.holding {
		return nil
	}
	sd.holding = false
	if err := sd.s.Conn().Release(); err != nil {
		return fmt.Errorf("write stanza: %w", err)
	}
	return nil
}

func (sd *Sender) flushHistory(ctx context.Context) error {
	if len(sd.history) == 0 {
		return nil
	}
	err := sd.env.History.Append(ctx, sd.history...)
	sd.history = sd.history[:0]
	return recorded("history", err)
}

// flushPlanner writes the state's bookkeeping of the messages sent.
func (sd *Sender) flushPlanner(ctx context.Context) error {
	return recorded("state file", sd.planner.Flush(ctx))
}

// RecordError: messages went out, but what is recorded after they go (the
// history, the state's bookkeeping) could not be written: a full disk, a
// state directory made read-only meanwhile. The messages are not sent
// again. What routes a message (a lock, a thread) is written before it
// goes: a send that cannot record that sends nothing.
type RecordError struct {
	What string // "history", "state file"
	Err  error
}

func (e *RecordError) Error() string {
	return "sent, but not recorded in the " + e.What + ": " + e.Err.Error()
}
func (e *RecordError) Unwrap() error { return e.Err }

func recorded(what string, err error) error {
	if err == nil {
		return nil
	}
	return &RecordError{What: what, Err: err}
}

// Finish writes what is held, confirms that the server routed every
// message without a bounce (a *DeliveryError otherwise), and records the
// rest of the history and the thread counts. On a connection of its own
// (StartSend) that waits for nothing more, no receipt and no reply, the
// stream's closing tag goes with the confirming ping, so closing costs no
// round trip of its own; nothing can be sent after it. Messages Send held
// (more) go in the same write as the ping. The state file's
// bookkeeping (Planner.Flush) is written while the server answers the
// ping; the history, after the answer, records messages it took.
func (sd *Sender) Finish(ctx context.Context) error {
	// What is held goes out with the confirming ping, in one write.
	sd.holding = false
	confirm := sd.bounces.Confirm
	if sd.own && sd.waiter == nil && !sd.receipts.Any() {
		confirm = sd.bounces.ConfirmClose
	}
	state := make(chan error, 1)
	go func() { state <- sd.flushPlanner(ctx) }()
	err := sd.confirmRooms(ctx)
	if err == nil {
		err = confirm(ctx, sd.s)
	}
	if err == nil {
		err = sd.flushHistory(ctx)
	}
	return errors.Join(err, <-state)
}

// confirmRooms pings the room of every occupant the messages went to
// (roomsToConfirm), so that a room's bounce has arrived before Finish
// decides. A room that answers the ping with an error has still answered
// in order.
func (sd *Sender) confirmRooms(ctx context.Context) error {
	for _, room := range roomsToConfirm(sd.routes) {
		if err := sd.s.Ping(ctx, room); err != nil {
			var iqe *IQError
			if !errors.As(err, &iqe) {
				return fmt.Errorf("confirm delivery through %s: %w", room, err)
			}
		}
	}
	return nil
}

// roomsToConfirm lists, once each, the rooms (bare JIDs) of the occupants
// among routes. The server answers the confirming ping itself, but a room
// bounces a private message in its own time: on ejabberd each room is a
// process of its own, and its error can arrive after the server's answer.
// A ping to the room passes the server and the room after the messages,
// so its answer comes after the room's bounce (XEP-0045 §7.5).
func roomsToConfirm(routes []Route) []string {
	var rooms []string
	for _, r := range routes {
		if !r.Conv.Occupant {
			continue
		}
		j, err := ParseJID(r.To)
		if err != nil || slices.Contains(rooms, j.Bare()) {
			continue
		}
		rooms = append(rooms, j.Bare())
	}
	return rooms
}

// Fail ends a send that failed part way (bad input in the middle of a
// --lines run): the messages already written are still confirmed and
// recorded, and their errors joined to failed.
func (sd *Sender) Fail(ctx context.Context, failed error) error {
	if sd.sent == 0 {
		return failed
	}
	return errors.Join(failed, sd.release(), sd.bounces.Confirm(ctx, sd.s), sd.flushHistory(ctx), sd.flushPlanner(ctx))
}

// WaitReceipts waits up to d for the XEP-0184 receipts the messages asked
// for (a *ReceiptError after d).
func (sd *Sender) WaitReceipts(ctx context.Context, d time.Duration) error {
	return sd.receipts.Wait(ctx, d)
}

// Close stops watching an attached session, and closes the session if
// StartSend opened it.
func (sd *Sender) Close() error {
	for _, stop := range sd.unwatch {
		stop()
	}
	sd.unwatch = nil
	if sd.own && sd.s != nil {
		return sd.s.Close()
	}
	return nil
}

// SendOne routes and sends one message to each of o.To over s, a session
// that is already online (listen's, the REPL's): it plans the routes,
// pings locks nobody has watched since they were recorded (D-9), records
// the conversations and threads, refuses the whole batch if a stanza is
// over the server's limit before writing any, and appends the history.
// It returns the messages written.
func SendOne(ctx context.Context, env Env, s *Session, o SendOptions, out Outgoing) ([]*Message, error) {
	sd, err := Attach(ctx, env, s, o)
	if err != nil {
		return nil, err
	}
	defer sd.Close()
	msgs, err := sd.Send(ctx, out, false)
	if err != nil {
		return msgs, errors.Join(err, sd.flushPlanner(ctx))
	}
	return msgs, errors.Join(sd.Flush(ctx), sd.flushPlanner(ctx))
}

// OriginalError: the message a reply names cannot be answered.
type OriginalError struct {
	ID      string
	Problem string   // "no-history", "unknown", "ambiguous", "type" or "peer"
	Type    string   // the message's type, for "type"
	Peer    string   // the bare JID the message is with, for "peer"
	Known   []string // the ids in the history, for "unknown"
}

func (e *OriginalError) Error() string {
	switch e.Problem {
	case "no-history":
		return "replying needs the history, which is off"
	case "unknown":
		return fmt.Sprintf("no message with id %q in the history", e.ID)
	case "ambiguous":
		return fmt.Sprintf("message id prefix %q is ambiguous", e.ID)
	case "type":
		return fmt.Sprintf("message %q is a %s, which is not answered", e.ID, e.Type)
	}
	return fmt.Sprintf("message %q is with %s", e.ID, e.Peer)
}

// FindMessage looks a message of account up in the history by its id or
// origin-id, ours or the peer's (the newest match wins); with prefix, a
// unique prefix of at least 4 characters will do. scanWarn, if not nil, is
// told of damaged history lines skipped.
func FindMessage(env Env, account, id string, prefix bool, scanWarn func(string)) (*statefile.Record, error) {
	if env.History == nil {
		return nil, &OriginalError{ID: id, Problem: "no-history"}
	}
	var exact, prefixed []statefile.Record
	var ids []string
	warnings, err := env.History.Scan(func(r statefile.Record) error {
		if r.Account != account {
			return nil
		}
		switch {
		case r.ID == id || r.OriginID == id:
			exact = append(exact[:0], r)
		case prefix && len(id) >= 4 && (strings.HasPrefix(r.ID, id) || strings.HasPrefix(r.OriginID, id)):
			prefixed = append(prefixed, r)
		}
		if r.ID != "" {
			ids = append(ids, r.ID)
		}
		return nil
	})
	for _, w := range warnings {
		if scanWarn != nil {
			scanWarn(w)
		}
	}
	switch {
	case err != nil:
		return nil, err
	case len(exact) > 0:
		return &exact[0], nil
	case len(prefixed) == 1:
		return &prefixed[0], nil
	case len(prefixed) > 1:
		return nil, &OriginalError{ID: id, Problem: "ambiguous"}
	}
	return nil, &OriginalError{ID: id, Problem: "unknown", Known: ids}
}

// Answerable says whether a message may be answered: a chat or normal
// message; headlines are never offered for reply (item 70), errors never
// answered (RFC 6120 §8.3.1).
func Answerable(r *statefile.Record) error {
	switch r.Type {
	case "chat", "normal":
		return nil
	}
	return &OriginalError{ID: r.ID, Problem: "type", Type: r.Type}
}

// FindOriginal is FindMessage (exact ids only) for a reply from account
// to peer: the message must be answerable and be with peer.
func FindOriginal(env Env, account, id string, peer JID, scanWarn func(string)) (*statefile.Record, error) {
	found, err := FindMessage(env, account, id, false, scanWarn)
	if err != nil {
		return nil, err
	}
	if err := Answerable(found); err != nil {
		return nil, &OriginalError{ID: id, Problem: "type", Type: found.Type}
	}
	if BareOf(found.Peer) != peer.Bare() {
		return nil, &OriginalError{ID: id, Problem: "peer", Peer: BareOf(found.Peer)}
	}
	return found, nil
}

// InReplyToOf is the In-Reply-To header of a reply to r: the original's
// id attribute (XEP-0201 0.3 §8), else its origin-id.
func InReplyToOf(r *statefile.Record) string {
	if r.ID != "" {
		return r.ID
	}
	return r.OriginID
}
