package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/jab-xmpp/jab/statefile"
)

// NewID returns a random version-4 UUID from crypto/rand. It is used for
// thread ids, message ids and origin-ids; never version 1, which carries a
// MAC address (XEP-0201 0.3 §9, RFC 6121 §5.2.5).
func NewID() string {
	return uuid.Must(uuid.NewRandom()).String()
}

// RandomSuffix returns n random hex characters, for one-shot resources.
func RandomSuffix(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// Features this client answers disco#info with.
var discoFeatures = []string{nsDiscoInfo, nsPing}

// Session is one connection with a single reader goroutine. Inbound
// messages and presences arrive on Events; IQ requests from others are
// answered by the reader itself; IQ responses go to the waiting Request.
type Session struct {
	conn    *Conn
	timeout time.Duration
	events  chan any
	done    chan struct{}
	err     error // why the reader stopped; valid after done is closed

	// handler, when set, receives messages and presences synchronously in
	// the reader instead of Events, so they are handled in stream order
	// relative to IQ responses.
	handler  func(any)
	iqHook   func(*IQ) bool
	features []string // disco#info features beyond discoFeatures

	rosterPush atomic.Pointer[func([]statefile.RosterItem)]

	mu      sync.Mutex
	pending map[string]chan *IQ

	stalls atomic.Int64 // times the reader found Events full and waited
	// closedLast: PingClose closed the stream after the last answer;
	// Close does not wait for the server's closing tag.
	closedLast atomic.Bool

	// Watchers (Watch, WatchApplied); watching counts them so the reader
	// takes no lock while nobody watches.
	watchMu  sync.RWMutex
	watchers map[*func(any)]struct{}
	appliedW map[*func(any, Event)]struct{}
	watching atomic.Int32
}

// Stalls counts the times the reader had to wait for Events to be
// drained. While it waits nothing is read, IQ answers included, so an
// answer that comes late during a stall was held up by us, not the
// network.
func (s *Session) Stalls() int64 { return s.stalls.Load() }

// Backlogged reports whether the reader is waiting for Events to be
// drained: then nothing more is read, IQ answers included, until the
// consumer catches up.
func (s *Session) Backlogged() bool { return len(s.events) == cap(s.events) }

// Open dials and starts the reader; inbound stanzas arrive on Events.
func Open(ctx context.Context, cfg Config) (*Session, error) {
	return OpenHandler(ctx, cfg, nil)
}

// OpenHandler is Open with a handler called, in the reader goroutine, for
// every inbound message and presence before any later stanza is read. It
// must not block.
func OpenHandler(ctx context.Context, cfg Config, handler func(any)) (*Session, error) {
	c, err := Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &Session{conn: c, timeout: cfg.Timeout, events: make(chan any, 64),
		done: make(chan struct{}), pending: map[string]chan *IQ{}, handler: handler, iqHook: cfg.HandleIQ,
		features: cfg.Features}
	go s.readLoop()
	return s, nil
}

// JID is the bound full JID.
func (s *Session) JID() JID { return s.conn.JID() }

// Conn gives access to the stream for sending stanzas.
func (s *Session) Conn() *Conn { return s.conn }

// Events delivers *Message and *Presence stanzas; it is closed when the
// stream ends, after which Err says why.
func (s *Session) Events() <-chan any { return s.events }

// Done is closed when the reader has stopped.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is the reason the stream ended (ErrClosed for an orderly close).
func (s *Session) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

func (s *Session) readLoop() {
	// Deferred calls run last-first: done is closed before events, so
	// whoever sees Events end finds Err already set.
	defer close(s.events)
	defer close(s.done)
	for {
		v, err := s.conn.Read()
		if err != nil {
			// Any read error ends this connection; nothing more is read.
			if s.conn.sm != nil {
				s.conn.sm.lost(s.conn.smGen, smNowConn(s.conn))
			}
			s.err = err
			s.conn.Close()
			s.mu.Lock()
			for id, ch := range s.pending {
				close(ch)
				delete(s.pending, id)
			}
			s.mu.Unlock()
			return
		}
		if s.conn.sm != nil {
			// XEP-0198: an IQ or a handler's stanza is handled before
			// the next read; one for Events once the consumer says so.
			_, isIQ := v.(*IQ)
			s.conn.sm.received(s.conn.smGen, !isIQ && s.handler == nil)
		}
		if iq, ok := v.(*IQ); ok {
			s.handleIQ(iq)
			continue
		}
		if s.watching.Load() > 0 {
			s.notify(v)
		}
		if s.handler != nil {
			s.handler(v)
			continue
		}
		if len(s.events) == cap(s.events) {
			s.stalls.Add(1)
		}
		s.events <- v
	}
}

// Watch calls f, in the reader goroutine, with every message and presence
// received, before it is queued on Events or given to the handler, until
// stop is called. Since nothing later on the stream is read before f
// returns, a Sender attached to a session that someone else reads (listen's)
// sees a bounce before the answer to the ping that follows its messages.
// f must not block, nor call Watch or stop. Any number of watchers may be
// registered; they cost nothing while there are none.
func (s *Session) Watch(f func(any)) (stop func()) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.watchers == nil {
		s.watchers = map[*func(any)]struct{}{}
	}
	key := &f
	s.watchers[key] = struct{}{}
	s.watching.Add(1)
	return sync.OnceFunc(func() {
		s.watchMu.Lock()
		delete(s.watchers, key)
		s.watchMu.Unlock()
		s.watching.Add(-1)
	})
}

// WatchApplied calls f with every message and presence that Listen has
// recorded (Apply) and would show, with its Event, before Listen emits it,
// until stop is called: what a Sender attached to listen's session waits
// for as a reply must be in the state file before the sender reports it.
// Only a session run by Listen calls it. f must not block.
func (s *Session) WatchApplied(f func(any, Event)) (stop func()) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.appliedW == nil {
		s.appliedW = map[*func(any, Event)]struct{}{}
	}
	key := &f
	s.appliedW[key] = struct{}{}
	s.watching.Add(1)
	return sync.OnceFunc(func() {
		s.watchMu.Lock()
		delete(s.appliedW, key)
		s.watchMu.Unlock()
		s.watching.Add(-1)
	})
}

func (s *Session) notify(v any) {
	s.watchMu.RLock()
	defer s.watchMu.RUnlock()
	for f := range s.watchers {
		(*f)(v)
	}
}

// applied is Listen's call for WatchApplied.
func (s *Session) applied(v any, ev Event) {
	if s.watching.Load() == 0 {
		return
	}
	s.watchMu.RLock()
	defer s.watchMu.RUnlock()
	for f := range s.appliedW {
		(*f)(v, ev)
	}
}

func (s *Session) handleIQ(iq *IQ) {
	switch iq.Type {
	case "result", "error":
		s.mu.Lock()
		ch := s.pending[iq.ID]
		delete(s.pending, iq.ID)
		s.mu.Unlock()
		if ch != nil {
			ch <- iq
		}
		return
	}
	if s.iqHook != nil && s.iqHook(iq) {
		return
	}
	reply := &IQ{To: iq.From, ID: iq.ID, Type: "result"}
	switch {
	case iq.Type == "set" && iq.Payload != nil && iq.Payload.XMLName.Space == nsRoster && iq.Payload.XMLName.Local == "query":
		// RFC 6121 §2.1.6: a roster push comes from our own account and
		// is acknowledged; one from anyone else is refused (§2.1.6, 8.3).
		if iq.From != "" && BareOf(iq.From) != s.JID().Bare() {
			reply.Type = "error"
			reply.Error = &StanzaError{Type: "cancel", Condition: []xml.Name{{Space: nsStanzas, Local: "service-unavailable"}}}
			break
		}
		if f := s.rosterPush.Load(); f != nil {
			if items, err := ParseRoster(iq); err == nil {
				(*f)(items)
			}
		}
	case iq.Type == "get" && iq.Payload != nil && iq.Payload.XMLName.Space == nsPing:
		// XEP-0199: answer pings, so our own liveness checks work both ways.
	case iq.Type == "get" && iq.Payload != nil && iq.Payload.XMLName.Space == nsDiscoInfo:
		inner := "<identity category='client' type='console' name='jab'/>"
		for _, f := range append(discoFeatures[:len(discoFeatures):len(discoFeatures)], s.features...) {
			inner += "<feature var='" + f + "'/>"
		}
		reply.Payload = &RawElement{XMLName: xml.Name{Space: nsDiscoInfo, Local: "query"}, Inner: []byte(inner)}
	default:
		// RFC 6120 §8.4: an IQ we do not understand gets an error. The
		// request's payload is not echoed (§8.3.1 makes that optional).
		reply.Type = "error"
		reply.Error = &StanzaError{Type: "cancel", Condition: []xml.Name{{Space: nsStanzas, Local: "service-unavailable"}}}
	}
	// A failed write surfaces as a read error soon after.
	_ = s.conn.Send(reply)
}

// Request sends an IQ and waits for its response, bounded by ctx and the
// session timeout. An error response is returned as *IQError.
func (s *Session) Request(ctx context.Context, iq *IQ) (*IQ, error) {
	return s.request(ctx, iq, false)
}

// request is Request; with last, the stream's closing tag follows the
// answer (or the failure to get one), and no stanza may follow.
func (s *Session) request(ctx context.Context, iq *IQ, last bool) (*IQ, error) {
	if last {
		defer s.closeAfter()
	}
	if iq.ID == "" {
		iq.ID = NewID()
	}
	ch := make(chan *IQ, 1)
	s.mu.Lock()
	s.pending[iq.ID] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, iq.ID)
		s.mu.Unlock()
	}()
	if err := s.conn.Send(iq); err != nil {
		return nil, err
	}
	// The request must go out now to be answered: stanzas held for it
	// (Conn.Hold) go in the same write.
	if err := s.conn.Release(); err != nil {
		return nil, fmt.Errorf("write stanza: %w", err)
	}
	var timer <-chan time.Time
	if s.timeout > 0 {
		t := time.NewTimer(s.timeout)
		defer t.Stop()
		timer = t.C
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("waiting for answer to %s: %w", iq.ID, s.Err())
		}
		if r.Type == "error" {
			return r, &IQError{From: r.From, Condition: r.Error.Cond()}
		}
		return r, nil
	case <-s.done:
		// The reader ended (its error says why) before this request was
		// registered, or after: no answer can come.
		select {
		case r, ok := <-ch:
			if ok && r.Type == "error" {
				return r, &IQError{From: r.From, Condition: r.Error.Cond()}
			}
			if ok {
				return r, nil
			}
		default:
		}
		return nil, fmt.Errorf("waiting for answer to %s: %w", iq.ID, s.Err())
	case <-timer:
		return nil, fmt.Errorf("%w: no answer from %s", ErrTimeout, orServer(iq.To))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// closeAfter ends a one-shot session after its last answer: it writes
// the closing tag, and Close then ends the connection without waiting
// for the server's (see PingClose).
func (s *Session) closeAfter() {
	s.conn.CloseStream()
	s.closedLast.Store(true)
}

func orServer(to string) string {
	if to == "" {
		return "the server"
	}
	return to
}

// IQError is an error response to one of our IQs.
type IQError struct{ From, Condition string }

func (e *IQError) Error() string { return orServer(e.From) + " answered " + e.Condition }

// Ping sends a XEP-0199 ping to to ("" pings our server).
func (s *Session) Ping(ctx context.Context, to string) error {
	return s.PingThread(ctx, to, "")
}

// PingThread pings on behalf of a conversation: the thread goes in a SHIM
// ThreadID header inside the ping payload, never as a direct child of
// <iq/>, which may have only one (XEP-0201 0.3 §7, XEP-0131 §4).
// PingClose pings the server, waits for the answer and closes the stream:
// the last round trip of a one-shot run. The server handles the stream in
// order, so the answer comes after everything written before. The closing
// tag goes only after the answer: ejabberd (23.01) stops at once when it
// reads one, dropping answers it has not written yet, so a tag in the same
// write as the ping cost every one-shot send on ejabberd its confirmation.
// Close then ends the connection without waiting for the server's closing
// tag (RFC 6120 §4.4 has the closer wait so that outstanding data can
// arrive; after this answer a one-shot run expects none), so closing
// still costs no round trip of its own.
func (s *Session) PingClose(ctx context.Context) error {
	ping := &RawElement{XMLName: xml.Name{Space: nsPing, Local: "ping"}}
	_, err := s.request(ctx, &IQ{Type: "get", Payload: ping}, true)
	return err
}

func (s *Session) PingThread(ctx context.Context, to, thread string) error {
	ping := &RawElement{XMLName: xml.Name{Space: nsPing, Local: "ping"}}
	if thread != "" {
		h, err := xml.Marshal(&Headers{Header: []Header{{Name: "ThreadID", Value: thread}}})
		if err != nil {
			return err
		}
		ping.Inner = h
	}
	_, err := s.Request(ctx, &IQ{To: to, Type: "get", Payload: ping})
	return err
}

// OnRosterPush sets the function called, in the reader, with the items
// of each roster push (RFC 6121 §2.1.6); pushes are acknowledged either way.
func (s *Session) OnRosterPush(f func([]statefile.RosterItem)) { s.rosterPush.Store(&f) }

// SendPresence broadcasts available presence with the given priority.
func (s *Session) SendPresence(priority int) error {
	return s.conn.Send(&Presence{Priority: &priority})
}

// Close ends the stream politely: it sends the closing tag and waits, at
// most the session timeout, for the server to close its side.
func (s *Session) Close() error {
	err := s.conn.CloseStream()
	if s.closedLast.Load() {
		s.conn.Close()
		return nil
	}
	wait := s.timeout
	if wait <= 0 || wait > 2*time.Second {
		wait = 2 * time.Second
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
	}
	s.conn.Close()
	if err != nil && !errors.Is(err, ErrClosed) {
		return err
	}
	return nil
}
