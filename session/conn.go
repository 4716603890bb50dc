package session

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// DefaultMaxStanza is the stanza size limit assumed when the server does not
// advertise one (XEP-0478); it is Prosody's default c2s_stanza_size_limit.
const DefaultMaxStanza = 256 * 1024

// Errors the command layer maps to exit codes.
var (
	// ErrTimeout: the server or a peer did not answer in time.
	ErrTimeout = errors.New("timed out")
	// ErrClosed: the stream ended.
	ErrClosed = errors.New("connection closed")
	// ErrUnreachable: no connection to the server could be made (refused,
	// no route, name not found). The command layer maps it, like a
	// timeout, to exit status 5.
	ErrUnreachable = errors.New("server unreachable")
)

// AuthError is a SASL failure: wrong password, unknown account, or no
// mechanism we are willing to use.
type AuthError struct {
	Condition string
	Text      string
}

func (e *AuthError) Error() string {
	msg := "authentication failed: " + e.Condition
	if e.Text != "" {
		msg += " (" + e.Text + ")"
	}
	return msg
}

// TLSError wraps a failure to establish a verified TLS channel.
type TLSError struct{ Err error }

func (e *TLSError) Error() string { return "TLS: " + e.Err.Error() }
func (e *TLSError) Unwrap() error { return e.Err }

// Config says how to reach and log in to an account.
type Config struct {
	JID      JID    // the account; its resource is ignored
	Password string // never logged
	Server   string // host:port to connect to; "" means SRV lookup, then the JID's domain
	// DirectTLS speaks TLS from the first byte (XEP-0368) instead of
	// STARTTLS: on Server (port 5223 when it names none), or on the
	// _xmpps-client._tcp SRV targets only.
	DirectTLS bool
	// TLSMin is the lowest TLS version accepted (tls.VersionTLS12 or
	// tls.VersionTLS13); 0 means TLS 1.2.
	TLSMin uint16
	// NoPlain refuses SASL PLAIN even inside TLS, even when it is the only
	// mechanism offered.
	NoPlain bool
	// InsecureSkipVerify accepts any certificate. Never a default: anyone
	// on the path can then read the session, and with PLAIN the password.
	InsecureSkipVerify bool
	// ExtraCAs are trusted in addition to the system roots (--ca-file).
	ExtraCAs *x509.CertPool
	// Resolver looks up SRV records when Server is ""; nil means the
	// system resolver.
	Resolver SRVResolver
	Resource string // resource to bind; "" lets the server pick
	Timeout  time.Duration
	Debug    io.Writer // the XML stream with SEND/RECV prefixes; SASL redacted
	// HandleIQ, if not nil, sees every IQ request (get or set) before the
	// session answers it; when it returns true the session sends nothing,
	// and answering is up to the caller. It lets a front end serve a
	// protocol the session does not (the test peer plays a client that
	// never answers a ping with it).
	HandleIQ func(*IQ) bool
	// PipelineBind returns from Dial as soon as the binding request is
	// written: the first stanzas the caller writes follow it at once, and
	// the reader reads the answer first (a one-shot send saves a round
	// trip). JID waits for it. The server handles the stream in order, so
	// nothing is routed before the resource is bound, and a refused bind
	// ends the session with its error.
	PipelineBind bool
	// Features are advertised in disco#info besides ping (for example
	// NSReceipts when the session answers receipt requests).
	Features []string
	// FAST keeps the account's XEP-0484 token: when the server offers
	// SASL2 (XEP-0388) with FAST, a login with a stored token uses it,
	// and one without asks for one. nil: no token is used or asked for.
	FAST TokenStore
	// SM, when not nil, enables XEP-0198 stream management with
	// resumption when the server offers it, and resumes the session it
	// holds if it can. One value serves all the connections of one
	// observer (ObserverDialer); nil: no stream management.
	SM *StreamManagement
	// Now is the clock for token expiry; nil means time.Now.
	Now func() time.Time
	// ChannelBinding is the channel binding mode of SCRAM logins (one of
	// BindingModes; "" is auto): see binding.go and docs/PROTOCOL.md,
	// "Login: channel binding".
	ChannelBinding string
	// Bindings remembers per account that its server needed tls-unique
	// on TLS 1.2 (auto mode); nil: nothing is remembered.
	Bindings BindingMemo

	noFASTUse   bool // the server refused the stored token on this Dial
	capTLS12    bool // this connection offers TLS 1.2 at most (tls-unique)
	bindRetried bool // capTLS12 because tls-exporter was refused on this Dial
}

// Conn is one authenticated XMPP client stream. Writes are safe from
// several goroutines; reads must come from one goroutine only.
type Conn struct {
	raw      net.Conn
	dec      *xml.Decoder
	wmu      sync.Mutex
	jid      JID
	maxBytes atomic.Int64 // the server's stanza limit; set by the reader after a pipelined bind
	timeout  time.Duration
	debug    io.Writer
	redact   bool // true during SASL: the debug output hides the exchange
	closed   bool
	held     []byte // stanzas written while Hold is in effect
	holding  bool
	turns    *turnCounter
	reported bool // the round trips were printed (debug)
	// bindPending says the answer to the binding request for
	// bindResource is still to be read (Config.PipelineBind); bindDone is
	// closed once it has been read.
	bindPending  bool
	bindResource string
	bindDone     chan struct{}
	account      JID // who authenticated: the bound JID must be this account's
	// inRead counts the bytes read from the server; inMark is inRead when
	// the element being read began (MaxIncomingStanza). The decoder's
	// reader only.
	inRead, inMark int64
	// restarted says the header and features of the stream restarted
	// after SASL are still to be read, before the binding answer.
	restarted bool
	// XEP-0198 (smacks.go): the observer's state, this connection's
	// generation in it, whether the server offers stream management, and
	// how the session began.
	sm         *StreamManagement
	smGen      int
	askMu      sync.Mutex
	askTimer   *time.Timer // a scheduled <r/> (askSoon)
	smOffered  bool
	resumption Resumption
	cbNamed    bool // the server advertised its channel binding types (XEP-0440)
	now        func() time.Time
}

// Hold makes writes accumulate until Release, so a burst of stanzas goes
// out in few TLS records. Replies the reader sends are held too.
func (c *Conn) Hold() {
	c.wmu.Lock()
	c.holding = true
	c.wmu.Unlock()
}

// Release writes what Hold accumulated and ends holding.
func (c *Conn) Release() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.holding = false
	if len(c.held) == 0 || c.closed {
		c.held = c.held[:0]
		return nil
	}
	if c.timeout > 0 {
		c.raw.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	_, err := c.raw.Write(c.held)
	c.held = c.held[:0]
	return err
}

// JID returns the full JID the server bound.
// With Config.PipelineBind it waits until the reader has read the answer
// to the binding request.
func (c *Conn) JID() JID {
	if c.bindDone != nil {
		<-c.bindDone
	}
	return c.jid
}

// MaxStanza returns the largest stanza the server accepts.
func (c *Conn) MaxStanza() int { return int(c.maxBytes.Load()) }

type debugReader struct {
	r io.Reader
	c *Conn
}

// MaxIncomingStanza bounds what one element from the server may take:
// reading goes on only while the bytes since the element began stay under
// it, so a hostile server's 10 MiB stanza costs a few MiB, not a hundred.
// Servers cap what clients send far lower (Prosody and ejabberd at 256 KiB
// by default); a roster of thousands of contacts is well under it.
const MaxIncomingStanza = 4 << 20

// errRestrictedXML: the server sent XML that RFC 6120 §11.1 bans from
// streams.
func errRestrictedXML(what string) error {
	return fmt.Errorf("the server sent %s, which XMPP streams may not contain (RFC 6120 §11.1): stream closed", what)
}

// IncomingTooLargeError: the server sent an element over
// MaxIncomingStanza. The stream cannot go on.
type IncomingTooLargeError struct{ Limit int }

func (e *IncomingTooLargeError) Error() string {
	return fmt.Sprintf("the server sent a stanza over %d bytes: stream closed", e.Limit)
}

func (d debugReader) Read(p []byte) (int, error) {
	if d.c.inRead-d.c.inMark > MaxIncomingStanza {
		return 0, &IncomingTooLargeError{Limit: MaxIncomingStanza}
	}
	n, err := d.r.Read(p)
	d.c.inRead += int64(n)
	if n > 0 && d.c.debug != nil {
		if d.c.redact {
			fmt.Fprintf(d.c.debug, "RECV [SASL exchange redacted, %d bytes]\n", n)
		} else {
			fmt.Fprintf(d.c.debug, "RECV %s\n", bytes.TrimRight(p[:n], "\n"))
		}
	}
	return n, err
}

// Dial connects, requires STARTTLS, verifies the certificate against the
// JID's domain, authenticates and binds a resource. It sends no presence:
// that is the caller's choice (a one-shot send must not broadcast one).
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	ts, err := targets(ctx, cfg)
	if err != nil {
		return nil, classify(ctx, err)
	}
	account := cfg.JID.Bare()
	var memo *statefile.Binding
	if cfg.Bindings != nil {
		// A record that cannot be read counts as none: it is a cache.
		memo, _ = cfg.Bindings.ReadBinding(account)
	}
	cfg.capTLS12 = capTLS12(cfg.ChannelBinding, cfg.TLSMin, memo)
	c, err := dialOnce(ctx, cfg, ts)
	var refused *fastRefusedError
	if errors.As(err, &refused) {
		// XEP-0484: the refused token is gone; log in with the password on
		// a new stream (a server need not allow a second SASL attempt
		// after a failed one, and Prosody's FAST handler loses the
		// channel binding data when it does).
		cfg.noFASTUse = true
		c, err = dialOnce(ctx, cfg, ts)
	}
	first, retry, err := bindingNext(err, cfg.TLSMin, cfg.capTLS12)
	if retry {
		if cfg.Debug != nil {
			fmt.Fprintf(cfg.Debug, "jab: debug: %v; connecting again with TLS 1.2 for tls-unique\n", first)
		}
		cfg.capTLS12, cfg.bindRetried = true, true
		if c, err = dialOnce(ctx, cfg, ts); err != nil {
			err = afterRetry(first, err)
		}
	}
	if err == nil && cfg.capTLS12 && cfg.ChannelBinding != BindingUnique {
		now := time.Now
		if cfg.Now != nil {
			now = cfg.Now
		}
		// The record is a cache: failing to write it costs the next
		// login the retry, not this one its session.
		if merr := rememberBinding(cfg.Bindings, account, cfg.bindRetried, c.cbNamed, now()); merr != nil && cfg.Debug != nil {
			fmt.Fprintf(cfg.Debug, "jab: debug: %v\n", merr)
		}
	}
	return c, err
}

func dialOnce(ctx context.Context, cfg Config, ts []target) (*Conn, error) {
	raw, t, err := dialTargets(ctx, ts)
	if err != nil {
		return nil, err
	}
	turns := countTurns(quickACK(raw))
	raw = turns
	c := &Conn{raw: raw, timeout: cfg.Timeout, debug: cfg.Debug, turns: turns, now: cfg.Now}
	if cfg.SM != nil {
		c.sm, c.smGen = cfg.SM, cfg.SM.attach()
	}
	c.maxBytes.Store(DefaultMaxStanza)
	// The whole negotiation is bounded by the context's deadline; a silent
	// server cannot hold us past --timeout.
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	if err := c.negotiate(ctx, cfg, t.directTLS); err != nil {
		raw.Close()
		return nil, classify(ctx, err)
	}
	if err := c.startSM(); err != nil {
		raw.Close()
		return nil, classify(ctx, err)
	}
	if !stop() {
		raw.Close()
		return nil, classify(ctx, ctx.Err())
	}
	raw.SetDeadline(time.Time{})
	if c.debug != nil && !c.bindPending {
		fmt.Fprintf(c.debug, "jab: debug: logged in as %s after %d round trips (TCP connect included)\n", c.jid, c.RoundTrips())
	}
	return c, nil
}

func classify(ctx context.Context, err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return err
}

type streamFeatures struct {
	XMLName    xml.Name `xml:"http://etherx.jabber.org/streams features"`
	StartTLS   *Empty   `xml:"urn:ietf:params:xml:ns:xmpp-tls starttls"`
	Mechanisms []string `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanisms>mechanism"`
	// XEP-0388: SASL2, preferred to RFC 6120 SASL when offered.
	SASL2 *sasl2Features `xml:"urn:xmpp:sasl:2 authentication"`
	Bind  *Empty         `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
	// XEP-0440: the channel binding types the server supports.
	ChannelBinding *struct {
		Types []struct {
			Type string `xml:"type,attr"`
		} `xml:"channel-binding"`
	} `xml:"urn:xmpp:sasl-cb:0 sasl-channel-binding"`
	Limits *struct { // XEP-0478
		MaxBytes int `xml:"max-bytes"`
	} `xml:"urn:xmpp:stream-limits:0 limits"`
	SM *Empty `xml:"urn:xmpp:sm:3 sm"` // XEP-0198 stream management
}

// StreamError is an RFC 6120 §4.9 stream error: the server ended the
// stream.
type StreamError struct {
	Conditions []xml.Name `xml:",any"`
	Text       string     `xml:"text"`
}

// Condition returns the defined condition, e.g. "conflict".
func (e *StreamError) Condition() string {
	for _, n := range e.Conditions {
		if n.Local != "text" {
			return n.Local
		}
	}
	return "undefined-condition"
}

func (e *StreamError) Error() string {
	if e.Text != "" {
		return "stream error: " + e.Condition() + " (" + e.Text + ")"
	}
	return "stream error: " + e.Condition()
}

// openStream sends a stream header and reads the server's header and
// features. from is the account's bare JID once TLS protects the stream
// (RFC 6120 §4.7.1), "" before: XEP-0484 servers offer FAST to a stream
// that says whose it is.
//
// after, if not "", is written together with the header: a request that
// follows the features (STARTTLS, resource binding), sent without waiting
// for them to save a round trip. The server handles the stream in order,
// so it reads the request after it has sent the features.
func (c *Conn) openStream(domain, from, after string) (*streamFeatures, error) {
	if err := c.writeStreamHeader(domain, from, after); err != nil {
		return nil, err
	}
	return c.readStreamHeader()
}

// writeStreamHeader starts a new stream: a new decoder, and the header
// with after behind it.
func (c *Conn) writeStreamHeader(domain, from, after string) error {
	c.dec = xml.NewDecoder(debugReader{c.raw, c})
	fromAttr := ""
	if from != "" {
		fromAttr = " from='" + xmlEscape(from) + "'"
	}
	header := fmt.Sprintf("<?xml version='1.0'?><stream:stream to='%s'%s xmlns='%s' xmlns:stream='%s' version='1.0'>",
		xmlEscape(domain), fromAttr, nsClient, nsStream)
	return c.write([]byte(header + after))
}

// readStreamHeader reads the server's stream header and its features.
func (c *Conn) readStreamHeader() (*streamFeatures, error) {
	for {
		tok, err := c.dec.Token()
		if err != nil {
			return nil, fmt.Errorf("read stream header: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Space != nsStream || se.Name.Local != "stream" {
				return nil, fmt.Errorf("expected a stream header, got <%s>", se.Name.Local)
			}
			break
		}
	}
	se, err := c.nextStart()
	if err != nil {
		return nil, fmt.Errorf("read stream features: %w", err)
	}
	return c.decodeFeatures(se)
}

// decodeFeatures decodes the stream features (or stream error) that se
// starts.
func (c *Conn) decodeFeatures(se xml.StartElement) (*streamFeatures, error) {
	switch {
	case se.Name.Space == nsStream && se.Name.Local == "features":
		var f streamFeatures
		if err := c.dec.DecodeElement(&f, &se); err != nil {
			return nil, fmt.Errorf("read stream features: %w", err)
		}
		c.smOffered = f.SM != nil
		return &f, nil
	case se.Name.Space == nsStream && se.Name.Local == "error":
		var e StreamError
		if err := c.dec.DecodeElement(&e, &se); err != nil {
			return nil, fmt.Errorf("read stream error: %w", err)
		}
		return nil, &e
	}
	return nil, fmt.Errorf("expected stream features, got <%s>", se.Name.Local)
}

func (c *Conn) nextStart() (xml.StartElement, error) {
	// A new element: MaxIncomingStanza counts from here (what the decoder
	// read ahead of it counts too, a few KiB at most).
	c.inMark = c.inRead
	for {
		tok, err := c.dec.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.EndElement:
			return xml.StartElement{}, ErrClosed
		case xml.Directive:
			// RFC 6120 §11.1: no DTD in a stream. encoding/xml would not
			// expand its entities anyway; the stream is refused.
			return xml.StartElement{}, errRestrictedXML("a DTD or other <!...> directive")
		case xml.ProcInst:
			if t.Target != "xml" {
				return xml.StartElement{}, errRestrictedXML("a processing instruction")
			}
		}
	}
}

func (c *Conn) negotiate(ctx context.Context, cfg Config, directTLS bool) error {
	c.account = cfg.JID
	domain := cfg.JID.Domain
	if !directTLS {
		// STARTTLS is required (there is no plain-text fallback), so it is
		// asked for with the stream header, before the features offer it.
		f, err := c.openStream(domain, "", "<starttls xmlns='"+nsTLS+"'/>")
		if err != nil {
			return err
		}
		if f.StartTLS == nil {
			return &TLSError{Err: fmt.Errorf("server %s does not offer STARTTLS", domain)}
		}
		se, err := c.nextStart()
		if err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
		if se.Name.Local != "proceed" {
			return &TLSError{Err: fmt.Errorf("server refused STARTTLS (<%s/>)", se.Name.Local)}
		}
	}
	tc := tls.Client(c.raw, tlsConfig(cfg, directTLS))
	if err := tc.HandshakeContext(ctx); err != nil {
		return &TLSError{Err: err}
	}
	c.raw = tc
	f, err := c.openStream(domain, cfg.JID.Bare(), "")
	if err != nil {
		return err
	}
	var cbOffered []string
	if f.ChannelBinding != nil {
		c.cbNamed = true
		cbOffered = []string{}
		for _, t := range f.ChannelBinding.Types {
			cbOffered = append(cbOffered, t.Type)
		}
	}
	cs := tc.ConnectionState()
	if f.Limits != nil && f.Limits.MaxBytes > 0 {
		c.maxBytes.Store(int64(f.Limits.MaxBytes))
	}
	if f.SASL2 != nil {
		return c.loginSASL2(cfg, f, cbOffered, cs)
	}
	c.redact = true
	err = c.authenticate(cfg, f.Mechanisms, cbOffered, cs, sasl1{c})
	c.redact = false
	if err != nil {
		return err
	}
	if c.sm != nil {
		if id, h, ok := c.sm.canResume(smNow(cfg)); ok {
			// XEP-0198 §5: <resume/> takes the place of the binding.
			return c.resume(cfg, id, h)
		}
	}
	// RFC 6120 §6.4.6: a new stream after the SASL success; the bind
	// request goes with its header.
	if err := c.writeStreamHeader(domain, cfg.JID.Bare(), bindRequest(cfg.Resource)); err != nil {
		return err
	}
	c.restarted = true
	return c.bound(cfg)
}

// restartFeatures reads the header and features of the stream restarted
// after SASL, before the answer to the binding request that went with it.
func (c *Conn) restartFeatures() error {
	c.restarted = false
	f, err := c.readStreamHeader()
	if err != nil {
		return err
	}
	if f.Limits != nil && f.Limits.MaxBytes > 0 {
		c.maxBytes.Store(int64(f.Limits.MaxBytes))
	}
	if f.Bind == nil {
		return errors.New("server offers no resource binding")
	}
	return nil
}

// authenticate runs the password mechanism chooseMechanism picks over
// the SASL profile w. The caller sets c.redact around it.
func (c *Conn) authenticate(cfg Config, mechs, cbOffered []string, cs tls.ConnectionState, w saslWire) error {
	have := channelBindings(cs)
	choice, err := chooseMechanism(mechs, cbOffered, have, cs.Version, cfg.NoPlain, cfg.ChannelBinding)
	if err != nil {
		return err
	}
	user := cfg.JID.Local
	if choice.mech != "PLAIN" {
		err := c.scram(w, choice, user, cfg.Password, have[choice.cbType])
		return refusedBinding(cfg.ChannelBinding, choice, cbOffered, cs.Version, err)
	}
	// PLAIN only inside TLS, which negotiate has already required.
	msg := "\x00" + user + "\x00" + cfg.Password
	if err := w.start("PLAIN", "", []byte(msg)); err != nil {
		return err
	}
	if _, err := w.step(); !errors.Is(err, errSuccess) {
		if err == nil {
			err = errors.New("authenticate: unexpected challenge for PLAIN")
		}
		return err
	}
	return nil
}

type saslResult struct {
	XMLName    xml.Name
	Text       string     `xml:",chardata"`
	Conditions []xml.Name `xml:",any"`
	Desc       string     `xml:"text"`
}

// saslStep reads one challenge or success (returning its decoded data) or a
// failure (returning an *AuthError).
func (c *Conn) saslStep() ([]byte, error) {
	se, err := c.nextStart()
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	var r saslResult
	if err := c.dec.DecodeElement(&r, &se); err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	switch r.XMLName.Local {
	case "challenge", "success":
		data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.Text))
		if err != nil && strings.TrimSpace(r.Text) != "=" {
			return nil, fmt.Errorf("authenticate: bad base64 from server: %w", err)
		}
		if r.XMLName.Local == "success" {
			return data, errSuccess
		}
		return data, nil
	case "failure":
		cond := "not-authorized"
		for _, n := range r.Conditions {
			if n.Local != "text" {
				cond = n.Local
				break
			}
		}
		return nil, &AuthError{Condition: cond, Text: r.Desc}
	}
	return nil, fmt.Errorf("authenticate: unexpected <%s>", r.XMLName.Local)
}

var errSuccess = errors.New("sasl success")

type bindResult struct {
	XMLName xml.Name     `xml:"iq"`
	Type    string       `xml:"type,attr"`
	JID     string       `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
	Error   *StanzaError `xml:"error"`
}

// bindRequest is the RFC 6120 §7 resource binding request.
func bindRequest(resource string) string {
	req := "<iq type='set' id='" + bindID + "'><bind xmlns='" + nsBind + "'>"
	if resource != "" {
		req += "<resource>" + xmlEscape(resource) + "</resource>"
	}
	return req + "</bind></iq>"
}

const bindID = "bind1"

// bind writes the binding request and reads its answer.
func (c *Conn) bind(cfg Config) error {
	if err := c.write([]byte(bindRequest(cfg.Resource))); err != nil {
		return err
	}
	return c.bound(cfg)
}

// bound follows a binding request that has been written: it reads the
// answer now or, with Config.PipelineBind, leaves it to the first Read,
// so that the caller's first stanzas go out without waiting for it.
func (c *Conn) bound(cfg Config) error {
	c.bindDone = make(chan struct{})
	if cfg.PipelineBind {
		c.bindPending, c.bindResource = true, cfg.Resource
		return nil
	}
	return c.readBind(cfg.Resource)
}

// readBind reads the answer to the binding request (after the restarted
// stream's header and features, when they are still to be read).
func (c *Conn) readBind(resource string) error {
	defer close(c.bindDone)
	if c.restarted {
		if err := c.restartFeatures(); err != nil {
			return err
		}
	}
	for {
		se, err := c.nextStart()
		if err != nil {
			return fmt.Errorf("bind resource: %w", err)
		}
		if se.Name.Local != "iq" {
			if err := c.dec.Skip(); err != nil {
				return fmt.Errorf("bind resource: %w", err)
			}
			continue
		}
		var r bindResult
		if err := c.dec.DecodeElement(&r, &se); err != nil {
			return fmt.Errorf("bind resource: %w", err)
		}
		if r.Type != "result" {
			return fmt.Errorf("bind resource %q: %s", resource, r.Error.Cond())
		}
		j, err := ParseJID(r.JID)
		if err != nil {
			return fmt.Errorf("bind resource: server returned %w", err)
		}
		if err := checkBound(c.account, j); err != nil {
			return err
		}
		c.jid = j
		return nil
	}
}

// BindError: the server bound a JID that is not a resource of the
// account that authenticated (RFC 6120 §7.6.1: the server binds a
// resource to the account's bare JID). Nothing is sent on such a stream.
type BindError struct{ Account, Bound string }

func (e *BindError) Error() string {
	return fmt.Sprintf("the server bound %q, which is not a resource of %s: refusing the session", e.Bound, e.Account)
}

// checkBound accepts a bound JID only as a full JID of the account that
// authenticated. Localpart and domain compare without regard to case,
// which servers fold.
func checkBound(account, bound JID) error {
	if bound.Resource == "" || !strings.EqualFold(bound.Bare(), account.Bare()) {
		return &BindError{Account: account.Bare(), Bound: bound.String()}
	}
	return nil
}

// writeAuth writes a SASL element; the debug output shows only shown.
func (c *Conn) writeAuth(data, shown string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.debug != nil {
		fmt.Fprintf(c.debug, "SEND %s[redacted]\n", shown)
	}
	_, err := c.raw.Write([]byte(data))
	return err
}

func (c *Conn) write(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return ErrClosed
	}
	return c.writeLocked(data)
}

// writeLocked is write with c.wmu held and the stream open.
func (c *Conn) writeLocked(data []byte) error {
	if c.debug != nil {
		fmt.Fprintf(c.debug, "SEND %s\n", data)
	}
	if c.holding {
		c.held = append(c.held, data...)
		// A TLS record holds at most 16 KiB: holding more would save
		// write calls but no record, and keep a larger buffer.
		if len(c.held) < 16*1024 {
			return nil
		}
		data, c.held = c.held, c.held[:0]
	}
	_, err := c.raw.Write(data)
	return err
}

// Send marshals v (a *Message, *Presence or *IQ) and writes it, refusing a
// stanza over the server's size limit before anything is written.
func (c *Conn) Send(v any) error {
	data, err := xml.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode stanza: %w", err)
	}
	return c.SendRaw(data)
}

// StanzaTooLargeError reports a stanza over the server's limit.
type StanzaTooLargeError struct{ Size, Limit int }

func (e *StanzaTooLargeError) Error() string {
	return fmt.Sprintf("stanza of %d bytes is over the server's limit of %d bytes", e.Size, e.Limit)
}

// SendRaw writes one serialised stanza, bounded by the write timeout.
func (c *Conn) SendRaw(data []byte) error {
	if limit := c.MaxStanza(); limit > 0 && len(data) > limit {
		return &StanzaTooLargeError{Size: len(data), Limit: limit}
	}
	if c.timeout > 0 {
		c.raw.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	if err := c.writeStanza(data); err != nil {
		return fmt.Errorf("write stanza: %w", err)
	}
	return nil
}

// Read returns the next stanza: *Message, *Presence or *IQ. Any error ends
// the stream; the caller must Close and, if it wants, dial anew.
func (c *Conn) Read() (any, error) {
	if c.bindPending {
		// Config.PipelineBind: the answer to the binding request comes
		// first on the stream.
		c.bindPending = false
		if err := c.readBind(c.bindResource); err != nil {
			return nil, err
		}
		if c.debug != nil {
			fmt.Fprintf(c.debug, "jab: debug: bound %s after %d round trips (TCP connect included)\n", c.jid, c.RoundTrips())
		}
	}
	for {
		se, err := c.nextStart()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, ErrClosed
			}
			return nil, err
		}
		var v any
		switch {
		case se.Name.Space == nsClient && se.Name.Local == "message":
			v = &Message{}
		case se.Name.Space == nsClient && se.Name.Local == "presence":
			v = &Presence{}
		case se.Name.Space == nsClient && se.Name.Local == "iq":
			v = &IQ{}
		case se.Name.Space == nsStream && se.Name.Local == "error":
			var e StreamError
			if err := c.dec.DecodeElement(&e, &se); err != nil {
				return nil, fmt.Errorf("read stream error: %w", err)
			}
			return nil, &e
		case se.Name.Space == nsSM:
			var e smElem
			if err := c.dec.DecodeElement(&e, &se); err != nil {
				return nil, fmt.Errorf("decode <%s>: %w", se.Name.Local, err)
			}
			if err := c.handleSM(&e); err != nil {
				return nil, err
			}
			continue
		default:
			if err := c.dec.Skip(); err != nil {
				return nil, err
			}
			continue
		}
		if err := c.dec.DecodeElement(v, &se); err != nil {
			return nil, fmt.Errorf("decode <%s>: %w", se.Name.Local, err)
		}
		return v, nil
	}
}

// CloseStream sends the closing tag; the server answers by closing its
// side, which the reader sees as ErrClosed.
func (c *Conn) CloseStream() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return ErrClosed
	}
	// Under one lock with the write, so no stanza another goroutine sends
	// can follow the closing tag.
	c.closed = true
	data := append(c.held, "</stream:stream>"...)
	c.held, c.holding = nil, false
	if c.debug != nil {
		fmt.Fprintf(c.debug, "SEND </stream:stream>\n")
	}
	if c.timeout > 0 {
		c.raw.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	_, err := c.raw.Write(data)
	return err
}

// Close tears the connection down at once.
func (c *Conn) Close() error {
	c.wmu.Lock()
	c.closed = true
	if c.debug != nil && c.turns != nil && !c.reported {
		c.reported = true
		fmt.Fprintf(c.debug, "jab: debug: %d round trips in all\n", c.RoundTrips())
	}
	c.wmu.Unlock()
	return c.raw.Close()
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
