package statefile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helperAppends is how many records each "history" helper process appends.
const helperAppends = 50

// historyRecord is record i of a numbered sequence from peer: Body is
// "<peer> <i>", so order and loss can be checked from the bodies.
func historyRecord(peer string, i int) Record {
	return Record{
		Account: testAccount,
		Dir:     DirIn,
		Time:    t0.Add(time.Duration(i) * time.Second),
		Peer:    peer,
		Type:    "chat",
		ID:      fmt.Sprintf("id-%d", i),
		Thread:  "6f1c2a9e-0d4b-4c55-9a57-3f1e2b8c7d10",
		Body:    fmt.Sprintf("%s %d", peer, i),
	}
}

// seq returns the i of a historyRecord body.
func seq(t *testing.T, r Record) int {
	t.Helper()
	_, num, ok := strings.Cut(r.Body, " ")
	n, err := strconv.Atoi(num)
	if !ok || err != nil {
		t.Fatalf("record body %q is not from historyRecord", r.Body)
	}
	return n
}

// scanAll returns every record and the warnings, failing the test on error.
func scanAll(t *testing.T, h *History) ([]Record, []string) {
	t.Helper()
	recs := []Record{}
	warnings, err := h.Scan(func(r Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Scan() error = %v", err)
	}
	return recs, warnings
}

func appendAll(t *testing.T, h *History, recs ...Record) {
	t.Helper()
	if err := h.Append(context.Background(), recs...); err != nil {
		t.Fatalf("Append() error = %v", err)
	}
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(data), "\n")
}

func TestHistoryRoundTrip(t *testing.T) {
	full := Record{
		Account: "me@example.net", Dir: DirOut, Time: t0, Peer: "juliet@example.com/balcony", Type: "chat",
		ID: "m1", OriginID: "o1", Thread: "t1", Parent: "t0", Subject: "s", Body: "hello",
		ChatState: "active", InReplyTo: "m0", Error: "",
	}
	withBody := func(body string) Record {
		r := historyRecord("romeo@example.com/garden", 1)
		r.Body = body
		return r
	}
	tests := []struct {
		name    string
		appends [][]Record // one Append call per element
		want    []Record   // nil: what was appended
	}{
		{name: "one record, every field", appends: [][]Record{{full}}},
		{
			name: "order across calls and within a call",
			appends: [][]Record{
				{historyRecord("a@x", 0)},
				{historyRecord("a@x", 1), historyRecord("a@x", 2), historyRecord("a@x", 3)},
				{historyRecord("a@x", 4)},
			},
		},
		{name: "control characters and NUL", appends: [][]Record{{withBody("a\x00b\x01c\x1b[31mred\x7f\r\nline\t\u2028\u2029end")}}},
		{name: "a body that looks like a record", appends: [][]Record{{withBody("\n{\"dir\":\"in\"}\n")}}},
		{name: "HTML characters", appends: [][]Record{{withBody("<b>&amp;</b>")}}},
		{
			name:    "invalid UTF-8 is replaced",
			appends: [][]Record{{withBody("a\xffb")}},
			want:    []Record{withBody("a\uFFFDb")},
		},
		{name: "empty call writes nothing", appends: [][]Record{{}}, want: []Record{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := openTemp(t).History(0)
			want := []Record{}
			for _, recs := range tt.appends {
				appendAll(t, h, recs...)
				want = append(want, recs...)
			}
			if tt.want != nil {
				want = tt.want
			}
			got, warnings := scanAll(t, h)
			if len(warnings) != 0 {
				t.Errorf("Scan() warnings = %q", warnings)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Scan() =\n%+v\nwant\n%+v", got, want)
			}
			data, err := os.ReadFile(h.Path())
			if errors.Is(err, os.ErrNotExist) && len(want) == 0 {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// One line per record, and no raw control character on it.
			if n := bytes.Count(data, []byte{'\n'}); n != len(want) || data[len(data)-1] != '\n' {
				t.Errorf("file has %d newlines for %d records:\n%q", n, len(want), data)
			}
			for i, c := range data {
				if c < 0x20 && c != '\n' {
					t.Fatalf("raw control byte %#x at offset %d:\n%q", c, i, data)
				}
			}
			if fi, err := os.Stat(h.Path()); err != nil || fi.Mode() != 0o600 {
				t.Errorf("history file mode = %v, %v; want 0600", fi.Mode(), err)
			}
		})
	}
}

func TestHistoryAppendRefuses(t *testing.T) {
	good := historyRecord("a@x", 0)
	big := historyRecord("a@x", 1)
	big.Body = strings.Repeat("x", MaxRecordSize)
	farFuture := historyRecord("a@x", 2)
	farFuture.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	noDir := historyRecord("a@x", 3)
	noDir.Dir = ""
	tests := []struct {
		name    string
		recs    []Record
		wantErr string
	}{
		{name: "record over the size limit", recs: []Record{good, big}, wantErr: "more than the limit"},
		{name: "unencodable time", recs: []Record{good, farFuture}, wantErr: "encode record 1"},
		{name: "no direction", recs: []Record{noDir, good}, wantErr: `record 0: direction ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := openTemp(t).History(0)
			appendAll(t, h, good)
			before, err := os.ReadFile(h.Path())
			if err != nil {
				t.Fatal(err)
			}
			err = h.Append(context.Background(), tt.recs...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), h.Path()) {
				t.Errorf("Append() error = %v, want one naming the file and containing %q", err, tt.wantErr)
			}
			if after, _ := os.ReadFile(h.Path()); !bytes.Equal(before, after) {
				t.Errorf("a refused Append changed the file:\n%q\nwas\n%q", after, before)
			}
		})
	}
}

func TestHistoryAppendWaitsForLock(t *testing.T) {
	h := openTemp(t).History(0)
	// A flock belongs to an open file description, so a second open in this
	// process conflicts like another process would.
	unlock, err := lockFile(context.Background(), h.lockPath())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = h.Append(ctx, historyRecord("a@x", 0))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), h.Path()+".lock") {
		t.Errorf("Append() while locked = %v, want a deadline error naming the lock file", err)
	}
	if _, err := os.Stat(h.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Append() without the lock touched the history: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	appendAll(t, h, historyRecord("a@x", 0))
	if got, _ := scanAll(t, h); len(got) != 1 {
		t.Errorf("after the lock was released, %d records, want 1", len(got))
	}
}

func TestHistoryTornRecord(t *testing.T) {
	valid, err := json.Marshal(historyRecord("a@x", 0))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		content  string
		wantOld  int // intact records before the torn line
		tornLine int
	}{
		{name: "after a record", content: string(valid) + "\n" + string(valid[:len(valid)/2]), wantOld: 1, tornLine: 2},
		{name: "only line", content: string(valid[:10]), tornLine: 1},
		{name: "one byte", content: string(valid) + "\n" + "{", wantOld: 1, tornLine: 2},
		{name: "all but the closing brace", content: string(valid) + "\n" + string(valid[:len(valid)-1]), wantOld: 1, tornLine: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := openTemp(t).History(0)
			writeFile(t, h.Path(), tt.content)
			next := historyRecord("b@x", 1)
			appendAll(t, h, next)
			got, warnings := scanAll(t, h)
			if len(got) != tt.wantOld+1 || !reflect.DeepEqual(got[len(got)-1], next) {
				t.Errorf("Scan() = %+v, want %d old records then %+v", got, tt.wantOld, next)
			}
			want := fmt.Sprintf("history %q line %d: skipped: ", h.Path(), tt.tornLine)
			if len(warnings) != 1 || !strings.HasPrefix(warnings[0], want) {
				t.Errorf("Scan() warnings = %q, want exactly one starting %q", warnings, want)
			}
			// The torn bytes are kept on their own line, not glued to the
			// new record and not dropped.
			if l := lines(t, h.Path()); len(l) < tt.tornLine || strings.Join(l[:tt.tornLine], "") != tt.content+"\n" {
				t.Errorf("file lines = %q, want the original content kept as its own lines", l)
			}
			// The count includes only the intact records.
			fi, err := os.Stat(h.Path())
			if err != nil {
				t.Fatal(err)
			}
			if n, ok := h.readCount(fi); !ok || n != len(got) {
				t.Errorf("count file says %d (trusted %v), want %d", n, ok, len(got))
			}
		})
	}
}

func TestHistorySkipsBadLines(t *testing.T) {
	rec := func(i int) string {
		b, err := json.Marshal(historyRecord("a@x", i))
		if err != nil {
			t.Fatal(err)
		}
		return string(b) + "\n"
	}
	long := `{"dir":"in","body":"` + strings.Repeat("x", maxHistoryLine) + "\"}\n"
	tests := []struct {
		name        string
		bad         string // inserted as line 3, between records 1 and 2
		wantWarning string // "" for no warning
	}{
		{name: "garbage", bad: "garbage\n", wantWarning: "skipped: not a JSON object"},
		{name: "truncated record", bad: rec(99)[:40] + "\n", wantWarning: "skipped: unexpected end of JSON input"},
		{name: "two records on one line", bad: strings.TrimSuffix(rec(98), "\n") + rec(99), wantWarning: "skipped: invalid character"},
		{name: "array", bad: "[1,2]\n", wantWarning: "skipped: not a JSON object"},
		{name: "null", bad: "null\n", wantWarning: "skipped: not a JSON object"},
		{name: "no direction", bad: `{"account":"a@x","body":"x"}` + "\n", wantWarning: `skipped: direction ""`},
		{name: "wrong field type", bad: `{"dir":"in","time":5}` + "\n", wantWarning: "skipped: "},
		{name: "NUL bytes", bad: "\x00\x00\x00\n", wantWarning: "skipped: not a JSON object"},
		{name: "over the line limit", bad: long, wantWarning: fmt.Sprintf("skipped: line is %d bytes, more than the limit", len(long)-1)},
		{name: "blank line", bad: "\n"},
		{name: "spaces", bad: "  \t \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := openTemp(t).History(0)
			writeFile(t, h.Path(), rec(0)+rec(1)+tt.bad+rec(2)+rec(3))
			got, warnings := scanAll(t, h)
			var seqs []int
			for _, r := range got {
				seqs = append(seqs, seq(t, r))
			}
			if want := []int{0, 1, 2, 3}; !reflect.DeepEqual(seqs, want) {
				t.Errorf("Scan() records %v, want %v", seqs, want)
			}
			switch {
			case tt.wantWarning == "" && len(warnings) != 0:
				t.Errorf("Scan() warnings = %q, want none", warnings)
			case tt.wantWarning != "":
				want := fmt.Sprintf("history %q line 3: %s", h.Path(), tt.wantWarning)
				if len(warnings) != 1 || !strings.HasPrefix(warnings[0], want) {
					t.Errorf("Scan() warnings = %.300q, want one starting %q", warnings, want)
				}
			}
		})
	}
}

func TestHistoryScan(t *testing.T) {
	t.Run("missing file is empty", func(t *testing.T) {
		h := openTemp(t).History(0)
		got, warnings := scanAll(t, h)
		if len(got) != 0 || len(warnings) != 0 {
			t.Errorf("Scan() of no file = %v, %q", got, warnings)
		}
	})
	t.Run("fn error stops the scan", func(t *testing.T) {
		h := openTemp(t).History(0)
		appendAll(t, h, historyRecord("a@x", 0), historyRecord("a@x", 1), historyRecord("a@x", 2))
		stop := errors.New("stop")
		calls := 0
		_, err := h.Scan(func(Record) error { calls++; return stop })
		if err != stop || calls != 1 {
			t.Errorf("Scan() = %v after %d calls, want the fn error unchanged after 1", err, calls)
		}
	})
	t.Run("warnings are bounded", func(t *testing.T) {
		h := openTemp(t).History(0)
		writeFile(t, h.Path(), strings.Repeat("x\n", 1000))
		got, warnings := scanAll(t, h)
		wantLast := fmt.Sprintf("history %q: %d more lines skipped", h.Path(), 1000-maxHistoryWarnings)
		if len(got) != 0 || len(warnings) != maxHistoryWarnings+1 || warnings[len(warnings)-1] != wantLast {
			t.Errorf("Scan() = %d records, %d warnings ending %q; want 0, %d ending %q",
				len(got), len(warnings), warnings[len(warnings)-1], maxHistoryWarnings+1, wantLast)
		}
	})
	t.Run("ScanMatching decodes only the lines holding the needle", func(t *testing.T) {
		h := openTemp(t).History(0)
		gc := historyRecord("a@x", 1)
		gc.Type = "groupchat"
		line, _ := json.Marshal(gc)
		other, _ := json.Marshal(historyRecord("a@x", 2))
		writeFile(t, h.Path(), string(other)+"\n"+string(line)+"\ngarbage without it\n{\"type\":\"groupchat\"\n")
		var got []Record
		warnings, err := h.ScanMatching([]byte(`groupchat"`), func(r Record) error { got = append(got, r); return nil })
		if err != nil || len(got) != 1 || got[0].Type != "groupchat" || len(warnings) != 1 || !strings.Contains(warnings[0], "line 4") {
			t.Errorf("ScanMatching() = %+v, warnings %q, %v; want the group chat record and a warning for the torn line 4 only", got, warnings, err)
		}
	})
	t.Run("unreadable file is an error", func(t *testing.T) {
		h := openTemp(t).History(0)
		if err := os.Mkdir(h.Path(), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Scan(func(Record) error { return nil }); err == nil || !strings.Contains(err.Error(), h.Path()) {
			t.Errorf("Scan() of a directory = %v, want an error naming it", err)
		}
	})
}

// bound is the most records the history may hold after an Append.
func bound(limit int) int { return limit + max(limit/10, 1) }

func TestHistoryCap(t *testing.T) {
	tests := []struct {
		name  string
		max   int
		n     int // records appended
		batch int // per Append call
	}{
		{name: "max 100 one at a time", max: 100, n: 1000, batch: 1},
		{name: "max 1", max: 1, n: 30, batch: 1},
		{name: "max 7 in threes", max: 7, n: 100, batch: 3},
		{name: "one call over the cap", max: 100, n: 500, batch: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := openTemp(t).History(tt.max)
			pruned := false
			for i := 0; i < tt.n; i += tt.batch {
				var recs []Record
				for j := i; j < min(i+tt.batch, tt.n); j++ {
					recs = append(recs, historyRecord("a@x", j))
				}
				appendAll(t, h, recs...)
				ls := lines(t, h.Path())
				held := len(ls) - 1 // the file ends with a newline
				if held > bound(tt.max) {
					t.Fatalf("after appending %d records the file holds %d, more than %d", i+len(recs), held, bound(tt.max))
				}
				if held < i+len(recs) {
					pruned = true
				}
			}
			if !pruned {
				t.Fatal("never pruned")
			}
			checkNewest(t, h, tt.n-1)
		})
	}
}

// checkNewest checks that h holds at least its cap of records, at most the
// bound, consecutive and ending with record last.
func checkNewest(t *testing.T, h *History, last int) {
	t.Helper()
	got, warnings := scanAll(t, h)
	if len(warnings) != 0 {
		t.Errorf("Scan() warnings = %q", warnings)
	}
	if len(got) < h.Max() || len(got) > bound(h.Max()) {
		t.Fatalf("Scan() = %d records, want %d to %d", len(got), h.Max(), bound(h.Max()))
	}
	for i, r := range got {
		if want := last - len(got) + 1 + i; seq(t, r) != want {
			t.Fatalf("record %d is %d, want %d (the newest, in order)", i, seq(t, r), want)
		}
	}
}

func TestHistoryCountRecovery(t *testing.T) {
	const limit = 100
	tests := []struct {
		name   string
		damage func(t *testing.T, h *History, before []byte) // before: the count file one Append earlier
	}{
		{name: "missing", damage: func(t *testing.T, h *History, _ []byte) {
			if err := os.Remove(h.countPath()); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "garbage", damage: func(t *testing.T, h *History, _ []byte) { writeFile(t, h.countPath(), "{x") }},
		{name: "empty", damage: func(t *testing.T, h *History, _ []byte) { writeFile(t, h.countPath(), "") }},
		// As if the process died between the append and the count update.
		{name: "stale", damage: func(t *testing.T, h *History, before []byte) { writeFile(t, h.countPath(), string(before)) }},
		// As if the file was replaced by a rewrite of the same size.
		{name: "other file", damage: func(t *testing.T, h *History, _ []byte) {
			data, err := os.ReadFile(h.Path())
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, h.Path()+".new", string(data))
			if err := os.Rename(h.Path()+".new", h.Path()); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := openTemp(t).History(limit)
			// Fill to exactly the bound: one more record must prune.
			for i := range bound(limit) - 1 {
				appendAll(t, h, historyRecord("a@x", i))
			}
			before, err := os.ReadFile(h.countPath())
			if err != nil {
				t.Fatal(err)
			}
			appendAll(t, h, historyRecord("a@x", bound(limit)-1))
			tt.damage(t, h, before)
			// A tmp left by a rewrite that crashed goes with the recount.
			tmp := filepath.Join(h.s.Dir(), ".history.jsonl-123.tmp")
			writeFile(t, tmp, "partial")

			appendAll(t, h, historyRecord("a@x", bound(limit)))
			got, _ := scanAll(t, h)
			if len(got) != limit {
				t.Errorf("after recovery and one more Append, %d records, want exactly %d (pruned)", len(got), limit)
			}
			checkNewest(t, h, bound(limit))
			if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("leftover temp file not removed: %v", err)
			}
			fi, err := os.Stat(h.Path())
			if err != nil {
				t.Fatal(err)
			}
			if n, ok := h.readCount(fi); !ok || n != limit {
				t.Errorf("count file says %d (trusted %v), want %d", n, ok, limit)
			}
		})
	}
}

func TestHistoryRewrite(t *testing.T) {
	tests := []struct {
		name        string
		content     func(t *testing.T) string // nil: no file
		keep        func(Record) bool
		wantRemoved int
		wantSeqs    []int
		wantSame    bool // file left as it was
	}{
		{
			name:        "drops matching",
			keep:        func(r Record) bool { return r.Peer != "b@x" },
			wantRemoved: 3,
			wantSeqs:    []int{0, 2, 4},
		},
		{name: "keeps all", keep: func(Record) bool { return true }, wantSeqs: []int{0, 1, 2, 3, 4, 5}, wantSame: true},
		{name: "drops all", keep: func(Record) bool { return false }, wantRemoved: 6, wantSeqs: []int{}},
		{
			name: "drops unreadable lines",
			content: func(t *testing.T) string {
				b, _ := json.Marshal(historyRecord("a@x", 0))
				return "garbage\n" + string(b) + "\n" + string(b[:20])
			},
			keep:     func(Record) bool { return true },
			wantSeqs: []int{0},
		},
		{name: "no file", content: func(*testing.T) string { return "" }, keep: func(Record) bool { return false }, wantSeqs: []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			h := s.History(0)
			switch {
			case tt.content == nil:
				for i := range 6 {
					peer := "a@x"
					if i%2 == 1 {
						peer = "b@x"
					}
					appendAll(t, h, historyRecord(peer, i))
				}
			case tt.content(t) != "":
				writeFile(t, h.Path(), tt.content(t))
			}
			before, _ := os.Stat(h.Path())
			tmp := filepath.Join(s.Dir(), ".history.jsonl-456.tmp")
			writeFile(t, tmp, "partial")

			removed, err := h.Rewrite(context.Background(), tt.keep)
			if err != nil || removed != tt.wantRemoved {
				t.Errorf("Rewrite() = %d, %v; want %d, nil", removed, err, tt.wantRemoved)
			}
			got, warnings := scanAll(t, h)
			seqs := []int{}
			for _, r := range got {
				seqs = append(seqs, seq(t, r))
			}
			if !reflect.DeepEqual(seqs, tt.wantSeqs) || len(warnings) != 0 {
				t.Errorf("after Rewrite() records %v warnings %q, want %v and none", seqs, warnings, tt.wantSeqs)
			}
			after, err := os.Stat(h.Path())
			if before == nil {
				if !errors.Is(err, os.ErrNotExist) {
					t.Errorf("Rewrite() of no history created one: %v", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if after.Mode() != 0o600 {
					t.Errorf("mode after Rewrite() = %v, want 0600", after.Mode())
				}
				if same := os.SameFile(before, after); same != tt.wantSame {
					t.Errorf("file replaced = %v, want %v", !same, !tt.wantSame)
				}
				if n, ok := h.readCount(after); !ok || n != len(tt.wantSeqs) {
					t.Errorf("count file says %d (trusted %v), want %d", n, ok, len(tt.wantSeqs))
				}
			}
			for _, name := range dirNames(t, s.Dir()) {
				if strings.HasSuffix(name, ".tmp") {
					t.Errorf("temp file %s left behind", name)
				}
			}
		})
	}
	t.Run("nil keep", func(t *testing.T) {
		if _, err := openTemp(t).History(0).Rewrite(context.Background(), nil); err == nil {
			t.Error("Rewrite(nil) succeeded")
		}
	})
}

func TestHistoryConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 10 processes")
	}
	const n = 10
	s := openTemp(t)
	runHelpersAtOnce(t, n, "history", s.Dir())
	got, warnings := scanAll(t, s.History(0))
	if len(got) != n*helperAppends || len(warnings) != 0 {
		t.Errorf("Scan() = %d records, warnings %q; want %d and none", len(got), warnings, n*helperAppends)
	}
	// Each helper's records are all there, whole and in its order.
	next := map[string]int{}
	for _, r := range got {
		if want := historyRecord(r.Peer, next[r.Peer]); !reflect.DeepEqual(r, want) {
			t.Fatalf("record %+v, want %+v", r, want)
		}
		next[r.Peer]++
	}
	for i := range n {
		if peer := fmt.Sprintf("peer%02d@example.com", i); next[peer] != helperAppends {
			t.Errorf("%s: %d records, want %d", peer, next[peer], helperAppends)
		}
	}
	fi, err := os.Stat(s.History(0).Path())
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := s.History(0).readCount(fi); !ok || c != n*helperAppends {
		t.Errorf("count file says %d (trusted %v), want %d", c, ok, n*helperAppends)
	}
}

// FuzzHistoryScan checks that no file content makes Scan panic, fail, return
// a record that does not encode, or return unbounded warnings. (Append after
// a torn line is covered by TestHistoryTornRecord: an fsync per input would
// slow the fuzzer to a crawl.)
func FuzzHistoryScan(f *testing.F) {
	valid, err := json.Marshal(historyRecord("a@x/r", 0))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"",
		string(valid) + "\n",
		string(valid) + "\n" + string(valid[:30]),
		"garbage\n" + string(valid) + "\n\n",
		`{"dir":"out","time":"0000-01-01T00:00:00-01:00"}` + "\n",
		`{"dir":"in","time":"9999-12-31T23:59:59+23:59","body":"\u0000\ud800"}` + "\n",
		`{"dir":"in","dir":"x"}` + "\n" + `{"dir":"x","dir":"in"}`,
		"\r\n\x00{\n}",
		`{"dir":"in","account":null,"unknown":[1,{"a":2}]}`,
	} {
		f.Add([]byte(seed))
	}
	// One directory for all inputs: a fuzz worker runs them one at a time,
	// and a fresh directory per input would dominate the cost.
	s, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	h := s.History(0)
	f.Fuzz(func(t *testing.T, data []byte) {
		writeFile(t, h.Path(), string(data))
		lines := bytes.Count(data, []byte{'\n'}) + 1
		n := 0
		warnings, err := h.Scan(func(r Record) error {
			n++
			if r.Dir != DirIn && r.Dir != DirOut {
				t.Errorf("Scan() returned a record with direction %q", r.Dir)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Errorf("Scan() returned a record that does not encode: %v: %+v", err, r)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Scan() error = %v", err)
		}
		if len(warnings) > maxHistoryWarnings+1 {
			t.Errorf("%d warnings, more than the bound", len(warnings))
		}
		if n+min(len(warnings), maxHistoryWarnings) > lines {
			t.Errorf("%d records and %d warnings from %d lines", n, len(warnings), lines)
		}
	})
}

// FuzzDecodeRecord checks that the fast path of the line decoder, whenever
// it accepts a line, gives exactly what encoding/json gives, and that it
// accepts what Append writes.
func FuzzDecodeRecord(f *testing.F) {
	full := historyRecord("juliet@example.com/balcony", 7)
	full.Dir, full.OriginID, full.Parent, full.Subject, full.ChatState, full.InReplyTo, full.Error =
		DirOut, "o", "p", "s\tt", "active", "m0", "item-not-found"
	full.Body = "line\nline \"quoted\" \\ / <&> é 😀 \x00\u2028"
	for _, r := range []Record{full, historyRecord("a@x", 0), {Dir: DirIn}} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r); err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}))
	}
	for _, seed := range []string{
		`{"dir":"in","body":"a\/b\b\f\r"}`,
		`{"dir":"in","Dir":"out"}`,
		`{"dir":"in","time":"2025-03-01T12:00:00.5+05:30","time":"2025-03-01T12:00:00Z"}`,
		`{"dir":"in","time":"2025-03-01T12:00:00\u005a"}`,
		`{"dir":"in","body":"\u00e9\ud83d\ude00"}`,
		`{"dir":"in"} `,
		`{"dir":"in",}`,
		`{"dir":"in","id":null}`,
		"{\"dir\":\"in\",\"body\":\"\xff\xed\xa0\x80\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		fast, ok := decodeRecordFast(line)
		var slow Record
		err := json.Unmarshal(line, &slow)
		if ok && (err != nil || !reflect.DeepEqual(fast, slow)) {
			t.Fatalf("fast path %+v, encoding/json %+v, %v", fast, slow, err)
		}
		// What Append writes always takes the fast path.
		if err == nil && slow.Time.Year() >= 0 && slow.Time.Year() <= 9999 {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if enc.Encode(slow) == nil {
				again, ok := decodeRecordFast(bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}))
				if !ok && !bytes.Contains(buf.Bytes(), []byte(`\u`)) {
					t.Errorf("fast path refused a line as Append writes it: %s", buf.Bytes())
				}
				if ok && !reflect.DeepEqual(again, slow) {
					t.Errorf("fast path decodes %s as %+v, want %+v", buf.Bytes(), again, slow)
				}
			}
		}
	})
}

func BenchmarkHistoryScan100k(b *testing.B) {
	const n = 100_000
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	h := s.History(0)
	batch := make([]Record, 0, 1000)
	for i := range n {
		r := historyRecord(fmt.Sprintf("peer%03d@example.com/laptop", i%200), i)
		r.OriginID = fmt.Sprintf("0d5a8c3e-%012d", i)
		r.Body = fmt.Sprintf("message %d: %s", i, strings.Repeat("lorem ipsum dolor sit amet ", 4))
		if i%2 == 0 {
			r.Dir, r.ChatState = DirOut, "active"
		}
		batch = append(batch, r)
		if len(batch) == cap(batch) {
			if err := h.Append(context.Background(), batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	fi, err := os.Stat(h.Path())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	for b.Loop() {
		got := 0
		warnings, err := h.Scan(func(Record) error { got++; return nil })
		if err != nil || len(warnings) != 0 || got != n {
			b.Fatalf("Scan() = %d records, %q, %v", got, warnings, err)
		}
	}
}
