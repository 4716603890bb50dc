package session

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// appendRequest appends r's JSON and a newline to b, as a json.Encoder
// writes it. The hand-off client is a short process: encoding/json would
// build its encoders for the whole request type, statefile.Record
// included, on every run. A request that names an original (--reply-to)
// is left to encoding/json, and so is a slot request (send --file). TestAppendRequestMatchesJSON and
// FuzzAppendRequest hold the two to the same output.
func appendRequest(b []byte, r handoffRequest) ([]byte, error) {
	if (r.Send != nil && r.Send.ReplyTo != nil) || r.Service != nil || r.Slot != nil {
		j, err := json.Marshal(r)
		if err != nil {
			return b, err
		}
		return append(append(b, j...), '\n'), nil
	}
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(r.V), 10)
	b = append(b, `,"op":`...)
	b = appendJSONString(b, r.Op)
	if s := r.Send; s != nil {
		b = append(b, `,"send":{"account":`...)
		b = appendJSONString(b, s.Account)
		b = append(b, `,"to":`...)
		if s.To == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for i, to := range s.To {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, to)
			}
			b = append(b, ']')
		}
		b = append(b, `,"type":`...)
		b = appendJSONString(b, s.Type)
		b = appendJSONField(b, "thread", s.Thread)
		b = appendJSONTrue(b, "new_thread", s.NewThread)
		b = appendJSONTrue(b, "fork", s.Fork)
		b = appendJSONField(b, "subject", s.Subject)
		b = append(b, `,"lock_idle":`...)
		b = strconv.AppendInt(b, int64(s.LockIdle), 10)
		b = appendJSONTrue(b, "wait_reply", s.WaitReply)
		b = appendJSONTrue(b, "single", s.Single)
		b = append(b, `,"history":`...)
		b = strconv.AppendBool(b, s.History)
		if s.HistoryMax != 0 {
			b = append(b, `,"history_max":`...)
			b = strconv.AppendInt(b, int64(s.HistoryMax), 10)
		}
		b = append(b, '}')
	}
	if m := r.Msg; m != nil {
		b = append(b, `,"msg":{`...)
		if m.Subject != "" {
			b = append(b, `"subject":`...)
			b = appendJSONString(b, m.Subject)
			b = append(b, ',')
		}
		b = append(b, `"body":`...)
		b = appendJSONString(b, m.Body)
		b = appendJSONField(b, "in_reply_to", m.InReplyTo)
		b = appendJSONTrue(b, "receipt", m.Receipt)
		b = appendJSONTrue(b, "more", m.More)
		b = appendJSONField(b, "oob_url", m.OOBURL)
		b = append(b, '}')
	}
	if r.Wait != 0 {
		b = append(b, `,"wait":`...)
		b = strconv.AppendInt(b, int64(r.Wait), 10)
	}
	return append(b, "}\n"...), nil
}

// appendJSONField appends ,"name":"value" unless value is empty.
func appendJSONField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(append(append(b, `,"`...), name...), `":`...)
	return appendJSONString(b, value)
}

// appendJSONTrue appends ,"name":true when set.
func appendJSONTrue(b []byte, name string, set bool) []byte {
	if !set {
		return b
	}
	return append(append(append(b, `,"`...), name...), `":true`...)
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it with HTML escaping on (its default): quote, backslash and
// control characters, <, > and &, U+2028 and U+2029, and invalid UTF-8
// as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
