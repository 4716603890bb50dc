package session

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// XEP-0198 stream management with resumption, for the observer's streams
// (listen, the REPL). The rules are pure (smIn, smOut, resumable,
// parseH); StreamManagement keeps their state across the connections of
// one observer, and Conn applies them on the wire (smacks_conn.go).

const nsSM = "urn:xmpp:sm:3"

// MaxUnacked bounds the stanzas kept until the server acknowledges them.
// jab asks for an acknowledgement whenever some are outstanding, so the
// queue holds what one round trip covers; past the bound the oldest are
// forgotten (and then cannot be resent), rather than making a writer wait
// on a reader that may itself be waiting on that writer.
const MaxUnacked = 500

// ErrHandledTooHigh: the server acknowledged more stanzas than we sent
// (XEP-0198 §4: a protocol error, <handled-count-too-high/>). The session
// it belongs to is not resumed; a new one is bound.
var ErrHandledTooHigh = errors.New("stream management: the server acknowledged more stanzas than were sent")

// smOut is the outbound side: what we sent and what the server has not
// acknowledged yet. Counters wrap at 2^32 (XEP-0198 §4).
type smOut struct {
	sent, acked uint32
	queue       [][]byte // the newest len(queue) unacknowledged stanzas, oldest first
}

// push counts a stanza written and keeps it until acknowledged.
func (o *smOut) push(data []byte) {
	o.sent++
	o.queue = append(o.queue, data)
	if len(o.queue) > MaxUnacked {
		o.queue[0] = nil
		o.queue = o.queue[1:]
	}
}

// unacked is how many stanzas the server has not acknowledged.
func (o *smOut) unacked() uint32 { return o.sent - o.acked }

// ack applies an h from <a/>, <resumed/> or <failed/>: the server handled
// h stanzas of ours in all. An h below the last one or above what we sent
// is refused with ErrHandledTooHigh and changes nothing.
func (o *smOut) ack(h uint32) error {
	n := h - o.acked
	if n > o.unacked() {
		return fmt.Errorf("%w (h=%d, sent %d, acknowledged before %d)", ErrHandledTooHigh, h, o.sent, o.acked)
	}
	// The queue holds the newest unacked stanzas; those acked now that
	// are still in it are at its front.
	forgotten := o.unacked() - uint32(len(o.queue))
	if n > forgotten {
		k := n - forgotten
		clear(o.queue[:k])
		o.queue = o.queue[k:]
	}
	o.acked = h
	return nil
}

// messages returns the unacknowledged <message/> stanzas: what a new
// session sends again when the old one could not be resumed. Presence and
// IQs belong to the lost session (the new one sends its own presence;
// an IQ's requester has given up on it).
func (o *smOut) messages() [][]byte {
	var out [][]byte
	for _, d := range o.queue {
		if isMessage(d) {
			out = append(out, d)
		}
	}
	return out
}

func isMessage(d []byte) bool {
	return len(d) > 9 && string(d[:8]) == "<message" && (d[8] == ' ' || d[8] == '>' || d[8] == '/')
}

// smIn is the inbound side: stanzas received, and which of them are still
// being handled. A stanza counts as handled (XEP-0198 §4) only once its
// effect is recorded and it is printed, so an acknowledged stanza is never
// lost with the process; h is the longest handled prefix of the stream.
type smIn struct {
	received uint32
	pending  []uint32 // numbers of received stanzas not handled yet, ascending
}

// read counts a received stanza; queued says it is handled later (Done),
// not at once.
func (i *smIn) read(queued bool) {
	i.received++
	if queued {
		i.pending = append(i.pending, i.received)
	}
}

// done marks the oldest pending stanza handled.
func (i *smIn) done() {
	if len(i.pending) > 0 {
		i.pending = i.pending[1:]
	}
}

// handled is h: every stanza up to it is handled.
func (i *smIn) handled() uint32 {
	if len(i.pending) > 0 {
		return i.pending[0] - 1
	}
	return i.received
}

// resumable says whether a session lost at lostAt can still be resumed
// at now: the server gave it an id and holds it for max (XEP-0198 §5);
// a margin allows for the time the new login takes.
func resumable(id string, max time.Duration, lostAt, now time.Time) bool {
	if id == "" {
		return false
	}
	if max <= 0 || lostAt.IsZero() {
		return true
	}
	return now.Sub(lostAt) < max-max/10
}

// parseH reads an h attribute: an unsigned 32-bit integer.
func parseH(s string) (uint32, bool) {
	v, err := strconv.ParseUint(s, 10, 32)
	return uint32(v), err == nil
}

// Resumption says how a session began.
type Resumption int

const (
	// Fresh: a new session, no resumption tried.
	Fresh Resumption = iota
	// Resumed: the previous session was resumed (XEP-0198 §5): the
	// server resent what it had not been acknowledged, and presence and
	// everything else of the old session go on. Nothing was missed.
	Resumed
	// ResumeRefused: resuming was tried and refused (<failed/>, a window
	// past, a server restart) or failed (a bad <resumed/>), and a new
	// session was bound. What the server had queued for the old session
	// is gone: catch up from the archive (XEP-0313) before trusting that
	// nothing was missed.
	ResumeRefused
)

func (r Resumption) String() string {
	switch r {
	case Resumed:
		return "resumed"
	case ResumeRefused:
		return "resumption refused"
	}
	return "fresh"
}

// StreamManagement keeps the XEP-0198 state of one observer across its
// connections: the resumption id, the counters and the unacknowledged
// stanzas. Set it in Config.SM of every Dial of that observer
// (ObserverDialer does); nil leaves stream management off.
//
// Concurrency: its methods are safe for concurrent use. A connection
// works on it under a generation number; what a connection that has been
// replaced still does is ignored.
type StreamManagement struct {
	mu       sync.Mutex
	gen      int
	id       string        // resumption id; "" when not resumable
	max      time.Duration // how long the server holds the session
	jid      JID           // the bound full JID of the session
	active   bool          // counting: <enable/> or <resume/> was written on gen
	enabled  bool          // counting inbound: <enabled/> or <resumed/> was read on gen
	asked    bool          // an <r/> is outstanding
	owed     bool          // an <r/> was answered with less than received
	lostAt   time.Time
	in       smIn
	out      smOut
	resumes  int
	failures int
}

// NewStreamManagement returns the state of an observer that has no
// session yet.
func NewStreamManagement() *StreamManagement { return &StreamManagement{} }

// Stats reports how many sessions were resumed and how many resumptions
// failed, for --debug and tests.
func (m *StreamManagement) Stats() (resumed, refused int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.resumes, m.failures
}

// attach starts a new connection's generation.
func (m *StreamManagement) attach() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	m.active, m.enabled, m.asked, m.owed = false, false, false, false
	return m.gen
}

// canResume reports whether the next login should resume, and with what.
func (m *StreamManagement) canResume(now time.Time) (id string, h uint32, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !resumable(m.id, m.max, m.lostAt, now) {
		return "", 0, false
	}
	return m.id, m.in.handled(), true
}

// lost records when gen's connection ended.
func (m *StreamManagement) lost(gen int, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen == m.gen && m.lostAt.IsZero() {
		m.lostAt = now
	}
}

// abandon gives the session up: the next login binds anew and resends
// the unacknowledged messages.
func (m *StreamManagement) abandon() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.id = ""
}

// fresh starts the counters of a newly bound session on gen (the
// <enable/> is being written) and returns the unacknowledged messages of
// the previous session, which the caller sends again.
//
// had says a previous session existed that is now lost. offered says the
// server offers stream management on this stream; without it nothing is
// counted.
func (m *StreamManagement) fresh(gen int, jid JID, offered bool) (resend [][]byte, had bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	resend, had = m.out.messages(), m.id != "" || m.out.unacked() > 0
	m.id, m.max, m.jid = "", 0, jid
	m.in, m.out = smIn{}, smOut{}
	m.lostAt = time.Time{}
	m.active = offered && gen == m.gen
	return resend, had
}

// resumableID reports whether the server gave the session an id to
// resume it with.
func (m *StreamManagement) resumableID() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.id != ""
}

// askedNow records that an <r/> was written on gen.
func (m *StreamManagement) askedNow(gen int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen == m.gen {
		m.asked = true
	}
}

// refused applies the h of a <failed/> to a resumption: the server had
// handled that many of our stanzas, which are not sent again.
func (m *StreamManagement) refused(h string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failures++
	m.id = ""
	if v, ok := parseH(h); ok {
		// A bad h is ignored: then every unacknowledged message is sent
		// again, and the contact's client drops duplicates by origin-id.
		_ = m.out.ack(v)
	}
}

// resumed applies <resumed h/>: it returns the stanzas to send again, or
// ErrHandledTooHigh for an h beyond what we sent.
func (m *StreamManagement) resumed(gen int, h string) ([][]byte, JID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := parseH(h)
	if !ok {
		return nil, JID{}, fmt.Errorf("stream management: <resumed/> with h %q", h)
	}
	if err := m.out.ack(v); err != nil {
		return nil, JID{}, err
	}
	m.resumes++
	m.lostAt = time.Time{}
	if gen == m.gen {
		m.active, m.enabled = true, true
	}
	return append([][]byte(nil), m.out.queue...), m.jid, nil
}

// enabledNow applies <enabled/>: counting inbound starts, and the session
// is resumable with id for max.
// It says whether an <r/> should follow, for stanzas written before it.
func (m *StreamManagement) enabledNow(gen int, id, resume, max string) (ask bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.gen || !m.active {
		return false
	}
	m.enabled = true
	if resume == "true" || resume == "1" {
		m.id = id
		if s, err := strconv.Atoi(max); err == nil && s > 0 {
			m.max = time.Duration(s) * time.Second
		}
	}
	if m.out.unacked() > 0 && !m.asked {
		m.asked = true
		return true
	}
	return false
}

// disabled applies a <failed/> to <enable/>: no stream management on
// this connection.
func (m *StreamManagement) disabled(gen int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen == m.gen {
		m.active, m.enabled, m.id = false, false, ""
		m.out = smOut{}
	}
}

// sent counts a stanza written on gen; ask says an <r/> should follow it.
func (m *StreamManagement) sent(gen int, data []byte) (ask bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.gen || !m.active {
		return false
	}
	m.out.push(bytes.Clone(data))
	if m.asked || !m.enabled {
		// Before <enabled/> the server may not answer an <r/> yet; the
		// first <a/> after it covers these too.
		return false
	}
	m.asked = true
	return true
}

// acked applies <a h/>; ask says another <r/> should follow (more is
// outstanding).
func (m *StreamManagement) acked(gen int, h string) (ask bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.gen || !m.active {
		return false, nil
	}
	v, ok := parseH(h)
	if !ok {
		return false, fmt.Errorf("stream management: <a/> with h %q", h)
	}
	if err := m.out.ack(v); err != nil {
		m.id = ""
		return false, err
	}
	m.asked = m.out.unacked() > 0
	return m.asked, nil
}

// received counts an inbound stanza on gen; queued: it is handled later.
func (m *StreamManagement) received(gen int, queued bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen == m.gen && m.enabled {
		m.in.read(queued)
	}
}

// answer is the h for an <r/>.
func (m *StreamManagement) answer(gen int) (h uint32, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.gen || !m.enabled {
		return 0, false
	}
	h = m.in.handled()
	m.owed = h != m.in.received
	return h, true
}

// done marks the oldest queued stanza of gen handled; when an <r/> was
// answered short and everything is handled now, it returns the h to send
// unasked.
func (m *StreamManagement) done(gen int) (h uint32, send bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.gen || !m.enabled {
		return 0, false
	}
	m.in.done()
	if m.owed && len(m.in.pending) == 0 {
		m.owed = false
		return m.in.received, true
	}
	return 0, false
}

// smElem is any XEP-0198 element the server sends.
type smElem struct {
	XMLName  xml.Name
	H        string     `xml:"h,attr"`
	ID       string     `xml:"id,attr"`
	Resume   string     `xml:"resume,attr"`
	Max      string     `xml:"max,attr"`
	PrevID   string     `xml:"previd,attr"`
	Location string     `xml:"location,attr"`
	Errors   []xml.Name `xml:",any"`
}

func (e *smElem) condition() string {
	for _, n := range e.Errors {
		return n.Local
	}
	return "undefined-condition"
}
