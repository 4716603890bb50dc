package commands

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
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
//   - list prints the thread index (state.json), not the history's
//     one-to-one threads: the index already holds counts and first/last
//     activity, and it is capped, whereas the history may hold threads the
//     caps dropped on purpose (a flood of peer thread ids). Rooms keep no
//     index (item 73), so their threads come from the history, capped at
//     the index's per-peer bound, after the index's, room by room.
//   - show prints what session.LookupThreads finds: the history grouped by
//     thread, read in one pass that keeps only the records of the threads
//     it may print and at most showLimit of them per thread, children
//     under their parent (session/threadview.go).
//   - Every remote string goes through sanitize; colour codes only ever
//     wrap a whole line (XEP-0201 0.3 §5 asks for a visual indication of
//     thread membership: one uniform colour per thread).

const (
	showLimit      = 50 // messages per thread shown without --all
	maxHints       = 3  // closest ids suggested for an unknown argument
	maxAmbiguous   = 10 // candidates listed for an ambiguous prefix
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
thread's parent (↳) and the subject or first line; then the group chat rooms'
threads, room by room (type groupchat, counted from the history). --json prints
one object per line with the full ids and times. Nothing is contacted.`,
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
the last %d messages of each thread are shown. Nothing is contacted.`, session.MinThreadPrefix, showLimit),
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
	store, a, err := loadThreadsAccount(g)
	if err != nil {
		return err
	}
	peer := ""
	if o.peer != "" {
		j, _ := session.ParseJID(o.peer) // validated in the action
		peer = session.KeyIn(a.Conversations, j)
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
	session.ByActivity(threads)
	if !o.closed {
		// Then the rooms' threads, room by room: they are in the
		// history only (rooms keep no thread index), and never closed.
		rooms, warnings, err := session.RoomThreads(store.History(0), g.account.Bare(), session.MaxThreadsPerPeer)
		for _, w := range warnings {
			fmt.Fprintf(env.Stderr, "jab: warning: %s\n", sanitize(w))
		}
		if err != nil {
			return err
		}
		for _, t := range rooms {
			if peer == "" || t.Peer == peer {
				threads = append(threads, t)
			}
		}
	}

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

func runThreadsShow(_ context.Context, env *Env, g *options, o *threadsShowOptions) error {
	store, a, err := loadThreadsAccount(g)
	if err != nil {
		return err
	}
	limit := showLimit
	if o.all {
		limit = 0
	}
	list, warnings, err := session.LookupThreads(store.History(0), g.account.Bare(), a, o.arg, limit)
	for _, w := range warnings {
		fmt.Fprintf(env.Stderr, "jab: warning: %s\n", sanitize(w))
	}
	var amb *session.AmbiguousThreadError
	var unknown *session.UnknownThreadError
	switch {
	case errors.As(err, &amb):
		return ambiguousThreadError(amb.Prefix, amb.IDs)
	case errors.As(err, &unknown):
		return unknownThreadError(unknown.Arg, unknown.Candidates)
	case err != nil:
		return err
	}
	return printThreadsShow(env, o, list)
}

// printThreadsShow prints the groups in the order LookupThreads arranged.
func printThreadsShow(env *Env, o *threadsShowOptions, list []*session.ThreadGroup) error {
	out := bufio.NewWriter(env.Stdout)
	colour := !o.json && env.StdoutTTY && env.Getenv("NO_COLOR") == ""
	for _, s := range list {
		recs := s.Records
		if o.json {
			for i := range recs {
				out.Write(threadRecordJSON(s, &recs[i]))
				out.WriteByte('\n')
			}
			continue
		}
		start, end := "", ""
		if colour {
			start, end = threadColour(s.ID), "\x1b[0m"
		}
		indent := strings.Repeat("  ", s.Depth)
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
func threadHeader(s *session.ThreadGroup) string {
	var b strings.Builder
	if s.Child {
		b.WriteString("↳ ")
	}
	if s.ID == "" {
		b.WriteString(threadlessName)
	} else {
		b.WriteString("thread " + sanitize(s.ID))
	}
	b.WriteString(" with " + sanitize(s.Peer))
	var notes []string
	if s.Type != "" {
		notes = append(notes, sanitize(s.Type))
	}
	if s.Closed {
		notes = append(notes, "closed")
	}
	if s.Parent != "" && !s.Child {
		notes = append(notes, "parent "+shortThread(s.Parent))
	}
	if cut := s.Total - len(s.Records); cut > 0 {
		notes = append(notes, fmt.Sprintf("… %d earlier messages", cut))
	}
	if s.Total == 0 {
		notes = append(notes, "no messages in the history")
	}
	if len(notes) > 0 {
		b.WriteString(" (" + strings.Join(notes, ", ") + ")")
	}
	if s.Subject != "" {
		b.WriteString(": " + sanitize(s.Subject))
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
	b.WriteString(sanitize(recordPeer(r)))
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

func threadRecordJSON(s *session.ThreadGroup, r *statefile.Record) []byte {
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
		Nick      string `json:"nick,omitempty"`
	}
	parent := s.Parent
	if parent == "" {
		parent = r.Parent
	}
	data, _ := json.Marshal(message{Thread: r.Thread, Parent: parent, Dir: r.Dir, Time: formatUTC(r.Time, time.RFC3339Nano, ""),
		Peer: r.Peer, Type: r.Type, ID: r.ID, OriginID: r.OriginID, Subject: r.Subject, Body: r.Body,
		ChatState: r.ChatState, InReplyTo: r.InReplyTo, Error: r.Error, Nick: recordNick(r)})
	return safeJSON(data)
}

// recordNick is the nick of a group chat record: recorded, or for an
// older record from an occupant, its resource.
func recordNick(r *statefile.Record) string {
	if r.Nick != "" || r.Type != "groupchat" {
		return r.Nick
	}
	if j, err := session.ParseJID(r.Peer); err == nil && r.Dir == statefile.DirIn {
		return j.Resource
	}
	return ""
}

// recordPeer is who a record's line names: the peer, and in a room the
// occupant ROOM/NICK, ours too.
func recordPeer(r *statefile.Record) string {
	if nick := recordNick(r); nick != "" {
		return session.BareOf(r.Peer) + "/" + nick
	}
	return r.Peer
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

func unknownThreadError(arg string, cands []string) error {
	hint := "'jab threads list' shows the threads"
	if best := closestThreads(cands, arg, maxHints); len(best) > 0 {
		for i, c := range best {
			best[i] = sanitize(c)
		}
		hint = "closest: " + strings.Join(best, ", ") + " (" + hint + ")"
	}
	if len(arg) < session.MinThreadPrefix {
		hint = fmt.Sprintf("a thread id prefix needs at least %d characters; %s", session.MinThreadPrefix, hint)
	}
	return usagef(hint, "no thread or conversation %q", arg)
}
