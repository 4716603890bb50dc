// Package prosody runs throwaway Prosody XMPP servers for integration tests.
//
// A Server listens for client-to-server connections on a random loopback
// port (STARTTLS on a plain port, TLS mandatory), with a certificate for
// its domain signed by a throwaway CA. Only the c2s listener (and, with
// Options.DirectTLS, a direct TLS c2s listener) is opened;
// s2s, HTTP, component and other listeners are disabled, so several
// servers (and a system Prosody) can run side by side.
//
// The package only uses the standard library and the prosody/prosodyctl
// binaries (Debian package "prosody", which pulls in "lua-sec"). With
// Options.Prosody13 it runs instead the Prosody 13 that .ci/deps unpacks
// from bookworm-backports into Prosody13Dir, with the community modules
// mod_sasl2 and mod_sasl2_fast, for the SASL2/FAST tests; the system
// Prosody stays 0.12.
package prosody

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jab-xmpp/jab/internal/serverproc"
	"github.com/jab-xmpp/jab/internal/testcert"
)

// DefaultDomain is the XMPP domain used when Options.Domain is empty.
const DefaultDomain = "example.test"

const (
	startTimeout    = 15 * time.Second
	stopTimeout     = 5 * time.Second
	commandTimeout  = 30 * time.Second
	bindAttempts    = 5
	logFileName     = "prosody.log"
	consoleFileName = "console.log"
	configFileName  = "prosody.cfg.lua"
)

// Options configures Start.
type Options struct {
	// Domain is the XMPP domain served (default "example.test"). It does
	// not have to resolve; clients connect to Server.Addr.
	Domain string
	// Limits loads mod_limits, which throttles c2s connections to
	// Prosody's default rate (10 KiB/s with a 2 s burst). Off by default
	// so tests are not slowed down.
	Limits bool
	// Debug logs at "debug" level instead of "info". The environment
	// variable PROSODY_DEBUG=1 has the same effect.
	Debug bool
	// DirectTLS also opens a direct TLS c2s port (XEP-0368,
	// c2s_direct_tls_ports), Server.DirectTLSAddr.
	DirectTLS bool
	// Authentication is Prosody's authentication provider; ""
	// means "internal_hashed" (SCRAM-SHA-1 and PLAIN). "internal_plain"
	// stores plain passwords and so also offers SCRAM-SHA-256.
	Authentication string
	// DisableMechanisms are SASL mechanisms not offered
	// (disable_sasl_mechanisms), e.g. every SCRAM variant for a PLAIN-only
	// server. DIGEST-MD5 is always disabled, as by Prosody's default.
	DisableMechanisms []string
	// TLSProtocol is LuaSec's protocol setting for the virtual host:
	// "tlsv1_2" serves TLS 1.2 only (where Prosody 0.12 offers the
	// SCRAM -PLUS mechanisms with tls-unique); "" is Prosody's default
	// ("tlsv1_2+").
	TLSProtocol string
	// Prosody13 runs the private Prosody 13 tree that .ci/deps unpacks
	// (see Prosody13Dir) instead of the system Prosody, with the
	// community modules mod_sasl2 (XEP-0388) and mod_sasl2_fast
	// (XEP-0484) enabled.
	Prosody13 bool
	// NoNagle sets TCP_NODELAY on client connections (network_settings
	// nagle = false). By default Prosody leaves Nagle's algorithm on, and
	// its stream features after TLS then wait about 40 ms for the
	// client's delayed ACK, which hides what a login itself costs; the
	// login benchmarks turn it off.
	NoNagle bool
	// Settings are extra global config lines, as Lua, e.g.
	// "sasl2_fast_token_min_ttl = 0".
	Settings []string
	// Modules are extra modules to load, e.g. "mam" (XEP-0313 archive)
	// or "smacks" (XEP-0198 stream management); both ship with
	// Prosody 0.12 and 13.
	Modules []string
	// Without are modules of the default set not to load, e.g.
	// "carbons" for a server without XEP-0280.
	Without []string
	// MUCModules are extra modules of the MUC component
	// (conference.DOMAIN), e.g. "muc_mam" (XEP-0313 archives of rooms).
	// The component always loads mod_jab_muc_test (plugins/), which
	// gives rooms two settings Prosody lacks, each off until a room's
	// owner sets it in the configuration form: muc#roomconfig_maxusers (a
	// full room refuses joins with service-unavailable) and jab#noecho
	// (a room that never reflects a message to its sender).
	MUCModules []string
	// Upload, if not nil, adds the XEP-0363 service upload.DOMAIN
	// (mod_http_file_share) with HTTPS on a free loopback port; its
	// URLs are https://127.0.0.1:PORT/file_share/…, which the test
	// certificate names (Server.UploadDomain, Server.HTTPSAddr).
	Upload *Upload
}

// Upload configures mod_http_file_share.
type Upload struct {
	SizeLimit  int64 // http_file_share_size_limit, bytes
	DailyQuota int64 // http_file_share_daily_quota, bytes; 0: Prosody's default (10 × SizeLimit)
	// ExternalURL, if not "", is the base URL the slots name instead of
	// the HTTPS port (http_external_url): a proxy in front of it, or a
	// plain http URL.
	ExternalURL string
}

// Prosody13Dir is where .ci/deps unpacks Prosody 13 and prosody-modules
// from bookworm-backports: $JAB_PROSODY13_DIR, else
// /var/cache/jab-prosody13. The system Prosody stays 0.12.
func Prosody13Dir() string {
	if d := os.Getenv("JAB_PROSODY13_DIR"); d != "" {
		return d
	}
	return "/var/cache/jab-prosody13"
}

// Available13 reports whether the private Prosody 13 tree is unpacked,
// with mod_sasl2 and mod_sasl2_fast. The error says how to get it.
func Available13() error {
	dir := Prosody13Dir()
	for _, f := range []string{".complete", "usr/bin/prosody", "usr/bin/prosodyctl",
		"usr/lib/prosody/modules/mod_sasl2/mod_sasl2.lua", "usr/lib/prosody/modules/mod_sasl2_fast/mod_sasl2_fast.lua"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("prosody 13 test server unavailable (%v); unpack it with: sudo .ci/deps", err)
		}
	}
	return checkLuaSec(filepath.Join(dir, "usr/bin/prosody"))
}

// binaries returns the prosody and prosodyctl to run.
func (o Options) binaries() (prosody, prosodyctl string) {
	if o.Prosody13 {
		dir := Prosody13Dir()
		return filepath.Join(dir, "usr/bin/prosody"), filepath.Join(dir, "usr/bin/prosodyctl")
	}
	return "prosody", "prosodyctl"
}

// Server is a throwaway Prosody for integration tests.
type Server struct {
	Domain string // XMPP domain, e.g. "example.test" (not resolvable; connect via Addr)
	Addr   string // "127.0.0.1:PORT" of the c2s listener (STARTTLS on a plain port)
	// DirectTLSAddr is "127.0.0.1:PORT" of the direct TLS listener, ""
	// unless Options.DirectTLS.
	DirectTLSAddr string
	CAFile        string // PEM of the throwaway CA that signed the server certificate
	// CertFile and KeyFile are the server's certificate (chain) and key,
	// for a test service that must pass for one of the server's names.
	CertFile, KeyFile string
	Dir               string // temp dir with config, data, logs

	// MUCDomain is the domain of the multi-user chat component
	// ("conference." + Domain).
	MUCDomain string
	// UploadDomain ("upload." + Domain) and HTTPSAddr ("127.0.0.1:PORT")
	// are set with Options.Upload.
	UploadDomain string
	HTTPSAddr    string

	prosodyctl  string
	bin         string
	port        int
	directPort  int
	configFile  string
	logFile     string
	consoleFile string

	proc *serverproc.Proc

	stopOnce sync.Once
	stopErr  error
}

// Available reports whether the prosody and prosodyctl binaries and
// lua-sec are installed. The error says what to install.
func Available() error {
	var missing []string
	prosodyBin, err := exec.LookPath("prosody")
	if err != nil {
		missing = append(missing, "prosody binary not found in PATH")
	}
	if _, err := exec.LookPath("prosodyctl"); err != nil {
		missing = append(missing, "prosodyctl binary not found in PATH")
	}
	if prosodyBin != "" {
		if err := checkLuaSec(prosodyBin); err != nil {
			missing = append(missing, err.Error())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("prosody test server unavailable (%s); install it with: apt-get install prosody lua-sec",
			strings.Join(missing, "; "))
	}
	return nil
}

// checkLuaSec runs the Lua interpreter named in prosody's shebang line
// and checks that the "ssl" module (lua-sec) loads.
func checkLuaSec(prosodyBin string) error {
	f, err := os.Open(prosodyBin)
	if err != nil {
		return err
	}
	line, _ := bufio.NewReader(f).ReadString('\n')
	f.Close()
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if !strings.HasPrefix(line, "#!") || len(fields) == 0 {
		// Not a script; cannot check lua-sec independently.
		return nil
	}
	interp := fields
	if filepath.Base(fields[0]) == "env" {
		interp = fields[1:]
	}
	if len(interp) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	args := append(append([]string{}, interp[1:]...), "-e", `require "ssl"`)
	out, err := exec.CommandContext(ctx, interp[0], args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("lua-sec (Lua module \"ssl\") not loadable by %s: %v: %s",
			interp[0], err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Start creates a temp dir with certificates and a config, starts Prosody
// on a free loopback port and waits until it answers XMPP streams.
// It can be used from TestMain.
func Start(opts Options) (*Server, error) {
	domain := strings.ToLower(opts.Domain)
	if domain == "" {
		domain = DefaultDomain
	}
	if !validDomain(domain) {
		return nil, fmt.Errorf("prosody: invalid domain %q", opts.Domain)
	}
	avail := Available
	if opts.Prosody13 {
		avail = Available13
	}
	if err := avail(); err != nil {
		return nil, err
	}
	debug := opts.Debug || os.Getenv("PROSODY_DEBUG") == "1"

	var lastErr error
	for attempt := 0; attempt < bindAttempts; attempt++ {
		s, err := startOnce(domain, opts, debug)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errBind) {
			break
		}
	}
	return nil, lastErr
}

var errBind = errors.New("prosody could not bind its c2s port")

// mucTestModule is mod_jab_muc_test (see Options.MUCModules).
//
//go:embed plugins/mod_jab_muc_test.lua
var mucTestModule []byte

func startOnce(domain string, opts Options, debug bool) (_ *Server, err error) {
	dir, err := os.MkdirTemp("", "jab-prosody-")
	if err != nil {
		return nil, fmt.Errorf("prosody: %w", err)
	}
	// s must not be a named result: "return nil, err" would clear it
	// before the cleanup below runs.
	bin, ctl := opts.binaries()
	s := &Server{
		prosodyctl:  ctl,
		Domain:      domain,
		MUCDomain:   "conference." + domain,
		Dir:         dir,
		configFile:  filepath.Join(dir, configFileName),
		logFile:     filepath.Join(dir, logFileName),
		consoleFile: filepath.Join(dir, consoleFileName),
	}
	defer func() {
		if err != nil {
			s.kill()
			if os.Getenv("KEEP_PROSODY") != "1" {
				os.RemoveAll(dir)
			}
		}
	}()

	for _, sub := range []string{"data", "certs", "plugins"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("prosody: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "plugins", "mod_jab_muc_test.lua"), mucTestModule, 0o644); err != nil {
		return nil, fmt.Errorf("prosody: %w", err)
	}
	certFile, keyFile, caFile, err := testcert.Write(filepath.Join(dir, "certs"), domain)
	if err != nil {
		return nil, fmt.Errorf("prosody: generating certificates: %w", err)
	}
	s.CAFile, s.CertFile, s.KeyFile = caFile, certFile, keyFile

	port, err := pickPort()
	if err != nil {
		return nil, fmt.Errorf("prosody: finding a free port: %w", err)
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	directPort := 0
	if opts.DirectTLS {
		if directPort, err = pickPort(); err != nil || directPort == port {
			return nil, fmt.Errorf("prosody: finding a free port for direct TLS: %w", errBind)
		}
		s.DirectTLSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(directPort))
	}

	httpsPort := 0
	if opts.Upload != nil {
		if httpsPort, err = pickPort(); err != nil || httpsPort == port || httpsPort == directPort {
			return nil, fmt.Errorf("prosody: finding a free port for HTTPS: %w", errBind)
		}
		s.UploadDomain = "upload." + domain
		s.HTTPSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(httpsPort))
	}

	level := "info"
	if debug {
		level = "debug"
	}
	cfg := configText(configParams{
		Dir:      dir,
		Domain:   domain,
		Port:     port,
		LogFile:  s.logFile,
		LogLevel: level,
		CertFile: certFile,
		KeyFile:  keyFile,
		Limits:   opts.Limits,

		DirectTLSPort:     directPort,
		Authentication:    opts.Authentication,
		DisableMechanisms: opts.DisableMechanisms,
		TLSProtocol:       opts.TLSProtocol,
		Prosody13:         opts.Prosody13,
		NoNagle:           opts.NoNagle,
		Settings:          opts.Settings,
		Modules:           opts.Modules,
		Without:           opts.Without,
		MUCModules:        opts.MUCModules,
		PluginDir:         filepath.Join(dir, "plugins"),
		HTTPSPort:         httpsPort,
		Upload:            opts.Upload,
	})
	if err := os.WriteFile(s.configFile, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("prosody: writing config: %w", err)
	}

	s.bin, s.port, s.directPort = bin, port, directPort
	if err := s.launch(); err != nil {
		return nil, err
	}

	if err := s.waitReady(port, directPort); err != nil {
		return nil, err
	}
	return s, nil
}

// launch starts the prosody process with the config written.
func (s *Server) launch() error {
	console, err := os.Create(s.consoleFile)
	if err != nil {
		return fmt.Errorf("prosody: %w", err)
	}
	defer console.Close()

	// -F: stay in the foreground (the config option "daemonize" is
	// deprecated in 0.12).
	cmd := exec.Command(s.bin, "-F", "--config", s.configFile)
	cmd.Dir = s.Dir
	cmd.Stdin = nil
	cmd.Stdout = console
	cmd.Stderr = console
	s.proc, err = serverproc.Start(cmd)
	if err != nil {
		return fmt.Errorf("prosody: starting: %w", err)
	}
	return nil
}

// Restart stops Prosody with SIGTERM, as a service manager does, and
// starts it again on the same ports with the same data directory, then
// waits until it is ready: what a client sees when its server restarts.
func (s *Server) Restart() error {
	if err := s.terminate(); err != nil {
		return fmt.Errorf("prosody: restart: %w", err)
	}
	// waitReady looks for the activation line in the log: start a new one.
	if err := os.Rename(s.logFile, s.logFile+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("prosody: restart: %w", err)
	}
	var err error
	for attempt := 0; attempt < bindAttempts; attempt++ {
		if err = s.launch(); err != nil {
			return err
		}
		if err = s.waitReady(s.port, s.directPort); err == nil || !errors.Is(err, errBind) {
			return err
		}
		// The port is still held by the old process's sockets: try again.
		s.kill()
		os.Rename(s.logFile, s.logFile+".1")
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

var (
	reActivated = regexp.MustCompile(`Activated service 'c2s' on \[127\.0\.0\.1\]:(\d+)`)
	reDirectTLS = regexp.MustCompile(`Activated service 'c2s_direct_tls' on \[127\.0\.0\.1\]:(\d+)`)
	reBindFail  = regexp.MustCompile(`Failed to open server port|Activated service 'c2s' on no ports`)
)

// waitReady waits until the log says c2s is listening on our port (and
// direct TLS on its port, if any) and an XMPP stream on Addr offers
// STARTTLS.
func (s *Server) waitReady(port, directPort int) error {
	deadline := time.Now().Add(startTimeout)
	var probeErr error
	for time.Now().Before(deadline) {
		select {
		case <-s.proc.Done():
			return fmt.Errorf("prosody exited during startup (%v); log:\n%s", s.proc.Err(), s.LogTail(40))
		default:
		}
		logText, _ := os.ReadFile(s.logFile)
		if reBindFail.Match(logText) {
			return fmt.Errorf("%w %s; log:\n%s", errBind, s.Addr, s.LogTail(20))
		}
		if m := reActivated.FindSubmatch(logText); m != nil {
			if string(m[1]) != strconv.Itoa(port) {
				return fmt.Errorf("prosody: c2s listening on unexpected port %s, want %d; log:\n%s", m[1], port, s.LogTail(40))
			}
			if directPort != 0 {
				d := reDirectTLS.FindSubmatch(logText)
				if d == nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				if string(d[1]) != strconv.Itoa(directPort) {
					return fmt.Errorf("prosody: direct TLS on unexpected port %s, want %d; log:\n%s", d[1], directPort, s.LogTail(40))
				}
			}
			if probeErr = serverproc.ProbeStream(s.Addr, s.Domain); probeErr == nil {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if probeErr == nil {
		probeErr = errors.New("c2s service not activated")
	}
	return fmt.Errorf("prosody did not become ready on %s within %v (%v); log:\n%s",
		s.Addr, startTimeout, probeErr, s.LogTail(40))
}

// Register creates (or overwrites) the account user@Domain with the given
// password using prosodyctl. The account can be used as soon as Register
// returns.
func (s *Server) Register(user, password string) error {
	if user == "" || strings.ContainsAny(user, "@/ \t\r\n") {
		return fmt.Errorf("prosody: invalid username %q", user)
	}
	if password == "" {
		return errors.New("prosody: empty password")
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.prosodyctl, "--config", s.configFile, "register", user, s.Domain, password)
	cmd.Dir = s.Dir
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("prosodyctl register %s@%s: %v: %s", user, s.Domain, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Stop terminates Prosody (SIGTERM, then SIGKILL after 5 s) and removes
// Dir unless KEEP_PROSODY=1 is set. It is safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.stopErr = s.terminate()
		if os.Getenv("KEEP_PROSODY") == "1" {
			fmt.Fprintf(os.Stderr, "prosody: KEEP_PROSODY=1, leaving %s\n", s.Dir)
			return
		}
		if err := os.RemoveAll(s.Dir); err != nil && s.stopErr == nil {
			s.stopErr = err
		}
	})
	return s.stopErr
}

func (s *Server) terminate() error {
	if err := s.proc.Terminate(stopTimeout); err != nil {
		return fmt.Errorf("prosody: %w", err)
	}
	return nil
}

// kill stops a half-started server without waiting politely.
func (s *Server) kill() { s.proc.Kill() }

// LogTail returns the last n lines of Prosody's log (followed by anything
// Prosody printed on stdout/stderr), for test failure messages.
func (s *Server) LogTail(n int) string {
	var b strings.Builder
	b.WriteString(serverproc.FileTail(s.logFile, n))
	if data, err := os.ReadFile(s.consoleFile); err == nil && len(bytes.TrimSpace(data)) > 0 {
		b.WriteString("--- prosody stdout/stderr ---\n")
		b.WriteString(serverproc.TailLines(string(data), n))
	}
	return b.String()
}

// pickPort chooses the c2s port; a variable so tests can force collisions.
var pickPort = serverproc.FreePort

var reDomain = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

func validDomain(d string) bool {
	return len(d) <= 200 && reDomain.MatchString(d)
}
