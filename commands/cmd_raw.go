package commands

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/session"
)

const nsJabberClient = "jabber:client"

type rawOptions struct {
	waitIQ bool
}

func rawCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "raw",
		Usage: "send the XML stanzas read from stdin as they are (for debugging and for features jab lacks)",
		Description: `Reads all of stdin: one or more <message/>, <presence/> or <iq/> elements (no
namespace, or jabber:client). The whole input is checked before connecting:
XML that is not well-formed, or a top-level element that is not a stanza, is a
usage error and nothing is sent. Each stanza is re-serialised from the parsed
XML and sent in order over a one-shot resource, with no presence. An <iq/>
without an id gets a fresh one.

With --wait-iq, each iq of type get or set waits (up to --timeout) for its
answer, printed on stdout as one line of XML; an error answer ends jab raw
with exit status 1 (later stanzas are not sent), no answer with 5. Raw
stanzas do not change the locks, threads or history.`,
		Flags: commandFlags(
			&cli.BoolFlag{Name: "wait-iq", Usage: "wait for the answer to each iq get/set and print it on stdout"},
		),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			// The password comes last, once the arguments and stdin
			// are checked: a usage error must not run the password
			// command.
			g, err := resolve(c.Context, c, env, false)
			if err != nil {
				return err
			}
			if c.Args().Present() {
				return usagef("pipe the stanzas on stdin: echo '<presence/>' | jab raw", "raw takes no arguments")
			}
			o := &rawOptions{waitIQ: c.Bool("wait-iq")}
			in, err := readAllStdin(c.Context, env)
			if err != nil {
				return err
			}
			stanzas, err := parseStanzas([]byte(in), o.waitIQ)
			if err != nil {
				return err
			}
			if err := g.readyToConnect(c.Context, c, env); err != nil {
				return err
			}
			return runRaw(c.Context, env, g, o, stanzas)
		},
	}
}

// rawStanza is one validated top-level stanza from stdin.
type rawStanza struct {
	kind string // message, presence or iq
	typ  string
	id   string
	data []byte      // the serialised stanza as it is sent
	iq   *session.IQ // set for an iq get/set awaited with --wait-iq
}

// parseStanzas checks the input and serialises each stanza. It runs
// before anything is contacted: every error is a usage error.
//
// Two passes over the same bytes: the first with Token, which checks
// well-formedness (matching tags, entities, UTF-8) and resolves
// namespaces for the stanza check; the second with RawToken, whose names
// keep their prefixes, so the re-encoded stanza declares exactly what the
// input declared (encoding/xml's namespace rewriting would duplicate
// xmlns attributes).
func parseStanzas(in []byte, waitIQ bool) ([]rawStanza, error) {
	const hint = "give one or more <message/>, <presence/> or <iq/> elements on stdin"
	d := xml.NewDecoder(bytes.NewReader(in))
	depth, count := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, usagef(hint, "stdin is not well-formed XML (byte %d): %v", d.InputOffset(), err)
		}
		line, col := d.InputPos()
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				count++
				if t.Name.Space != "" && t.Name.Space != nsJabberClient {
					return nil, usagef(hint, "stdin line %d column %d: top-level element <%s> in namespace %q is not a stanza", line, col, t.Name.Local, t.Name.Space)
				}
				switch t.Name.Local {
				case "message", "presence", "iq":
				default:
					return nil, usagef(hint, "stdin line %d column %d: top-level element <%s> is not a stanza (message, presence or iq)", line, col, t.Name.Local)
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return nil, usagef(hint, "stdin line %d column %d: text outside a stanza", line, col)
			}
		case xml.Directive:
			// RFC 6120 §11.1: no DTDs in XMPP.
			return nil, usagef(hint, "stdin line %d column %d: a <!…> declaration is not allowed", line, col)
		case xml.ProcInst:
			// RFC 6120 §11.1: processing instructions are not allowed; the
			// XML declaration at the start is read and dropped.
			if t.Target != "xml" || count > 0 || depth > 0 {
				return nil, usagef(hint, "stdin line %d column %d: processing instruction <?%s?> is not allowed", line, col, t.Target)
			}
		}
	}
	if depth != 0 {
		return nil, usagef(hint, "stdin ends inside an element (byte %d)", d.InputOffset())
	}
	if count == 0 {
		return nil, usagef(hint, "no stanza on stdin")
	}

	// Second pass: split into stanzas, keeping the raw tokens.
	d = xml.NewDecoder(bytes.NewReader(in))
	var out []rawStanza
	var toks []xml.Token
	var scopes []map[string]bool // declared prefixes, innermost last
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, usagef(hint, "stdin is not well-formed XML (byte %d): %v", d.InputOffset(), err)
		}
		line, col := d.InputPos()
		switch t := tok.(type) {
		case xml.StartElement:
			decl := map[string]bool{}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" {
					decl[a.Name.Local] = true
				}
			}
			scopes = append(scopes, decl)
			declared := func(prefix string) bool {
				if prefix == "" || prefix == "xml" {
					return true
				}
				for _, s := range scopes {
					if s[prefix] {
						return true
					}
				}
				return false
			}
			if !declared(t.Name.Space) {
				return nil, usagef(hint, "stdin line %d column %d: namespace prefix %q is not declared", line, col, t.Name.Space)
			}
			for _, a := range t.Attr {
				if a.Name.Space != "xmlns" && !declared(a.Name.Space) {
					return nil, usagef(hint, "stdin line %d column %d: namespace prefix %q is not declared", line, col, a.Name.Space)
				}
			}
			toks = append(toks, t.Copy())
		case xml.EndElement:
			scopes = scopes[:len(scopes)-1]
			toks = append(toks, t)
			if len(scopes) == 0 {
				st, err := newRawStanza(toks, waitIQ)
				if err != nil {
					return nil, usagef(hint, "stdin line %d: %v", line, err)
				}
				out = append(out, st)
				toks = nil
			}
		case xml.CharData:
			if len(scopes) > 0 {
				toks = append(toks, t.Copy())
			}
		}
		// Comments are dropped; directives and processing instructions
		// were refused by the first pass.
	}
	return out, nil
}

// newRawStanza builds a stanza from its raw tokens (the first is its start
// tag, the last its end tag).
func newRawStanza(toks []xml.Token, waitIQ bool) (rawStanza, error) {
	start := toks[0].(xml.StartElement)
	st := rawStanza{kind: start.Name.Local}
	hasID := false
	for _, a := range start.Attr {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "type":
			st.typ = a.Value
		case "id":
			st.id, hasID = a.Value, true
		}
	}
	if st.kind == "iq" {
		switch st.typ {
		case "get", "set", "result", "error":
		default:
			// RFC 6120 §8.2.3: the type attribute is required.
			return st, fmt.Errorf("<iq> needs a type of get, set, result or error, not %q", st.typ)
		}
		if !hasID || st.id == "" {
			st.id = session.NewID()
			attrs := []xml.Attr{}
			for _, a := range start.Attr {
				if a.Name.Space != "" || a.Name.Local != "id" {
					attrs = append(attrs, a)
				}
			}
			start.Attr = append(attrs, xml.Attr{Name: xml.Name{Local: "id"}, Value: st.id})
			toks[0] = start
		}
		if waitIQ && (st.typ == "get" || st.typ == "set") {
			iq, err := awaitedIQ(start, toks[1:len(toks)-1], st.id)
			if err != nil {
				return st, err
			}
			st.iq = iq
			data, err := xml.Marshal(iq)
			if err != nil {
				return st, fmt.Errorf("encode <iq>: %w", err)
			}
			st.data = data
			return st, nil
		}
	}
	data, err := encodeRaw(toks)
	if err != nil {
		return st, fmt.Errorf("encode <%s>: %w", st.kind, err)
	}
	st.data = data
	return st, nil
}

// awaitedIQ turns an iq get/set into a session.IQ, so that Session.Request
// sends it and routes its answer back. RFC 6120 §8.2.3: a get or set
// carries exactly one payload element.
func awaitedIQ(start xml.StartElement, inner []xml.Token, id string) (*session.IQ, error) {
	iq := &session.IQ{ID: id}
	for _, a := range start.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "to":
			iq.To = a.Value
		case a.Name.Space == "" && a.Name.Local == "from":
			iq.From = a.Value
		case a.Name.Space == "" && a.Name.Local == "type":
			iq.Type = a.Value
		case a.Name.Space == "" && a.Name.Local == "id":
		case a.Name.Space == "" && a.Name.Local == "xmlns" && a.Value == nsJabberClient:
		default:
			return nil, fmt.Errorf("with --wait-iq an <iq> may carry only the to, from, id and type attributes, not %s", rawName(a.Name))
		}
	}
	if start.Name.Space != "" {
		return nil, errors.New("with --wait-iq an <iq> must not have a namespace prefix")
	}
	var payload *session.RawElement
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
				payload = &session.RawElement{XMLName: xml.Name{Local: rawName(t.Name)}, Attr: attrs}
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

func runRaw(ctx context.Context, env *Env, g *options, o *rawOptions, stanzas []rawStanza) error {
	senv, err := g.sessionEnv(env)
	if err != nil {
		return err
	}
	// Same login as a one-shot send: the stable resource with a random
	// suffix, so the observer's resource is never taken over. Nothing is
	// written to the state file.
	base, _, err := session.StableResource(senv, g.account.Bare())
	if err != nil {
		return err
	}
	// Stanzas that reach the one-shot resource (a bounce, a reply) are not
	// ours to interpret; a handler keeps them from filling Events and
	// stalling the reader, which must route IQ answers.
	s, err := session.OpenHandler(ctx, g.sessionConfig(env, base+"-"+session.RandomSuffix(6)), func(any) {})
	if err != nil {
		return err
	}
	defer s.Close()
	limit := s.Conn().MaxStanza()
	// Refuse the whole input before writing any of it.
	for i, st := range stanzas {
		if len(st.data) > limit {
			return fmt.Errorf("stanza %d (<%s>): %w", i+1, st.kind, &session.StanzaTooLargeError{Size: len(st.data), Limit: limit})
		}
	}
	for i, st := range stanzas {
		if err := ctx.Err(); err != nil {
			return err
		}
		if st.iq == nil {
			if err := s.Conn().SendRaw(st.data); err != nil {
				return err
			}
			continue
		}
		r, err := s.Request(ctx, st.iq)
		if r != nil {
			line, lerr := iqLine(r)
			if lerr != nil {
				return errors.Join(err, lerr)
			}
			if _, werr := env.Stdout.Write(line); werr != nil {
				return fmt.Errorf("write stdout: %w", werr)
			}
		}
		if err != nil {
			if rest := len(stanzas) - i - 1; rest > 0 {
				return fmt.Errorf("iq %q: %w; %d later stanza(s) not sent", st.id, err, rest)
			}
			return fmt.Errorf("iq %q: %w", st.id, err)
		}
	}
	// The confirming round trip: the server has processed everything
	// written before its answer.
	return s.Ping(ctx, "")
}

// iqLine renders an IQ answer as one line of XML. session.IQ keeps the
// payload's inner XML as received; it is re-read and re-encoded here, so
// the line holds no literal newline and no raw control character.
func iqLine(iq *session.IQ) ([]byte, error) {
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
