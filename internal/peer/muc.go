package peer

// Group chat (XEP-0045) for the tests' other occupants: create a room,
// configure it, join, ban, and ask the service what exists.

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
)

// Join enters room as nick (no history) with an optional password and
// waits for our own presence (status 110). It returns that presence.
func (p *Peer) Join(t testing.TB, room, nick, password string) *session.Presence {
	t.Helper()
	p.Send(t, session.JoinPresence(room, nick, password))
	return p.WaitPresence(t, 10*time.Second, func(pr *session.Presence) bool {
		return pr.From == room+"/"+nick && (pr.MUCUser.Has(session.StatusSelf) || pr.Type == "error")
	})
}

// CreateRoom creates room, joining it as nick, and unlocks it with the
// configuration fields given (muc#roomconfig_… to values; none for an
// instant room, §10.1.2). The peer stays in the room as its owner.
func (p *Peer) CreateRoom(t testing.TB, room, nick string, fields map[string]string) {
	t.Helper()
	pr := p.Join(t, room, nick, "")
	if pr.Type == "error" || !pr.MUCUser.Has(session.StatusCreated) {
		t.Fatalf("peer %s: room %s not created: %s", p.JID, room, p.describe(pr))
	}
	p.Configure(t, room, fields)
}

// Configure submits the room configuration form with fields.
func (p *Peer) Configure(t testing.TB, room string, fields map[string]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>`)
	for k, v := range fields {
		fmt.Fprintf(&b, "<field var='%s'><value>%s</value></field>", xmlText(k), xmlText(v))
	}
	b.WriteString(`</x>`)
	p.iq(t, room, "set", "http://jabber.org/protocol/muc#owner", b.String())
}

// SetAffiliation sets jid's affiliation in room ("outcast" bans,
// "member" admits to a members-only room).
func (p *Peer) SetAffiliation(t testing.TB, room, jid, affiliation string) {
	t.Helper()
	p.iq(t, room, "set", "http://jabber.org/protocol/muc#admin",
		fmt.Sprintf("<item affiliation='%s' jid='%s'/>", xmlText(affiliation), xmlText(jid)))
}

// Kick removes nick from room (role none, §8.2).
func (p *Peer) Kick(t testing.TB, room, nick string) {
	t.Helper()
	p.iq(t, room, "set", "http://jabber.org/protocol/muc#admin",
		fmt.Sprintf("<item role='none' nick='%s'/>", xmlText(nick)))
}

// Destroy destroys room (§10.9), which the peer owns.
func (p *Peer) Destroy(t testing.TB, room, reason string) {
	t.Helper()
	p.iq(t, room, "set", "http://jabber.org/protocol/muc#owner",
		fmt.Sprintf("<destroy><reason>%s</reason></destroy>", xmlText(reason)))
}

// Groupchat sends a group chat message to room.
func (p *Peer) Groupchat(t testing.TB, room, body, thread string) *session.Message {
	t.Helper()
	m := &session.Message{To: room, Type: "groupchat", ID: session.NewID(), Body: body}
	if thread != "" {
		m.Thread = &session.Thread{Value: thread}
	}
	p.Send(t, m)
	return m
}

// RoomExists asks the service for room's disco#info (§6.4): a room that
// does not exist answers item-not-found. It also checks that
// disco#items of the service (§6.3) agrees.
func (p *Peer) RoomExists(t testing.TB, room string) bool {
	t.Helper()
	info := p.Request(t, &session.IQ{To: room, Type: "get", ID: session.NewID(),
		Payload: &session.RawElement{XMLName: xml.Name{Space: "http://jabber.org/protocol/disco#info", Local: "query"}}})
	exists := info.Type == "result"
	service := room[strings.IndexByte(room, '@')+1:]
	items := p.Request(t, &session.IQ{To: service, Type: "get", ID: session.NewID(),
		Payload: &session.RawElement{XMLName: xml.Name{Space: "http://jabber.org/protocol/disco#items", Local: "query"}}})
	listed := items.Payload != nil && strings.Contains(string(items.Payload.Inner), "'"+room+"'") ||
		items.Payload != nil && strings.Contains(string(items.Payload.Inner), `"`+room+`"`)
	if listed && !exists {
		t.Fatalf("peer %s: disco#items lists %s, disco#info says it does not exist", p.JID, room)
	}
	return exists || listed
}

func (p *Peer) iq(t testing.TB, to, typ, ns, inner string) {
	t.Helper()
	r := p.Request(t, &session.IQ{To: to, Type: typ, ID: session.NewID(),
		Payload: &session.RawElement{XMLName: xml.Name{Space: ns, Local: "query"}, Inner: []byte(inner)}})
	if r.Type != "result" {
		t.Fatalf("peer %s: %s IQ to %s: %s", p.JID, ns, to, r.Error.Cond())
	}
}

func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
