package ox

import (
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/jab-xmpp/jab/session"
)

// The <signcrypt/> content element (XEP-0373 §3.1) and the checks a
// recipient makes of it (§3.2).

// ReplayWindow is how far the signed time of a received message may be
// from the time the server says it was sent (D-22): a day either way.
// A message outside it was replayed, or kept back too long to trust.
const ReplayWindow = 24 * time.Hour

// nsClient is the namespace of the payload's stanza children: XEP-0374
// §2.2 writes them as jabber:client elements (and a recipient accepts
// jabber:server too).
const (
	nsClient = "jabber:client"
	nsServer = "jabber:server"
)

// Signcrypt is a <signcrypt/> element.
type Signcrypt struct {
	XMLName xml.Name  `xml:"urn:xmpp:openpgp:0 signcrypt"`
	To      []scTo    `xml:"to"`
	Time    []scTime  `xml:"time"`
	Rpad    string    `xml:"rpad,omitempty"`
	Payload []Payload `xml:"payload"`
}

type scTo struct {
	JID string `xml:"jid,attr"`
}

type scTime struct {
	Stamp string `xml:"stamp,attr"`
}

// Payload holds the stanza children that are encrypted. XEP-0374 §2.2:
// they count as if they were the stanza's own. jab writes the body, the
// subject and the thread; on reading it takes those three and ignores
// the rest.
type Payload struct {
	Subject []textElem   `xml:"subject"`
	Body    []textElem   `xml:"body"`
	Thread  []threadElem `xml:"thread"`
}

type textElem struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

type threadElem struct {
	XMLName xml.Name
	Parent  string `xml:"parent,attr,omitempty"`
	Value   string `xml:",chardata"`
}

// Content is what a payload carries for jab.
type Content struct {
	Subject, Body string
	Thread        *session.Thread
}

// rpadAlphabet is what the random padding is made of.
const rpadAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// maxRpad bounds the padding's length: the length itself is random, so
// the ciphertext's size hides the length of a short message (XEP-0373
// §3.1).
const maxRpad = 200

// randomPad is a random-length string of random characters.
func randomPad() string {
	n, err := rand.Int(rand.Reader, big.NewInt(maxRpad))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	b := make([]byte, n.Int64()+1)
	rand.Read(b)
	for i := range b {
		b[i] = rpadAlphabet[int(b[i])%len(rpadAlphabet)]
	}
	return string(b)
}

// BuildSigncrypt serialises the <signcrypt/> for a message to the bare
// JID to, signed at now.
func BuildSigncrypt(to string, now time.Time, c Content) ([]byte, error) {
	var p Payload
	if c.Subject != "" {
		p.Subject = []textElem{{XMLName: xml.Name{Space: nsClient, Local: "subject"}, Value: c.Subject}}
	}
	p.Body = []textElem{{XMLName: xml.Name{Space: nsClient, Local: "body"}, Value: c.Body}}
	if c.Thread != nil && c.Thread.Value != "" {
		p.Thread = []threadElem{{XMLName: xml.Name{Space: nsClient, Local: "thread"}, Parent: c.Thread.Parent, Value: c.Thread.Value}}
	}
	sc := Signcrypt{To: []scTo{{JID: to}}, Time: []scTime{{Stamp: now.UTC().Format(time.RFC3339)}},
		Rpad: randomPad(), Payload: []Payload{p}}
	out, err := xml.Marshal(&sc)
	if err != nil {
		return nil, fmt.Errorf("encode signcrypt: %w", err)
	}
	return out, nil
}

// ParseSigncrypt reads a decrypted <signcrypt/> element.
func ParseSigncrypt(data []byte) (*Signcrypt, error) {
	var sc Signcrypt
	if err := xml.Unmarshal(data, &sc); err != nil {
		return nil, fmt.Errorf("the decrypted content is not a signcrypt element: %w", err)
	}
	return &sc, nil
}

// Check is the recipient's check of a signcrypt (XEP-0373 §3.1, §3.2,
// D-22): exactly one time and one payload, a 'to' naming want (the bare
// JID the message was for), and a time within ReplayWindow of ref.
// It returns the content, or why the message is refused.
func (sc *Signcrypt) Check(want string, ref time.Time) (Content, string) {
	switch {
	case len(sc.Time) != 1:
		return Content{}, fmt.Sprintf("the signed content has %d time elements, not one", len(sc.Time))
	case len(sc.Payload) != 1:
		return Content{}, fmt.Sprintf("the signed content has %d payload elements, not one", len(sc.Payload))
	case len(sc.To) == 0:
		return Content{}, "the signed content names no recipient"
	}
	addressed := false
	var named []string
	for _, to := range sc.To {
		j, err := session.ParseJID(to.JID)
		if err == nil && j.Bare() == want {
			addressed = true
			break
		}
		named = append(named, to.JID)
	}
	if !addressed {
		return Content{}, "the signed content is addressed to " + strings.Join(named, ", ") + ", not to " + want
	}
	t, err := time.Parse(time.RFC3339Nano, sc.Time[0].Stamp)
	if err != nil {
		return Content{}, fmt.Sprintf("the signed time %q is not a XEP-0082 date-time", sc.Time[0].Stamp)
	}
	if d := t.Sub(ref); d > ReplayWindow || d < -ReplayWindow {
		return Content{}, fmt.Sprintf("signed at %s, more than %s from %s: replayed or held back",
			t.UTC().Format(time.RFC3339), ReplayWindow, ref.UTC().Format(time.RFC3339))
	}
	return sc.Payload[0].content(), ""
}

// content takes the first subject, body and thread in jabber:client or
// jabber:server (XEP-0374 §2.2).
func (p Payload) content() Content {
	var c Content
	ok := func(n xml.Name) bool { return n.Space == nsClient || n.Space == nsServer }
	for _, s := range p.Subject {
		if ok(s.XMLName) {
			c.Subject = s.Value
			break
		}
	}
	for _, b := range p.Body {
		if ok(b.XMLName) {
			c.Body = b.Value
			break
		}
	}
	for _, t := range p.Thread {
		if ok(t.XMLName) {
			c.Thread = &session.Thread{Parent: t.Parent, Value: t.Value}
			break
		}
	}
	return c
}
