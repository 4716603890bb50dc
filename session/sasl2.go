package session

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

const (
	nsSASL2 = "urn:xmpp:sasl:2" // XEP-0388
	nsFAST  = "urn:xmpp:fast:0" // XEP-0484
)

// sasl2Features is XEP-0388 §2.1's <authentication/> stream feature with
// the XEP-0484 <fast/> inline feature.
type sasl2Features struct {
	Mechanisms []string `xml:"mechanism"`
	Inline     *struct {
		FAST *struct {
			Mechanisms []string `xml:"mechanism"`
		} `xml:"urn:xmpp:fast:0 fast"`
	} `xml:"inline"`
}

// fastMechanisms is the <fast/> mechanism list, nil when the server
// offers no FAST.
func (f *sasl2Features) fastMechanisms() []string {
	if f.Inline == nil || f.Inline.FAST == nil {
		return nil
	}
	return append([]string{}, f.Inline.FAST.Mechanisms...)
}

// saslWire is one SASL profile: RFC 6120 §6 (<auth/>, stream restart) or
// XEP-0388 (<authenticate/>, no restart). The mechanisms run over either.
type saslWire interface {
	// start sends the mechanism and its initial response; cbType only
	// annotates the debug output.
	start(mech, cbType string, initial []byte) error
	// respond answers a challenge; nil data sends an empty response.
	respond(data []byte) error
	// step reads a challenge (data, nil), a success (its additional data,
	// errSuccess) or a failure (*AuthError).
	step() ([]byte, error)
}

// sasl1 is the RFC 6120 profile.
type sasl1 struct{ c *Conn }

func (w sasl1) start(mech, cbType string, initial []byte) error {
	shown := "<auth mechanism='" + mech + "'>"
	if cbType != "" {
		shown = "<auth mechanism='" + mech + "' channel-binding='" + cbType + "'>"
	}
	return w.c.writeAuth("<auth xmlns='"+nsSASL+"' mechanism='"+mech+"'>"+base64.StdEncoding.EncodeToString(initial)+"</auth>", shown)
}

func (w sasl1) respond(data []byte) error {
	if data == nil {
		return w.c.writeAuth("<response xmlns='"+nsSASL+"'/>", "<response>")
	}
	return w.c.writeAuth("<response xmlns='"+nsSASL+"'>"+base64.StdEncoding.EncodeToString(data)+"</response>", "<response>")
}

func (w sasl1) step() ([]byte, error) { return w.c.saslStep() }

// sasl2 is the XEP-0388 profile. Its success carries what the server
// says beyond SASL: the authorization identifier and a FAST token.
type sasl2 struct {
	c        *Conn
	clientID string // XEP-0388 §2.3 user-agent id; "" sends none
	request  string // XEP-0484 <request-token/>: ask for a token for this mechanism
	fast     bool   // XEP-0484 <fast/>: authenticating with a token
	success  *sasl2Success
}

type sasl2Authenticate struct {
	XMLName      xml.Name      `xml:"urn:xmpp:sasl:2 authenticate"`
	Mechanism    string        `xml:"mechanism,attr"`
	Initial      string        `xml:"initial-response"`
	UserAgent    *sasl2Agent   `xml:"user-agent,omitempty"`
	RequestToken *requestToken `xml:"urn:xmpp:fast:0 request-token,omitempty"`
	FAST         *struct{}     `xml:"urn:xmpp:fast:0 fast,omitempty"`
}

type sasl2Agent struct {
	ID       string `xml:"id,attr"`
	Software string `xml:"software"`
}

type requestToken struct {
	Mechanism string `xml:"mechanism,attr"`
}

type sasl2Success struct {
	AdditionalData *string `xml:"additional-data"`
	AuthzID        string  `xml:"authorization-identifier"`
	Token          *struct {
		Token  string `xml:"token,attr"`
		Expiry string `xml:"expiry,attr"`
	} `xml:"urn:xmpp:fast:0 token"`
}

func (w *sasl2) start(mech, cbType string, initial []byte) error {
	a := sasl2Authenticate{Mechanism: mech, Initial: base64.StdEncoding.EncodeToString(initial)}
	if w.clientID != "" {
		a.UserAgent = &sasl2Agent{ID: w.clientID, Software: "jab"}
	}
	// The debug output names the mechanism, the binding and the token
	// request; the initial response (a SCRAM nonce, a PLAIN password or a
	// token's hash) is never shown.
	shown := "<authenticate mechanism='" + mech + "'"
	if cbType != "" {
		shown += " channel-binding='" + cbType + "'"
	}
	if w.request != "" {
		a.RequestToken = &requestToken{Mechanism: w.request}
		shown += " request-token='" + w.request + "'"
	}
	if w.fast {
		a.FAST = &struct{}{}
	}
	data, err := xml.Marshal(a)
	if err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	return w.c.writeAuth(string(data), shown+">")
}

func (w *sasl2) respond(data []byte) error {
	return w.c.writeAuth("<response xmlns='"+nsSASL2+"'>"+base64.StdEncoding.EncodeToString(data)+"</response>", "<response>")
}

func (w *sasl2) step() ([]byte, error) {
	c := w.c
	se, err := c.nextStart()
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if se.Name.Space != nsSASL2 {
		if se.Name.Space == nsStream && se.Name.Local == "error" {
			var e StreamError
			if err := c.dec.DecodeElement(&e, &se); err != nil {
				return nil, fmt.Errorf("authenticate: %w", err)
			}
			return nil, &e
		}
		return nil, fmt.Errorf("authenticate: unexpected <%s xmlns='%s'>", se.Name.Local, se.Name.Space)
	}
	switch se.Name.Local {
	case "challenge":
		var text string
		if err := c.dec.DecodeElement(&text, &se); err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
		return decodeSASLData(text)
	case "success":
		var s sasl2Success
		if err := c.dec.DecodeElement(&s, &se); err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
		w.success = &s
		if s.AdditionalData == nil {
			return nil, errSuccess
		}
		data, err := decodeSASLData(*s.AdditionalData)
		if err != nil {
			return nil, err
		}
		return data, errSuccess
	case "failure":
		var r saslResult
		if err := c.dec.DecodeElement(&r, &se); err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
		cond := "not-authorized"
		for _, n := range r.Conditions {
			// XEP-0388 §2.6.2: the condition is an RFC 6120 SASL one;
			// an application-specific element may follow it.
			if n.Local != "text" && (n.Space == nsSASL || n.Space == nsSASL2 || n.Space == "") {
				cond = n.Local
				break
			}
		}
		return nil, &AuthError{Condition: cond, Text: r.Desc}
	case "continue":
		// XEP-0388 §2.6.3: the server wants further tasks (a second
		// factor, a password change), which a script cannot do.
		c.dec.Skip()
		return nil, &AuthError{Condition: "continue",
			Text: "the server asks for further authentication tasks (XEP-0388 <continue/>), which jab does not support"}
	}
	return nil, fmt.Errorf("authenticate: unexpected <%s>", se.Name.Local)
}

func decodeSASLData(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" || text == "=" {
		return []byte{}, nil
	}
	data, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("authenticate: bad base64 from server: %w", err)
	}
	return data, nil
}

// fastRefusedError: the server refused the stored FAST token (or could
// not prove it knew it). The token is gone from the store; Dial logs in
// again with the password on a new connection.
type fastRefusedError struct{ err error }

func (e *fastRefusedError) Error() string { return "FAST token refused: " + e.err.Error() }
func (e *fastRefusedError) Unwrap() error { return e.err }

// loginSASL2 authenticates with XEP-0388, using or asking for a FAST
// token as planFAST says, and binds a resource. f is the stream features
// after TLS.
func (c *Conn) loginSASL2(cfg Config, f *streamFeatures, cbOffered []string, cs tls.ConnectionState) error {
	have := channelBindings(cs)
	account := cfg.JID.Bare()
	var rec *statefile.FAST
	var fastOffered []string
	if cfg.FAST != nil {
		var err error
		if rec, err = cfg.FAST.ReadFAST(account); err != nil {
			return err
		}
		fastOffered = f.SASL2.fastMechanisms()
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	plan := planFAST(rec, now(), fastOffered, cbOffered, have, cs.Version, cfg.noFASTUse)
	if rec == nil {
		// XEP-0388 §2.3: a stable id per client installation, which the
		// server ties the token to. It is stored with the first token.
		rec = &statefile.FAST{Account: account, ClientID: NewID()}
	}
	if plan.drop {
		if err := dropToken(cfg.FAST, rec); err != nil {
			return err
		}
	}
	w := &sasl2{c: c, request: plan.request}
	if cfg.FAST != nil && fastOffered != nil {
		w.clientID = rec.ClientID
	}
	c.redact = true
	if plan.use != "" {
		w.fast = true
		if err := c.htAuth(w, plan.use, cfg.JID.Local, rec.Token, have); err != nil {
			c.redact = false
			var ae *AuthError
			if errors.As(err, &ae) || errors.Is(err, errHTResponder) {
				// XEP-0484: a refused token is not tried again.
				if derr := dropToken(cfg.FAST, rec); derr != nil {
					return derr
				}
				return &fastRefusedError{err: err}
			}
			return err
		}
	} else if err := c.authenticate(cfg, f.SASL2.Mechanisms, cbOffered, cs, w); err != nil {
		c.redact = false
		return err
	}
	// The success may carry a token; the features that follow it were
	// read with it and are shown redacted too.
	c.redact = false
	if t := w.success.Token; t != nil && cfg.FAST != nil && t.Token != "" {
		mech := plan.request
		if mech == "" {
			// XEP-0484: a token rotated during a FAST login is for
			// the mechanism just used.
			mech = plan.use
		}
		rec.Mechanism, rec.Token = mech, t.Token
		rec.Expiry, _ = time.Parse(time.RFC3339, t.Expiry)
		if err := cfg.FAST.WriteFAST(*rec); err != nil {
			return err
		}
	}
	// XEP-0388 §2.6.1: no stream restart; the server goes on with the
	// stream features of an authenticated stream.
	se, err := c.nextStart()
	if err != nil {
		return fmt.Errorf("read stream features: %w", err)
	}
	f2, err := c.decodeFeatures(se)
	if err != nil {
		return err
	}
	if c.sm != nil && c.smOffered {
		if id, h, ok := c.sm.canResume(smNow(cfg)); ok {
			// XEP-0198 §5 after XEP-0388: no restart, <resume/> now.
			return c.resumeSASL2(cfg, f2, id, h)
		}
	}
	if f2.Limits != nil && f2.Limits.MaxBytes > 0 {
		c.maxBytes.Store(int64(f2.Limits.MaxBytes))
	}
	if f2.Bind == nil {
		return errors.New("server offers no resource binding")
	}
	return c.bind(cfg)
}

// dropToken removes rec's token from the store and from rec, keeping the
// client id.
func dropToken(store TokenStore, rec *statefile.FAST) error {
	rec.Token, rec.Mechanism, rec.Expiry = "", "", time.Time{}
	if store == nil {
		return nil
	}
	return store.WriteFAST(*rec)
}

var errHTResponder = errors.New("the server's FAST response does not match the token")

// htAuth authenticates with a FAST token (XEP-0484): one round trip,
// and the server proves it knows the token too.
func (c *Conn) htAuth(w saslWire, mech, user, token string, have map[string][]byte) error {
	cbType := htChannelBinding(mech)
	cbData := have[cbType]
	if err := w.start(mech, cbType, htInitial(user, token, cbData)); err != nil {
		return err
	}
	data, err := w.step()
	if !errors.Is(err, errSuccess) {
		if err == nil {
			err = errors.New("authenticate: unexpected challenge for " + mech)
		}
		return err
	}
	if !htVerify(token, cbData, data) {
		return errHTResponder
	}
	return nil
}
