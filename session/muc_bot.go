package session

// A bot in a room (`listen --room --exec`). Answering every group chat
// message would be noise, and two bots in one room would answer each other
// for ever; so a bot answers only a message that addresses it by nick, in
// the convention of IRC and XMPP clients ("nick: …" or "nick, …"), never
// our own echo, a delayed or archived message (D-15) or a subject. The
// reply goes to the room as group chat in the message's thread (D-13),
// with In-Reply-To, and touches no one-to-one state (item 73).

import (
	"context"
	"strings"
	"unicode/utf8"
)

// Addressed reports whether body addresses nick: it starts with the nick
// (case-insensitively) followed by ':' or ','.
func Addressed(body, nick string) bool {
	if nick == "" || len(body) <= len(nick) {
		return false
	}
	head := body[:len(nick)]
	if !utf8.ValidString(head) || !strings.EqualFold(head, nick) {
		return false
	}
	switch body[len(nick)] {
	case ':', ',':
		return true
	}
	return false
}

// roomEligible is Eligible for a message of a joined room.
func (b *Bot) roomEligible(ev Event) bool {
	return ev.Kind == KindMessage && ev.Type == "groupchat" && !ev.Own && !ev.Delayed && !ev.Archived && ev.Error == "" &&
		ev.Body != "" && Addressed(ev.Body, b.o.Rooms.Nick(ev.Room))
}

// RoomReply is the group chat answer to ev: to its room, in its thread,
// with In-Reply-To (XEP-0201 0.3 §8).
func RoomReply(ev Event, body string) *Message {
	return BuildMessage(Route{To: ev.Room, Thread: ev.Thread}, "groupchat", "", body, ev.ID)
}

// roomReply sends the answer on the current session and records it in
// the history (its echo, our own, is not recorded).
func (b *Bot) roomReply(ctx context.Context, ev Event, body string) error {
	s, err := b.live.WaitAfter(ctx, nil)
	if err != nil {
		return err
	}
	m := RoomReply(ev, body)
	if err := s.Conn().Send(m); err != nil {
		return err
	}
	if b.env.History == nil {
		return nil
	}
	return b.env.History.Append(ctx, RoomSentRecord(b.o.Account.Bare(), m, b.o.Rooms.Nick(ev.Room), b.env.Now()))
}
