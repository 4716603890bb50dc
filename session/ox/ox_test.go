package ox

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	fpA = "1357B01865B2503C18453D208CAC2A9678548E35"
	fpB = "67819B343B2AB70DED9320872C6464AF2A8E4C02"
	fpC = "0000000000000000000000000000000000000001"
)

func TestDecide(t *testing.T) {
	pinned := func(fps ...string) *statefile.KeyPins {
		p := &statefile.KeyPins{}
		for _, fp := range fps {
			p.Trusted = append(p.Trusted, statefile.Pin{Fingerprint: fp})
		}
		return p
	}
	refused := &statefile.KeyPins{Trusted: []statefile.Pin{{Fingerprint: fpA}}, Refused: []string{fpB}}
	for _, c := range []struct {
		name      string
		pins      *statefile.KeyPins
		published []string
		mode      string
		use, pin  []string
		err       []string // substrings of the error; nil: no error
	}{
		{"first use pins every key", nil, []string{fpA, fpB}, TrustFirstUse, []string{fpA, fpB}, []string{fpA, fpB}, nil},
		{"first use under --trust always is refused", nil, []string{fpA}, TrustAlways, nil, nil, []string{"trusted yet", "jab keys trust", fpA}},
		{"nothing published", nil, nil, TrustFirstUse, nil, nil, []string{"publishes no OpenPGP key"}},
		{"pinned key still published", pinned(fpA), []string{fpA}, TrustFirstUse, []string{fpA}, nil, nil},
		{"pinned key, --trust always", pinned(fpA), []string{fpA}, TrustAlways, []string{fpA}, nil, nil},
		{"swapped key names both fingerprints", pinned(fpA), []string{fpB}, TrustFirstUse, nil, nil, []string{"changed", fpB, fpA, "jab keys trust"}},
		{"an added key refuses too", pinned(fpA), []string{fpA, fpB}, TrustFirstUse, nil, nil, []string{"changed", fpB, fpA}},
		{"a retired pinned key is simply not used", pinned(fpA, fpB), []string{fpB}, TrustFirstUse, []string{fpB}, nil, nil},
		{"refused key is skipped", refused, []string{fpA, fpB}, TrustFirstUse, []string{fpA}, nil, nil},
		{"only refused keys", refused, []string{fpB}, TrustFirstUse, nil, nil, []string{"only keys you untrusted"}},
		{"met, every pin removed: no first use again", &statefile.KeyPins{}, []string{fpC}, TrustFirstUse, nil, nil, []string{"changed", fpC, "none"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Decide("alice@example.org", c.pins, c.published, c.mode)
			if c.err != nil {
				if d.Err == nil {
					t.Fatalf("no error; use %v pin %v", d.Use, d.Pin)
				}
				msg := d.Err.Error() + " / " + d.Err.Hint
				for _, s := range c.err {
					if !strings.Contains(msg, s) {
						t.Errorf("error %q lacks %q", msg, s)
					}
				}
				if len(d.Use) > 0 {
					t.Errorf("refused, yet use %v", d.Use)
				}
				return
			}
			if d.Err != nil {
				t.Fatalf("error %v", d.Err)
			}
			if fmt.Sprint(d.Use) != fmt.Sprint(c.use) || fmt.Sprint(d.Pin) != fmt.Sprint(c.pin) {
				t.Errorf("use %v pin %v, want use %v pin %v", d.Use, d.Pin, c.use, c.pin)
			}
		})
	}
}

func TestSigner(t *testing.T) {
	pins := &statefile.KeyPins{Trusted: []statefile.Pin{{Fingerprint: fpA}}, Refused: []string{fpB}}
	for _, c := range []struct {
		name string
		pins *statefile.KeyPins
		fp   string
		ok   bool
	}{
		{"pinned", pins, fpA, true},
		{"refused", pins, fpB, false},
		{"unknown", pins, fpC, false},
		{"never met", nil, fpA, false},
	} {
		if got := Signer("alice@example.org", c.pins, c.fp); (got == "") != c.ok {
			t.Errorf("%s: Signer = %q, want ok %v", c.name, got, c.ok)
		}
	}
}

func TestCheck(t *testing.T) {
	body := `<payload><body xmlns='jabber:client'>hi</body></payload>`
	sc := func(inner string) *Signcrypt {
		s, err := ParseSigncrypt([]byte(`<signcrypt xmlns='urn:xmpp:openpgp:0'>` + inner + `</signcrypt>`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	stamp := func(d time.Duration) string { return `<time stamp='` + t0.Add(d).Format(time.RFC3339) + `'/>` }
	for _, c := range []struct {
		name, inner string
		problem     string // "" ok
	}{
		{"good", `<to jid='me@example.org'/>` + stamp(0) + `<rpad>xx</rpad>` + body, ""},
		{"to with a resource", `<to jid='me@example.org/phone'/>` + stamp(0) + body, ""},
		{"one of several to", `<to jid='bob@example.org'/><to jid='me@example.org'/>` + stamp(0) + body, ""},
		{"wrong to", `<to jid='bob@example.org'/>` + stamp(0) + body, "addressed to bob@example.org"},
		{"no to", stamp(0) + body, "names no recipient"},
		{"a day old is still fine", `<to jid='me@example.org'/>` + stamp(-ReplayWindow+time.Minute) + body, ""},
		{"too old", `<to jid='me@example.org'/>` + stamp(-ReplayWindow-time.Minute) + body, "replayed"},
		{"too far ahead", `<to jid='me@example.org'/>` + stamp(ReplayWindow+time.Minute) + body, "replayed"},
		{"no time", `<to jid='me@example.org'/>` + body, "0 time"},
		{"two times", `<to jid='me@example.org'/>` + stamp(0) + stamp(0) + body, "2 time"},
		{"bad time", `<to jid='me@example.org'/><time stamp='yesterday'/>` + body, "not a XEP-0082"},
		{"no payload", `<to jid='me@example.org'/>` + stamp(0), "0 payload"},
	} {
		t.Run(c.name, func(t *testing.T) {
			content, problem := sc(c.inner).Check("me@example.org", t0)
			if c.problem == "" {
				if problem != "" || content.Body != "hi" {
					t.Fatalf("problem %q, body %q", problem, content.Body)
				}
				return
			}
			if !strings.Contains(problem, c.problem) {
				t.Fatalf("problem %q, want %q", problem, c.problem)
			}
		})
	}
}

func TestPayloadNamespaces(t *testing.T) {
	s, err := ParseSigncrypt([]byte(`<signcrypt xmlns='urn:xmpp:openpgp:0'><payload>` +
		`<body xmlns='urn:other'>not this</body><body xmlns='jabber:server'>this</body>` +
		`<thread xmlns='jabber:client' parent='p'>t</thread></payload></signcrypt>`))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Payload[0].content()
	if c.Body != "this" || c.Thread == nil || c.Thread.Value != "t" || c.Thread.Parent != "p" {
		t.Fatalf("content %+v", c)
	}
}

func TestParseListBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<items node='urn:xmpp:openpgp:0:public-keys'><item><public-keys-list xmlns='urn:xmpp:openpgp:0'>`)
	for i := range 10000 {
		fmt.Fprintf(&b, `<pubkey-metadata v4-fingerprint='%040X' date='2020-01-01T00:00:00Z'/>`, i)
	}
	b.WriteString(`</public-keys-list></item></items>`)
	_, err := ParseList("alice@example.org", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "10000 keys") {
		t.Fatalf("10,000 published keys: %v", err)
	}
	fps, err := ParseList("alice@example.org", []byte(`<items node='x'><item><public-keys-list xmlns='urn:xmpp:openpgp:0'>`+
		`<pubkey-metadata v4-fingerprint='`+strings.ToLower(fpA)+`'/><pubkey-metadata v4-fingerprint='`+fpA+`'/>`+
		`<pubkey-metadata v4-fingerprint='nothex'/></public-keys-list></item></items>`))
	if err != nil || fmt.Sprint(fps) != "["+fpA+"]" {
		t.Fatalf("fps %v, err %v", fps, err)
	}
}

func TestParseKeyDataRefusesGarbage(t *testing.T) {
	data, err := ParseKeyData("alice@example.org", fpA, []byte(`<items node='n'><item><pubkey xmlns='urn:xmpp:openpgp:0'><data>`+
		base64.StdEncoding.EncodeToString([]byte("not a key"))+`</data></pubkey></item></items>`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePublicKey(data, fpA, "alice@example.org", t0); err == nil || !strings.Contains(err.Error(), "does not parse") {
		t.Fatalf("a key block that does not parse: %v", err)
	}
}

// pair is a key pair made once for the tests (key generation is quick
// for ed25519, but not free).
type pair struct {
	jid string
	e   *openpgp.Entity
	fp  string
}

func newPair(t testing.TB, jid string) pair {
	t.Helper()
	_, e, err := Generate(jid, []byte("passphrase"), t0)
	if err != nil {
		t.Fatal(err)
	}
	return pair{jid: jid, e: e, fp: Fingerprint(e)}
}

// engineOf is an engine of p that knows others' keys as pinned (or,
// with unpinned, as merely cached).
func engineOf(t testing.TB, p pair, now time.Time, pinned []pair, unpinned ...pair) *Engine {
	t.Helper()
	store, err := statefile.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range append(append([]pair{}, pinned...), unpinned...) {
		data, err := PublicKey(o.e)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.WritePublicKey(o.fp, data); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range pinned {
		if err := Trust(context.Background(), store, p.jid, o.jid, o.fp, now); err != nil {
			t.Fatal(err)
		}
	}
	return New(store, p.jid, p.e, TrustFirstUse, func() time.Time { return now })
}

// sealTo is e's message to q (as if Prepare had found q's key).
func sealTo(t testing.TB, e *Engine, q pair, body string) *session.Message {
	t.Helper()
	e.recipients[q.jid] = []*openpgp.Entity{q.e}
	m := &session.Message{From: e.account + "/r", To: q.jid, Type: "chat", Body: body, Thread: &session.Thread{Value: "th-1"}}
	if err := e.Seal(m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSealOpen(t *testing.T) {
	alice, me, mallory := newPair(t, "alice@example.org"), newPair(t, "me@example.org"), newPair(t, "mallory@example.org")
	ctx := context.Background()
	aliceE := engineOf(t, alice, t0, []pair{me})
	m := sealTo(t, aliceE, me, "secret text")
	if m.Body != Fallback || strings.Contains(m.OpenPGP.Data, "secret") || m.EME == nil || m.EME.Namespace != session.NSOpenPGP {
		t.Fatalf("sealed message %+v", m)
	}

	t.Run("verified", func(t *testing.T) {
		o := engineOf(t, me, t0, []pair{alice}).Open(ctx, nil, m, t0)
		if o.Failed || !o.Verified || o.Body != "secret text" || o.Thread == nil || o.Thread.Value != "th-1" {
			t.Fatalf("%+v", o)
		}
	})
	t.Run("our other device reads our own copy", func(t *testing.T) {
		own := sealTo(t, engineOf(t, me, t0, nil), alice, "to alice")
		own.From = "me@example.org/laptop"
		o := engineOf(t, me, t0, nil).Open(ctx, nil, own, t0)
		if o.Failed || !o.Verified || o.Body != "to alice" {
			t.Fatalf("%+v", o)
		}
	})
	t.Run("sender not pinned", func(t *testing.T) {
		o := engineOf(t, me, t0, nil, alice).Open(ctx, nil, m, t0)
		if o.Failed || o.Verified || o.Body != "secret text" || o.Problem == "" {
			t.Fatalf("%+v", o)
		}
	})
	t.Run("signed by another key than the pinned one", func(t *testing.T) {
		// mallory's key signs a message that says it is from alice.
		forged := sealTo(t, engineOf(t, mallory, t0, []pair{me}), me, "forged")
		forged.From = "alice@example.org/x"
		mallorysKeyAsAlices := pair{jid: alice.jid, e: mallory.e, fp: mallory.fp}
		o := engineOf(t, me, t0, []pair{alice}, mallorysKeyAsAlices).Open(ctx, nil, forged, t0)
		if o.Failed || o.Verified || !strings.Contains(o.Problem, "not a key of alice") {
			t.Fatalf("%+v", o)
		}
	})
	t.Run("not for us", func(t *testing.T) {
		o := engineOf(t, mallory, t0, []pair{alice}).Open(ctx, nil, m, t0)
		if !o.Failed || o.Body != "" {
			t.Fatalf("%+v", o)
		}
	})
	t.Run("replayed", func(t *testing.T) {
		late := t0.Add(ReplayWindow + time.Hour)
		o := engineOf(t, me, late, []pair{alice}).Open(ctx, nil, m, late)
		if !o.Failed || o.Body != "" || !strings.Contains(o.Problem, "replayed") {
			t.Fatalf("%+v", o)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		raw, _ := base64.StdEncoding.DecodeString(m.OpenPGP.Data)
		for _, bad := range []string{"!!!", "", base64.StdEncoding.EncodeToString(raw[:len(raw)/2]),
			base64.StdEncoding.EncodeToString(append(raw[:len(raw)-3:len(raw)-3], 1, 2, 3))} {
			c := *m
			c.OpenPGP = &session.OpenPGP{Data: bad}
			o := engineOf(t, me, t0, []pair{alice}).Open(ctx, nil, &c, t0)
			if !o.Failed || o.Body != "" {
				t.Fatalf("%q: %+v", bad, o)
			}
		}
	})
}

func TestUnlock(t *testing.T) {
	k, _, err := Generate("me@example.org", []byte("right"), t0)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(k.Armored, "right") {
		t.Fatal("passphrase in the key file")
	}
	if _, err := Unlock(k, []byte("wrong")); err == nil {
		t.Fatal("wrong passphrase accepted")
	}
	e, err := Unlock(k, []byte("right"))
	if err != nil || Fingerprint(e) != k.Fingerprint || !hasUserID(e, "me@example.org", t0) {
		t.Fatalf("unlock: %v", err)
	}
}

// FuzzOpen: whatever a peer puts in <openpgp/>, Open returns (no panic,
// no hang), and anything it cannot read carries no content.
func FuzzOpen(f *testing.F) {
	alice, me := newPair(f, "alice@example.org"), newPair(f, "me@example.org")
	m := sealTo(f, engineOf(f, alice, t0, []pair{me}), me, "hello")
	raw, _ := base64.StdEncoding.DecodeString(m.OpenPGP.Data)
	f.Add(raw)
	f.Add(raw[:len(raw)/3])
	f.Add([]byte{0x84, 0x5e, 0x03})
	e := engineOf(f, me, t0, []pair{alice})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := *m
		c.OpenPGP = &session.OpenPGP{Data: base64.StdEncoding.EncodeToString(data)}
		o := e.Open(context.Background(), nil, &c, t0)
		if o.Failed && (o.Body != "" || o.Subject != "") {
			t.Fatalf("failed with content: %+v", o)
		}
		if o.Verified && o.Body != "hello" {
			t.Fatalf("verified a message alice did not write: %+v", o)
		}
	})
}
