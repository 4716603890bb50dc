package session

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"time"
)

// This file holds XEP-0313 archive catch-up: when listen or the REPL
// comes online it asks the account's own archive for what arrived after
// the last archived message it saw (statefile Account.ArchiveLast), pages
// through the answer with XEP-0059 RSM, and has every result applied as an
// archived message (D-15: it never locks, unlocks or answers) before any
// live one is shown. The checks of what is accepted (item 87, item 88) and
// the paging decisions are pure; catchUp is the I/O.

// Catch-up bounds.
const (
	// MaxCatchUp bounds the messages one catch-up applies; the rest are
	// counted and named in a warning.
	MaxCatchUp = 10000
	// CatchUpPage is the RSM page size asked for (Prosody's default
	// maximum, max_archive_query_results, is 50).
	CatchUpPage = 50
	// maxDeferred bounds the live stanzas held back while a catch-up
	// runs; past it they are handled at once (memory stays bounded).
	maxDeferred = 1000
)

// CatchUpOptions configures the archive catch-up of Listen.
type CatchUpOptions struct {
	Off   bool          // --no-catch-up
	Since time.Duration // --since: from this long ago instead of the stored position
	Limit int           // 0: MaxCatchUp
	Page  int           // 0: CatchUpPage
}

// TrustedStanzaID is the XEP-0359 stanza-id that the archive of by (our
// bare JID, or a room's) gave m, or "": one added by anyone else names
// nothing in that archive and could be forged by the sender (item 88).
func TrustedStanzaID(m *Message, by string) string {
	for _, s := range m.StanzaID {
		if s.By == by && s.ID != "" && ValidThread(s.ID) {
			return s.ID
		}
	}
	return ""
}

// AcceptResult checks one message that carries a XEP-0313 result against
// the open query qid (item 87): it must come from our own account (our
// bare JID, or no from at all, which is how Prosody answers a query of
// the account's own archive), carry that queryid, an archive id, and
// forward exactly one message that is neither a carbon nor a result. It
// returns the inner message and its archive id, or why it is dropped.
func AcceptResult(m *Message, account, qid string) (inner *Message, id, stamp string, drop string) {
	if m.MAMResult != nil && m.From != "" && m.From != account {
		return nil, "", "", fmt.Sprintf("archive result from %q, not our account (item 87)", m.From)
	}
	return acceptResult(m, qid)
}

// acceptResult is AcceptResult's checks but the sender's.
func acceptResult(m *Message, qid string) (inner *Message, id, stamp string, drop string) {
	r := m.MAMResult
	switch {
	case r == nil:
		return nil, "", "", "no archive result"
	case qid == "" || r.QueryID != qid:
		return nil, "", "", fmt.Sprintf("archive result for query %q, which is not open (item 87)", r.QueryID)
	case r.ID == "" || !ValidThread(r.ID):
		return nil, "", "", "archive result without a valid id"
	case len(r.Forwarded) != 1 || r.Forwarded[0].Message == nil:
		return nil, "", "", "archive result without exactly one forwarded message"
	case m.CarbonReceived != nil || m.CarbonSent != nil:
		return nil, "", "", "archive result that is also a carbon"
	}
	in := r.Forwarded[0].Message
	if in.CarbonReceived != nil || in.CarbonSent != nil || in.MAMResult != nil {
		return nil, "", "", "archive result wrapping a carbon or another result"
	}
	if d := r.Forwarded[0].Delay; d != nil {
		stamp = d.Stamp
	}
	return in, r.ID, stamp, ""
}

// Fin is the end of one page of results (XEP-0313 §4.3, XEP-0059 §2.2).
type Fin struct {
	Complete bool
	First    string
	Last     string
	Count    int // -1 when the server did not say
}

// ParseFin reads the <fin/> of a query's result IQ.
func ParseFin(res *IQ) (Fin, error) {
	f := Fin{Count: -1}
	if res == nil || res.Payload == nil || res.Payload.XMLName.Space != nsMAM || res.Payload.XMLName.Local != "fin" {
		return f, errors.New("archive query answer without <fin/>")
	}
	for _, a := range res.Payload.Attr {
		if a.Name.Local == "complete" {
			f.Complete = a.Value == "true" || a.Value == "1"
		}
	}
	var q struct {
		Set struct {
			First string `xml:"first"`
			Last  string `xml:"last"`
			Count *int   `xml:"count"`
		} `xml:"set"`
	}
	inner := append(append([]byte("<fin>"), res.Payload.Inner...), "</fin>"...)
	if err := xml.Unmarshal(inner, &q); err != nil {
		return f, fmt.Errorf("archive query answer: %w", err)
	}
	f.First, f.Last = q.Set.First, q.Set.Last
	if q.Set.Count != nil && *q.Set.Count >= 0 {
		f.Count = *q.Set.Count
	}
	return f, nil
}

// Paging is where a catch-up stands between two pages.
type Paging struct {
	After   string          // the RSM <after/> of the next page
	Applied int             // results applied so far
	Limit   int             // MaxCatchUp or the option
	Lasts   map[string]bool // the <last/> of every page so far
}

// NextPage decides, after a page ended with fin, whether to ask for the
// next one. It stops when the server says the query is complete, when the
// limit is reached, and when the server does not advance (no <last/>, or
// one it gave before: a page that repeats would loop for ever); why then
// says what went wrong. left is how many results the server still holds,
// -1 when unknown.
func NextPage(p *Paging, f Fin, total int) (more bool, left int, why string) {
	left = -1
	if total >= 0 {
		left = max(total-p.Applied, 0)
	}
	switch {
	case f.Complete:
		return false, 0, ""
	case p.Applied >= p.Limit:
		return false, left, fmt.Sprintf("catch-up stopped at its limit of %d archived messages", p.Limit)
	case f.Last == "":
		return false, left, "the archive's page did not say where it ended; catch-up stopped"
	case p.Lasts[f.Last] || f.Last == p.After:
		return false, left, "the archive repeated a page; catch-up stopped"
	}
	p.Lasts[f.Last] = true
	p.After = f.Last
	return true, left, ""
}

// mamQuery builds a query of our own archive (XEP-0313 §4): no to, so the
// account's archive; start or RSM after/before; max results.
func mamQuery(qid string, start time.Time, after string, before bool, page int) *IQ {
	form := ""
	if !start.IsZero() {
		form = "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>" + nsMAM +
			"</value></field><field var='start'><value>" + start.UTC().Format(time.RFC3339) + "</value></field></x>"
	}
	set := fmt.Sprintf("<set xmlns='%s'><max>%d</max>", nsRSM, page)
	switch {
	case after != "":
		var b []byte
		b, _ = xml.Marshal(struct {
			XMLName xml.Name `xml:"after"`
			V       string   `xml:",chardata"`
		}{V: after})
		set += string(b)
	case before:
		set += "<before/>"
	}
	set += "</set>"
	return &IQ{Type: "set", Payload: &RawElement{XMLName: xml.Name{Space: nsMAM, Local: "query"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "queryid"}, Value: qid}}, Inner: []byte(form + set)}}
}

// Requester sends an IQ and returns its answer: Session.Request, or
// observe's, which reads the stanzas that arrive meanwhile (awaitIQ).
type Requester func(*IQ) (*IQ, error)

// Disco asks to's disco#info (to "" is our server) for its features.
func Disco(req Requester, to string) (map[string]bool, error) {
	res, err := req(&IQ{To: to, Type: "get", Payload: &RawElement{XMLName: xml.Name{Space: nsDiscoInfo, Local: "query"}}})
	if err != nil {
		return nil, err
	}
	feats := map[string]bool{}
	if res.Payload == nil {
		return feats, nil
	}
	var q struct {
		Features []struct {
			Var string `xml:"var,attr"`
		} `xml:"feature"`
	}
	inner := append(append([]byte("<query>"), res.Payload.Inner...), "</query>"...)
	if err := xml.Unmarshal(inner, &q); err != nil {
		return nil, fmt.Errorf("disco#info of %s: %w", orServer(to), err)
	}
	for _, f := range q.Features {
		feats[f.Var] = true
	}
	return feats, nil
}

// SuppressOffline makes one empty query of our archive: Prosody then no
// longer replays offline storage to this session, so messages it already
// archived are not delivered again, late, as stale duplicates. A `send
// --wait-reply`, which goes online but prints no catch-up, uses it; the
// next listen catches those messages up from the archive.
func SuppressOffline(ctx context.Context, s *Session) error {
	feats, err := Disco(func(iq *IQ) (*IQ, error) { return s.Request(ctx, iq) }, s.JID().Bare())
	var iqe *IQError
	if errors.As(err, &iqe) || (err == nil && !feats[nsMAM]) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = s.Request(ctx, mamQuery(NewID(), time.Time{}, "", true, 0))
	if errors.As(err, &iqe) {
		return nil
	}
	return err
}

// nsSID is XEP-0359's namespace, which an archiving entity advertises.
const nsSID = "urn:xmpp:sid:0"

// Features asks our server's disco#info (carbons, item 80) and our
// account's (the archive, XEP-0313 §6.1). A service that answers with an
// error offers nothing.
func Features(req Requester, account JID) (server, acct map[string]bool, err error) {
	var iqe *IQError
	server, err = Disco(req, account.Domain)
	if errors.As(err, &iqe) {
		server, err = map[string]bool{}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	acct, err = Disco(req, account.Bare())
	if errors.As(err, &iqe) {
		acct, err = map[string]bool{}, nil
	}
	return server, acct, err
}

// liveStanzaID is the trusted stanza-id of a live message, or of the
// message a carbon copies (item 88).
func liveStanzaID(m *Message, account string) string {
	if id := TrustedStanzaID(m, account); id != "" {
		return id
	}
	for _, w := range []*Wrapper{m.CarbonReceived, m.CarbonSent} {
		if w != nil && len(w.Forwarded) == 1 && w.Forwarded[0].Message != nil {
			return TrustedStanzaID(w.Forwarded[0].Message, account)
		}
	}
	return ""
}
