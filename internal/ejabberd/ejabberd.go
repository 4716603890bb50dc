// Package ejabberd runs throwaway ejabberd XMPP servers for integration
// tests: Debian's ejabberd 23.01 (package "ejabberd"), never its system
// service. Each Server has its own config, spool (Mnesia) and log
// directories in a temp dir, a certificate for its domain signed by a
// throwaway CA (internal/testcert), a STARTTLS and a direct TLS c2s port,
// and an HTTP port for mod_http_api, through which Register creates
// accounts in milliseconds.
//
// The Erlang runtime is started directly (not through ejabberdctl, which
// insists on the ejabberd system user) and without distribution: the node
// is nonode@nohost, so no epmd is started and no distribution port
// opened. ERL_EPMD_ADDRESS and the kernel's inet_dist_use_interface are
// set to loopback all the same. Start refuses to run outside a network
// namespace whose only interface is loopback (netns.Run puts a test
// binary in one), so even a listener we did not ask for cannot be
// reached from the network.
//
// Every listener is on 127.0.0.1. The modules are those of the Prosody
// test servers (roster, disco, ping, offline, carbons, MUC on
// conference.DOMAIN), with mod_mam and mod_stream_mgmt on request.
package ejabberd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jab-xmpp/jab/internal/netns"
	"github.com/jab-xmpp/jab/internal/serverproc"
	"github.com/jab-xmpp/jab/internal/testcert"
)

// DefaultDomain is the XMPP domain when Options.Domain is empty.
const DefaultDomain = "example.test"

const (
	startTimeout   = 30 * time.Second
	stopTimeout    = 10 * time.Second
	requestTimeout = 30 * time.Second
	logFileName    = "ejabberd.log"
	consoleName    = "console.log"
	configName     = "ejabberd.yml"
)

// Options configures Start.
type Options struct {
	// Domain is the XMPP domain served (default "example.test").
	Domain string
	// Modules are ejabberd modules loaded besides the default set, with
	// their options as YAML flow text or "" for none, e.g.
	// {"mod_mam": ""}. mod_mam always archives every message (default:
	// always), as Prosody's mod_mam does.
	Modules map[string]string
	// Without are modules of the default set not to load, e.g.
	// "mod_carboncopy".
	Without []string
	// TLS12 caps the c2s listeners at TLS 1.2 (protocol option
	// no_tlsv1_3).
	TLS12 bool
	// DisableMechanisms are SASL mechanisms not offered, e.g.
	// "SCRAM-SHA-1-PLUS". DIGEST-MD5 and X-OAUTH2 are always off, as in
	// Debian's default config.
	DisableMechanisms []string
	// Debug logs at debug level; EJABBERD_DEBUG=1 does the same.
	Debug bool
	// RoomArchive makes every new room keep an archive (XEP-0313 on
	// the MUC service, default_room_options mam); it needs mod_mam.
	RoomArchive bool
}

// Server is a throwaway ejabberd.
type Server struct {
	Domain        string // XMPP domain (not resolvable; connect via Addr)
	MUCDomain     string // "conference." + Domain
	Addr          string // 127.0.0.1:PORT, c2s with STARTTLS
	DirectTLSAddr string // 127.0.0.1:PORT, c2s with direct TLS (XEP-0368)
	CAFile        string // PEM of the CA that signed the server certificate
	Dir           string // temp dir: config, spool, logs

	apiURL string // mod_http_api
	spool  string
	log    string
	conf   string
	proc   *serverproc.Proc

	stopOnce sync.Once
	stopErr  error
}

// Available reports whether ejabberd 23.01's files are installed: the
// Erlang runtime and the ejabberd application. The error says what to
// install.
func Available() error {
	if _, err := exec.LookPath("erl"); err != nil {
		return fmt.Errorf("ejabberd test server unavailable (erl not in PATH); install it with: .ci/deps (apt-get install ejabberd, service not started)")
	}
	if _, err := ebinDir(); err != nil {
		return fmt.Errorf("ejabberd test server unavailable (%v); install it with: .ci/deps (apt-get install ejabberd, service not started)", err)
	}
	return nil
}

// ebinDir finds ejabberd's Erlang application where Debian installs it,
// /usr/lib/<multiarch triplet>/ejabberd-<version>/ebin; its grandparent is
// what ejabberdctl puts in ERL_LIBS.
func ebinDir() (string, error) {
	m, _ := filepath.Glob("/usr/lib/*/ejabberd-*/ebin/ejabberd.app")
	if len(m) == 0 {
		return "", errors.New("no /usr/lib/*/ejabberd-*/ebin/ejabberd.app")
	}
	return filepath.Dir(m[0]), nil
}

// libDir is ERL_LIBS for ejabberd: the directory that holds ejabberd's
// and its dependencies' applications.
func libDir() string {
	ebin, err := ebinDir()
	if err != nil {
		return ""
	}
	return filepath.Dir(filepath.Dir(ebin))
}

// Start writes a config and certificates into a new temp dir, starts
// ejabberd and waits until its c2s ports answer. It needs a network
// namespace with loopback only (netns.Run).
func Start(opts Options) (_ *Server, err error) {
	if err := netns.LoopbackOnly(); err != nil {
		return nil, fmt.Errorf("ejabberd: refusing to start: %w", err)
	}
	if err := Available(); err != nil {
		return nil, err
	}
	domain := strings.ToLower(opts.Domain)
	if domain == "" {
		domain = DefaultDomain
	}
	dir, err := os.MkdirTemp("", "jab-ejabberd-")
	if err != nil {
		return nil, fmt.Errorf("ejabberd: %w", err)
	}
	s := &Server{Domain: domain, MUCDomain: "conference." + domain, Dir: dir,
		spool: filepath.Join(dir, "spool"), log: filepath.Join(dir, "logs"), conf: filepath.Join(dir, configName)}
	defer func() {
		if err != nil {
			s.proc.Kill()
			if os.Getenv("KEEP_EJABBERD") != "1" {
				os.RemoveAll(dir)
			}
		}
	}()
	for _, sub := range []string{s.spool, s.log, filepath.Join(dir, "certs")} {
		if err := os.Mkdir(sub, 0o700); err != nil {
			return nil, fmt.Errorf("ejabberd: %w", err)
		}
	}
	cert, key, ca, err := testcert.Write(filepath.Join(dir, "certs"), domain)
	if err != nil {
		return nil, fmt.Errorf("ejabberd: certificates: %w", err)
	}
	s.CAFile = ca
	var ports [3]int
	for i := range ports {
		if ports[i], err = serverproc.FreePort(); err != nil {
			return nil, fmt.Errorf("ejabberd: free port: %w", err)
		}
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	s.DirectTLSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	s.apiURL = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2])) + "/api/"
	level := "info"
	if opts.Debug || os.Getenv("EJABBERD_DEBUG") == "1" {
		level = "debug"
	}
	cfg := configText(configParams{Domain: domain, C2S: ports[0], DirectTLS: ports[1], HTTP: ports[2],
		CertFile: cert, KeyFile: key, LogLevel: level, Opts: opts})
	if err := os.WriteFile(s.conf, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("ejabberd: write config: %w", err)
	}
	if err := s.launch(); err != nil {
		return nil, err
	}
	return s, nil
}

// launch starts the Erlang runtime with ejabberd and waits until it is
// ready.
func (s *Server) launch() error {
	console, err := os.OpenFile(filepath.Join(s.log, consoleName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("ejabberd: %w", err)
	}
	defer console.Close()
	// What ejabberdctl foreground runs, without -sname: no distribution,
	// so no epmd.
	cmd := exec.Command("erl", "-noinput", "-noshell", "-start_epmd", "false",
		"-kernel", "inet_dist_use_interface", "{127,0,0,1}",
		"+K", "true", "+P", "250000",
		"-mnesia", "dir", strconv.Quote(s.spool), "-s", "ejabberd")
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(),
		"EJABBERD_CONFIG_PATH="+s.conf,
		"EJABBERD_LOG_PATH="+filepath.Join(s.log, logFileName),
		"ERL_CRASH_DUMP="+filepath.Join(s.log, "erl_crash.dump"),
		"ERL_LIBS="+libDir(),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"INET_DIST_INTERFACE=127.0.0.1",
		"HOME="+s.Dir,
	)
	cmd.Stdout, cmd.Stderr = console, console
	if s.proc, err = serverproc.Start(cmd); err != nil {
		return fmt.Errorf("ejabberd: start erl: %w", err)
	}
	return s.waitReady()
}

// waitReady waits until the log says ejabberd started and both c2s
// ports and the API answer.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	var probeErr error
	for time.Now().Before(deadline) {
		select {
		case <-s.proc.Done():
			return fmt.Errorf("ejabberd exited during startup (%v); log:\n%s", s.proc.Err(), s.LogTail(40))
		default:
		}
		logText, _ := os.ReadFile(filepath.Join(s.log, logFileName))
		if bytes.Contains(logText, []byte(" is started in the node ")) {
			if probeErr = serverproc.ProbeStream(s.Addr, s.Domain); probeErr == nil {
				if probeErr = s.api("status", map[string]any{}, nil); probeErr == nil {
					return nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if probeErr == nil {
		probeErr = errors.New("not started")
	}
	return fmt.Errorf("ejabberd did not become ready on %s within %v (%v); log:\n%s", s.Addr, startTimeout, probeErr, s.LogTail(40))
}

// api calls an ejabberd command through mod_http_api; out, if not nil,
// receives the JSON answer.
func (s *Server) api(command string, args map[string]any, out any) error {
	body, err := json.Marshal(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.apiURL+command, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ejabberd api %s: %w", command, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ejabberd api %s: %s: %s", command, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// Register creates the account user@Domain with password; an existing
// one is deleted first.
func (s *Server) Register(user, password string) error {
	if user == "" || strings.ContainsAny(user, "@/ \t\r\n") {
		return fmt.Errorf("ejabberd: invalid username %q", user)
	}
	if password == "" {
		return errors.New("ejabberd: empty password")
	}
	args := map[string]any{"user": user, "host": s.Domain, "password": password}
	err := s.api("register", args, nil)
	if err != nil && strings.Contains(err.Error(), "409") {
		// The account exists: start it afresh, as prosodyctl register
		// overwrites one.
		if err = s.api("unregister", map[string]any{"user": user, "host": s.Domain}, nil); err == nil {
			err = s.api("register", args, nil)
		}
	}
	if err != nil {
		return fmt.Errorf("register %s@%s: %w", user, s.Domain, err)
	}
	return nil
}

// Restart stops ejabberd with SIGTERM and starts it again on the same
// ports and spool: what a client sees when its server restarts.
func (s *Server) Restart() error {
	if err := s.proc.Terminate(stopTimeout); err != nil {
		return fmt.Errorf("ejabberd: restart: %w", err)
	}
	// waitReady looks for the start line in the log: start a new one.
	lf := filepath.Join(s.log, logFileName)
	if err := os.Rename(lf, lf+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("ejabberd: restart: %w", err)
	}
	return s.launch()
}

// Stop terminates ejabberd (SIGTERM to its process group, SIGKILL after
// 10 s) and removes Dir unless KEEP_EJABBERD=1. Safe to call twice.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if err := s.proc.Terminate(stopTimeout); err != nil {
			s.stopErr = fmt.Errorf("ejabberd: %w", err)
		}
		if os.Getenv("KEEP_EJABBERD") == "1" {
			fmt.Fprintf(os.Stderr, "ejabberd: KEEP_EJABBERD=1, leaving %s\n", s.Dir)
			return
		}
		if err := os.RemoveAll(s.Dir); err != nil && s.stopErr == nil {
			s.stopErr = err
		}
	})
	return s.stopErr
}

// Pid is the process id of the Erlang runtime.
func (s *Server) Pid() int { return s.proc.Pid() }

// LogTail returns the last n lines of ejabberd's log and of what the
// runtime printed, for test failure messages.
func (s *Server) LogTail(n int) string {
	var b strings.Builder
	b.WriteString(serverproc.FileTail(filepath.Join(s.log, logFileName), n))
	if data, err := os.ReadFile(filepath.Join(s.log, consoleName)); err == nil && len(bytes.TrimSpace(data)) > 0 {
		b.WriteString("--- erl stdout/stderr ---\n")
		b.WriteString(serverproc.TailLines(string(data), n))
	}
	return b.String()
}
