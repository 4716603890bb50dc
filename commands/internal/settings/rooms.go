package settings

import (
	"fmt"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/jab-xmpp/jab/commands/internal/suggest"
	"github.com/jab-xmpp/jab/session"
)

// A Rooms option (Kind Rooms) lists group chat rooms. In the config file
// it is either an array of room JIDs, each joined by listen:
//
//	rooms = ["team@conference.example.org"]
//
// or a table of rooms, keyed by room JID, each with settings of its own:
//
//	[accounts.work.rooms."team@conference.example.org"]
//	nick = "ci"
//	password_file = "~/.config/jab/team.pw"
//	autojoin = false
//
// In the environment it is a comma-separated list of room JIDs.

// Room is one room of a Rooms option.
type Room struct {
	JID          string // the room's bare JID, as written
	Nick         string // "" for the account's
	PasswordFile string // an absolute path, or ""
	PasswordCmd  string
	Autojoin     bool   // listen joins it when no --room is given
	Source       string // where its table is, for 'jab config show' and errors; "" outside the config file
}

// The keys of a room's table.
const (
	roomNick         = "nick"
	roomPasswordFile = "password_file"
	roomPasswordCmd  = "password_cmd"
	roomAutojoin     = "autojoin"
)

var roomKeys = []string{roomNick, roomPasswordFile, roomPasswordCmd, roomAutojoin}

// roomsValue checks a Rooms option's value in the config file at path.
func roomsValue(path string, key toml.Key, v any, home string) ([]Room, error) {
	room := func(s string, k toml.Key) error {
		if _, err := session.ParseRoom(s); err != nil {
			return Errorf("a room looks like team@conference.example.org", "config file %q: %s: %v", path, k.String(), err)
		}
		return nil
	}
	switch x := v.(type) {
	case []any:
		out := make([]Room, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, Errorf("", "config file %q: %s must be an array of room JIDs or a table of rooms, not an array holding %s", path, key.String(), tomlTypeName(e))
			}
			if err := room(s, key); err != nil {
				return nil, err
			}
			out[i] = Room{JID: s, Autojoin: true}
		}
		return out, nil
	case map[string]any:
		names := make([]string, 0, len(x))
		for n := range x {
			names = append(names, n)
		}
		sort.Strings(names)
		out := make([]Room, 0, len(x))
		for _, n := range names {
			k := append(append(toml.Key{}, key...), n)
			if err := room(n, k); err != nil {
				return nil, err
			}
			t, ok := x[n].(map[string]any)
			if !ok {
				return nil, Errorf(`write each room as a table, e.g. [rooms."team@conference.example.org"]`, "config file %q: %s must be a table, not %s", path, k.String(), tomlTypeName(x[n]))
			}
			r, err := roomTable(path, k, n, t, home)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	}
	return nil, Errorf("", "config file %q: %s must be an array of room JIDs or a table of rooms, not %s", path, key.String(), tomlTypeName(v))
}

// roomTable checks one room's table.
func roomTable(path string, key toml.Key, jid string, t map[string]any, home string) (Room, error) {
	r := Room{JID: jid, Autojoin: true, Source: fmt.Sprintf("config %s [%s]", path, key.String())}
	for k, v := range t {
		kk := append(append(toml.Key{}, key...), k)
		if k == roomAutojoin {
			b, ok := v.(bool)
			if !ok {
				return Room{}, Errorf("", "config file %q: %s must be a boolean (true or false), not %s", path, kk.String(), tomlTypeName(v))
			}
			r.Autojoin = b
			continue
		}
		s, ok := v.(string)
		switch {
		case k != roomNick && k != roomPasswordFile && k != roomPasswordCmd:
			hint := "a room's table holds " + strings.Join(roomKeys, ", ")
			if m := suggest.Closest(roomKeys, k); m != "" {
				hint = fmt.Sprintf("did you mean %q?", m)
			}
			return Room{}, Errorf(hint, "config file %q: unknown key %q", path, kk.String())
		case !ok:
			return Room{}, Errorf("", "config file %q: %s must be a string, not %s", path, kk.String(), tomlTypeName(v))
		case k == roomNick:
			if err := session.CheckNick(s); err != nil {
				return Room{}, Errorf("", "config file %q: %s: %v", path, kk.String(), err)
			}
			r.Nick = s
		case k == roomPasswordFile:
			r.PasswordFile = filePath(path, s, home)
		case k == roomPasswordCmd:
			r.PasswordCmd = s
		}
	}
	if r.PasswordFile != "" && r.PasswordCmd != "" {
		return Room{}, Errorf("give one room password source", "config file %q: [%s] has both password_file and password_cmd", path, key.String())
	}
	return r, nil
}

// holdsRoomCommand tells whether a room table of the file names a
// command (password_cmd).
func (f *File) holdsRoomCommand() bool {
	layers := []map[string]any{f.Top}
	for _, t := range f.Accounts {
		layers = append(layers, t)
	}
	for _, l := range layers {
		for _, v := range l {
			if rooms, ok := v.([]Room); ok {
				for _, r := range rooms {
					if r.PasswordCmd != "" {
						return true
					}
				}
			}
		}
	}
	return false
}

// Room is the config file's table for the room with bare JID room: in the
// selected account table, else at the top level. ok is false when neither
// has one (a room of an array has no settings).
func (s *Settings) Room(room string) (r Room, ok bool) {
	want, err := session.ParseRoom(room)
	if err != nil {
		return Room{}, false
	}
	for _, l := range s.configLayers() {
		for _, o := range s.layers.Options {
			rooms, _ := l.values[Key(o.Name)].([]Room)
			for _, r := range rooms {
				if j, err := session.ParseRoom(r.JID); err == nil && j.Bare() == want.Bare() && r.Source != "" {
					return r, true
				}
			}
		}
	}
	return Room{}, false
}
