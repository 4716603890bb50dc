package statefile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// DefaultHistoryMax is the history cap used when none is configured: at a
// few hundred bytes a record, about 300 MB, and years of normal use.
const DefaultHistoryMax = 1_000_000

// MaxRecordSize bounds one encoded history record (its line, without the
// newline). Append refuses larger records; the server's stanza size limit
// keeps real messages far below it.
const MaxRecordSize = 1 << 20

// maxHistoryLine is the longest line Scan reads. It is larger than
// MaxRecordSize so that a record written by a build with a larger limit is
// still read; a longer line is skipped with a warning without being held in
// memory.
const maxHistoryLine = 4 << 20

// maxHistoryWarnings bounds the warnings one Scan returns: a file of garbage
// must not turn into millions of messages. The rest are summarised.
const maxHistoryWarnings = 100

// Directions of a history record.
const (
	DirIn  = "in"  // received
	DirOut = "out" // sent
)

const (
	historyName      = "history.jsonl"
	historyLockName  = historyName + ".lock"
	historyCountName = "history.count"
)

// Record is one message sent or received, one line of history.jsonl.
type Record struct {
	Account string    `json:"account"` // our bare JID
	Dir     string    `json:"dir"`     // DirIn or DirOut
	Time    time.Time `json:"time"`
	// Peer is the other side's JID as on the wire (the full JID when known):
	// the from of an incoming message, the to of an outgoing one.
	Peer      string `json:"peer"`
	Type      string `json:"type"` // chat, normal, headline, error
	ID        string `json:"id,omitempty"`
	OriginID  string `json:"origin_id,omitempty"` // XEP-0359
	Thread    string `json:"thread,omitempty"`    // XEP-0201
	Parent    string `json:"parent,omitempty"`    // XEP-0201 1.0 §3.3
	Subject   string `json:"subject,omitempty"`
	Body      string `json:"body,omitempty"`
	ChatState string `json:"chat_state,omitempty"`  // XEP-0085
	InReplyTo string `json:"in_reply_to,omitempty"` // SHIM In-Reply-To, XEP-0201 0.3 §8
	Error     string `json:"error,omitempty"`       // condition of a type="error" message
	// Carbon is "received" (a contact wrote to another of our devices) or
	// "sent" (another of our devices wrote), for XEP-0280 copies.
	Carbon string `json:"carbon,omitempty"`
	// Archived marks a message caught up from the archive (XEP-0313).
	Archived bool `json:"archived,omitempty"`
	// Nick is, for a group chat message, the nick its sender had in the
	// room: the occupant's (Peer is then ROOM/NICK) or, for one we sent
	// (Peer is the room), ours. Older records lack it.
	Nick string `json:"nick,omitempty"`
	// Encrypted marks a message sent or received end-to-end encrypted
	// (XEP-0373/0374); Body is then the plaintext. Verified says the
	// signature was checked against the sender's pinned key;
	// EncryptionError why a received one could not be read or verified.
	Encrypted       bool   `json:"encrypted,omitempty"`
	Verified        bool   `json:"verified,omitempty"`
	EncryptionError string `json:"encryption_error,omitempty"`
}

// History is the message history of a store: history.jsonl, append-only,
// capped at a number of records. Like Store it holds no open files or locks
// between calls.
type History struct {
	s   *Store
	max int
}

// History returns the store's message history, capped at max records
// (DefaultHistoryMax when max <= 0).
func (s *Store) History(max int) *History {
	if max <= 0 {
		max = DefaultHistoryMax
	}
	return &History{s: s, max: max}
}

// Path returns the path of the history file.
func (h *History) Path() string { return filepath.Join(h.s.dir, historyName) }

// Max returns the cap. Pruning is amortised (see pruneAt), so after an
// Append the file holds up to Max()+max(Max()/10, 1) records; a prune leaves
// the newest Max().
func (h *History) Max() int { return h.max }

func (h *History) lockPath() string  { return filepath.Join(h.s.dir, historyLockName) }
func (h *History) countPath() string { return filepath.Join(h.s.dir, historyCountName) }

// pruneAt is the record count at which Append prunes back to max. The slack
// of a tenth makes pruning amortised: each prune costs a rewrite of about max
// records and removes at least max/10, so an Append costs O(10) record
// copies on average instead of a rewrite every time.
func (h *History) pruneAt() int { return h.max + max(h.max/10, 1) }

// appendBufs keeps Append's encoding buffers: a --lines run appends a
// batch of records every few hundred messages.
var appendBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledAppend bounds the buffers kept, so one huge batch is not held.
const maxPooledAppend = 1 << 20

// Append adds recs to the end of the history, in order, durably (fsynced)
// before it returns. It waits for the history lock until ctx is done.
//
// A record whose Dir is not DirIn or DirOut, that cannot be encoded, or whose
// line is longer than MaxRecordSize is refused before anything is written.
// When the history then holds more than its cap allows, Append prunes the
// oldest records; if that fails the records are still appended, and the error
// says so (the next Append tries the prune again).
func (h *History) Append(ctx context.Context, recs ...Record) (err error) {
	path := h.Path()
	if len(recs) == 0 {
		return nil
	}
	buf := appendBufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledAppend {
			buf.Reset()
			appendBufs.Put(buf)
		}
	}()
	buf.Grow(len(recs) * 320) // a sent record's typical size: no regrowth
	buf.WriteByte('\n')       // dropped unless the file ends in a torn line
	enc := json.NewEncoder(buf)
	// JIDs and bodies are more readable unescaped; the file is never
	// embedded in HTML. Control characters are always escaped.
	enc.SetEscapeHTML(false)
	for i, rec := range recs {
		if err := checkRecord(rec); err != nil {
			return fmt.Errorf("append to history %q: record %d: %w", path, i, err)
		}
		start := buf.Len()
		if err := enc.Encode(&recs[i]); err != nil { // Encode adds the newline
			return fmt.Errorf("append to history %q: encode record %d: %w", path, i, err)
		}
		if n := buf.Len() - start - 1; n > MaxRecordSize {
			return fmt.Errorf("append to history %q: record %d is %d bytes encoded, more than the limit of %d", path, i, n, MaxRecordSize)
		}
	}

	unlock, err := lockFile(ctx, h.lockPath())
	if err != nil {
		return err
	}
	defer func() {
		if uerr := unlock(); uerr != nil && err == nil {
			err = uerr
		}
	}()

	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open history %q: %w", path, err)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat history %q: %w", path, err)
	}
	data := buf.Bytes()[1:]
	if fi.Size() > 0 {
		// A crash mid-append can leave a torn last line. Ending it first
		// keeps it a separate line, which Scan skips, and this record whole.
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
			return fmt.Errorf("read history %q: %w", path, err)
		}
		if last[0] != '\n' {
			data = buf.Bytes()
		}
	}
	count, ok := h.readCount(fi)
	if !ok {
		// A crash, a lost count file or an edit by hand: recount. Leftover
		// temp files are most likely after a crash, so clean them up too.
		h.removeTemps()
		if count, err = h.countRecords(); err != nil {
			return err
		}
	}

	// One write: with O_APPEND it lands whole at the end of the file, so a
	// reader never sees records interleaved, only at worst a torn tail.
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("append to history %q: %w", path, err)
	}
	file, isNew := f, fi.Size() == 0
	f = nil // durable closes it
	durable := func() error {
		if err := file.Sync(); err != nil {
			file.Close()
			return fmt.Errorf("sync history %q: %w", path, err)
		}
		if isNew {
			// The file may be new: make its directory entry durable too.
			if err := syncDir(h.s.dir); err != nil {
				file.Close()
				return err
			}
		}
		if err := file.Close(); err != nil {
			return fmt.Errorf("close history %q: %w", path, err)
		}
		return nil
	}
	if err := syncNowOrLater(ctx, durable); err != nil {
		return err
	}
	count += len(recs)
	if fi, err := os.Stat(path); err == nil {
		// The count is a cache checked against the file; a failure to
		// write it only costs a recount later.
		h.writeCount(fi, count)
	}

	if count > h.pruneAt() {
		drop := count - h.max
		if _, _, err := h.rewriteLocked(func(i int, _ Record) bool { return i >= drop }); err != nil {
			return fmt.Errorf("records appended, but pruning history to %d records failed: %w", h.max, err)
		}
	}
	return nil
}

func checkRecord(rec Record) error {
	if rec.Dir != DirIn && rec.Dir != DirOut {
		return fmt.Errorf("direction %q is neither %q nor %q", rec.Dir, DirIn, DirOut)
	}
	return nil
}

// Scan calls fn for every record, oldest first, streaming the file. It takes
// no lock: appends are whole lines written by one write, and rewrites replace
// the file by rename, so at worst the last line is still being written and is
// skipped like any torn line.
//
// A line that is not a valid record (a torn write, garbage, a line longer
// than the 4 MiB read limit) is skipped and reported in warnings, which name
// the line number; blank lines are ignored. A missing file is an empty
// history. If fn returns an error, Scan stops and returns it unchanged.
func (h *History) Scan(fn func(Record) error) (warnings []string, err error) {
	return h.ScanMatching(nil, fn)
}

// ScanMatching is Scan for the records whose line holds needle (all when
// it is empty): other lines are passed over unread, which costs a fraction
// of decoding them, and are never reported in warnings. A record's line
// holds each of its fields as encoding/json writes it (with HTML escaping
// off), e.g. "type":"groupchat"; a line may also hold needle in a body, so
// fn still checks the record.
func (h *History) ScanMatching(needle []byte, fn func(Record) error) (warnings []string, err error) {
	path := h.Path()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open history %q: %w", path, err)
	}
	defer f.Close()
	w := warner{path: path}
	err = scanHistory(f, path, needle, w.add, func(_ []byte, rec Record) error { return fn(rec) })
	return w.list(), err
}

// Rewrite removes every record for which keep returns false and returns how
// many it removed. Lines that are not valid records, which Scan skips, are
// dropped as well. The new file replaces the old atomically (temp file,
// fsync, rename, directory fsync) under the history lock, so a crash leaves
// either the old history or the new one; when nothing is dropped, the file is
// left as it is.
func (h *History) Rewrite(ctx context.Context, keep func(Record) bool) (removed int, err error) {
	if keep == nil {
		return 0, fmt.Errorf("rewrite history %q: nil function", h.Path())
	}
	unlock, err := lockFile(ctx, h.lockPath())
	if err != nil {
		return 0, err
	}
	defer func() {
		if uerr := unlock(); uerr != nil && err == nil {
			err = uerr
		}
	}()
	removed, _, err = h.rewriteLocked(func(_ int, rec Record) bool { return keep(rec) })
	return removed, err
}

// errUnchanged aborts a rewrite that would write the same records.
var errUnchanged = errors.New("history unchanged")

// rewriteLocked rewrites the history keeping the records for which keep,
// given the record's index among the valid records and the record, returns
// true. Kept lines are copied byte for byte, so fields added by a newer jab
// survive. It must be called with the history lock held, and updates the
// count file.
func (h *History) rewriteLocked(keep func(int, Record) bool) (removed, kept int, err error) {
	path := h.Path()
	h.removeTemps()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("open history %q: %w", path, err)
	}
	defer f.Close()
	err = writeFileAtomicFunc(path, func(w io.Writer) error {
		dropped, i := 0, 0
		err := scanHistory(f, path, nil, func(int, string) { dropped++ }, func(line []byte, rec Record) error {
			i++
			if !keep(i-1, rec) {
				removed++
				return nil
			}
			kept++
			if _, err := w.Write(line); err != nil {
				return err
			}
			_, err := w.Write([]byte{'\n'})
			return err
		})
		if err == nil && removed == 0 && dropped == 0 {
			err = errUnchanged
		}
		return err
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return 0, 0, fmt.Errorf("rewrite history %q: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil {
		h.writeCount(fi, kept)
	}
	return removed, kept, nil
}

// removeTemps deletes temp files left by a rewrite that crashed. It must be
// called with the history lock held, when no rewrite can be in progress.
func (h *History) removeTemps() {
	tmps, _ := filepath.Glob(filepath.Join(h.s.dir, "."+historyName+"-*.tmp"))
	for _, tmp := range tmps {
		_ = os.Remove(tmp)
	}
}

// historyCount is the content of history.count: the number of valid records
// in history.jsonl when it had this device, inode, size and modification
// time. It is trusted only while all still match, so a crash between an
// append and the count update, a rewrite, or an edit by hand is detected and
// answered with a recount.
type historyCount struct {
	Records int    `json:"records"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	Dev     uint64 `json:"dev"`
	Inode   uint64 `json:"inode"`
}

func fileID(fi os.FileInfo) (dev, ino uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Dev), st.Ino, true
}

// readCount returns the cached record count of the history file described
// by fi, and whether it can be trusted.
func (h *History) readCount(fi os.FileInfo) (int, bool) {
	if fi.Size() == 0 {
		return 0, true
	}
	dev, ino, ok := fileID(fi)
	if !ok {
		return 0, false
	}
	data, err := os.ReadFile(h.countPath())
	if err != nil {
		return 0, false
	}
	var c historyCount
	if err := json.Unmarshal(data, &c); err != nil {
		return 0, false
	}
	if c.Size != fi.Size() || c.ModTime != fi.ModTime().UnixNano() || c.Dev != dev || c.Inode != ino || c.Records < 0 {
		return 0, false
	}
	return c.Records, true
}

// writeCount records that the history file described by fi holds n records.
// It is written in place without fsync: a torn or stale count fails the
// check in readCount and costs only a recount.
func (h *History) writeCount(fi os.FileInfo, n int) {
	dev, ino, ok := fileID(fi)
	if !ok {
		return
	}
	data, err := json.Marshal(historyCount{Records: n, Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), Dev: dev, Inode: ino})
	if err != nil {
		return
	}
	_ = os.WriteFile(h.countPath(), append(data, '\n'), 0o600)
}

// countRecords counts the valid records by scanning the file.
func (h *History) countRecords() (int, error) {
	n := 0
	_, err := h.Scan(func(Record) error { n++; return nil })
	return n, err
}

// scanHistory reads history lines from r and calls fn with each valid record
// and its line (without the newline; valid only during the call), or warn
// with the line number and the reason for each line that is skipped. It
// stops at the first error from fn or from reading.
func scanHistory(r io.Reader, path string, needle []byte, warn func(line int, msg string), fn func([]byte, Record) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte // a line longer than br's buffer, up to maxHistoryLine
	n := 0          // bytes of the current line so far, newline included
	lineNo := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			n += len(chunk)
			if n <= maxHistoryLine {
				long = append(long, chunk...)
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read history %q: %w", path, err)
		}
		if n == 0 && len(chunk) == 0 {
			return nil // end of file at a line boundary
		}
		n += len(chunk)
		line := chunk
		if len(long) > 0 {
			long = append(long, chunk...)
			line = long
		}
		lineNo++
		size := n
		if bytes.HasSuffix(chunk, []byte{'\n'}) {
			size--
			line = line[:len(line)-1]
		}
		long, n = long[:0], 0
		switch {
		case size > maxHistoryLine:
			warn(lineNo, fmt.Sprintf("skipped: line is %d bytes, more than the limit of %d", size, maxHistoryLine))
		case len(bytes.TrimSpace(line)) == 0:
		case len(needle) > 0 && !bytes.Contains(line, needle):
		default:
			rec, derr := decodeRecord(line)
			if derr != nil {
				warn(lineNo, "skipped: "+derr.Error())
				break
			}
			if ferr := fn(line, rec); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return nil // io.EOF after a last line without a newline
		}
	}
}

// decodeRecord parses one history line. Lines as Append writes them take a
// fast path; anything else (escapes beyond the short ones, whitespace, other
// fields, other value types) goes through encoding/json, whose result the
// fast path matches exactly (FuzzDecodeRecord checks it).
func decodeRecord(line []byte) (Record, error) {
	rec, ok := decodeRecordFast(line)
	if !ok {
		rec = Record{}
		if b := bytes.TrimLeft(line, " \t\r"); len(b) == 0 || b[0] != '{' {
			return rec, errors.New("not a JSON object")
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			return rec, err
		}
	}
	return rec, checkRecord(rec)
}

// decodeRecordFast parses the compact form encoding/json writes: one object,
// no whitespace, known keys with string values. It reports false for
// anything else, leaving it to encoding/json. Scanning the history is
// dominated by decoding, and this path is several times faster than
// reflection.
func decodeRecordFast(line []byte) (rec Record, ok bool) {
	if len(line) < 2 || line[0] != '{' || line[1] == '}' {
		return rec, false
	}
	p := line[1:]
	for {
		key, esc, n, ok := scanString(p)
		if !ok || esc || n >= len(p) || p[n] != ':' {
			return rec, false
		}
		p = p[n+1:]
		raw, esc, n, ok := scanString(p)
		if !ok || n >= len(p) {
			return rec, false
		}
		literal := p[:n]
		p = p[n:]
		var dst *string
		switch string(key) {
		case "account":
			dst = &rec.Account
		case "dir":
			dst = &rec.Dir
		case "time":
			// encoding/json hands the literal to Time.UnmarshalJSON, which
			// does not undo escapes; let it report those itself.
			if esc || rec.Time.UnmarshalJSON(literal) != nil {
				return rec, false
			}
		case "peer":
			dst = &rec.Peer
		case "type":
			dst = &rec.Type
		case "id":
			dst = &rec.ID
		case "origin_id":
			dst = &rec.OriginID
		case "thread":
			dst = &rec.Thread
		case "parent":
			dst = &rec.Parent
		case "subject":
			dst = &rec.Subject
		case "body":
			dst = &rec.Body
		case "chat_state":
			dst = &rec.ChatState
		case "in_reply_to":
			dst = &rec.InReplyTo
		case "error":
			dst = &rec.Error
		default:
			return rec, false
		}
		if dst != nil {
			if esc {
				*dst = unescape(raw)
			} else {
				*dst = string(raw)
			}
		}
		switch p[0] {
		case ',':
			p = p[1:]
		case '}':
			return rec, len(p) == 1
		default:
			return rec, false
		}
	}
}

// scanString reads the JSON string at the start of p and returns its content
// between the quotes, whether it holds escapes, and the length of the
// literal. It reports false for what the fast path leaves to encoding/json:
// no string there, a \u escape, a control character, invalid UTF-8.
func scanString(p []byte) (content []byte, esc bool, n int, ok bool) {
	if len(p) == 0 || p[0] != '"' {
		return nil, false, 0, false
	}
	ascii := true
	for i := 1; i < len(p); i++ {
		switch c := p[i]; {
		case c == '"':
			content = p[1:i]
			if !ascii && !utf8.Valid(content) {
				return nil, false, 0, false
			}
			return content, esc, i + 1, true
		case c == '\\':
			i++
			if i == len(p) || strings.IndexByte(`"\/bfnrt`, p[i]) < 0 {
				return nil, false, 0, false
			}
			esc = true
		case c < 0x20:
			return nil, false, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false, 0, false
}

// unescape undoes the short escapes scanString admits.
func unescape(s []byte) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		default: // " \ /
			c = s[i]
		}
		b.WriteByte(c)
	}
	return b.String()
}

// warner collects Scan's warnings, at most maxHistoryWarnings of them.
type warner struct {
	path string
	msgs []string
	more int
}

func (w *warner) add(line int, msg string) {
	if len(w.msgs) >= maxHistoryWarnings {
		w.more++
		return
	}
	w.msgs = append(w.msgs, fmt.Sprintf("history %q line %d: %s", w.path, line, msg))
}

func (w *warner) list() []string {
	if w.more > 0 {
		return append(w.msgs, fmt.Sprintf("history %q: %d more lines skipped", w.path, w.more))
	}
	return w.msgs
}
