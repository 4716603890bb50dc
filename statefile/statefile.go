package statefile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// MaxConversations bounds the conversations kept per account. Any peer can
// start a conversation by sending one message, so without a cap a flood of
// senders would grow the file without limit.
const MaxConversations = 10000

const (
	stateName = "state.json"
	lockName  = stateName + ".lock"
)

// CorruptError reports a state file that cannot be used: not JSON, no
// version, or not matching the schema. It is never repaired automatically.
type CorruptError struct {
	Path string // empty when the data did not come from a file
	Err  error
}

func (e *CorruptError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("state file is corrupt: %v", e.Err)
	}
	return fmt.Sprintf("state file %q is corrupt: %v", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// VersionError reports a state file written by a newer jab. It is refused,
// not rewritten, so that an older jab cannot drop what a newer one stored.
type VersionError struct {
	Path      string // empty when the data did not come from a file
	Found     int
	Supported int
}

func (e *VersionError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("state file has version %d, this jab understands up to %d", e.Found, e.Supported)
	}
	return fmt.Sprintf("state file %q has version %d, this jab understands up to %d", e.Path, e.Found, e.Supported)
}

// Store is a state directory. It holds no open files or locks between calls,
// so it may be shared freely.
type Store struct {
	dir string
}

// Open returns the store in dir, creating the directory with mode 0700 if it
// does not exist. An existing directory is used as it is: changing the
// permissions of a directory the user made is not our call. A directory
// that belongs to another user is refused (a *ForeignDirError): whoever
// owns it could change the locks and threads, or plant the hand-off
// socket, under us.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("open state directory: empty path")
	}
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open state directory %q: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open state directory %q: %w", dir, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return nil, &ForeignDirError{Dir: dir, UID: int(st.Uid)}
	}
	return &Store{dir: dir}, nil
}

// ForeignDirError: the state directory belongs to another user.
type ForeignDirError struct {
	Dir string
	UID int
}

func (e *ForeignDirError) Error() string {
	return fmt.Sprintf("state directory %q belongs to uid %d, not to us (uid %d)", e.Dir, e.UID, os.Getuid())
}

// DefaultDir returns $XDG_STATE_HOME/jab, or $HOME/.local/state/jab when
// XDG_STATE_HOME is unset. The environment is read through getenv so callers
// and tests control it. The XDG Base Directory specification says a relative
// XDG_STATE_HOME is invalid and must be ignored; a relative HOME is refused,
// since the directory would then depend on the working directory.
func DefaultDir(getenv func(string) string) (string, error) {
	if x := getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "jab"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("find state directory: neither XDG_STATE_HOME nor HOME is set")
	}
	if !filepath.IsAbs(home) {
		return "", fmt.Errorf("find state directory: HOME %q is not an absolute path", home)
	}
	return filepath.Join(home, ".local", "state", "jab"), nil
}

// Dir returns the state directory.
func (s *Store) Dir() string { return s.dir }

// Path returns the path of the state file.
func (s *Store) Path() string { return filepath.Join(s.dir, stateName) }

// Stat describes the current state file. Every write renames a new file
// into place, so os.SameFile on two results tells whether anyone wrote in
// between; it is nil when there is no file yet.
func (s *Store) Stat() os.FileInfo {
	fi, err := os.Stat(s.Path())
	if err != nil {
		return nil
	}
	return fi
}

func (s *Store) lockPath() string { return filepath.Join(s.dir, lockName) }

// Decode parses the content of a state file. Errors are *CorruptError or
// *VersionError with an empty Path. The result has non-nil maps and no nil
// entries, so callers need no nil checks.
func Decode(data []byte) (*State, error) {
	return decode("", data)
}

func decode(path string, data []byte) (*State, error) {
	corrupt := func(err error) error { return &CorruptError{Path: path, Err: err} }
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, corrupt(errors.New("file is empty"))
	}
	// The version is read on its own first: a newer schema may have changed
	// other fields' types, and that must read as "too new", not "corrupt".
	var header struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &header); err != nil {
		return nil, corrupt(err)
	}
	switch {
	case header.Version == nil:
		return nil, corrupt(errors.New("no version field"))
	case *header.Version > Version:
		return nil, &VersionError{Path: path, Found: *header.Version, Supported: Version}
	case *header.Version < 1:
		// No jab ever wrote a version below 1.
		return nil, corrupt(fmt.Errorf("invalid version %d", *header.Version))
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, corrupt(err)
	}
	st.normalize()
	return &st, nil
}

// normalize gives st non-nil maps and drops nil entries, which JSON null
// values or a hand-edited file can produce.
func (st *State) normalize() {
	if st.Accounts == nil {
		st.Accounts = map[string]*Account{}
	}
	for jid, a := range st.Accounts {
		if a == nil {
			delete(st.Accounts, jid)
			continue
		}
		if a.Conversations == nil {
			a.Conversations = map[string]*Conversation{}
		}
		for peer, c := range a.Conversations {
			if c == nil {
				delete(a.Conversations, peer)
			}
		}
		if a.Threads == nil {
			a.Threads = map[string]*Thread{}
		}
		for id, th := range a.Threads {
			if th == nil {
				delete(a.Threads, id)
			}
		}
		for peer, p := range a.OpenPGP {
			if p == nil {
				delete(a.OpenPGP, peer)
			}
		}
	}
}

// encode is the one serialisation of State, shared by Update and the tests.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// JIDs and thread IDs are more readable unescaped; the file is never
	// embedded in HTML.
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil { // Encode adds the trailing newline
		return nil, err
	}
	return buf.Bytes(), nil
}

func newState() *State {
	return &State{Version: Version, Accounts: map[string]*Account{}}
}

// Load reads the state without locking: the file is only ever replaced by
// rename, so it is always complete. A missing file is an empty state.
func (s *Store) Load() (*State, error) {
	path := s.Path()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state file %q: %w", path, err)
	}
	return decode(path, data)
}

// Update applies fn to the current state and writes the result, holding the
// writers' lock from the read to the write so no concurrent change is lost.
// It waits for the lock until ctx is done.
//
// If the file is corrupt or too new, Update returns that error and writes
// nothing. If fn returns an error, Update writes nothing and returns the error
// unchanged. Otherwise every account is pruned to MaxConversations and the
// state is written atomically; the returned state is what was written.
func (s *Store) Update(ctx context.Context, fn func(*State) error) (_ *State, err error) {
	if fn == nil {
		return nil, fmt.Errorf("update state file %q: nil function", s.Path())
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if uerr := unlock(); uerr != nil && err == nil {
			err = uerr
		}
	}()
	s.removeStaleTemps(time.Now())

	st, err := s.Load()
	if err != nil {
		return nil, err
	}
	if err := fn(st); err != nil {
		return nil, err
	}
	// fn may have set the version to anything or left nil entries; what is
	// written must decode again.
	st.Version = Version
	st.normalize()
	for _, a := range st.Accounts {
		a.Prune(MaxConversations)
	}
	data, err := encode(st)
	if err != nil {
		return nil, fmt.Errorf("encode state file %q: %w", s.Path(), err)
	}
	durable, err := replaceFile(s.Path(), writeData(data))
	if err != nil {
		return nil, err
	}
	if err := syncNowOrLater(ctx, durable); err != nil {
		return nil, err
	}
	return st, nil
}

// Account returns the entry for the account with bare JID jid, creating it
// (and the Accounts map) if missing, with non-nil Conversations and Threads
// maps, so callers can write through it.
func (st *State) Account(jid string) *Account {
	if st.Accounts == nil {
		st.Accounts = map[string]*Account{}
	}
	a := st.Accounts[jid]
	if a == nil {
		a = &Account{}
		st.Accounts[jid] = a
	}
	if a.Conversations == nil {
		a.Conversations = map[string]*Conversation{}
	}
	if a.Threads == nil {
		a.Threads = map[string]*Thread{}
	}
	return a
}

// Conversation returns the conversation with peer, or nil if there is none.
// It does not create one: whether a conversation starts is for the rules in
// package session to decide.
func (a *Account) Conversation(peer string) *Conversation {
	if a == nil {
		return nil
	}
	return a.Conversations[peer]
}

// Prune drops the least recently active conversations until at most max
// remain and returns how many it dropped. Ties in LastActivity are broken by
// peer (the map key) so the result does not depend on map order.
func (a *Account) Prune(limit int) int {
	if a == nil {
		return 0
	}
	excess := len(a.Conversations) - max(limit, 0)
	if excess <= 0 {
		return 0
	}
	peers := make([]string, 0, len(a.Conversations))
	for peer := range a.Conversations {
		peers = append(peers, peer)
	}
	sort.Slice(peers, func(i, j int) bool {
		ti, tj := lastActivity(a.Conversations[peers[i]]), lastActivity(a.Conversations[peers[j]])
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return peers[i] < peers[j]
	})
	for _, peer := range peers[:excess] {
		delete(a.Conversations, peer)
	}
	return excess
}

// lastActivity treats a nil entry as the oldest, so it is pruned first.
func lastActivity(c *Conversation) time.Time {
	if c == nil {
		return time.Time{}
	}
	return c.LastActivity
}

// staleTempAge is how old an observer temp file must be before Update removes
// it: observer writes take no lock, and a write takes milliseconds, so a file
// this old belongs to a process that died mid-write.
const staleTempAge = time.Minute

// removeStaleTemps deletes temp files left by crashed writers. It must be
// called with the lock held: then no state write is in progress, so every
// .state-*.tmp is garbage. Failures are ignored; a leftover temp file is
// harmless and the next Update tries again.
func (s *Store) removeStaleTemps(now time.Time) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".tmp") || e.IsDir() {
			continue
		}
		switch {
		case strings.HasPrefix(name, ".state-"):
		case strings.HasPrefix(name, ".observer-"), strings.HasPrefix(name, ".fast-"):
			info, err := e.Info()
			if err != nil || now.Sub(info.ModTime()) < staleTempAge {
				continue
			}
		default:
			continue
		}
		_ = os.Remove(filepath.Join(s.dir, name))
	}
}
