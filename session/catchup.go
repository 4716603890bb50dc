package session

import (
	"context"
	"errors"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// catchUp is one observer session's archive catch-up (mam.go has the
// rules). It reads the session's stanzas itself while a query runs: the
// results arrive as messages, before the IQ answer that ends the page.
// Live stanzas that arrive meanwhile are held back (up to maxDeferred) and
// handled after it, so archived messages print first.
//
// Stream management (XEP-0198) hears of each result once it is applied,
// not at the end: Prosody ends a session that leaves more than 500
// stanzas unacknowledged, and a catch-up reads thousands. The count is
// all it hears, so a result after a held-back live stanza acknowledges
// that one early; a resumed session therefore catches up as well.
type catchUp struct {
	env     Env
	s       *Session
	account string
	own     string // our observer resource: archived messages from it (or its one-shot sends) are in the history already
	o       CatchUpOptions
	seen    *dedup
	emit    func(Event) error
	hold    *holder // live stanzas read meanwhile
	logf    func(string, ...any)
	applied int // archived messages applied in this session's catch-ups
	skipped int // results past the limit
	// room, when set, makes this the catch-up of one joined room from
	// the room's own archive (muc_catchup.go) rather than the account's.
	room *roomArchive
}

type iqAnswer struct {
	iq  *IQ
	err error
}

// phase runs one catch-up: first is the one before the initial presence.
func (c *catchUp) phase(ctx context.Context, first bool) error {
	st, err := c.env.Store.Load()
	if err != nil {
		return err
	}
	pos := c.stored(st.Account(c.account))
	var start time.Time
	switch {
	case first && c.o.Since > 0:
		start = c.env.Now().Add(-c.o.Since)
		pos = ""
	case pos == "":
		// A first run: there is no "since the last run" yet. Nothing is
		// caught up; the newest archived message becomes the position.
		if first {
			c.env.debugf("no stored archive position for %s: nothing to catch up; starting from the newest archived message", c.name())
		}
		return c.query(ctx, time.Time{}, "", true)
	}
	return c.query(ctx, start, pos, false)
}

// query pages through one query. establish asks only for the newest
// archived message, to record its id as the position.
func (c *catchUp) query(ctx context.Context, start time.Time, after string, establish bool) error {
	page := c.o.Page
	if page <= 0 {
		page = CatchUpPage
	}
	limit := c.o.Limit
	if limit <= 0 {
		limit = MaxCatchUp
	}
	if establish {
		page = 1
	}
	p := &Paging{After: after, Limit: limit, Lasts: map[string]bool{}}
	total := -1
	for n := 0; ; n++ {
		qid := NewID()
		iq := mamQuery(qid, start, p.After, establish, page)
		iq.To = c.to()
		res, err := awaitIQ(ctx, c.s, iq, func(v any) (bool, error) { return c.handle(ctx, v, qid, p, establish) })
		var iqe *IQError
		switch {
		case errors.As(err, &iqe):
			c.logf("warning: the archive%s refused the catch-up query (%v); going on without it", c.of(), err)
			return nil
		case err != nil:
			return err
		}
		fin, err := ParseFin(res)
		if err != nil {
			c.logf("warning: catch-up%s: %v", c.of(), err)
			return nil
		}
		c.env.debugf("catch-up page %d: %d archived messages so far, complete=%v", n+1, p.Applied, fin.Complete)
		if establish {
			return nil
		}
		if n == 0 {
			total = fin.Count
		}
		more, left, why := NextPage(p, fin, total)
		if more {
			continue
		}
		if why != "" {
			switch {
			case c.skipped > 0 || p.Applied >= p.Limit:
				if left < c.skipped {
					left = c.skipped
				}
				c.logf("warning: %s%s; %d archived messages were left (jab listen --since replays further back)", why, c.of(), left)
			default:
				c.logf("warning: %s%s", why, c.of())
			}
		}
		return nil
	}
}

// handle takes one stanza read during a query: a result of it, an
// archive result of anything else (dropped, item 87), or a live stanza,
// which it holds back (held).
func (c *catchUp) handle(ctx context.Context, v any, qid string, p *Paging, establish bool) (held bool, err error) {
	m, ok := v.(*Message)
	if !ok || m.MAMResult == nil {
		return c.hold.take(v)
	}
	return false, c.result(ctx, m, qid, p, establish)
}

// result applies one archive result of the open query qid.
func (c *catchUp) result(ctx context.Context, m *Message, qid string, p *Paging, establish bool) error {
	inner, id, stamp, drop := c.accept(m, qid)
	if drop != "" {
		c.env.debugf("dropped: %s", drop)
		return nil
	}
	if establish {
		return c.position(ctx, id)
	}
	if p.Applied >= p.Limit {
		c.skipped++
		return nil
	}
	p.Applied++
	keys := messageKeys(inner.From, inner.ID, originID(inner), c.keyOf(id))
	if c.seen.has(keys) {
		return c.position(ctx, id)
	}
	if c.room != nil {
		return c.roomApply(ctx, inner, id, stamp, keys)
	}
	if from, err := ParseJID(inner.From); err == nil && from.Bare() == c.account &&
		OwnResource(from.Resource, c.own) && BareOf(inner.To) != c.account {
		// Sent by this jab (listen's bot, the REPL, a one-shot send of
		// this account): it is in the history already.
		c.seen.add(keys)
		return c.position(ctx, id)
	}
	ev, show, err := apply(ctx, c.env, c.account, inner, applyOpts{Archived: true, ArchiveID: id, Stamp: stamp, S: c.s})
	if err != nil {
		return err
	}
	c.applied++
	c.seen.add(keys)
	if !show {
		return nil
	}
	return c.emit(ev)
}

// holder keeps the live stanzas that observe reads while it waits for
// answers before its loop (disco#info, carbons, the catch-up), to handle
// them after; past maxDeferred it handles them at once (live), so memory
// stays bounded. Waiting without reading would deadlock: the reader stops
// when Events is full, and the answer is behind what fills it (a resumed
// session's queue, XEP-0198 §5).
type holder struct {
	deferred []any
	live     func(any) error
}

// take holds v back and reports true, or handles it at once.
func (h *holder) take(v any) (bool, error) {
	if len(h.deferred) < maxDeferred {
		h.deferred = append(h.deferred, v)
		return true, nil
	}
	return false, h.live(v)
}

// awaitIQ sends iq on s and waits for its answer, giving take every
// stanza read meanwhile. The server answers after what it sent before,
// and the reader queued that before it read the answer, so what is
// queued when the answer comes is taken too. Stream management hears of
// each stanza once take has handled it (Session.Handled), of one held
// back when observe handles it: a connection lost meanwhile has the
// server send it again on resumption. An error answer is an
// *IQError; a failed connection a connLost; take's errors come back as
// they are.
func awaitIQ(ctx context.Context, s *Session, iq *IQ, take func(any) (held bool, err error)) (*IQ, error) {
	ans := make(chan iqAnswer, 1)
	go func() {
		r, err := s.Request(ctx, iq)
		ans <- iqAnswer{r, err}
	}()
	next := func(v any, ok bool) error {
		if !ok {
			return &connLost{s.Err()}
		}
		held, err := take(v)
		if err == nil && !held {
			s.Handled()
		}
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case v, ok := <-s.Events():
			if err := next(v, ok); err != nil {
				return nil, err
			}
		case a := <-ans:
			for k := len(s.Events()); k > 0; k-- {
				v, ok := <-s.Events()
				if err := next(v, ok); err != nil {
					return nil, err
				}
			}
			var iqe *IQError
			if a.err != nil && !errors.As(a.err, &iqe) && ctx.Err() == nil {
				return a.iq, &connLost{a.err}
			}
			return a.iq, a.err
		}
	}
}

// position records id as the newest archived message seen.
func (c *catchUp) position(ctx context.Context, id string) error {
	_, err := c.env.Store.Update(ctx, func(st *statefile.State) error {
		if !c.move(st.Account(c.account), id) {
			return errNoChange
		}
		return nil
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err
}

// messageKeys are the identities by which one message is recognised again
// (issue 12: each message prints once): its archive id (a trusted
// stanza-id, item 88), its sender's origin-id and its sender's id.
func messageKeys(from, id, origin, stanzaID string) []string {
	var keys []string
	if stanzaID != "" {
		keys = append(keys, "s\x00"+stanzaID)
	}
	if origin != "" {
		keys = append(keys, "o\x00"+from+"\x00"+origin)
	}
	if id != "" {
		keys = append(keys, "i\x00"+from+"\x00"+id)
	}
	return keys
}
