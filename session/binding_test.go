package session

import (
	"crypto/tls"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// TestRefusedBinding: which failed SCRAM logins are a refused channel
// binding, and which of those may be retried on TLS 1.2 with tls-unique.
func TestRefusedBinding(t *testing.T) {
	exporter := saslChoice{mech: "SCRAM-SHA-1-PLUS", gs2: "p=tls-exporter,,", cbType: cbExporter}
	unique := saslChoice{mech: "SCRAM-SHA-1-PLUS", gs2: "p=tls-unique,,", cbType: cbUnique}
	plain := saslChoice{mech: "SCRAM-SHA-1", gs2: "y,,"}
	denied := &AuthError{Condition: "not-authorized"}
	ejabberd := &AuthError{Condition: "not-authorized", Text: "Invalid channel binding"}
	tests := []struct {
		name      string
		mode      string
		choice    saslChoice
		cbOffered []string
		version   uint16
		err       error
		wantCB    bool // a ChannelBindingError
		wantRetry bool // that allows the TLS 1.2 retry
	}{
		{name: "ejabberd 23.01: tls-exporter on TLS 1.3, no XEP-0440", choice: exporter, version: tls.VersionTLS13, err: ejabberd, wantCB: true, wantRetry: true},
		{name: "the same without a text: may be the binding, retried", choice: exporter, version: tls.VersionTLS13, err: denied, wantCB: true, wantRetry: true},
		{name: "auto spelled out", mode: BindingAuto, choice: exporter, version: tls.VersionTLS13, err: denied, wantCB: true, wantRetry: true},
		{name: "XEP-0440 named tls-exporter: the password", choice: exporter, cbOffered: []string{cbExporter}, version: tls.VersionTLS13, err: denied},
		{name: "XEP-0440 named it, the text blames the binding: no retry", choice: exporter, cbOffered: []string{cbExporter}, version: tls.VersionTLS13, err: ejabberd, wantCB: true},
		{name: "forced tls-exporter: no retry, the password", mode: BindingExporter, choice: exporter, version: tls.VersionTLS13, err: denied},
		{name: "forced tls-exporter, the text blames the binding", mode: BindingExporter, choice: exporter, version: tls.VersionTLS13, err: ejabberd, wantCB: true},
		{name: "tls-unique on TLS 1.2 refused: the password", choice: unique, version: tls.VersionTLS12, err: denied},
		{name: "tls-unique refused by text", choice: unique, version: tls.VersionTLS12, err: ejabberd, wantCB: true},
		{name: "no binding sent: the password whatever the text", choice: plain, version: tls.VersionTLS13, err: ejabberd},
		{name: "another condition", choice: exporter, version: tls.VersionTLS13, err: &AuthError{Condition: "account-disabled"}},
		{name: "not an AuthError", choice: exporter, version: tls.VersionTLS13, err: ErrClosed},
		{name: "success", choice: exporter, version: tls.VersionTLS13, err: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := refusedBinding(tt.mode, tt.choice, tt.cbOffered, tt.version, tt.err)
			var ce *ChannelBindingError
			isCB := errors.As(got, &ce)
			if isCB != tt.wantCB {
				t.Fatalf("refusedBinding = %v, want a binding error: %v", got, tt.wantCB)
			}
			if !isCB {
				if got != tt.err {
					t.Fatalf("refusedBinding = %v, want %v unchanged", got, tt.err)
				}
				return
			}
			if ce.tls12 != tt.wantRetry {
				t.Errorf("retry on TLS 1.2 = %v, want %v", ce.tls12, tt.wantRetry)
			}
			var ae *AuthError
			if !errors.As(got, &ae) {
				t.Errorf("the server's failure is lost: %v", got)
			}
		})
	}
}

// TestBindingNext: the retry happens once, never below --tls-min 1.3, and
// an ambiguous refusal that cannot be retried is the password's.
func TestBindingNext(t *testing.T) {
	ejabberd := &AuthError{Condition: "not-authorized", Text: "Invalid channel binding"}
	silent := &AuthError{Condition: "not-authorized"}
	retryable := func(ae *AuthError) error {
		return &ChannelBindingError{Type: cbExporter, Text: ae.Text, tls12: true, auth: ae}
	}
	named := &ChannelBindingError{Offered: []string{cbUnique}, tls12: true}
	tests := []struct {
		name      string
		err       error
		tlsMin    uint16
		capped    bool
		wantRetry bool
		want      error // when no retry: the error reported (nil: err itself)
	}{
		{name: "refused tls-exporter: retry", err: retryable(ejabberd), wantRetry: true},
		{name: "server names only tls-unique on TLS 1.3: retry", err: named, wantRetry: true},
		{name: "--tls-min 1.3: no retry, the binding error", err: retryable(ejabberd), tlsMin: tls.VersionTLS13},
		{name: "--tls-min 1.3, silent refusal: the password", err: retryable(silent), tlsMin: tls.VersionTLS13, want: silent},
		{name: "already capped: never twice", err: retryable(ejabberd), capped: true},
		{name: "a binding error that allows no retry", err: &ChannelBindingError{Type: cbExporter}},
		{name: "the password", err: silent},
		{name: "no error", err: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, retry, report := bindingNext(tt.err, tt.tlsMin, tt.capped)
			if retry != tt.wantRetry {
				t.Fatalf("retry = %v, want %v", retry, tt.wantRetry)
			}
			if retry {
				if first == nil || report != nil {
					t.Errorf("retry with first %v, report %v", first, report)
				}
				return
			}
			want := tt.want
			if want == nil {
				want = tt.err
			}
			if report != want {
				t.Errorf("report = %v, want %v", report, want)
			}
		})
	}
}

// TestAfterRetry: what the TLS 1.2 retry's failure means.
func TestAfterRetry(t *testing.T) {
	blames := &ChannelBindingError{Type: cbExporter, Text: "Invalid channel binding", tls12: true,
		auth: &AuthError{Condition: "not-authorized", Text: "Invalid channel binding"}}
	silent := &ChannelBindingError{Type: cbExporter, tls12: true, auth: &AuthError{Condition: "not-authorized"}}
	denied := &AuthError{Condition: "not-authorized"}
	tests := []struct {
		name   string
		first  *ChannelBindingError
		retry  error
		wantCB bool
	}{
		{name: "silent both times: the password", first: silent, retry: denied},
		{name: "ejabberd, unknown account: the retry's text decides", first: blames,
			retry: &AuthError{Condition: "not-authorized", Text: "Invalid username or password"}},
		{name: "the retry blames the binding too", first: blames, retry: blames.auth, wantCB: true},
		{name: "no TLS 1.2 at the server", first: silent, retry: &TLSError{Err: errors.New("protocol version not supported")}, wantCB: true},
		{name: "no tls-unique on the capped connection", first: silent, retry: &ChannelBindingError{Type: cbUnique}, wantCB: true},
		{name: "the network: itself", first: blames, retry: fmt.Errorf("%w: dial", ErrTimeout)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := afterRetry(tt.first, tt.retry)
			var ce *ChannelBindingError
			if errors.As(got, &ce) != tt.wantCB {
				t.Fatalf("afterRetry = %v, want a binding error: %v", got, tt.wantCB)
			}
			if tt.wantCB && (!ce.Retried || ce.tls12) {
				t.Errorf("got %+v: want Retried and no further retry", ce)
			}
			if !tt.wantCB && got != tt.retry {
				t.Errorf("afterRetry = %v, want the retry's error %v", got, tt.retry)
			}
		})
	}
}

// TestPickBinding: the modes.
func TestPickBinding(t *testing.T) {
	tls13 := map[string][]byte{cbExporter: []byte("e"), cbEndPoint: []byte("p")}
	tls12 := map[string][]byte{cbExporter: []byte("e"), cbEndPoint: []byte("p"), cbUnique: []byte("u")}
	tests := []struct {
		name      string
		mode      string
		cbOffered []string
		have      map[string][]byte
		version   uint16
		want      string
	}{
		{name: "auto, TLS 1.3: tls-exporter", have: tls13, version: tls.VersionTLS13, want: cbExporter},
		{name: "auto, TLS 1.2: tls-unique", have: tls12, version: tls.VersionTLS12, want: cbUnique},
		{name: "auto with XEP-0440: our preference", mode: BindingAuto, have: tls12, version: tls.VersionTLS12, cbOffered: []string{cbUnique, cbExporter}, want: cbExporter},
		{name: "tls-unique forced on TLS 1.3: none there", mode: BindingUnique, have: tls13, version: tls.VersionTLS13},
		{name: "tls-unique forced on TLS 1.2", mode: BindingUnique, have: tls12, version: tls.VersionTLS12, want: cbUnique},
		{name: "tls-exporter forced on TLS 1.2 (EMS)", mode: BindingExporter, have: tls12, version: tls.VersionTLS12, want: cbExporter},
		{name: "tls-exporter forced, server names others", mode: BindingExporter, have: tls13, version: tls.VersionTLS13, cbOffered: []string{cbEndPoint}},
		{name: "none", mode: BindingNone, have: tls12, version: tls.VersionTLS12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pickBinding(tt.mode, tt.cbOffered, tt.have, tt.version); got != tt.want {
				t.Errorf("pickBinding = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCapTLS12: which logins start capped at TLS 1.2.
func TestCapTLS12(t *testing.T) {
	memo := &statefile.Binding{Account: "me@example.org", Type: cbUnique}
	tests := []struct {
		name   string
		mode   string
		tlsMin uint16
		memo   *statefile.Binding
		want   bool
	}{
		{name: "auto, no memo", want: false},
		{name: "auto, memo", memo: memo, want: true},
		{name: "auto spelled out, memo", mode: BindingAuto, memo: memo, want: true},
		{name: "tls-unique mode", mode: BindingUnique, want: true},
		{name: "tls-exporter mode ignores the memo", mode: BindingExporter, memo: memo},
		{name: "none ignores the memo", mode: BindingNone, memo: memo},
		{name: "--tls-min 1.3 wins", memo: memo, tlsMin: tls.VersionTLS13},
		{name: "--tls-min 1.3 wins over tls-unique mode", mode: BindingUnique, tlsMin: tls.VersionTLS13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := capTLS12(tt.mode, tt.tlsMin, tt.memo); got != tt.want {
				t.Errorf("capTLS12 = %v, want %v", got, tt.want)
			}
		})
	}
}

// memoStore is an in-memory BindingMemo.
type memoStore map[string]statefile.Binding

func (m memoStore) ReadBinding(a string) (*statefile.Binding, error) {
	if b, ok := m[a]; ok {
		return &b, nil
	}
	return nil, nil
}
func (m memoStore) WriteBinding(b statefile.Binding) error { m[b.Account] = b; return nil }
func (m memoStore) RemoveBinding(a string) error           { delete(m, a); return nil }

// TestRememberBinding: a successful retry is remembered; a server that
// names its types (it learned tls-exporter) is forgotten.
func TestRememberBinding(t *testing.T) {
	const acct = "me@example.org"
	now := time.Unix(1700000000, 0)
	m := memoStore{}
	if err := rememberBinding(m, acct, false, false, now); err != nil || len(m) != 0 {
		t.Fatalf("a capped login without retry wrote %v (%v)", m, err)
	}
	rememberBinding(m, acct, true, false, now)
	if b, ok := m[acct]; !ok || b.Type != cbUnique || !b.Since.Equal(now) {
		t.Fatalf("after a retry: %v", m)
	}
	rememberBinding(m, acct, false, false, now)
	if _, ok := m[acct]; !ok {
		t.Fatal("a later capped login forgot the record")
	}
	rememberBinding(m, acct, false, true, now)
	if _, ok := m[acct]; ok {
		t.Fatal("a server that names its types is still capped")
	}
	if err := rememberBinding(nil, acct, true, false, now); err != nil {
		t.Fatal(err)
	}
}
