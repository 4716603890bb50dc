package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

const (
	tvAccount = "me@example.net"
	tvT1      = "a1b2c3d4-0000-4000-8000-000000000001" // alice, current
	tvT2      = "a1b2ffff-0000-4000-8000-000000000002" // child of tvT1
	tvT3      = "c0ffee00-1111-4222-8333-444455556666" // bob, closed
	tvFoo     = "cyc-foo"                              // parent cyc-bar
	tvBar     = "cyc-bar"                              // parent cyc-foo
	tvHist    = "hist-only-77"                         // in the history only (index pruned)
	tvRoomPM  = "room@muc.example.org/Nick"            // a MUC occupant's private conversation (D-12)
)

func tvAt(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

// tvView writes a history next to an account holding a thread index: a
// child thread, a parent cycle, a closed thread, a thread the index
// pruned with a child, thread-less messages, an occupant's conversation
// and another account's message.
func tvView(t testing.TB) (*statefile.History, *statefile.Account) {
	t.Helper()
	a := &statefile.Account{
		Conversations: map[string]*statefile.Conversation{
			alice:               {Peer: alice, LockedTo: phone, Thread: tvT1},
			"bob@example.com":   {Peer: "bob@example.com"},
			tvRoomPM:            {Peer: tvRoomPM, Occupant: true},
			"carol@example.org": {Peer: "carol@example.org"}, // no messages
		},
		Threads: map[string]*statefile.Thread{
			tvT1:  {ID: tvT1, Peer: alice, Type: "chat", Subject: "Lunch?", Count: 5, First: tvAt(0), Last: tvAt(12)},
			tvT2:  {ID: tvT2, Parent: tvT1, Peer: alice, Type: "chat", Subject: "Dessert", Count: 2, First: tvAt(6), Last: tvAt(7)},
			tvT3:  {ID: tvT3, Peer: "bob@example.com", Type: "normal", Subject: "Quarterly report", Count: 2, First: tvAt(20), Last: tvAt(21), Closed: true},
			tvFoo: {ID: tvFoo, Parent: tvBar, Peer: "bob@example.com", Type: "chat", Subject: "foo", Count: 1, First: tvAt(28), Last: tvAt(28)},
			tvBar: {ID: tvBar, Parent: tvFoo, Peer: "bob@example.com", Type: "chat", Subject: "bar", Count: 1, First: tvAt(29), Last: tvAt(30)},
		},
	}
	rec := func(min int, peer, thread, parent, body string) statefile.Record {
		return statefile.Record{Account: tvAccount, Dir: statefile.DirIn, Time: tvAt(min), Peer: peer, Type: "chat",
			ID: fmt.Sprintf("m%d", min), Thread: thread, Parent: parent, Body: body}
	}
	other := rec(31, phone, tvT1, "", "another account's message")
	other.Account = "other@example.net"
	recs := []statefile.Record{
		rec(-60, "alice@example.org/laptop", tvHist, "", "an old thread the index forgot\nsecond line"),
		rec(-50, "alice@example.org/laptop", "hist-child", tvHist, "a reply in a forgotten child thread"),
		rec(0, phone, tvT1, "", "lunch today?"),
		rec(1, phone, tvT1, "", "sure where?"),
		rec(3, "Alice@Example.ORG/phone", tvT1, "", "mixed case"),
		rec(6, phone, tvT2, tvT1, "and dessert?"),
		rec(7, phone, tvT2, tvT1, "cake"),
		rec(10, phone, "", "", "a message without a thread"),
		rec(12, phone, tvT1, "", "see you"),
		rec(20, "bob@example.com", tvT3, "", "attached"),
		rec(21, "bob@example.com/work", tvT3, "", "thanks"),
		rec(22, "bob@example.com/work", "", "", "bob without a thread"),
		rec(28, "bob@example.com/work", tvFoo, tvBar, "foo says hi"),
		rec(29, "bob@example.com/work", tvBar, tvFoo, "bar says hi"),
		rec(30, tvRoomPM, "", "", "a private message in a room"),
		other,
	}
	store, err := statefile.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := store.History(0)
	if err := h.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	return h, a
}

// tvShape is "ID/depth:bodies" per group, "-" for thread-less.
func tvShape(list []*ThreadGroup) string {
	var out []string
	for _, g := range list {
		id := g.ID
		if id == "" {
			id = "-" + g.Peer
		}
		var bodies []string
		for _, r := range g.Records {
			bodies = append(bodies, strings.Fields(r.Body)[0])
		}
		out = append(out, fmt.Sprintf("%s/%d:%s", id, g.Depth, strings.Join(bodies, ",")))
	}
	return strings.Join(out, " ")
}

func TestHeadline(t *testing.T) {
	long := strings.Repeat("é", maxHeadline+1)
	tests := []struct {
		name, subject, body, want string
	}{
		{"subject wins", "Lunch?", "body", "Lunch?"},
		{"first line of the body", "", "  line one \nline two", "line one"},
		{"empty", "", "", ""},
		{"at the cap", strings.Repeat("x", maxHeadline), "", strings.Repeat("x", maxHeadline)},
		{"over the cap, in runes", long, "", strings.Repeat("é", maxHeadline-1) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Headline(tt.subject, tt.body); got != tt.want {
				t.Errorf("Headline(%q, %q) = %q, want %q", tt.subject, tt.body, got, tt.want)
			}
		})
	}
}

func TestScanThreadsGroups(t *testing.T) {
	h, a := tvView(t)
	v, err := ScanThreads(h, tvAccount, a, 0, nil)
	if err != nil || len(v.Warnings) > 0 {
		t.Fatal(err, v.Warnings)
	}
	tests := []struct {
		name, got, want string
	}{
		// D-12: a contact by bare JID, whatever the case on the wire; an
		// occupant by full JID. Another account's records are not read.
		{"alice's threads", tvShape(Arrange(v.PeerThreads(alice), "")),
			"hist-only-77/0:an hist-child/1:a " + tvT1 + "/0:lunch,sure,mixed,see " + tvT2 + "/1:and,cake -alice@example.org/0:a"},
		{"the occupant's", tvShape(v.PeerThreads(tvRoomPM)), "-" + tvRoomPM + "/0:a"},
		{"the room's bare JID is no conversation", fmt.Sprint(v.KnownPeer("room@muc.example.org")), "false"},
		{"a conversation without messages is known", fmt.Sprint(v.KnownPeer("carol@example.org")), "true"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.got, tt.want)
		}
	}
	hist := v.Thread(tvHist)
	if hist.Peer != alice || hist.Subject != "an old thread the index forgot" || hist.Type != "chat" || !hist.First.Equal(tvAt(-60)) {
		t.Errorf("a thread only the history holds is described from it: %+v", hist)
	}
	if c := v.Thread("hist-child"); c.Parent != tvHist {
		t.Errorf("parent from the history: %q", c.Parent)
	}
	if t3 := v.Thread(tvT3); !t3.Closed || t3.Type != "normal" || t3.Subject != "Quarterly report" || t3.Total != 2 {
		t.Errorf("the index describes an indexed thread: %+v", t3)
	}
}

func TestScanThreadsLimit(t *testing.T) {
	h, a := tvView(t)
	v, err := ScanThreads(h, tvAccount, a, 2, func(key string, _ *statefile.Record) bool { return key == alice })
	if err != nil {
		t.Fatal(err)
	}
	g := v.Thread(tvT1)
	if got := tvShape([]*ThreadGroup{g}); got != tvT1+"/0:mixed,see" || g.Total != 4 {
		t.Errorf("the last 2 of 4 records: %s, total %d", got, g.Total)
	}
	if b := v.Thread(tvT3); len(b.Records) != 0 || b.Total != 0 || b.Subject == "" {
		t.Errorf("keep drops bob's records, not his thread's description: %+v", b)
	}
}

func TestLookupThreads(t *testing.T) {
	h, a := tvView(t)
	bob := tvT3 + "/0:attached,thanks " + "-bob@example.com/0:bob " + tvFoo + "/0:foo " + tvBar + "/1:bar"
	tests := []struct {
		name, arg string
		limit     int
		want      string // shape, or the error's type
	}{
		{"thread", tvT1, 0, tvT1 + "/0:lunch,sure,mixed,see " + tvT2 + "/1:and,cake"},
		{"prefix", "a1b2c3", 0, tvT1 + "/0:lunch,sure,mixed,see " + tvT2 + "/1:and,cake"},
		{"limit", tvT1, 1, tvT1 + "/0:see " + tvT2 + "/1:cake"},
		{"child alone", tvT2, 0, tvT2 + "/0:and,cake"},
		{"bare JID", "bob@example.com", 0, bob},
		{"full JID of a contact", "Bob@Example.com/work", 0, bob},
		{"occupant", tvRoomPM, 0, "-" + tvRoomPM + "/0:a"},
		{"cycle from foo", tvFoo, 0, tvFoo + "/0:foo " + tvBar + "/1:bar"},
		{"cycle from bar", tvBar, 0, tvBar + "/0:bar " + tvFoo + "/1:foo"},
		{"history only, child read in a second pass", "hist-only", 0, tvHist + "/0:an hist-child/1:a"},
		{"ambiguous prefix", "a1b2", 0, "*session.AmbiguousThreadError"},
		{"prefix too short", "a1b", 0, "*session.UnknownThreadError"},
		{"unknown", "zzzz9999", 0, "*session.UnknownThreadError"},
		{"unknown JID", "alicia@example.org", 0, "*session.UnknownThreadError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, warnings, err := LookupThreads(h, tvAccount, a, tt.arg, tt.limit)
			got := tvShape(list)
			if err != nil {
				got = fmt.Sprintf("%T", err)
			}
			if got != tt.want || len(warnings) > 0 {
				t.Errorf("got %s (warnings %q)\nwant %s", got, warnings, tt.want)
			}
		})
	}
}

func TestLookupThreadsErrors(t *testing.T) {
	h, a := tvView(t)
	_, _, err := LookupThreads(h, tvAccount, a, "a1b2", 0)
	var amb *AmbiguousThreadError
	if !errors.As(err, &amb) || amb.Prefix != "a1b2" || !slices.Equal(amb.IDs, []string{tvT1, tvT2}) {
		t.Errorf("ambiguous: %#v", err)
	}
	_, _, err = LookupThreads(h, tvAccount, a, "nothing", 0)
	var unknown *UnknownThreadError
	if !errors.As(err, &unknown) || unknown.Arg != "nothing" {
		t.Fatalf("unknown: %#v", err)
	}
	for _, want := range []string{tvT1, tvHist, "hist-child", "carol@example.org", tvRoomPM} {
		if !slices.Contains(unknown.Candidates, want) {
			t.Errorf("candidates lack %q: %q", want, unknown.Candidates)
		}
	}
}

func TestLookupThreadsWithoutHistory(t *testing.T) {
	// History can be turned off; the index alone still shows the threads.
	_, a := tvView(t)
	list, _, err := LookupThreads(nil, tvAccount, a, alice, 0)
	if got, want := tvShape(list), tvT1+"/0: "+tvT2+"/1:"; err != nil || got != want {
		t.Errorf("got %s, %v; want %s", got, err, want)
	}
	if list[0].Total != 0 || list[0].Subject != "Lunch?" {
		t.Errorf("%+v", list[0])
	}
}

func TestArrange(t *testing.T) {
	tests := []struct {
		name  string
		list  []*ThreadGroup
		first string
		want  string
	}{
		{"self parent", []*ThreadGroup{{ID: "a", Parent: "a", First: tvAt(0)}}, "", "a/0"},
		{"three-cycle", []*ThreadGroup{{ID: "a", Parent: "c", First: tvAt(0)}, {ID: "b", Parent: "a", First: tvAt(1)}, {ID: "c", Parent: "b", First: tvAt(2)}},
			"", "a/0 b/1 c/2"},
		{"three-cycle from c", []*ThreadGroup{{ID: "a", Parent: "c", First: tvAt(0)}, {ID: "b", Parent: "a", First: tvAt(1)}, {ID: "c", Parent: "b", First: tvAt(2)}},
			"c", "c/0 a/1 b/2"},
		{"parent not shown is a root", []*ThreadGroup{{ID: "b", Parent: "x", First: tvAt(1)}, {ID: "a", First: tvAt(0)}}, "", "a/0 b/0"},
		{"tree", []*ThreadGroup{{ID: "c", Parent: "a", First: tvAt(2)}, {ID: "a", First: tvAt(0)}, {ID: "b", Parent: "a", First: tvAt(1)}, {ID: "d", Parent: "b", First: tvAt(3)}},
			"", "a/0 b/1 d/2 c/1"},
		{"first is the first root", []*ThreadGroup{{ID: "a", First: tvAt(0)}, {ID: "b", First: tvAt(1)}}, "b", "b/0 a/0"},
		{"same time: by id", []*ThreadGroup{{ID: "b", First: tvAt(0)}, {ID: "a", First: tvAt(0)}}, "", "a/0 b/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, s := range Arrange(tt.list, tt.first) {
				if s.Child != (s.Depth > 0) {
					t.Errorf("%s: Child %v at depth %d", s.ID, s.Child, s.Depth)
				}
				got = append(got, fmt.Sprintf("%s/%d", s.ID, s.Depth))
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("got %v, want %s", got, tt.want)
			}
		})
	}
}

func TestThreadsWithPrefix(t *testing.T) {
	h, a := tvView(t)
	v, err := ScanThreads(h, tvAccount, a, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, prefix string
		index, view  []string
	}{
		{"two", "a1b2", []string{tvT1, tvT2}, []string{tvT1, tvT2}},
		{"history only", "hist", nil, []string{"hist-child", tvHist}},
		{"none", "zz", nil, nil},
		{"cycle", "cyc-", []string{tvBar, tvFoo}, []string{tvBar, tvFoo}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ThreadsWithPrefix(a.Threads, tt.prefix); !slices.Equal(got, tt.index) {
				t.Errorf("index: %q, want %q", got, tt.index)
			}
			if got := v.ThreadsWithPrefix(tt.prefix); !slices.Equal(got, tt.view) {
				t.Errorf("view: %q, want %q", got, tt.view)
			}
		})
	}
}

func TestSubtree(t *testing.T) {
	h, a := tvView(t)
	v, err := ScanThreads(h, tvAccount, a, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ target, want string }{
		{tvT1, tvT1 + " " + tvT2},
		{tvT2, tvT2},
		{tvFoo, tvFoo + " " + tvBar},
		{tvHist, tvHist + " hist-child"}, // parent from the history
	}
	for _, tt := range tests {
		if got := strings.Join(v.Subtree(tt.target), " "); got != tt.want {
			t.Errorf("Subtree(%s) = %s, want %s", tt.target, got, tt.want)
		}
	}
}

func TestThreadViewRecent(t *testing.T) {
	// The REPL's /history: the last n messages, grouped by thread, threads
	// in the order of their latest message.
	h, a := tvView(t)
	tests := []struct {
		name string
		n    int
		keep func(string, *statefile.Record) bool
		want string
	}{
		{"alice, last 5", 5, func(key string, _ *statefile.Record) bool { return key == alice },
			tvT2 + "/0:and,cake -alice@example.org/0:a " + tvT1 + "/0:mixed,see"},
		{"everyone, last 4: thread-less of two peers in one group", 4, nil,
			tvFoo + "/0:foo " + tvBar + "/0:bar -/0:bob,a"},
		{"more than there are", 100, func(key string, _ *statefile.Record) bool { return key == "bob@example.com" },
			tvT3 + "/0:attached,thanks -bob@example.com/0:bob " + tvFoo + "/0:foo " + tvBar + "/0:bar"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ScanThreads(h, tvAccount, a, tt.n, tt.keep)
			if err != nil {
				t.Fatal(err)
			}
			if got := tvShape(v.Recent(tt.n)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	v, _ := ScanThreads(h, tvAccount, a, 3, nil)
	for _, g := range v.Recent(3) {
		if g.ID == tvBar && (g.Subject != "bar" || g.Parent != tvFoo || g.Total != 1) {
			t.Errorf("a recent thread is described like Thread: %+v", g)
		}
	}
}

func BenchmarkScanThreads(b *testing.B) {
	store, err := statefile.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	h := store.History(0)
	a := &statefile.Account{Conversations: map[string]*statefile.Conversation{}, Threads: map[string]*statefile.Thread{}}
	var recs []statefile.Record
	for i := range 20000 {
		recs = append(recs, statefile.Record{Account: tvAccount, Dir: statefile.DirIn, Time: tvAt(i), Type: "chat",
			Peer: fmt.Sprintf("peer%d@example.org/r", i%100), Thread: fmt.Sprintf("t-%d", i%1000), Body: "a body"})
	}
	if err := h.Append(context.Background(), recs...); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ScanThreads(h, tvAccount, a, 50, func(key string, _ *statefile.Record) bool { return key == "peer42@example.org" }); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRoomThreads: group chat records are the room's threads whoever sent
// them, even the occupant tvRoomPM whose private conversation is stored
// (D-12); rooms are listed with the latest first, each with at most
// perRoom threads, the most recent first.
func TestRoomThreads(t *testing.T) {
	const room, other = "room@muc.example.org", "ops@muc.example.org"
	gc := func(min int, dir, peer, thread, nick string) statefile.Record {
		return statefile.Record{Account: tvAccount, Dir: dir, Time: tvAt(min), Peer: peer, Type: "groupchat",
			ID: fmt.Sprintf("g%d", min), Thread: thread, Body: fmt.Sprintf("body %d", min), Nick: nick}
	}
	store, err := statefile.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := store.History(0)
	h.Append(context.Background(),
		gc(1, statefile.DirIn, tvRoomPM, "r-old", "Nick"),
		gc(2, statefile.DirOut, room, "r-old", "me"),
		gc(3, statefile.DirIn, other+"/x", "o-1", "x"),
		gc(4, statefile.DirOut, room, "r-mine", "me"),
		gc(5, statefile.DirIn, room+"/y", "r-new", "y"),
		statefile.Record{Account: tvAccount, Dir: statefile.DirIn, Time: tvAt(6), Peer: tvRoomPM, Type: "chat", Thread: "pm", Body: "psst"})
	_, a := tvView(t)
	v, err := ScanThreads(h, tvAccount, a, 1, func(string, *statefile.Record) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	rooms, warnings, err := RoomThreads(h, tvAccount, 2)
	if err != nil || len(warnings) > 0 {
		t.Fatal(err, warnings)
	}
	var got []string
	for _, th := range rooms {
		got = append(got, fmt.Sprintf("%s %s %s %d ours=%v", th.ID, th.Peer, th.Type, th.Count, th.Ours))
	}
	want := []string{"r-new " + room + " groupchat 1 ours=false", "r-mine " + room + " groupchat 1 ours=true",
		"o-1 " + other + " groupchat 1 ours=false"}
	if !slices.Equal(got, want) {
		t.Errorf("RoomThreads(2):\n got %q\nwant %q", got, want)
	}
	if g := v.Thread("r-old"); g.Peer != room {
		t.Errorf("a room thread started by an occupant we talk to in private is hers: %q", g.Peer)
	}
	if g := v.Thread("pm"); g.Peer != tvRoomPM {
		t.Errorf("the private thread left her conversation: %q", g.Peer)
	}
}
