package session

import (
	"encoding/xml"
	"strings"
)

// Namespaces.
const (
	nsClient    = "jabber:client"
	nsStream    = "http://etherx.jabber.org/streams"
	nsTLS       = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL      = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind      = "urn:ietf:params:xml:ns:xmpp-bind"
	nsStanzas   = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsPing      = "urn:xmpp:ping"
	nsDiscoInfo = "http://jabber.org/protocol/disco#info"
	NSReceipts  = "urn:xmpp:receipts"  // XEP-0184
	nsCarbons   = "urn:xmpp:carbons:2" // XEP-0280
	nsForward   = "urn:xmpp:forward:0" // XEP-0297
	nsMAM       = "urn:xmpp:mam:2"     // XEP-0313
	nsRSM       = "http://jabber.org/protocol/rsm"
)

// Thread is the XEP-0201 <thread/> element, with the 1.0 parent attribute.
type Thread struct {
	Parent string `xml:"parent,attr,omitempty"`
	Value  string `xml:",chardata"`
}

// Empty is an element with no content, such as a chat state.
type Empty struct{}

// OriginID is the XEP-0359 origin-id.
type OriginID struct {
	ID string `xml:"id,attr"`
}

// StanzaIDElem is the XEP-0359 stanza-id added by an archiving entity.
type StanzaIDElem struct {
	ID string `xml:"id,attr"`
	By string `xml:"by,attr"`
}

// Delay is XEP-0203 delayed delivery.
type Delay struct {
	Stamp string `xml:"stamp,attr"`
	From  string `xml:"from,attr,omitempty"`
}

// Header is one XEP-0131 SHIM header.
type Header struct {
	Name  string `xml:"name,attr"`
	Value string `xml:",chardata"`
}

// Headers is the XEP-0131 <headers/> element.
type Headers struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/shim headers"`
	Header  []Header `xml:"header"`
}

// StanzaError is an RFC 6120 §8.3 error child.
type StanzaError struct {
	Type      string     `xml:"type,attr"`
	Condition []xml.Name `xml:",any"`
	Text      string     `xml:"text"`
	// The XEP-0363 §5 children of a refused slot request (decoding only).
	TooLarge *struct {
		Max string `xml:"max-file-size"`
	} `xml:"urn:xmpp:http:upload:0 file-too-large"`
	Retry *struct {
		Stamp string `xml:"stamp,attr"`
	} `xml:"urn:xmpp:http:upload:0 retry"`
}

// MarshalXML writes <error type='…'><condition xmlns='…stanzas'/>
// [<text>…</text>]</error> (RFC 6120 §8.3.2); the field tags serve
// decoding only.
func (e *StanzaError) MarshalXML(enc *xml.Encoder, start xml.StartElement) error {
	start = xml.StartElement{Name: xml.Name{Local: "error"}, Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: e.Type}}}
	if err := enc.EncodeToken(start); err != nil {
		return err
	}
	for _, c := range e.Condition {
		el := xml.StartElement{Name: xml.Name{Space: c.Space, Local: c.Local}}
		if err := enc.EncodeToken(el); err != nil {
			return err
		}
		if err := enc.EncodeToken(el.End()); err != nil {
			return err
		}
	}
	if e.Text != "" {
		text := xml.StartElement{Name: xml.Name{Space: nsStanzas, Local: "text"}}
		if err := enc.EncodeElement(e.Text, text); err != nil {
			return err
		}
	}
	return enc.EncodeToken(start.End())
}

// Cond returns the defined condition, e.g. "service-unavailable".
func (e *StanzaError) Cond() string {
	if e == nil {
		return ""
	}
	for _, n := range e.Condition {
		if n.Space == nsStanzas && n.Local != "text" {
			return n.Local
		}
	}
	if len(e.Condition) > 0 {
		return e.Condition[0].Local
	}
	return "undefined-condition"
}

// DataField is a field of a jabber:x:data form.
type DataField struct {
	Var    string   `xml:"var,attr"`
	Values []string `xml:"value"`
}

// DataForm is a jabber:x:data form.
type DataForm struct {
	XMLName xml.Name    `xml:"jabber:x:data x"`
	Type    string      `xml:"type,attr"`
	Fields  []DataField `xml:"field"`
}

// FeatureNeg is the XEP-0020 wrapper XEP-0155 uses for terminate.
type FeatureNeg struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/feature-neg feature"`
	Form    DataForm `xml:"jabber:x:data x"`
}

// ReceiptElem is XEP-0184's <received id=…/>.
type ReceiptElem struct {
	ID string `xml:"id,attr,omitempty"`
}

// Message is a <message/> stanza, received or sent. Field order is the
// order of children on the wire.
type Message struct {
	XMLName  xml.Name       `xml:"message"`
	From     string         `xml:"from,attr,omitempty"`
	To       string         `xml:"to,attr,omitempty"`
	ID       string         `xml:"id,attr,omitempty"`
	Type     string         `xml:"type,attr,omitempty"`
	Lang     string         `xml:"http://www.w3.org/XML/1998/namespace lang,attr,omitempty"`
	Subject  string         `xml:"subject,omitempty"`
	Body     string         `xml:"body,omitempty"`
	Thread   *Thread        `xml:"thread,omitempty"`
	Active   *Empty         `xml:"http://jabber.org/protocol/chatstates active,omitempty"`
	Compose  *Empty         `xml:"http://jabber.org/protocol/chatstates composing,omitempty"`
	Paused   *Empty         `xml:"http://jabber.org/protocol/chatstates paused,omitempty"`
	Inactive *Empty         `xml:"http://jabber.org/protocol/chatstates inactive,omitempty"`
	Gone     *Empty         `xml:"http://jabber.org/protocol/chatstates gone,omitempty"`
	OriginID *OriginID      `xml:"urn:xmpp:sid:0 origin-id,omitempty"`
	StanzaID []StanzaIDElem `xml:"urn:xmpp:sid:0 stanza-id,omitempty"`
	Headers  *Headers       `xml:"http://jabber.org/protocol/shim headers,omitempty"`
	OOB      []OOB          `xml:"jabber:x:oob x,omitempty"` // XEP-0066 (upload.go)
	Feature  *FeatureNeg    `xml:"http://jabber.org/protocol/feature-neg feature,omitempty"`
	MUCUser  *Empty         `xml:"http://jabber.org/protocol/muc#user x,omitempty"`
	Request  *Empty         `xml:"urn:xmpp:receipts request,omitempty"`
	Received *ReceiptElem   `xml:"urn:xmpp:receipts received,omitempty"`
	Delay    *Delay         `xml:"urn:xmpp:delay delay,omitempty"`
	OldDelay *Delay         `xml:"jabber:x:delay x,omitempty"`
	// End-to-end encryption (e2e.go): the XEP-0380 hint that says how
	// the message is encrypted, the XEP-0334 store hint XEP-0374 §3.2
	// asks for, and the XEP-0373 <openpgp/> element.
	EME     *EME         `xml:"urn:xmpp:eme:0 encryption,omitempty"`
	Store   *Empty       `xml:"urn:xmpp:hints store,omitempty"`
	OpenPGP *OpenPGP     `xml:"urn:xmpp:openpgp:0 openpgp,omitempty"`
	Error   *StanzaError `xml:"error,omitempty"`
	// XEP-0280 carbon copies and XEP-0313 archive results: each wraps a
	// forwarded message (carbons.go, mam.go unwrap and check them).
	CarbonReceived *Wrapper   `xml:"urn:xmpp:carbons:2 received,omitempty"`
	CarbonSent     *Wrapper   `xml:"urn:xmpp:carbons:2 sent,omitempty"`
	MAMResult      *MAMResult `xml:"urn:xmpp:mam:2 result,omitempty"`
}

// Forwarded is XEP-0297's <forwarded/>: a stanza and when it was sent.
type Forwarded struct {
	Delay   *Delay   `xml:"urn:xmpp:delay delay,omitempty"`
	Message *Message `xml:"jabber:client message,omitempty"`
}

// Wrapper is a carbon's <received/> or <sent/> (XEP-0280 §5, §6).
type Wrapper struct {
	Forwarded []Forwarded `xml:"urn:xmpp:forward:0 forwarded"`
}

// MAMResult is one XEP-0313 <result/> of an archive query.
type MAMResult struct {
	QueryID   string      `xml:"queryid,attr"`
	ID        string      `xml:"id,attr"`
	Forwarded []Forwarded `xml:"urn:xmpp:forward:0 forwarded"`
}

// ChatState returns the XEP-0085 state the message carries, or "".
func (m *Message) ChatState() string {
	switch {
	case m.Gone != nil:
		return "gone"
	case m.Active != nil:
		return "active"
	case m.Compose != nil:
		return "composing"
	case m.Paused != nil:
		return "paused"
	case m.Inactive != nil:
		return "inactive"
	}
	return ""
}

// SetChatState sets the single chat-state child (XEP-0085 §5.6).
func (m *Message) SetChatState(s string) {
	m.Active, m.Compose, m.Paused, m.Inactive, m.Gone = nil, nil, nil, nil, nil
	switch s {
	case "active":
		m.Active = &Empty{}
	case "composing":
		m.Compose = &Empty{}
	case "paused":
		m.Paused = &Empty{}
	case "inactive":
		m.Inactive = &Empty{}
	case "gone":
		m.Gone = &Empty{}
	}
}

// ThreadValue returns the received thread with surrounding whitespace
// stripped (decision D-8), or "".
func (m *Message) ThreadValue() string {
	if m.Thread == nil {
		return ""
	}
	return TrimThread(m.Thread.Value)
}

// ThreadParent returns the received parent thread, or "".
func (m *Message) ThreadParent() string {
	if m.Thread == nil {
		return ""
	}
	return TrimThread(m.Thread.Parent)
}

// Delayed reports whether the message came from storage (XEP-0203).
func (m *Message) Delayed() bool { return m.Delay != nil || m.OldDelay != nil }

// IsTerminate reports whether the message is a XEP-0155 terminate form,
// with either the current or the legacy FORM_TYPE (XEP-0201 0.3 §5).
func (m *Message) IsTerminate() bool {
	if m.Feature == nil {
		return false
	}
	var formType, terminate string
	for _, f := range m.Feature.Form.Fields {
		if len(f.Values) == 0 {
			continue
		}
		switch f.Var {
		case "FORM_TYPE":
			formType = strings.TrimSpace(f.Values[0])
		case "terminate":
			terminate = strings.TrimSpace(f.Values[0])
		}
	}
	return (formType == "urn:xmpp:ssn" || formType == "urn:xmpp:chatneg") &&
		(terminate == "1" || terminate == "true")
}

// Header returns the value of the named SHIM header, or "".
func (m *Message) Header(name string) string {
	if m.Headers == nil {
		return ""
	}
	for _, h := range m.Headers.Header {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}

// Presence is a <presence/> stanza.
type Presence struct {
	XMLName  xml.Name     `xml:"presence"`
	From     string       `xml:"from,attr,omitempty"`
	To       string       `xml:"to,attr,omitempty"`
	ID       string       `xml:"id,attr,omitempty"`
	Type     string       `xml:"type,attr,omitempty"`
	Show     string       `xml:"show,omitempty"`
	Status   string       `xml:"status,omitempty"`
	Priority *int         `xml:"priority,omitempty"`
	MUCUser  *MUCUser     `xml:"http://jabber.org/protocol/muc#user x,omitempty"` // muc.go
	Error    *StanzaError `xml:"error,omitempty"`
}

// IQ is an <iq/> stanza; Payload holds the raw child.
type IQ struct {
	XMLName xml.Name     `xml:"iq"`
	From    string       `xml:"from,attr,omitempty"`
	To      string       `xml:"to,attr,omitempty"`
	ID      string       `xml:"id,attr"`
	Type    string       `xml:"type,attr"`
	Payload *RawElement  `xml:",any,omitempty"`
	Error   *StanzaError `xml:"error,omitempty"`
}

// RawElement keeps an element's name, attributes and inner XML.
type RawElement struct {
	XMLName xml.Name
	Attr    []xml.Attr `xml:",any,attr"`
	Inner   []byte     `xml:",innerxml"`
}
