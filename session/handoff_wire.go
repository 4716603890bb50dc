package session

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// The hand-off protocol, version 2 (2 added the upload requests of send
// --file and a message's "oob_url"): JSON Lines over the observer's Unix
// socket (statefile's HandoffPath), one request and then one answer at a
// time, so the client knows at every moment what the observer has taken.
//
//	client → {"v":2,"op":"send","send":{account, to, type, thread, …}}
//	observer ← {"v":2,"ok":true,"pid":…,"jid":…,"command":"listen"}
//	           or {"v":2,"refused":"offline"|"account"|"version"}: nothing
//	           was done, the client logs in itself
//	           or {"v":2,"error":{…}}: the request's own error (no parent
//	           to fork from, the state file), as StartSend returns it
//	client → {"v":2,"op":"msg","msg":{body, subject, in_reply_to, receipt, more}}
//	observer ← {"v":2,"ok":true,"sent":[{to,id,thread,type}…]} or with "error";
//	           with "single" in the send, the observer also ran Finish:
//	           "finished":true and its "finish_error"
//	client → {"v":2,"op":"flush"} (Sender.Flush: the input pauses)
//	client → {"v":2,"op":"finish"} or {"v":2,"op":"fail"} (Sender.Finish,
//	           Sender.Fail), then optionally {"op":"receipts","wait":ns} and
//	           {"op":"reply","wait":ns}; each answered {"ok":…} or {"error":…}
//	client → {"v":2,"op":"upload_service"} before the first message (send
//	           --file): {"ok":true,"service":{jid,max_size}}; then for each
//	           file {"v":2,"op":"slot","service":{…},"slot":{filename,size,
//	           content_type}}: {"ok":true,"slot":{put,get,headers}}. The
//	           client PUTs the file itself and sends the message with
//	           "oob_url" (upload.go)
//
// Errors travel as a message and the typed errors found in it (wireError),
// so the client's exit status and hint are those of the direct path. A
// newer client talking to an older observer is refused ("version") and
// logs in itself.
const handoffVersion = 2

// Line limits: a request before the hello is accepted is bounded tightly
// (a stranger's garbage), a message once it is accepted only generously: a
// body over the server's stanza limit is refused as on the direct path.
const (
	maxHelloLine = 16 << 20
	maxMsgLine   = 64 << 20
)

type handoffRequest struct {
	V    int           `json:"v"`
	Op   string        `json:"op"`
	Send *handoffSend  `json:"send,omitempty"`
	Msg  *handoffMsg   `json:"msg,omitempty"`
	Wait time.Duration `json:"wait,omitempty"`
	// Service and Slot are the "slot" request (upload_run.go).
	Service *UploadService `json:"service,omitempty"`
	Slot    *SlotRequest   `json:"slot,omitempty"`

	tooLong int // set by the observer's reader: the line was this long and was skipped
}

// handoffSend is a SendOptions on the wire, with what the observer needs
// of the client's settings.
type handoffSend struct {
	Account   string            `json:"account"`
	To        []string          `json:"to"`
	Type      string            `json:"type"`
	Thread    string            `json:"thread,omitempty"`
	NewThread bool              `json:"new_thread,omitempty"`
	Fork      bool              `json:"fork,omitempty"`
	Subject   string            `json:"subject,omitempty"`
	LockIdle  time.Duration     `json:"lock_idle"`
	ReplyTo   *statefile.Record `json:"reply_to,omitempty"`
	WaitReply bool              `json:"wait_reply,omitempty"`
	// Single: one message, and Finish right after it (not --lines); its
	// result comes with the message's answer, which saves a round trip.
	Single     bool `json:"single,omitempty"`
	History    bool `json:"history"`
	HistoryMax int  `json:"history_max,omitempty"`
}

type handoffMsg struct {
	Subject   string `json:"subject,omitempty"`
	Body      string `json:"body"`
	InReplyTo string `json:"in_reply_to,omitempty"`
	Receipt   bool   `json:"receipt,omitempty"`
	More      bool   `json:"more,omitempty"`
	OOBURL    string `json:"oob_url,omitempty"`
}

type handoffAnswer struct {
	answerHead
	Reply *Event `json:"reply,omitempty"`
	// The answers of "upload_service" and "slot" (upload_run.go).
	Service   *UploadService `json:"service,omitempty"`
	Slot      *Slot          `json:"slot,omitempty"`
	Err       *wireError     `json:"error,omitempty"`
	FinishErr *wireError     `json:"finish_error,omitempty"` // of the Finish that Finished says ran
}

// answerHead is what every answer may have; the rest is decoded only
// where present (UnmarshalJSON).
type answerHead struct {
	V       int    `json:"v"`
	OK      bool   `json:"ok,omitempty"`
	Refused string `json:"refused,omitempty"`
	PID     int    `json:"pid,omitempty"`
	JID     string `json:"jid,omitempty"`
	Command string `json:"command,omitempty"`
	Sent    []Sent `json:"sent,omitempty"`
	// Finished: the observer ran Finish after this message (Single).
	Finished bool `json:"finished,omitempty"`
}

// UnmarshalJSON decodes an answer in two steps: what every answer has,
// then the reply and the errors only where they are present. The first
// decoding of a type makes encoding/json build the codecs of every type it
// reaches, and Event and wireError reach many: decoding them all every
// time would be most of a hand-off client's own work (callgrind, issue 11).
func (a *handoffAnswer) UnmarshalJSON(b []byte) error {
	var lean struct {
		answerHead
		Reply     json.RawMessage `json:"reply"`
		Service   json.RawMessage `json:"service"`
		Slot      json.RawMessage `json:"slot"`
		Err       json.RawMessage `json:"error"`
		FinishErr json.RawMessage `json:"finish_error"`
	}
	if err := json.Unmarshal(b, &lean); err != nil {
		return err
	}
	*a = handoffAnswer{answerHead: lean.answerHead}
	for _, f := range []struct {
		raw json.RawMessage
		dst any
	}{{lean.Reply, &a.Reply}, {lean.Service, &a.Service}, {lean.Slot, &a.Slot}, {lean.Err, &a.Err},
		{lean.FinishErr, &a.FinishErr}} {
		if len(f.raw) > 0 {
			if err := json.Unmarshal(f.raw, f.dst); err != nil {
				return err
			}
		}
	}
	return nil
}

// wireError is an error on the wire: its text, and the typed errors and
// sentinels in its chain that the command line maps to exit statuses and
// hints.
type wireError struct {
	Message     string                  `json:"message"`
	Timeout     bool                    `json:"timeout,omitempty"`
	Unreachable bool                    `json:"unreachable,omitempty"`
	Deadline    bool                    `json:"deadline,omitempty"`
	Canceled    bool                    `json:"canceled,omitempty"`
	Closed      bool                    `json:"closed,omitempty"`
	Delivery    *DeliveryError          `json:"delivery,omitempty"`
	Receipt     *ReceiptError           `json:"receipt,omitempty"`
	NoReply     *NoReplyError           `json:"no_reply,omitempty"`
	TooLarge    *StanzaTooLargeError    `json:"too_large,omitempty"`
	NoParent    *NoParentError          `json:"no_parent,omitempty"`
	IQ          *IQError                `json:"iq,omitempty"`
	Original    *OriginalError          `json:"original,omitempty"`
	FileSize    *FileTooLargeError      `json:"file_too_large,omitempty"`
	SlotRefused *SlotRefusedError       `json:"slot_refused,omitempty"`
	NoUpload    *NoUploadServiceError   `json:"no_upload_service,omitempty"`
	Version     *statefile.VersionError `json:"state_version,omitempty"`
	Corrupt     *wireCorrupt            `json:"state_corrupt,omitempty"`
}

type wireCorrupt struct {
	Path string `json:"path"`
	Err  string `json:"err"`
}

func encodeError(err error) *wireError {
	if err == nil {
		return nil
	}
	w := &wireError{Message: err.Error(), Timeout: errors.Is(err, ErrTimeout),
		Unreachable: errors.Is(err, ErrUnreachable), Deadline: errors.Is(err, context.DeadlineExceeded),
		Canceled: errors.Is(err, context.Canceled), Closed: errors.Is(err, ErrClosed)}
	typed(err, &w.Delivery)
	typed(err, &w.Receipt)
	typed(err, &w.NoReply)
	typed(err, &w.TooLarge)
	typed(err, &w.NoParent)
	typed(err, &w.IQ)
	typed(err, &w.Original)
	typed(err, &w.FileSize)
	typed(err, &w.SlotRefused)
	typed(err, &w.NoUpload)
	typed(err, &w.Version)
	var ce *statefile.CorruptError
	if errors.As(err, &ce) {
		w.Corrupt = &wireCorrupt{Path: ce.Path, Err: fmt.Sprint(ce.Err)}
	}
	return w
}

// typed sets *dst to the error of its type in err's chain, if any.
func typed[T error](err error, dst *T) {
	var t T
	if errors.As(err, &t) {
		*dst = t
	}
}

// remoteError is an error the observer returned: the same text, and the
// same typed errors and sentinels for errors.As and errors.Is.
type remoteError struct {
	msg    string
	causes []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.causes }

func (w *wireError) decode() error {
	if w == nil {
		return nil
	}
	e := &remoteError{msg: w.Message}
	add := func(ok bool, err error) {
		if ok {
			e.causes = append(e.causes, err)
		}
	}
	add(w.Timeout, ErrTimeout)
	add(w.Unreachable, ErrUnreachable)
	add(w.Deadline, context.DeadlineExceeded)
	add(w.Canceled, context.Canceled)
	add(w.Closed, ErrClosed)
	add(w.Delivery != nil, w.Delivery)
	add(w.Receipt != nil, w.Receipt)
	add(w.NoReply != nil, w.NoReply)
	add(w.TooLarge != nil, w.TooLarge)
	add(w.NoParent != nil, w.NoParent)
	add(w.IQ != nil, w.IQ)
	add(w.Original != nil, w.Original)
	add(w.FileSize != nil, w.FileSize)
	add(w.SlotRefused != nil, w.SlotRefused)
	add(w.NoUpload != nil, w.NoUpload)
	add(w.Version != nil, w.Version)
	if w.Corrupt != nil {
		e.causes = append(e.causes, &statefile.CorruptError{Path: w.Corrupt.Path, Err: errors.New(w.Corrupt.Err)})
	}
	return e
}

// errLineTooLong: a line over the limit, skipped up to its end.
type errLineTooLong struct{ n int }

func (e *errLineTooLong) Error() string { return fmt.Sprintf("line of more than %d bytes", e.n) }

// readLine reads one line of at most max bytes (without the newline). A
// longer line is consumed and dropped: *errLineTooLong. A last line without
// a newline is returned with io.ErrUnexpectedEOF, end of input with io.EOF.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	n := 0
	for {
		chunk, err := r.ReadSlice('\n')
		n += len(chunk)
		if n <= max+1 {
			line = append(line, chunk...)
		}
		switch {
		case err == nil:
			if n > max+1 {
				return nil, &errLineTooLong{n: max}
			}
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && n == 0:
			return nil, io.EOF
		case errors.Is(err, io.EOF):
			return line, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}
