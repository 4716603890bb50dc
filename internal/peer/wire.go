package peer

import (
	"bytes"
	"encoding/xml"
	"sync"
)

// tap is the session's debug writer: it keeps the bytes the peer's
// connection read (the RECV lines) and cuts them into stanzas with a
// scanner of its own, so the raw XML a test sees never went through
// session's decoder or its types.
//
// The session writes one RECV line per read, with the read's trailing
// newlines trimmed; a stanza whose text ends in a newline at the very end
// of a read would lose it. Prosody writes each stanza whole and never ends
// one with a newline outside its text, so in practice the bytes are those
// on the wire.
type tap struct {
	mu    sync.Mutex
	on    bool // set once the stream is bound: what came before is negotiation
	split splitter
	queue [][]byte // stanzas read but not yet matched with a decoded one
}

func (w *tap) Write(b []byte) (int, error) {
	line, ok := bytes.CutPrefix(b, []byte("RECV "))
	if !ok {
		return len(b), nil
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.on {
		w.queue = append(w.queue, w.split.feed(line)...)
	}
	return len(b), nil
}

// start begins recording. The session has read everything up to the bind
// result by now, and nothing arrives unasked before the peer acts.
func (w *tap) start() {
	w.mu.Lock()
	w.on = true
	w.mu.Unlock()
}

// take returns the raw stanza a decoded one came from: the first queued
// stanza with the same element name and id, from, to and type attributes.
// Those before it were stanzas the session consumed itself (IQ results,
// IQs it answered); they are dropped. nil if none matches.
func (w *tap) take(name string, key stanzaKey) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, raw := range w.queue {
		if n, k, ok := keyOf(raw); ok && n == name && k == key {
			w.queue = w.queue[i+1:]
			return raw
		}
	}
	return nil
}

// stanzaKey is what identifies a stanza in the queue.
type stanzaKey struct{ id, from, to, typ string }

// keyOf reads the start tag of raw, with encoding/xml alone.
func keyOf(raw []byte) (string, stanzaKey, bool) {
	tok, err := xml.NewDecoder(bytes.NewReader(raw)).RawToken()
	if err != nil {
		return "", stanzaKey{}, false
	}
	se, ok := tok.(xml.StartElement)
	if !ok {
		return "", stanzaKey{}, false
	}
	var k stanzaKey
	for _, a := range se.Attr {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "id":
			k.id = a.Value
		case "from":
			k.from = a.Value
		case "to":
			k.to = a.Value
		case "type":
			k.typ = a.Value
		}
	}
	return se.Name.Local, k, true
}

// splitter cuts a client stream's bytes, fed in pieces as read, into its
// top-level elements: the stanzas. It knows just enough XML for that:
// tags, quoted attribute values (which may hold '>'), processing
// instructions, comments and CDATA sections; a stream header
// (<stream:stream ...>) starts a new stream, whose children are stanzas.
type splitter struct {
	buf   []byte // bytes not yet part of an emitted stanza
	pos   int    // how far buf is scanned
	tag   int    // start of the markup being scanned in buf, -1 when in text
	quote byte   // the open quote inside a tag, or 0
	start int    // start of the current stanza in buf
	depth int    // element depth below the stream: 0 between stanzas
}

func (s *splitter) feed(b []byte) [][]byte {
	if s.buf == nil {
		s.tag = -1
	}
	s.buf = append(s.buf, b...)
	var out [][]byte
	for ; s.pos < len(s.buf); s.pos++ {
		c := s.buf[s.pos]
		if s.tag < 0 {
			if c == '<' {
				s.tag = s.pos
			}
			continue
		}
		if s.quote != 0 {
			if c == s.quote {
				s.quote = 0
			}
			continue
		}
		markup := s.buf[s.tag : s.pos+1]
		switch {
		case bytes.HasPrefix(markup, []byte("<!--")):
			if c != '>' || !bytes.HasSuffix(markup, []byte("-->")) || len(markup) < 7 {
				continue
			}
		case bytes.HasPrefix(markup, []byte("<![CDATA[")):
			if c != '>' || !bytes.HasSuffix(markup, []byte("]]>")) || len(markup) < 12 {
				continue
			}
		case len(markup) < 9 && bytes.HasPrefix([]byte("<![CDATA["), markup):
			continue // not yet known whether this is CDATA
		case c == '"' || c == '\'':
			s.quote = c
			continue
		case c != '>':
			continue
		}
		if stanza := s.element(markup); stanza != nil {
			out = append(out, stanza)
		}
		s.tag = -1
	}
	s.compact()
	return out
}

// compact drops the bytes no stanza or open tag needs any more.
func (s *splitter) compact() {
	keep := s.pos
	if s.depth > 0 {
		keep = s.start
	}
	if s.tag >= 0 {
		keep = min(keep, s.tag)
	}
	if keep == 0 {
		return
	}
	s.buf = append(s.buf[:0], s.buf[keep:]...)
	s.pos -= keep
	s.start -= keep
	if s.tag >= 0 {
		s.tag -= keep
	}
}

// element accounts for one complete piece of markup ending at s.pos and
// returns the stanza it ends, if it ends one.
func (s *splitter) element(markup []byte) []byte {
	switch {
	case bytes.HasPrefix(markup, []byte("<?")), bytes.HasPrefix(markup, []byte("<!")):
		return nil
	case bytes.HasPrefix(markup, []byte("</")):
		if s.depth == 0 {
			return nil // </stream:stream>
		}
		s.depth--
	case bytes.HasPrefix(markup, []byte("<stream:stream")) && isNameEnd(markup[len("<stream:stream")]):
		s.depth = 0
		return nil
	case bytes.HasSuffix(markup, []byte("/>")):
		if s.depth > 0 {
			return nil
		}
		s.start = s.tag
	default:
		if s.depth == 0 {
			s.start = s.tag
		}
		s.depth++
		return nil
	}
	if s.depth > 0 {
		return nil
	}
	return bytes.Clone(s.buf[s.start : s.pos+1])
}

func isNameEnd(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '>' || c == '/'
}
