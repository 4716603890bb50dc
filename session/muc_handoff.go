package session

// The hand-off of a group chat send: a `jab send --room` whose rooms the
// running listen is in is sent on listen's session, as the listen's
// occupant, and confirmed by the room's echo as on a connection of its
// own; no join, no leave. A send to a room the listen is not in is
// refused ("room"), and the client joins on its own.

import (
	"context"
	"errors"
	"time"
)

// handedSender is what the hand-off drives: a Sender, or a RoomSender
// attached to the observer's session.
type handedSender interface {
	Send(ctx context.Context, out Outgoing, more bool) ([]*Message, error)
	Flush(ctx context.Context) error
	Finish(ctx context.Context) error
	Fail(ctx context.Context, failed error) error
	WaitReceipts(ctx context.Context, d time.Duration) error
	WaitReply(ctx context.Context, d time.Duration) (Event, error)
	Close() error
	Slots // upload_run.go
	written() int
	maxStanza() int
	msgType() string
}

func (sd *Sender) written() int    { return sd.sent }
func (sd *Sender) maxStanza() int  { return sd.s.Conn().MaxStanza() }
func (sd *Sender) msgType() string { return sd.o.Type }

func (rs *RoomSender) written() int    { return rs.sent }
func (rs *RoomSender) maxStanza() int  { return rs.s.Conn().MaxStanza() }
func (rs *RoomSender) msgType() string { return "groupchat" }

// errNotInRoom: a group chat send to a room the observer is not in.
var errNotInRoom = errors.New("not in the room")

// attachAny is attach, or for a group chat send attachRoom.
func (h *HandoffServer) attachAny(s *Session, hs *handoffSend) (handedSender, error) {
	if hs.Type != "groupchat" {
		return h.attach(s, hs)
	}
	return h.attachRoom(s, hs)
}

// attachRoom returns a RoomSender on s for rooms the observer is in.
func (h *HandoffServer) attachRoom(s *Session, hs *handoffSend) (*RoomSender, error) {
	if len(hs.To) == 0 {
		return nil, errors.New("no room")
	}
	var targets []RoomTarget
	for _, t := range hs.To {
		j, err := ParseRoom(t)
		if err != nil {
			return nil, err
		}
		nick, in := h.o.Rooms.in(j.Bare())
		if !in {
			return nil, errNotInRoom
		}
		targets = append(targets, RoomTarget{Room: j, Nick: nick})
	}
	env := h.env
	env.History = nil
	if hs.History {
		env.History = env.Store.History(max(hs.HistoryMax, 1))
	}
	return AttachRoomSend(env, s, RoomSendOptions{Account: h.o.Account, Rooms: targets, Thread: hs.Thread, Timeout: h.o.Timeout}), nil
}

// in reports whether we are in room, and our nick there.
func (r *Rooms) in(room string) (string, bool) {
	if r == nil {
		return "", false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	lr := r.find(room)
	if lr == nil || lr.phase != roomIn {
		return "", false
	}
	return lr.nick, true
}

// AttachRoomSend is a RoomSender on a session that is in o.Rooms already
// (listen's, as o.Rooms[i].Nick) and read by someone else: it watches
// the session for the echoes until Close, and neither leaves nor closes.
func AttachRoomSend(env Env, s *Session, o RoomSendOptions) *RoomSender {
	rs := &RoomSender{env: env, s: s, o: o, account: o.Account.Bare(), thread: o.Thread, changed: make(chan struct{}), attached: true}
	if rs.thread == "" {
		rs.thread = NewID() // D-13: a new topic
	}
	for _, t := range o.Rooms {
		rs.rooms = append(rs.rooms, &roomState{jid: t.Room.Bare(), nick: t.Nick, answered: true,
			step: JoinStep{Kind: JoinedRoom, Nick: t.Nick}, pending: map[string]bool{}, bounced: map[string]string{}})
	}
	rs.unwatch = s.Watch(rs.inbound)
	return rs
}
