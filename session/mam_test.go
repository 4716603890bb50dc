package session

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

const me = "me@example.net"

// result is a XEP-0313 result message for tests.
func result(from, qid, id, body string) string {
	f := ""
	if from != "" {
		f = " from='" + from + "'"
	}
	return "<message xmlns='jabber:client' to='" + me + "/cli'" + f + "><result xmlns='urn:xmpp:mam:2' queryid='" + qid +
		"' id='" + id + "'><forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2026-01-02T03:04:05Z'/>" +
		"<message xmlns='jabber:client' from='alice@example.org/phone' to='" + me + "' type='chat' id='m-" + id + "'><body>" + body +
		"</body></message></forwarded></result></message>"
}

func decodeMessage(t testing.TB, x string) *Message {
	t.Helper()
	var m Message
	if err := xml.Unmarshal([]byte(x), &m); err != nil {
		t.Fatalf("decode %s: %v", x, err)
	}
	return &m
}

// TestAcceptResult: item 87. Only results from our own account (bare JID
// or no from) for the open query are accepted.
func TestAcceptResult(t *testing.T) {
	for _, c := range []struct {
		name, xml, qid string
		ok             bool
	}{
		{"from our bare JID", result(me, "q1", "a1", "hi"), "q1", true},
		{"no from: our own account", result("", "q1", "a1", "hi"), "q1", true},
		{"from someone else", result("alice@example.org", "q1", "a1", "hi"), "q1", false},
		{"from one of our full JIDs", result(me+"/tablet", "q1", "a1", "hi"), "q1", false},
		{"unknown queryid", result(me, "q2", "a1", "hi"), "q1", false},
		{"no query open", result(me, "", "a1", "hi"), "", false},
		{"no archive id", result(me, "q1", "", "hi"), "q1", false},
		{"no forwarded message", "<message from='" + me + "'><result xmlns='urn:xmpp:mam:2' queryid='q1' id='a'/></message>", "q1", false},
		{"two forwarded", "<message from='" + me + "'><result xmlns='urn:xmpp:mam:2' queryid='q1' id='a'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'/></forwarded><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'/></forwarded></result></message>", "q1", false},
		{"a carbon inside", "<message from='" + me + "'><result xmlns='urn:xmpp:mam:2' queryid='q1' id='a'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'><received xmlns='urn:xmpp:carbons:2'/></message></forwarded></result></message>", "q1", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			inner, id, stamp, drop := AcceptResult(decodeMessage(t, c.xml), me, c.qid)
			if (drop == "") != c.ok {
				t.Fatalf("accepted=%v (drop %q), want %v", drop == "", drop, c.ok)
			}
			if c.ok && (inner == nil || inner.Body != "hi" || id != "a1" || stamp == "") {
				t.Fatalf("inner %+v id %q stamp %q", inner, id, stamp)
			}
		})
	}
}

// TestTrustedStanzaID: item 88, only by our bare JID.
func TestTrustedStanzaID(t *testing.T) {
	m := &Message{StanzaID: []StanzaIDElem{{ID: "x", By: "alice@example.org"}, {ID: "y", By: me + "/cli"}}}
	if id := TrustedStanzaID(m, me); id != "" {
		t.Fatalf("trusted %q", id)
	}
	m.StanzaID = append(m.StanzaID, StanzaIDElem{ID: "z", By: me})
	if id := TrustedStanzaID(m, me); id != "z" {
		t.Fatalf("trusted %q, want z", id)
	}
}

// TestNextPage: paging stops when complete, at the limit, and when the
// server does not advance (no last, a page that repeats).
func TestNextPage(t *testing.T) {
	for _, c := range []struct {
		name    string
		p       Paging
		fin     Fin
		total   int
		more    bool
		left    int
		whyPart string
	}{
		{"complete", Paging{Limit: 10}, Fin{Complete: true, Last: "a"}, 5, false, 0, ""},
		{"next page", Paging{Limit: 10, Applied: 2}, Fin{Last: "b"}, 5, true, 3, ""},
		{"fin without complete nor last", Paging{Limit: 10, Applied: 2}, Fin{}, -1, false, -1, "did not say"},
		{"a page that repeats", Paging{Limit: 10, After: "b", Applied: 4}, Fin{Last: "b"}, -1, false, -1, "repeated"},
		{"an older page again", Paging{Limit: 10, After: "c", Applied: 4, Lasts: map[string]bool{"b": true}}, Fin{Last: "b"}, -1, false, -1, "repeated"},
		{"the limit", Paging{Limit: 3, Applied: 3}, Fin{Last: "z"}, 10, false, 7, "limit of 3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.p.Lasts == nil {
				c.p.Lasts = map[string]bool{}
			}
			more, left, why := NextPage(&c.p, c.fin, c.total)
			if more != c.more || left != c.left || !strings.Contains(why, c.whyPart) || (c.whyPart == "" && why != "") {
				t.Fatalf("more %v left %d why %q; want %v %d %q", more, left, why, c.more, c.left, c.whyPart)
			}
			if more && c.p.After != c.fin.Last {
				t.Fatalf("next page after %q, want %q", c.p.After, c.fin.Last)
			}
		})
	}
}

// mamSession is a fake server for catch-up tests: serve gets each archive
// query (its queryid and RSM after) and writes results and the answer.
// Its timeout is long: the flood's one page takes a while to read under
// -race on a loaded machine, and the answer comes only after it.
func mamSession(t *testing.T, serve func(w io.Writer, iqID, qid, after string)) *Session {
	t.Helper()
	a, b := net.Pipe()
	s := &Session{conn: &Conn{raw: a, dec: xml.NewDecoder(a)}, timeout: 10 * time.Minute,
		events: make(chan any, 64), done: make(chan struct{}), pending: map[string]chan *IQ{}}
	go s.readLoop()
	go func() {
		d := xml.NewDecoder(b)
		for {
			var iq IQ
			if err := d.Decode(&iq); err != nil {
				return
			}
			qid := ""
			for _, at := range iq.Payload.Attr {
				if at.Name.Local == "queryid" {
					qid = at.Value
				}
			}
			var q struct {
				Set struct {
					After string `xml:"after"`
				} `xml:"set"`
			}
			xml.Unmarshal(append(append([]byte("<q>"), iq.Payload.Inner...), "</q>"...), &q)
			serve(b, iq.ID, qid, q.Set.After)
		}
	}()
	t.Cleanup(func() { a.Close(); b.Close() })
	return s
}

func fin(iqID, complete, last string, count int) string {
	c := ""
	if complete != "" {
		c = " complete='" + complete + "'"
	}
	n := ""
	if count >= 0 {
		n = fmt.Sprintf("<count>%d</count>", count)
	}
	return "<iq xmlns='jabber:client' type='result' id='" + iqID + "'><fin xmlns='urn:xmpp:mam:2'" + c +
		"><set xmlns='http://jabber.org/protocol/rsm'><last>" + last + "</last>" + n + "</set></fin></iq>"
}

type catchUpRecorder struct {
	mu     sync.Mutex
	events []Event
	live   []any
	logs   []string
}

func newCatchUp(t *testing.T, s *Session, o CatchUpOptions) (*catchUp, *catchUpRecorder, Env) {
	t.Helper()
	store, err := statefile.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env := Env{Store: store, Now: time.Now}
	r := &catchUpRecorder{}
	c := &catchUp{env: env, s: s, account: me, own: "jab-1", o: o, seen: newDedup(3*MaxCatchUp + 1024),
		emit: func(ev Event) error { r.mu.Lock(); r.events = append(r.events, ev); r.mu.Unlock(); return nil },
		hold: &holder{live: func(v any) error { r.live = append(r.live, v); return nil }},
		logf: func(f string, a ...any) { r.logs = append(r.logs, fmt.Sprintf(f, a...)) }}
	return c, r, env
}

// TestCatchUpHostile: results from someone else, for an unknown queryid,
// a page that repeats and a fin without complete: only our own results
// of the open query are applied, each once, and the catch-up ends with a
// warning instead of looping.
func TestCatchUpHostile(t *testing.T) {
	page := 0
	s := mamSession(t, func(w io.Writer, iqID, qid, after string) {
		page++
		switch page {
		case 1:
			io.WriteString(w, result("", qid, "a1", "one")+result("mallory@evil.example", qid, "x1", "from mallory")+
				result(me, "not-"+qid, "x2", "unknown query")+result(me+"/tablet", qid, "x3", "our full JID")+
				result(me, qid, "a2", "two"))
			io.WriteString(w, fin(iqID, "", "a2", -1))
		case 2:
			// The same page again (a repeat), without complete.
			io.WriteString(w, result("", qid, "a1", "one")+result(me, qid, "a2", "two"))
			io.WriteString(w, fin(iqID, "", "a2", -1))
		default:
			t.Errorf("query %d after the repeat", page)
			io.WriteString(w, fin(iqID, "true", "", -1))
		}
	})
	c, r, env := newCatchUp(t, s, CatchUpOptions{})
	if err := c.query(context.Background(), time.Time{}, "a0", false); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, ev := range r.events {
		bodies = append(bodies, ev.Body)
		if !ev.Archived || !ev.Delayed {
			t.Errorf("not marked archived: %+v", ev)
		}
	}
	if strings.Join(bodies, ",") != "one,two" {
		t.Fatalf("applied %q, want one,two", bodies)
	}
	if len(r.logs) != 1 || !strings.Contains(r.logs[0], "repeated") {
		t.Fatalf("warnings %q", r.logs)
	}
	st, _ := env.Store.Load()
	a := st.Account(me)
	if a.ArchiveLast != "a2" {
		t.Fatalf("position %q, want a2", a.ArchiveLast)
	}
	if c := a.Conversations["alice@example.org"]; c != nil && c.LockedTo != "" {
		t.Fatalf("an archived message locked: %+v", c)
	}
	if strings.Contains(fmt.Sprint(st), "mallory") {
		t.Fatal("a result from someone else reached the state")
	}
}

// TestCatchUpPages: results page by page until complete, in order, each
// once, live stanzas held back.
func TestCatchUpPages(t *testing.T) {
	s := mamSession(t, func(w io.Writer, iqID, qid, after string) {
		switch after {
		case "start":
			io.WriteString(w, result("", qid, "p1", "1")+result("", qid, "p2", "2"))
			io.WriteString(w, "<message xmlns='jabber:client' from='bob@example.org/x' type='chat' id='live1'><body>live</body></message>")
			io.WriteString(w, fin(iqID, "", "p2", 5))
		case "p2":
			io.WriteString(w, result("", qid, "p3", "3")+result("", qid, "p4", "4"))
			io.WriteString(w, fin(iqID, "", "p4", 5))
		case "p4":
			// A result repeated from an earlier page: printed once.
			io.WriteString(w, result("", qid, "p4", "4")+result("", qid, "p5", "5"))
			io.WriteString(w, fin(iqID, "true", "p5", 5))
		}
	})
	c, r, _ := newCatchUp(t, s, CatchUpOptions{Page: 2})
	if err := c.query(context.Background(), time.Time{}, "start", false); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, ev := range r.events {
		bodies = append(bodies, ev.Body)
	}
	if strings.Join(bodies, ",") != "1,2,3,4,5" || len(c.hold.deferred) != 1 || len(r.logs) != 0 {
		t.Fatalf("applied %q, deferred %d, warnings %q", bodies, len(c.hold.deferred), r.logs)
	}
}

// TestCatchUpFlood: a server that answers one query with 100,000
// results: the catch-up applies its limit, reads the rest without keeping
// them, names how many were left, and its memory stays bounded.
func TestCatchUpFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("a flood of 100,000 stanzas")
	}
	const flood = 100000
	s := mamSession(t, func(w io.Writer, iqID, qid, after string) {
		for i := range flood {
			io.WriteString(w, result("", qid, fmt.Sprintf("f%d", i), "flood"))
		}
		io.WriteString(w, fin(iqID, "", fmt.Sprintf("f%d", flood-1), flood))
	})
	const limit = 2000
	c, r, env := newCatchUp(t, s, CatchUpOptions{Limit: limit})
	done, peakc := make(chan struct{}), make(chan uint64)
	go func() {
		var ms runtime.MemStats
		var peak uint64
		for {
			select {
			case <-done:
				peakc <- peak
				return
			case <-time.After(50 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}()
	err := c.query(context.Background(), time.Time{}, "start", false)
	close(done)
	peak := <-peakc
	if err != nil {
		t.Fatal(err)
	}
	if len(r.events) != limit || c.skipped != flood-limit {
		t.Fatalf("applied %d, skipped %d; want %d and %d", len(r.events), c.skipped, limit, flood-limit)
	}
	if len(r.logs) != 1 || !strings.Contains(r.logs[0], fmt.Sprintf("%d archived messages were left", flood-limit)) {
		t.Fatalf("warnings %q", r.logs)
	}
	if peak > 200<<20 {
		t.Fatalf("heap in use peaked at %d MB", peak>>20)
	}
	st, _ := env.Store.Load()
	if got := st.Account(me).ArchiveLast; got != fmt.Sprintf("f%d", limit-1) {
		t.Fatalf("position %q", got)
	}
}
