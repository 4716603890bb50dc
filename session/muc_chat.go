package session

// Rooms in the REPL: /join and /part change listen's rooms (Rooms) on the
// live session, and a room conversee gets group chat messages in the
// room's current topic thread (D-13: one thread per room until /thread
// new), never through the one-to-one planner (item 73).

import "context"

// RoomInfo describes one of the rooms for /rooms and the prompt.
type RoomInfo struct {
	Room, Nick string
	Joined     bool   // in the room (not joining, not gone)
	Thread     string // the current topic thread (D-13); "" until the first line
}

// Add joins t on s (nil: at the next connection) and keeps it joined.
func (r *Rooms) Add(s *Session, t RoomTarget) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	lr := r.find(t.Room.Bare())
	if lr == nil {
		lr = &listenRoom{t: t, nick: t.Nick}
		r.rooms = append(r.rooms, lr)
	}
	lr.t, lr.nick, lr.phase, lr.subject, lr.occupant = t, t.Nick, roomJoining, false, map[string]bool{}
	if s == nil {
		return nil
	}
	return s.Conn().Send(JoinPresence(t.Room.Bare(), t.Nick, t.Password))
}

// Remove leaves room on s and forgets it; false if it was not one.
func (r *Rooms) Remove(s *Session, room string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, lr := range r.rooms {
		if lr.t.Room.Bare() == room {
			r.rooms = append(r.rooms[:i], r.rooms[i+1:]...)
			if s == nil || lr.phase == roomGone {
				return true, nil
			}
			return true, s.Conn().Send(LeavePresence(room, lr.nick))
		}
	}
	return false, nil
}

// List describes the rooms, in the order they were added.
func (r *Rooms) List() []RoomInfo {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RoomInfo, 0, len(r.rooms))
	for _, lr := range r.rooms {
		out = append(out, lr.info())
	}
	return out
}

// Info describes room, if it is one of the rooms.
func (r *Rooms) Info(room string) (RoomInfo, bool) {
	if r == nil {
		return RoomInfo{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if lr := r.find(room); lr != nil {
		return lr.info(), true
	}
	return RoomInfo{}, false
}

func (lr *listenRoom) info() RoomInfo {
	return RoomInfo{Room: lr.t.Room.Bare(), Nick: lr.nick, Joined: lr.phase == roomIn, Thread: lr.thread}
}

// topic is room's current topic thread (D-13), started when first asked
// for or after newTopic.
func (r *Rooms) topic(room string, fresh bool) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	lr := r.find(room)
	if lr == nil {
		return ""
	}
	if lr.thread == "" || fresh {
		lr.thread = NewID()
	}
	return lr.thread
}

// IsRoom reports whether j is one of the chat's rooms (a bare room JID).
func (c *Chat) IsRoom(j JID) bool { return !j.IsFull() && c.o.Rooms.Joined(j.Bare()) }

// SayTo sends body to peer, which need not be the conversee (/msg: a
// private message to an occupant of a room, D-12).
func (c *Chat) SayTo(ctx context.Context, peer JID, body string) error {
	return c.send(ctx, peer, Outgoing{Body: body}, nil)
}

// sayRoom sends a group chat message to room in its current topic thread
// (a new one after /thread new), with the history record; the room's echo
// is printed as our own message.
func (c *Chat) sayRoom(ctx context.Context, room JID, body, oob string) error {
	s, err := c.Session()
	if err != nil {
		return err
	}
	c.mu.Lock()
	pend := c.pending[room.Bare()]
	delete(c.pending, room.Bare())
	c.mu.Unlock()
	thread := c.o.Rooms.topic(room.Bare(), pend.NewThread)
	m := BuildMessage(Route{To: room.Bare(), Thread: thread}, "groupchat", "", body, "")
	setOOB(m, oob)
	if err := c.call(func() error { return s.Conn().Send(m) }); err != nil {
		return err
	}
	if c.env.History == nil {
		return nil
	}
	return c.env.History.Append(ctx, RoomSentRecord(c.o.Account.Bare(), m, c.o.Rooms.Nick(room.Bare()), c.env.Now()))
}
