package session

import (
	"errors"
	"fmt"
	"time"
)

// The wire side of XEP-0198: Conn applies the rules of smacks.go.

// ResumeError: a resumption went wrong in a way that is not a refusal
// (a <resumed/> acknowledging more than we sent, an unexpected answer).
// The dialer gives the old session up and binds a new one.
type ResumeError struct{ Err error }

func (e *ResumeError) Error() string { return "resume session: " + e.Err.Error() }
func (e *ResumeError) Unwrap() error { return e.Err }

// resumeFailure wraps an error of the resumption: a stream error (say, a
// server that no longer knows <resume/>) gives the session up, so the
// dialer binds a new one at once instead of asking again for minutes; a
// network error leaves it resumable.
func resumeFailure(err error) error {
	var se *StreamError
	if errors.As(err, &se) {
		return &ResumeError{err}
	}
	return fmt.Errorf("resume session: %w", err)
}

func smNow(cfg Config) time.Time {
	if cfg.Now != nil {
		return cfg.Now()
	}
	return time.Now()
}

// resume restarts the stream after SASL with <resume/> instead of the
// binding request (XEP-0198 §5). Resumed: the server resends what we had
// not acknowledged, and we resend what it had not. Refused (<failed/>):
// a new resource is bound on this stream, and the unacknowledged messages
// go out again once stream management is enabled (startSM).
func (c *Conn) resume(cfg Config, id string, h uint32) error {
	req := fmt.Sprintf("<resume xmlns='%s' previd='%s' h='%d'/>", nsSM, xmlEscape(id), h)
	if err := c.writeStreamHeader(cfg.JID.Domain, cfg.JID.Bare(), req); err != nil {
		return err
	}
	f, err := c.readStreamHeader()
	if err != nil {
		return resumeFailure(err)
	}
	return c.resumeAnswer(cfg, f)
}

// resumeSASL2 is resume after a XEP-0388 login, which restarts no stream:
// <resume/> follows the features f of the authenticated stream.
func (c *Conn) resumeSASL2(cfg Config, f *streamFeatures, id string, h uint32) error {
	if err := c.write(fmt.Appendf(nil, "<resume xmlns='%s' previd='%s' h='%d'/>", nsSM, xmlEscape(id), h)); err != nil {
		return err
	}
	return c.resumeAnswer(cfg, f)
}

// resumeAnswer reads the answer to <resume/>, after the features f.
func (c *Conn) resumeAnswer(cfg Config, f *streamFeatures) error {
	if f.Limits != nil && f.Limits.MaxBytes > 0 {
		c.maxBytes.Store(int64(f.Limits.MaxBytes))
	}
	se, err := c.nextStart()
	if err != nil {
		return resumeFailure(err)
	}
	if se.Name.Space == nsStream && se.Name.Local == "error" {
		var e StreamError
		if err := c.dec.DecodeElement(&e, &se); err != nil {
			return resumeFailure(err)
		}
		return &ResumeError{&e}
	}
	if se.Name.Space != nsSM {
		return &ResumeError{fmt.Errorf("expected <resumed/> or <failed/>, got <%s>", se.Name.Local)}
	}
	var e smElem
	if err := c.dec.DecodeElement(&e, &se); err != nil {
		return fmt.Errorf("resume session: %w", err)
	}
	switch se.Name.Local {
	case "resumed":
		resend, jid, err := c.sm.resumed(c.smGen, e.H)
		if err != nil {
			return &ResumeError{err}
		}
		c.jid, c.resumption = jid, Resumed
		var out []byte
		for _, d := range resend {
			out = append(out, d...)
		}
		if len(resend) > 0 {
			out = append(out, "<r xmlns='"+nsSM+"'/>"...)
			c.sm.askedNow(c.smGen)
			if err := c.write(out); err != nil {
				return err
			}
		}
		return nil
	case "failed":
		c.sm.refused(e.H)
		c.resumption = ResumeRefused
		if f.Bind == nil {
			return errors.New("server offers no resource binding")
		}
		return c.bind(cfg)
	}
	return &ResumeError{fmt.Errorf("expected <resumed/> or <failed/>, got <%s>", se.Name.Local)}
}

// startSM enables stream management with resumption on a newly bound
// session when the server offers it, and sends again the messages the
// previous session had not seen acknowledged, with their original ids
// and origin-ids, so a recipient's client can drop what it already has.
func (c *Conn) startSM() error {
	if c.sm == nil || c.resumption == Resumed {
		return nil
	}
	resend, had := c.sm.fresh(c.smGen, c.jid, c.smOffered)
	if had && c.resumption == Fresh {
		// The previous session could not even be asked (its window was
		// past, or the login path has no resumption): it is lost all
		// the same.
		c.resumption = ResumeRefused
	}
	if c.smOffered {
		if err := c.write([]byte("<enable xmlns='" + nsSM + "' resume='true'/>")); err != nil {
			return err
		}
	}
	for _, d := range resend {
		if err := c.writeStanza(d); err != nil {
			return err
		}
	}
	return nil
}

// writeStanza writes a stanza and, under stream management, counts and
// keeps it until the server acknowledges it, asking for an
// acknowledgement when none is outstanding.
func (c *Conn) writeStanza(data []byte) error {
	if c.sm == nil {
		return c.write(data)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.sm.sent(c.smGen, data) {
		c.askSoon()
	}
	return c.writeLocked(data)
}

// smAskDelay is how long an acknowledgement request waits after the
// stanza that calls for it, so that the stanzas written meanwhile share
// it: one <r/> per stanza, and the server's <a/> to each, cost a bot
// answering a flood about a fifth of its throughput. A lost connection
// resends what is unacknowledged either way.
const smAskDelay = 100 * time.Millisecond

// askSoon writes an <r/> after smAskDelay, unless one is scheduled.
func (c *Conn) askSoon() {
	c.askMu.Lock()
	defer c.askMu.Unlock()
	if c.askTimer != nil {
		return
	}
	c.askTimer = time.AfterFunc(smAskDelay, func() {
		c.askMu.Lock()
		c.askTimer = nil
		c.askMu.Unlock()
		c.write([]byte("<r xmlns='" + nsSM + "'/>"))
	})
}

// handleSM applies an XEP-0198 element read from the stream.
func (c *Conn) handleSM(e *smElem) error {
	if c.sm == nil {
		return nil
	}
	switch e.XMLName.Local {
	case "r":
		if h, ok := c.sm.answer(c.smGen); ok {
			return c.write([]byte(fmt.Sprintf("<a xmlns='%s' h='%d'/>", nsSM, h)))
		}
	case "a":
		ask, err := c.sm.acked(c.smGen, e.H)
		if err != nil {
			// XEP-0198 §4: a stream error, and this session is not
			// resumed.
			c.write([]byte("<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" +
				"<handled-count-too-high xmlns='" + nsSM + "'/></stream:error></stream:stream>"))
			return err
		}
		if ask {
			c.askSoon()
		}
	case "enabled":
		if c.sm.enabledNow(c.smGen, e.ID, e.Resume, e.Max) {
			return c.write([]byte("<r xmlns='" + nsSM + "'/>"))
		}
	case "failed":
		c.sm.disabled(c.smGen)
	}
	return nil
}

// smHandled marks the oldest stanza queued for the consumer handled.
func (c *Conn) smHandled() {
	if c.sm == nil {
		return
	}
	if h, send := c.sm.done(c.smGen); send {
		// Unasked: the server may drop those stanzas from its queue now.
		_ = c.write([]byte(fmt.Sprintf("<a xmlns='%s' h='%d'/>", nsSM, h)))
	}
}

// Resumption says how the session began: fresh, resumed, or bound anew
// after a refused resumption. Code that catches up from the archive
// (XEP-0313) does it unless Resumed: after ResumeRefused the old
// session's queue is gone with whatever it held.
func (s *Session) Resumption() Resumption { return s.conn.resumption }

// Resumed reports whether the session is a resumed one (XEP-0198 §5): it
// is online already, and sends no initial presence again.
func (s *Session) Resumed() bool { return s.conn.resumption == Resumed }

// Handled tells stream management that the oldest message or presence
// taken from Events has been handled (recorded, printed): only then does
// the server hear it was received, so one that a crash or a lost
// connection interrupts is sent again on resumption. A session without
// stream management ignores it.
func (s *Session) Handled() { s.conn.smHandled() }

// Resumable reports whether the session may be resumed after its
// connection is lost: then the connection must be dropped, not closed
// with </stream:stream>, which would end the session for good.
func (s *Session) Resumable() bool { return s.conn.sm != nil && s.conn.sm.resumableID() }

// Drop tears the connection down without closing the stream, leaving the
// session to the server's hibernation (XEP-0198 §5).
func (s *Session) Drop() {
	s.conn.Close()
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
	}
}

func smNowConn(c *Conn) time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// resumptionNote is what Listen's reconnect message adds.
func resumptionNote(r Resumption) string {
	switch r {
	case Resumed:
		return " (XEP-0198: session resumed)"
	case ResumeRefused:
		return " (XEP-0198: resumption refused, new session; unacknowledged messages sent again)"
	}
	return ""
}
