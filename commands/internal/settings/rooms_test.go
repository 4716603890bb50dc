package settings

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// roomOptions are testOptions with the rooms key, the room password
// options and the nick.
var roomOptions = append(slices.Clone(testOptions),
	Option{Name: "rooms", Env: "JAB_ROOMS", Kind: Rooms},
	Option{Name: "nick", Env: "JAB_NICK"},
	Option{Name: "room-password-cmd", Env: "JAB_ROOM_PASSWORD_CMD", Command: true},
	Option{Name: "room-password-file", Env: "JAB_ROOM_PASSWORD_FILE", Path: true})

func loadRooms(t *testing.T, config string, mode int, env map[string]string) (*Settings, error) {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if mode == 0 {
		mode = 0o600
	}
	env["JAB_CONFIG"] = writeFile(t, filepath.Join(t.TempDir(), "config.toml"), config, os.FileMode(mode))
	l := testLayers(nil, env)
	l.Options = roomOptions
	return Load(l)
}

// TestRoomsConfig: rooms is an array of room JIDs (the old key, each
// joined by listen) or a table of rooms with a nick, a password source
// and autojoin of their own, in an account table or at the top level; a
// room's table is found by its bare JID, the account's first.
func TestRoomsConfig(t *testing.T) {
	s, err := loadRooms(t, `rooms = ["top@conference.example.org"]
[accounts.work]
jid = "me@example.org"
[accounts.work.rooms."Team@Conference.example.org"]
nick = "ci"
password_file = "team.pw"
[accounts.work.rooms."ops@conference.example.org"]
password_cmd = "pass ops"
autojoin = false
`, 0, map[string]string{"JAB_ACCOUNT": "work"})
	if err != nil {
		t.Fatal(err)
	}
	rooms, err := Get(s, "rooms", []Room(nil))
	if err != nil || len(rooms) != 2 || rooms[0].JID != "Team@Conference.example.org" || !rooms[0].Autojoin ||
		rooms[1].JID != "ops@conference.example.org" || rooms[1].Autojoin {
		t.Fatalf("account rooms %+v, %v", rooms, err)
	}
	r, ok := s.Room("team@conference.example.org")
	if !ok || r.Nick != "ci" || r.PasswordFile != filepath.Join(filepath.Dir(s.File().Path), "team.pw") || r.PasswordCmd != "" ||
		!strings.Contains(r.Source, `[accounts.work.rooms.'Team@Conference.example.org']`) && !strings.Contains(r.Source, `accounts.work.rooms."Team@Conference.example.org"`) {
		t.Errorf("team's table: %+v, %v", r, ok)
	}
	if r, ok := s.Room("ops@conference.example.org"); !ok || r.PasswordCmd != "pass ops" {
		t.Errorf("ops' table: %+v, %v", r, ok)
	}
	// An array gives rooms, no settings; JAB_ROOMS replaces the list
	// but not the tables.
	if _, ok := s.Room("top@conference.example.org"); ok {
		t.Error("a room of an array has a table")
	}
	s, err = loadRooms(t, `rooms = ["a@conference.example.org", "b@conference.example.org"]
[rooms2]
`, 0, nil)
	if err == nil {
		t.Fatal("an unknown top-level table was accepted")
	}
	s, err = loadRooms(t, "rooms = [\"a@conference.example.org\"]\n[accounts.w.rooms.\"b@c.example.org\"]\nnick = \"n\"\n", 0,
		map[string]string{"JAB_ACCOUNT": "w", "JAB_ROOMS": "x@c.example.org, y@c.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if rooms, _ := Get(s, "rooms", []Room(nil)); len(rooms) != 2 || rooms[1].JID != "y@c.example.org" || !rooms[1].Autojoin {
		t.Errorf("JAB_ROOMS: %+v", rooms)
	}
	if r, ok := s.Room("b@c.example.org"); !ok || r.Nick != "n" {
		t.Errorf("the table under JAB_ROOMS: %+v %v", r, ok)
	}
	// A top-level table of rooms.
	s, err = loadRooms(t, "[rooms.\"t@c.example.org\"]\nnick = \"top\"\n", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := s.Room("t@c.example.org"); !ok || r.Nick != "top" || !r.Autojoin {
		t.Errorf("top-level table: %+v %v", r, ok)
	}
}

// TestRoomsConfigErrors: every mistake in a room's table names its key.
func TestRoomsConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name, config string
		mode         int
		want, hint   string
	}{
		{name: "unknown key", config: "[rooms.\"t@c.example.org\"]\nnik = \"x\"\n", want: `unknown key "rooms.\"t@c.example.org\".nik"`, hint: `did you mean "nick"?`},
		{name: "bad room", config: "[rooms.\"t@c.example.org/me\"]\nnick = \"x\"\n", want: "has a resource", hint: "a room looks like"},
		{name: "bad room in an array", config: "rooms = [\"nope\"]\n", want: "has no room name", hint: "a room looks like"},
		{name: "room not a table", config: "[rooms]\n\"t@c.example.org\" = \"ci\"\n", want: "must be a table, not a string", hint: "write each room as a table"},
		{name: "array of numbers", config: "rooms = [1]\n", want: "array holding an integer"},
		{name: "nick with a control character", config: "[rooms.\"t@c.example.org\"]\nnick = \"a\\u001bb\"\n", want: "control character"},
		{name: "autojoin not a boolean", config: "[rooms.\"t@c.example.org\"]\nautojoin = \"no\"\n", want: "autojoin must be a boolean"},
		{name: "two password sources", config: "[rooms.\"t@c.example.org\"]\npassword_file = \"f\"\npassword_cmd = \"c\"\n", want: "both password_file and password_cmd", hint: "give one room password source"},
		{name: "a room's password_cmd in a group-writable file", config: "[rooms.\"t@c.example.org\"]\npassword_cmd = \"c\"\n", mode: 0o620,
			want: "holds a password_cmd (a command jab runs) and is writable by others", hint: "chmod go-w "},
		{name: "room_password_cmd in a world-writable file", config: "room_password_cmd = \"c\"\n", mode: 0o602,
			want: "writable by others", hint: "chmod go-w "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadRooms(t, tt.config, tt.mode, nil)
			wantError(t, err, tt.want, tt.hint)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("not a settings error: %v", err)
			}
		})
	}
}
