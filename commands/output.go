package commands

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
	"time"
	"unicode"

	"github.com/jab-xmpp/jab/session"
)

// sanitize makes remote text safe for a terminal and keeps one record on
// one line: backslash, newline, carriage return and tab are escaped as in
// Go strings; every other control character (C0, DEL, C1) and the Unicode
// bidi overrides, which can reorder what the terminal shows, become \u{…}.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unicode.IsControl(r), r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0xFEFF:
			fmt.Fprintf(&b, `\u{%x}`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func shortThread(t string) string {
	if t == "" {
		return "-"
	}
	if len(t) > 8 {
		t = t[:8]
	}
	return sanitize(t)
}

// textRecord is listen's line format:
//
//	TIME FROM TYPE THREAD8: [(re: ID)] [subject: S] BODY [file: URL]
//	TIME FROM presence TYPE [SHOW] [STATUS]
func textRecord(ev session.Event) string {
	ts := ev.Time.UTC().Format(time.RFC3339)
	if ev.Kind == session.KindPresence {
		typ := ev.Type
		if typ == "" {
			typ = "available"
		}
		line := ts + " " + sanitize(ev.From) + " presence " + sanitize(typ)
		if ev.Show != "" {
			line += " " + sanitize(ev.Show)
		}
		if ev.Status != "" {
			line += " " + sanitize(ev.Status)
		}
		if ev.Error != "" {
			line += " error=" + sanitize(ev.Error)
		}
		return line
	}
	line := ts + " " + sanitize(ev.From) + " " + ev.Type + " " + shortThread(ev.Thread) + originNote(ev)
	if ev.Own {
		line += " (own)"
	}
	line += ":"
	if ev.Error != "" {
		line += " error=" + sanitize(ev.Error)
	}
	line += encryptionNote(ev)
	if ev.InReplyTo != "" {
		line += " (re: " + sanitize(ev.InReplyTo) + ")"
	}
	if ev.Subject != "" {
		line += " [subject: " + sanitize(ev.Subject) + "]"
	}
	switch {
	case ev.OOBURL != "" && (ev.Body == ev.OOBURL || ev.Body == ""):
		// A shared file (XEP-0066): the body is its URL.
		line += " [file: " + sanitize(ev.OOBURL) + "]"
	case ev.OOBURL != "":
		line += " " + sanitize(ev.Body) + " [file: " + sanitize(ev.OOBURL) + "]"
	case ev.Body != "":
		line += " " + sanitize(ev.Body)
	}
	return line
}

// encryptionNote marks an end-to-end encrypted message: [encrypted,
// verified], [encrypted, NOT verified: why], or [encrypted, unreadable:
// why] for one whose content (never the fallback body) is not shown.
func encryptionNote(ev session.Event) string {
	switch {
	case !ev.Encrypted:
		return ""
	case ev.Verified:
		return " [encrypted, verified]"
	case ev.Body == "" && ev.Subject == "":
		return " [encrypted, unreadable: " + sanitize(ev.EncryptionError) + "]"
	}
	return " [encrypted, NOT verified: " + sanitize(ev.EncryptionError) + "]"
}

// originNote marks a message that did not simply arrive live: delayed,
// archived (XEP-0313), a carbon (XEP-0280), or our own message sent from
// another device.
func originNote(ev session.Event) string {
	note := ""
	switch {
	case ev.Archived:
		note = " (archived)"
	case ev.Delayed:
		note = " (delayed)"
	}
	switch {
	case ev.Sent && ev.Carbon != "":
		note += " (sent from another device to " + sanitize(ev.To) + ")"
	case ev.Sent:
		note += " (sent to " + sanitize(ev.To) + ")"
	case ev.Carbon != "":
		note += " (carbon)"
	}
	return note
}

// jsonRecord is one JSON Lines record; encoding/json escapes every
// control character, so the output is safe and one line.
func jsonRecord(ev session.Event) []byte {
	type message struct {
		Kind      string `json:"kind"`
		From      string `json:"from"`
		To        string `json:"to"`
		Type      string `json:"type"`
		ID        string `json:"id"`
		Thread    string `json:"thread"`
		Parent    string `json:"parent_thread,omitempty"`
		Body      string `json:"body"`
		Subject   string `json:"subject"`
		ChatState string `json:"chat_state"`
		Delayed   bool   `json:"delayed"`
		Time      string `json:"time"`
		Error     string `json:"error,omitempty"`
		InReplyTo string `json:"in_reply_to,omitempty"`
		Carbon    string `json:"carbon,omitempty"`
		Sent      bool   `json:"sent,omitempty"`
		Archived  bool   `json:"archived,omitempty"`
		Room      string `json:"room,omitempty"` // group chat: the room and the occupant's nick
		Nick      string `json:"nick,omitempty"`
		Own       bool   `json:"own,omitempty"`     // the room's echo of our message
		OOBURL    string `json:"oob_url,omitempty"` // XEP-0066: a shared file's URL
		// End to end: verified is present whenever encrypted is.
		Encrypted       bool   `json:"encrypted,omitempty"`
		Verified        *bool  `json:"verified,omitempty"`
		EncryptionError string `json:"encryption_error,omitempty"`
	}
	type presence struct {
		Kind   string `json:"kind"`
		From   string `json:"from"`
		Type   string `json:"type"`
		Show   string `json:"show"`
		Status string `json:"status"`
		Time   string `json:"time"`
		Error  string `json:"error,omitempty"`
		Room   string `json:"room,omitempty"`
		Nick   string `json:"nick,omitempty"`
	}
	ts := ev.Time.UTC().Format(time.RFC3339Nano)
	var v any
	if ev.Kind == session.KindPresence {
		typ := ev.Type
		if typ == "" {
			typ = "available"
		}
		v = presence{Kind: ev.Kind, From: ev.From, Type: typ, Show: ev.Show, Status: ev.Status, Time: ts, Error: ev.Error,
			Room: ev.Room, Nick: ev.Nick}
	} else {
		kind := ev.Kind
		if ev.Room != "" {
			kind = "groupchat"
		}
		msg := message{Kind: kind, From: ev.From, To: ev.To, Type: ev.Type, ID: ev.ID, Thread: ev.Thread,
			Parent: ev.Parent, Body: ev.Body, Subject: ev.Subject, ChatState: ev.ChatState, Delayed: ev.Delayed,
			Time: ts, Error: ev.Error, InReplyTo: ev.InReplyTo, Carbon: ev.Carbon, Sent: ev.Sent, Archived: ev.Archived,
			Room: ev.Room, Nick: ev.Nick, Own: ev.Own, OOBURL: ev.OOBURL, Encrypted: ev.Encrypted, EncryptionError: ev.EncryptionError}
		if ev.Encrypted {
			verified := ev.Verified
			msg.Verified = &verified
		}
		v = msg
	}
	data, _ := json.Marshal(v)
	return safeJSON(data)
}

// safeJSON escapes what encoding/json leaves raw but a terminal would act
// on: DEL, the C1 controls (U+0080–U+009F, CSI among them), the bidi
// overrides and the BOM. Keys are ASCII, so only string contents change,
// and the \uXXXX forms are the same JSON strings.
func safeJSON(data []byte) []byte {
	if !bytes.ContainsFunc(data, needsEscape) {
		return data
	}
	var b bytes.Buffer
	for _, r := range string(data) {
		if needsEscape(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.Bytes()
}

func needsEscape(r rune) bool {
	return r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202A && r <= 0x202E) ||
		(r >= 0x2066 && r <= 0x2069) || r == 0xFEFF
}

// formatFields is what a --format template sees: the event's fields
// (From, Body, Thread, …) plus FromBare. Nothing in it is sanitised.
type formatFields struct {
	session.Event
	FromBare string
}

func newFormatFields(ev session.Event) formatFields {
	if ev.Kind == session.KindPresence && ev.Type == "" {
		ev.Type = "available"
	}
	return formatFields{Event: ev, FromBare: session.BareOf(ev.From)}
}

// parseFormat parses a --format template and tries it on an empty record,
// so a misspelt field is reported before listen connects.
func parseFormat(text string) (*template.Template, error) {
	tmpl, err := template.New("format").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	if _, err := formatRecord(tmpl, session.Event{Kind: session.KindMessage}); err != nil {
		return nil, err
	}
	return tmpl, nil
}

// formatRecord renders one record with a --format template, without the
// record terminator.
func formatRecord(tmpl *template.Template, ev session.Event) (string, error) {
	var b strings.Builder
	if err := tmpl.Execute(&b, newFormatFields(ev)); err != nil {
		return "", err
	}
	return b.String(), nil
}

// printReply prints the reply: its body (made safe when stdout is a
// terminal, verbatim for a script capturing it), or the listen --json
// record.
func printReply(env *Env, out *bufio.Writer, asJSON bool, ev session.Event) error {
	if asJSON {
		out.Write(append(jsonRecord(ev), '\n'))
	} else {
		body := ev.Body
		if env.StdoutTTY {
			body = sanitize(body)
		}
		out.WriteString(strings.TrimSuffix(body, "\n") + "\n")
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	return nil
}
