package commands_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/peer"
	"github.com/jab-xmpp/jab/session"
)

func anyMessage(*session.Message) bool { return true }

// chatTo is a raw chat message; the tests write their stanzas by hand on
// purpose, as a user of jab raw would.
func chatTo(to, body string) string {
	return "<message to='" + to + "' type='chat'><body>" + body + "</body></message>"
}

// TestRawMessage: a raw message reaches the peer, and jab raw leaves no
// trace in the state: no conversation, no history.
func TestRawMessage(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)

	r := j.mustRun(chatTo(alice.JID, "raw hi"), "raw")
	if r.Stdout != "" {
		t.Errorf("stdout %q, want nothing", r.Stdout)
	}
	m := phone.WaitBody(t, "raw hi")
	if m.Type != "chat" {
		t.Errorf("type %q, want chat", m.Type)
	}
	if st := j.readState(); len(st) != 0 {
		t.Errorf("jab raw wrote the state file: %s", st)
	}
	if h, _ := filepath.Glob(filepath.Join(j.stateDir, "history*")); len(h) != 0 {
		t.Errorf("jab raw wrote history: %v", h)
	}
}

// TestRawSeveralInOrder: two stanzas in one input arrive, in order.
func TestRawSeveralInOrder(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)

	in := "<?xml version='1.0'?>\n" + chatTo(alice.JID, "first") + "\n  <!-- between -->\n" +
		"<message xmlns='jabber:client' to='" + alice.JID + "' type='chat'><body>second &amp; last</body></message>\n"
	j.mustRun(in, "raw")
	phone.WaitBody(t, "second & last")
	var bodies []string
	for _, m := range phone.Messages() {
		if m.Body != "" {
			bodies = append(bodies, m.Body)
		}
	}
	if strings.Join(bodies, "|") != "first|second & last" {
		t.Fatalf("received %q, want first then second", bodies)
	}
}

// TestRawWaitIQ: --wait-iq prints the answer to an iq get as one line of
// XML; an error answer is printed too and makes the exit status 1.
func TestRawWaitIQ(t *testing.T) {
	needServer(t)
	t.Parallel()
	me := newAccount(t, "me")
	j := newJab(t, me)

	r := j.mustRun("<iq type='get' to='"+srv.Domain+"'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>", "raw", "--wait-iq")
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	if len(lines) != 1 || !strings.HasSuffix(r.Stdout, "\n") {
		t.Fatalf("want one line, got %q", r.Stdout)
	}
	t.Logf("answer: %s", lines[0])
	for _, want := range []string{"<iq ", `type="result"`, "http://jabber.org/protocol/disco#info", "<identity"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("answer %q lacks %q", lines[0], want)
		}
	}

	r = j.run("<iq type='get' to='"+srv.Domain+"'><query xmlns='urn:example:nothing'/></iq>", "raw", "--wait-iq")
	if r.Code != 1 {
		t.Fatalf("error answer: want exit 1, got %s", r)
	}
	t.Logf("error answer: %s", r.Stdout)
	if !strings.Contains(r.Stdout, `type="error"`) || strings.Count(r.Stdout, "\n") != 1 {
		t.Errorf("error answer not printed as one line: %q", r.Stdout)
	}
}

// TestRawWaitIQTimeout: an iq nobody answers ends with exit 5.
func TestRawWaitIQTimeout(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice := newAccount(t, "me"), newAccount(t, "alice")
	j := newJab(t, me)
	silent := peer.ConnectSilent(t, peerServer(), alice.User, alice.Password, "silent")

	r := j.run("<iq type='get' to='"+silent.JID+"'><ping xmlns='urn:xmpp:ping'/></iq>", "--timeout", "2s", "raw", "--wait-iq")
	if r.Code != 5 {
		t.Fatalf("want exit 5, got %s", r)
	}
	if r.Stdout != "" {
		t.Errorf("stdout %q, want nothing", r.Stdout)
	}
	if len(silent.IQs()) == 0 {
		t.Errorf("the silent peer received no iq")
	}
}

// TestRawBadInput: input that is not well-formed, or not stanzas, is
// refused before anything is written, even the valid stanza before it.
func TestRawBadInput(t *testing.T) {
	needServer(t)
	t.Parallel()
	_, alice, j, phone := meAndAlice(t)

	tests := []struct {
		name, in, want string
	}{
		{"malformed", chatTo(alice.JID, "before") + "<message><body>x</message>", "not well-formed"},
		{"malformed alone", "<message><body>x</message>", "not well-formed"},
		{"crossed tags", "<message><body>x</message></body>", "not well-formed"},
		{"not a stanza", chatTo(alice.JID, "before") + "<foo/>", "<foo> is not a stanza"},
		{"not a stanza alone", "<foo/>", "<foo> is not a stanza"},
		{"other namespace", "<message xmlns='urn:example'/>", "is not a stanza"},
		{"text outside", chatTo(alice.JID, "before") + "trailing", "text outside a stanza"},
		{"unclosed", chatTo(alice.JID, "before") + "<message to='x'>", "not well-formed"},
		{"empty", "  \n", "no stanza"},
	}
	for _, tt := range tests {
		r := j.run(tt.in, "raw")
		if r.Code != 2 || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("%s: want exit 2 and %q, got %s", tt.name, tt.want, r)
		}
		if r.Stdout != "" {
			t.Errorf("%s: stdout %q", tt.name, r.Stdout)
		}
	}
	phone.NoMessage(t, 500*time.Millisecond, anyMessage)
}

// TestRecipientsFileSend: the file's JIDs and the command line's each
// receive the message once; without command-line JIDs every argument is
// text.
func TestRecipientsFileSend(t *testing.T) {
	needServer(t)
	t.Parallel()
	me, alice, bob, carol := newAccount(t, "me"), newAccount(t, "alice"), newAccount(t, "bob"), newAccount(t, "carol")
	j := newJab(t, me)
	ap, bp, cp := alice.connect(t, "phone"), bob.connect(t, "phone"), carol.connect(t, "phone")
	for _, p := range []*peer.Peer{ap, bp, cp} {
		p.Available(t)
	}
	list := filepath.Join(t.TempDir(), "team.txt")
	content := "# the team\n" + alice.JID + "\n\n   " + bob.JID + "  \n  # bob again:\n" + bob.JID + "\n"
	if err := os.WriteFile(list, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}

	j.mustRun("", "send", "--recipients-file", list, "deploy", "done")
	ap.WaitBody(t, "deploy done")
	bp.WaitBody(t, "deploy done")

	// carol from the command line, alice and bob from the file; alice
	// on both is sent to once.
	j.mustRun("", "send", "--recipients-file", list, carol.JID, alice.JID, "second")
	for _, p := range []*peer.Peer{ap, bp, cp} {
		p.WaitBody(t, "second")
	}
	cp.NoMessage(t, 300*time.Millisecond, func(m *session.Message) bool { return m.Body == "deploy done" })
	for _, p := range []*peer.Peer{ap, bp} {
		n := 0
		for _, m := range p.Messages() {
			if m.Body == "second" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s received %q %d times, want once", p.JID, "second", n)
		}
	}
}
