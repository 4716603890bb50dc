package session

// A room's own archive (XEP-0313 on a MUC service, "muc#mam"): listen
// --room catches each room up from the last message it saw in that room,
// as it catches the account up from the account's archive (catchup.go,
// mam.go), and never from the room history a join may ask for (the join
// asks for none, §7.2.14).
//
// The position is per room (statefile Account.RoomArchive): the XEP-0359
// stanza-id the room gave the newest message of it that listen saw, live
// or caught up. A stanza-id counts only when the room's disco#info offers
// an archive or stanza-ids, that is, when the room is the one that adds
// them and strips any an occupant forged (item 88 for rooms).
//
// The query goes to the room after the join presence: the room handles
// our stanzas in order, so what it archived before the join took effect
// is in the answer, and what came after reaches us live, held back until
// the catch-up is over and then recognised as printed already. Caught-up
// messages are archived (D-15): printed once, marked archived, never
// handed to --exec.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// roomArchive is the room a catchUp reads the archive of.
type roomArchive struct {
	rooms *Rooms
	jid   string // bare room JID
}

// AcceptRoomResult is AcceptResult for a query of room's archive (item
// 87): the result must come from the room itself, for the open query,
// and forward one group chat message of that room.
func AcceptRoomResult(m *Message, room, qid string) (inner *Message, id, stamp string, drop string) {
	if m.MAMResult != nil && m.From != room {
		return nil, "", "", fmt.Sprintf("archive result from %q, not the room %s queried (item 87)", m.From, room)
	}
	inner, id, stamp, drop = acceptResult(m, qid)
	if drop != "" {
		return nil, "", "", drop
	}
	if BareOf(inner.From) != room || inner.Type != "groupchat" {
		return nil, "", "", fmt.Sprintf("archive result of room %s forwarding a %q message from %q", room, inner.Type, inner.From)
	}
	return inner, id, stamp, ""
}

// moveRoomArchive records id as room's position and reports whether it
// changed.
func moveRoomArchive(a *statefile.Account, room, id string) bool {
	if id == "" || a.RoomArchive[room] == id {
		return false
	}
	if a.RoomArchive == nil {
		a.RoomArchive = map[string]string{}
	}
	a.RoomArchive[room] = id
	return true
}

// The catchUp of a room differs from the account's in these.

// stored is the position the catch-up starts after.
func (c *catchUp) stored(a *statefile.Account) string {
	if c.room != nil {
		return a.RoomArchive[c.room.jid]
	}
	return a.ArchiveLast
}

// move records id as the position.
func (c *catchUp) move(a *statefile.Account, id string) bool {
	if c.room != nil {
		return moveRoomArchive(a, c.room.jid, id)
	}
	return moveArchive(a, id)
}

// to is whom the query goes to: "" for the account's own archive.
func (c *catchUp) to() string {
	if c.room != nil {
		return c.room.jid
	}
	return ""
}

// name names the archive in messages.
func (c *catchUp) name() string {
	if c.room != nil {
		return "room " + c.room.jid
	}
	return c.account
}

// of is " of room R" for warnings about a room's archive.
func (c *catchUp) of() string {
	if c.room != nil {
		return " of room " + c.room.jid
	}
	return ""
}

// accept checks a result against the open query.
func (c *catchUp) accept(m *Message, qid string) (*Message, string, string, string) {
	if c.room != nil {
		return AcceptRoomResult(m, c.room.jid, qid)
	}
	return AcceptResult(m, c.account, qid)
}

// keyOf is the message identity (messageKeys) of an archive id: a room's
// ids are the room's, not the account archive's.
func (c *catchUp) keyOf(id string) string {
	if c.room != nil {
		return roomKey(c.room.jid, id)
	}
	return id
}

func roomKey(room, id string) string {
	if id == "" {
		return ""
	}
	return room + "\x00" + id
}

// roomKey is the identity of ev's room stanza-id, or "".
func (ev Event) roomKey() string { return roomKey(ev.Room, ev.roomSID) }

// roomApply takes a new archived message of the room: its position and
// history are recorded before it is printed, as for a live one.
func (c *catchUp) roomApply(ctx context.Context, inner *Message, id, stamp string, keys []string) error {
	ev, show := c.room.rooms.archived(c.room.jid, inner, stamp, c.env.Now())
	ev.roomSID = id
	c.seen.add(keys)
	if err := c.room.rooms.record(ctx, ev, show); err != nil {
		return err
	}
	c.applied++
	if !show {
		return nil
	}
	return c.emit(ev)
}

// archived is the Event of a message room archived: delayed, archived,
// at the archive's time; shown when it has a body.
func (r *Rooms) archived(room string, m *Message, stamp string, now time.Time) (Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lr := r.find(room)
	if lr == nil {
		return Event{}, false
	}
	ev := lr.event(m)
	ev.Delayed, ev.Archived, ev.Time = true, true, now
	if t, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
		ev.Time = t
	}
	return ev, ev.Body != ""
}

// record keeps what a room message changes before it is printed: the
// room's archive position (its stanza-id) and, for a message shown that
// is not our own, the history record, so that `threads` shows the room's
// threads (grouped under the room, KeyIn) with each message's nick; our
// own are recorded by the send that wrote them.
func (r *Rooms) record(ctx context.Context, ev Event, show bool) error {
	if ev.roomSID != "" {
		_, err := r.env.Store.Update(ctx, func(st *statefile.State) error {
			return changedIf(moveRoomArchive(st.Account(r.account), ev.Room, ev.roomSID))
		})
		if err != nil && !errors.Is(err, errNoChange) {
			return err
		}
	}
	if show && !ev.Own && ev.Body != "" && r.env.History != nil {
		if err := r.env.History.Append(ctx, ev.record(r.account, statefile.DirIn)); err != nil {
			r.logf("room %s: could not record a message in the history: %v", ev.Room, err)
		}
	}
	return nil
}

// catchUp runs after the joins on a new session: each room's disco#info
// says whether the room keeps an archive (XEP-0313 §6.1) and adds
// stanza-ids; a room that does is caught up from its stored position
// (base configures the run: --no-catch-up, --since, the limits).
func (r *Rooms) catchUp(ctx context.Context, req Requester, base catchUp) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	var rooms []string
	for _, lr := range r.rooms {
		if lr.phase != roomGone {
			rooms = append(rooms, lr.t.Room.Bare())
		}
	}
	r.mu.Unlock()
	for _, room := range rooms {
		feats, err := Disco(req, room)
		var lost *connLost
		switch {
		case errors.As(err, &lost) || ctx.Err() != nil:
			return err
		case err != nil:
			base.env.debugf("room %s: disco#info: %v; no archive", room, err)
			feats = nil
		}
		r.mu.Lock()
		if lr := r.find(room); lr != nil {
			lr.sids = feats[nsMAM] || feats[nsSID]
		}
		r.mu.Unlock()
		switch {
		case !feats[nsMAM]:
			base.env.debugf("room %s keeps no archive (no %s): no catch-up", room, nsMAM)
			continue
		case base.o.Off:
			continue
		}
		c := base
		c.room = &roomArchive{rooms: r, jid: room}
		if err := c.phase(ctx, true); err != nil {
			return err
		}
	}
	return nil
}
