package session

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// HTTP file upload (XEP-0363) and out-of-band data (XEP-0066): the pure
// rules. Which service takes the upload (disco), what a slot request and
// a slot look like, which slots and headers are used, the file name a
// slot is asked for, the size check made before anything is uploaded, and
// the URL a received message points to. The I/O is in upload_run.go (the
// IQs, the hand-off) and upload_http.go (the PUT).

// Namespaces.
const (
	NSUpload     = "urn:xmpp:http:upload:0" // XEP-0363
	nsOOB        = "jabber:x:oob"           // XEP-0066 §3
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
)

// Bounds of what a server or a peer can make us keep.
const (
	// maxUploadCandidates bounds the disco items asked whether they are
	// an upload service.
	maxUploadCandidates = 32
	// maxSlotURL bounds a slot's URLs and a received OOB URL.
	maxSlotURL = 4096
	// maxSlotHeaders bounds the headers of a slot that are looked at.
	maxSlotHeaders = 16
	// maxFilename bounds the file name a slot is asked for, in bytes.
	maxFilename = 128
)

// UploadService is the XEP-0363 service found by disco: its JID and the
// largest file it takes (0 when it announces no limit).
type UploadService struct {
	JID     string `json:"jid"`
	MaxSize int64  `json:"max_size,omitempty"`
}

// SlotRequest is what a slot is asked for (XEP-0363 §4): the file name,
// its exact size (the PUT's Content-Length) and its Content-Type.
type SlotRequest struct {
	Filename    string `json:"filename"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type,omitempty"`
}

// SlotHeader is one <header/> of a slot's <put/>.
type SlotHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Slot is the service's answer: where to PUT the file, with which
// headers, and the URL it is then served from (XEP-0363 §4).
type Slot struct {
	Put     string       `json:"put"`
	Get     string       `json:"get"`
	Headers []SlotHeader `json:"headers,omitempty"`
}

// OOB is XEP-0066's <x xmlns='jabber:x:oob'/>: a URL the message points
// to, which clients show inline.
type OOB struct {
	URL  string `xml:"url"`
	Desc string `xml:"desc,omitempty"`
}

// uploadIdentity is the answer of one disco#info: whether it offers the
// upload feature, and the max-file-size of its XEP-0128 form.
func uploadInfo(jid string, res *IQ) (UploadService, bool) {
	if res == nil || res.Payload == nil || res.Payload.XMLName.Space != nsDiscoInfo {
		return UploadService{}, false
	}
	var q struct {
		Features []struct {
			Var string `xml:"var,attr"`
		} `xml:"feature"`
		Forms []DataForm `xml:"jabber:x:data x"`
	}
	inner := append(append([]byte("<query>"), res.Payload.Inner...), "</query>"...)
	if err := xml.Unmarshal(inner, &q); err != nil {
		return UploadService{}, false
	}
	offered := false
	for _, f := range q.Features {
		offered = offered || f.Var == NSUpload
	}
	if !offered {
		return UploadService{}, false
	}
	svc := UploadService{JID: jid}
	for _, form := range q.Forms {
		if formType(form) != NSUpload {
			continue
		}
		for _, f := range form.Fields {
			if f.Var != "max-file-size" || len(f.Values) == 0 {
				continue
			}
			// XEP-0363 §3: in bytes. A value that is not a positive
			// number announces no limit we can use.
			if n, err := strconv.ParseInt(strings.TrimSpace(f.Values[0]), 10, 64); err == nil && n > 0 {
				svc.MaxSize = n
			}
		}
	}
	return svc, true
}

func formType(f DataForm) string {
	for _, fl := range f.Fields {
		if fl.Var == "FORM_TYPE" && len(fl.Values) > 0 {
			return strings.TrimSpace(fl.Values[0])
		}
	}
	return ""
}

// discoItems lists the JIDs of a disco#items answer, at most
// maxUploadCandidates, in the server's order.
func discoItems(res *IQ) []string {
	if res == nil || res.Payload == nil || res.Payload.XMLName.Space != nsDiscoItems {
		return nil
	}
	var q struct {
		Items []struct {
			JID  string `xml:"jid,attr"`
			Node string `xml:"node,attr"`
		} `xml:"item"`
	}
	inner := append(append([]byte("<query>"), res.Payload.Inner...), "</query>"...)
	if xml.Unmarshal(inner, &q) != nil {
		return nil
	}
	var out []string
	for _, it := range q.Items {
		if it.Node != "" || it.JID == "" {
			continue // a node of an entity, not a service of its own
		}
		if _, err := ParseJID(it.JID); err != nil {
			continue
		}
		out = append(out, it.JID)
		if len(out) == maxUploadCandidates {
			break
		}
	}
	return out
}

// slotIQ is the slot request to the service (XEP-0363 §4).
func slotIQ(svc string, r SlotRequest) *IQ {
	attr := []xml.Attr{{Name: xml.Name{Local: "filename"}, Value: r.Filename},
		{Name: xml.Name{Local: "size"}, Value: strconv.FormatInt(r.Size, 10)}}
	if r.ContentType != "" {
		attr = append(attr, xml.Attr{Name: xml.Name{Local: "content-type"}, Value: r.ContentType})
	}
	return &IQ{To: svc, Type: "get", Payload: &RawElement{XMLName: xml.Name{Space: NSUpload, Local: "request"}, Attr: attr}}
}

// parseSlot reads the service's <slot/> (XEP-0363 §4). It checks its
// shape only; CheckSlot decides whether it is used.
func parseSlot(svc string, res *IQ) (Slot, error) {
	bad := func(why string) (Slot, error) {
		return Slot{}, &SlotError{Service: svc, Problem: why}
	}
	if res == nil || res.Payload == nil || res.Payload.XMLName.Space != NSUpload || res.Payload.XMLName.Local != "slot" {
		return bad("the answer has no <slot/>")
	}
	var q struct {
		Put struct {
			URL     string `xml:"url,attr"`
			Headers []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:",chardata"`
			} `xml:"header"`
		} `xml:"put"`
		Get struct {
			URL string `xml:"url,attr"`
		} `xml:"get"`
	}
	inner := append(append([]byte("<slot>"), res.Payload.Inner...), "</slot>"...)
	if err := xml.Unmarshal(inner, &q); err != nil {
		return bad("the <slot/> does not parse")
	}
	s := Slot{Put: strings.TrimSpace(q.Put.URL), Get: strings.TrimSpace(q.Get.URL)}
	if s.Put == "" || s.Get == "" {
		return bad("the <slot/> lacks its PUT or GET URL")
	}
	for i, h := range q.Put.Headers {
		if i == maxSlotHeaders {
			break
		}
		s.Headers = append(s.Headers, SlotHeader{Name: h.Name, Value: h.Value})
	}
	return s, nil
}

// slotHeaders are the only headers of a slot that go with the PUT
// (XEP-0363 §4): any other is dropped, whatever the service says.
var slotHeaders = map[string]string{"authorization": "Authorization", "cookie": "Cookie", "expires": "Expires"}

// SlotError: the service gave a slot that is not used.
type SlotError struct {
	Service string
	Problem string
}

func (e *SlotError) Error() string {
	return "upload service " + e.Service + " gave an unusable slot: " + e.Problem
}

// CheckSlot decides whether a slot is used, and returns it as it is
// used: both URLs absolute https (plain http only with insecure, which
// --insecure-skip-verify sets), with a host and without user info (Go
// would send that as an Authorization of its own); the headers cut down
// to Authorization, Cookie and Expires (XEP-0363 §4), with every newline
// stripped from their names and values (§8). The hosts of the URLs need
// not be the service's: the PUT then carries the slot's own headers
// there, and nothing of ours (see Uploader).
func CheckSlot(svc string, s Slot, insecure bool) (Slot, error) {
	for _, u := range []struct{ what, raw string }{{"PUT", s.Put}, {"GET", s.Get}} {
		if err := checkSlotURL(u.raw, insecure); err != "" {
			return Slot{}, &SlotError{Service: svc, Problem: "its " + u.what + " URL " + err}
		}
	}
	out := Slot{Put: s.Put, Get: s.Get}
	for _, h := range s.Headers {
		name := stripNewlines(strings.TrimSpace(h.Name))
		canon, ok := slotHeaders[strings.ToLower(name)]
		if !ok {
			continue
		}
		out.Headers = append(out.Headers, SlotHeader{Name: canon, Value: stripNewlines(h.Value)})
	}
	return out, nil
}

// checkSlotURL says what is wrong with a slot URL, or "".
func checkSlotURL(raw string, insecure bool) string {
	if len(raw) > maxSlotURL || !utf8.ValidString(raw) {
		return "is too long or not UTF-8"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "does not parse"
	}
	switch {
	case u.Scheme == "http" && !insecure:
		// XEP-0363 §4: the host MUST provide TLS.
		return "is plain http (only --insecure-skip-verify allows that)"
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Sprintf("has scheme %q, not https", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return "has no host"
	case u.User != nil:
		return "carries user info"
	}
	return ""
}

func stripNewlines(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

// SafeFilename is the name a slot is asked for, and so the name in the
// GET URL and in the message: the last element of name, with letters,
// digits and ". - _ +" kept, anything else (spaces, slashes, quotes,
// percent signs, control and format characters such as bidi overrides)
// made '_', no leading dot or dash (no hidden file, no option), at most
// maxFilename bytes with the extension kept; "file" if nothing is left.
func SafeFilename(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	name = path.Base(strings.TrimRight(name, "/"))
	var b strings.Builder
	underscore := false
	for _, r := range name {
		keep := unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(".-_+", r)
		if r == utf8.RuneError {
			keep = false
		}
		if !keep {
			r = '_'
		}
		if r == '_' && underscore {
			continue // one for a run
		}
		underscore = r == '_'
		b.WriteRune(r)
	}
	s := strings.TrimLeft(b.String(), ".-_")
	if len(s) > maxFilename {
		ext := path.Ext(s)
		if len(ext) > 16 {
			ext = ""
		}
		stem := s[:maxFilename-len(ext)]
		for !utf8.ValidString(stem) {
			stem = stem[:len(stem)-1]
		}
		s = stem + ext
	}
	if s == "" || s == "." || s == ".." {
		return "file"
	}
	return s
}

// FileTooLargeError: a file over the upload service's limit. Nothing of
// it was uploaded.
type FileTooLargeError struct {
	Name      string // the file as the user named it
	Size, Max int64
	// Server: the service refused the slot; else jab refused before
	// asking for one.
	Server bool
}

func (e *FileTooLargeError) Error() string {
	by := "over the upload service's limit"
	if e.Server {
		by = "refused by the upload service as over its limit"
	}
	if e.Max > 0 {
		by += " of " + humanSize(e.Max)
	}
	return fmt.Sprintf("%s is %s, %s; nothing was uploaded", e.Name, humanSize(e.Size), by)
}

// CheckUploadSize is the check made before any slot is asked for: a file
// over the service's announced max-file-size (XEP-0363 §3) is refused
// without a slot request and without a byte uploaded. max 0: no limit.
func CheckUploadSize(name string, size, max int64) error {
	if max > 0 && size > max {
		return &FileTooLargeError{Name: name, Size: size, Max: max}
	}
	return nil
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB (%d bytes)", v, "KMGT"[i], n)
}

// SlotRefusedError: the service answered the slot request with an error
// (a quota, a type it does not take, no permission). Nothing was
// uploaded.
type SlotRefusedError struct {
	Service   string
	File      string
	Condition string // RFC 6120 §8.3.3, e.g. "resource-constraint"
	Text      string // the service's text, made plain
	Retry     string // XEP-0363 §5 <retry stamp/>, or ""
}

func (e *SlotRefusedError) Error() string {
	msg := fmt.Sprintf("upload service %s refused a slot for %s: %s", e.Service, e.File, e.Condition)
	if e.Text != "" {
		msg += " (" + e.Text + ")"
	}
	if e.Retry != "" {
		msg += "; retry after " + e.Retry
	}
	return msg + "; nothing was uploaded"
}

// slotRefusal reads the error answer to a slot request (XEP-0363 §5):
// a file-too-large is a *FileTooLargeError, anything else a
// *SlotRefusedError. Texts from the service are made plain and short:
// they end up on the terminal.
func slotRefusal(svc, file string, size int64, res *IQ) error {
	var se StanzaError
	if res != nil && res.Error != nil {
		se = *res.Error
	}
	cond := se.Cond()
	if se.TooLarge != nil {
		e := &FileTooLargeError{Name: file, Size: size, Server: true}
		e.Max, _ = strconv.ParseInt(strings.TrimSpace(se.TooLarge.Max), 10, 64)
		return e
	}
	e := &SlotRefusedError{Service: svc, File: file, Condition: plainText(cond, 64), Text: plainText(se.Text, 200)}
	if se.Retry != nil {
		e.Retry = plainText(se.Retry.Stamp, 40)
	}
	return e
}

// plainText makes a server's text one short printable line.
func plainText(s string, max int) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

// setOOB attaches the XEP-0066 element for the URL of an uploaded file
// (u "": none). The caller makes the body the same URL: clients show a
// file inline only when the body is exactly the OOB URL.
func setOOB(m *Message, u string) {
	if u != "" {
		m.OOB = []OOB{{URL: u}}
	}
}

// OOBURLOf is the XEP-0066 URL a received message points to, or "": the
// first <x xmlns='jabber:x:oob'/> with an absolute URL of at most
// maxSlotURL bytes. It is the peer's text: printing it is the caller's
// care (sanitize).
func OOBURLOf(m *Message) string {
	for _, x := range m.OOB {
		u := strings.TrimSpace(x.URL)
		if u == "" || len(u) > maxSlotURL || !utf8.ValidString(u) {
			continue
		}
		if p, err := url.Parse(u); err == nil && p.IsAbs() {
			return u
		}
	}
	return ""
}
