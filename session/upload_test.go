package session

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// iqOf decodes one IQ as the session's reader would.
func iqOf(t *testing.T, s string) *IQ {
	t.Helper()
	var iq IQ
	if err := xml.Unmarshal([]byte(s), &iq); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return &iq
}

// TestUploadInfo: XEP-0363 §3: the feature makes a service; its
// max-file-size comes from the form whose FORM_TYPE is the namespace.
func TestUploadInfo(t *testing.T) {
	const form = `<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:http:upload:0</value></field><field var='max-file-size'><value>%s</value></field></x>`
	info := func(inner string) string {
		return `<iq type='result' id='1'><query xmlns='http://jabber.org/protocol/disco#info'>` + inner + `</query></iq>`
	}
	feature := `<identity category='store' type='file'/><feature var='urn:xmpp:http:upload:0'/>`
	for name, c := range map[string]struct {
		iq    string
		ok    bool
		limit int64
	}{
		"service with a limit":    {info(feature + strings.Replace(form, "%s", "5242880", 1)), true, 5242880},
		"service without a form":  {info(feature), true, 0},
		"limit not a number":      {info(feature + strings.Replace(form, "%s", "lots", 1)), true, 0},
		"negative limit":          {info(feature + strings.Replace(form, "%s", "-5", 1)), true, 0},
		"form of another type":    {info(feature + strings.Replace(strings.Replace(form, "%s", "5", 1), "urn:xmpp:http:upload:0", "urn:other", 1)), true, 0},
		"no feature":              {info(`<feature var='http://jabber.org/protocol/muc'/>` + strings.Replace(form, "%s", "5", 1)), false, 0},
		"the legacy namespace":    {info(`<feature var='urn:xmpp:http:upload'/>`), false, 0},
		"not a disco#info answer": {`<iq type='result' id='1'><query xmlns='jabber:iq:roster'><feature var='urn:xmpp:http:upload:0'/></query></iq>`, false, 0},
	} {
		svc, ok := uploadInfo("upload.example.org", iqOf(t, c.iq))
		if ok != c.ok || svc.MaxSize != c.limit || (ok && svc.JID != "upload.example.org") {
			t.Errorf("%s: got %+v %v, want ok %v limit %d", name, svc, ok, c.ok, c.limit)
		}
	}
}

// TestDiscoItems: the items' JIDs in order, without nodes, bad JIDs, or
// more than maxUploadCandidates.
func TestDiscoItems(t *testing.T) {
	var many strings.Builder
	for i := range maxUploadCandidates + 5 {
		many.WriteString("<item jid='s" + string(rune('a'+i%26)) + ".example.org'/>")
	}
	for name, c := range map[string]struct {
		inner string
		want  []string
	}{
		"two":          {`<item jid='conference.example.org'/><item jid='upload.example.org' name='HTTP File Upload'/>`, []string{"conference.example.org", "upload.example.org"}},
		"node skipped": {`<item jid='example.org' node='x'/><item jid='upload.example.org'/>`, []string{"upload.example.org"}},
		"bad JID":      {`<item jid='a@@b'/><item jid=''/><item jid='upload.example.org'/>`, []string{"upload.example.org"}},
		"none":         {``, nil},
	} {
		res := iqOf(t, `<iq type='result' id='1'><query xmlns='http://jabber.org/protocol/disco#items'>`+c.inner+`</query></iq>`)
		if got := discoItems(res); strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
	res := iqOf(t, `<iq type='result' id='1'><query xmlns='http://jabber.org/protocol/disco#items'>`+many.String()+`</query></iq>`)
	if n := len(discoItems(res)); n != maxUploadCandidates {
		t.Errorf("%d items kept, want at most %d", n, maxUploadCandidates)
	}
}

// TestSlotIQ: the request of XEP-0363 §4, on the wire.
func TestSlotIQ(t *testing.T) {
	b, err := xml.Marshal(slotIQ("upload.example.org", SlotRequest{Filename: `a "b".txt`, Size: 23456, ContentType: "text/plain; charset=utf-8"}))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		To      string `xml:"to,attr"`
		Type    string `xml:"type,attr"`
		Request struct {
			XMLName     xml.Name
			Filename    string `xml:"filename,attr"`
			Size        string `xml:"size,attr"`
			ContentType string `xml:"content-type,attr"`
		} `xml:"urn:xmpp:http:upload:0 request"`
	}
	if err := xml.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got.To != "upload.example.org" || got.Type != "get" || got.Request.Filename != `a "b".txt` || got.Request.Size != "23456" ||
		got.Request.ContentType != "text/plain; charset=utf-8" {
		t.Fatalf("slot request %s", b)
	}
}

// TestParseSlot: a slot needs both URLs; headers are kept as sent (at
// most maxSlotHeaders) for CheckSlot to judge.
func TestParseSlot(t *testing.T) {
	slot := func(inner string) *IQ {
		return iqOf(t, `<iq type='result' id='1'><slot xmlns='urn:xmpp:http:upload:0'>`+inner+`</slot></iq>`)
	}
	s, err := parseSlot("up", slot(`<put url='https://up.example.org/a/f.txt'><header name='Authorization'>Bearer x</header><header name='Host'>evil</header></put><get url=' https://dl.example.org/a/f.txt '/>`))
	if err != nil || s.Put != "https://up.example.org/a/f.txt" || s.Get != "https://dl.example.org/a/f.txt" || len(s.Headers) != 2 {
		t.Fatalf("slot %+v, %v", s, err)
	}
	var se *SlotError
	for name, res := range map[string]*IQ{
		"no put":     slot(`<get url='https://dl.example.org/a'/>`),
		"no get":     slot(`<put url='https://dl.example.org/a'/>`),
		"not a slot": iqOf(t, `<iq type='result' id='1'><query xmlns='urn:xmpp:http:upload:0'/></iq>`),
		"empty":      iqOf(t, `<iq type='result' id='1'/>`),
	} {
		if _, err := parseSlot("up", res); !errors.As(err, &se) {
			t.Errorf("%s: %v, want a *SlotError", name, err)
		}
	}
	var headers strings.Builder
	for range 40 {
		headers.WriteString("<header name='Cookie'>c</header>")
	}
	s, _ = parseSlot("up", slot(`<put url='https://a/x'>`+headers.String()+`</put><get url='https://a/x'/>`))
	if len(s.Headers) != maxSlotHeaders {
		t.Errorf("%d headers kept, want %d", len(s.Headers), maxSlotHeaders)
	}
}

// TestCheckSlot: XEP-0363 §4 and §8: https only (http with insecure),
// only Authorization, Cookie and Expires, newlines stripped; a URL with
// user info or without a host is refused; another host than the
// service's is fine.
func TestCheckSlot(t *testing.T) {
	ok := Slot{Put: "https://127.0.0.1:8443/put/f.txt", Get: "https://cdn.example.net/get/f.txt", Headers: []SlotHeader{
		{"authorization", "Bearer t\r\nX-Injected: 1"}, {"Host", "evil.example"}, {"Cookie", "s=1"}, {"Expires", "Tue"},
		{"X-Custom", "v"}, {"Content-Length", "1"}, {"Auth\norization", "b"}, {" Expires ", "w"}}}
	got, err := CheckSlot("upload.example.org", ok, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []SlotHeader{{"Authorization", "Bearer tX-Injected: 1"}, {"Cookie", "s=1"}, {"Expires", "Tue"}, {"Authorization", "b"}, {"Expires", "w"}}
	if len(got.Headers) != len(want) {
		t.Fatalf("headers %q, want %q", got.Headers, want)
	}
	for i := range want {
		if got.Headers[i] != want[i] {
			t.Fatalf("headers %q, want %q", got.Headers, want)
		}
	}
	for name, c := range map[string]struct {
		s        Slot
		insecure bool
		problem  string
	}{
		"http PUT":        {Slot{Put: "http://a/x", Get: "https://a/x"}, false, "PUT URL is plain http"},
		"http GET":        {Slot{Put: "https://a/x", Get: "http://a/x"}, false, "GET URL is plain http"},
		"ftp":             {Slot{Put: "ftp://a/x", Get: "https://a/x"}, true, `scheme "ftp"`},
		"no host":         {Slot{Put: "https:///x", Get: "https://a/x"}, false, "no host"},
		"relative":        {Slot{Put: "/x", Get: "https://a/x"}, false, `scheme ""`},
		"user info":       {Slot{Put: "https://u:p@a/x", Get: "https://a/x"}, false, "user info"},
		"does not parse":  {Slot{Put: "https://a/%zz", Get: "https://a/x"}, false, "does not parse"},
		"too long":        {Slot{Put: "https://a/" + strings.Repeat("x", maxSlotURL), Get: "https://a/x"}, false, "too long"},
		"http, insecure":  {Slot{Put: "http://a/x", Get: "http://a/x"}, true, ""},
		"other host, ok":  {Slot{Put: "https://b.example/x", Get: "https://c.example/x"}, false, ""},
		"IP with a port":  {Slot{Put: "https://[::1]:8443/x", Get: "https://[::1]:8443/x"}, false, ""},
		"scheme in caps?": {Slot{Put: "HTTPS://a/x", Get: "https://a/x"}, false, ""},
	} {
		_, err := CheckSlot("up", c.s, c.insecure)
		switch {
		case c.problem == "" && err != nil:
			t.Errorf("%s: refused: %v", name, err)
		case c.problem != "" && (err == nil || !strings.Contains(err.Error(), c.problem)):
			t.Errorf("%s: %v, want %q", name, err, c.problem)
		}
	}
}

// TestSafeFilename: the name in the URL and in the message.
func TestSafeFilename(t *testing.T) {
	long := strings.Repeat("é", 100) + ".tar.gz"
	for in, want := range map[string]string{
		"report.pdf":                    "report.pdf",
		"/var/log/build 42.log":         "build_42.log",
		`C:\Users\me\shot (1).png`:      "shot_1_.png",
		"../../etc/passwd":              "passwd",
		".hidden":                       "hidden",
		"-rf":                           "rf",
		"a\u202eexe.txt":                "a_exe.txt",
		"tab\there\x00.txt":             "tab_here_.txt",
		"Übersicht-März_2024+final.odt": "Übersicht-März_2024+final.odt",
		"100%25 done?.txt":              "100_25_done_.txt",
		"":                              "file",
		"/":                             "file",
		"..":                            "file",
		"...":                           "file",
		"\xff\xfe.bin":                  "bin",
		"a" + strings.Repeat("b", 300):  "a" + strings.Repeat("b", maxFilename-1),
		"x" + strings.Repeat("y", 200) + ".verylongextension12345": ("x" + strings.Repeat("y", 200) + ".verylongextension12345")[:maxFilename],
	} {
		if got := SafeFilename(in); got != want {
			t.Errorf("SafeFilename(%q) = %q, want %q", in, got, want)
		}
	}
	got := SafeFilename(long)
	if len(got) > maxFilename || !strings.HasSuffix(got, ".gz") || !strings.HasPrefix(got, "é") {
		t.Errorf("SafeFilename(long) = %q (%d bytes)", got, len(got))
	}
}

// TestCheckUploadSize: over the announced limit is refused before any
// slot; no limit announced: anything goes to the slot request.
func TestCheckUploadSize(t *testing.T) {
	var tl *FileTooLargeError
	for _, c := range []struct {
		size, max int64
		refused   bool
	}{{10, 10, false}, {11, 10, true}, {0, 10, false}, {1 << 40, 0, false}} {
		err := CheckUploadSize("f", c.size, c.max)
		if (err != nil) != c.refused || (err != nil && (!errors.As(err, &tl) || tl.Server)) {
			t.Errorf("size %d, limit %d: %v", c.size, c.max, err)
		}
	}
}

// TestSlotRefusal: XEP-0363 §5: file-too-large is the size error, with
// the service's limit; a quota is a refusal with its text (made plain)
// and retry time.
func TestSlotRefusal(t *testing.T) {
	tooLarge := iqOf(t, `<iq type='error' id='1'><error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>File too large</text><file-too-large xmlns='urn:xmpp:http:upload:0'><max-file-size>20000</max-file-size></file-too-large></error></iq>`)
	var tl *FileTooLargeError
	if err := slotRefusal("up", "f.bin", 30000, tooLarge); !errors.As(err, &tl) || tl.Max != 20000 || !tl.Server {
		t.Fatalf("file-too-large: %v", err)
	}
	quota := iqOf(t, `<iq type='error' id='1'><error type='wait'><resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Quota‮ reached&#x9;today</text><retry xmlns='urn:xmpp:http:upload:0' stamp='2017-12-03T23:42:05Z'/></error></iq>`)
	var sr *SlotRefusedError
	err := slotRefusal("up", "f.bin", 30000, quota)
	if !errors.As(err, &sr) || sr.Condition != "resource-constraint" || sr.Retry != "2017-12-03T23:42:05Z" ||
		sr.Text != "Quota reached today" {
		t.Fatalf("quota: %#v", err)
	}
	if err := slotRefusal("up", "f", 1, iqOf(t, `<iq type='error' id='1'/>`)); !errors.As(err, &sr) || sr.Condition != "undefined-condition" {
		t.Fatalf("no error element: %v", err)
	}
}

// TestOOBURLOf: the first absolute URL of a bounded size.
func TestOOBURLOf(t *testing.T) {
	for name, c := range map[string]struct {
		oob  []OOB
		want string
	}{
		"one":            {[]OOB{{URL: " https://a/f.png "}}, "https://a/f.png"},
		"first usable":   {[]OOB{{URL: "not a url"}, {URL: "aesgcm://a/f#k"}}, "aesgcm://a/f#k"},
		"relative":       {[]OOB{{URL: "/f.png"}}, ""},
		"too long":       {[]OOB{{URL: "https://a/" + strings.Repeat("x", maxSlotURL)}}, ""},
		"none":           {nil, ""},
		"empty":          {[]OOB{{}}, ""},
		"invalid UTF-8":  {[]OOB{{URL: "https://a/\xff"}}, ""},
		"control inside": {[]OOB{{URL: "https://a/\x1b[2J"}}, ""},
	} {
		if got := OOBURLOf(&Message{OOB: c.oob}); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
	// On the wire: the element a send attaches.
	m := &Message{To: "a@b", Body: "https://a/f"}
	setOOB(m, "https://a/f")
	b, _ := xml.Marshal(m)
	if !bytes.Contains(b, []byte(`<x xmlns="jabber:x:oob"><url>https://a/f</url></x>`)) {
		t.Fatalf("OOB on the wire: %s", b)
	}
}

// fakeSlots is Slots with a fixed service and slot, recording requests.
type fakeSlots struct {
	mu   sync.Mutex
	svc  UploadService
	slot func(r SlotRequest) Slot
	reqs []SlotRequest
}

func (f *fakeSlots) UploadService(context.Context) (UploadService, error) { return f.svc, nil }

func (f *fakeSlots) RequestSlot(_ context.Context, _ UploadService, r SlotRequest) (Slot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
	return f.slot(r), nil
}

// fakeUploadService is an HTTPS (or plain HTTP) server recording every
// request it gets.
type fakeUploadService struct {
	*httptest.Server
	mu     sync.Mutex
	got    []*http.Request
	bodies [][]byte
	status int
}

func newFakeUploadService(t *testing.T, tls bool) *fakeUploadService {
	f := &fakeUploadService{status: http.StatusCreated}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got, f.bodies = append(f.got, r), append(f.bodies, body)
		status := f.status
		f.mu.Unlock()
		if r.URL.Path == "/redirect" {
			// A 302 is the dangerous one: Go's default would follow it
			// with a GET, whose 2xx would pass for the upload.
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(status)
	})
	if tls {
		f.Server = httptest.NewTLSServer(h)
	} else {
		f.Server = httptest.NewServer(h)
	}
	t.Cleanup(f.Close)
	return f
}

func (f *fakeUploadService) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.got...)
}

// uploadFile writes data to a temporary file opened for upload.
func uploadFile(t *testing.T, name string, data []byte) *UploadFile {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	u, err := OpenUpload(p, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

// TestUploadPut: against a fake HTTPS service on another host than the
// upload service's JID, verified with the CA given (--ca-file): the PUT
// carries the slot's allowed headers and nothing of ours, Content-Type
// sniffed from the content, Content-Length as asked; a redirect is not
// followed; a refusal is an *UploadError.
func TestUploadPut(t *testing.T) {
	srv := newFakeUploadService(t, true)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	data := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0xfe}, 5000)...)
	f := uploadFile(t, "doc.pdf", data)
	slots := &fakeSlots{svc: UploadService{JID: "upload.example.org", MaxSize: 1 << 20}, slot: func(r SlotRequest) Slot {
		return Slot{Put: srv.URL + "/put/" + r.Filename, Get: srv.URL + "/get/" + r.Filename,
			Headers: []SlotHeader{{"Authorization", "Bearer slot-token"}, {"Cookie", "c=1"}, {"X-Evil", "1"}, {"Host", "evil.example"}}}
	}}
	var progressed int64
	up := NewUploader(Config{ExtraCAs: pool, Timeout: 5 * time.Second})
	done, err := Upload(context.Background(), slots, []*UploadFile{f}, UploadOptions{HTTP: up,
		Progress: func(_ *UploadFile, n int64) { progressed = n }})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[0].URL != srv.URL+"/get/doc.pdf" || progressed != int64(len(data)) {
		t.Fatalf("uploaded %+v, progress %d", done, progressed)
	}
	if len(slots.reqs) != 1 || slots.reqs[0] != (SlotRequest{Filename: "doc.pdf", Size: int64(len(data)), ContentType: "application/pdf"}) {
		t.Fatalf("slot requests %+v", slots.reqs)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	var names []string
	for k := range r.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	// Exactly these headers: the slot's allowed ones and ours, nothing
	// else (Host is r.Host).
	want := []string{"Authorization", "Connection", "Content-Length", "Content-Type", "Cookie", "User-Agent"}
	if r.Method != http.MethodPut || r.URL.Path != "/put/doc.pdf" || r.ContentLength != int64(len(data)) ||
		r.Header.Get("Content-Type") != "application/pdf" || r.Header.Get("Authorization") != "Bearer slot-token" ||
		r.Header.Get("Cookie") != "c=1" || r.Header.Get("Connection") != "close" || r.Header.Get("User-Agent") != "jab" ||
		!strings.HasPrefix(r.Host, "127.0.0.1:") || !slices.Equal(names, want) || !bytes.Equal(srv.bodies[0], data) {
		t.Fatalf("PUT %s %s host %q length %d, headers %q %v", r.Method, r.URL, r.Host, r.ContentLength, names, r.Header)
	}

	// A redirect is an error, and nothing goes to where it points.
	slots.slot = func(SlotRequest) Slot { return Slot{Put: srv.URL + "/redirect", Get: srv.URL + "/g"} }
	var ue *UploadError
	if _, err := Upload(context.Background(), slots, []*UploadFile{f}, UploadOptions{HTTP: up}); !errors.As(err, &ue) || !strings.Contains(ue.Status, "302") {
		t.Fatalf("redirect: %v", err)
	}
	if n := len(srv.requests()); n != 2 {
		t.Fatalf("the redirect was followed: %d requests", n)
	}
	// A refusal (413) is an error naming the status.
	srv.mu.Lock()
	srv.status = http.StatusRequestEntityTooLarge
	srv.mu.Unlock()
	slots.slot = func(SlotRequest) Slot { return Slot{Put: srv.URL + "/p", Get: srv.URL + "/g"} }
	if _, err := Upload(context.Background(), slots, []*UploadFile{f}, UploadOptions{HTTP: up}); !errors.As(err, &ue) || !strings.Contains(ue.Error(), "413") {
		t.Fatalf("413: %v", err)
	}
	// Without the CA, the certificate is not trusted: nothing is sent.
	before := len(srv.requests())
	var te *TLSError
	if _, err := Upload(context.Background(), slots, []*UploadFile{f}, UploadOptions{HTTP: NewUploader(Config{Timeout: 5 * time.Second})}); !errors.As(err, &te) {
		t.Fatalf("an unknown CA: %v", err)
	}
	if len(srv.requests()) != before {
		t.Fatal("a PUT reached a server whose certificate was not verified")
	}
}

// TestUploadPlainHTTP: a plain http slot is refused before any PUT,
// unless insecure (--insecure-skip-verify).
func TestUploadPlainHTTP(t *testing.T) {
	srv := newFakeUploadService(t, false)
	f := uploadFile(t, "a.txt", []byte("hello"))
	slots := &fakeSlots{svc: UploadService{JID: "up"}, slot: func(SlotRequest) Slot { return Slot{Put: srv.URL + "/p", Get: srv.URL + "/g"} }}
	up := NewUploader(Config{Timeout: 5 * time.Second})
	var se *SlotError
	if _, err := Upload(context.Background(), slots, []*UploadFile{f}, UploadOptions{HTTP: up}); !errors.As(err, &se) {
		t.Fatalf("http slot: %v", err)
	}
	if n := len(srv.requests()); n != 0 {
		t.Fatalf("%d requests reached the plain http service", n)
	}
	if _, err := Upload(context.Background(), slots, []*UploadFile{f}, UploadOptions{HTTP: up, Insecure: true}); err != nil {
		t.Fatalf("http slot with insecure: %v", err)
	}
	if n := len(srv.requests()); n != 1 {
		t.Fatalf("insecure: %d requests", n)
	}
}

// TestUploadSizeFirst: every file is checked against the limit before
// any slot is asked for: one file over it means no slot and no PUT.
func TestUploadSizeFirst(t *testing.T) {
	srv := newFakeUploadService(t, false)
	small, big := uploadFile(t, "small", []byte("ok")), uploadFile(t, "big", bytes.Repeat([]byte("x"), 11))
	slots := &fakeSlots{svc: UploadService{JID: "up", MaxSize: 10}, slot: func(SlotRequest) Slot { return Slot{Put: srv.URL + "/p", Get: srv.URL + "/g"} }}
	var tl *FileTooLargeError
	_, err := Upload(context.Background(), slots, []*UploadFile{small, big}, UploadOptions{HTTP: NewUploader(Config{}), Insecure: true})
	if !errors.As(err, &tl) || tl.Server || tl.Max != 10 {
		t.Fatalf("over the limit: %v", err)
	}
	if len(slots.reqs) != 0 || len(srv.requests()) != 0 {
		t.Fatalf("%d slots asked for and %d PUTs made before the size check", len(slots.reqs), len(srv.requests()))
	}
}

// TestUploadStream: stdin is copied to a temporary file (its size must
// be known), bounded by the limit: a stream over it is refused.
func TestUploadStream(t *testing.T) {
	u, err := OpenUpload("-", "out.log", strings.NewReader("GIF89a and more"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if err := u.Prepare(100); err != nil || u.Size != 15 || u.Type != "image/gif" || u.Name != "out.log" {
		t.Fatalf("stream: %v, %+v", err, u)
	}
	over, _ := OpenUpload("-", "x", strings.NewReader(strings.Repeat("y", 101)))
	defer over.Close()
	var tl *FileTooLargeError
	if err := over.Prepare(100); !errors.As(err, &tl) {
		t.Fatalf("a stream over the limit: %v", err)
	}
	// Bad files fail when opened.
	var fe *FileError
	if _, err := OpenUpload(t.TempDir(), "", nil); !errors.As(err, &fe) || !errors.Is(err, errIsDirectory) {
		t.Fatalf("a directory: %v", err)
	}
	if _, err := OpenUpload(filepath.Join(t.TempDir(), "missing"), "", nil); !errors.As(err, &fe) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
}

// TestUploadSlowAndStalled: --timeout bounds a stall, not the upload: a
// service that takes the file slowly, for longer than the timeout in all,
// gets it; one that stops reading fails the upload after the timeout.
func TestUploadSlowAndStalled(t *testing.T) {
	var stall sync.WaitGroup
	stall.Add(1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			stall.Wait() // reads nothing until the client gave up
			return
		}
		buf := make([]byte, 64<<10)
		for {
			time.Sleep(40 * time.Millisecond)
			if _, err := r.Body.Read(buf); err != nil {
				break
			}
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	defer stall.Done()
	f := uploadFile(t, "slow.bin", bytes.Repeat([]byte("s"), 1<<20))
	up := NewUploader(Config{Timeout: 300 * time.Millisecond})
	start := time.Now()
	if err := up.Put(context.Background(), Slot{Put: srv.URL + "/slow"}, f, nil); err != nil {
		t.Fatalf("a slow but steady upload of %s: %v", time.Since(start), err)
	}
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Fatalf("the slow upload took %s: the test tests nothing", took)
	}
	big := uploadFile(t, "stalled.bin", bytes.Repeat([]byte("s"), 32<<20))
	var ue *UploadError
	if err := up.Put(context.Background(), Slot{Put: srv.URL + "/stall"}, big, nil); !errors.As(err, &ue) {
		t.Fatalf("a stalled upload: %v", err)
	}
}
