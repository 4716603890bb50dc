package commands

// The REPL's group chat commands: /join, /part, /rooms, /msg. The rooms
// are session.Rooms, kept by the listen loop; the conversation model is
// session.Chat.

import (
	"fmt"

	"github.com/jab-xmpp/jab/session"
)

func (r *repl) cmdJoin(args []string, _ string) error {
	if len(args) < 1 || len(args) > 2 {
		return usagef("/join team@conference.example.org [NICK]", "/join takes a room and an optional nick")
	}
	room, err := session.ParseRoom(args[0])
	if err != nil {
		return usagef("a room looks like team@conference.example.org", "%w", err)
	}
	nick := ""
	if len(args) == 2 {
		nick = args[1]
	}
	t, err := roomTarget(r.ctx, r.env, r.g, room, nick, &roomSecret{})
	if err != nil {
		return err
	}
	if err := r.rooms.Add(r.chat.Current(), t); err != nil {
		return err
	}
	r.chat.To(room)
	r.info("joining %s as %s; lines go to the room", sanitize(room.Bare()), sanitize(t.Nick))
	return nil
}

func (r *repl) cmdPart(args []string, _ string) error {
	room := r.chat.Peer()
	if len(args) == 1 {
		j, err := session.ParseRoom(args[0])
		if err != nil {
			return usagef("", "%w", err)
		}
		room = j
	} else if len(args) > 1 {
		return usagef("/part [ROOM]", "/part takes at most one room")
	}
	ok, err := r.rooms.Remove(r.chat.Current(), room.Bare())
	if !ok {
		return usagef("/rooms lists them", "not in room %s", sanitize(room.Bare()))
	}
	r.info("left %s", sanitize(room.Bare()))
	return err
}

func (r *repl) cmdRooms([]string, string) error {
	list := r.rooms.List()
	if len(list) == 0 {
		r.info("no rooms; /join ROOM joins one")
	}
	for _, ri := range list {
		state := "joined"
		if !ri.Joined {
			state = "not in the room"
		}
		r.info("%s as %s (%s)", sanitize(ri.Room), sanitize(ri.Nick), state)
	}
	return nil
}

func (r *repl) cmdMsg(args []string, rest string) error {
	room := r.chat.Peer()
	if !r.chat.IsRoom(room) {
		return usagef("/join a room, or /to it, first", "/msg sends to an occupant of the conversee room")
	}
	if len(args) < 2 {
		return usagef("/msg NICK TEXT", "/msg takes a nick and the text")
	}
	nick := args[0]
	text := rest[len(nick):]
	for len(text) > 0 && text[0] == ' ' {
		text = text[1:]
	}
	occupant, err := session.ParseJID(fmt.Sprintf("%s/%s", room.Bare(), nick))
	if err != nil {
		return usagef("", "/msg: %w", err)
	}
	return r.chat.SayTo(r.ctx, occupant, text)
}

// roomNicks are the other occupants' nicks in the conversee room, for
// completion; none when the conversee is not a room.
func (r *repl) roomNicks() []string {
	room := r.chat.Peer()
	if !r.chat.IsRoom(room) {
		return nil
	}
	return r.rooms.Occupants(room.Bare())
}

// roomNames are the rooms, for /part.
func (r *repl) roomNames() []string {
	var out []string
	for _, ri := range r.rooms.List() {
		out = append(out, ri.Room)
	}
	return out
}

// roomPrompt is "ROOM as NICK #thread> " for a room conversee: where a
// line goes, as whom, and in which topic thread (D-13; #new before the
// first line and after /thread new), and "(joining)" until the room has
// let us in.
func (r *repl) roomPrompt(room session.JID) string {
	ri, _ := r.rooms.Info(room.Bare())
	thread := "#new"
	if ri.Thread != "" && !r.chat.Pending(room).NewThread {
		thread = r.colourThread(ri.Thread, "#"+shortThread(ri.Thread))
	}
	p := sanitize(ri.Room) + " as " + sanitize(ri.Nick) + " " + thread
	if !ri.Joined {
		p += " (joining)"
	}
	return p + "> "
}
