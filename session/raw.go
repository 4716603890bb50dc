package session

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Raw stanzas: `jab raw` sends XML the user wrote. The whole input is
// checked before anything is contacted, then each stanza is re-serialised
// from the parsed tokens (never passed through as bytes) and sent in
// order over a one-shot resource.

// NSClient is the content namespace of client streams (RFC 6120 §4.8.3).
const NSClient = "jabber:client"

// RawStanza is one validated top-level stanza.
type RawStanza struct {
	Kind string // message, presence or iq
	Type string
	ID   string
	Data []byte // the serialised stanza as it is sent
	IQ   *IQ    // an iq get/set whose answer is awaited
}

// RawInputError locates what is wrong with the input.
type RawInputError struct {
	Line, Col int // 0 when not known
	Offset    int64
	Msg       string
}

func (e *RawInputError) Error() string {
	switch {
	case e.Line > 0 && e.Col > 0:
		return fmt.Sprintf("stdin line %d column %d: %s", e.Line, e.Col, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("stdin line %d: %s", e.Line, e.Msg)
	case e.Offset == 0:
		return "stdin " + e.Msg
	}
	return fmt.Sprintf("stdin %s (byte %d)", e.Msg, e.Offset)
}

// ParseStanzas checks the input and serialises each stanza, in one pass
// with RawToken: names keep their prefixes, so the re-encoded stanza
// declares exactly what the input declared (encoding/xml's namespace
// rewriting would duplicate xmlns attributes), and the checks Token would
// make (matching tags, declared prefixes) are made here; the decoder
// itself checks entities and UTF-8. With waitIQ, an iq get or set is
// prepared for Session.Request, so that its answer is routed back.
func ParseStanzas(in []byte, waitIQ bool) ([]RawStanza, error) {
	d := xml.NewDecoder(bytes.NewReader(in))
	var out []RawStanza
	var toks []xml.Token
	type scope struct {
		name string          // as written, prefix included
		decl map[string]bool // prefixes declared here
	}
	var scopes []scope
	declared := func(prefix string) bool {
		if prefix == "" || prefix == "xml" {
			return true
		}
		for _, s := range scopes {
			if s.decl[prefix] {
				return true
			}
		}
		return false
	}
	count := 0
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &RawInputError{Offset: d.InputOffset(), Msg: "is not well-formed XML: " + err.Error()}
		}
		line, col := d.InputPos()
		bad := func(format string, args ...any) error {
			return &RawInputError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			decl := map[string]bool{}
			ns := ""
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					decl[a.Name.Local] = true
					if a.Name.Local == t.Name.Space {
						ns = a.Value
					}
				case a.Name.Space == "" && a.Name.Local == "xmlns" && t.Name.Space == "":
					ns = a.Value
				}
			}
			if len(scopes) == 0 {
				count++
				if ns != "" && ns != NSClient {
					return nil, bad("top-level element <%s> in namespace %q is not a stanza", t.Name.Local, ns)
				}
				switch t.Name.Local {
				case "message", "presence", "iq":
				default:
					return nil, bad("top-level element <%s> is not a stanza (message, presence or iq)", t.Name.Local)
				}
			}
			scopes = append(scopes, scope{name: rawName(t.Name), decl: decl})
			if !declared(t.Name.Space) {
				return nil, bad("namespace prefix %q is not declared", t.Name.Space)
			}
			for _, a := range t.Attr {
				if a.Name.Space != "xmlns" && !declared(a.Name.Space) {
					return nil, bad("namespace prefix %q is not declared", a.Name.Space)
				}
			}
			toks = append(toks, t.Copy())
		case xml.EndElement:
			if len(scopes) == 0 || scopes[len(scopes)-1].name != rawName(t.Name) {
				return nil, &RawInputError{Offset: d.InputOffset(),
					Msg: fmt.Sprintf("is not well-formed XML: unexpected end element </%s>", rawName(t.Name))}
			}
			scopes = scopes[:len(scopes)-1]
			toks = append(toks, t)
			if len(scopes) == 0 {
				st, err := newRawStanza(toks, waitIQ)
				if err != nil {
					return nil, &RawInputError{Line: line, Msg: err.Error()}
				}
				out = append(out, st)
				toks = nil
			}
		case xml.CharData:
			if len(scopes) > 0 {
				toks = append(toks, t.Copy())
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, bad("text outside a stanza")
			}
		case xml.Directive:
			// RFC 6120 §11.1: no DTDs in XMPP.
			return nil, bad("a <!…> declaration is not allowed")
		case xml.ProcInst:
			// RFC 6120 §11.1: processing instructions are not allowed; the
			// XML declaration at the start is read and dropped.
			if t.Target != "xml" || count > 0 || len(scopes) > 0 {
				return nil, bad("processing instruction <?%s?> is not allowed", t.Target)
			}
		}
		// Comments are dropped.
	}
	if len(scopes) != 0 {
		return nil, &RawInputError{Offset: d.InputOffset(), Msg: "is not well-formed XML: it ends inside an element"}
	}
	if count == 0 {
		return nil, &RawInputError{Msg: "holds no stanza"}
	}
	return out, nil
}

// newRawStanza builds a stanza from its raw tokens (the first is its start
// tag, the last its end tag).
func newRawStanza(toks []xml.Token, waitIQ bool) (RawStanza, error) {
	start := toks[0].(xml.StartElement)
	st := RawStanza{Kind: start.Name.Local}
	hasID := false
	for _, a := range start.Attr {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "type":
			st.Type = a.Value
		case "id":
			st.ID, hasID = a.Value, true
		}
	}
	if st.Kind == "iq" {
		switch st.Type {
		case "get", "set", "result", "error":
		default:
			// RFC 6120 §8.2.3: the type attribute is required.
			return st, fmt.Errorf("<iq> needs a type of get, set, result or error, not %q", st.Type)
		}
		if !hasID || st.ID == "" {
			st.ID = NewID()
			attrs := []xml.Attr{}
			for _, a := range start.Attr {
				if a.Name.Space != "" || a.Name.Local != "id" {
					attrs = append(attrs, a)
				}
			}
			start.Attr = append(attrs, xml.Attr{Name: xml.Name{Local: "id"}, Value: st.ID})
			toks[0] = start
		}
		if waitIQ && (st.Type == "get" || st.Type == "set") {
			iq, err := awaitedIQ(start, toks[1:len(toks)-1], st.ID)
			if err != nil {
				return st, err
			}
			st.IQ = iq
			data, err := xml.Marshal(iq)
			if err != nil {
				return st, fmt.Errorf("encode <iq>: %w", err)
			}
			st.Data = data
			return st, nil
		}
	}
	data, err := encodeRaw(toks)
	if err != nil {
		return st, fmt.Errorf("encode <%s>: %w", st.Kind, err)
	}
	st.Data = data
	return st, nil
}

// awaitedIQ turns an iq get/set into a session.IQ, so that Session.Request
// sends it and routes its answer back. RFC 6120 §8.2.3: a get or set
// carries exactly one payload element.
func awaitedIQ(start xml.StartElement, inner []xml.Token, id string) (*IQ, error) {
	iq := &IQ{ID: id}
	for _, a := range start.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "to":
			iq.To = a.Value
		case a.Name.Space == "" && a.Name.Local == "from":
			iq.From = a.Value
		case a.Name.Space == "" && a.Name.Local == "type":
			iq.Type = a.Value
		case a.Name.Space == "" && a.Name.Local == "id":
		case a.Name.Space == "" && a.Name.Local == "xmlns" && a.Value == NSClient:
		default:
			return nil, fmt.Errorf("with --wait-iq an <iq> may carry only the to, from, id and type attributes, not %s", rawName(a.Name))
		}
	}
	if start.Name.Space != "" {
		return nil, errors.New("with --wait-iq an <iq> must not have a namespace prefix")
	}
	var payload *RawElement
	depth, from := 0, 0
	for i, tok := range inner {
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if payload != nil {
					return nil, errors.New("an <iq> get or set carries exactly one payload element (RFC 6120 §8.2.3)")
				}
				attrs := make([]xml.Attr, len(t.Attr))
				for j, a := range t.Attr {
					attrs[j] = xml.Attr{Name: xml.Name{Local: rawName(a.Name)}, Value: a.Value}
				}
				payload = &RawElement{XMLName: xml.Name{Local: rawName(t.Name)}, Attr: attrs}
				from = i + 1
			}
			depth++
		case xml.EndElement:
			depth--
			if depth == 0 {
				data, err := encodeRaw(inner[from:i])
				if err != nil {
					return nil, err
				}
				payload.Inner = data
			}
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("an <iq> holds no text, only its payload element")
			}
		}
	}
	if payload == nil {
		return nil, errors.New("an <iq> get or set carries exactly one payload element (RFC 6120 §8.2.3)")
	}
	iq.Payload = payload
	return iq, nil
}

// rawName is a raw token's name as written, prefix included.
func rawName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// encodeRaw serialises raw tokens with encoding/xml's encoder, which
// escapes every text and attribute value. Prefixed names are passed as
// written (prefix folded into the local name), so the encoder adds no
// namespace declarations of its own.
func encodeRaw(toks []xml.Token) ([]byte, error) {
	var buf bytes.Buffer
	e := xml.NewEncoder(&buf)
	for _, tok := range toks {
		switch t := tok.(type) {
		case xml.StartElement:
			s := xml.StartElement{Name: xml.Name{Local: rawName(t.Name)}, Attr: make([]xml.Attr, len(t.Attr))}
			for i, a := range t.Attr {
				s.Attr[i] = xml.Attr{Name: xml.Name{Local: rawName(a.Name)}, Value: a.Value}
			}
			tok = s
		case xml.EndElement:
			tok = xml.EndElement{Name: xml.Name{Local: rawName(t.Name)}}
		}
		if err := e.EncodeToken(tok); err != nil {
			return nil, err
		}
	}
	if err := e.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// SendRaw sends stanzas over s, refusing the whole input before writing
// any of it if one is over the server's limit. An awaited iq's answer is
// given to answer, also when it is an error, which then ends the run;
// later stanzas are not sent. A last round trip confirms that the server
// has processed everything.
func SendRaw(ctx context.Context, s *Session, stanzas []RawStanza, answer func(*IQ) error) error {
	limit := s.Conn().MaxStanza()
	for i, st := range stanzas {
		if len(st.Data) > limit {
			return fmt.Errorf("stanza %d (<%s>): %w", i+1, st.Kind, &StanzaTooLargeError{Size: len(st.Data), Limit: limit})
		}
	}
	for i, st := range stanzas {
		if err := ctx.Err(); err != nil {
			return err
		}
		if st.IQ == nil {
			if err := s.Conn().SendRaw(st.Data); err != nil {
				return err
			}
			continue
		}
		r, err := s.Request(ctx, st.IQ)
		if r != nil {
			if aerr := answer(r); aerr != nil {
				return errors.Join(err, aerr)
			}
		}
		if err != nil {
			if rest := len(stanzas) - i - 1; rest > 0 {
				return fmt.Errorf("iq %q: %w; %d later stanza(s) not sent", st.ID, err, rest)
			}
			return fmt.Errorf("iq %q: %w", st.ID, err)
		}
	}
	return s.Ping(ctx, "")
}

// IQLine renders an IQ answer as one line of XML. IQ keeps the
// payload's inner XML as received; it is re-read and re-encoded here, so
// the line holds no literal newline and no raw control character.
func IQLine(iq *IQ) ([]byte, error) {
	var toks []xml.Token
	attrs := []xml.Attr{}
	for _, a := range [][2]string{{"from", iq.From}, {"to", iq.To}, {"id", iq.ID}, {"type", iq.Type}} {
		if a[1] != "" {
			attrs = append(attrs, xml.Attr{Name: xml.Name{Local: a[0]}, Value: a[1]})
		}
	}
	toks = append(toks, xml.StartElement{Name: xml.Name{Local: "iq"}, Attr: attrs})
	if p := iq.Payload; p != nil {
		start := xml.StartElement{Name: xml.Name{Local: p.XMLName.Local}}
		if p.XMLName.Space != "" {
			start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "xmlns"}, Value: p.XMLName.Space})
		}
		for _, a := range p.Attr {
			// Unmarshal resolved the names: keep the prefix
			// declarations (the inner XML uses the prefixes) and plain
			// attributes; the default namespace is set above.
			switch a.Name.Space {
			case "xmlns":
				start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Space: "xmlns", Local: a.Name.Local}, Value: a.Value})
			case "":
				if a.Name.Local != "xmlns" {
					start.Attr = append(start.Attr, a)
				}
			case "http://www.w3.org/XML/1998/namespace":
				start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Space: "xml", Local: a.Name.Local}, Value: a.Value})
			}
		}
		toks = append(toks, start)
		d := xml.NewDecoder(bytes.NewReader(p.Inner))
		for {
			tok, err := d.RawToken()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("re-read answer: %w", err)
			}
			switch tok.(type) {
			case xml.StartElement, xml.EndElement, xml.CharData:
				toks = append(toks, xml.CopyToken(tok))
			}
		}
		toks = append(toks, xml.EndElement{Name: start.Name})
	}
	if e := iq.Error; e != nil {
		toks = append(toks, xml.StartElement{Name: xml.Name{Local: "error"}, Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: e.Type}}})
		for _, c := range e.Condition {
			el := xml.StartElement{Name: xml.Name{Local: c.Local}}
			if c.Space != "" {
				el.Attr = []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: c.Space}}
			}
			toks = append(toks, el, el.End())
		}
		if e.Text != "" {
			el := xml.StartElement{Name: xml.Name{Local: "text"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: "urn:ietf:params:xml:ns:xmpp-stanzas"}}}
			toks = append(toks, el, xml.CharData(e.Text), el.End())
		}
		toks = append(toks, xml.EndElement{Name: xml.Name{Local: "error"}})
	}
	toks = append(toks, xml.EndElement{Name: xml.Name{Local: "iq"}})
	data, err := encodeRaw(toks)
	if err != nil {
		return nil, fmt.Errorf("encode answer: %w", err)
	}
	return append(xmlOneLine(data), '\n'), nil
}

// xmlOneLine makes encoded XML one line: the encoder leaves newlines in text
// as they are (everywhere else it writes none), so they become character
// references, and so do C1 control characters, which some terminals obey.
func xmlOneLine(data []byte) []byte {
	var b strings.Builder
	for _, r := range string(data) {
		switch {
		case r == '\n':
			b.WriteString("&#xA;")
		case r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&b, "&#x%X;", r)
		default:
			b.WriteRune(r)
		}
	}
	return []byte(b.String())
}
