package commands

// `jab send --room`: the flags of a send to group chat rooms. The joins,
// the echoes and the leave are session.RoomSender's.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/commands/internal/settings"
	"github.com/jab-xmpp/jab/session"
)

// sendRoom checks the flags of a send to rooms, then runs it.
func sendRoom(c *cli.Context, env *Env, g *options) error {
	ctx := c.Context
	for _, f := range []string{"type", "subject", "fork", "recipients-file", "wait-reply", "receipt"} {
		if c.IsSet(f) && !(f == "type" && c.String(f) == "groupchat") {
			return usagef("a room message is type groupchat; its echo is the delivery receipt, and a subject would change the room's topic",
				"--room and --%s conflict", f)
		}
	}
	o := &sendOptions{typ: "groupchat", thread: c.String("thread"), lines: c.Bool("lines"), json: c.Bool("json"),
		replyTo: c.String("reply-to")}
	if o.thread != "" && (c.Bool("new-thread") || o.replyTo != "") {
		return usagef("", "--thread conflicts with --new-thread and --reply-to")
	}
	names, pm := c.StringSlice("room"), ""
	if c.IsSet("pm") {
		if c.IsSet("room") {
			return usagef("--pm names the room: ROOM@SERVICE/NICK", "--pm and --room conflict")
		}
		j, err := session.ParseJID(c.String("pm"))
		if err == nil && !j.IsFull() {
			err = errors.New("no /NICK")
		}
		if err != nil {
			return usagef("an occupant looks like team@conference.example.org/alice", "--pm %q: %v", c.String("pm"), err)
		}
		if err := session.CheckNick(j.Resource); err != nil {
			return usagef("", "--pm: %w", err)
		}
		names, pm, o.typ = []string{j.Bare()}, j.Resource, "chat"
	}
	rooms, err := roomTargets(c.Context, env, g, names)
	if err != nil {
		return err
	}
	// With --room every argument is the text: no JID is taken from it.
	text := c.Args().Slice()
	if len(text) > 0 && text[0] == "--" {
		text = text[1:]
	}
	if o.files, err = openFiles(c, env); err != nil {
		return err
	}
	defer closeFiles(o.files)
	switch {
	case o.lines && len(text) > 0:
		return usagef("--lines reads the messages from stdin", "--lines takes no TEXT arguments")
	case o.lines:
	case len(text) > 0:
		o.text = strings.Join(text, " ")
	case len(o.files) > 0: // the files are the message; stdin is not read
	default:
		in, err := readAllStdin(ctx, env)
		if err != nil {
			return err
		}
		o.text = strings.TrimSuffix(strings.TrimSuffix(in, "\n"), "\r")
	}
	if !o.lines && (o.text != "" || len(o.files) == 0) {
		if err := checkBody(o.text, "the message"); err != nil {
			return err
		}
	}
	senv, err := g.sessionEnv(env)
	if err != nil {
		return err
	}
	if o.replyTo != "" {
		if len(rooms) != 1 {
			return usagef("", "--reply-to answers one message: give exactly one --room")
		}
		if pm != "" {
			return usagef("answer a private message with jab send --reply-to ID ROOM@SERVICE/NICK", "--pm and --reply-to conflict")
		}
		r, err := session.FindRoomMessage(senv, g.account.Bare(), o.replyTo, rooms[0].Room)
		if err != nil {
			return usagef("", "%w", err)
		}
		o.thread, o.inReplyTo = r.Thread, session.InReplyToOf(r)
	}
	msg := func(body string) session.Outgoing { return session.Outgoing{Body: body, InReplyTo: o.inReplyTo} }
	var first *session.Outgoing
	if !o.lines && len(o.files) == 0 {
		m := msg(o.text)
		first = &m
	}
	if pm == "" {
		// A listen in every room sends for us (the hand-off).
		so := session.SendOptions{Account: g.account, Type: "groupchat", Thread: o.thread}
		for _, r := range rooms {
			so.To = append(so.To, r.Room)
		}
		h, err := handOff(ctx, env, g, senv, so, false, first)
		if err != nil {
			return err
		}
		if h != nil {
			return drive(ctx, env, g, o, h, msg)
		}
	}
	// The password is looked up only now: a hand-off needs none.
	if err := g.readyToConnect(ctx, nil, env); err != nil {
		return err
	}
	rs, err := session.StartRoomSend(ctx, senv, g.sessionConfig(env, ""),
		session.RoomSendOptions{Account: g.account, Rooms: rooms, Thread: o.thread, Timeout: g.timeout, PM: pm}, first)
	if err != nil {
		return err
	}
	for i, n := range rs.Nicks() {
		if n != rooms[i].Nick {
			fmt.Fprintf(env.Stderr, "jab: warning: in %s the nick is %s\n", rooms[i].Room.Bare(), sanitize(n))
		}
	}
	return drive(ctx, env, g, o, rs, msg)
}

// roomTargets checks the rooms and their nicks and reads their
// passwords (roomTarget): a bad room or nick is a usage error, before
// anything is contacted.
func roomTargets(ctx context.Context, env *Env, g *options, names []string) ([]session.RoomTarget, error) {
	var rooms []session.RoomTarget
	seen := map[string]bool{}
	shared := &roomSecret{}
	for _, s := range names {
		j, err := session.ParseRoom(s)
		if err != nil {
			return nil, usagef("a room looks like team@conference.example.org", "%w", err)
		}
		if seen[j.Bare()] {
			continue
		}
		seen[j.Bare()] = true
		t, err := roomTarget(ctx, env, g, j, "", shared)
		if err != nil {
			return nil, err
		}
		rooms = append(rooms, t)
	}
	return rooms, nil
}

// roomTarget is room with its nick and password. The nick is nick when
// given (the REPL's /join ROOM NICK), else --nick or JAB_NICK, else the
// room's table in the config file, else nick in the account table or at
// the top level, else the JID's local part. The password source is
// likewise --room-password-file or --room-password-cmd (or their
// variables), else the room's table, else room_password_file or
// room_password_cmd in the config file; shared keeps the password of the
// sources all rooms share, so that its command runs once.
func roomTarget(ctx context.Context, env *Env, g *options, room session.JID, nick string, shared *roomSecret) (session.RoomTarget, error) {
	rc, _ := g.settings.Room(room.Bare())
	if nick == "" {
		configured, _ := settings.Get(g.settings, flagNick, "")
		switch {
		case givenIn(g.settings, flagNick):
			nick = configured // --nick "" is refused below
		case rc.Nick != "":
			nick = rc.Nick
		default:
			nick = session.DefaultNick(g.account, configured)
		}
	}
	if err := session.CheckNick(nick); err != nil {
		return session.RoomTarget{}, usagef("give another --nick", "%w", err)
	}
	var password string
	var err error
	if (rc.PasswordFile != "" || rc.PasswordCmd != "") && !givenIn(g.settings, flagRoomPwFile, flagRoomPwCmd) {
		password, err = readRoomPassword(ctx, env, g, rc.PasswordFile, rc.PasswordCmd)
	} else {
		password, err = shared.get(ctx, env, g)
	}
	return session.RoomTarget{Room: room, Nick: nick, Password: password}, err
}

// givenIn tells whether one of the options is given by flag or
// environment variable.
func givenIn(s *settings.Settings, names ...string) bool {
	for _, n := range names {
		if v, ok := s.Lookup(n); ok && v.Given() {
			return true
		}
	}
	return false
}

// roomSecret is the room password of the sources every room shares, read
// once.
type roomSecret struct {
	read     bool
	password string
}

func (r *roomSecret) get(ctx context.Context, env *Env, g *options) (string, error) {
	if r.read {
		return r.password, nil
	}
	p, err := roomPassword(ctx, env, g)
	if err == nil {
		r.read, r.password = true, p
	}
	return p, err
}

// roomPassword reads --room-password-file or runs --room-password-cmd
// (flags, environment or config file; never a value in argv).
func roomPassword(ctx context.Context, env *Env, g *options) (string, error) {
	file, _ := settings.Get(g.settings, flagRoomPwFile, "")
	cmd, _ := settings.Get(g.settings, flagRoomPwCmd, "")
	return readRoomPassword(ctx, env, g, file, cmd)
}

// readRoomPassword reads the room password from file or runs cmd.
func readRoomPassword(ctx context.Context, env *Env, g *options, file, cmd string) (string, error) {
	switch {
	case file != "" && cmd != "":
		return "", usagef("give one room password source", "--room-password-file and --room-password-cmd conflict")
	case file != "":
		p, err := settings.ReadPasswordFile(file)
		var se *settings.Error
		if err != nil && !errors.As(err, &se) {
			err = usagef("", "room password: %w", err)
		}
		return p, err
	case cmd != "":
		return passwordFromCmd(ctx, env, cmd, g.timeout)
	}
	return "", nil
}
