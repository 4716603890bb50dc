package session

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// maxSCRAMIterations bounds the work a hostile server can make us do.
const maxSCRAMIterations = 1 << 20

// scramClient computes the client side of RFC 5802 SCRAM. It is pure so
// it can be tested against the RFC vectors.
type scramClient struct {
	h         func() hash.Hash
	user      string
	password  string
	nonce     string
	firstBare string
	gs2       string // GS2 header, "n,," unless setBinding
	cbData    []byte // channel binding data for "p=…"
	serverSig []byte
}

func newSCRAM(mech, user, password, nonce string) (*scramClient, error) {
	var h func() hash.Hash
	switch mech {
	case "SCRAM-SHA-1", "SCRAM-SHA-1-PLUS":
		h = sha1.New
	case "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS":
		h = sha256.New
	case "SCRAM-SHA-512", "SCRAM-SHA-512-PLUS":
		h = sha512.New
	default:
		return nil, fmt.Errorf("unsupported mechanism %s", mech)
	}
	name := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(user)
	return &scramClient{h: h, user: user, password: password, nonce: nonce,
		firstBare: "n=" + name + ",r=" + nonce, gs2: "n,,"}, nil
}

// setBinding sets the GS2 header ("n,,", "y,," or "p=TYPE,,") and, for
// "p", the channel binding data. RFC 5802 §7: the c= attribute of the
// client-final message is the base64 of the header followed by the data,
// so the server's proof covers the TLS channel.
func (s *scramClient) setBinding(gs2 string, data []byte) {
	s.gs2 = gs2
	s.cbData = data
}

func (s *scramClient) first() string { return s.gs2 + s.firstBare }

// final answers the server-first message with the client-final message.
func (s *scramClient) final(serverFirst string) (string, error) {
	var rnonce, salt64, iters string
	for _, part := range strings.Split(serverFirst, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		switch k {
		case "r":
			rnonce = v
		case "s":
			salt64 = v
		case "i":
			iters = v
		case "m":
			return "", errors.New("server requires an unknown SCRAM extension")
		}
	}
	if !strings.HasPrefix(rnonce, s.nonce) || len(rnonce) == len(s.nonce) {
		return "", errors.New("server nonce does not extend ours")
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil || len(salt) == 0 {
		return "", errors.New("bad SCRAM salt from server")
	}
	n, err := strconv.Atoi(iters)
	if err != nil || n < 1 || n > maxSCRAMIterations {
		return "", fmt.Errorf("bad SCRAM iteration count %q from server", iters)
	}
	salted, err := pbkdf2.Key(s.h, s.password, salt, n, s.h().Size())
	if err != nil {
		return "", err
	}
	clientKey := s.hmac(salted, "Client Key")
	sum := s.h()
	sum.Write(clientKey)
	storedKey := sum.Sum(nil)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString(append([]byte(s.gs2), s.cbData...)) + ",r=" + rnonce
	authMessage := s.firstBare + "," + serverFirst + "," + withoutProof
	sig := s.hmac(storedKey, authMessage)
	proof := make([]byte, len(clientKey))
	for i := range clientKey {
		proof[i] = clientKey[i] ^ sig[i]
	}
	s.serverSig = s.hmac(s.hmac(salted, "Server Key"), authMessage)
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof), nil
}

// verify checks the server-final message, so a server that does not know
// the password cannot pretend to.
func (s *scramClient) verify(serverFinal string) error {
	if e, ok := strings.CutPrefix(serverFinal, "e="); ok {
		return &AuthError{Condition: "not-authorized", Text: e}
	}
	v, ok := strings.CutPrefix(serverFinal, "v=")
	if !ok {
		return errors.New("server sent no SCRAM signature")
	}
	got, err := base64.StdEncoding.DecodeString(v)
	if err != nil || !hmac.Equal(got, s.serverSig) {
		return errors.New("SCRAM server signature mismatch: the server does not know the password")
	}
	return nil
}

func (s *scramClient) hmac(key []byte, msg string) []byte {
	m := hmac.New(s.h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func (c *Conn) scram(w saslWire, choice saslChoice, user, password string, cbData []byte) error {
	nb := make([]byte, 24)
	rand.Read(nb)
	mech := choice.mech
	sc, err := newSCRAM(mech, user, password, base64.RawStdEncoding.EncodeToString(nb))
	if err != nil {
		return err
	}
	sc.setBinding(choice.gs2, cbData)
	// The debug output names the mechanism and the binding, nothing else.
	if err := w.start(mech, choice.cbType, []byte(sc.first())); err != nil {
		return err
	}
	challenge, err := w.step()
	if err != nil {
		if errors.Is(err, errSuccess) {
			return errors.New("authenticate: server skipped the SCRAM exchange")
		}
		return err
	}
	final, err := sc.final(string(challenge))
	if err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	if err := w.respond([]byte(final)); err != nil {
		return err
	}
	data, err := w.step()
	switch {
	case errors.Is(err, errSuccess):
	case err != nil:
		return err
	default:
		// Some servers send the signature as a last challenge and then an
		// empty success.
		if err := w.respond(nil); err != nil {
			return err
		}
		if _, err := w.step(); !errors.Is(err, errSuccess) {
			if err == nil {
				err = errors.New("authenticate: unexpected extra challenge")
			}
			return err
		}
	}
	return sc.verify(string(data))
}
