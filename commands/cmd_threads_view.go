package commands

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// Output of 'threads list' and 'threads show':
//
//   - list prints the thread index (state.json), never the history: the
//     index already holds counts and first/last activity, and it is capped,
//     whereas the history may hold threads the caps dropped on purpose (a
//     flood of peer thread ids).
//   - show streams the history once, keeping only the records of the
//     threads it may print and at most showLimit of them per thread (a ring
//     buffer), so its memory and time do not depend on the history's
//     length beyond one pass.
//   - Every remote string goes through sanitize; colour codes only ever
//     wrap a whole line (XEP-0201 0.3 §5 asks for a visual indication of
//     thread membership: one uniform colour per thread).

const (
	showLimit      = 50 // messages per thread shown without --all
	minPrefix      = 4  // shortest thread id prefix accepted
	maxHints       = 3  // closest ids suggested for an unknown argument
	maxAmbiguous   = 10 // candidates listed for an ambiguous prefix
	maxHeadline    = 120
	threadlessName = "no thread"
)

type threadsListOptions struct {
	peer   string // conversation key, "" for all
	open   bool
	closed bool
	json   bool
}

type threadsShowOptions struct {
	arg  string
	json bool
	all  bool
}

func threadsListCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the account's threads (XEP-0201), newest activity first",
		Description: `Prints the thread index: short id, peer, message type, open or closed,
message count, last activity (UTC), the conversation's current lock, the child
thread's parent (↳) and the subject or first line. --json prints one object per
line with the full ids and times. Nothing is contacted.`,
		Flags: commandFlags(
			&cli.StringFlag{Name: "peer", Usage: "only threads with `JID` (its bare JID)"},
			&cli.BoolFlag{Name: "open", Usage: "only open threads"},
			&cli.BoolFlag{Name: "closed", Usage: "only closed threads"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per line"},
		),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			o := &threadsListOptions{open: c.Bool("open"), closed: c.Bool("closed"), json: c.Bool("json")}
			// Flag conflicts are checked up front, before any file is read.
			if o.open && o.closed {
				return usagef("give one of them, or neither for all threads", "--open and --closed conflict")
			}
			if c.Args().Present() {
				return usagef("see 'jab threads list --help'", "threads list takes no arguments")
			}
			if p := c.String("peer"); p != "" {
				if _, err := session.ParseJID(p); err != nil {
					return usagef("a peer looks like alice@example.org", "--peer: %v", err)
				}
				o.peer = p
			}
			g, err := resolve(c.Context, c, env, false)
			if err != nil {
				return err
			}
			return runThreadsList(env, g, o)
		},
	}
}

func threadsShowCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show the message history grouped by thread, child threads under their parent",
		ArgsUsage: "THREAD|JID",
		Description: fmt.Sprintf(`THREAD is a thread id or a unique prefix of at least %d characters; a JID
shows every thread with that peer. Each thread is headed by its id, peer and
subject; child threads (XEP-0201 parent) are indented under their parent. On a
terminal each thread has its own colour (not with NO_COLOR). Without --all only
the last %d messages of each thread are shown. Nothing is contacted.`, minPrefix, showLimit),
		Flags: commandFlags(
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per message"},
			&cli.BoolFlag{Name: "all", Usage: fmt.Sprintf("show every message, not only the last %d of each thread", showLimit)},
		),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			o := &threadsShowOptions{json: c.Bool("json"), all: c.Bool("all")}
			switch c.NArg() {
			case 0:
				return usagef("see 'jab threads list' for the thread ids", "no thread or JID given")
			case 1:
				o.arg = c.Args().First()
			default:
				return usagef("see 'jab threads show --help'", "threads show takes one THREAD or JID, got %d arguments", c.NArg())
			}
			if o.arg == "" {
				return usagef("see 'jab threads list' for the thread ids", "empty thread or JID")
			}
			g, err := resolve(c.Context, c, env, false)
			if err != nil {
				return err
			}
			return runThreadsShow(c.Context, env, g, o)
		},
	}
}

// conversationKey is the key of the conversation with j: the bare JID,
// except for a MUC occupant's private conversation, which is keyed by the
// occupant's full JID (decision D-12).
func conversationKey(convs map[string]*statefile.Conversation, j session.JID) string {
	if j.Resource != "" {
		if c := convs[j.String()]; c != nil && c.Occupant {
			return j.String()
		}
	}
	return j.Bare()
}

// loadThreadsAccount reads the state and returns the account's entry, or an empty
// one.
func loadThreadsAccount(g *options) (*statefile.Store, *statefile.Account, error) {
	store, err := statefile.Open(g.stateDir)
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Load()
	if err != nil {
		return nil, nil, err
	}
	a := st.Accounts[g.account.Bare()]
	if a == nil {
		a = &statefile.Account{}
	}
	if a.Conversations == nil {
		a.Conversations = map[string]*statefile.Conversation{}
	}
	if a.Threads == nil {
		a.Threads = map[string]*statefile.Thread{}
	}
	return store, a, nil
}

func runThreadsList(env *Env, g *options, o *threadsListOptions) error {
	_, a, err := loadThreadsAccount(g)
	if err != nil {
		return err
	}
	peer := ""
	if o.peer != "" {
		j, _ := session.ParseJID(o.peer) // validated in the action
		peer = conversationKey(a.Conversations, j)
	}
	threads := make([]*statefile.Thread, 0, len(a.Threads))
	for id, t := range a.Threads {
		if t == nil {
			continue
		}
		if t.ID == "" {
			t.ID = id
		}
		if (peer != "" && t.Peer != peer) || (o.open && t.Closed) || (o.closed && !t.Closed) {
			continue
		}
		threads = append(threads, t)
	}
	sort.Slice(threads, func(i, j int) bool {
		if !threads[i].Last.Equal(threads[j].Last) {
			return threads[i].Last.After(threads[j].Last)
		}
		return threads[i].ID < threads[j].ID
	})

	out := bufio.NewWriter(env.Stdout)
	if o.json {
		for _, t := range threads {
			out.Write(threadListJSON(t, a.Conversations[t.Peer]))
			out.WriteByte('\n')
		}
	} else {
		rows := make([][]string, 0, len(threads)+1)
		if env.StdoutTTY {
			rows = append(rows, []string{"ID", "PEER", "TYPE", "STATE", "COUNT", "LAST", "LOCK", "PARENT", "SUBJECT"})
		}
		for _, t := range threads {
			state := "open"
			if t.Closed {
				state = "closed"
			}
			lock := "-"
			if c := a.Conversations[t.Peer]; c != nil && c.LockedTo != "" {
				lock = sanitize(c.LockedTo)
			}
			parent := ""
			if t.Parent != "" {
				parent = "↳ " + shortThread(t.Parent)
			}
			rows = append(rows, []string{shortThread(t.ID), sanitize(t.Peer), sanitize(dashIfEmpty(t.Type)), state,
				strconv.Itoa(t.Count), formatUTC(t.Last, time.RFC3339, "-"), lock, parent, sanitize(t.Subject)})
		}
		writeColumns(out, rows)
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	return nil
}

func threadListJSON(t *statefile.Thread, c *statefile.Conversation) []byte {
	type thread struct {
		ID       string `json:"id"`
		ShortID  string `json:"short_id"`
		Parent   string `json:"parent"`
		Peer     string `json:"peer"`
		Type     string `json:"type"`
		Subject  string `json:"subject"`
		Count    int    `json:"count"`
		First    string `json:"first"`
		Last     string `json:"last"`
		Closed   bool   `json:"closed"`
		ClosedAt string `json:"closed_at"`
		Ours     bool   `json:"ours"`
		Lock     string `json:"lock"`
		Current  bool   `json:"current"`
	}
	short := t.ID
	if len(short) > 8 {
		short = short[:8]
	}
	v := thread{ID: t.ID, ShortID: short, Parent: t.Parent, Peer: t.Peer, Type: t.Type, Subject: t.Subject,
		Count: t.Count, First: formatUTC(t.First, time.RFC3339Nano, ""), Last: formatUTC(t.Last, time.RFC3339Nano, ""),
		Closed: t.Closed, ClosedAt: formatUTC(t.ClosedAt, time.RFC3339Nano, ""), Ours: t.Ours}
	if c != nil {
		v.Lock = c.LockedTo
		v.Current = c.Thread != "" && c.Thread == t.ID
	}
	data, _ := json.Marshal(v)
	return safeJSON(data)
}

// writeColumns aligns every column but the last (free text) by its width
// in runes, two spaces apart, with no trailing blanks.
func writeColumns(w io.Writer, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	n := len(rows[0])
	width := make([]int, n)
	for _, r := range rows {
		for i, cell := range r[:n-1] {
			width[i] = max(width[i], utf8.RuneCountInString(cell))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		b.Reset()
		for i, cell := range r {
			b.WriteString(cell)
			if i < n-1 {
				b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(cell)+2))
			}
		}
		io.WriteString(w, strings.TrimRight(b.String(), " ")+"\n")
	}
}

func formatUTC(t time.Time, layout, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(layout)
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// recordPeerKey is the conversation key of a JID as recorded on the wire: its
// bare JID, lower-cased like session.ParseJID does.
func recordPeerKey(jid string) string {
	if i := strings.IndexByte(jid, '/'); i >= 0 {
		jid = jid[:i]
	}
	return strings.ToLower(jid) // no allocation when already lower case
}

// threadGroup is one thread's (or one peer's thread-less) messages: the last
// limit of them in a ring, and how many there were.
type threadGroup struct {
	thread string // "" for the thread-less messages of peer
	peer   string // conversation key of the first record kept
	recs   []statefile.Record
	start  int // index of the oldest record once the ring is full
	total  int
}

func (g *threadGroup) add(rec statefile.Record, limit int) {
	g.total++
	if limit <= 0 || len(g.recs) < limit {
		g.recs = append(g.recs, rec)
		return
	}
	g.recs[g.start] = rec
	g.start = (g.start + 1) % limit
}

// ordered returns the kept records, oldest first.
func (g *threadGroup) ordered() []statefile.Record {
	if g.start == 0 {
		return g.recs
	}
	return append(slices.Clone(g.recs[g.start:]), g.recs[:g.start]...)
}

// threadMeta is what the history says about a thread, for threads the
// index does not hold (pruned) and to resolve ids.
type threadMeta struct {
	peer, parent, typ, subject string
	first                      time.Time
	count                      int
}

// historyView is the result of one pass over the account's history.
type historyView struct {
	meta       map[string]*threadMeta  // every thread value seen
	groups     map[string]*threadGroup // thread id → kept records
	threadless map[string]*threadGroup // conversation key → kept thread-less records
	peers      map[string]bool         // conversation keys seen among kept records
	warnings   []string
}

// scanThreads scans the history once. keep decides, per record of the account
// with its conversation key, whether the record may be shown.
func scanThreads(store *statefile.Store, account string, convs map[string]*statefile.Conversation, limit int,
	keep func(key string, rec *statefile.Record) bool) (*historyView, error) {
	c := &historyView{meta: map[string]*threadMeta{}, groups: map[string]*threadGroup{},
		threadless: map[string]*threadGroup{}, peers: map[string]bool{}}
	warnings, err := store.History(0).Scan(func(rec statefile.Record) error {
		if rec.Account != account {
			return nil
		}
		key := recordPeerKey(rec.Peer)
		if strings.IndexByte(rec.Peer, '/') >= 0 {
			if cv := convs[rec.Peer]; cv != nil && cv.Occupant {
				key = rec.Peer
			}
		}
		if rec.Thread != "" {
			m := c.meta[rec.Thread]
			if m == nil {
				m = &threadMeta{peer: key, typ: rec.Type, first: rec.Time}
				c.meta[rec.Thread] = m
			}
			m.count++
			if m.parent == "" && rec.Parent != rec.Thread {
				m.parent = rec.Parent
			}
			if m.subject == "" && (rec.Subject != "" || rec.Body != "") {
				m.subject = threadHeadline(rec.Subject, rec.Body)
			}
		}
		if !keep(key, &rec) {
			return nil
		}
		c.peers[key] = true
		var g *threadGroup
		if rec.Thread == "" {
			if g = c.threadless[key]; g == nil {
				g = &threadGroup{peer: key}
				c.threadless[key] = g
			}
		} else if g = c.groups[rec.Thread]; g == nil {
			g = &threadGroup{thread: rec.Thread, peer: key}
			c.groups[rec.Thread] = g
		}
		g.add(rec, limit)
		return nil
	})
	c.warnings = warnings
	return c, err
}

// threadHeadline is the subject, else the first line of the body, capped, as
// the thread index keeps it.
func threadHeadline(subject, body string) string {
	s := subject
	if s == "" {
		s, _, _ = strings.Cut(body, "\n")
	}
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxHeadline {
		s = string([]rune(s)[:maxHeadline-1]) + "…"
	}
	return s
}

// showThread is one threadGroup as displayed.
type showThread struct {
	id      string // "" for thread-less messages
	peer    string
	parent  string
	typ     string
	subject string
	closed  bool
	first   time.Time
	g       *threadGroup
	depth   int
	child   bool // shown under its parent
}

func runThreadsShow(_ context.Context, env *Env, g *options, o *threadsShowOptions) error {
	store, a, err := loadThreadsAccount(g)
	if err != nil {
		return err
	}
	idx, convs := a.Threads, a.Conversations
	arg := o.arg
	limit := showLimit
	if o.all {
		limit = 0
	}
	jidKey := ""
	if j, err := session.ParseJID(arg); err == nil {
		jidKey = conversationKey(convs, j)
	}
	prefixOK := len(arg) >= minPrefix
	// Peers whose records may belong to the thread asked for or to its
	// children: the peers of the index threads the argument names.
	interest := map[string]bool{}
	if t := idx[arg]; t != nil {
		interest[t.Peer] = true
	} else if prefixOK {
		for id, t := range idx {
			if t != nil && strings.HasPrefix(id, arg) {
				interest[t.Peer] = true
			}
		}
	}
	keep := func(key string, rec *statefile.Record) bool {
		if (jidKey != "" && key == jidKey) || interest[key] {
			return true
		}
		return rec.Thread != "" && (rec.Thread == arg || (prefixOK && strings.HasPrefix(rec.Thread, arg)))
	}
	col, err := scanThreads(store, g.account.Bare(), convs, limit, keep)
	printScanWarnings(env, col)
	if err != nil {
		return err
	}

	// Resolve the argument: an exact thread id, then a known JID, then a
	// unique thread id prefix.
	target := ""
	switch {
	case idx[arg] != nil || col.meta[arg] != nil:
		target = arg
	case jidKey != "" && isKnownPeer(jidKey, convs, idx, col):
		return printThreadsShow(env, o, peerThreads(jidKey, idx, col), "")
	case prefixOK:
		cands := threadPrefixCandidates(arg, idx, col.meta)
		switch len(cands) {
		case 0:
		case 1:
			target = cands[0]
		default:
			return ambiguousThreadError(arg, cands)
		}
	}
	if target == "" {
		return unknownThreadError(arg, idx, col.meta, convs)
	}

	parentOf := func(id string) string {
		if t := idx[id]; t != nil && t.Parent != "" {
			return t.Parent
		}
		if m := col.meta[id]; m != nil {
			return m.parent
		}
		return ""
	}
	nodes := threadSubtree(target, idx, col.meta, parentOf)
	// A thread found only in the history, or a child with another peer,
	// may have records the first pass did not keep: read them now.
	for _, id := range nodes {
		if m := col.meta[id]; m != nil && (col.groups[id] == nil || col.groups[id].total != m.count) {
			in := make(map[string]bool, len(nodes))
			for _, id := range nodes {
				in[id] = true
			}
			col, err = scanThreads(store, g.account.Bare(), convs, limit, func(_ string, rec *statefile.Record) bool {
				return in[rec.Thread]
			})
			if err != nil {
				return err
			}
			break
		}
	}
	list := make([]*showThread, 0, len(nodes))
	for _, id := range nodes {
		list = append(list, describeThread(id, idx, col))
	}
	return printThreadsShow(env, o, list, target)
}

func printScanWarnings(env *Env, col *historyView) {
	if col == nil {
		return
	}
	for _, w := range col.warnings {
		fmt.Fprintf(env.Stderr, "jab: warning: %s\n", sanitize(w))
	}
}

func isKnownPeer(key string, convs map[string]*statefile.Conversation, idx map[string]*statefile.Thread, col *historyView) bool {
	if convs[key] != nil || col.peers[key] {
		return true
	}
	for _, t := range idx {
		if t != nil && t.Peer == key {
			return true
		}
	}
	return false
}

// peerThreads lists every thread with the peer: those of the index and
// those the history holds, plus the peer's thread-less messages.
func peerThreads(key string, idx map[string]*statefile.Thread, col *historyView) []*showThread {
	var list []*showThread
	seen := map[string]bool{}
	for id, t := range idx {
		if t != nil && t.Peer == key {
			seen[id] = true
			list = append(list, describeThread(id, idx, col))
		}
	}
	for id, g := range col.groups {
		if g.peer == key && !seen[id] {
			list = append(list, describeThread(id, idx, col))
		}
	}
	if g := col.threadless[key]; g != nil {
		list = append(list, &showThread{peer: key, g: g, first: g.ordered()[0].Time})
	}
	return list
}

// describeThread merges what the index and the history know about a thread.
func describeThread(id string, idx map[string]*statefile.Thread, col *historyView) *showThread {
	s := &showThread{id: id, g: col.groups[id]}
	if m := col.meta[id]; m != nil {
		s.peer, s.parent, s.typ, s.subject, s.first = m.peer, m.parent, m.typ, m.subject, m.first
	}
	if t := idx[id]; t != nil {
		s.peer, s.typ, s.closed = t.Peer, t.Type, t.Closed
		if t.Parent != "" {
			s.parent = t.Parent
		}
		if t.Subject != "" {
			s.subject = t.Subject
		}
		if !t.First.IsZero() && (s.first.IsZero() || t.First.Before(s.first)) {
			s.first = t.First
		}
	}
	if s.parent == id {
		s.parent = "" // RFC 6121 §5.2.5: a thread is never its own parent
	}
	if s.g == nil {
		s.g = &threadGroup{thread: id}
	}
	return s
}

// threadSubtree returns target and its descendants, each once even when the
// parent links form a cycle.
func threadSubtree(target string, idx map[string]*statefile.Thread, meta map[string]*threadMeta, parentOf func(string) string) []string {
	children := map[string][]string{}
	add := func(id string) {
		if p := parentOf(id); p != "" && p != id {
			children[p] = append(children[p], id)
		}
	}
	for id := range idx {
		add(id)
	}
	for id := range meta {
		if idx[id] == nil {
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

// arrangeThreads orders the threads as a forest: a thread whose parent is shown
// goes under it; the others are roots. Each thread is visited once, so a
// parent cycle (foo→bar→foo) ends: its earliest thread is made a root.
// first, when set, is the root to start with.
func arrangeThreads(list []*showThread, first string) []*showThread {
	less := func(a, b *showThread) int {
		if c := a.first.Compare(b.first); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	}
	slices.SortFunc(list, less)
	byID := make(map[string]*showThread, len(list))
	for _, s := range list {
		if s.id != "" {
			byID[s.id] = s
		}
	}
	children := map[string][]*showThread{}
	var roots []*showThread
	for _, s := range list {
		if s.id != "" && s.parent != "" && byID[s.parent] != nil && s.id != first {
			children[s.parent] = append(children[s.parent], s)
		} else {
			roots = append(roots, s)
		}
	}
	if s := byID[first]; s != nil {
		roots = slices.DeleteFunc(roots, func(r *showThread) bool { return r == s })
		roots = append([]*showThread{s}, roots...)
	}
	out := make([]*showThread, 0, len(list))
	visited := map[*showThread]bool{}
	var visit func(s *showThread, depth int)
	visit = func(s *showThread, depth int) {
		if visited[s] {
			return
		}
		visited[s] = true
		s.depth, s.child = depth, depth > 0
		out = append(out, s)
		for _, c := range children[s.id] {
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

func printThreadsShow(env *Env, o *threadsShowOptions, list []*showThread, first string) error {
	list = arrangeThreads(list, first)
	out := bufio.NewWriter(env.Stdout)
	colour := !o.json && env.StdoutTTY && env.Getenv("NO_COLOR") == ""
	for _, s := range list {
		recs := s.g.ordered()
		if o.json {
			for i := range recs {
				out.Write(threadRecordJSON(s, &recs[i]))
				out.WriteByte('\n')
			}
			continue
		}
		start, end := "", ""
		if colour {
			start, end = threadColour(s.id), "\x1b[0m"
		}
		indent := strings.Repeat("  ", s.depth)
		out.WriteString(start + indent + threadHeader(s) + end + "\n")
		for i := range recs {
			out.WriteString(start + indent + "  " + threadLine(&recs[i]) + end + "\n")
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	return nil
}

// threadHeader: "[↳ ]thread ID with PEER (TYPE, closed, parent P8, … N
// earlier messages): SUBJECT".
func threadHeader(s *showThread) string {
	var b strings.Builder
	if s.child {
		b.WriteString("↳ ")
	}
	if s.id == "" {
		b.WriteString(threadlessName)
	} else {
		b.WriteString("thread " + sanitize(s.id))
	}
	b.WriteString(" with " + sanitize(s.peer))
	var notes []string
	if s.typ != "" {
		notes = append(notes, sanitize(s.typ))
	}
	if s.closed {
		notes = append(notes, "closed")
	}
	if s.parent != "" && !s.child {
		notes = append(notes, "parent "+shortThread(s.parent))
	}
	if cut := s.g.total - len(s.g.recs); cut > 0 {
		notes = append(notes, fmt.Sprintf("… %d earlier messages", cut))
	}
	if s.g.total == 0 {
		notes = append(notes, "no messages in the history")
	}
	if len(notes) > 0 {
		b.WriteString(" (" + strings.Join(notes, ", ") + ")")
	}
	if s.subject != "" {
		b.WriteString(": " + sanitize(s.subject))
	}
	return b.String()
}

// threadLine: "TIME  <-|->  PEER  [error=C] [(re: ID)] [subject: S] BODY".
func threadLine(r *statefile.Record) string {
	var b strings.Builder
	b.WriteString(formatUTC(r.Time, time.RFC3339, "-"))
	if r.Dir == statefile.DirOut {
		b.WriteString("  ->  ")
	} else {
		b.WriteString("  <-  ")
	}
	b.WriteString(sanitize(r.Peer))
	if r.Error != "" || r.Type == "error" {
		b.WriteString("  error=" + sanitize(dashIfEmpty(r.Error)))
	}
	if r.InReplyTo != "" {
		b.WriteString("  (re: " + sanitize(r.InReplyTo) + ")")
	}
	if r.Subject != "" {
		b.WriteString("  [subject: " + sanitize(r.Subject) + "]")
	}
	if r.Body != "" {
		b.WriteString("  " + sanitize(r.Body))
	} else if r.ChatState != "" {
		b.WriteString("  (" + sanitize(r.ChatState) + ")")
	}
	return b.String()
}

func threadRecordJSON(s *showThread, r *statefile.Record) []byte {
	type message struct {
		Thread    string `json:"thread"`
		Parent    string `json:"parent"`
		Dir       string `json:"dir"`
		Time      string `json:"time"`
		Peer      string `json:"peer"`
		Type      string `json:"type"`
		ID        string `json:"id"`
		OriginID  string `json:"origin_id"`
		Subject   string `json:"subject"`
		Body      string `json:"body"`
		ChatState string `json:"chat_state"`
		InReplyTo string `json:"in_reply_to"`
		Error     string `json:"error"`
	}
	parent := s.parent
	if parent == "" {
		parent = r.Parent
	}
	data, _ := json.Marshal(message{Thread: r.Thread, Parent: parent, Dir: r.Dir, Time: formatUTC(r.Time, time.RFC3339Nano, ""),
		Peer: r.Peer, Type: r.Type, ID: r.ID, OriginID: r.OriginID, Subject: r.Subject, Body: r.Body,
		ChatState: r.ChatState, InReplyTo: r.InReplyTo, Error: r.Error})
	return safeJSON(data)
}

// threadPalette: six 256-colour foregrounds readable on dark and light
// backgrounds, none of them red (which reads as an error).
var threadPalette = [...]string{"\x1b[38;5;33m", "\x1b[38;5;34m", "\x1b[38;5;172m", "\x1b[38;5;134m", "\x1b[38;5;37m", "\x1b[38;5;130m"}

// threadColour picks a thread's colour from its id, the same in every run.
func threadColour(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return threadPalette[h.Sum32()%uint32(len(threadPalette))]
}

func threadPrefixCandidates(arg string, idx map[string]*statefile.Thread, meta map[string]*threadMeta) []string {
	var cands []string
	for id := range idx {
		if strings.HasPrefix(id, arg) {
			cands = append(cands, id)
		}
	}
	for id := range meta {
		if idx[id] == nil && strings.HasPrefix(id, arg) {
			cands = append(cands, id)
		}
	}
	sort.Strings(cands)
	return cands
}

func ambiguousThreadError(arg string, cands []string) error {
	shown := cands
	if len(shown) > maxAmbiguous {
		shown = shown[:maxAmbiguous]
	}
	list := make([]string, len(shown))
	for i, c := range shown {
		list[i] = sanitize(c)
	}
	more := ""
	if n := len(cands) - len(shown); n > 0 {
		more = fmt.Sprintf(" and %d more", n)
	}
	return usagef("give more characters of the thread id", "thread id prefix %q is ambiguous: %s%s", arg, strings.Join(list, ", "), more)
}

func unknownThreadError(arg string, idx map[string]*statefile.Thread, meta map[string]*threadMeta, convs map[string]*statefile.Conversation) error {
	cands := make([]string, 0, len(idx)+len(meta)+len(convs))
	for id := range idx {
		cands = append(cands, id)
	}
	for id := range meta {
		if idx[id] == nil {
			cands = append(cands, id)
		}
	}
	for peer := range convs {
		cands = append(cands, peer)
	}
	hint := "'jab threads list' shows the threads"
	if best := closestThreads(cands, arg, maxHints); len(best) > 0 {
		for i, c := range best {
			best[i] = sanitize(c)
		}
		hint = "closest: " + strings.Join(best, ", ") + " (" + hint + ")"
	}
	if len(arg) < minPrefix {
		hint = fmt.Sprintf("a thread id prefix needs at least %d characters; %s", minPrefix, hint)
	}
	return usagef(hint, "no thread or conversation %q", arg)
}
