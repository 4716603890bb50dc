package session

// The rooms a listen joins (`listen --room`): the pure rule that says
// what a presence from a room means for us (RoomPresence), and Rooms,
// which joins on every connection, turns room traffic into events and
// keeps it away from the one-to-one rules (item 73): everything from a
// joined room, other than private messages, is handled here and never
// reaches Apply.

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// Room presence kinds (RoomPresence).
const (
	RoomOccupantOther  = iota // nothing for us: an occupant already there, a status change
	RoomSelfJoined            // our own presence: we are in
	RoomSelfCreated           // our own presence with 201: the join created the room
	RoomRefused               // an error presence for our join
	RoomKicked                // we were kicked (307): rejoin once
	RoomBanned                // we were banned (301): do not rejoin
	RoomDestroyed             // the room was destroyed: do not rejoin
	RoomSelfLeft              // we left for another reason: do not rejoin
	RoomSelfNick              // our nick changed (303)
	RoomOccupantJoined        // another occupant came in
	RoomOccupantLeft          // another occupant left
	RoomOccupantNick          // another occupant changed nick (303): NewNick
)

// RoomChange is what a presence from a room means.
type RoomChange struct {
	Kind    int
	Nick    string // the occupant's nick (ours for the Self kinds)
	NewNick string // RoomSelfNick, RoomOccupantNick
	Cond    string // RoomRefused
	Reason  string // kick, ban, destroy
}

// RoomPresence classifies p, from room, where our nick is nick and we
// are in (joined) or still joining (XEP-0045 §7.2, §7.6, §8.2, §9.1,
// §10.9).
func RoomPresence(p *Presence, room, nick string, joined bool) RoomChange {
	from, err := ParseJID(p.From)
	if err != nil || from.Bare() != room {
		return RoomChange{Kind: RoomOccupantOther}
	}
	if !joined {
		step := JoinAnswer(p, room, nick)
		switch step.Kind {
		case JoinedRoom:
			return RoomChange{Kind: RoomSelfJoined, Nick: step.Nick}
		case CreatedRoom:
			return RoomChange{Kind: RoomSelfCreated, Nick: step.Nick}
		case JoinRefused:
			return RoomChange{Kind: RoomRefused, Cond: step.Cond}
		}
		return RoomChange{Kind: RoomOccupantOther, Nick: from.Resource}
	}
	if from.Resource == "" || p.Type == "error" {
		return RoomChange{Kind: RoomOccupantOther}
	}
	x := p.MUCUser
	self := x.Has(StatusSelf) || from.Resource == nick
	var item MUCItem
	if x != nil && len(x.Items) > 0 {
		item = x.Items[0]
	}
	c := RoomChange{Nick: from.Resource, Reason: item.Reason}
	switch {
	case p.Type == "unavailable" && x.Has(StatusNickChange) && item.Nick != "":
		c.NewNick = item.Nick
		c.Kind = map[bool]int{true: RoomSelfNick, false: RoomOccupantNick}[self]
	case p.Type == "unavailable" && self && x != nil && x.Destroy != nil:
		c.Kind, c.Reason = RoomDestroyed, x.Destroy.Reason
	case p.Type == "unavailable" && self && x.Has(StatusBanned):
		c.Kind = RoomBanned
	case p.Type == "unavailable" && self && x.Has(StatusKicked):
		c.Kind = RoomKicked
	case p.Type == "unavailable" && self:
		c.Kind = RoomSelfLeft
	case p.Type == "unavailable":
		c.Kind = RoomOccupantLeft
	case p.Type == "" && !self:
		c.Kind = RoomOccupantJoined
	default:
		c.Kind = RoomOccupantOther
	}
	return c
}

// room phases in Rooms.
const (
	roomJoining = iota
	roomIn
	roomGone // refused, banned, destroyed, left: not rejoined
)

type listenRoom struct {
	t        RoomTarget
	nick     string
	phase    int
	subject  bool            // the subject that ends the join (§7.2.15) was seen
	occupant map[string]bool // the other occupants' nicks (bounded by maxOccupants)
	thread   string          // the REPL's current topic thread (D-13), muc_chat.go
	// sids: the room's disco#info offers an archive or stanza-ids, so a
	// stanza-id the room adds is its own (muc_catchup.go).
	sids bool
}

// Rooms are the rooms a listen is in. They outlive a connection: Join on
// every new one rejoins every room not gone.
type Rooms struct {
	mu      sync.Mutex
	env     Env
	account string
	logf    func(string, ...any)
	rooms   []*listenRoom
	// onChange, when set, is called (without the lock) after our own
	// state in a room changed: joined, left, nick (the REPL's prompt).
	onChange func()
}

// OnChange sets f to be called after our own state in a room changed.
func (r *Rooms) OnChange(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onChange = f
}

// NewRooms returns the rooms to join; logf gets one line for each room
// left for good, kicked from or refused.
func NewRooms(env Env, account JID, targets []RoomTarget, logf func(string, ...any)) *Rooms {
	r := &Rooms{env: env, account: account.Bare(), logf: logf}
	for _, t := range targets {
		r.rooms = append(r.rooms, &listenRoom{t: t, nick: t.Nick})
	}
	return r
}

// Join sends the join presence of every room not gone, on a new
// session: no history (maxstanzas 0), the password if any.
func (r *Rooms) Join(s *Session) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, lr := range r.rooms {
		if lr.phase == roomGone {
			continue
		}
		lr.phase, lr.subject, lr.occupant = roomJoining, false, map[string]bool{}
		if err := s.Conn().Send(JoinPresence(lr.t.Room.Bare(), lr.nick, lr.t.Password)); err != nil {
			return err
		}
	}
	return nil
}

// find is the room a stanza from bare JID comes from, or nil.
func (r *Rooms) find(bare string) *listenRoom {
	for _, lr := range r.rooms {
		if lr.t.Room.Bare() == bare {
			return lr
		}
	}
	return nil
}

// Joined reports whether bare is one of the rooms (joined, or being
// joined): a room is recognised by this set, not only by the type
// attribute (item 73).
func (r *Rooms) Joined(bare string) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	lr := r.find(bare)
	return lr != nil && lr.phase != roomGone
}

// Handle takes a stanza from one of the rooms. It returns handled false
// for anything else, and for private messages, which the one-to-one
// model keeps by the occupant's full JID (D-12); a private message from
// a room we are in is marked as one even without muc#user. Room traffic
// never reaches Apply, so it never touches a one-to-one lock (item 73).
func (r *Rooms) Handle(ctx context.Context, s *Session, v any) (ev Event, show, handled bool) {
	if r == nil {
		return Event{}, false, false
	}
	ev, show, handled = r.handle(ctx, s, v)
	if _, ok := v.(*Presence); ok && handled && ev.Own {
		r.mu.Lock()
		f := r.onChange
		r.mu.Unlock()
		if f != nil {
			f()
		}
	}
	return ev, show, handled
}

func (r *Rooms) handle(ctx context.Context, s *Session, v any) (ev Event, show, handled bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.env.Now()
	switch x := v.(type) {
	case *Message:
		lr := r.find(BareOf(x.From))
		if lr == nil || lr.phase == roomGone {
			return Event{}, false, false
		}
		if x.Type != "groupchat" && x.Type != "error" && strings.Contains(x.From, "/") {
			if x.MUCUser == nil {
				x.MUCUser = &Empty{} // XEP-0045 §7.5: receivers must not rely on the <x/>
			}
			return Event{}, false, false
		}
		// From the room itself, whatever its type: the room's, never a
		// one-to-one conversation with the room (item 73).
		ev, show, handled := lr.message(x)
		ev.Time = now
		if x.Delay != nil {
			if t, err := time.Parse(time.RFC3339Nano, x.Delay.Stamp); err == nil {
				ev.Time = t
			}
		}
		return ev, show, handled
	case *Presence:
		lr := r.find(BareOf(x.From))
		if lr == nil {
			return Event{}, false, false
		}
		ev, show := r.presence(ctx, s, lr, x)
		ev.Time = now
		return ev, show, true
	}
	return Event{}, false, false
}

// event is the Event of a message from lr (or archived by it).
func (lr *listenRoom) event(m *Message) Event {
	from, _ := ParseJID(m.From)
	thread := m.ThreadValue()
	if !ValidThread(thread) {
		thread = ""
	}
	return Event{Kind: KindMessage, From: m.From, To: m.To, Type: MessageType(m.Type), ID: m.ID, OriginID: originID(m),
		Thread: thread, Body: m.Body, Subject: m.Subject, Delayed: m.Delayed(), InReplyTo: m.Header("In-Reply-To"),
		OOBURL: OOBURLOf(m), Room: lr.t.Room.Bare(), Nick: from.Resource, Own: from.Resource != "" && from.Resource == lr.nick}
}

// message is a group chat message (or an error) from lr.
func (lr *listenRoom) message(m *Message) (Event, bool, bool) {
	ev := lr.event(m)
	if lr.sids {
		ev.roomSID = TrustedStanzaID(m, lr.t.Room.Bare()) // the room's own, as it offers stanza-ids
	}
	if m.Type == "error" {
		ev.Error = m.Error.Cond()
		return ev, true, true
	}
	if m.Body == "" {
		// The subject message that ends the join (§7.2.15) is the room's
		// current subject, not a change; an empty <subject/> says none
		// is set. Later ones are changes.
		first := !lr.subject
		lr.subject = true
		return ev, m.Subject != "" && !first && !ev.Delayed, true
	}
	// No room history is printed: with maxstanzas 0 none is sent, and a
	// delayed message that still comes is history.
	return ev, !ev.Delayed, true
}

// presence applies a presence from lr and returns its event, to be shown
// (with --presence) for another occupant's join, leave or nick change;
// what happens to us is said on stderr (logf).
func (r *Rooms) presence(ctx context.Context, s *Session, lr *listenRoom, p *Presence) (Event, bool) {
	room := lr.t.Room.Bare()
	c := RoomPresence(p, room, lr.nick, lr.phase == roomIn)
	if c.Kind == RoomOccupantNick || c.Kind == RoomOccupantLeft || c.Kind == RoomOccupantJoined {
		// Private conversations follow the occupant (item 76).
		_, err := r.env.Store.Update(ctx, func(st *statefile.State) error {
			if !FollowOccupant(st.Account(r.account).Conversations, room, c) {
				return errNoChange
			}
			return nil
		})
		if err != nil && !errors.Is(err, errNoChange) {
			r.logf("room %s: could not record an occupant's change: %v", room, err)
		}
	}
	lr.track(c, p)
	ev := Event{Kind: KindPresence, From: p.From, Type: p.Type, Show: p.Show, Status: p.Status, Room: room, Nick: c.Nick}
	switch c.Kind {
	case RoomSelfJoined:
		lr.phase, lr.nick = roomIn, c.Nick
		ev.Own = true
	case RoomSelfCreated:
		lr.phase = roomGone
		// A typo must not leave a room behind (§10.9); the answer is not
		// awaited, and the leave covers a refused destroy.
		s.Conn().Send(destroyIQ(room))
		s.Conn().Send(LeavePresence(room, c.Nick))
		r.logf("room %s: no such room (jab removed the room its join created); not joined", room)
		ev.Own = true
	case RoomRefused:
		lr.phase = roomGone
		r.logf("%s; not joined", (&RoomError{Room: room, Cond: c.Cond, Nick: lr.nick}).Error())
		ev.Own = true
	case RoomKicked:
		r.logf("room %s: kicked%s; rejoining once", room, reason(c.Reason))
		lr.phase, lr.subject = roomJoining, false
		s.Conn().Send(JoinPresence(room, lr.nick, lr.t.Password))
		ev.Own = true
	case RoomBanned:
		lr.phase = roomGone
		r.logf("room %s: banned%s; not rejoining", room, reason(c.Reason))
		ev.Own = true
	case RoomDestroyed:
		lr.phase = roomGone
		r.logf("room %s: destroyed%s; not rejoining", room, reason(c.Reason))
		ev.Own = true
	case RoomSelfLeft:
		lr.phase = roomGone
		r.logf("room %s: we are no longer in the room; not rejoining", room)
		ev.Own = true
	case RoomSelfNick:
		lr.nick = c.NewNick
		ev.Own = true
	case RoomOccupantJoined, RoomOccupantLeft, RoomOccupantNick:
		return ev, true
	}
	return ev, false
}

// maxOccupants bounds the nicks kept per room (for completion): a room's
// occupants are others' to multiply.
const maxOccupants = 5000

// track keeps lr's set of other occupants up to date: those present when
// we join (their presence comes before ours, §7.2.3), those who come,
// leave or change nick later.
func (lr *listenRoom) track(c RoomChange, p *Presence) {
	if lr.occupant == nil {
		lr.occupant = map[string]bool{}
	}
	add := func(nick string) {
		if nick != "" && nick != lr.nick && len(lr.occupant) < maxOccupants {
			lr.occupant[nick] = true
		}
	}
	switch c.Kind {
	case RoomOccupantJoined:
		add(c.Nick)
	case RoomOccupantLeft:
		delete(lr.occupant, c.Nick)
	case RoomOccupantNick:
		delete(lr.occupant, c.Nick)
		add(c.NewNick)
	case RoomOccupantOther:
		if lr.phase == roomJoining && p.Type == "" {
			add(c.Nick)
		}
	}
}

// Occupants are the nicks of the other occupants of room, sorted.
func (r *Rooms) Occupants(room string) []string {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	lr := r.find(room)
	if lr == nil {
		return nil
	}
	out := make([]string, 0, len(lr.occupant))
	for n := range lr.occupant {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func reason(r string) string {
	if r == "" {
		return ""
	}
	return " (" + r + ")"
}

// Nick is our nick in room, or "".
func (r *Rooms) Nick(room string) string {
	if r == nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if lr := r.find(room); lr != nil {
		return lr.nick
	}
	return ""
}
