package session

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// TestHandoffWireErrors: an error crosses the socket with its text and
// the typed errors and sentinels the command line maps to exit statuses
// and hints, wrapped or joined.
func TestHandoffWireErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		err   error
		check func(error) bool
	}{
		{"delivery", fmt.Errorf("x: %w", &DeliveryError{Failed: []string{"a@b: item-not-found"}, Total: 2}), func(err error) bool {
			var de *DeliveryError
			return errors.As(err, &de) && de.Total == 2 && de.Failed[0] == "a@b: item-not-found"
		}},
		{"receipt", &ReceiptError{Confirmed: 1, Sent: 3, Wait: time.Second}, func(err error) bool {
			var re *ReceiptError
			return errors.As(err, &re) && re.Sent == 3 && errors.Is(err, ErrTimeout)
		}},
		{"no reply", &NoReplyError{Peer: "a@b", Wait: time.Minute}, func(err error) bool {
			var nr *NoReplyError
			return errors.As(err, &nr) && nr.Peer == "a@b" && errors.Is(err, ErrTimeout)
		}},
		{"too large", &StanzaTooLargeError{Size: 10, Limit: 5}, func(err error) bool {
			var tl *StanzaTooLargeError
			return errors.As(err, &tl) && tl.Limit == 5
		}},
		{"no parent", &NoParentError{To: "a@b"}, func(err error) bool {
			var np *NoParentError
			return errors.As(err, &np) && np.To == "a@b"
		}},
		{"timeout", fmt.Errorf("confirm delivery: %w", ErrTimeout), func(err error) bool { return errors.Is(err, ErrTimeout) }},
		{"unreachable", ErrUnreachable, func(err error) bool { return errors.Is(err, ErrUnreachable) }},
		{"deadline", context.DeadlineExceeded, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"corrupt state", &statefile.CorruptError{Path: "/s", Err: errors.New("bad")}, func(err error) bool {
			var ce *statefile.CorruptError
			return errors.As(err, &ce) && ce.Path == "/s"
		}},
		{"newer state", &statefile.VersionError{Path: "/s", Found: 9, Supported: 1}, func(err error) bool {
			var ve *statefile.VersionError
			return errors.As(err, &ve) && ve.Found == 9
		}},
		{"joined", errors.Join(errors.New("local"), &DeliveryError{Total: 1, Failed: []string{"x"}}), func(err error) bool {
			var de *DeliveryError
			return errors.As(err, &de)
		}},
		{"plain", errors.New("write stanza: broken pipe"), func(err error) bool {
			var de *DeliveryError
			return !errors.As(err, &de) && !errors.Is(err, ErrTimeout)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, err := json.Marshal(encodeError(c.err))
			if err != nil {
				t.Fatal(err)
			}
			var w wireError
			if err := json.Unmarshal(data, &w); err != nil {
				t.Fatal(err)
			}
			got := w.decode()
			if got.Error() != c.err.Error() {
				t.Errorf("text %q, want %q", got.Error(), c.err.Error())
			}
			if !c.check(got) {
				t.Errorf("%#v lost its type on the way: %s", c.err, data)
			}
		})
	}
	var w *wireError
	if w.decode() != nil || encodeError(nil) != nil {
		t.Fatal("no error must stay no error")
	}
}

// TestReadLine: lines are bounded; a longer one is skipped to its end and
// the next line is read whole.
func TestReadLine(t *testing.T) {
	r := bufio.NewReaderSize(strings.NewReader("short\n"+strings.Repeat("x", 100)+"\nnext\nlast"), 16)
	for _, want := range []string{"short", "", "next", "last"} {
		line, err := readLine(r, 20)
		var tl *errLineTooLong
		switch {
		case want == "" && !errors.As(err, &tl):
			t.Fatalf("a line over the limit gave %q, %v", line, err)
		case want == "last" && !errors.Is(err, io.ErrUnexpectedEOF):
			t.Fatalf("last line without newline: %v", err)
		case want != "" && want != "last" && err != nil:
			t.Fatal(err)
		}
		if string(line) != want {
			t.Fatalf("got %q, want %q", line, want)
		}
	}
	if _, err := readLine(r, 20); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v", err)
	}
}

// fakeServer is the XMPP server at the other end of a pipe session: it
// answers every IQ with a result, bounces messages to "ghost@" JIDs and
// records the others.
type fakeServer struct {
	mu   sync.Mutex
	msgs []fakeStanza
	got  chan fakeStanza
	stop chan struct{} // closed: IQs are no longer answered
}

type fakeStanza struct {
	XMLName xml.Name
	ID      string `xml:"id,attr"`
	To      string `xml:"to,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:"body"`
	Thread  string `xml:"thread"`
	Request *Empty `xml:"urn:xmpp:receipts request"`
}

func fakeSession(t *testing.T, jid string) (*Session, *fakeServer) {
	t.Helper()
	a, b := net.Pipe()
	j, _ := ParseJID(jid)
	s := &Session{conn: &Conn{raw: a, dec: xml.NewDecoder(a), jid: j}, timeout: 2 * time.Second,
		events: make(chan any, 64), done: make(chan struct{}), pending: map[string]chan *IQ{}}
	go s.readLoop()
	f := &fakeServer{got: make(chan fakeStanza, 1000), stop: make(chan struct{})}
	// One writer, in order, as a real server answers: a bounce before the
	// answer to a ping written after the message.
	out := make(chan string, 1024)
	go func() {
		for s := range out {
			io.WriteString(b, s)
		}
	}()
	write := func(s string) { out <- s }
	go func() {
		d := xml.NewDecoder(b)
		for {
			var st fakeStanza
			if err := d.Decode(&st); err != nil {
				return
			}
			switch st.XMLName.Local {
			case "iq":
				select {
				case <-f.stop:
					continue
				default:
				}
				write(fmt.Sprintf("<iq xmlns='jabber:client' type='result' id='%s'/>", st.ID))
			case "message":
				if strings.HasPrefix(st.To, "ghost@") {
					write(fmt.Sprintf("<message xmlns='jabber:client' type='error' id='%s' from='%s'><error type='cancel'>"+
						"<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>", st.ID, st.To))
					continue
				}
				f.mu.Lock()
				f.msgs = append(f.msgs, st)
				f.mu.Unlock()
				f.got <- st
			}
		}
	}()
	// Nobody runs Listen here: drain what it would read.
	go func() {
		for range s.Events() {
		}
	}()
	t.Cleanup(func() { a.Close(); b.Close() })
	return s, f
}

type handoffFixture struct {
	env  Env
	live *Live
	srv  *HandoffServer
	s    *Session
	fake *fakeServer
	logs chan string
	path string
}

func newHandoffFixture(t *testing.T) *handoffFixture {
	t.Helper()
	if !handoffSupported {
		t.Skip("no hand-off on this system")
	}
	// A short directory: a socket path has at most 107 bytes.
	dir, err := os.MkdirTemp("", "jh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	store, err := statefile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	env := Env{Store: store, History: store.History(100), Now: time.Now, Host: "test"}
	fx := &handoffFixture{env: env, live: NewLive(), logs: make(chan string, 100), path: store.HandoffPath("me@example.org")}
	fx.s, fx.fake = fakeSession(t, "me@example.org/obs")
	acct, _ := ParseJID("me@example.org")
	fx.srv = ServeHandoff(context.Background(), env, HandoffOptions{Account: acct, Live: fx.live, Command: "listen",
		Timeout: 2 * time.Second, Logf: func(f string, a ...any) { fx.logs <- fmt.Sprintf(f, a...) }})
	t.Cleanup(func() { fx.srv.Close() })
	return fx
}

// online sets the session and waits for the socket.
func (fx *handoffFixture) online(t *testing.T) {
	t.Helper()
	fx.live.Set(fx.s)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if fi, err := os.Lstat(fx.path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no socket")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (fx *handoffFixture) request(to ...string) HandoffRequest {
	acct, _ := ParseJID("me@example.org")
	var js []JID
	for _, s := range to {
		j, _ := ParseJID(s)
		js = append(js, j)
	}
	return HandoffRequest{Send: SendOptions{Account: acct, To: js, Type: "chat"}, Timeout: 2 * time.Second}
}

// TestHandoffInProcess: a send handed to the observer's session goes out
// on it, once, with the thread the state records; a bounce comes back as
// a *DeliveryError; the socket is the observer's alone and goes with it.
func TestHandoffInProcess(t *testing.T) {
	fx := newHandoffFixture(t)
	ctx := context.Background()
	if _, err := HandOff(ctx, fx.env, fx.request("alice@example.org")); !isUnavailable(err, false) {
		t.Fatalf("before the observer is online: %v", err)
	}
	fx.online(t)
	if fi, _ := os.Lstat(fx.path); fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	h, err := HandOff(ctx, fx.env, fx.request("alice@example.org", "bob@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if h.PID != os.Getpid() || h.JID != "me@example.org/obs" || h.Command != "listen" {
		t.Fatalf("observer %d %q %q", h.PID, h.JID, h.Command)
	}
	msgs, err := h.Send(ctx, Outgoing{Body: "one", Receipt: true}, true)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("send: %v, %v", msgs, err)
	}
	if _, err := h.Send(ctx, Outgoing{Body: "two"}, false); err != nil {
		t.Fatal(err)
	}
	if err := h.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	h.Close()
	got := map[string][]string{}
	for range 4 {
		select {
		case m := <-fx.fake.got:
			got[m.To] = append(got[m.To], m.Body)
			if m.Body == "one" && m.Request == nil {
				t.Errorf("the receipt request was lost on the way")
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the messages did not reach the server: %v", got)
		}
	}
	if fmt.Sprint(got) != "map[alice@example.org:[one two] bob@example.org:[one two]]" {
		t.Fatalf("server got %v", got)
	}
	st, err := fx.env.Store.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Account("me@example.org").Conversations["alice@example.org"]; c == nil || c.Thread != msgs[0].ThreadValue() {
		t.Fatalf("state %+v, sent in thread %q", c, msgs[0].ThreadValue())
	}
	var recs int
	fx.env.History.Scan(func(r statefile.Record) error { recs++; return nil })
	if recs != 4 {
		t.Fatalf("%d history records, want 4", recs)
	}

	// A bounce reaches the attached sender, not only listen. A single
	// message (Single) is finished with the message's answer: Finish
	// then makes no round trip of its own.
	single := fx.request("ghost@example.org")
	single.Single = true
	h, err = HandOff(ctx, fx.env, single)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Send(ctx, Outgoing{Body: "anyone?"}, false); err != nil {
		t.Fatal(err)
	}
	if !h.finished {
		t.Fatal("Single: the observer did not finish with the message")
	}
	h.conn.Close() // Finish must not need the connection now
	var de *DeliveryError
	if err := h.Finish(ctx); !errors.As(err, &de) || !strings.Contains(err.Error(), "ghost@example.org: item-not-found") {
		t.Fatalf("bounce: %v", err)
	}

	// --fork with nothing to fork from: NoParentError, as StartSend.
	r := fx.request("carol@example.org")
	r.Send.Fork = true
	var np *NoParentError
	if _, err := HandOff(ctx, fx.env, r); !errors.As(err, &np) {
		t.Fatalf("fork without parent: %v", err)
	}

	// Reconnecting: refused, so the send logs in itself.
	fx.live.Set(nil)
	if _, err := HandOff(ctx, fx.env, fx.request("alice@example.org")); !isUnavailable(err, false) {
		t.Fatalf("while reconnecting: %v", err)
	}
	fx.live.Set(fx.s)

	fx.srv.Close()
	if _, err := os.Lstat(fx.path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the socket outlived its observer: %v", err)
	}
}

func isUnavailable(err error, warn bool) bool {
	var un *HandoffUnavailable
	return errors.As(err, &un) && un.Warn == warn
}

// TestHandoffBadPeers: garbage is one log line and the observer carries
// on; a request for another account or of another version is refused.
func TestHandoffBadPeers(t *testing.T) {
	fx := newHandoffFixture(t)
	fx.online(t)
	exchange := func(send string) string {
		c, err := net.Dial("unix", fx.path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, send)
		c.(*net.UnixConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		return string(b)
	}
	for _, garbage := range []string{"\x00\x01garbage\n", "{\"v\":1,\"op\":\"msg\"}\n", "not even a line"} {
		if got := exchange(garbage); got != "" {
			t.Errorf("garbage %q was answered %q", garbage, got)
		}
		select {
		case l := <-fx.logs:
			if !strings.Contains(l, "hand-off: ignored a bad request from pid") || strings.Contains(l, "\n") {
				t.Errorf("log line %q", l)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("garbage %q was not logged", garbage)
		}
	}
	if got := exchange(`{"v":2,"op":"send","send":{"account":"other@example.org","to":["a@b"],"type":"chat"}}` + "\n"); !strings.Contains(got, `"refused":"account"`) {
		t.Errorf("another account's request: %q", got)
	}
	<-fx.logs
	if got := exchange(`{"v":99,"op":"send","send":{"account":"me@example.org","to":["a@b"],"type":"chat"}}` + "\n"); !strings.Contains(got, `"refused":"version"`) {
		t.Errorf("another version's request: %q", got)
	}
	// Still serving.
	h, err := HandOff(context.Background(), fx.env, fx.request("alice@example.org"))
	if err != nil {
		t.Fatalf("after the bad peers: %v", err)
	}
	h.Close()
	select {
	case l := <-fx.logs:
		t.Errorf("unexpected log line %q", l)
	default:
	}
}

// TestHandoffLost: once a message is handed over, an observer that goes
// away is a *HandoffLostError (delivery unknown), never a fallback.
func TestHandoffLost(t *testing.T) {
	fx := newHandoffFixture(t)
	fx.online(t)
	ctx := context.Background()
	h, err := HandOff(ctx, fx.env, fx.request("alice@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Send(ctx, Outgoing{Body: "one"}, false); err != nil {
		t.Fatal(err)
	}
	<-fx.fake.got
	// The server stops answering pings: Finish waits, and the observer
	// stops meanwhile.
	close(fx.fake.stop)
	first := fx.srv
	go func() { time.Sleep(100 * time.Millisecond); first.Close() }()
	err = h.Finish(ctx)
	var hl *HandoffLostError
	if !errors.As(err, &hl) || !strings.Contains(err.Error(), "delivery unknown") || hl.PID != os.Getpid() {
		t.Fatalf("observer gone before confirming: %v", err)
	}
	fx.fake.mu.Lock()
	n := len(fx.fake.msgs)
	fx.fake.mu.Unlock()
	if n != 1 {
		t.Fatalf("the server got %d messages, want 1", n)
	}

	// Lost between two messages of a --lines run: the next one is lost
	// too, not sent some other way.
	fx = newHandoffFixture(t)
	fx.online(t)
	h, err = HandOff(ctx, fx.env, fx.request("alice@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Send(ctx, Outgoing{Body: "one"}, false); err != nil {
		t.Fatal(err)
	}
	fx.srv.Close()
	_, err = h.Send(ctx, Outgoing{Body: "two"}, false)
	if !errors.As(err, &hl) || hl.Stage != "delivery" {
		t.Fatalf("observer gone between messages: %v", err)
	}
	if err := h.Fail(ctx, err); !errors.As(err, &hl) {
		t.Fatalf("Fail after the loss: %v", err)
	}
}

// TestHandoffNoObserver: without a socket, with a stale one, or with
// something at its path that is not ours, the send logs in itself; only
// what is wrong is a warning, and a stale socket costs milliseconds.
func TestHandoffNoObserver(t *testing.T) {
	if !handoffSupported {
		t.Skip("no hand-off on this system")
	}
	dir, err := os.MkdirTemp("", "jh")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, _ := statefile.Open(dir)
	env := Env{Store: store, Now: time.Now}
	acct, _ := ParseJID("me@example.org")
	req := HandoffRequest{Send: SendOptions{Account: acct, To: []JID{acct}, Type: "chat"}, Timeout: 5 * time.Second}
	path := store.HandoffPath("me@example.org")
	if filepath.Dir(path) != dir || !strings.HasSuffix(path, ".sock") {
		t.Fatalf("socket path %s", path)
	}
	if _, err := HandOff(context.Background(), env, req); !isUnavailable(err, false) {
		t.Fatalf("no socket: %v", err)
	}

	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // the observer died: its socket stays
	start := time.Now()
	_, err = HandOff(context.Background(), env, req)
	if took := time.Since(start); !isUnavailable(err, false) || took > 50*time.Millisecond {
		t.Fatalf("stale socket: %v after %s", err, took)
	}
	os.Remove(path)

	os.WriteFile(path, []byte("x"), 0o600)
	if _, err := HandOff(context.Background(), env, req); !isUnavailable(err, true) || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("a regular file: %v", err)
	}
	os.Remove(path)

	// A socket whose observer does not answer: a warning after the
	// timeout, and nothing was handed over.
	ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	req.Timeout = 200 * time.Millisecond
	if _, err := HandOff(context.Background(), env, req); !isUnavailable(err, true) {
		t.Fatalf("a silent observer: %v", err)
	}
}

// TestWatch: watchers see every message and presence before it is
// queued, and nothing once stopped.
func TestWatch(t *testing.T) {
	a, b := net.Pipe()
	s := &Session{conn: &Conn{raw: a, dec: xml.NewDecoder(a)}, events: make(chan any, 4),
		done: make(chan struct{}), pending: map[string]chan *IQ{}}
	go s.readLoop()
	defer a.Close()
	defer b.Close()
	seen := make(chan any, 4)
	stop := s.Watch(func(v any) { seen <- v })
	io.WriteString(b, "<message xmlns='jabber:client' from='a@b/c' id='1'><body>x</body></message>")
	select {
	case v := <-seen:
		if m, ok := v.(*Message); !ok || m.ID != "1" {
			t.Fatalf("watched %#v", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher saw nothing")
	}
	<-s.Events()
	stop()
	stop() // twice is harmless
	io.WriteString(b, "<presence xmlns='jabber:client' from='a@b/c'/>")
	<-s.Events()
	select {
	case v := <-seen:
		t.Fatalf("a stopped watcher saw %#v", v)
	default:
	}
	if s.watching.Load() != 0 {
		t.Fatalf("%d watchers left", s.watching.Load())
	}
}

// TestHandoffOtherUser (as root only, which can be another user): the
// observer refuses a client of another uid (SO_PEERCRED) even when file
// permissions let it connect, and a client ignores a socket that belongs
// to another user.
func TestHandoffOtherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to act as another user")
	}
	const nobody = 65534
	fx := newHandoffFixture(t)
	fx.online(t)
	// Let anyone reach and connect to the socket: only the credential
	// check is left to refuse.
	dir := filepath.Dir(fx.path)
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(fx.path, 0o666); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "client.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHandoffHelperClient$")
	cmd.Env = []string{"JAB_HANDOFF_HELPER=" + fx.path}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "answer: \"\"") {
		t.Fatalf("another user's request was answered:\n%s", out)
	}
	select {
	case l := <-fx.logs:
		if !strings.Contains(l, fmt.Sprintf("refused a client of uid %d", nobody)) {
			t.Fatalf("log line %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the refusal was not logged")
	}

	// A socket of another user at the path: ignored, with a warning.
	fx.srv.Close()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: fx.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.Chown(fx.path, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if _, err := HandOff(context.Background(), fx.env, fx.request("alice@example.org")); !isUnavailable(err, true) ||
		!strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Fatalf("another user's socket: %v", err)
	}
}

// TestHandoffHelperClient is the other user's client of
// TestHandoffOtherUser, run in a process of its own.
func TestHandoffHelperClient(t *testing.T) {
	path := os.Getenv("JAB_HANDOFF_HELPER")
	if path == "" {
		t.Skip("a helper of TestHandoffOtherUser")
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, `{"v":1,"op":"send","send":{"account":"me@example.org","to":["a@b"],"type":"chat"}}`+"\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	fmt.Printf("answer: %q\n", b)
}

// TestHandoffSecondObserver: a second observer of the account (another
// resource) leaves the socket to the first, and takes it over once the
// first has gone.
func TestHandoffSecondObserver(t *testing.T) {
	defer func(d time.Duration) { handoffRetry = d }(handoffRetry)
	handoffRetry = 20 * time.Millisecond
	fx := newHandoffFixture(t)
	fx.online(t)
	s2, _ := fakeSession(t, "me@example.org/second")
	live2 := NewLive()
	live2.Set(s2)
	acct, _ := ParseJID("me@example.org")
	srv2 := ServeHandoff(context.Background(), fx.env, HandoffOptions{Account: acct, Live: live2, Command: "repl",
		Logf: func(f string, a ...any) { fx.logs <- fmt.Sprintf(f, a...) }})
	defer srv2.Close()
	time.Sleep(100 * time.Millisecond)
	h, err := HandOff(context.Background(), fx.env, fx.request("alice@example.org"))
	if err != nil || h.JID != "me@example.org/obs" {
		t.Fatalf("with two observers: %v, %+v", err, h)
	}
	h.Close()
	fx.srv.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h, err := HandOff(context.Background(), fx.env, fx.request("alice@example.org"))
		if err == nil {
			if h.JID != "me@example.org/second" || h.Command != "repl" {
				t.Fatalf("after the first observer: %+v", h)
			}
			h.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second observer did not take over: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case l := <-fx.logs:
		t.Fatalf("unexpected log line %q", l)
	default:
	}
}
