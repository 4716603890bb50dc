package commands

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"syscall"

	"github.com/jab-xmpp/jab/commands/internal/settings"
	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// Exit codes. exitStatuses below describes each one.
const (
	ExitOK          = 0   // success
	ExitError       = 1   // any other error (network, TLS, server, state file)
	ExitUsage       = 2   // bad flags, arguments, configuration or input (nothing was sent)
	ExitAuth        = 4   // authentication failed (wrong password, unknown account)
	ExitTimeout     = 5   // timed out, server unreachable, or a message was not delivered (bounced)
	ExitRoom        = 6   // a group chat room refused to let us in
	ExitBinding     = 7   // the server refused jab's TLS channel binding, or shares none with it
	ExitInterrupted = 130 // SIGINT (128+2)
	ExitTerminated  = 143 // SIGTERM (128+15)
)

// exitStatuses is the one table of exit statuses: the man page's EXIT
// STATUS is generated from it, and a test checks that it lists every
// Exit constant and that README.md's table says the same (Meaning is
// Markdown: `code` spans).
var exitStatuses = []struct {
	Code    int
	Name    string // the constant
	Meaning string
}{
	{ExitOK, "ExitOK", "success"},
	{ExitError, "ExitError", "any other error: network, TLS, server, state file, a message over the server's size limit, a failed or refused upload"},
	{ExitUsage, "ExitUsage", "usage or bad input: unknown flag, malformed JID or room, bad nick, no such room (`send --room`), missing account or password source, a password command that fails, prints nothing or times out, empty message, invalid UTF-8, `send --encrypt` without a usable, trusted key, a `--file` unreadable, a directory or over the upload limit. Nothing was sent."},
	{ExitAuth, "ExitAuth", "authentication failed, or the server offers no SASL mechanism jab accepts (only PLAIN with `--no-plain`)"},
	{ExitTimeout, "ExitTimeout", "timed out (connecting, `--timeout` in `listen`, no reply to `send --wait-reply`, receipts missing for `send --receipt`), server unreachable (every SRV target and address tried), or a message was not delivered (bounced, or not echoed by the room within `--timeout`)"},
	{ExitRoom, "ExitRoom", "a group chat room refused to let us in: nick in use (after one retry with a suffix), wrong or missing room password, members-only, banned, room full. Nothing was sent."},
	{ExitBinding, "ExitBinding", "channel binding refused, or no type in common with the server (see `--channel-binding`). Nothing was sent."},
	{ExitInterrupted, "ExitInterrupted", "interrupted (SIGINT)"},
	{ExitTerminated, "ExitTerminated", "terminated (SIGTERM)"},
}

// usageError is misuse the user must fix; nothing was sent. It is the
// one error type that carries a hint, shared with package settings.
type usageError = settings.Error

// usagef is a usage error with a hint ("" for none). An error given with
// %w stays visible to errors.Is and errors.As.
func usagef(hint, format string, args ...any) error {
	return settings.Errorf(hint, format, args...)
}

// syntaxError is a usage error in the command line itself (an unknown
// command or flag, a flag without its value): Run prints the command's
// usage line after it.
type syntaxError struct{ err error }

func (e *syntaxError) Error() string { return e.err.Error() }
func (e *syntaxError) Unwrap() error { return e.err }

// syntaxf is a usage error in the command line itself (see syntaxError).
func syntaxf(hint, format string, args ...any) error {
	return &syntaxError{usagef(hint, format, args...)}
}

// signalError records which signal stopped the command.
type signalError struct{ code int }

func (e *signalError) Error() string {
	if e.code == ExitTerminated {
		return "terminated"
	}
	return "interrupted"
}

// exitCode maps an error class to the exit status, in one place.
func exitCode(err error) int {
	var ue *usageError
	var ae *session.AuthError
	var de *session.DeliveryError
	var hl *session.HandoffLostError
	var se *signalError
	var re *session.RoomError
	var big *session.FileTooLargeError
	var e2e *session.E2EError
	var cb *session.ChannelBindingError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &e2e):
		// No usable or trusted key: nothing was sent.
		return ExitUsage
	case errors.As(err, &se):
		return se.code
	case errors.As(err, &re) && re.Missing():
		return ExitUsage
	case errors.As(err, &re):
		return ExitRoom
	case errors.As(err, &ue), errors.As(err, &big):
		return ExitUsage
	case errors.As(err, &cb):
		return ExitBinding
	case errors.As(err, &ae):
		return ExitAuth
	case errors.As(err, &de), errors.As(err, &hl), errors.Is(err, session.ErrTimeout), errors.Is(err, session.ErrUnreachable),
		errors.Is(err, context.DeadlineExceeded):
		return ExitTimeout
	}
	return ExitError
}

// hintFor returns advice for predictable failures, or "".
func hintFor(err error) string {
	var ue *usageError
	var ce *statefile.CorruptError
	var ve *statefile.VersionError
	var ae *session.AuthError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var tl *session.StanzaTooLargeError
	var ce2 *session.ConflictError
	var al *session.ObserverError
	var nr *session.NoReplyError
	var re *session.ReceiptError
	var hl *session.HandoffLostError
	var rec *session.RecordError
	var fd *statefile.ForeignDirError
	var rm *session.RoomError
	if h := fileHint(err); h != "" {
		return h // cmd_send_file.go
	}
	var e2e *session.E2EError
	var cb *session.ChannelBindingError
	switch {
	case errors.As(err, &e2e):
		return e2e.Hint
	case errors.As(err, &rm):
		return roomHint(rm)
	case errors.As(err, &rec) || strings.Contains(err.Error(), "sent, but not recorded"):
		// (The text: a hand-off returns this error without its type.)
		return "the message went out: do not send it again; make room in the state directory so that what follows is recorded"
	case errors.As(err, &fd):
		return "use a state directory of your own: pass --state-dir or set JAB_STATE_DIR"
	case errors.Is(err, syscall.ENOSPC):
		return "the disk that holds the state directory is full: free some space"
	case errors.Is(err, syscall.EROFS), errors.Is(err, os.ErrPermission) && strings.Contains(err.Error(), "state"):
		return "jab needs a state directory it can write: fix its permissions, or pass --state-dir or set JAB_STATE_DIR"
	case errors.As(err, &hl):
		return "look in the history or ask the recipient before sending it again; jab never resends a message it handed over"
	case errors.As(err, &ce2), errors.As(err, &al):
		return "give each concurrent jab listen its own --resource (or stop the other one)"
	case errors.As(err, &ue):
		return ue.Hint
	case errors.As(err, &ce):
		return "jab never resets a state file: fix it or move it aside (jab then starts with no locks or threads)"
	case errors.As(err, &ve):
		return "this state file was written by a newer jab; use that version or move the file aside"
	case errors.As(err, &cb):
		return "the password was not checked; if nothing intercepts the connection, the server binds differently: try --channel-binding tls-unique (TLS 1.2), and --channel-binding none only if you trust the network path ('man jab', CONNECTING AND LOGGING IN)"
	case errors.As(err, &ae) && ae.Condition == "no-usable-mechanism":
		return "jab uses SCRAM, or PLAIN inside TLS unless --no-plain; the server offers nothing else it accepts"
	case errors.As(err, &ae):
		return "check --jid and the password source ('jab config show' says which is used; 'jab --help' lists the order)"
	case errors.As(err, &ua):
		return "the server's certificate is not signed by a trusted CA; pass its CA with --ca-file"
	case errors.As(err, &hn):
		return "the certificate must name the JID's domain; --server only changes where jab connects"
	case errors.As(err, &tl):
		return "split the message, or send it with --lines one line at a time"
	case errors.As(err, &nr):
		return "nobody answered in that thread; wait longer with --wait-reply DURATION"
	case errors.As(err, &re):
		return "the recipient's client may be offline or may not send receipts (XEP-0184); raise --timeout to wait longer"
	case errors.Is(err, session.ErrTimeout):
		return "the server did not answer in time; check --server and raise --timeout if it is slow"
	case strings.Contains(err.Error(), "connection refused"):
		return "nothing listens there; check --server (host:port) or the JID's domain"
	}
	return ""
}

// roomHint is the advice for a room that would not let us in.
func roomHint(e *session.RoomError) string {
	switch {
	case e.Missing():
		return "check the room's name (jab never creates a room); 'jab send --room' only posts to rooms that exist"
	case e.Cond == "conflict":
		return "choose another nick with --nick (or nick in the config file)"
	case e.Cond == "not-authorized":
		return "give the room password with --room-password-file FILE or --room-password-cmd CMD"
	case e.Cond == "registration-required":
		return "ask a room owner to make the account a member"
	}
	return ""
}
