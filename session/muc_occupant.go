package session

// Private conversations with room occupants follow the occupant (D-12,
// item 76): a nick change (303) moves the conversation to the new nick,
// and the old key forwards to it, so a conversee still named by the old
// nick reaches the new one; an occupant who left is marked gone until the
// nick comes back. Never does a conversation fall back to the room.

import (
	"slices"

	"github.com/jab-xmpp/jab/statefile"
)

// FollowOccupant applies c, a change of another occupant of room, to an
// account's conversations and reports whether any changed.
func FollowOccupant(convs map[string]*statefile.Conversation, room string, c RoomChange) bool {
	full := room + "/" + c.Nick
	changed := false
	switch c.Kind {
	case RoomOccupantNick:
		next := room + "/" + c.NewNick
		if cv := convs[full]; cv != nil && cv.Occupant && cv.Peer == full {
			moved := *cv
			moved.Peer, moved.Gone = next, slices.DeleteFunc(slices.Clone(cv.Gone), func(g string) bool { return g == next })
			convs[next] = &moved
			changed = true
		}
		for _, cv := range convs {
			if cv.Occupant && cv.Peer == full {
				cv.Peer = next // the old key forwards to the new nick
				changed = true
			}
		}
	case RoomOccupantLeft:
		for _, cv := range convs {
			if cv.Occupant && cv.Peer == full && !slices.Contains(cv.Gone, full) {
				cv.Gone = append(cv.Gone, full)
				if len(cv.Gone) > maxGone {
					cv.Gone = cv.Gone[len(cv.Gone)-maxGone:]
				}
				changed = true
			}
		}
	case RoomOccupantJoined:
		for _, cv := range convs {
			if cv.Occupant && cv.Peer == full && slices.Contains(cv.Gone, full) {
				cv.Gone = slices.DeleteFunc(cv.Gone, func(g string) bool { return g == full })
				changed = true
			}
		}
	}
	return changed
}

// OccupantGone reports whether a conversation with an occupant is with
// one who left the room (FollowOccupant).
func OccupantGone(c statefile.Conversation) bool {
	return c.Occupant && slices.Contains(c.Gone, c.Peer)
}
