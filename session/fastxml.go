package session

import (
	"reflect"
	"unicode/utf8"
)

// appendMessage appends m's XML to b, byte for byte as encoding/xml
// marshals it, for the messages a send builds (BuildMessage with a chat
// state, a receipt request or an In-Reply-To header). ok is false, with b
// unchanged, for a message with anything else set (xml:lang, stanza-ids,
// an error, a child added to Message later): the caller marshals that one
// with encoding/xml. A --lines run spends most of its allocations in
// encoding/xml's reflection otherwise; TestAppendMessageMatchesXML and
// FuzzAppendMessage hold the two to the same output.
func appendMessage(b []byte, m *Message) ([]byte, bool) {
	if !fastShape(m) {
		return b, false
	}
	b = append(b, "<message"...)
	b = appendAttr(b, "from", m.From)
	b = appendAttr(b, "to", m.To)
	b = appendAttr(b, "id", m.ID)
	b = appendAttr(b, "type", m.Type)
	b = append(b, '>')
	b = appendTextElem(b, "subject", m.Subject)
	b = appendTextElem(b, "body", m.Body)
	if m.Thread != nil {
		b = append(b, "<thread"...)
		b = appendAttr(b, "parent", m.Thread.Parent)
		b = append(b, '>')
		b = appendEscaped(b, m.Thread.Value)
		b = append(b, "</thread>"...)
	}
	const cs = ` xmlns="http://jabber.org/protocol/chatstates"></`
	for _, st := range [...]struct {
		set  bool
		name string
	}{{m.Active != nil, "active"}, {m.Compose != nil, "composing"}, {m.Paused != nil, "paused"},
		{m.Inactive != nil, "inactive"}, {m.Gone != nil, "gone"}} {
		if st.set {
			b = append(append(append(append(append(b, '<'), st.name...), cs...), st.name...), '>')
		}
	}
	if m.OriginID != nil {
		b = append(b, `<origin-id xmlns="urn:xmpp:sid:0" id="`...)
		b = appendEscaped(b, m.OriginID.ID)
		b = append(b, `"></origin-id>`...)
	}
	if m.Headers != nil {
		b = append(b, `<headers xmlns="http://jabber.org/protocol/shim">`...)
		for _, h := range m.Headers.Header {
			b = append(b, `<header name="`...)
			b = appendEscaped(b, h.Name)
			b = append(b, `">`...)
			b = appendEscaped(b, h.Value)
			b = append(b, "</header>"...)
		}
		b = append(b, "</headers>"...)
	}
	if m.Request != nil {
		b = append(b, `<request xmlns="urn:xmpp:receipts"></request>`...)
	}
	return append(b, "</message>"...), true
}

// fastShape reports whether appendMessage writes every field m has set.
func fastShape(m *Message) bool {
	if m.Headers != nil && m.Headers.XMLName.Local != "" {
		return false // a name of its own: leave it to encoding/xml
	}
	rest := *m
	rest.From, rest.To, rest.ID, rest.Type = "", "", "", ""
	rest.Subject, rest.Body, rest.Thread = "", "", nil
	rest.Active, rest.Compose, rest.Paused, rest.Inactive, rest.Gone = nil, nil, nil, nil, nil
	rest.OriginID, rest.Headers, rest.Request = nil, nil, nil
	return reflect.ValueOf(&rest).Elem().IsZero()
}

// appendAttr appends ` name="value"`, or nothing for an empty value
// (every attribute of Message is omitempty).
func appendAttr(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(append(append(b, ' '), name...), `="`...)
	return append(appendEscaped(b, value), '"')
}

// appendTextElem appends <name>text</name>, or nothing for empty text
// (omitempty).
func appendTextElem(b []byte, name, text string) []byte {
	if text == "" {
		return b
	}
	b = append(append(append(b, '<'), name...), '>')
	b = appendEscaped(b, text)
	return append(append(append(b, "</"...), name...), '>')
}

// appendEscaped escapes s as encoding/xml's EscapeString does, for text
// and attribute values alike: the five markup characters, tab, newline
// and carriage return as references, and anything outside XML's
// character range (or an invalid UTF-8 byte) as U+FFFD.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		r, width := utf8.DecodeRuneInString(s[i:])
		i += width
		var esc string
		switch r {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			if !inCharRange(r) || (r == utf8.RuneError && width == 1) {
				esc = "\uFFFD"
				break
			}
			continue
		}
		b = append(append(b, s[last:i-width]...), esc...)
		last = i
	}
	return append(b, s[last:]...)
}

// inCharRange is XML 1.0's Char production (§2.2).
func inCharRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
