package session

// The one-shot send to rooms (`jab send --room`): join each room without
// its history, send group chat messages, take the room's echo of each
// message as its delivery (XEP-0045 §7.4), leave. A join that created the
// room is a typo: the room is destroyed again and nothing is sent.

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// RoomTarget is one room to send to.
type RoomTarget struct {
	Room     JID    // bare room JID (ParseRoom)
	Nick     string // CheckNick'ed
	Password string // "" for none
}

// RoomSendOptions describe a send to rooms.
type RoomSendOptions struct {
	Account JID
	Rooms   []RoomTarget
	// Thread is the thread to continue; "" starts a new topic (D-13):
	// one fresh thread for all the messages of this send.
	Thread string
	// Timeout bounds the join and the wait for the echoes after the last
	// message.
	Timeout time.Duration
	// PM, with one room, sends private messages to the occupant with this
	// nick instead (XEP-0045 §7.5): type chat with the muc#user <x/>, in
	// the occupant's conversation, keyed by its full JID (D-12).
	PM string
}

// RoomSender sends to rooms it joined on a connection of its own.
type RoomSender struct {
	env     Env
	s       *Session
	o       RoomSendOptions
	account string
	thread  string

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change below
	rooms   []*roomState

	history []statefile.Record
	sent    int

	planner  *Planner // PM: the occupant's conversation
	routes   []Route  // PM: as committed; nil before the first message
	attached bool     // AttachRoomSend: the session is not ours
	unwatch  func()
}

type roomState struct {
	jid      string
	nick     string
	password string
	step     JoinStep // the last answer to our join
	answered bool
	retried  bool              // a nick conflict was retried once
	joined   bool              // we are in: a leave is owed
	pending  map[string]bool   // our message ids not yet echoed
	bounced  map[string]string // id -> condition
}

// StartRoomSend logs in on a one-shot resource, checks first (the one
// message of a send without --lines, or nil) against the server's size
// limit, and joins every room. A room that refuses us is a *RoomError; a
// room the join created is destroyed again and is a *RoomError with
// NoSuchRoom. No message is sent before every room was joined.
func StartRoomSend(ctx context.Context, env Env, cfg Config, o RoomSendOptions, first *Outgoing) (*RoomSender, error) {
	st, err := env.Store.Load()
	if err != nil {
		return nil, err
	}
	base, _ := ResourceFrom(st, o.Account.Bare())
	cfg.Resource = oneShotResource(base)
	rs := &RoomSender{env: env, o: o, account: o.Account.Bare(), thread: o.Thread, changed: make(chan struct{})}
	if rs.thread == "" {
		rs.thread = NewID() // D-13: a new topic
	}
	if o.PM != "" {
		occupant := JID{Local: o.Rooms[0].Room.Local, Domain: o.Rooms[0].Room.Domain, Resource: o.PM}
		rs.planner = PlannerFrom(env, SendOptions{Account: o.Account, To: []JID{occupant}, Type: "chat",
			Thread: o.Thread, Occupant: true}, st)
	}
	for _, t := range o.Rooms {
		rs.rooms = append(rs.rooms, &roomState{jid: t.Room.Bare(), nick: t.Nick, password: t.Password,
			pending: map[string]bool{}, bounced: map[string]string{}})
	}
	s, err := OpenHandler(ctx, cfg, rs.inbound)
	if err != nil {
		return nil, err
	}
	rs.s = s
	if first != nil {
		// Refused before any room sees us.
		if _, _, err := rs.build(*first); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := rs.join(ctx); err != nil {
		rs.leave()
		s.Close()
		return nil, err
	}
	return rs, nil
}

// inbound runs in the reader: it records answers to our joins, echoes and
// bounces. It never blocks.
func (rs *RoomSender) inbound(v any) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	changed := false
	for _, r := range rs.rooms {
		switch x := v.(type) {
		case *Presence:
			if r.answered {
				continue
			}
			if step := JoinAnswer(x, r.jid, r.nick); step.Kind != JoinOther {
				r.step, r.answered, changed = step, true, true
				if step.Kind == JoinedRoom || step.Kind == CreatedRoom {
					r.joined, r.nick = true, step.Nick
				}
			}
		case *Message:
			kind, id := EchoOf(x, r.jid, r.nick, func(id string) bool { return r.pending[id] })
			switch kind {
			case EchoOK:
				delete(r.pending, id)
				changed = true
			case EchoBounced:
				delete(r.pending, id)
				r.bounced[id] = x.Error.Cond()
				changed = true
			}
		}
	}
	if changed {
		close(rs.changed)
		rs.changed = make(chan struct{})
	}
}

// await waits until done (called under rs.mu) holds, or the deadline.
func (rs *RoomSender) await(ctx context.Context, deadline time.Time, done func() bool) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		rs.mu.Lock()
		ok, changed := done(), rs.changed
		rs.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-t.C:
			return ErrTimeout
		case <-ctx.Done():
			return ctx.Err()
		case <-rs.s.Done():
			return fmt.Errorf("connection lost: %w", rs.s.Err())
		}
	}
}

// join enters every room at once and waits for the answers; a nick
// conflict is retried once with a suffix (§7.2.9).
func (rs *RoomSender) join(ctx context.Context) error {
	for _, r := range rs.rooms {
		if err := rs.s.Conn().Send(JoinPresence(r.jid, r.nick, r.password)); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(rs.o.Timeout)
	for {
		err := rs.await(ctx, deadline, func() bool {
			for _, r := range rs.rooms {
				if !r.answered {
					return false
				}
			}
			return true
		})
		if errors.Is(err, ErrTimeout) {
			return fmt.Errorf("%w: joining the room: no answer within %s", ErrTimeout, rs.o.Timeout)
		}
		if err != nil {
			return fmt.Errorf("join room: %w", err)
		}
		retry := false
		rs.mu.Lock()
		for _, r := range rs.rooms {
			if r.step.Kind == JoinRefused && r.step.Cond == "conflict" && !r.retried {
				r.retried, r.answered, retry = true, false, true
				r.nick = RetryNick(r.nick, RandomSuffix(4))
				if err := rs.s.Conn().Send(JoinPresence(r.jid, r.nick, r.password)); err != nil {
					rs.mu.Unlock()
					return err
				}
			}
		}
		rs.mu.Unlock()
		if !retry {
			break
		}
	}
	var errs []error
	for _, r := range rs.rooms {
		switch r.step.Kind {
		case JoinRefused:
			errs = append(errs, &RoomError{Room: r.jid, Cond: r.step.Cond, Nick: r.nick})
		case CreatedRoom:
			// A typo must not leave a room behind: we own the room
			// the join created, so we destroy it (§10.9); the leave
			// that follows does it where the destroy was refused.
			if _, err := rs.s.Request(ctx, destroyIQ(r.jid)); err == nil {
				r.joined = false
			}
			errs = append(errs, &RoomError{Room: r.jid, Cond: NoSuchRoom, Nick: r.nick})
		}
	}
	return errors.Join(errs...)
}

// leave sends the unavailable presence to every room we are in.
func (rs *RoomSender) leave() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, r := range rs.rooms {
		if r.joined {
			rs.s.Conn().Send(LeavePresence(r.jid, r.nick))
			r.joined = false
		}
	}
}

// Nicks are the nicks we hold in the rooms, in the order of the options
// (a conflict or the service may have changed them).
func (rs *RoomSender) Nicks() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := make([]string, len(rs.rooms))
	for i, r := range rs.rooms {
		out[i] = r.nick
	}
	return out
}

// build makes one group chat message per room, refusing all of them if
// one is over the server's limit.
func (rs *RoomSender) build(out Outgoing) ([]*Message, [][]byte, error) {
	limit := rs.s.Conn().MaxStanza()
	msgs := make([]*Message, len(rs.rooms))
	data := make([][]byte, len(rs.rooms))
	var enc stanzaEncoder
	for i, r := range rs.rooms {
		// XEP-0045 §7.4 with an id and origin-id; D-13's thread.
		m := BuildMessage(Route{To: r.jid, Thread: rs.thread}, "groupchat", "", out.Body, out.InReplyTo)
		if rs.planner != nil {
			route := rs.planner.Preview()[0]
			if rs.routes != nil {
				route = rs.routes[0]
			}
			m = BuildMessage(route, "chat", "", out.Body, out.InReplyTo) // §7.5, item 77
		}
		setOOB(m, out.OOBURL)
		b, err := enc.add(m)
		if err != nil {
			return nil, nil, fmt.Errorf("encode message: %w", err)
		}
		if limit > 0 && len(b) > limit {
			return nil, nil, &StanzaTooLargeError{Size: len(b), Limit: limit}
		}
		msgs[i], data[i] = m, append([]byte(nil), b...)
	}
	return msgs, data, nil
}

// Send writes one group chat message to every room.
func (rs *RoomSender) Send(ctx context.Context, out Outgoing, more bool) ([]*Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	msgs, data, err := rs.build(out)
	if err != nil {
		return nil, err
	}
	if rs.planner != nil && rs.routes == nil {
		// The occupant's conversation is recorded before its first
		// message goes out (as for one-to-one sends).
		if rs.routes, err = rs.planner.Commit(ctx, "", out.Body); err != nil {
			return nil, err
		}
		if msgs, data, err = rs.build(out); err != nil {
			return nil, err
		}
	}
	for i, m := range msgs {
		rs.mu.Lock()
		rs.rooms[i].pending[m.ID] = true
		rs.mu.Unlock()
		if err := rs.s.Conn().SendRaw(data[i]); err != nil {
			return msgs[:i], err
		}
		rs.sent++
		if rs.env.History != nil {
			rs.history = append(rs.history, RoomSentRecord(rs.account, m, rs.rooms[i].nick, rs.env.Now()))
		}
	}
	return msgs, nil
}

// Flush appends the history of the messages sent so far.
func (rs *RoomSender) Flush(ctx context.Context) error {
	if len(rs.history) == 0 {
		return nil
	}
	err := rs.env.History.Append(ctx, rs.history...)
	rs.history = rs.history[:0]
	return err
}

// Finish waits up to the timeout for the room's echo of every message
// (a *DeliveryError for those bounced or not echoed), leaves the rooms,
// records the history and closes the stream.
func (rs *RoomSender) Finish(ctx context.Context) error {
	err := rs.confirm(ctx)
	rs.leave()
	if rs.planner != nil {
		err = errors.Join(err, rs.planner.Flush(ctx))
	}
	return errors.Join(err, rs.Flush(ctx), rs.close())
}

// Fail ends a send that failed part way: what was sent is still
// confirmed.
func (rs *RoomSender) Fail(ctx context.Context, failed error) error {
	if rs.sent == 0 {
		rs.leave()
		return errors.Join(failed, rs.close())
	}
	return errors.Join(failed, rs.Finish(ctx))
}

func (rs *RoomSender) confirm(ctx context.Context) error {
	if rs.planner != nil {
		// A private message is not echoed. The room handles our stanzas
		// in order, so once it answered a request sent after the last
		// message, any bounce of it (item-not-found: no such occupant)
		// has arrived; an error answer is an answer too.
		if _, err := rs.s.Request(ctx, discoInfoIQ(rs.rooms[0].jid)); err != nil {
			var iqe *IQError
			if !errors.As(err, &iqe) {
				return fmt.Errorf("confirm the private message: %w", err)
			}
		}
		rs.mu.Lock()
		clear(rs.rooms[0].pending)
		rs.mu.Unlock()
	}
	err := rs.await(ctx, time.Now().Add(rs.o.Timeout), func() bool {
		for _, r := range rs.rooms {
			if len(r.pending) > 0 {
				return false
			}
		}
		return true
	})
	if err != nil && !errors.Is(err, ErrTimeout) {
		return fmt.Errorf("wait for the room's echo: %w", err)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var failed []string
	for _, r := range rs.rooms {
		for range r.pending {
			failed = append(failed, fmt.Sprintf("%s: no echo within %s", r.jid, rs.o.Timeout))
		}
		for _, cond := range r.bounced {
			failed = append(failed, r.jid+": "+cond)
		}
	}
	if len(failed) > 0 {
		return &DeliveryError{Failed: failed, Total: rs.sent}
	}
	return nil
}

func (rs *RoomSender) close() error {
	if rs.attached {
		// The hand-off: listen's session stays open.
		if rs.unwatch != nil {
			rs.unwatch()
			rs.unwatch = nil
		}
		return nil
	}
	if rs.s == nil {
		return nil
	}
	err := rs.s.Close()
	rs.s = nil
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// WaitReceipts has nothing to wait for: the echo is the confirmation.
func (rs *RoomSender) WaitReceipts(context.Context, time.Duration) error { return nil }

// WaitReply is not offered for rooms.
func (rs *RoomSender) WaitReply(context.Context, time.Duration) (Event, error) {
	return Event{}, errors.New("waiting for a reply in a room is not supported")
}

// Close closes the stream if Finish did not.
func (rs *RoomSender) Close() error { return rs.close() }

// FindRoomMessage is FindMessage (exact ids only) for a reply in room: the
// message must be a group chat message of that room, and the reply takes
// its thread (D-13).
func FindRoomMessage(env Env, account, id string, room JID) (*statefile.Record, error) {
	found, err := FindMessage(env, account, id, false, nil)
	if err != nil {
		return nil, err
	}
	if found.Type != "groupchat" {
		return nil, &OriginalError{ID: id, Problem: "type", Type: found.Type}
	}
	if BareOf(found.Peer) != room.Bare() {
		return nil, &OriginalError{ID: id, Problem: "peer", Peer: BareOf(found.Peer)}
	}
	return found, nil
}

// discoInfoIQ asks to for its disco#info (XEP-0030).
func discoInfoIQ(to string) *IQ {
	return &IQ{To: to, Type: "get", ID: NewID(), Payload: &RawElement{XMLName: xml.Name{Space: nsDiscoInfo, Local: "query"}}}
}
