package commands_test

// Integration tests of `jab send --file` (XEP-0363 HTTP file upload and
// XEP-0066 OOB) against Prosody's mod_http_file_share on loopback HTTPS,
// started once for these tests only: the upload service upload.DOMAIN,
// whose URLs name https://127.0.0.1:PORT/ (another host than the
// service's JID, which jab allows: the PUT carries the slot's headers
// and nothing of ours).

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/peer"
	"github.com/jab-xmpp/jab/internal/prosody"
	"github.com/jab-xmpp/jab/internal/testserver"
	"github.com/jab-xmpp/jab/session"
)

// The upload server's limits: files up to 2 MiB, 5 MiB a day per account.
const (
	uploadLimit = 2 << 20
	uploadQuota = 5 << 20
)

var (
	uploadMu   sync.Mutex
	uploadSrvs = map[string]*prosody.Server{}
)

func stopUploadServers() {
	uploadMu.Lock()
	defer uploadMu.Unlock()
	for _, s := range uploadSrvs {
		s.Stop()
	}
}

// uploadServerWith is the Prosody with mod_http_file_share for opts,
// started once per key.
func uploadServerWith(t *testing.T, key string, opts prosody.Upload) *prosody.Server {
	t.Helper()
	uploadMu.Lock()
	defer uploadMu.Unlock()
	if s := uploadSrvs[key]; s != nil {
		return s
	}
	s, err := prosody.Start(prosody.Options{Upload: &opts})
	if err != nil {
		t.Fatalf("start prosody with mod_http_file_share: %v", err)
	}
	uploadSrvs[key] = s
	return s
}

func uploadServer(t *testing.T) *prosody.Server {
	return uploadServerWith(t, "", prosody.Upload{SizeLimit: uploadLimit, DailyQuota: uploadQuota})
}

// uploadCastOn: our account and its jab on s, and alice available on
// "phone".
func uploadCastOn(t *testing.T, s *prosody.Server) (me, alice account, j *jab, phone *peer.Peer) {
	t.Helper()
	me, alice = newAccountOn(t, testserver.FromProsody(s), "me"), newAccountOn(t, testserver.FromProsody(s), "alice")
	j = newJab(t, me)
	j.extraEnv = append(j.extraEnv, "JAB_SERVER="+s.Addr, "JAB_CA_FILE="+s.CAFile)
	phone = peer.Connect(t, peer.Server{Addr: s.Addr, Domain: s.Domain, CAFile: s.CAFile}, alice.User, alice.Password, "phone")
	phone.Available(t)
	return me, alice, j, phone
}

// download GETs u as a contact's client would, trusting the test CA.
func download(t *testing.T, s *prosody.Server, u string) (*http.Response, []byte) {
	t.Helper()
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return res, body
}

// randomFile writes n random bytes to dir/name.
func randomFile(t *testing.T, dir, name string, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// wantFileMessage checks that m is the message of an uploaded file on
// the wire: the body is the URL, and the XEP-0066 <x><url> is the same.
func wantFileMessage(t *testing.T, p *peer.Peer, m *session.Message) string {
	t.Helper()
	w := wire(t, p, m)
	body := w.one(t, "the body", "body").Text
	url := w.one(t, "XEP-0066 (on the wire)", "{jabber:x:oob}x/url").Text
	if body == "" || url != body {
		t.Fatalf("XEP-0066: the body %q and the OOB URL %q of a file message differ:\n%s", body, url, w.raw)
	}
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("the GET URL %q is not the slot's https URL", url)
	}
	return url
}

// TestSendFile: two files and a text; the peer gets the text and then one
// message per file whose body and OOB URL are the GET URL; each URL
// serves the file byte for byte, under its sanitised name, with the
// Content-Type sniffed from its content; --json prints each URL.
func TestSendFile(t *testing.T) {
	needServer(t)
	t.Parallel()
	s := uploadServer(t)
	_, alice, j, phone := uploadCastOn(t, s)
	dir := t.TempDir()
	binPath, binData := randomFile(t, dir, "data.bin", 300<<10)
	txtPath := filepath.Join(dir, "my report (v2)\u202e.txt")
	txtData := []byte("build 42 failed\nsee line 7\n")
	if err := os.WriteFile(txtPath, txtData, 0o644); err != nil {
		t.Fatal(err)
	}

	r := j.mustRun("", "send", "--json", "--file", binPath, "--file", txtPath, alice.JID, "the logs")
	if r.Stderr != "" {
		t.Fatalf("stderr is not a terminal: nothing (no progress bar) belongs there: %q", r.Stderr)
	}
	text := phone.WaitBody(t, "the logs")
	if len(text.OOB) != 0 {
		t.Fatalf("the text message carries an OOB element: %+v", text.OOB)
	}
	var urls []string
	for range 2 {
		m := phone.WaitMessage(t, 15*time.Second, func(m *session.Message) bool {
			return len(m.OOB) > 0 && !contains(urls, m.Body)
		})
		urls = append(urls, wantFileMessage(t, phone, m))
	}
	if !strings.HasSuffix(urls[0], "/data.bin") {
		t.Fatalf("first URL %q does not end in the file's name", urls[0])
	}
	// Spaces, parentheses and the bidi override are gone from the name.
	if !strings.HasSuffix(urls[1], "/my_report_v2_.txt") {
		t.Fatalf("second URL %q: the name is not sanitised to my_report_v2_.txt", urls[1])
	}
	for i, want := range [][]byte{binData, txtData} {
		res, got := download(t, s, urls[i])
		if res.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Fatalf("GET %s: %s, %d bytes, identical %v; want %d bytes", urls[i], res.Status, len(got), bytes.Equal(got, want), len(want))
		}
		ct := res.Header.Get("Content-Type")
		if wantCT := []string{"application/octet-stream", "text/plain; charset=utf-8"}[i]; ct != wantCT {
			t.Fatalf("GET %s: Content-Type %q, want the sniffed %q", urls[i], ct, wantCT)
		}
	}
	// --json: one record per message; the file messages carry their URL.
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		var rec struct {
			To     string `json:"to"`
			OOBURL string `json:"oob_url"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		got = append(got, rec.OOBURL)
	}
	if len(got) != 3 || got[0] != "" || got[1] != urls[0] || got[2] != urls[1] {
		t.Fatalf("--json oob_url fields %q, want [\"\" %q %q]", got, urls[0], urls[1])
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestSendFileStdin: --file - with --filename uploads stdin (copied to a
// temporary file first, for its size) under the name given.
func TestSendFileStdin(t *testing.T) {
	needServer(t)
	t.Parallel()
	s := uploadServer(t)
	_, alice, j, phone := uploadCastOn(t, s)
	data := strings.Repeat("line of a build log\n", 5000)
	j.mustRun(data, "send", "--file", "-", "--filename", "../build log.txt", alice.JID)
	m := phone.WaitMessage(t, 15*time.Second, func(m *session.Message) bool { return len(m.OOB) > 0 })
	u := wantFileMessage(t, phone, m)
	if !strings.HasSuffix(u, "/build_log.txt") {
		t.Fatalf("URL %q: not the sanitised --filename build_log.txt", u)
	}
	if _, got := download(t, s, u); string(got) != data {
		t.Fatalf("GET %s: %d bytes, want stdin's %d", u, len(got), len(data))
	}
}

// TestSendFileOverLimit: a file over the service's max-file-size is
// refused before any slot is asked for (so before any PUT): exit 2, and
// the contact gets nothing, not even the text.
func TestSendFileOverLimit(t *testing.T) {
	needServer(t)
	t.Parallel()
	s := uploadServer(t)
	_, alice, j, phone := uploadCastOn(t, s)
	p, _ := randomFile(t, t.TempDir(), "big.bin", uploadLimit+1)
	r := j.run("", "--debug", "send", "--file", p, alice.JID, "the big one")
	if r.Code != 2 || !strings.Contains(r.Stderr, "over the upload service's limit of 2.0 MiB") {
		t.Fatalf("a file over the limit: want exit 2 and the limit named: %s", r)
	}
	for _, line := range strings.Split(r.Stderr, "\n") {
		if strings.Contains(line, "SEND") && strings.Contains(line, "<request") && strings.Contains(line, session.NSUpload) {
			t.Fatalf("a slot was asked for a file over the limit:\n%s", line)
		}
	}
	if strings.Contains(s.LogTail(100000), "Issuing upload slot to "+j.acct.JID) {
		t.Fatal("the server issued a slot for a file over the limit")
	}
	phone.NoMessage(t, time.Second, func(*session.Message) bool { return true })
}

// TestSendFileQuota: three files whose sum is over the daily quota: the
// third slot is refused (resource-constraint), the error says so, and no
// message is sent at all, not even for the two files uploaded.
func TestSendFileQuota(t *testing.T) {
	needServer(t)
	t.Parallel()
	s := uploadServer(t)
	_, alice, j, phone := uploadCastOn(t, s)
	dir := t.TempDir()
	var files []string
	for _, n := range []string{"a.bin", "b.bin", "c.bin"} {
		p, _ := randomFile(t, dir, n, uploadLimit)
		files = append(files, "--file", p)
	}
	r := j.run("", append(append([]string{"send"}, files...), alice.JID, "three files")...)
	if r.Code != 1 || !strings.Contains(r.Stderr, "refused a slot for c.bin: resource-constraint (Daily quota reached)") ||
		!strings.Contains(r.Stderr, "jab: hint: the upload service's quota is used up") {
		t.Fatalf("a slot over the quota: want exit 1, the refusal and a hint: %s", r)
	}
	phone.NoMessage(t, time.Second, func(*session.Message) bool { return true })
}

// TestSendFileBadInput: a missing file, a directory, --file - without
// --filename, and an unreadable file are usage errors before anything is
// contacted; the contact gets nothing.
func TestSendFileBadInput(t *testing.T) {
	needServer(t)
	t.Parallel()
	s := uploadServer(t)
	_, alice, j, phone := uploadCastOn(t, s)
	dir := t.TempDir()
	locked, _ := randomFile(t, dir, "locked.bin", 10)
	os.Chmod(locked, 0)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing", []string{"--file", filepath.Join(dir, "nope.txt")}, "no such file or directory"},
		{"directory", []string{"--file", dir}, "is a directory, not a file"},
		{"stdin without a name", []string{"--file", "-"}, "--file - needs --filename"},
		{"filename for two", []string{"--file", locked, "--file", locked, "--filename", "x"}, "--filename applies to one --file"},
		{"with --lines", []string{"--lines", "--file", locked}, "--file and --lines conflict"},
		{"with --encrypt", []string{"--encrypt", "--file", locked}, "--file and encryption conflict"},
	}
	if os.Geteuid() != 0 {
		cases = append(cases, struct {
			name string
			args []string
			want string
		}{"unreadable", []string{"--file", locked}, "permission denied"})
	} else {
		t.Log("running as root: every file is readable, the unreadable case is not run")
	}
	for _, c := range cases {
		r := j.run("", append(append([]string{"send"}, c.args...), alice.JID, "text")...)
		if r.Code != 2 || !strings.Contains(r.Stderr, c.want) || strings.Count(r.Stderr, "jab: error:") != 1 {
			t.Errorf("%s: want exit 2 and %q: %s", c.name, c.want, r)
		}
	}
	phone.NoMessage(t, time.Second, func(*session.Message) bool { return true })
}

// halfwayProxy listens on loopback and forwards each connection to the
// target set later (the server it fronts names the proxy in its config),
// cutting it once the client has sent after bytes: an upload that stops
// halfway.
type halfwayProxy struct {
	ln     net.Listener
	target atomic.Value // string
	after  int64
	cuts   atomic.Int64
}

func newHalfwayProxy(t *testing.T, after int64) *halfwayProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &halfwayProxy{ln: ln, after: after}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *halfwayProxy) serve(c net.Conn) {
	defer c.Close()
	target, _ := p.target.Load().(string)
	u, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer u.Close()
	go io.Copy(c, u)
	if n, _ := io.CopyN(u, c, p.after); n == p.after {
		p.cuts.Add(1)
	}
}

var (
	cutOnce  sync.Once
	cutSrv   *prosody.Server
	cutProx  *halfwayProxy
	cutError error
)

// TestSendFileCutHalfway: the upload's connection is cut after 256 KiB
// of a 1.5 MiB file: the send fails (exit 1, the upload named) and no
// message is sent; the file is not served.
func TestSendFileCutHalfway(t *testing.T) {
	needServer(t)
	t.Parallel()
	cutOnce.Do(func() {
		cutProx = newHalfwayProxy(t, 256<<10)
		cutSrv, cutError = prosody.Start(prosody.Options{Upload: &prosody.Upload{SizeLimit: uploadLimit,
			ExternalURL: "https://" + cutProx.ln.Addr().String() + "/"}})
		if cutError == nil {
			cutProx.target.Store(cutSrv.HTTPSAddr)
			uploadMu.Lock()
			uploadSrvs["cut"] = cutSrv
			uploadMu.Unlock()
		}
	})
	if cutError != nil {
		t.Fatalf("start prosody: %v", cutError)
	}
	_, alice, j, phone := uploadCastOn(t, cutSrv)
	p, _ := randomFile(t, t.TempDir(), "half.bin", 3<<19)
	r := j.run("", "send", "--file", p, alice.JID, "half a file")
	if r.Code != 1 || !strings.Contains(r.Stderr, "upload of "+p+" to "+cutProx.ln.Addr().String()+" failed") ||
		!strings.Contains(r.Stderr, "no message was sent for it") {
		t.Fatalf("an upload cut halfway: want exit 1 and the upload named: %s", r)
	}
	if cutProx.cuts.Load() == 0 {
		t.Fatal("the proxy cut no connection: the test tested nothing")
	}
	phone.NoMessage(t, time.Second, func(*session.Message) bool { return true })
}

// TestSendFilePlainHTTP: a service whose slots are plain http:// is
// refused (XEP-0363 §4: the host must provide TLS) unless
// --insecure-skip-verify: exit 1, a hint, nothing sent.
func TestSendFilePlainHTTP(t *testing.T) {
	needServer(t)
	t.Parallel()
	s := uploadServerWith(t, "http", prosody.Upload{SizeLimit: uploadLimit, ExternalURL: "http://127.0.0.1:1/"})
	_, alice, j, phone := uploadCastOn(t, s)
	p, _ := randomFile(t, t.TempDir(), "small.bin", 100)
	r := j.run("", "send", "--file", p, alice.JID, "over http")
	if r.Code != 1 || !strings.Contains(r.Stderr, "its PUT URL is plain http") || !strings.Contains(r.Stderr, "--insecure-skip-verify allows plain http") {
		t.Fatalf("a plain http slot: want exit 1 and the refusal: %s", r)
	}
	phone.NoMessage(t, time.Second, func(*session.Message) bool { return true })
}

// TestSendFileHandoff: with a listen running, send --file asks the
// listen for the service and the slot (no login of its own: a password
// command that fails is never run), PUTs the file itself, and the
// message with its OOB URL comes from the listen's full JID.
func TestSendFileHandoff(t *testing.T) {
	needServer(t)
	t.Parallel()
	s := uploadServer(t)
	_, alice, j, phone := uploadCastOn(t, s)
	l := hoListen(t, j)
	from := hoFrom(t, j)
	p, data := randomFile(t, t.TempDir(), "via listen.bin", 200<<10)
	r := j.mustRun("", "--debug", "--password-cmd", "exit 3", "send", "--file", p, alice.JID)
	if want := "jab: debug: sent through the running listen"; !strings.Contains(r.Stderr, want) || strings.Contains(r.Stderr, "SEND <") {
		t.Fatalf("the send with a file did not go through listen:\n%s", r.Stderr)
	}
	m := phone.WaitMessage(t, 15*time.Second, func(m *session.Message) bool { return len(m.OOB) > 0 })
	hoWantFrom(t, "a file through listen", phone, m, from)
	u := wantFileMessage(t, phone, m)
	if !strings.HasSuffix(u, "/via_listen.bin") {
		t.Fatalf("URL %q: name not sanitised", u)
	}
	if _, got := download(t, s, u); !bytes.Equal(got, data) {
		t.Fatalf("GET %s: %d bytes, not the file's %d", u, len(got), len(data))
	}
	// A file over the limit is refused through listen as without it.
	big, _ := randomFile(t, t.TempDir(), "big.bin", uploadLimit+1)
	if r := j.run("", "send", "--file", big, alice.JID); r.Code != 2 || !strings.Contains(r.Stderr, "over the upload service's limit") {
		t.Fatalf("over the limit through listen: %s", r)
	}
	l.stop()
}

// TestListenOOB: a received message with a XEP-0066 URL: listen --json
// prints it as oob_url, and a bot's CMD gets it as JAB_OOB_URL.
func TestListenOOB(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, _, j, phone := meAndAlice(t)
	l := j.startListen("--json", "--exec", `printf 'got %s' "$JAB_OOB_URL"`)
	const u = "https://files.example.test/abc/report.pdf"
	phone.Send(t, &session.Message{To: me.JID, Type: "chat", ID: session.NewID(), Body: u, OOB: []session.OOB{{URL: u}}})
	line := l.waitLine("report.pdf", 15*time.Second)
	var rec struct {
		Body   string `json:"body"`
		OOBURL string `json:"oob_url"`
	}
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.OOBURL != u || rec.Body != u {
		t.Fatalf("listen --json %q: want oob_url %q (%v)", line, u, err)
	}
	phone.WaitBody(t, "got "+u)
	l.stop()
}

// TestReplFile: the REPL's /file PATH uploads the file and sends its
// URL, with the OOB element, to the conversee; a missing file is an
// error that sends nothing, and the REPL goes on.
func TestReplFile(t *testing.T) {
	needServer(t)
	t.Parallel()
	s := uploadServer(t)
	_, alice, j, phone := uploadCastOn(t, s)
	p, data := randomFile(t, t.TempDir(), "shot 1.png", 50<<10)
	r := j.startReplPipe(alice.JID)
	r.line("/file " + filepath.Join(filepath.Dir(p), "missing.png"))
	r.waitStderr("no such file or directory", 10*time.Second)
	r.line(`/file "` + p + `"`)
	m := phone.WaitMessage(t, 15*time.Second, func(m *session.Message) bool { return len(m.OOB) > 0 })
	u := wantFileMessage(t, phone, m)
	if !strings.HasSuffix(u, "/shot_1.png") || m.Type != "chat" || m.ThreadValue() == "" {
		t.Fatalf("/file: URL %q, type %q, thread %q", u, m.Type, m.ThreadValue())
	}
	if _, got := download(t, s, u); !bytes.Equal(got, data) {
		t.Fatalf("GET %s: not the file", u)
	}
	r.line("after the file")
	phone.WaitBody(t, "after the file")
	if n := len(phone.Messages()); n != 2 {
		t.Fatalf("the peer got %d messages, want 2 (the missing file sent nothing)", n)
	}
	r.stop()
}

// TestRoomSendFile: send --room --file: the room gets the file's URL as
// group chat with its OOB element.
func TestRoomSendFile(t *testing.T) {
	needServer(t)
	t.Parallel()
	s := uploadServer(t)
	owner := newAccountOn(t, testserver.FromProsody(s), "owner")
	alice := peer.Connect(t, peer.Server{Addr: s.Addr, Domain: s.Domain, CAFile: s.CAFile}, owner.User, owner.Password, "laptop")
	room := "files" + session.RandomSuffix(6) + "@" + s.MUCDomain
	alice.CreateRoom(t, room, "alice", nil)
	me := newAccountOn(t, testserver.FromProsody(s), "me")
	j := newJab(t, me)
	j.extraEnv = append(j.extraEnv, "JAB_SERVER="+s.Addr, "JAB_CA_FILE="+s.CAFile)
	p, data := randomFile(t, t.TempDir(), "graph.bin", 64<<10)
	j.mustRun("", "send", "--room", room, "--file", p)
	m := alice.WaitMessage(t, 15*time.Second, func(m *session.Message) bool { return m.Type == "groupchat" && len(m.OOB) > 0 })
	u := wantFileMessage(t, alice, m)
	if _, got := download(t, s, u); !bytes.Equal(got, data) {
		t.Fatalf("GET %s: not the file", u)
	}
}
