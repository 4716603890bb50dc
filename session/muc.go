package session

// Group chat (XEP-0045): the stanzas and the pure rules. Which presence
// from a room means we are in, which refusal it was, which groupchat
// message is the room's echo of ours, what a room JID and a nick may be.
// The I/O that applies them is in room_send.go.

import (
	"encoding/xml"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	nsMUC      = "http://jabber.org/protocol/muc"
	nsMUCUser  = "http://jabber.org/protocol/muc#user"
	nsMUCOwner = "http://jabber.org/protocol/muc#owner"
)

// XEP-0045 status codes jab acts on.
const (
	StatusSelf       = 110 // §7.2.2: this presence is about us
	StatusCreated    = 201 // §10.1.1: the join created the room
	StatusNickAssign = 210 // §7.2.3: the service changed our nick
	StatusNickChange = 303 // §7.6: the occupant's nick changes
	StatusBanned     = 301 // §9.1
	StatusKicked     = 307 // §8.2
)

// MaxNick bounds a nick: it is the resource of the occupant JID, which
// RFC 7622 §3.4 limits to 1023 bytes.
const MaxNick = 1023

// MUCUser is the muc#user <x/> of a presence from a room (XEP-0045 §7.2).
type MUCUser struct {
	Items   []MUCItem   `xml:"item"`
	Status  []MUCStatus `xml:"status"`
	Destroy *MUCDestroy `xml:"destroy"`
}

// MUCItem is an occupant's affiliation, role and, for a nick change, new
// nick.
type MUCItem struct {
	Affiliation string `xml:"affiliation,attr,omitempty"`
	Role        string `xml:"role,attr,omitempty"`
	Nick        string `xml:"nick,attr,omitempty"`
	JID         string `xml:"jid,attr,omitempty"`
	Reason      string `xml:"reason,omitempty"`
}

// MUCStatus is one status code.
type MUCStatus struct {
	Code int `xml:"code,attr"`
}

// MUCDestroy says the room was destroyed (§10.9).
type MUCDestroy struct {
	JID    string `xml:"jid,attr,omitempty"`
	Reason string `xml:"reason,omitempty"`
}

// Has reports whether the status codes include code.
func (x *MUCUser) Has(code int) bool {
	if x == nil {
		return false
	}
	for _, s := range x.Status {
		if s.Code == code {
			return true
		}
	}
	return false
}

// mucJoin is the presence that enters a room (§7.2.1): no room history
// (§7.2.14, maxstanzas 0) and the password, if any (§7.2.6).
type mucJoin struct {
	XMLName xml.Name `xml:"presence"`
	To      string   `xml:"to,attr"`
	ID      string   `xml:"id,attr,omitempty"`
	X       struct {
		XMLName xml.Name `xml:"http://jabber.org/protocol/muc x"`
		History struct {
			MaxStanzas int `xml:"maxstanzas,attr"`
		} `xml:"history"`
		Password string `xml:"password,omitempty"`
	}
}

// JoinPresence is the presence that joins room as nick.
func JoinPresence(room, nick, password string) any {
	p := &mucJoin{To: room + "/" + nick, ID: NewID()}
	p.X.Password = password
	return p
}

// LeavePresence leaves room (§7.14).
func LeavePresence(room, nick string) *Presence {
	return &Presence{To: room + "/" + nick, Type: "unavailable"}
}

// destroyIQ asks the service to destroy room (§10.9), which an owner may.
func destroyIQ(room string) *IQ {
	return &IQ{To: room, Type: "set", ID: NewID(), Payload: &RawElement{
		XMLName: xml.Name{Space: nsMUCOwner, Local: "query"},
		Inner:   []byte(`<destroy><reason>jab: no such room (created by mistake)</reason></destroy>`)}}
}

// RoomInputError is a room JID or nick jab will not use: nothing is sent.
type RoomInputError struct{ Problem string }

func (e *RoomInputError) Error() string { return e.Problem }

// ParseRoom checks a room JID as given to --room: local@service, no
// resource (a resource names an occupant, not a room).
func ParseRoom(s string) (JID, error) {
	j, err := ParseJID(s)
	if err != nil {
		return JID{}, &RoomInputError{Problem: fmt.Sprintf("room: %v", err)}
	}
	if j.Local == "" {
		return JID{}, &RoomInputError{Problem: fmt.Sprintf("room %q has no room name: write room@service", s)}
	}
	if j.IsFull() {
		return JID{}, &RoomInputError{Problem: fmt.Sprintf("room %q has a resource: a room is room@service (the nick is given with --nick)", s)}
	}
	return j, nil
}

// CheckNick refuses a nick no room could use: empty, over MaxNick bytes,
// not UTF-8, with control or bidi-override characters, or with space at
// either end.
func CheckNick(nick string) error {
	switch {
	case nick == "":
		return &RoomInputError{Problem: "the nick is empty"}
	case len(nick) > MaxNick:
		return &RoomInputError{Problem: fmt.Sprintf("the nick is %d bytes long; at most %d are allowed", len(nick), MaxNick)}
	case !utf8.ValidString(nick):
		return &RoomInputError{Problem: "the nick is not valid UTF-8"}
	case strings.TrimSpace(nick) != nick:
		return &RoomInputError{Problem: fmt.Sprintf("the nick %q starts or ends with space", nick)}
	}
	for _, r := range nick {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return &RoomInputError{Problem: fmt.Sprintf("the nick %q holds a control character", nick)}
		}
	}
	return nil
}

// DefaultNick is the nick used when none is configured: the account's
// local part.
func DefaultNick(account JID, configured string) string {
	if configured != "" {
		return configured
	}
	return account.Local
}

// RetryNick is the one other nick tried after a conflict (§7.2.9).
func RetryNick(nick, suffix string) string {
	if len(nick)+1+len(suffix) > MaxNick {
		nick = nick[:MaxNick-1-len(suffix)]
	}
	return nick + "-" + suffix
}

// Join outcomes.
const (
	JoinOther   = iota // not an answer to our join (another occupant, say)
	JoinedRoom         // our own presence (110): we are in, as Nick
	CreatedRoom        // our own presence with 201: the join created the room
	JoinRefused        // an error presence: Cond says why
)

// JoinStep is what a presence from the room means while we join it.
type JoinStep struct {
	Kind int
	Nick string // JoinedRoom, CreatedRoom: our nick (the service may have assigned it, 210)
	Cond string // JoinRefused: the error condition
}

// JoinAnswer classifies a presence while joining room as nick (§7.2).
// Our own presence is the one with status 110; a service that omits it is
// recognised by the nick we asked for. The nick is taken from the from
// address, so a nick the service assigned (210) is followed.
func JoinAnswer(p *Presence, room, nick string) JoinStep {
	from, err := ParseJID(p.From)
	if err != nil || from.Bare() != room {
		return JoinStep{Kind: JoinOther}
	}
	if p.Type == "error" {
		// The error comes from the occupant JID we asked for, or
		// from the bare room.
		if from.Resource != "" && from.Resource != nick {
			return JoinStep{Kind: JoinOther}
		}
		return JoinStep{Kind: JoinRefused, Cond: p.Error.Cond()}
	}
	if p.Type != "" || from.Resource == "" {
		return JoinStep{Kind: JoinOther}
	}
	if !p.MUCUser.Has(StatusSelf) && from.Resource != nick {
		return JoinStep{Kind: JoinOther}
	}
	if p.MUCUser.Has(StatusCreated) {
		return JoinStep{Kind: CreatedRoom, Nick: from.Resource}
	}
	return JoinStep{Kind: JoinedRoom, Nick: from.Resource}
}

// RoomError: a room would not let us in, or does not exist.
type RoomError struct {
	Room string
	Cond string // the XEP-0045 §7.2 error condition, or "no-such-room"
	Nick string
}

// NoSuchRoom is RoomError's Cond when the join created the room.
const NoSuchRoom = "no-such-room"

func (e *RoomError) Error() string {
	switch e.Cond {
	case NoSuchRoom:
		return fmt.Sprintf("no such room: %s (jab removed the room its join created)", e.Room)
	case "conflict":
		return fmt.Sprintf("room %s: the nick %q is in use (the retry with a suffix too)", e.Room, e.Nick)
	case "not-authorized":
		return fmt.Sprintf("room %s: wrong or missing room password", e.Room)
	case "registration-required":
		return fmt.Sprintf("room %s is members-only and we are not a member", e.Room)
	case "forbidden":
		return fmt.Sprintf("room %s: we are banned", e.Room)
	case "service-unavailable":
		return fmt.Sprintf("room %s is full", e.Room)
	case "item-not-found", "not-allowed", "remote-server-not-found":
		return fmt.Sprintf("no such room: %s (%s)", e.Room, e.Cond)
	case "jid-malformed":
		return fmt.Sprintf("room %s refused the nick %q (jid-malformed)", e.Room, e.Nick)
	}
	return fmt.Sprintf("room %s refused us: %s", e.Room, e.Cond)
}

// Missing reports whether the room does not exist (as opposed to a
// refusal): the join created it, or the service says it is not there.
func (e *RoomError) Missing() bool {
	switch e.Cond {
	case NoSuchRoom, "item-not-found", "not-allowed", "remote-server-not-found":
		return true
	}
	return false
}

// Echo outcomes.
const (
	EchoNone    = iota // not about one of our messages
	EchoOK             // the room's reflection of our message (§7.4): delivered
	EchoBounced        // an error for our message: not delivered
)

// EchoOf says whether m, received from room where our nick is nick, is
// the echo of one of our messages (XEP-0045 §7.4: the service reflects a
// message to its sender, with the same id; XEP-0359 origin-id is kept) or
// an error for one. pending reports whether an id is one we wait for. It
// returns the id of our message.
func EchoOf(m *Message, room, nick string, pending func(string) bool) (kind int, id string) {
	from, err := ParseJID(m.From)
	if err != nil || from.Bare() != room {
		return EchoNone, ""
	}
	ids := []string{m.ID}
	if m.OriginID != nil {
		ids = append([]string{m.OriginID.ID}, m.ID)
	}
	for _, id := range ids {
		if id == "" || !pending(id) {
			continue
		}
		switch {
		case m.Type == "error":
			return EchoBounced, id
		case m.Type == "groupchat" && from.Resource == nick:
			return EchoOK, id
		}
	}
	return EchoNone, ""
}

// privateX is the muc#user <x/> of a private message to an occupant
// (XEP-0045 §7.5, item 77): a message to an occupant's conversation is
// type chat (never groupchat, which the service bounces) and carries it,
// so that carbons are handled correctly.
func privateX(r Route, typ string) *Empty {
	if r.Conv.Occupant && typ != "groupchat" {
		return &Empty{}
	}
	return nil
}
