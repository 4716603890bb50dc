package statefile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const validFile = `{
  "version": 1,
  "accounts": {
    "me@example.net": {
      "resource": "jab-abc",
      "conversations": {
        "juliet@example.com": {
          "peer": "juliet@example.com",
          "locked_to": "juliet@example.com/balcony",
          "lock_kind": "message",
          "locked_at": "2025-03-01T12:00:00Z",
          "thread": "t1",
          "peer_threaded": true,
          "last_activity": "2025-03-01T12:00:00Z"
        }
      }
    }
  }
}
`

func TestDecode(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		want        *State // checked when non-nil
		wantCorrupt bool
		wantVersion int // Found of the expected *VersionError
	}{
		{
			name: "valid",
			in:   validFile,
			want: &State{Version: 1, Accounts: map[string]*Account{
				"me@example.net": {Resource: "jab-abc", Conversations: map[string]*Conversation{
					"juliet@example.com": {
						Peer: "juliet@example.com", LockedTo: "juliet@example.com/balcony",
						LockKind: LockMessage, LockedAt: t0, Thread: "t1", PeerThreaded: true,
						LastActivity: t0,
					},
				}, Threads: map[string]*Thread{}},
			}},
		},
		{name: "minimal", in: `{"version":1}`, want: &State{Version: 1, Accounts: map[string]*Account{}}},
		{
			// Issue 12: the catch-up position; files without it (every
			// case above) stay valid.
			name: "archive position",
			in:   `{"version":1,"accounts":{"a@x":{"archive_last":"5f2c"}}}`,
			want: &State{Version: 1, Accounts: map[string]*Account{
				"a@x": {ArchiveLast: "5f2c", Conversations: map[string]*Conversation{}, Threads: map[string]*Thread{}},
			}},
		},
		{name: "corrupt", in: `{"version":1,`, wantCorrupt: true},
		{name: "truncated", in: validFile[:len(validFile)/2], wantCorrupt: true},
		{name: "trailing garbage", in: `{"version":1} x`, wantCorrupt: true},
		{name: "empty", in: ``, wantCorrupt: true},
		{name: "whitespace only", in: " \n\t ", wantCorrupt: true},
		{name: "not an object", in: `[1,2]`, wantCorrupt: true},
		{name: "null", in: `null`, wantCorrupt: true},
		{name: "missing version", in: `{"accounts":{}}`, wantCorrupt: true},
		{name: "version zero", in: `{"version":0}`, wantCorrupt: true},
		{name: "negative version", in: `{"version":-3}`, wantCorrupt: true},
		{name: "version not a number", in: `{"version":"1"}`, wantCorrupt: true},
		{name: "schema mismatch", in: `{"version":1,"accounts":[]}`, wantCorrupt: true},
		{name: "newer version", in: `{"version":7,"accounts":{}}`, wantVersion: 7},
		// A newer schema may change field types; that is "too new", not corrupt.
		{name: "newer version other schema", in: `{"version":2,"accounts":"elsewhere"}`, wantVersion: 2},
		{
			name: "nil entries",
			in:   `{"version":1,"accounts":{"a@x":null,"b@x":{"conversations":{"c@x":null,"d@x":{"peer":"d@x"}}},"e@x":{}}}`,
			want: &State{Version: 1, Accounts: map[string]*Account{
				"b@x": {Conversations: map[string]*Conversation{"d@x": {Peer: "d@x"}}, Threads: map[string]*Thread{}},
				"e@x": {Conversations: map[string]*Conversation{}, Threads: map[string]*Thread{}},
			}},
		},
		{
			name: "threads",
			in:   `{"version":1,"accounts":{"a@x":{"threads":{"t1":null,"t2":{"id":"t2","parent":"t1","peer":"b@x","type":"chat","count":3,"first":"2025-03-01T12:00:00Z","closed":true}},"conversations":null}}}`,
			want: &State{Version: 1, Accounts: map[string]*Account{
				"a@x": {Conversations: map[string]*Conversation{}, Threads: map[string]*Thread{
					"t2": {ID: "t2", Parent: "t1", Peer: "b@x", Type: "chat", Count: 3, First: t0, Closed: true},
				}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in))
			var ce *CorruptError
			var ve *VersionError
			switch {
			case tt.wantCorrupt:
				if !errors.As(err, &ce) {
					t.Fatalf("Decode() error = %v, want *CorruptError", err)
				}
				if ce.Err == nil || errors.Unwrap(err) != ce.Err {
					t.Errorf("CorruptError does not unwrap to its cause: %#v", ce)
				}
			case tt.wantVersion != 0:
				if !errors.As(err, &ve) {
					t.Fatalf("Decode() error = %v, want *VersionError", err)
				}
				if ve.Found != tt.wantVersion || ve.Supported != Version {
					t.Errorf("VersionError = %+v, want Found %d Supported %d", ve, tt.wantVersion, Version)
				}
			default:
				if err != nil {
					t.Fatalf("Decode() error = %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Decode() =\n%s\nwant\n%s", mustEncode(t, got), mustEncode(t, tt.want))
				}
			}
			if err != nil && got != nil {
				t.Errorf("Decode() returned a state with error %v", err)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{
			name: "version",
			err:  &VersionError{Path: "/x/state.json", Found: 7, Supported: 1},
			want: `state file "/x/state.json" has version 7, this jab understands up to 1`,
		},
		{
			name: "corrupt",
			err:  &CorruptError{Path: "/x/state.json", Err: errors.New("unexpected end of JSON input")},
			want: `state file "/x/state.json" is corrupt: unexpected end of JSON input`,
		},
		{
			name: "corrupt without path",
			err:  &CorruptError{Err: errors.New("file is empty")},
			want: `state file is corrupt: file is empty`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		content *string // nil: no file
		check   func(t *testing.T, path string, st *State, err error)
	}{
		{
			name: "missing file is empty state",
			check: func(t *testing.T, path string, st *State, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if want := newState(); !reflect.DeepEqual(st, want) {
					t.Errorf("Load() = %+v, want %+v", st, want)
				}
			},
		},
		{
			name:    "corrupt names the path",
			content: ptr("{oops"),
			check: func(t *testing.T, path string, st *State, err error) {
				var ce *CorruptError
				if !errors.As(err, &ce) || ce.Path != path {
					t.Fatalf("Load() error = %#v, want *CorruptError with Path %q", err, path)
				}
				if want := fmt.Sprintf("state file %q is corrupt: ", path); !strings.HasPrefix(err.Error(), want) {
					t.Errorf("Load() error = %q, want prefix %q", err, want)
				}
			},
		},
		{
			name:    "newer version names the path",
			content: ptr(`{"version":7}`),
			check: func(t *testing.T, path string, st *State, err error) {
				want := fmt.Sprintf("state file %q has version 7, this jab understands up to %d", path, Version)
				if err == nil || err.Error() != want {
					t.Fatalf("Load() error = %v, want %q", err, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			if tt.content != nil {
				writeFile(t, s.Path(), *tt.content)
			}
			st, err := s.Load()
			tt.check(t, s.Path(), st, err)
		})
	}
}

func TestOpenPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "jab")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(context.Background(), addConversation("me@example.net", "juliet@example.com")); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		dir:                    os.ModeDir | 0o700,
		s.Path():               0o600,
		s.Path() + ".lock":     0o600,
		filepath.Dir(s.Path()): os.ModeDir | 0o700,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("mode of %s = %v, want %v", path, fi.Mode(), want)
		}
	}

	// An existing directory is used as it is, not chmodded and not refused.
	existing := t.TempDir()
	if err := os.Chmod(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(existing); err != nil {
		t.Errorf("Open(existing 0755 dir) = %v", err)
	}
	if fi, _ := os.Stat(existing); fi.Mode().Perm() != 0o755 {
		t.Errorf("Open changed mode of existing dir to %v", fi.Mode().Perm())
	}

	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, "")
	if _, err := Open(file); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("Open(regular file) error = %v, want one naming %q", err, file)
	}
}

func TestUpdate(t *testing.T) {
	errFn := errors.New("fn failed")
	tests := []struct {
		name    string
		initial *string // nil: no state file
		fn      func(*State) error
		wantErr func(error) bool // nil: success expected
		// unchanged: the file must be byte-for-byte what it was (or still absent).
		unchanged bool
		check     func(t *testing.T, st *State)
	}{
		{
			name: "creates file",
			fn:   addConversation("me@example.net", "juliet@example.com"),
			check: func(t *testing.T, st *State) {
				if st.Account("me@example.net").Conversation("juliet@example.com") == nil {
					t.Error("conversation not stored")
				}
			},
		},
		{
			name:    "keeps existing data",
			initial: ptr(validFile),
			fn:      addConversation("me@example.net", "romeo@example.org"),
			check: func(t *testing.T, st *State) {
				a := st.Account("me@example.net")
				if a.Resource != "jab-abc" || a.Conversation("juliet@example.com") == nil || a.Conversation("romeo@example.org") == nil {
					t.Errorf("account after update = %+v", a)
				}
			},
		},
		{
			name:      "fn error writes nothing to an existing file",
			initial:   ptr(validFile),
			fn:        func(st *State) error { delete(st.Accounts, "me@example.net"); return errFn },
			wantErr:   func(err error) bool { return err == errFn },
			unchanged: true,
		},
		{
			name:      "fn error creates no file",
			fn:        func(st *State) error { st.Account("me@example.net"); return errFn },
			wantErr:   func(err error) bool { return err == errFn },
			unchanged: true,
		},
		{
			name:      "corrupt file is left untouched",
			initial:   ptr(validFile[:100]),
			fn:        addConversation("me@example.net", "romeo@example.org"),
			wantErr:   func(err error) bool { var ce *CorruptError; return errors.As(err, &ce) },
			unchanged: true,
		},
		{
			name:      "empty file is left untouched",
			initial:   ptr(""),
			fn:        addConversation("me@example.net", "romeo@example.org"),
			wantErr:   func(err error) bool { var ce *CorruptError; return errors.As(err, &ce) },
			unchanged: true,
		},
		{
			name:      "newer file is left untouched",
			initial:   ptr(`{"version": 2, "accounts": {"me@example.net": {"future": true}}}`),
			fn:        addConversation("me@example.net", "romeo@example.org"),
			wantErr:   func(err error) bool { var ve *VersionError; return errors.As(err, &ve) },
			unchanged: true,
		},
		{
			name: "version and nil entries are fixed before writing",
			fn: func(st *State) error {
				st.Version = 99
				st.Accounts["nil@x"] = nil
				st.Account("me@example.net").Conversations["nil@x"] = nil
				return nil
			},
			check: func(t *testing.T, st *State) {
				if st.Version != Version {
					t.Errorf("Version = %d, want %d", st.Version, Version)
				}
				if _, ok := st.Accounts["nil@x"]; ok {
					t.Error("nil account written")
				}
				if _, ok := st.Account("me@example.net").Conversations["nil@x"]; ok {
					t.Error("nil conversation written")
				}
			},
		},
		{
			name: "conversations are pruned to the cap",
			fn: func(st *State) error {
				a := st.Account("me@example.net")
				for i := range MaxConversations + 3 {
					peer := fmt.Sprintf("p%05d@x", i)
					a.Conversations[peer] = &Conversation{Peer: peer, LastActivity: t0.Add(time.Duration(i) * time.Second)}
				}
				return nil
			},
			check: func(t *testing.T, st *State) {
				a := st.Account("me@example.net")
				if n := len(a.Conversations); n != MaxConversations {
					t.Errorf("%d conversations kept, want %d", n, MaxConversations)
				}
				if a.Conversation("p00002@x") != nil || a.Conversation(fmt.Sprintf("p%05d@x", MaxConversations+2)) == nil {
					t.Error("pruning dropped the wrong conversations")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			if tt.initial != nil {
				writeFile(t, s.Path(), *tt.initial)
			}
			st, err := s.Update(context.Background(), tt.fn)
			if tt.wantErr != nil {
				if err == nil || !tt.wantErr(err) {
					t.Fatalf("Update() error = %v, want the expected error", err)
				}
				if st != nil {
					t.Error("Update() returned a state with an error")
				}
			} else if err != nil {
				t.Fatalf("Update() error = %v", err)
			}

			data, rerr := os.ReadFile(s.Path())
			if tt.unchanged {
				if tt.initial == nil {
					if !errors.Is(rerr, os.ErrNotExist) {
						t.Errorf("state file exists after a failed Update: %v", rerr)
					}
				} else if rerr != nil || string(data) != *tt.initial {
					t.Errorf("state file changed: %q (%v), want %q", data, rerr, *tt.initial)
				}
			}
			if tt.wantErr == nil {
				if rerr != nil {
					t.Fatal(rerr)
				}
				// What Update returns is exactly what it wrote, in the
				// documented format.
				if want := mustEncode(t, st); !bytes.Equal(data, want) {
					t.Errorf("file content differs from returned state:\n%s\nwant\n%s", data, want)
				}
				if !bytes.HasSuffix(data, []byte("}\n")) || !bytes.HasPrefix(data, []byte("{\n  \"version\": 1,\n")) {
					t.Errorf("file not indented JSON with trailing newline:\n%.80s", data)
				}
				reloaded, err := s.Load()
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(reloaded, st) {
					t.Error("Load() after Update() differs from the returned state")
				}
				tt.check(t, st)
			}
			if got, want := dirNames(t, s.Dir()), wantNames(tt.initial != nil || tt.wantErr == nil); !reflect.DeepEqual(got, want) {
				t.Errorf("directory holds %v, want %v (no temp files)", got, want)
			}
		})
	}
}

func wantNames(stateExists bool) []string {
	if stateExists {
		return []string{"state.json", "state.json.lock"}
	}
	return []string{"state.json.lock"}
}

func TestUpdateRemovesStaleTemps(t *testing.T) {
	s := openTemp(t)
	old := time.Now().Add(-time.Hour)
	for _, name := range []string{".state-123.tmp", ".observer-abc-456.tmp", ".observer-abc-789.tmp", "notes.tmp"} {
		writeFile(t, filepath.Join(s.Dir(), name), "partial")
	}
	// Only the first observer temp is old; the second may be a write in
	// progress in a process that takes no lock.
	if err := os.Chtimes(filepath.Join(s.Dir(), ".observer-abc-456.tmp"), old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(context.Background(), addConversation("me@example.net", "juliet@example.com")); err != nil {
		t.Fatal(err)
	}
	want := []string{".observer-abc-789.tmp", "notes.tmp", "state.json", "state.json.lock"}
	if got := dirNames(t, s.Dir()); !reflect.DeepEqual(got, want) {
		t.Errorf("directory holds %v, want %v", got, want)
	}
}

func TestUpdateContext(t *testing.T) {
	s := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	_, err := s.Update(ctx, func(*State) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) || called {
		t.Errorf("Update(cancelled ctx) = %v, fn called %v; want context.Canceled and no call", err, called)
	}
	if _, err := s.Update(context.Background(), nil); err == nil {
		t.Error("Update(nil fn) succeeded")
	}
}

func TestAccountAndConversation(t *testing.T) {
	st := &State{}
	a := st.Account("me@example.net")
	if a == nil || a.Conversations == nil || a.Threads == nil || st.Accounts["me@example.net"] != a {
		t.Fatalf("Account() did not create a usable entry: %+v", st)
	}
	// An entry from an older file or a caller may lack the maps.
	st.Accounts["old@example.net"] = &Account{Resource: "r"}
	if b := st.Account("old@example.net"); b.Resource != "r" || b.Conversations == nil || b.Threads == nil {
		t.Errorf("Account() of an entry without maps = %+v, want the entry with non-nil maps", b)
	}
	if st.Account("me@example.net") != a {
		t.Error("Account() replaced an existing entry")
	}
	if a.Conversation("juliet@example.com") != nil {
		t.Error("Conversation() of a missing peer is not nil")
	}
	c := &Conversation{Peer: "juliet@example.com"}
	a.Conversations[c.Peer] = c
	if a.Conversation(c.Peer) != c {
		t.Error("Conversation() did not return the existing entry")
	}
	var none *Account
	if none.Conversation("x") != nil {
		t.Error("Conversation() on nil account is not nil")
	}
}

func TestPrune(t *testing.T) {
	conv := func(peer string, minutes int) *Conversation {
		return &Conversation{Peer: peer, LastActivity: t0.Add(time.Duration(minutes) * time.Minute)}
	}
	tests := []struct {
		name        string
		convs       []*Conversation
		limit       int
		wantDropped int
		wantKept    []string
	}{
		{
			name:        "keeps the most recent",
			convs:       []*Conversation{conv("old@x", 1), conv("new@x", 30), conv("mid@x", 10), conv("never@x", -1e6)},
			limit:       2,
			wantDropped: 2,
			wantKept:    []string{"mid@x", "new@x"},
		},
		{
			name:        "ties broken by peer",
			convs:       []*Conversation{conv("b@x", 5), conv("a@x", 5), conv("c@x", 5)},
			limit:       2,
			wantDropped: 1,
			wantKept:    []string{"b@x", "c@x"},
		},
		{
			name:     "under the limit",
			convs:    []*Conversation{conv("a@x", 1), conv("b@x", 2)},
			limit:    2,
			wantKept: []string{"a@x", "b@x"},
		},
		{
			name:        "zero drops all",
			convs:       []*Conversation{conv("a@x", 1), conv("b@x", 2)},
			limit:       0,
			wantDropped: 2,
			wantKept:    []string{},
		},
		{
			name:        "negative drops all",
			convs:       []*Conversation{conv("a@x", 1)},
			limit:       -5,
			wantDropped: 1,
			wantKept:    []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Account{Conversations: map[string]*Conversation{}}
			for _, c := range tt.convs {
				a.Conversations[c.Peer] = c
			}
			if got := a.Prune(tt.limit); got != tt.wantDropped {
				t.Errorf("Prune(%d) = %d, want %d", tt.limit, got, tt.wantDropped)
			}
			kept := []string{}
			for peer := range a.Conversations {
				kept = append(kept, peer)
			}
			sort.Strings(kept)
			if !reflect.DeepEqual(kept, tt.wantKept) {
				t.Errorf("kept %v, want %v", kept, tt.wantKept)
			}
		})
	}
}

func TestDefaultDir(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{name: "xdg", env: map[string]string{"XDG_STATE_HOME": "/s", "HOME": "/h"}, want: "/s/jab"},
		{name: "home fallback", env: map[string]string{"HOME": "/h"}, want: "/h/.local/state/jab"},
		{name: "relative xdg ignored", env: map[string]string{"XDG_STATE_HOME": "s", "HOME": "/h"}, want: "/h/.local/state/jab"},
		{name: "neither", env: map[string]string{}, wantErr: true},
		{name: "relative home", env: map[string]string{"HOME": "h"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DefaultDir(func(k string) string { return tt.env[k] })
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("DefaultDir() = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func addConversation(account, peer string) func(*State) error {
	return func(st *State) error {
		st.Account(account).Conversations[peer] = &Conversation{Peer: peer, LastActivity: t0}
		return nil
	}
}

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustEncode(t *testing.T, v any) []byte {
	t.Helper()
	data, err := encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func ptr[T any](v T) *T { return &v }

// Issue 13: a state directory of another user is refused, naming it.
func TestOpenForeignDir(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a directory to another user")
	}
	dir := filepath.Join(t.TempDir(), "foreign")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	var fe *ForeignDirError
	if !errors.As(err, &fe) || fe.Dir != dir || fe.UID != 4242 || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Open(foreign) = %v, want a ForeignDirError naming %s and uid 4242", err, dir)
	}
	if err := os.Chown(dir, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatalf("Open(our own) = %v", err)
	}
}
