package session

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

func TestChooseHT(t *testing.T) {
	all := []string{"HT-SHA-256-EXPR", "HT-SHA-256-UNIQ", "HT-SHA-256-ENDP", "HT-SHA-256-NONE"}
	tls13 := map[string][]byte{cbExporter: {1}, cbEndPoint: {2}}
	tls12 := map[string][]byte{cbExporter: {1}, cbEndPoint: {2}, cbUnique: {3}}
	tests := []struct {
		name      string
		offered   []string
		cbOffered []string
		have      map[string][]byte
		version   uint16
		want      string
	}{
		{"TLS 1.3 prefers the exporter", all, nil, tls13, tls.VersionTLS13, "HT-SHA-256-EXPR"},
		{"TLS 1.2 prefers tls-unique", all, nil, tls12, tls.VersionTLS12, "HT-SHA-256-UNIQ"},
		{"TLS 1.2 without tls-unique data", all, nil, map[string][]byte{cbExporter: {1}}, tls.VersionTLS12, "HT-SHA-256-EXPR"},
		{"server lacks EXPR", []string{"HT-SHA-256-ENDP", "HT-SHA-256-NONE"}, nil, tls13, tls.VersionTLS13, "HT-SHA-256-ENDP"},
		{"XEP-0440 list rules out the exporter", all, []string{cbEndPoint}, tls13, tls.VersionTLS13, "HT-SHA-256-ENDP"},
		{"XEP-0440 list with no type in common", all, []string{}, tls13, tls.VersionTLS13, "HT-SHA-256-NONE"},
		{"no binding data at all", all, nil, map[string][]byte{}, tls.VersionTLS13, "HT-SHA-256-NONE"},
		{"tls-unique is never used on TLS 1.3", []string{"HT-SHA-256-UNIQ"}, nil, tls12, tls.VersionTLS13, ""},
		{"only unknown mechanisms", []string{"HT-SHA3-512-NONE"}, nil, tls13, tls.VersionTLS13, ""},
		{"nothing offered", []string{}, nil, tls13, tls.VersionTLS13, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chooseHT(tt.offered, tt.cbOffered, tt.have, tt.version); got != tt.want {
				t.Errorf("chooseHT = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlanFAST(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	offered := []string{"HT-SHA-256-EXPR", "HT-SHA-256-NONE"}
	have := map[string][]byte{cbExporter: {1}}
	rec := func(mech string, expiry time.Time) *statefile.FAST {
		return &statefile.FAST{Account: "me@example.test", ClientID: "c", Mechanism: mech, Token: "secret-token:x", Expiry: expiry}
	}
	later := now.Add(20 * 24 * time.Hour)
	tests := []struct {
		name    string
		rec     *statefile.FAST
		offered []string
		noUse   bool
		want    fastPlan
	}{
		{"no record: ask for a token", nil, offered, false, fastPlan{request: "HT-SHA-256-EXPR"}},
		{"record without token", &statefile.FAST{Account: "a", ClientID: "c"}, offered, false, fastPlan{request: "HT-SHA-256-EXPR"}},
		{"valid token is used", rec("HT-SHA-256-EXPR", later), offered, false, fastPlan{use: "HT-SHA-256-EXPR"}},
		{"token without expiry is used", rec("HT-SHA-256-NONE", time.Time{}), offered, false, fastPlan{use: "HT-SHA-256-NONE"}},
		{"expired token is dropped", rec("HT-SHA-256-EXPR", now), offered, false, fastPlan{request: "HT-SHA-256-EXPR", drop: true}},
		{"token close to expiry is used and renewed", rec("HT-SHA-256-EXPR", now.Add(time.Hour)), offered, false,
			fastPlan{use: "HT-SHA-256-EXPR", request: "HT-SHA-256-EXPR"}},
		{"mechanism no longer usable", rec("HT-SHA-256-UNIQ", later), offered, false, fastPlan{request: "HT-SHA-256-EXPR", drop: true}},
		{"unknown mechanism in the file", rec("HT-MD5-NONE", later), offered, false, fastPlan{request: "HT-SHA-256-EXPR", drop: true}},
		{"refused on this run: password login asks anew", rec("HT-SHA-256-EXPR", later), offered, true, fastPlan{request: "HT-SHA-256-EXPR"}},
		{"server without FAST: nothing", rec("HT-SHA-256-EXPR", later), nil, false, fastPlan{}},
		{"server with FAST but no usable mechanism", nil, []string{"HT-SHA-256-UNIQ"}, false, fastPlan{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planFAST(tt.rec, now, tt.offered, nil, have, tls.VersionTLS13, tt.noUse)
			if got != tt.want {
				t.Errorf("planFAST = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestHT: the HT-* initial response and the server's answer are
// HMAC-SHA-256 keyed with the token over the label and the channel
// binding data (draft-schmaus-kitten-sasl-ht), the user name first.
func TestHT(t *testing.T) {
	token, cb := "secret-token:fast-abc", []byte{0xde, 0xad}
	mac := func(label string) []byte {
		m := hmac.New(sha256.New, []byte(token))
		m.Write([]byte(label))
		m.Write(cb)
		return m.Sum(nil)
	}
	got := htInitial("me", token, cb)
	if want := append([]byte("me\x00"), mac("Initiator")...); !bytes.Equal(got, want) {
		t.Errorf("initial response %x, want %x", got, want)
	}
	if !htVerify(token, cb, mac("Responder")) {
		t.Error("the right responder hash is refused")
	}
	for name, bad := range map[string][]byte{
		"initiator hash":   mac("Initiator"),
		"other cb data":    htHash(token, "Responder", nil),
		"other token":      htHash(token+"x", "Responder", cb),
		"empty additional": {},
	} {
		if htVerify(token, cb, bad) {
			t.Errorf("%s accepted as the responder hash", name)
		}
	}
}

// TestSASL2Wire: the <authenticate/> jab writes carries the initial
// response, the user agent, the token request and the <fast/> marker; the
// debug output shows the mechanism, the binding and the request only.
func TestSASL2Wire(t *testing.T) {
	var raw, debug bytes.Buffer
	c := &Conn{raw: &bufConn{w: &raw}, debug: &debug}
	w := &sasl2{c: c, clientID: "0b9e4bd6-1a8f-4e09-9f0f-0b8d6d1f2e3a", request: "HT-SHA-256-EXPR", fast: true}
	secret := "\x00me\x00hunter2-secret"
	if err := w.start("HT-SHA-256-EXPR", cbExporter, []byte(secret)); err != nil {
		t.Fatal(err)
	}
	var a struct {
		XMLName   xml.Name `xml:"urn:xmpp:sasl:2 authenticate"`
		Mechanism string   `xml:"mechanism,attr"`
		Initial   string   `xml:"initial-response"`
		Agent     struct {
			ID string `xml:"id,attr"`
		} `xml:"user-agent"`
		Request *struct {
			Mechanism string `xml:"mechanism,attr"`
		} `xml:"urn:xmpp:fast:0 request-token"`
		FAST *struct{} `xml:"urn:xmpp:fast:0 fast"`
	}
	if err := xml.Unmarshal(raw.Bytes(), &a); err != nil {
		t.Fatalf("%v: %s", err, raw.String())
	}
	init, _ := base64.StdEncoding.DecodeString(a.Initial)
	if a.Mechanism != "HT-SHA-256-EXPR" || string(init) != secret || a.Agent.ID != w.clientID ||
		a.Request == nil || a.Request.Mechanism != "HT-SHA-256-EXPR" || a.FAST == nil {
		t.Errorf("authenticate %+v from %s", a, raw.String())
	}
	want := "SEND <authenticate mechanism='HT-SHA-256-EXPR' channel-binding='tls-exporter' request-token='HT-SHA-256-EXPR'>[redacted]\n"
	if debug.String() != want {
		t.Errorf("debug output %q, want %q", debug.String(), want)
	}
	if strings.Contains(debug.String(), a.Initial) || strings.Contains(debug.String(), "hunter2") {
		t.Error("the initial response reaches the debug output")
	}
}

// TestSASL2Step reads the server's SASL2 answers: the success's
// additional data and token, a failure's condition, and <continue/>.
func TestSASL2Step(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name     string
		in       string
		wantData string
		wantErr  string // "" means success
	}{
		{name: "success with token",
			in: "<success xmlns='urn:xmpp:sasl:2'><additional-data>" + b64([]byte("v=abc")) +
				"</additional-data><authorization-identifier>me@example.test</authorization-identifier>" +
				"<token xmlns='urn:xmpp:fast:0' expiry='2026-12-13T12:00:00Z' token='secret-token:fast-1'/></success>",
			wantData: "v=abc"},
		{name: "challenge", in: "<challenge xmlns='urn:xmpp:sasl:2'>" + b64([]byte("r=x,s=y,i=1")) + "</challenge>",
			wantData: "r=x,s=y,i=1", wantErr: "challenge"},
		{name: "failure", in: "<failure xmlns='urn:xmpp:sasl:2'><credentials-expired xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" +
			"<text>gone</text></failure>", wantErr: "credentials-expired (gone)"},
		{name: "failure with application condition", in: "<failure xmlns='urn:xmpp:sasl:2'><aborted xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" +
			"<other xmlns='urn:example'/></failure>", wantErr: "aborted"},
		{name: "continue", in: "<continue xmlns='urn:xmpp:sasl:2'><tasks><task>TOTP</task></tasks></continue>", wantErr: "continue"},
		{name: "bad base64", in: "<challenge xmlns='urn:xmpp:sasl:2'>!!!</challenge>", wantErr: "base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Conn{}
			c.dec = xml.NewDecoder(strings.NewReader(tt.in))
			w := &sasl2{c: c}
			data, err := w.step()
			switch {
			case tt.wantErr == "":
				if err != errSuccess {
					t.Fatalf("err %v, want success", err)
				}
				if w.success == nil || w.success.Token == nil || w.success.Token.Token != "secret-token:fast-1" ||
					w.success.Token.Expiry != "2026-12-13T12:00:00Z" || w.success.AuthzID != "me@example.test" {
					t.Errorf("success %+v", w.success)
				}
			case tt.wantErr == "challenge":
				if err != nil {
					t.Fatalf("err %v", err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
			}
			if string(data) != tt.wantData {
				t.Errorf("data %q, want %q", data, tt.wantData)
			}
		})
	}
}

// bufConn is a net.Conn that records writes.
type bufConn struct {
	net.Conn
	w io.Writer
}

func (b *bufConn) Write(p []byte) (int, error) { return b.w.Write(p) }
