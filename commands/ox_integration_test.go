package commands_test

// OpenPGP for XMPP (XEP-0373/0374) against a real Prosody with mod_pep,
// and with GnuPG as the contact's OpenPGP: an implementation we did not
// write encrypts, signs, decrypts and verifies what jab exchanges.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/peer"
	"github.com/jab-xmpp/jab/internal/testserver"
	"github.com/jab-xmpp/jab/session"
)

var (
	oxOnce sync.Once
	oxSrv  *testserver.Server
	oxErr  error
	gpgDir string // GNUPGHOME shared by the package's tests
)

func stopOXServer() {
	if oxSrv != nil {
		oxSrv.Stop()
	}
	if gpgDir != "" {
		cmd := exec.Command("gpgconf", "--kill", "gpg-agent")
		cmd.Env = append(os.Environ(), "GNUPGHOME="+gpgDir)
		cmd.Run()
		os.RemoveAll(gpgDir)
	}
}

// oxServer is a Prosody of the run's kind with mod_pep (XEP-0163),
// started on first use. The OX tests run against Prosody only: the
// publish-options handling they check is Prosody's.
func oxServer(t *testing.T) *testserver.Server {
	t.Helper()
	onlyOn(t, "the OX tests use Prosody's PEP", testserver.Prosody, testserver.Prosody13)
	oxOnce.Do(func() {
		oxSrv, oxErr = testserver.Start(serverKind, testserver.Options{PEP: true})
		if oxErr == nil {
			// A short path: gpg-agent's socket lives in it.
			gpgDir, oxErr = os.MkdirTemp("", "jgpg")
		}
	})
	if oxErr != nil {
		t.Fatalf("start prosody with mod_pep: %v", oxErr)
	}
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatalf("the OX tests need GnuPG (.ci/deps installs gnupg): %v", err)
	}
	return oxSrv
}

// oxCast is our account with its jab (a key generated and published,
// the passphrase in a file) and a contact alice whose OpenPGP is gpg.
type oxCast struct {
	me, alice account
	j         *jab
	phone     *peer.Peer
	passFile  string
	meFP      string
	aliceFP   string
}

const oxPassphrase = "correct horse battery staple"

func newOXCast(t *testing.T) *oxCast {
	t.Helper()
	s := oxServer(t)
	c := &oxCast{me: newAccountOn(t, s, "oxme"), alice: newAccountOn(t, s, "oxalice")}
	c.j = newJab(t, c.me)
	c.passFile = filepath.Join(c.j.home, "passphrase")
	if err := os.WriteFile(c.passFile, []byte(oxPassphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.j.extraEnv = append(c.j.extraEnv, "JAB_SERVER="+s.Addr, "JAB_CA_FILE="+s.CAFile, "JAB_KEY_PASSPHRASE_FILE="+c.passFile)
	c.meFP = strings.TrimSpace(c.j.mustRun("", "keys", "generate").Stdout)
	c.j.mustRun("", "keys", "publish")
	// gpg knows our public key, as alice's client would from PEP.
	gpg(t, c.j.mustRun("", "keys", "export").Stdout, "--import")
	c.phone = oxPeer(t, c.alice, "phone")
	c.phone.Available(t)
	c.aliceFP = gpgKey(t, c.alice.JID)
	publishKey(t, c.phone, c.aliceFP)
	return c
}

func oxPeer(t *testing.T, a account, resource string) *peer.Peer {
	s := oxServer(t)
	return peer.Connect(t, peer.Server{Addr: s.Addr, Domain: s.Domain, CAFile: s.CAFile}, a.User, a.Password, resource)
}

// gpg runs gpg in the shared home with stdin and returns stdout.
func gpg(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, stderr, err := gpgRun(stdin, args...)
	if err != nil {
		t.Fatalf("gpg %v: %v\n%s", args, err, stderr)
	}
	return out
}

func gpgRun(stdin string, args ...string) (string, string, error) {
	cmd := exec.Command("gpg", append([]string{"--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", "",
		"--trust-model", "always"}, args...)...)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+gpgDir)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// gpgKey makes an ed25519 key with a cv25519 subkey for jid in gpg and
// returns its fingerprint.
func gpgKey(t *testing.T, jid string) string {
	t.Helper()
	uid := "xmpp:" + jid
	// The status line names the new key: a user id may have several.
	_, status, err := gpgRun("", "--status-fd", "2", "--quick-gen-key", uid, "ed25519", "sign", "never")
	fp := ""
	for _, line := range strings.Split(status, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[1] == "KEY_CREATED" {
			fp = f[3]
		}
	}
	if err != nil || fp == "" {
		t.Fatalf("gpg made no key for %s: %v\n%s", uid, err, status)
	}
	gpg(t, "", "--quick-add-key", fp, "cv25519", "encr", "never")
	return fp
}

// publishKey publishes gpg's key fp on p's PEP service (XEP-0373 §4.1,
// §4.2), open to anyone, as an OX client would.
func publishKey(t *testing.T, p *peer.Peer, fps ...string) {
	t.Helper()
	opts := `<publish-options><x xmlns='jabber:x:data' type='submit'>` +
		`<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>` +
		`<field var='pubsub#access_model'><value>open</value></field></x></publish-options>`
	meta := ""
	for _, fp := range fps {
		key := base64.StdEncoding.EncodeToString([]byte(gpg(t, "", "--export", fp)))
		pubsubSet(t, p, `<publish node='urn:xmpp:openpgp:0:public-keys:`+fp+`'><item id='`+time.Now().UTC().Format(time.RFC3339)+
			`'><pubkey xmlns='urn:xmpp:openpgp:0'><data>`+key+`</data></pubkey></item></publish>`+opts)
		meta += `<pubkey-metadata v4-fingerprint='` + fp + `' date='` + time.Now().UTC().Format(time.RFC3339) + `'/>`
	}
	pubsubSet(t, p, `<publish node='urn:xmpp:openpgp:0:public-keys'><item id='current'><public-keys-list xmlns='urn:xmpp:openpgp:0'>`+
		meta+`</public-keys-list></item></publish>`+opts)
}

func pubsubSet(t *testing.T, p *peer.Peer, inner string) {
	t.Helper()
	r := p.Request(t, &session.IQ{Type: "set", Payload: &session.RawElement{
		XMLName: xml.Name{Space: "http://jabber.org/protocol/pubsub", Local: "pubsub"}, Inner: []byte(inner)}})
	if r.Type != "result" {
		t.Fatalf("publish: %s", p.Dump())
	}
}

// oxStanza is the <openpgp/> of an encrypted message, as received.
type wireSigncrypt struct {
	To []struct {
		JID string `xml:"jid,attr"`
	} `xml:"to"`
	Time []struct {
		Stamp string `xml:"stamp,attr"`
	} `xml:"time"`
	Rpad    []string `xml:"rpad"`
	Payload []struct {
		Body []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:"body"`
		Thread []string `xml:"thread"`
	} `xml:"payload"`
}

// TestOXSendToGPG: jab encrypts to the key the contact published; gpg
// decrypts it with the contact's secret key, verifies our signature, and
// the signcrypt says what XEP-0373 §3.1 asks. The wire carries the
// fallback body and the XEP-0380 hint, never the text.
func TestOXSendToGPG(t *testing.T) {
	needServer(t)
	c := newOXCast(t)
	const secret = "the launch code is 0000"
	r := c.j.mustRun("", "send", "--encrypt", "--debug", "--thread", "ox-thread-1", c.alice.JID, secret)
	if strings.Contains(r.Stderr, secret) || strings.Contains(r.Stderr, oxPassphrase) {
		t.Fatalf("--debug shows the text or the passphrase:\n%s", r.Stderr)
	}
	// Plain jab handed the command to the jab-ox beside it.
	if want := "jab: OpenPGP: running " + filepath.Join(filepath.Dir(jabBin), "jab-ox") + "\n"; !strings.HasPrefix(r.Stderr, want) {
		t.Errorf("--debug does not start with %q:\n%s", want, r.Stderr)
	}
	m := c.phone.WaitMessage(t, 10*time.Second, func(m *session.Message) bool { return m.Body != "" })
	w := wire(t, c.phone, m)
	if strings.Contains(w.raw, secret) {
		t.Fatalf("the text went out in the clear:\n%s", w.raw)
	}
	if body := w.one(t, "fallback", "body").Text; !strings.Contains(body, "encrypted") {
		t.Fatalf("fallback body %q", body)
	}
	eme := w.one(t, "EME hint", "{urn:xmpp:eme:0}encryption")
	eme.wantAttr(t, "EME hint", "namespace", "urn:xmpp:openpgp:0")
	w.one(t, "store hint", "{urn:xmpp:hints}store")
	data := w.one(t, "openpgp element", "{urn:xmpp:openpgp:0}openpgp").Text
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(data), ""))
	if err != nil {
		t.Fatalf("openpgp content is not base64: %v", err)
	}
	plain, status, err := gpgRun(string(raw), "--status-fd", "2", "--decrypt")
	if err != nil {
		t.Fatalf("gpg cannot decrypt what jab sent: %v\n%s", err, status)
	}
	if !strings.Contains(status, "[GNUPG:] VALIDSIG "+c.meFP) {
		t.Fatalf("gpg did not find our valid signature:\n%s", status)
	}
	var sc wireSigncrypt
	dec := xml.NewDecoder(strings.NewReader(plain))
	var start xml.StartElement
	for {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("no element in the decrypted text %q: %v", plain, err)
		}
		if s, ok := tok.(xml.StartElement); ok {
			start = s
			break
		}
	}
	if start.Name.Space != "urn:xmpp:openpgp:0" || start.Name.Local != "signcrypt" {
		t.Fatalf("decrypted %q, want a signcrypt", plain)
	}
	if err := dec.DecodeElement(&sc, &start); err != nil {
		t.Fatal(err)
	}
	if len(sc.To) != 1 || sc.To[0].JID != c.alice.JID {
		t.Errorf("to %+v, want %s (bare)", sc.To, c.alice.JID)
	}
	if len(sc.Time) != 1 {
		t.Fatalf("time %+v", sc.Time)
	}
	if ts, err := time.Parse(time.RFC3339, sc.Time[0].Stamp); err != nil || time.Since(ts).Abs() > time.Minute {
		t.Errorf("time %q: %v", sc.Time[0].Stamp, err)
	}
	if len(sc.Rpad) != 1 || sc.Rpad[0] == "" {
		t.Errorf("rpad %q", sc.Rpad)
	}
	if len(sc.Payload) != 1 || len(sc.Payload[0].Body) != 1 || sc.Payload[0].Body[0].Value != secret ||
		sc.Payload[0].Body[0].XMLName.Space != "jabber:client" {
		t.Fatalf("payload %+v", sc.Payload)
	}
	if th := sc.Payload[0].Thread; len(th) != 1 || th[0] != "ox-thread-1" {
		t.Errorf("payload thread %q", th)
	}
	// The key was pinned on first use; the history keeps the text, marked.
	if out := c.j.mustRun("", "keys", "list", c.alice.JID).Stdout; !strings.Contains(out, "trusted\t"+c.aliceFP+"\tfirst-use") {
		t.Errorf("keys list: %q", out)
	}
	hist, _ := os.ReadFile(filepath.Join(c.j.stateDir, "history.jsonl"))
	if !strings.Contains(string(hist), `"encrypted":true`) || strings.Contains(string(hist), oxPassphrase) {
		t.Errorf("history: %s", hist)
	}
	for _, name := range []string{"state.json", "history.jsonl"} {
		data, _ := os.ReadFile(filepath.Join(c.j.stateDir, name))
		if bytes.Contains(data, []byte(oxPassphrase)) {
			t.Errorf("%s holds the passphrase", name)
		}
	}
}

// TestOXRefused: nothing is sent, exit 2, to a contact whose key is
// missing, swapped, or (with --trust always) not trusted yet; trusting
// the new key by its fingerprint lets the message through.
func TestOXRefused(t *testing.T) {
	needServer(t)
	c := newOXCast(t)
	c.j.mustRun("", "send", "--encrypt", c.alice.JID, "first")
	c.phone.WaitBody(t, "This message is encrypted with OpenPGP for XMPP (XEP-0373), which your client cannot read.")

	// The server now publishes another key for alice.
	swapped := gpgKey(t, c.alice.JID)
	publishKey(t, c.phone, swapped)
	r := c.j.run("", "send", "--encrypt", c.alice.JID, "second")
	if r.Code != 2 || !strings.Contains(r.Stderr, swapped) || !strings.Contains(r.Stderr, c.aliceFP) ||
		!strings.Contains(r.Stderr, "jab keys trust") {
		t.Fatalf("send to a swapped key: %s", r)
	}
	if n := encryptedCount(c.phone, time.Second); n != 1 {
		t.Fatalf("alice received %d encrypted messages, want the first alone", n)
	}
	c.j.mustRun("", "keys", "trust", c.alice.JID, swapped)
	c.j.mustRun("", "send", "--encrypt", c.alice.JID, "third")
	for end := time.Now().Add(10 * time.Second); encryptedCount(c.phone, 0) < 2 && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	if n := encryptedCount(c.phone, 0); n != 2 {
		t.Fatalf("after jab keys trust, alice has %d encrypted messages, want 2", n)
	}

	// A contact who publishes nothing (Prosody: item-not-found or
	// forbidden for the node).
	bob := newAccountOn(t, oxServer(t), "oxbob")
	bobPhone := oxPeer(t, bob, "phone")
	bobPhone.Available(t)
	r = c.j.run("", "send", "--encrypt", bob.JID, "hello")
	if r.Code != 2 || !strings.Contains(r.Stderr, "publishes no OpenPGP key") {
		t.Fatalf("send to a contact without a key: %s", r)
	}
	// --trust always: even a first key needs the user's word.
	bobFP := gpgKey(t, bob.JID)
	publishKey(t, bobPhone, bobFP)
	r = c.j.run("", "send", "--encrypt", "--trust", "always", bob.JID, "hello")
	if r.Code != 2 || !strings.Contains(r.Stderr, bobFP) {
		t.Fatalf("--trust always, first key: %s", r)
	}
	if n := encryptedCount(bobPhone, time.Second); n != 0 {
		t.Fatalf("bob received %d messages", n)
	}
	// A wrong passphrase: exit 2, and it is not echoed.
	bad := filepath.Join(c.j.home, "bad")
	os.WriteFile(bad, []byte("not it\n"), 0o600)
	r = c.j.run("", "send", "--encrypt", "--key-passphrase-file", bad, c.alice.JID, "x")
	if r.Code != 2 || strings.Contains(r.Stderr, "not it") || !strings.Contains(r.Stderr, "passphrase is wrong") {
		t.Fatalf("wrong passphrase: %s", r)
	}
}

// encryptedCount is the number of encrypted messages p has received,
// after waiting d (the send has returned: the server has routed them).
func encryptedCount(p *peer.Peer, d time.Duration) int {
	time.Sleep(d)
	n := 0
	for _, m := range p.Messages() {
		if m.OpenPGP != nil || m.Body != "" {
			n++
		}
	}
	return n
}

// signcryptFrom is a <signcrypt/> to to, signed at ts, as an OX client
// writes it.
func signcryptFrom(to string, ts time.Time, body, thread string) string {
	return `<signcrypt xmlns='urn:xmpp:openpgp:0'><to jid='` + to + `'/><time stamp='` + ts.UTC().Format(time.RFC3339) +
		`'/><rpad>abc</rpad><payload><body xmlns='jabber:client'>` + body + `</body><thread xmlns='jabber:client'>` + thread +
		`</thread></payload></signcrypt>`
}

// sendOX has alice's gpg sign (with signer) and encrypt sc to recipients,
// and her phone deliver it to to.
func sendOX(t *testing.T, p *peer.Peer, to, sc, signer string, recipients ...string) {
	t.Helper()
	args := []string{"--sign", "--encrypt", "--local-user", signer}
	for _, r := range recipients {
		args = append(args, "--recipient", r)
	}
	ct := gpg(t, sc, args...)
	sendOXRaw(t, p, to, base64.StdEncoding.EncodeToString([]byte(ct)))
}

func sendOXRaw(t *testing.T, p *peer.Peer, to, data string) {
	t.Helper()
	p.Raw(t, `<message to='`+to+`' type='chat' id='`+session.NewID()+`'><body>This message is encrypted.</body>`+
		`<encryption xmlns='urn:xmpp:eme:0' namespace='urn:xmpp:openpgp:0'/><openpgp xmlns='urn:xmpp:openpgp:0'>`+data+`</openpgp></message>`)
}

// TestOXReceiveFromGPG: listen decrypts what gpg signed and encrypted,
// verifies it against the key alice published (pinned on first use),
// and refuses the signcrypt that names someone else, that is too old,
// or that does not decrypt; a message signed by another key is shown
// unverified, and --exec runs for the verified one alone.
func TestOXReceiveFromGPG(t *testing.T) {
	needServer(t)
	c := newOXCast(t)
	ran := filepath.Join(c.j.home, "ran")
	l := c.j.startListen("--json", "--exec", "cat >> "+ran+"; echo; echo got it")
	now := time.Now()

	sendOX(t, c.phone, c.me.JID, signcryptFrom(c.me.JID, now, "hello from gpg", "gpg-thread"), c.aliceFP, c.meFP, c.aliceFP)
	ev := waitJSON(t, l, "hello from gpg")
	if ev["encrypted"] != true || ev["verified"] != true || ev["thread"] != "gpg-thread" {
		t.Fatalf("record %v", ev)
	}
	// The bot's answer to an encrypted message is encrypted too: gpg reads it.
	reply := c.phone.WaitMessage(t, 10*time.Second, func(m *session.Message) bool { return m.OpenPGP != nil })
	raw, _ := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(reply.OpenPGP.Data), ""))
	if plain, status, err := gpgRun(string(raw), "--status-fd", "2", "--decrypt"); err != nil || !strings.Contains(plain, "got it") ||
		!strings.Contains(status, "VALIDSIG "+c.meFP) {
		t.Fatalf("the bot's answer: %v %q\n%s", err, plain, status)
	}

	cases := []struct {
		name, sc, signer, want string
		verified               any // nil: an error record
	}{
		{"wrong to", signcryptFrom("someone@"+oxServer(t).Domain, now, "not for you", "t"), c.aliceFP, "addressed to", nil},
		{"old time", signcryptFrom(c.me.JID, now.Add(-48*time.Hour), "old news", "t"), c.aliceFP, "replayed", nil},
	}
	mallory := gpgKey(t, c.alice.JID) // a key that says it is alice's, never published
	cases = append(cases, struct {
		name, sc, signer, want string
		verified               any
	}{"wrong signer", signcryptFrom(c.me.JID, now, "signed by mallory", "t"), mallory, "not a key of", false})
	for _, tc := range cases {
		sendOX(t, c.phone, c.me.JID, tc.sc, tc.signer, c.meFP)
		ev := waitJSON(t, l, tc.want)
		if tc.verified == nil {
			if ev["body"] != "" || ev["encrypted"] != true || ev["verified"] != false {
				t.Errorf("%s: want an error record without the fallback body, got %v", tc.name, ev)
			}
		} else if ev["verified"] != tc.verified || ev["body"] != "signed by mallory" {
			t.Errorf("%s: %v", tc.name, ev)
		}
	}
	sendOXRaw(t, c.phone, c.me.JID, base64.StdEncoding.EncodeToString([]byte("\x84\x5e\x03garbage")))
	ev = waitJSON(t, l, "cannot decrypt")
	if ev["body"] != "" {
		t.Errorf("corrupt message: %v", ev)
	}
	l.stop()
	got, _ := os.ReadFile(ran)
	if strings.TrimSpace(string(got)) != "hello from gpg" {
		t.Errorf("--exec ran for %q; want the verified message alone", got)
	}
	for _, line := range l.Lines() {
		if strings.Contains(line, "This message is encrypted") {
			t.Errorf("the fallback body was shown as the message: %s", line)
		}
	}
}

// waitJSON waits for a listen --json line containing substr and decodes it.
func waitJSON(t *testing.T, l *proc, substr string) map[string]any {
	t.Helper()
	line := l.waitLine(substr, 15*time.Second)
	var ev map[string]any
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	return ev
}

// TestOXPublishReconfigures: a metadata node that exists with another
// access model refuses publish-options (Prosody: precondition-not-met);
// jab keys publish reconfigures it to open, and a stranger can then
// fetch our keys.
func TestOXPublishReconfigures(t *testing.T) {
	needServer(t)
	s := oxServer(t)
	me := newAccountOn(t, s, "oxpub")
	mine := oxPeer(t, me, "setup")
	mine.Request(t, &session.IQ{Type: "set", Payload: &session.RawElement{
		XMLName: xml.Name{Space: "http://jabber.org/protocol/pubsub", Local: "pubsub"},
		Inner: []byte(`<publish node='urn:xmpp:openpgp:0:public-keys'><item id='current'><public-keys-list xmlns='urn:xmpp:openpgp:0'/></item></publish>` +
			`<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>` +
			`<field var='pubsub#access_model'><value>whitelist</value></field></x></publish-options>`)}})
	j := newJab(t, me)
	pass := filepath.Join(j.home, "pass")
	os.WriteFile(pass, []byte("pw\n"), 0o600)
	j.extraEnv = append(j.extraEnv, "JAB_SERVER="+s.Addr, "JAB_CA_FILE="+s.CAFile, "JAB_KEY_PASSPHRASE_FILE="+pass)
	fp := strings.TrimSpace(j.mustRun("", "keys", "generate").Stdout)
	j.mustRun("", "keys", "publish")
	stranger := oxPeer(t, newAccountOn(t, s, "oxstranger"), "x")
	r := stranger.Request(t, &session.IQ{To: me.JID, Type: "get", Payload: &session.RawElement{
		XMLName: xml.Name{Space: "http://jabber.org/protocol/pubsub", Local: "pubsub"},
		Inner:   []byte(`<items node='urn:xmpp:openpgp:0:public-keys'/>`)}})
	if r.Type != "result" || !strings.Contains(string(r.Payload.Inner), fp) {
		t.Fatalf("a stranger fetching our key list: %s", stranger.Dump())
	}
}

// TestOXRepl: the REPL of an account with a key runs as jab-ox and
// decrypts like listen: a message gpg signed with the contact's pinned
// key is printed marked verified, one signed by another key is marked
// not verified, and the fallback body is never shown.
func TestOXRepl(t *testing.T) {
	needServer(t)
	c := newOXCast(t)
	r := c.j.startReplPipe(c.alice.JID)
	now := time.Now()
	sendOX(t, c.phone, c.me.JID, signcryptFrom(c.me.JID, now, "hello repl", "gpg-thread"), c.aliceFP, c.meFP, c.aliceFP)
	if got := r.waitLine("hello repl", 15*time.Second); !strings.Contains(got, "[encrypted, verified]") {
		t.Errorf("the REPL printed %q, want it marked [encrypted, verified]", got)
	}
	mallory := gpgKey(t, c.alice.JID) // says it is alice's, never published
	sendOX(t, c.phone, c.me.JID, signcryptFrom(c.me.JID, now, "from mallory", "t"), mallory, c.meFP)
	if got := r.waitLine("from mallory", 15*time.Second); !strings.Contains(got, "NOT verified") || strings.Contains(got, "[encrypted, verified]") {
		t.Errorf("the REPL printed %q, want it marked NOT verified", got)
	}
	for _, line := range r.Lines() {
		if strings.Contains(line, "This message is encrypted") {
			t.Errorf("the fallback body was shown as the message: %s", line)
		}
	}
}
