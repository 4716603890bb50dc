package commands_test

// Integration tests of `jab send` and the command-line surface against the
// real Prosody: what the contact's client actually received, exit codes,
// stdout and stderr, and the state file.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/peer"
	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

var (
	cliUUIDv4      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	cliStableRes   = regexp.MustCompile(`^jab-[0-9a-f]{8}$`)
	cliOneShotRes  = regexp.MustCompile(`^(jab-[0-9a-f]{8})-[0-9a-f]{6}$`)
	cliAnyJabShort = "/jab-"
)

// cliState parses the state file; it must exist and be valid.
func cliState(t *testing.T, j *jab) statefile.State {
	t.Helper()
	data := j.readState()
	var st statefile.State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("state file is not valid JSON: %v\n%s", err, data)
	}
	if st.Version != statefile.Version {
		t.Fatalf("state file version %d, want %d", st.Version, statefile.Version)
	}
	return st
}

// cliAccount returns the state of j's account.
func cliAccount(t *testing.T, j *jab) *statefile.Account {
	t.Helper()
	a := cliState(t, j).Accounts[j.acct.JID]
	if a == nil {
		t.Fatalf("state file has no account %s:\n%s", j.acct.JID, j.readState())
	}
	return a
}

// cliConv returns the conversation with peer, failing if there is none.
func cliConv(t *testing.T, j *jab, peer string) *statefile.Conversation {
	t.Helper()
	c := cliAccount(t, j).Conversations[peer]
	if c == nil {
		t.Fatalf("state file has no conversation with %s:\n%s", peer, j.readState())
	}
	return c
}

// cliWantError checks a failed run: the exit code, exactly one
// "jab: error:" line (plus optional hint, warning and usage lines), nothing on stdout, and
// each of want in the error output (case-insensitive).
func cliWantError(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("want exit %d, got %s", code, r)
	}
	if r.Stdout != "" {
		t.Errorf("stdout should be empty on error: %q", r.Stdout)
	}
	errs := 0
	for _, l := range strings.Split(strings.TrimSuffix(r.Stderr, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "jab: error: "):
			errs++
		case strings.HasPrefix(l, "jab: hint: "), strings.HasPrefix(l, "jab: warning: "), strings.HasPrefix(l, "jab: usage: "):
		default:
			t.Errorf("unexpected stderr line %q", l)
		}
	}
	if errs != 1 {
		t.Errorf("want exactly one 'jab: error:' line, got %d:\n%s", errs, r.Stderr)
	}
	for _, w := range want {
		if !strings.Contains(strings.ToLower(r.Stderr), strings.ToLower(w)) {
			t.Errorf("stderr does not mention %q:\n%s", w, r.Stderr)
		}
	}
}

// cliHint returns the hint line of a result, or "".
func cliHint(r result) string {
	for _, l := range strings.Split(r.Stderr, "\n") {
		if h, ok := strings.CutPrefix(l, "jab: hint: "); ok {
			return h
		}
	}
	return ""
}

// cliBodies returns the bodies of the messages p received from from-prefix.
func cliBodies(msgs []*session.Message, fromPrefix string) []string {
	var out []string
	for _, m := range msgs {
		if strings.HasPrefix(m.From, fromPrefix) && m.Body != "" {
			out = append(out, m.Body)
		}
	}
	return out
}

func cliResourceOf(t *testing.T, full string) string {
	t.Helper()
	j, err := session.ParseJID(full)
	if err != nil || j.Resource == "" {
		t.Fatalf("%q is not a full JID (%v)", full, err)
	}
	return j.Resource
}

// cliOnline gives alice an available "phone" resource.
func cliOnline(t *testing.T, a account) *peer.Peer {
	t.Helper()
	p := a.connect(t, "phone")
	p.Available(t)
	return p
}

// TestCLISendTextAndStdin: TEXT arguments are joined by single spaces;
// without TEXT all of stdin is one message, one trailing newline dropped.
func TestCLISendTextAndStdin(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)

	r := j.mustRun("", "send", alice.JID, "hello", "big", "world")
	if r.Stdout != "" {
		t.Errorf("send without --json printed %q", r.Stdout)
	}
	phone.WaitBody(t, "hello big world")

	j.mustRun("a\nb\n", "send", alice.JID)
	m := phone.WaitMessage(t, 10*time.Second, func(m *session.Message) bool { return strings.HasPrefix(m.Body, "a\n") })
	if m.Body != "a\nb" {
		t.Fatalf("stdin body %q, want %q", m.Body, "a\nb")
	}
	if w := wire(t, phone, m); w.one(t, "stdin body (on the wire)", "body").Text != "a\nb" {
		t.Fatalf("stdin body as received is not %q:\n%s", "a\nb", w.raw)
	}
	j.mustRun("  indented\n\nlast line\n", "send", alice.JID)
	m = phone.WaitMessage(t, 10*time.Second, func(m *session.Message) bool { return strings.Contains(m.Body, "indented") })
	if m.Body != "  indented\n\nlast line" {
		t.Fatalf("stdin body %q, want %q", m.Body, "  indented\n\nlast line")
	}
	if got := cliBodies(phone.Messages(), me.JID+"/"); len(got) != 3 {
		t.Fatalf("want exactly 3 messages, got %q", got)
	}
}

// TestCLISendLines: --lines sends one message per non-empty line, in
// order, over one connection.
func TestCLISendLines(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)

	r := j.mustRun("one\n\ntwo\nthree", "send", "--lines", alice.JID)
	if r.Stdout != "" {
		t.Errorf("stdout %q", r.Stdout)
	}
	phone.WaitBody(t, "three")
	phone.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool { return strings.HasPrefix(m.From, me.JID+"/") && m.Body == "" })
	var bodies []string
	froms := map[string]bool{}
	for _, m := range phone.Messages() {
		if strings.HasPrefix(m.From, me.JID+"/") {
			bodies = append(bodies, m.Body)
			froms[m.From] = true
		}
	}
	if want := []string{"one", "two", "three"}; !slices.Equal(bodies, want) {
		t.Fatalf("received %q, want %q", bodies, want)
	}
	if len(froms) != 1 {
		t.Fatalf("--lines used %d connections (from %v), want one", len(froms), froms)
	}
}

// TestCLISendSeveralRecipients: leading JIDs are recipients; "--" ends
// them, so a JID after it is text.
func TestCLISendSeveralRecipients(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, bob := newAccount(t, "me"), newAccount(t, "alice"), newAccount(t, "bob")
	j := newJab(t, me)
	ap, bp := cliOnline(t, alice), cliOnline(t, bob)

	j.mustRun("", "send", alice.JID, bob.JID, "hello", "both")
	ap.WaitBody(t, "hello both")
	bp.WaitBody(t, "hello both")

	text := bob.JID + " is here"
	j.mustRun("", "send", alice.JID, "--", bob.JID, "is", "here")
	ap.WaitBody(t, text)
	bp.NoMessage(t, 500*time.Millisecond, func(m *session.Message) bool { return strings.Contains(m.Body, "is here") })
	if st := cliAccount(t, j); len(st.Conversations) != 2 {
		t.Fatalf("want conversations with alice and bob only, got %v", slices.Collect(maps.Keys(st.Conversations)))
	}
}

// TestCLISendJSON: --json prints one object per sent message whose id and
// thread are what the peer received; the id is also the origin-id.
func TestCLISendJSON(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, bob := newAccount(t, "me"), newAccount(t, "alice"), newAccount(t, "bob")
	j := newJab(t, me)
	ap, bp := cliOnline(t, alice), cliOnline(t, bob)

	r := j.mustRun("", "send", "--json", alice.JID, bob.JID, "json body")
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.HasSuffix(r.Stdout, "\n") {
		t.Fatalf("want two JSON lines, got %q", r.Stdout)
	}
	peers := map[string]*peer.Peer{alice.JID: ap, bob.JID: bp}
	for _, line := range lines {
		var raw map[string]any
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		for _, k := range []string{"to", "id", "thread", "type"} {
			if _, ok := raw[k].(string); !ok {
				t.Errorf("field %q missing or not a string in %s", k, line)
			}
		}
		to, id, thread := raw["to"].(string), raw["id"].(string), raw["thread"].(string)
		if raw["type"] != "chat" {
			t.Errorf("type %v, want chat", raw["type"])
		}
		p := peers[to]
		if p == nil {
			t.Fatalf("unexpected to %q in %s", to, line)
		}
		delete(peers, to)
		m := p.WaitBody(t, "json body")
		if m.ID != id {
			t.Errorf("%s received id %q, --json said %q", to, m.ID, id)
		}
		w := wire(t, p, m)
		w.wantAttr(t, "--json to (on the wire)", "to", to)
		w.wantAttr(t, "--json id (on the wire)", "id", id)
		w.wantAttr(t, "--json type (on the wire)", "type", "chat")
		w.one(t, "origin-id (on the wire)", "{urn:xmpp:sid:0}origin-id").wantAttr(t, "the id is the origin-id (on the wire)", "id", id)
		if got := w.one(t, "--json thread (on the wire)", "thread").Text; got != thread {
			t.Errorf("%s received thread %q on the wire, --json said %q", to, got, thread)
		}
		if m.OriginID == nil || m.OriginID.ID != id {
			t.Errorf("%s: origin-id %+v, want %q", to, m.OriginID, id)
		}
		if m.ThreadValue() != thread || !cliUUIDv4.MatchString(thread) {
			t.Errorf("%s received thread %q, --json said %q (want a UUIDv4)", to, m.ThreadValue(), thread)
		}
		if c := cliConv(t, j, to); c.Thread != thread {
			t.Errorf("state thread %q, sent %q", c.Thread, thread)
		}
	}
	if len(peers) != 0 {
		t.Fatalf("no JSON line for %v", peers)
	}
}

// TestCLISendTypes: normal messages get a fresh UUIDv4 thread each,
// --thread is used as given, headlines carry no thread and create no
// conversation.
func TestCLISendTypes(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, carol := newAccount(t, "me"), newAccount(t, "alice"), newAccount(t, "carol")
	j := newJab(t, me)
	ap, cp := cliOnline(t, alice), cliOnline(t, carol)

	j.send(alice.JID, "normal 1", "--type", "normal")
	j.send(alice.JID, "normal 2", "--type", "normal")
	n1, n2 := ap.WaitBody(t, "normal 1"), ap.WaitBody(t, "normal 2")
	for _, m := range []*session.Message{n1, n2} {
		if msgType(m) != "normal" {
			t.Errorf("type %q, want normal", m.Type)
		}
		wire(t, ap, m).wantAttr(t, "--type normal (on the wire)", "type", "normal")
		if !cliUUIDv4.MatchString(m.ThreadValue()) {
			t.Errorf("normal message thread %q is not a UUIDv4", m.ThreadValue())
		}
	}
	if n1.ThreadValue() == n2.ThreadValue() {
		t.Errorf("two normal messages share thread %q", n1.ThreadValue())
	}

	j.send(alice.JID, "given thread", "--thread", "my-thread-42")
	if got := ap.WaitBody(t, "given thread").ThreadValue(); got != "my-thread-42" {
		t.Errorf("chat --thread: received thread %q", got)
	}
	if c := cliConv(t, j, alice.JID); c.Thread != "my-thread-42" {
		t.Errorf("state thread %q, want my-thread-42", c.Thread)
	}
	j.send(alice.JID, "given normal thread", "--type", "normal", "--thread", "other-thread")
	if got := ap.WaitBody(t, "given normal thread").ThreadValue(); got != "other-thread" {
		t.Errorf("normal --thread: received thread %q", got)
	}

	r := j.send(carol.JID, "breaking news", "--type", "headline", "--json")
	h := cp.WaitBody(t, "breaking news")
	if h.Type != "headline" || h.Thread != nil {
		t.Errorf("headline: type %q thread %+v, want headline without thread", h.Type, h.Thread)
	}
	hw := wire(t, cp, h)
	hw.wantAttr(t, "--type headline (on the wire)", "type", "headline")
	hw.wantNo(t, "a headline carries no thread (on the wire)", "thread")
	if strings.Contains(r.Stdout, `"thread":"`) && !strings.Contains(r.Stdout, `"thread":""`) {
		t.Errorf("headline --json reports a thread: %s", r.Stdout)
	}
	if c := cliAccount(t, j).Conversations[carol.JID]; c != nil {
		t.Errorf("headline created a conversation: %+v", c)
	}
}

// TestCLISendNewThread: --new-thread replaces the conversation's thread,
// and later sends keep the new one.
func TestCLISendNewThread(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	ap := cliOnline(t, alice)

	j.send(alice.JID, "t-a")
	j.send(alice.JID, "t-b")
	a, b := ap.WaitBody(t, "t-a").ThreadValue(), ap.WaitBody(t, "t-b").ThreadValue()
	if a == "" || a != b {
		t.Fatalf("threads %q then %q, want the same non-empty thread", a, b)
	}
	j.send(alice.JID, "t-c", "--new-thread")
	c := ap.WaitBody(t, "t-c").ThreadValue()
	if c == a || !cliUUIDv4.MatchString(c) {
		t.Fatalf("--new-thread gave %q (old %q), want a different UUIDv4", c, a)
	}
	j.send(alice.JID, "t-d")
	if d := ap.WaitBody(t, "t-d").ThreadValue(); d != c {
		t.Fatalf("after --new-thread the next send used %q, want %q", d, c)
	}
	if got := cliConv(t, j, alice.JID).Thread; got != c {
		t.Fatalf("state thread %q, want %q", got, c)
	}
}

// TestCLISendResources: sends use "<stable>-<6 hex>", a different one each
// run; the stable resource is persisted and listen binds it.
func TestCLISendResources(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	ap := cliOnline(t, alice)

	j.send(alice.JID, "res 1")
	j.send(alice.JID, "res 2")
	stable := cliAccount(t, j).Resource
	if !cliStableRes.MatchString(stable) {
		t.Fatalf("stable resource %q, want jab-<8 hex>", stable)
	}
	r1 := cliResourceOf(t, ap.WaitBody(t, "res 1").From)
	r2 := cliResourceOf(t, ap.WaitBody(t, "res 2").From)
	for _, r := range []string{r1, r2} {
		m := cliOneShotRes.FindStringSubmatch(r)
		if m == nil || m[1] != stable {
			t.Errorf("send resource %q, want %s-<6 hex>", r, stable)
		}
	}
	if r1 == r2 {
		t.Errorf("two sends used the same resource %q", r1)
	}
	if got := cliAccount(t, j).Resource; got != stable {
		t.Errorf("stable resource changed from %q to %q", stable, got)
	}

	l := j.startListen()
	obs := cliObserver(t, j)
	if obs.Resource != stable {
		t.Errorf("listen bound %q, want the stable resource %q", obs.Resource, stable)
	}
	if obs.PID != l.Pid() {
		t.Errorf("observer pid %d, listen pid %d", obs.PID, l.Pid())
	}
}

// cliObserver reads the one observer record of j's state directory.
func cliObserver(t *testing.T, j *jab) statefile.Observer {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(j.stateDir, "observer-*.json"))
	if len(files) != 1 {
		t.Fatalf("want one observer record, got %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var o statefile.Observer
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatalf("observer record %s: %v", data, err)
	}
	return o
}

// cliPresencesFrom returns the presences p received whose from starts with prefix.
func cliPresencesFrom(p *peer.Peer, prefix string) []*session.Presence {
	var out []*session.Presence
	for _, v := range p.Received() {
		if pr, ok := v.(*session.Presence); ok && strings.HasPrefix(pr.From, prefix) {
			out = append(out, pr)
		}
	}
	return out
}

// TestCLISendNoPresence: with a mutual subscription, a contact sees the
// message of a one-shot send but no presence from it; listen's presence
// does reach the contact (so the test would see one).
func TestCLISendNoPresence(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	mine := me.connect(t, "setup")
	mine.Available(t)
	phone := cliOnline(t, alice)

	isType := func(typ, from string) func(*session.Presence) bool {
		return func(p *session.Presence) bool { return p.Type == typ && strings.HasPrefix(p.From, from) }
	}
	mine.Presence(t, alice.JID, "subscribe", "")
	phone.WaitPresence(t, 10*time.Second, isType("subscribe", me.JID))
	phone.Presence(t, me.JID, "subscribed", "")
	phone.Presence(t, me.JID, "subscribe", "")
	mine.WaitPresence(t, 10*time.Second, isType("subscribe", alice.JID))
	mine.Presence(t, alice.JID, "subscribed", "")
	// The subscription works: alice sees my setup resource come online.
	phone.WaitPresence(t, 10*time.Second, isType("", me.JID+"/setup"))
	mine.Sync(t)
	phone.Sync(t)

	j.send(alice.JID, "quiet send")
	phone.WaitBody(t, "quiet send")
	time.Sleep(time.Second)
	phone.Sync(t)
	if got := cliPresencesFrom(phone, me.JID+cliAnyJabShort); len(got) != 0 {
		t.Fatalf("a one-shot send broadcast presence: %s", phone.Dump())
	}

	j.startListen()
	stable := cliAccount(t, j).Resource
	phone.WaitPresence(t, 10*time.Second, isType("", me.JID+"/"+stable))
	for _, p := range cliPresencesFrom(phone, me.JID+cliAnyJabShort) {
		if p.From != me.JID+"/"+stable {
			t.Errorf("presence from %s, only the listen resource %s should send one", p.From, stable)
		}
	}
}

// TestCLISendBounce: a message to a user that does not exist bounces:
// exit 5, the error names it, the state file stays valid.
func TestCLISendBounce(t *testing.T) {
	needServer(t)
	t.Parallel()
	me := newAccount(t, "me")
	j := newJab(t, me)
	ghost := fmt.Sprintf("ghost%d@%s", userN.Add(1), srv.Domain)
	r := j.run("", "send", ghost, "anyone there?")
	cliWantError(t, r, 5, "not delivered", ghost)
	cliState(t, j)
}

// TestCLISendConcurrent: 20 jab send processes on one state directory, to
// 20 contacts at once; every conversation is recorded with its thread.
func TestCLISendConcurrent(t *testing.T) {
	needServer(t)
	t.Parallel()
	const n = 20
	me := newAccount(t, "me")
	j := newJab(t, me)
	peers := make([]string, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		user := fmt.Sprintf("many%d", userN.Add(1))
		peers[i] = user + "@" + srv.Domain
		wg.Go(func() { errs[i] = srv.Register(user, "pw-"+user) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	results := make([]result, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = j.exec("", "send", "--json", peers[i], fmt.Sprintf("concurrent %d", i))
		})
	}
	wg.Wait()
	threads := map[string]string{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("send %d: %v", i, errs[i])
		}
		if results[i].Code != 0 {
			t.Fatalf("send %d: %s", i, results[i])
		}
		var s session.Sent
		if err := json.Unmarshal([]byte(results[i].Stdout), &s); err != nil {
			t.Fatalf("send %d: %q: %v", i, results[i].Stdout, err)
		}
		threads[peers[i]] = s.Thread
	}
	a := cliAccount(t, j)
	if len(a.Conversations) != n {
		t.Fatalf("state has %d conversations, want %d:\n%s", len(a.Conversations), n, j.readState())
	}
	seen := map[string]bool{}
	for _, p := range peers {
		c := a.Conversations[p]
		if c == nil {
			t.Errorf("no conversation with %s", p)
			continue
		}
		if !cliUUIDv4.MatchString(c.Thread) || c.Thread != threads[p] {
			t.Errorf("%s: state thread %q, sent thread %q", p, c.Thread, threads[p])
		}
		if seen[c.Thread] {
			t.Errorf("thread %q used twice", c.Thread)
		}
		seen[c.Thread] = true
	}
	if !cliStableRes.MatchString(a.Resource) {
		t.Errorf("stable resource %q", a.Resource)
	}
}

// cliWriteCA writes a fresh self-signed CA that signed nothing we use.
func cliWriteCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "unrelated test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cliSilentServer accepts connections and never writes.
func cliSilentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// cliClosedPort returns a loopback address nothing listens on.
func cliClosedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// cliRewriteProxy forwards to Prosody, rewriting the to='from' of the
// client's first stream header to to='to': Prosody then serves a stream
// for a domain its certificate covers while jab expects from.
func cliRewriteProxy(t *testing.T, from, to string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c)
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", srv.Addr)
				if err != nil {
					return
				}
				track(up)
				defer up.Close()
				var buf []byte
				tmp := make([]byte, 4096)
				for {
					n, err := c.Read(tmp)
					buf = append(buf, tmp[:n]...)
					if i := bytes.Index(buf, []byte("<stream:stream")); i >= 0 && bytes.IndexByte(buf[i:], '>') >= 0 {
						break
					}
					if err != nil {
						return
					}
				}
				buf = bytes.Replace(buf, []byte("to='"+from+"'"), []byte("to='"+to+"'"), 1)
				if _, err := up.Write(buf); err != nil {
					return
				}
				go func() { io.Copy(up, c); up.Close() }()
				io.Copy(c, up)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestCLIBadInputLeavesStateAlone: every refused invocation exits with its
// code and one error line, sends nothing, and leaves the state file byte
// for byte as it was.
func TestCLIBadInputLeavesStateAlone(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)

	// The proxy works for the right domain (it is the primer send) ...
	proxy := cliRewriteProxy(t, "other.invalid", srv.Domain)
	j.mustRun("", "send", "--server", proxy, alice.JID, "primer")
	phone.WaitBody(t, "primer")
	before := j.readState()
	if len(before) == 0 {
		t.Fatal("no state after the primer send")
	}

	badCA := cliWriteCA(t)
	silent := cliSilentServer(t)
	closed := cliClosedPort(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	to := alice.JID
	// Never messaged: a failed send must not create a conversation with it.
	fresh := fmt.Sprintf("fresh%d@%s", userN.Add(1), srv.Domain)
	big := strings.Repeat("x", 300000)
	cases := []struct {
		name  string
		env   []string
		stdin string
		args  []string
		code  int
		want  []string
		max   time.Duration // 0: no bound checked
	}{
		{name: "recipient double at", args: []string{"send", "alice@@" + srv.Domain, "hi"}, code: 2, want: []string{"recipient"}},
		{name: "recipient no local", args: []string{"send", "@" + srv.Domain, "hi"}, code: 2, want: []string{"recipient"}},
		{name: "recipient space", args: []string{"send", "a b@" + srv.Domain, "hi"}, code: 2, want: []string{"recipient"}},
		{name: "second recipient malformed", args: []string{"send", to, "x@@" + srv.Domain, "hi"}, code: 2},
		{name: "jid flag malformed", args: []string{"send", "--jid", "me@@" + srv.Domain, to, "hi"}, code: 2, want: []string{"--jid"}},
		{name: "jid env malformed", env: []string{"JAB_JID=me@" + srv.Domain + "/"}, args: []string{"send", to, "hi"}, code: 2},
		{name: "no password source", env: []string{"JAB_PASSWORD="}, args: []string{"send", to, "hi"}, code: 2, want: []string{"password", "JAB_PASSWORD"}},
		// (JAB_NO_FAST: on Prosody 13 a stored FAST token would log in
		// whatever the password.)
		{name: "wrong password", env: []string{"JAB_PASSWORD=wrong-" + me.Password, "JAB_NO_FAST=1"}, args: []string{"send", fresh, "hi"}, code: 4, want: []string{"authentication"}},
		{name: "wrong password file", env: []string{"JAB_PASSWORD=", "JAB_NO_FAST=1"}, args: []string{"send", "--password-file", pwFile, to, "hi"}, code: 4},
		{name: "connection refused", args: []string{"send", "--server", closed, fresh, "hi"}, code: 5, max: 5 * time.Second},
		{name: "silent server", args: []string{"send", "--server", silent, "--timeout", "1s", to, "hi"}, code: 5, max: 3 * time.Second},
		{name: "CA mismatch", env: []string{"JAB_CA_FILE=" + badCA}, args: []string{"send", to, "hi"}, code: 1, want: []string{"certificate"}},
		{name: "empty argument", args: []string{"send", to, ""}, code: 2, want: []string{"empty"}},
		{name: "empty stdin", args: []string{"send", to}, code: 2, want: []string{"empty"}},
		{name: "newline stdin", stdin: "\n", args: []string{"send", to}, code: 2, want: []string{"empty"}},
		{name: "whitespace argument", args: []string{"send", to, " \t "}, code: 2, want: []string{"empty"}},
		{name: "whitespace stdin", stdin: " \n\t\n\n", args: []string{"send", to}, code: 2, want: []string{"empty"}},
		{name: "invalid UTF-8 stdin", stdin: "caf\xe9 ok\n", args: []string{"send", to}, code: 2, want: []string{"UTF-8"}},
		{name: "invalid UTF-8 argument", args: []string{"send", to, "caf\xe9"}, code: 2, want: []string{"UTF-8"}},
		{name: "invalid UTF-8 in lines", stdin: "caf\xe9\n", args: []string{"send", "--lines", to}, code: 2, want: []string{"UTF-8"}},
		{name: "over the stanza limit", stdin: big, args: []string{"send", to}, code: 1, want: []string{"limit"}},
		{name: "unknown flag", args: []string{"send", "--frobnicate", to, "hi"}, code: 2, want: []string{"frobnicate"}},
		{name: "unknown global flag", args: []string{"--frobnicate", "send", to, "hi"}, code: 2, want: []string{"frobnicate"}},
		{name: "unknown command", args: []string{"frobnicate", to, "hi"}, code: 2, want: []string{"frobnicate"}},
		{name: "type groupchat", args: []string{"send", "--type", "groupchat", to, "hi"}, code: 2, want: []string{"groupchat"}},
		{name: "type bogus", args: []string{"send", "--type", "bogus", to, "hi"}, code: 2, want: []string{"bogus"}},
		{name: "thread and new-thread", args: []string{"send", "--thread", "a", "--new-thread", to, "hi"}, code: 2, want: []string{"conflict"}},
		{name: "lines with text", args: []string{"send", "--lines", to, "hi"}, code: 2},
		{name: "no recipient", args: []string{"send"}, code: 2},
		{name: "listen with argument", args: []string{"listen", "extra"}, code: 2},
		{name: "bad timeout", args: []string{"send", "--timeout", "soon", to, "hi"}, code: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			jj := *j
			jj.t, jj.extraEnv = t, c.env
			start := time.Now()
			r := jj.run(c.stdin, c.args...)
			took := time.Since(start)
			cliWantError(t, r, c.code, c.want...)
			if c.max > 0 && took > c.max {
				t.Errorf("took %s, want at most %s", took, c.max)
			}
			if after := jj.readState(); !bytes.Equal(before, after) {
				t.Errorf("state file changed:\nbefore: %s\nafter:  %s", before, after)
				before = after
			}
		})
	}
	t.Run("no password source hint", func(t *testing.T) {
		jj := *j
		jj.t, jj.extraEnv = t, []string{"JAB_PASSWORD="}
		if h := cliHint(jj.run("", "send", to, "hi")); !strings.Contains(h, "JAB_PASSWORD") {
			t.Errorf("hint %q does not mention JAB_PASSWORD", h)
		}
	})

	// An account the server does not know is an authentication failure.
	// (Own state directory: jab records a stable resource for the account
	// before it connects.)
	t.Run("unknown account", func(t *testing.T) {
		jj := newJab(t, me)
		cliWantError(t, jj.run("", "send", "--jid", "nobody-here@"+srv.Domain, to, "hi"), 4, "authentication")
	})

	// A name mismatch: jab connects (through the proxy) to Prosody, whose
	// certificate does not name other.invalid.
	t.Run("certificate name mismatch", func(t *testing.T) {
		jj := newJab(t, me)
		r := jj.run("", "send", "--jid", me.User+"@other.invalid", "--server", proxy, to, "hi")
		cliWantError(t, r, 1, "certificate", "other.invalid")
	})

	phone.NoMessage(t, 500*time.Millisecond, func(m *session.Message) bool { return m.Body != "primer" })
	if got := cliBodies(phone.Messages(), me.JID+"/"); !slices.Equal(got, []string{"primer"}) {
		t.Fatalf("refused invocations sent something: %q", got)
	}

	// jab is still usable after the refused oversize message.
	j.send(alice.JID, "still works")
	phone.WaitBody(t, "still works")
}

// TestCLIStateFileRefused: a corrupt state file, or one from a newer jab,
// is refused with exit 1 naming the path and a hint, and never rewritten.
func TestCLIStateFileRefused(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	phone := cliOnline(t, alice)
	for name, content := range map[string]string{"corrupt": "{not json", "newer": `{"version": 99}` + "\n"} {
		t.Run(name, func(t *testing.T) {
			j := newJab(t, me)
			if err := os.MkdirAll(j.stateDir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(j.stateDir, "state.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"send", alice.JID, "must not arrive"}, {"listen", "--timeout", "2s"}} {
				r := j.run("", args...)
				cliWantError(t, r, 1, path)
				if cliHint(r) == "" {
					t.Errorf("%v: no hint: %s", args, r)
				}
				if got, _ := os.ReadFile(path); string(got) != content {
					t.Errorf("%v: state file changed to %q", args, got)
				}
			}
		})
	}
	phone.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool { return m.Body == "must not arrive" })
}

// TestCLIDebugRedactsPassword: --debug shows the stream on stderr and
// never the password; the SASL exchange is shown as redacted.
func TestCLIDebugRedactsPassword(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)

	for _, args := range [][]string{{"--debug", "send", alice.JID, "debug one"}, {"send", "--debug", alice.JID, "debug two"}} {
		r := j.mustRun("", args...)
		if r.Stdout != "" {
			t.Errorf("--debug wrote to stdout: %q", r.Stdout)
		}
		if !regexp.MustCompile(`(?m)^SEND <`).MatchString(r.Stderr) || !regexp.MustCompile(`(?m)^RECV <`).MatchString(r.Stderr) {
			t.Errorf("no SEND/RECV lines on stderr:\n%.2000s", r.Stderr)
		}
		if !strings.Contains(r.Stderr, "redacted") {
			t.Errorf("the SASL exchange is not shown as redacted:\n%.4000s", r.Stderr)
		}
		if !strings.Contains(r.Stderr, args[len(args)-1]) {
			t.Errorf("the message stanza is not in the debug output")
		}
		secrets := []string{
			me.Password,
			base64.StdEncoding.EncodeToString([]byte(me.Password)),
			base64.StdEncoding.EncodeToString([]byte("\x00" + me.User + "\x00" + me.Password)),
			base64.StdEncoding.EncodeToString([]byte(me.User + "\x00" + me.Password)),
		}
		for _, s := range secrets {
			if strings.Contains(r.Stderr, s) {
				t.Errorf("debug output contains the password (%q)", s)
			}
		}
		// No base64 SASL payload either: the auth elements carry no text.
		if regexp.MustCompile(`<(auth|response|challenge|success)[^>]*>[A-Za-z0-9+/=]{8,}`).MatchString(r.Stderr) {
			t.Errorf("debug output shows a SASL payload:\n%s", r.Stderr)
		}
		phone.WaitBody(t, args[len(args)-1])
	}
}

// TestCLIPasswordSources: --password-file, --password-cmd and
// JAB_PASSWORD_FILE each log in.
func TestCLIPasswordSources(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, j, phone := meAndAlice(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(me.Password+"\nsecond line ignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	j.extraEnv = []string{"JAB_PASSWORD="}
	j.send(alice.JID, "via file flag", "--password-file", pwFile)
	j.send(alice.JID, "via cmd flag", "--password-cmd", "echo '"+me.Password+"'")
	j.extraEnv = []string{"JAB_PASSWORD=", "JAB_PASSWORD_FILE=" + pwFile}
	j.send(alice.JID, "via file env")
	j.extraEnv = []string{"JAB_PASSWORD=", "JAB_PASSWORD_CMD=printf '%s\\n' '" + me.Password + "'"}
	j.send(alice.JID, "via cmd env")
	for _, b := range []string{"via file flag", "via cmd flag", "via file env", "via cmd env"} {
		phone.WaitBody(t, b)
	}
}
