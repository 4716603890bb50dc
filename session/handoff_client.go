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
	"syscall"
	"time"
)

// HandoffRequest is a send to hand to the running observer.
type HandoffRequest struct {
	Send SendOptions
	// WaitReply: the send then waits for the answer of Send.To[0].
	WaitReply bool
	// Timeout bounds every wait for the observer's answer beyond the
	// request's own waits (--timeout).
	Timeout time.Duration
	// Single: the send is one message followed by Finish (no --lines).
	// The observer then finishes right after the message and returns
	// both results at once, saving a local round trip.
	Single bool
	// First, with Single, is the message: it goes in the same write as
	// the hello, saving another local round trip (an observer that
	// refuses the hello closes without reading it). The first Send must
	// then be this message.
	First *Outgoing
}

// HandoffUnavailable: there is no observer to hand the send to, or it
// refused the request. Nothing was handed over; the caller sends on its
// own. Warn marks what the user should hear of (a socket file that is not
// ours, an observer that did not answer, a refusal it should not have
// made); the rest is the normal case of no observer running.
type HandoffUnavailable struct {
	Reason string
	Warn   bool
}

func (e *HandoffUnavailable) Error() string { return "no hand-off: " + e.Reason }

// HandoffLostError: the observer took at least part of a send and then
// ended, or stopped answering, before it reported the outcome. What it
// took may or may not have been delivered; it is not sent again.
type HandoffLostError struct {
	PID     int
	Command string // "listen", "repl"
	Stage   string // "before-message", "delivery", "receipts", "reply"
	Err     error
}

func (e *HandoffLostError) Error() string {
	who := fmt.Sprintf("the running %s (pid %d)", e.Command, e.PID)
	var what string
	switch e.Stage {
	case "before-message":
		what = who + " ended before it took the message; nothing was sent"
	case "receipts":
		what = who + " ended while it waited for the receipts: delivery unknown, and the message is not sent again"
	case "reply":
		what = who + " ended while it waited for the reply: the message was delivered; a reply went to it"
	default:
		what = who + " ended before it confirmed delivery: delivery unknown, and the message is not sent again"
	}
	return fmt.Sprintf("%s (%v)", what, e.Err)
}

func (e *HandoffLostError) Unwrap() error { return e.Err }

// Handoff is a send handed to the running observer of the account. Its
// methods are Sender's: the observer runs them on its Sender and returns
// their results, errors included, so the caller treats both alike.
type Handoff struct {
	conn     *net.UnixConn
	r        *bufio.Reader
	buf      []byte // the requests of one write
	timeout  time.Duration
	typ      string
	accepted bool // a message went to the observer: never fall back now
	broken   error
	unsent   bool // the last request could not be written
	finished bool // the observer ran Finish already (Single)
	finErr   error
	ahead    bool // HandoffRequest.First went with the hello

	// PID, Command and JID name the observer and the full JID the
	// messages come from.
	PID     int
	Command string
	JID     string
}

// HandOff hands a send to the running observer (listen, repl) of
// o.Send.Account, if one serves the account's socket. A
// *HandoffUnavailable says why not: then nothing was done, and the caller
// logs in itself (StartSend). Any other error is the request's own, as
// StartSend would give it (a *NoParentError for --fork).
func HandOff(ctx context.Context, env Env, o HandoffRequest) (*Handoff, error) {
	if !handoffSupported {
		return nil, &HandoffUnavailable{Reason: "not offered on this system"}
	}
	if o.Send.E2E != nil {
		// The observer would need our secret key: an encrypted send
		// signs and encrypts in its own process, never in plaintext
		// through another.
		return nil, &HandoffUnavailable{Reason: "an encrypted send logs in itself"}
	}
	account := o.Send.Account.Bare()
	path := env.Store.HandoffPath(account)
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, &HandoffUnavailable{Reason: "no jab listen or repl runs for " + account}
	case err != nil:
		return nil, &HandoffUnavailable{Reason: err.Error(), Warn: true}
	case fi.Mode()&os.ModeSocket == 0:
		return nil, &HandoffUnavailable{Reason: fmt.Sprintf("%s is not a socket; ignored", path), Warn: true}
	}
	if uid, ok := fileOwner(fi); !ok || uid != os.Getuid() {
		return nil, &HandoffUnavailable{Reason: fmt.Sprintf("socket %s belongs to uid %d, not to us; ignored", path, uid), Warn: true}
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "unix", path)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, os.ErrNotExist):
		return nil, &HandoffUnavailable{Reason: "stale socket " + path + ": its jab listen has ended"}
	case err != nil:
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &HandoffUnavailable{Reason: err.Error(), Warn: true}
	}
	c := nc.(*net.UnixConn)
	if uid, _, err := peerCred(c); err != nil || uid != os.Getuid() {
		c.Close()
		return nil, &HandoffUnavailable{Reason: fmt.Sprintf("socket %s is served by uid %d, not by us; ignored", path, uid), Warn: true}
	}
	h := &Handoff{conn: c, r: bufio.NewReaderSize(c, 64<<10), timeout: timeout, typ: o.Send.Type}
	hs := &handoffSend{Account: account, Type: o.Send.Type, Thread: o.Send.Thread, NewThread: o.Send.NewThread,
		Fork: o.Send.Fork, Subject: o.Send.Subject, LockIdle: o.Send.LockIdle, ReplyTo: o.Send.ReplyTo,
		WaitReply: o.WaitReply, History: env.History != nil, Single: o.Single}
	if env.History != nil {
		hs.HistoryMax = env.History.Max()
	}
	for _, t := range o.Send.To {
		hs.To = append(hs.To, t.String())
	}
	var ahead []handoffRequest
	if o.Single && o.First != nil {
		// More: the observer finishes at once (Single), and the message
		// goes out with the confirming ping.
		ahead = append(ahead, msgRequest(*o.First, true))
	}
	a, err := h.call(ctx, handoffRequest{Op: "send", Send: hs}, 0, ahead...)
	if err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &HandoffUnavailable{Reason: "the running jab listen did not answer: " + err.Error(), Warn: true}
	}
	switch a.Refused {
	case "":
	case "offline":
		c.Close()
		return nil, &HandoffUnavailable{Reason: "the running jab listen is reconnecting"}
	case "busy":
		c.Close()
		return nil, &HandoffUnavailable{Reason: "the running jab listen is busy (its --exec is behind)"}
	case "room":
		c.Close()
		return nil, &HandoffUnavailable{Reason: "the running jab listen is not in the room"}
	case "version":
		c.Close()
		return nil, &HandoffUnavailable{Reason: "the running jab listen speaks another version of the hand-off", Warn: true}
	default:
		c.Close()
		return nil, &HandoffUnavailable{Reason: "the running jab listen refused the request (" + a.Refused + ")", Warn: true}
	}
	if a.Err != nil {
		c.Close()
		return nil, a.Err.decode()
	}
	if !a.OK {
		c.Close()
		return nil, &HandoffUnavailable{Reason: "the running jab listen gave an answer without a result", Warn: true}
	}
	h.PID, h.Command, h.JID = a.PID, a.Command, a.JID
	h.ahead = len(ahead) > 0
	if h.Command == "" {
		h.Command = "observer"
	}
	return h, nil
}

// call writes one request, and those to send ahead of their turn in the
// same write, and reads the request's answer, within wait plus the
// timeout. A cancelled ctx ends the wait.
func (h *Handoff) call(ctx context.Context, req handoffRequest, wait time.Duration, ahead ...handoffRequest) (*handoffAnswer, error) {
	if h.broken != nil {
		return nil, h.broken
	}
	h.buf = h.buf[:0]
	for _, r := range append([]handoffRequest{req}, ahead...) {
		r.V = handoffVersion
		var err error
		if h.buf, err = appendRequest(h.buf, r); err != nil {
			h.unsent, h.broken = true, err
			return nil, err
		}
	}
	stop := h.arm(ctx, wait)
	defer stop()
	if _, err := h.conn.Write(h.buf); err != nil {
		h.unsent = true
		return nil, h.fail(ctx, err)
	}
	return h.read(ctx)
}

// arm bounds the next exchange by wait plus the timeout, and by ctx.
func (h *Handoff) arm(ctx context.Context, wait time.Duration) (stop func() bool) {
	h.conn.SetDeadline(time.Now().Add(wait + h.timeout))
	return context.AfterFunc(ctx, func() { h.conn.SetDeadline(time.Unix(1, 0)) })
}

// read reads one answer.
func (h *Handoff) read(ctx context.Context) (*handoffAnswer, error) {
	line, err := readLine(h.r, maxMsgLine)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF // half an answer is no answer
	}
	var a handoffAnswer
	if err == nil {
		err = json.Unmarshal(line, &a)
	}
	if err != nil {
		return nil, h.fail(ctx, err)
	}
	return &a, nil
}

// fail breaks the hand-off with err (ctx's error if it was cancelled).
func (h *Handoff) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	h.broken = err
	return err
}

// msgRequest is the request of one message.
func msgRequest(out Outgoing, more bool) handoffRequest {
	return handoffRequest{Op: "msg", Msg: &handoffMsg{Subject: out.Subject, Body: out.Body,
		InReplyTo: out.InReplyTo, Receipt: out.Receipt, More: more, OOBURL: out.OOBURL}}
}

// lost is the error of a call that failed once something was handed over.
func (h *Handoff) lost(ctx context.Context, stage string, err error) error {
	if ctx.Err() != nil {
		return err // interrupted: the caller reports the signal
	}
	return &HandoffLostError{PID: h.PID, Command: h.Command, Stage: stage, Err: err}
}

// Send is Sender.Send through the observer: it returns the messages the
// observer wrote (with their to, id, thread and type).
func (h *Handoff) Send(ctx context.Context, out Outgoing, more bool) ([]*Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	first := !h.accepted
	h.accepted = true
	var a *handoffAnswer
	var err error
	if h.ahead {
		// HandoffRequest.First, written with the hello: its answer.
		h.ahead = false
		stop := h.arm(ctx, 0)
		a, err = h.read(ctx)
		stop()
	} else {
		a, err = h.call(ctx, msgRequest(out, more), 0)
	}
	if err != nil {
		if first && h.unsent {
			// The observer was gone before it could read anything.
			h.accepted = false
			return nil, h.lost(ctx, "before-message", err)
		}
		return nil, h.lost(ctx, "delivery", err)
	}
	if a.Finished {
		h.finished, h.finErr = true, a.FinishErr.decode()
	}
	msgs := make([]*Message, 0, len(a.Sent))
	for _, s := range a.Sent {
		m := &Message{To: s.To, ID: s.ID, Type: s.Type}
		if s.Thread != "" {
			m.Thread = &Thread{Value: s.Thread}
		}
		msgs = append(msgs, m)
	}
	return msgs, a.Err.decode()
}

// Flush is Sender.Flush through the observer.
func (h *Handoff) Flush(ctx context.Context) error {
	if !h.accepted {
		return nil
	}
	a, err := h.call(ctx, handoffRequest{Op: "flush"}, 0)
	if err != nil {
		return h.lost(ctx, "delivery", err)
	}
	return a.Err.decode()
}

// Finish is Sender.Finish through the observer.
func (h *Handoff) Finish(ctx context.Context) error {
	if h.finished {
		return h.finErr
	}
	if !h.accepted {
		return nil
	}
	a, err := h.call(ctx, handoffRequest{Op: "finish"}, 0)
	if err != nil {
		return h.lost(ctx, "delivery", err)
	}
	return a.Err.decode()
}

// Fail is Sender.Fail through the observer.
func (h *Handoff) Fail(ctx context.Context, failed error) error {
	if !h.accepted || h.broken != nil {
		return failed // nothing handed over, or its loss is in failed already
	}
	a, err := h.call(ctx, handoffRequest{Op: "fail"}, 0)
	if err != nil {
		return errors.Join(failed, h.lost(ctx, "delivery", err))
	}
	return errors.Join(failed, a.Err.decode())
}

// WaitReceipts is Sender.WaitReceipts through the observer.
func (h *Handoff) WaitReceipts(ctx context.Context, d time.Duration) error {
	a, err := h.call(ctx, handoffRequest{Op: "receipts", Wait: d}, d)
	if err != nil {
		return h.lost(ctx, "receipts", err)
	}
	return a.Err.decode()
}

// WaitReply is Sender.WaitReply through the observer, which asked for it
// (HandoffRequest.WaitReply).
func (h *Handoff) WaitReply(ctx context.Context, d time.Duration) (Event, error) {
	a, err := h.call(ctx, handoffRequest{Op: "reply", Wait: d}, d)
	if err != nil {
		return Event{}, h.lost(ctx, "reply", err)
	}
	if err := a.Err.decode(); err != nil {
		return Event{}, err
	}
	if a.Reply == nil {
		return Event{}, errors.New("the observer answered without the reply")
	}
	return *a.Reply, nil
}

// Close ends the hand-off. Messages handed over and not yet finished are
// still confirmed and recorded by the observer.
func (h *Handoff) Close() error { return h.conn.Close() }

// UploadService is FindUploadService on the observer's session: a send
// with files asks it before its first message.
func (h *Handoff) UploadService(ctx context.Context) (UploadService, error) {
	a, err := h.call(ctx, handoffRequest{Op: "upload_service"}, 0)
	if err != nil {
		return UploadService{}, h.lost(ctx, "before-message", err)
	}
	if err := a.Err.decode(); err != nil {
		return UploadService{}, err
	}
	if a.Service == nil {
		return UploadService{}, errors.New("the observer answered without the upload service")
	}
	return *a.Service, nil
}

// RequestSlot is RequestSlot on the observer's session. The client
// then makes the PUT itself: the file is its own to read (or its stdin),
// the progress its terminal's, and an interrupt stops it at once.
func (h *Handoff) RequestSlot(ctx context.Context, svc UploadService, r SlotRequest) (Slot, error) {
	a, err := h.call(ctx, handoffRequest{Op: "slot", Service: &svc, Slot: &r}, 0)
	if err != nil {
		return Slot{}, h.lost(ctx, "before-message", err)
	}
	if err := a.Err.decode(); err != nil {
		return Slot{}, err
	}
	if a.Slot == nil {
		return Slot{}, errors.New("the observer answered without a slot")
	}
	return *a.Slot, nil
}
