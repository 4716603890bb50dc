package session

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// This file is the model of the history grouped by thread (XEP-0201): one
// pass over an account's history, merged with the thread index, that every
// front end prints ('jab threads show', the REPL's /history). Printing,
// colours and the wording of hints stay with the front end.
//
// The pass keeps only the records its caller may show, and at most limit of
// them per thread (a ring), so its memory does not depend on the history's
// length. What the history says about every thread (peer, parent, type,
// headline, first message, count) is kept whatever the caller keeps, so a
// thread the index has pruned can still be found and described.

// MinThreadPrefix is the shortest thread id prefix accepted for a thread id.
const MinThreadPrefix = 4

// ThreadGroup is one thread, or one conversation's thread-less messages,
// as the history and the thread index describe it. (session.Thread is the
// <thread/> element.)
type ThreadGroup struct {
	ID      string // "" for thread-less messages
	Peer    string // conversation key (D-12)
	Parent  string // XEP-0201 1.0 §3.3; never ID itself
	Type    string
	Subject string // the index's subject, else the history's Headline
	Closed  bool
	First   time.Time
	// Records are the kept records, oldest first; Total is how many of the
	// scanned history's records were kept for the group before the limit,
	// so Total-len(Records) were cut (0: none in the history).
	Records []statefile.Record
	Total   int
	// Depth and Child are set by Arrange: the depth in the forest, and
	// whether the group is shown under its parent.
	Depth int
	Child bool
}

// ThreadView is the result of one pass over an account's history (see
// ScanThreads), with the account's thread index and conversations.
type ThreadView struct {
	Warnings []string // lines of the history that were skipped

	index      map[string]*statefile.Thread
	convs      map[string]*statefile.Conversation
	meta       map[string]*threadMeta // every thread value seen
	groups     map[string]*ring       // thread id → kept records
	threadless map[string]*ring       // conversation key → kept thread-less records
	peers      map[string]bool        // conversation keys seen among kept records
}

// threadMeta is what the history says about a thread, for threads the index
// does not hold (pruned) and to resolve ids.
type threadMeta struct {
	peer, parent, typ, subject string
	first, last                time.Time
	count                      int
	ours                       bool // its first record is one we sent
}

// ring holds the last limit records kept for a group, with their positions
// in the history (for Recent), and how many there were.
type ring struct {
	thread, peer string // peer: conversation key of the first record kept
	recs         []statefile.Record
	seqs         []int
	start        int // index of the oldest record once the ring is full
	total        int
}

func (g *ring) add(rec statefile.Record, seq, limit int) {
	g.total++
	if limit <= 0 || len(g.recs) < limit {
		g.recs = append(g.recs, rec)
		g.seqs = append(g.seqs, seq)
		return
	}
	g.recs[g.start], g.seqs[g.start] = rec, seq
	g.start = (g.start + 1) % limit
}

// ordered returns the kept records and their positions, oldest first.
func (g *ring) ordered() ([]statefile.Record, []int) {
	if g.start == 0 {
		return g.recs, g.seqs
	}
	return append(slices.Clone(g.recs[g.start:]), g.recs[:g.start]...),
		append(slices.Clone(g.seqs[g.start:]), g.seqs[:g.start]...)
}

// ScanThreads reads the history once for account, whose thread index and
// conversations a holds (nil: none). keep decides, for each record of the
// account with its conversation key (KeyIn), whether the record may be
// shown (nil keeps every record); at most limit records are kept per thread
// and per conversation's thread-less messages (0: all). h nil is an empty
// history. The view is returned even with an error, for its Warnings.
func ScanThreads(h *statefile.History, account string, a *statefile.Account, limit int,
	keep func(key string, rec *statefile.Record) bool) (*ThreadView, error) {
	v := &ThreadView{meta: map[string]*threadMeta{}, groups: map[string]*ring{},
		threadless: map[string]*ring{}, peers: map[string]bool{}}
	if a != nil {
		v.index, v.convs = a.Threads, a.Conversations
	}
	if h == nil {
		return v, nil
	}
	// The history names few peers many times: parse each once.
	keys := map[string]string{}
	seq := 0
	warnings, err := h.Scan(func(rec statefile.Record) error {
		if rec.Account != account {
			return nil
		}
		seq++
		key, ok := keys[rec.Peer]
		if !ok {
			key = rec.Peer // never written by jab: a peer that does not parse
			if j, err := ParseJID(rec.Peer); err == nil {
				key = KeyIn(v.convs, j)
			}
			keys[rec.Peer] = key
		}
		if rec.Type == "groupchat" {
			// A room's message belongs to the room, whoever sent it,
			// even an occupant we also talk to in private (D-12).
			key = BareOf(rec.Peer)
		}
		v.note(&rec, key)
		if keep != nil && !keep(key, &rec) {
			return nil
		}
		v.peers[key] = true
		var g *ring
		if rec.Thread == "" {
			if g = v.threadless[key]; g == nil {
				g = &ring{peer: key}
				v.threadless[key] = g
			}
		} else if g = v.groups[rec.Thread]; g == nil {
			g = &ring{thread: rec.Thread, peer: key}
			v.groups[rec.Thread] = g
		}
		g.add(rec, seq, limit)
		return nil
	})
	v.Warnings = warnings
	return v, err
}

// note adds what rec, of the conversation key, says about its thread.
func (v *ThreadView) note(rec *statefile.Record, key string) {
	if rec.Thread == "" {
		return
	}
	m := v.meta[rec.Thread]
	if m == nil {
		m = &threadMeta{peer: key, typ: rec.Type, first: rec.Time, ours: rec.Dir == statefile.DirOut}
		v.meta[rec.Thread] = m
	}
	m.count++
	if rec.Time.After(m.last) {
		m.last = rec.Time
	}
	if m.parent == "" && rec.Parent != rec.Thread {
		m.parent = rec.Parent
	}
	if m.subject == "" && (rec.Subject != "" || rec.Body != "") {
		m.subject = Headline(rec.Subject, rec.Body)
	}
}

// Thread describes thread id, merging what the index and the history know
// of it, with the records kept for it.
func (v *ThreadView) Thread(id string) *ThreadGroup {
	s := &ThreadGroup{ID: id}
	if m := v.meta[id]; m != nil {
		s.Peer, s.Parent, s.Type, s.Subject, s.First = m.peer, m.parent, m.typ, m.subject, m.first
	}
	if t := v.index[id]; t != nil {
		s.Peer, s.Type, s.Closed = t.Peer, t.Type, t.Closed
		if t.Parent != "" {
			s.Parent = t.Parent
		}
		if t.Subject != "" {
			s.Subject = t.Subject
		}
		if !t.First.IsZero() && (s.First.IsZero() || t.First.Before(s.First)) {
			s.First = t.First
		}
	}
	if s.Parent == id {
		s.Parent = "" // RFC 6121 §5.2.5: a thread is never its own parent
	}
	if g := v.groups[id]; g != nil {
		s.Records, _ = g.ordered()
		s.Total = g.total
	}
	return s
}

// KnownPeer reports whether key is a conversation of the account, a peer
// of a thread in the index, or a peer of a kept record.
func (v *ThreadView) KnownPeer(key string) bool {
	if v.convs[key] != nil || v.peers[key] {
		return true
	}
	for _, t := range v.index {
		if t != nil && t.Peer == key {
			return true
		}
	}
	return false
}

// PeerThreads lists every thread with the conversation key: those of the
// index and those among the kept records, plus its thread-less messages,
// in no particular order (see Arrange).
func (v *ThreadView) PeerThreads(key string) []*ThreadGroup {
	var list []*ThreadGroup
	seen := map[string]bool{}
	for id, t := range v.index {
		if t != nil && t.Peer == key {
			seen[id] = true
			list = append(list, v.Thread(id))
		}
	}
	for id, g := range v.groups {
		if g.peer == key && !seen[id] {
			list = append(list, v.Thread(id))
		}
	}
	if g := v.threadless[key]; g != nil {
		recs, _ := g.ordered()
		list = append(list, &ThreadGroup{Peer: key, Records: recs, Total: g.total, First: recs[0].Time})
	}
	return list
}

// Known reports whether the index or the history holds thread id.
func (v *ThreadView) Known(id string) bool { return v.index[id] != nil || v.meta[id] != nil }

// ThreadsWithPrefix returns the thread ids of the index and the history
// that start with prefix, sorted.
func (v *ThreadView) ThreadsWithPrefix(prefix string) []string {
	ids := ThreadsWithPrefix(v.index, prefix)
	for id := range v.meta {
		if v.index[id] == nil && strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// ThreadsWithPrefix returns the ids of the thread index that start with
// prefix, sorted.
func ThreadsWithPrefix(index map[string]*statefile.Thread, prefix string) []string {
	var ids []string
	for id := range index {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Subtree returns target and its descendants (XEP-0201 1.0 §3.3 parents,
// from the index, else from the history), target first, each once even
// when the parent links form a cycle.
func (v *ThreadView) Subtree(target string) []string {
	children := map[string][]string{}
	add := func(id string) {
		if p := v.parentOf(id); p != "" && p != id {
			children[p] = append(children[p], id)
		}
	}
	for id := range v.index {
		add(id)
	}
	for id := range v.meta {
		if v.index[id] == nil {
			add(id)
		}
	}
	nodes := []string{target}
	seen := map[string]bool{target: true}
	for i := 0; i < len(nodes); i++ {
		for _, c := range children[nodes[i]] {
			if !seen[c] {
				seen[c] = true
				nodes = append(nodes, c)
			}
		}
	}
	return nodes
}

func (v *ThreadView) parentOf(id string) string {
	if t := v.index[id]; t != nil && t.Parent != "" {
		return t.Parent
	}
	if m := v.meta[id]; m != nil {
		return m.parent
	}
	return ""
}

// complete reports whether every record of the history's threads ids was
// kept (before the limit): false when keep dropped some.
func (v *ThreadView) complete(ids []string) bool {
	for _, id := range ids {
		if m := v.meta[id]; m != nil && (v.groups[id] == nil || v.groups[id].total != m.count) {
			return false
		}
	}
	return true
}

// candidates are the names an unknown argument may have meant: every
// thread id and every conversation key.
func (v *ThreadView) candidates() []string {
	cands := make([]string, 0, len(v.index)+len(v.meta)+len(v.convs))
	for id := range v.index {
		cands = append(cands, id)
	}
	for id := range v.meta {
		if v.index[id] == nil {
			cands = append(cands, id)
		}
	}
	for peer := range v.convs {
		cands = append(cands, peer)
	}
	return cands
}

// Recent groups the last n kept records (n at most the scan's limit, or
// any n with no limit) by thread value, threads in the order of their
// latest record, each described like Thread but with only its recent
// records (Total counts them). The thread-less records of every
// conversation form one group, its Peer set when they share one
// conversation.
func (v *ThreadView) Recent(n int) []*ThreadGroup {
	type kept struct {
		rec statefile.Record
		seq int
		key string // conversation key of a thread-less record
	}
	var all []kept
	for _, rings := range []map[string]*ring{v.groups, v.threadless} {
		for _, g := range rings {
			recs, seqs := g.ordered()
			for i := range recs {
				all = append(all, kept{recs[i], seqs[i], g.peer})
			}
		}
	}
	slices.SortFunc(all, func(a, b kept) int { return a.seq - b.seq })
	if len(all) > n {
		all = all[len(all)-n:]
	}
	byID := map[string]*ThreadGroup{}
	last := map[*ThreadGroup]int{}
	var list []*ThreadGroup
	for _, k := range all {
		t := byID[k.rec.Thread]
		if t == nil {
			if k.rec.Thread != "" {
				t = v.Thread(k.rec.Thread)
			} else {
				t = &ThreadGroup{Peer: k.key, First: k.rec.Time}
			}
			t.Records, t.Total = nil, 0
			byID[k.rec.Thread] = t
			list = append(list, t)
		}
		if t.ID == "" && t.Peer != k.key {
			t.Peer = ""
		}
		t.Records = append(t.Records, k.rec)
		t.Total++
		last[t] = k.seq
	}
	slices.SortFunc(list, func(a, b *ThreadGroup) int { return last[a] - last[b] })
	return list
}

// Arrange orders groups as a forest: a thread whose parent is in the list
// goes under it; the others are roots, earliest first. Each group is
// visited once, so a parent cycle (foo→bar→foo) ends: its earliest thread
// is made a root. first, when in the list, is the root to start with.
// Arrange sets Depth and Child and returns the groups in display order.
func Arrange(list []*ThreadGroup, first string) []*ThreadGroup {
	slices.SortFunc(list, func(a, b *ThreadGroup) int {
		if c := a.First.Compare(b.First); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	byID := make(map[string]*ThreadGroup, len(list))
	for _, s := range list {
		if s.ID != "" {
			byID[s.ID] = s
		}
	}
	children := map[string][]*ThreadGroup{}
	var roots []*ThreadGroup
	for _, s := range list {
		if s.ID != "" && s.Parent != "" && byID[s.Parent] != nil && s.ID != first {
			children[s.Parent] = append(children[s.Parent], s)
		} else {
			roots = append(roots, s)
		}
	}
	if s := byID[first]; s != nil {
		roots = slices.DeleteFunc(roots, func(r *ThreadGroup) bool { return r == s })
		roots = append([]*ThreadGroup{s}, roots...)
	}
	out := make([]*ThreadGroup, 0, len(list))
	visited := map[*ThreadGroup]bool{}
	var visit func(s *ThreadGroup, depth int)
	visit = func(s *ThreadGroup, depth int) {
		if visited[s] {
			return
		}
		visited[s] = true
		s.Depth, s.Child = depth, depth > 0
		out = append(out, s)
		for _, c := range children[s.ID] {
			visit(c, depth+1)
		}
	}
	for _, r := range roots {
		visit(r, 0)
	}
	// What is left hangs off a cycle with no way in from a root.
	for _, s := range list {
		visit(s, 0)
	}
	return out
}

// AmbiguousThreadError: a thread id prefix names several threads.
type AmbiguousThreadError struct {
	Prefix string
	IDs    []string // sorted
}

func (e *AmbiguousThreadError) Error() string {
	return fmt.Sprintf("thread id prefix %q is ambiguous: %d threads", e.Prefix, len(e.IDs))
}

// UnknownThreadError: an argument names no thread and no conversation.
type UnknownThreadError struct {
	Arg string
	// Candidates are every thread id and conversation key, for a front
	// end's "did you mean" hint.
	Candidates []string
}

func (e *UnknownThreadError) Error() string {
	return fmt.Sprintf("no thread or conversation %q", e.Arg)
}

// LookupThreads returns what arg names, arranged for display (Arrange): a
// thread with its descendants (arg an exact thread id, else a JID of a
// known conversation, else a unique thread id prefix of at least
// MinThreadPrefix characters), or every thread and the thread-less
// messages with a conversation. At most limit records are kept per group
// (0: all). The history's warnings are returned even with an error.
// Errors: *AmbiguousThreadError, *UnknownThreadError, or reading the
// history.
func LookupThreads(h *statefile.History, account string, a *statefile.Account, arg string, limit int) ([]*ThreadGroup, []string, error) {
	var index map[string]*statefile.Thread
	var convs map[string]*statefile.Conversation
	if a != nil {
		index, convs = a.Threads, a.Conversations
	}
	jidKey := ""
	if j, err := ParseJID(arg); err == nil {
		jidKey = KeyIn(convs, j)
	}
	prefixOK := len(arg) >= MinThreadPrefix
	// The first pass keeps the records that may belong to what arg names:
	// the conversation's, the threads' it names, and the records of the
	// peers of those threads, where their children most likely are.
	interest := map[string]bool{}
	if t := index[arg]; t != nil {
		interest[t.Peer] = true
	} else if prefixOK {
		for id, t := range index {
			if t != nil && strings.HasPrefix(id, arg) {
				interest[t.Peer] = true
			}
		}
	}
	v, err := ScanThreads(h, account, a, limit, func(key string, rec *statefile.Record) bool {
		if (jidKey != "" && key == jidKey) || interest[key] {
			return true
		}
		return rec.Thread != "" && (rec.Thread == arg || (prefixOK && strings.HasPrefix(rec.Thread, arg)))
	})
	warnings := v.Warnings
	if err != nil {
		return nil, warnings, err
	}

	// An exact thread id, then a known JID, then a unique prefix.
	target := ""
	switch {
	case v.Known(arg):
		target = arg
	case jidKey != "" && v.KnownPeer(jidKey):
		return Arrange(v.PeerThreads(jidKey), ""), warnings, nil
	case prefixOK:
		ids := v.ThreadsWithPrefix(arg)
		switch len(ids) {
		case 0:
		case 1:
			target = ids[0]
		default:
			return nil, warnings, &AmbiguousThreadError{Prefix: arg, IDs: ids}
		}
	}
	if target == "" {
		return nil, warnings, &UnknownThreadError{Arg: arg, Candidates: v.candidates()}
	}

	nodes := v.Subtree(target)
	if !v.complete(nodes) {
		// A thread found only in the history, or a child with another
		// peer, has records the first pass did not keep: read them now.
		in := make(map[string]bool, len(nodes))
		for _, id := range nodes {
			in[id] = true
		}
		v, err = ScanThreads(h, account, a, limit, func(_ string, rec *statefile.Record) bool { return in[rec.Thread] })
		if err != nil {
			return nil, warnings, err
		}
	}
	list := make([]*ThreadGroup, 0, len(nodes))
	for _, id := range nodes {
		list = append(list, v.Thread(id))
	}
	return Arrange(list, target), warnings, nil
}

// RoomThreads reads account's group chat threads from the history h, room
// by room (a room thread's peer is the room's bare JID), the room with the
// latest message first, and in each room at most perRoom threads, the most
// recently active first. Room traffic keeps no thread index (item 73: it
// changes nothing in the state's threads), so the history is where their
// counts and times come from; only its group chat lines are decoded. The
// warnings name the lines that were skipped.
func RoomThreads(h *statefile.History, account string, perRoom int) ([]*statefile.Thread, []string, error) {
	v := &ThreadView{meta: map[string]*threadMeta{}}
	if h == nil {
		return nil, nil, nil
	}
	warnings, err := h.ScanMatching([]byte(`groupchat"`), func(rec statefile.Record) error {
		if rec.Account == account && rec.Type == "groupchat" {
			v.note(&rec, BareOf(rec.Peer))
		}
		return nil
	})
	return v.roomThreads(perRoom), warnings, err
}

// roomThreads groups the group chat threads of v (RoomThreads).
func (v *ThreadView) roomThreads(perRoom int) []*statefile.Thread {
	byRoom := map[string][]*statefile.Thread{}
	for id, m := range v.meta {
		if m.typ != "groupchat" {
			continue
		}
		byRoom[m.peer] = append(byRoom[m.peer], &statefile.Thread{ID: id, Parent: m.parent, Peer: m.peer, Type: m.typ,
			Subject: m.subject, Count: m.count, First: m.first, Last: m.last, Ours: m.ours})
	}
	rooms := make([][]*statefile.Thread, 0, len(byRoom))
	for _, list := range byRoom {
		ByActivity(list)
		if perRoom > 0 && len(list) > perRoom {
			list = list[:perRoom]
		}
		rooms = append(rooms, list)
	}
	slices.SortFunc(rooms, func(a, b []*statefile.Thread) int {
		if c := b[0].Last.Compare(a[0].Last); c != 0 {
			return c
		}
		return strings.Compare(a[0].Peer, b[0].Peer)
	})
	var out []*statefile.Thread
	for _, list := range rooms {
		out = append(out, list...)
	}
	return out
}
