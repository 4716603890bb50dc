package session

// Item 73 for a one-to-one send to a full JID: a room's occupant
// (room@service/nick) is not a resource of a contact. A full JID with no
// conversation stored at all is asked about with disco#info (XEP-0030) of
// its bare JID; a room (identity category "conference", XEP-0045 §6.4)
// makes it an occupant's conversation, keyed by the full JID (D-12), and
// never a lock on the room.

import (
	"context"
	"encoding/xml"
)

// IsRoomInfo reports whether a disco#info answer's inner XML names a
// group chat room (an identity of category "conference").
func IsRoomInfo(inner []byte) bool {
	var q struct {
		Identity []struct {
			Category string `xml:"category,attr"`
		} `xml:"identity"`
	}
	if len(inner) > 64<<10 || xml.Unmarshal(append(append([]byte("<q>"), inner...), "</q>"...), &q) != nil {
		return false
	}
	for _, id := range q.Identity {
		if id.Category == "conference" {
			return true
		}
	}
	return false
}

// unknownFull lists the recipients given as full JIDs with no
// conversation stored, neither under the full JID nor the bare one.
func (p *Planner) unknownFull() []JID {
	if p.o.Occupant {
		return nil
	}
	a := p.state.Accounts[p.o.Account.Bare()]
	var out []JID
	for _, to := range p.o.To {
		if !to.IsFull() || (a != nil && (a.Conversations[to.String()] != nil || a.Conversations[to.Bare()] != nil)) {
			continue
		}
		out = append(out, to)
	}
	return out
}

// recognizeRooms asks disco#info about the bare JID of every unknown full
// JID; an occupant's is routed as one (item 73, D-12).
func (sd *Sender) recognizeRooms(ctx context.Context) {
	for _, j := range sd.planner.unknownFull() {
		iq, err := sd.s.Request(ctx, discoInfoIQ(j.Bare()))
		if err == nil && iq != nil && iq.Payload != nil && IsRoomInfo(iq.Payload.Inner) {
			if sd.planner.occupants == nil {
				sd.planner.occupants = map[string]bool{}
			}
			sd.planner.occupants[j.String()] = true
		}
	}
}
