package commands

import (
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

func TestParseTLSMin(t *testing.T) {
	tests := []struct {
		in      string
		want    uint16
		wantErr bool
	}{
		{"", 0, false},
		{"1.2", tls.VersionTLS12, false},
		{"1.3", tls.VersionTLS13, false},
		{"1.1", 0, true},
		{"1.0", 0, true},
		{"tls1.3", 0, true},
		{"13", 0, true},
	}
	for _, tt := range tests {
		got, err := parseTLSMin(tt.in)
		var ue *usageError
		if tt.wantErr != errors.As(err, &ue) || got != tt.want {
			t.Errorf("parseTLSMin(%q) = %x, %v", tt.in, got, err)
		}
	}
}

// TestLoginFlags runs the app in-process against a closed loopback port:
// bad values are usage errors (exit 2, nothing contacted); good ones get
// as far as connecting (exit 5), and the error shows where jab tried.
func TestLoginFlags(t *testing.T) {
	base := func(extra ...string) map[string]string {
		m := map[string]string{"JAB_JID": "me@example.net", "JAB_PASSWORD": "x", "JAB_STATE_DIR": t.TempDir(), "JAB_SERVER": "127.0.0.1:1"}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		want     []string // in stderr
		notWant  []string
	}{
		{name: "bad --tls-min", env: base(), args: []string{"send", "--tls-min", "1.1", "a@b", "x"},
			wantCode: ExitUsage, want: []string{`--tls-min "1.1"`, "hint: use --tls-min 1.2 or --tls-min 1.3"}},
		{name: "bad JAB_TLS_MIN", env: base("JAB_TLS_MIN", "TLSv1.3"), args: []string{"send", "a@b", "x"},
			wantCode: ExitUsage, want: []string{`"TLSv1.3"`}},
		{name: "bad JAB_NO_PLAIN", env: base("JAB_NO_PLAIN", "maybe"), args: []string{"send", "a@b", "x"},
			wantCode: ExitUsage, want: []string{"JAB_NO_PLAIN"}},
		{name: "bad JAB_NO_FAST", env: base("JAB_NO_FAST", "nah"), args: []string{"send", "a@b", "x"},
			wantCode: ExitUsage, want: []string{"JAB_NO_FAST"}},
		{name: "--no-fast reaches the network", env: base(), args: []string{"send", "--no-fast", "a@b", "x"},
			wantCode: ExitTimeout, want: []string{"127.0.0.1:1"}},
		{name: "bad JAB_DIRECT_TLS", env: base("JAB_DIRECT_TLS", "yes please"), args: []string{"send", "a@b", "x"},
			wantCode: ExitUsage, want: []string{"JAB_DIRECT_TLS"}},
		{name: "bad JAB_INSECURE_SKIP_VERIFY", env: base("JAB_INSECURE_SKIP_VERIFY", "sure"), args: []string{"send", "a@b", "x"},
			wantCode: ExitUsage, want: []string{"JAB_INSECURE_SKIP_VERIFY"}, notWant: []string{"warning"}},
		{name: "good values reach the network", env: base("JAB_TLS_MIN", "1.3", "JAB_NO_PLAIN", "1"),
			args: []string{"send", "--direct-tls", "a@b", "x"}, wantCode: ExitTimeout,
			want: []string{"127.0.0.1:1 (direct TLS)"}, notWant: []string{"warning"}},
		{name: "direct TLS defaults to port 5223", env: base("JAB_SERVER", "127.0.0.1"),
			args: []string{"send", "--direct-tls", "a@b", "x"}, wantCode: ExitTimeout, want: []string{"127.0.0.1:5223 (direct TLS)"}},
		{name: "STARTTLS defaults to port 5222", env: base("JAB_SERVER", "127.0.0.1"),
			args: []string{"send", "a@b", "x"}, wantCode: ExitTimeout, want: []string{"127.0.0.1:5222"}, notWant: []string{"direct TLS"}},
		{name: "insecure warns on a run that connects", env: base(), args: []string{"--insecure-skip-verify", "send", "a@b", "x"},
			wantCode: ExitTimeout, want: []string{"jab: warning: --insecure-skip-verify"}},
		{name: "insecure from the environment warns too", env: base("JAB_INSECURE_SKIP_VERIFY", "1"), args: []string{"send", "a@b", "x"},
			wantCode: ExitTimeout, want: []string{"jab: warning: --insecure-skip-verify"}},
		{name: "insecure does not warn where nothing connects", env: base("JAB_INSECURE_SKIP_VERIFY", "1"), args: []string{"threads", "list"},
			wantCode: ExitOK, notWant: []string{"warning"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runApp(t, "", tt.env, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, errs)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(errs, w) {
					t.Errorf("stderr contains %q:\n%s", w, errs)
				}
			}
		})
	}
}

func TestLoginOptionsApply(t *testing.T) {
	var cfg session.Config
	loginOptions{directTLS: true, tlsMin: tls.VersionTLS13, noPlain: true, insecure: true}.apply(&cfg)
	if !cfg.DirectTLS || cfg.TLSMin != tls.VersionTLS13 || !cfg.NoPlain || !cfg.InsecureSkipVerify {
		t.Errorf("config %+v", cfg)
	}
}

func TestHintNoUsableMechanism(t *testing.T) {
	h := hintFor(&session.AuthError{Condition: "no-usable-mechanism"})
	if !strings.Contains(h, "--no-plain") {
		t.Errorf("hint %q", h)
	}
	if h := hintFor(&session.AuthError{Condition: "not-authorized"}); !strings.Contains(h, "password") {
		t.Errorf("hint for a wrong password %q", h)
	}
}

// TestSessionConfigFAST: the login gets the state directory as its FAST
// token store, and none with --no-fast.
func TestSessionConfigFAST(t *testing.T) {
	env := &Env{Now: time.Now, Stderr: io.Discard}
	o := &options{stateDir: t.TempDir()}
	cfg := o.sessionConfig(env, "r")
	store, ok := cfg.FAST.(*statefile.Store)
	if !ok || store.Dir() != o.stateDir {
		t.Errorf("FAST store %#v, want the state directory %s", cfg.FAST, o.stateDir)
	}
	if cfg.Now == nil {
		t.Error("no clock for token expiry")
	}
	o.login.noFAST = true
	if cfg := o.sessionConfig(env, "r"); cfg.FAST != nil {
		t.Errorf("--no-fast still gives a token store: %#v", cfg.FAST)
	}
}
