package main

// The group chat case: a one-shot send to a room, `jab send --room` (which
// joins, waits for the room's echo of the message and leaves) against
// go-sendxmpp -c (which joins, sends and leaves without waiting for
// anything). Issue 15's target: jab's confirmed send no slower than 1.2 ×
// go-sendxmpp's unconfirmed one. Then the same send while a `jab listen
// --room` of the account is in the room, so that jab hands the message to
// it (no login, no join, still confirmed by the echo), against
// go-sendxmpp's cold -c: issue 15 asks for "much faster", with no
// figure.

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/jab-xmpp/jab/internal/prosody"
	"github.com/jab-xmpp/jab/session"
)

// room measures the room cases on srv; tmp holds the listen's state.
func room(o options, t *table, srv *server, jab, gsx tool, tmp string) (string, error) {
	name := "bench@conference." + srv.Domain
	count, stop, err := roomReceiver(srv.Server, name)
	if err != nil {
		return "", err
	}
	defer stop()
	rs := &server{Server: srv.Server, received: count, stop: func() {}}
	// --room takes the recipient: it comes last among the flags.
	toRoom := func(t tool, flags ...string) tool {
		t = t.with(append(flags, "--room")...)
		t.to = name
		return t
	}
	jr := toRoom(jab)
	gr := gsx.with("-c")
	gr.to = name
	js, gs, err := interleave(o.runs, rs, nil, jr.message("bench room"), gr.message("bench room"))
	if err != nil {
		return "", fmt.Errorf("one-shot room send: %w", err)
	}
	t.add("room send (jab waits for the echo)", "wall", wallOf, js, gs, 1.2)
	t.add("", "CPU", cpuOf, js, gs, 0)

	// Through a `jab listen --room` of the same account.
	state := filepath.Join(tmp, "state-room")
	jab = jab.withEnv("JAB_STATE_DIR=" + state) // the later entry wins
	jr = toRoom(jab)
	l, err := startListen(jab, state, "--room", name)
	if err != nil {
		return "", fmt.Errorf("room send through a running listen: %w", err)
	}
	defer l.stop()
	// The observer record is written once the join is sent; the
	// hand-off takes room sends once the room has let listen in.
	path, line := "direct", ""
	for deadline := time.Now().Add(10 * time.Second); path != "hand-off" && time.Now().Before(deadline); {
		out, err := measureOut(toRoom(jab, "--debug").message("which path"))
		if err != nil {
			return "", fmt.Errorf("room send through a running listen: %w", err)
		}
		rs.expect++
		path, line = reportedPath(out)
	}
	if line == "" {
		line = "(jab send --debug names no path)"
	}
	js, gs, err = interleave(o.runs, rs, nil, jr.message("bench room warm"), gr.message("bench room warm"))
	if err != nil {
		return "", fmt.Errorf("room send through a running listen: %w", err)
	}
	t.add(fmt.Sprintf("room send, listen in the room (%s)", path), "wall", wallOf, js, gs, 0)
	t.add("", "CPU", cpuOf, js, gs, 0)
	return "listen in the room: jab send --room --debug says: " + line, nil
}

// roomReceiver creates the room as bob, stays in it, and counts the group
// chat messages with a body that others send there.
func roomReceiver(srv *prosody.Server, room string) (*atomic.Int64, func(), error) {
	var n atomic.Int64
	pem, err := os.ReadFile(srv.CAFile)
	if err != nil {
		return nil, nil, err
	}
	cfg := session.Config{JID: session.JID{Local: "bob", Domain: srv.Domain}, Password: "bench-bob",
		Server: srv.Addr, Resource: "bench", Timeout: 10 * time.Second}
	cfg.ExtraCAs = poolFrom(pem)
	joined := make(chan struct{}, 1)
	s, err := session.OpenHandler(context.Background(), cfg, func(v any) {
		switch x := v.(type) {
		case *session.Message:
			if x.Type == "groupchat" && x.Body != "" && x.From != room+"/owner" {
				n.Add(1)
			}
		case *session.Presence:
			if x.From == room+"/owner" && x.MUCUser.Has(session.StatusSelf) {
				select {
				case joined <- struct{}{}:
				default:
				}
			}
		}
	})
	if err != nil {
		return nil, nil, err
	}
	if err := s.Conn().Send(session.JoinPresence(room, "owner", "")); err != nil {
		s.Close()
		return nil, nil, err
	}
	select {
	case <-joined:
	case <-time.After(10 * time.Second):
		s.Close()
		return nil, nil, fmt.Errorf("the bench room %s was not joined", room)
	}
	// An instant room (XEP-0045 §10.1.2): unlocked with the defaults.
	_, err = s.Request(context.Background(), &session.IQ{To: room, Type: "set", ID: session.NewID(),
		Payload: &session.RawElement{XMLName: xml.Name{Space: "http://jabber.org/protocol/muc#owner", Local: "query"},
			Inner: []byte(`<x xmlns='jabber:x:data' type='submit'/>`)}})
	if err != nil {
		s.Close()
		return nil, nil, fmt.Errorf("unlock the bench room: %w", err)
	}
	return &n, func() { s.Close() }, nil
}
