package session

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// The hand-off: a running observer (jab listen, jab repl) sends the
// messages of `jab send` for its account on its own connection, so the
// send needs no TLS, no SASL, no bind and no resource of its own, only one
// local exchange and the server's one round trip. The contact also sees
// the message come from the observer's full JID, which stays online and
// gets the answer (XEP-0296 §2: a client locks to the JID it answers).
//
// The socket is the account's HandoffPath in the state directory (0700),
// created by ServeHandoff once the observer's session is online and
// removed when it stops. Only Linux gives the peer's credentials of a Unix
// socket through the standard library (SO_PEERCRED); the observer accepts
// only peers running as its own user and the client only an observer
// running as its own, and on other systems there is no hand-off at all.
//
// While the observer reconnects it refuses new requests ("offline") rather
// than queueing them: its backoff can last a minute, a one-shot login
// takes a few round trips, and nothing has been handed over yet, so the
// send logs in itself at once and keeps its --timeout for its own login.
//
// A message is never sent twice. Once a client has handed over a message,
// a lost observer (it died, or stopped answering within the client's
// --timeout) is a *HandoffLostError: the delivery is unknown, and the
// client does not send it again. Before that, any failure (no socket, a
// stale one, a refusal) is a *HandoffUnavailable and the client sends on
// its own.

// HandoffOptions configures ServeHandoff.
type HandoffOptions struct {
	Account JID
	// Live holds the observer's session; requests are refused while it
	// has none (reconnecting).
	Live *Live
	// Command names the observer ("listen", "repl") to clients.
	Command string
	// Logf reports, one line each, a peer that was refused or sent a bad
	// request, and a socket that could not be made.
	Logf func(format string, args ...any)
	// Timeout bounds the confirmation of messages whose client went away.
	Timeout time.Duration
	// Rooms are the observer's rooms: a group chat send to rooms it is in
	// is served (muc_handoff.go); nil for none.
	Rooms *Rooms
}

// HandoffServer serves a hand-off socket (see ServeHandoff).
type HandoffServer struct {
	env    Env
	o      HandoffOptions
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the accept loop has ended
	unhook func()        // stops the Live hook

	mu    sync.Mutex
	ln    *net.UnixListener
	path  string
	fi    os.FileInfo // the socket file we made, to remove only ours
	conns map[*net.UnixConn]struct{}
	wg    sync.WaitGroup
}

// ServeHandoff starts the hand-off socket of an observer: once o.Live
// has a session it makes the socket, synchronously in Live.Set (so before
// Listen writes the observer record: whoever sees the record finds the
// socket), and serves each client on a goroutine of its own, sending its
// messages with a Sender attached to the current session. It returns at
// once; Close stops it. Where the hand-off is not offered (see
// handoffSupported), it does nothing.
func ServeHandoff(ctx context.Context, env Env, o HandoffOptions) *HandoffServer {
	ctx, cancel := context.WithCancel(ctx)
	h := &HandoffServer{env: env, o: o, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		conns: map[*net.UnixConn]struct{}{}}
	if o.Logf == nil {
		h.o.Logf = func(string, ...any) {}
	}
	if h.o.Timeout <= 0 {
		h.o.Timeout = 30 * time.Second
	}
	if !handoffSupported {
		close(h.done)
		return h
	}
	type made struct {
		ln  *net.UnixListener
		err error
	}
	first := make(chan made, 1)
	var once sync.Once
	online := func(s *Session) {
		if s != nil {
			once.Do(func() {
				ln, err := h.listen()
				first <- made{ln, err}
			})
		}
	}
	h.unhook = o.Live.onSet(online)
	online(o.Live.Current())
	go func() {
		defer close(h.done)
		select {
		case <-h.ctx.Done():
			return
		case m := <-first:
			h.run(m.ln, m.err)
		}
	}()
	return h
}

// run serves the socket; err is that of the first attempt to make it.
func (h *HandoffServer) run(ln *net.UnixListener, err error) {
	for err != nil {
		if !errors.Is(err, errOtherObserver) {
			h.o.Logf("hand-off: %v; sends log in themselves", err)
			return
		}
		// Another observer of the account (on a resource of its own)
		// serves the socket: take over once it has gone.
		select {
		case <-h.ctx.Done():
			return
		case <-time.After(handoffRetry):
		}
		ln, err = h.listen()
	}
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if h.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			h.o.Logf("hand-off: accept: %v", err)
			select {
			case <-h.ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		h.mu.Lock()
		if h.ctx.Err() != nil {
			h.mu.Unlock()
			c.Close()
			return
		}
		h.conns[c] = struct{}{}
		h.wg.Add(1)
		h.mu.Unlock()
		go func() {
			defer h.wg.Done()
			h.serve(c)
			h.mu.Lock()
			delete(h.conns, c)
			h.mu.Unlock()
			c.Close()
		}()
	}
}

// handoffRetry is how often an observer checks whether the observer that
// serves the socket has gone.
var handoffRetry = ObserverBeat

// errOtherObserver: another observer of the account (with a resource of
// its own) already serves the socket.
var errOtherObserver = errors.New("another observer serves the hand-off")

// listen makes the socket. A socket left by an observer that died is
// replaced; anything else at the path is left alone.
func (h *HandoffServer) listen() (*net.UnixListener, error) {
	path := h.env.Store.HandoffPath(h.o.Account.Bare())
	for range 3 {
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err == nil {
			// Removed by Close, and only if it is still ours.
			ln.SetUnlinkOnClose(false)
			if err := os.Chmod(path, 0o600); err != nil {
				ln.Close()
				os.Remove(path)
				return nil, fmt.Errorf("make socket %q: %w", path, err)
			}
			fi, err := os.Lstat(path)
			if err != nil {
				ln.Close()
				return nil, fmt.Errorf("make socket %q: %w", path, err)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.ctx.Err() != nil {
				ln.Close()
				os.Remove(path)
				return nil, h.ctx.Err()
			}
			h.ln, h.path, h.fi = ln, path, fi
			return ln, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("make socket %q: %w", path, err)
		}
		fi, lerr := os.Lstat(path)
		if lerr != nil {
			continue // gone meanwhile
		}
		if uid, ok := fileOwner(fi); fi.Mode()&os.ModeSocket == 0 || !ok || uid != os.Getuid() {
			return nil, fmt.Errorf("%q is not a socket of ours; left alone", path)
		}
		c, derr := net.DialTimeout("unix", path, time.Second)
		if derr == nil {
			c.Close()
			return nil, errOtherObserver
		}
		if !errors.Is(derr, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("socket %q: %w", path, derr)
		}
		// Nobody listens: its observer died. Replace it.
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove stale socket %q: %w", path, err)
		}
	}
	return nil, fmt.Errorf("make socket %q: it keeps coming back", path)
}

// Close stops serving: the socket is removed (if it is still ours), the
// clients' connections are closed (a client that had handed over a
// message then reports its delivery as unknown), and Close waits for
// their goroutines.
func (h *HandoffServer) Close() error {
	if h.unhook != nil {
		h.unhook()
	}
	h.mu.Lock()
	h.cancel()
	ln, path, fi := h.ln, h.path, h.fi
	for c := range h.conns {
		c.Close()
	}
	h.mu.Unlock()
	var err error
	if ln != nil {
		ln.Close()
		if cur, lerr := os.Lstat(path); lerr == nil && os.SameFile(cur, fi) {
			if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				err = fmt.Errorf("remove socket %q: %w", path, rerr)
			}
		}
	}
	<-h.done
	h.wg.Wait()
	return err
}

// serve runs one client: the hello, then its requests in order.
func (h *HandoffServer) serve(c *net.UnixConn) {
	uid, pid, err := peerCred(c)
	if err != nil {
		h.o.Logf("hand-off: refused a client: %v", err)
		return
	}
	if uid != os.Getuid() {
		h.o.Logf("hand-off: refused a client of uid %d (pid %d): not our user", uid, pid)
		return
	}
	r := bufio.NewReaderSize(c, 64<<10)
	w := json.NewEncoder(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := readLine(r, maxHelloLine)
	if errors.Is(err, io.EOF) {
		return // connected and went: a liveness probe
	}
	var req handoffRequest
	if err == nil || errors.Is(err, io.ErrUnexpectedEOF) {
		err = json.Unmarshal(line, &req)
	}
	if err == nil && (req.Op != "send" || req.Send == nil) {
		err = fmt.Errorf("first request is %q, not send", req.Op)
	}
	if err != nil {
		h.o.Logf("hand-off: ignored a bad request from pid %d: %s", pid, oneLine(err))
		return
	}
	c.SetReadDeadline(time.Time{})
	answer := func(a handoffAnswer) error {
		a.V = handoffVersion
		return w.Encode(a)
	}
	switch {
	case req.V != handoffVersion:
		answer(handoffAnswer{answerHead: answerHead{Refused: "version"}})
		return
	case req.Send.Account != h.o.Account.Bare():
		h.o.Logf("hand-off: refused a request of pid %d for another account", pid)
		answer(handoffAnswer{answerHead: answerHead{Refused: "account"}})
		return
	}
	s := h.o.Live.Current()
	if s == nil {
		answer(handoffAnswer{answerHead: answerHead{Refused: "offline"}})
		return
	}
	if s.Backlogged() {
		// Listen is not reading (its --exec workers are behind), so the
		// answer to our confirming ping would wait behind the backlog;
		// and a CMD that sends would wait for itself.
		answer(handoffAnswer{answerHead: answerHead{Refused: "busy"}})
		return
	}
	sd, err := h.attachAny(s, req.Send) // muc_handoff.go
	if errors.Is(err, errNotInRoom) {
		answer(handoffAnswer{answerHead: answerHead{Refused: "room"}})
		return
	}
	if err != nil {
		answer(handoffAnswer{Err: encodeError(err)})
		return
	}
	defer sd.Close()
	if err := answer(handoffAnswer{answerHead: answerHead{OK: true, PID: os.Getpid(), JID: s.JID().String(), Command: h.o.Command}}); err != nil {
		return
	}
	h.requests(c, r, pid, sd, req.Send.Single, answer)
}

func (h *HandoffServer) attach(s *Session, hs *handoffSend) (*Sender, error) {
	o := SendOptions{Account: h.o.Account, Type: hs.Type, Thread: hs.Thread, NewThread: hs.NewThread,
		Fork: hs.Fork, Subject: hs.Subject, LockIdle: hs.LockIdle, ReplyTo: hs.ReplyTo}
	for _, t := range hs.To {
		j, err := ParseJID(t)
		if err != nil {
			return nil, fmt.Errorf("recipient: %w", err)
		}
		o.To = append(o.To, j)
	}
	if len(o.To) == 0 {
		return nil, errors.New("no recipient")
	}
	switch o.Type {
	case "chat", "normal", "headline":
	default:
		return nil, fmt.Errorf("unknown message type %q", o.Type)
	}
	// The client's history setting, not ours: the records are its.
	env := h.env
	env.History = nil
	if hs.History {
		env.History = env.Store.History(max(hs.HistoryMax, 1))
	}
	if hs.WaitReply {
		return AttachWaiting(h.ctx, env, s, o)
	}
	return Attach(h.ctx, env, s, o)
}

// requests runs the client's requests after the hello, one at a time.
func (h *HandoffServer) requests(c *net.UnixConn, r *bufio.Reader, pid int, sd handedSender, single bool, answer func(handoffAnswer) error) {
	// The client sends nothing while it waits for an answer, so the end
	// of its input means it is gone: what it waits for is cancelled.
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	reqs := make(chan handoffRequest)
	go func() {
		defer close(reqs)
		defer cancel()
		for {
			line, err := readLine(r, maxMsgLine)
			var req handoffRequest
			var tl *errLineTooLong
			switch {
			case errors.As(err, &tl):
				req = handoffRequest{V: handoffVersion, Op: "msg", tooLong: tl.n}
			case err != nil:
				return
			default:
				if err := json.Unmarshal(line, &req); err != nil {
					h.o.Logf("hand-off: ignored a bad request from pid %d: %s", pid, oneLine(err))
					return
				}
			}
			select {
			case reqs <- req:
			case <-ctx.Done():
				return
			}
		}
	}()
	// What Flush and Finish record once the messages went out is made
	// durable after the answer, not before (statefile.WithSyncLater).
	late := statefile.WithSyncLater(ctx, h.syncLater)
	finished := false
loop:
	for req := range reqs {
		var a handoffAnswer
		switch req.Op {
		case "msg":
			if req.tooLong > 0 {
				a.Err = encodeError(&StanzaTooLargeError{Size: req.tooLong, Limit: sd.maxStanza()})
				break
			}
			if req.Msg == nil {
				h.o.Logf("hand-off: ignored a bad request from pid %d: msg without a message", pid)
				break loop
			}
			m := req.Msg
			msgs, err := sd.Send(ctx, Outgoing{Subject: m.Subject, Body: m.Body, InReplyTo: m.InReplyTo, Receipt: m.Receipt,
				OOBURL: m.OOBURL}, m.More)
			for _, msg := range msgs {
				a.Sent = append(a.Sent, Sent{To: msg.To, ID: msg.ID, Thread: msg.ThreadValue(), Type: sd.msgType()})
			}
			a.Err = encodeError(err)
			if single && !finished && err == nil {
				// The client's next call is Finish: run it now.
				a.FinishErr, a.Finished, finished = encodeError(sd.Finish(late)), true, true
			}
		case "upload_service":
			svc, err := sd.UploadService(ctx)
			if err == nil {
				a.Service = &svc
			}
			a.Err = encodeError(err)
		case "slot":
			if req.Service == nil || req.Slot == nil {
				h.o.Logf("hand-off: ignored a bad request from pid %d: slot without a service or a request", pid)
				break loop
			}
			slot, err := sd.RequestSlot(ctx, *req.Service, *req.Slot)
			if err == nil {
				a.Slot = &slot
			}
			a.Err = encodeError(err)
		case "flush":
			a.Err = encodeError(sd.Flush(late))
		case "finish":
			a.Err, finished = encodeError(sd.Finish(late)), true
		case "fail":
			a.Err, finished = encodeError(sd.Fail(ctx, nil)), true
		case "receipts":
			a.Err = encodeError(sd.WaitReceipts(ctx, req.Wait))
		case "reply":
			ev, err := sd.WaitReply(ctx, req.Wait)
			if err == nil {
				a.Reply = &ev
			}
			a.Err = encodeError(err)
		default:
			h.o.Logf("hand-off: ignored a bad request from pid %d: unknown op %q", pid, req.Op)
			break loop
		}
		if h.ctx.Err() != nil {
			// The observer is stopping: no answer, so the client reports
			// what it handed over as unknown rather than as failed.
			break loop
		}
		a.OK = a.Err == nil
		if err := answer(a); err != nil {
			break loop
		}
	}
	if !finished && sd.written() > 0 {
		// The client went away after handing over messages: they were
		// written, so they are confirmed and recorded as Fail does.
		cctx, stop := context.WithTimeout(context.WithoutCancel(h.ctx), h.o.Timeout)
		defer stop()
		sd.Fail(cctx, nil)
	}
}

// syncLater runs a record's last fsync in the background; Close waits
// for it. A failure there can no longer reach the client, which was told
// that its messages were sent and recorded: it is logged.
func (h *HandoffServer) syncLater(sync func() error) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if err := sync(); err != nil {
			h.o.Logf("hand-off: %s", oneLine(err))
		}
	}()
}

// oneLine keeps a log line one line long.
func oneLine(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' {
			return s[:i] + "…"
		}
	}
	return s
}
