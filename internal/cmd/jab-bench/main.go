// Command jab-bench compares `jab send` with go-sendxmpp in one run and
// prints one table: medians of interleaved runs of the two tools, the
// ratios jab/go-sendxmpp, and next to each ratio the target of issue 11
// and whether it holds. It is a benchmark, not a test: it reports, and
// exits non-zero only when a run fails or a message is not delivered.
//
// The servers are stock: Prosody 0.12 (the system one) with Nagle's
// algorithm on, as real servers run, and, for the SASL2/FAST rows, the
// Prosody 13 that .ci/deps unpacks, listening for direct TLS too. Both
// tools verify TLS against the servers' throwaway CA. The cases:
//
//   - a cold one-shot send: wall time, CPU time, peak memory (max RSS);
//   - a one-shot send while a `jab listen` of the same account runs (jab
//     may hand the message to it), against go-sendxmpp's cold send;
//   - a one-shot send to a group chat room (-room): cold, and while a
//     `jab listen --room` of the account is in the room (the hand-off),
//     against go-sendxmpp -c;
//   - 1000 stdin lines on one connection (`send --lines`, go-sendxmpp -i);
//   - a cold one-shot send through a delay proxy (internal/delayproxy),
//     25 ms each way, over STARTTLS: wall time and the round trips the
//     proxy counted for each tool;
//   - on Prosody 13, direct TLS with a FAST token (each tool logs in once
//     first so it has one): wall time on loopback and through the proxy,
//     and round trips.
//   - reliability (issue 12, -reliability): a `jab listen` behind
//     internal/faultproxy while a contact sends 1,000 messages; three
//     5 s black holes with stream management on, the same with it off
//     and the archive on, and a Prosody restart: how many messages
//     listen lost or printed twice (internal/reliability).
//
// Every run's messages are counted at the recipient, an online client:
// a tool that exits 0 without delivering fails the bench.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jab-xmpp/jab/internal/delayproxy"
	"github.com/jab-xmpp/jab/internal/prosody"
	"github.com/jab-xmpp/jab/session"
)

func main() {
	var o options
	flag.IntVar(&o.runs, "n", 20, "interleaved runs per tool and case (the medians are of these)")
	flag.IntVar(&o.lines, "lines", 1000, "messages in the stdin-lines case (0 skips it)")
	flag.IntVar(&o.bot, "bot", 0, "also flood a `listen --exec` bot with this many messages and report throughput and memory (0 skips it)")
	flag.DurationVar(&o.delay, "delay", 25*time.Millisecond, "one-way delay of the proxy cases (0 skips them)")
	flag.BoolVar(&o.room, "room", true, "also measure a one-shot send to a group chat room (send --room, go-sendxmpp -c)")
	flag.BoolVar(&o.p13, "p13", true, "also measure against Prosody 13 with direct TLS and FAST")
	flag.StringVar(&o.jab, "jab", "", "the jab `binary` to measure (make bench passes make build's bin/jab); empty: build one as make build does")
	flag.BoolVar(&o.reliability, "reliability", true, "also run the flaky-network scenarios of issue 12 (black holes, a server restart) and report lost and duplicated messages; about 3 minutes")
	flag.StringVar(&o.trace, "trace", "", "write the delay proxy's trace of every connection (each send and delivery, and the round trips counted) to this `file`")
	flag.Parse()
	if o.runs < 1 {
		fmt.Fprintln(os.Stderr, "jab-bench: -n must be at least 1")
		os.Exit(2)
	}
	if o.trace != "" {
		f, err := os.Create(o.trace)
		if err != nil {
			fmt.Fprintln(os.Stderr, "jab-bench:", err)
			os.Exit(1)
		}
		defer f.Close()
		o.traceTo, traceOut = f, f
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "jab-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	runs, lines, bot int
	delay            time.Duration
	p13, room        bool
	reliability      bool
	trace            string
	jab              string
	traceTo          io.Writer
}

// tool is one way of sending: a binary, its arguments (flags) and
// environment, the recipient, the message, the exit code that means
// success and how many messages one run delivers. jab takes the message
// as an argument, go-sendxmpp on stdin.
type tool struct {
	bin    string
	args   []string
	env    []string
	to     string
	text   string // the message, unless stdin is set
	stdin  string // input in the stdin-lines case
	gsx    bool   // go-sendxmpp: the message goes on stdin
	okCode int
	msgs   int
}

// with adds flags.
func (t tool) with(flags ...string) tool {
	t.args = append(slices.Clone(t.args), flags...)
	return t
}

// withEnv adds environment variables; a later entry of a name wins.
func (t tool) withEnv(env ...string) tool {
	t.env = append(slices.Clone(t.env), env...)
	return t
}

// message sets the message text.
func (t tool) message(text string) tool {
	t.text = text
	return t
}

// command is the argument list and stdin of one run.
func (t tool) command() (args []string, stdin string) {
	args = append(slices.Clone(t.args), t.to)
	switch {
	case t.stdin != "":
		return args, t.stdin
	case t.gsx:
		return args, t.text + "\n"
	default:
		return append(args, t.text), ""
	}
}

// server is a Prosody with its accounts, and a recipient that counts what
// arrives.
type server struct {
	*prosody.Server
	received *atomic.Int64
	expect   int64 // messages the runs so far delivered
	stop     func()
}

func startServer(opts prosody.Options) (*server, error) {
	srv, err := prosody.Start(opts)
	if err != nil {
		return nil, err
	}
	for _, u := range []string{"me", "alice", "bob", "carol", "dave"} {
		if err := srv.Register(u, "bench-"+u); err != nil {
			srv.Stop()
			return nil, err
		}
	}
	// The recipient is online, so every message is routed and delivered.
	received, stop, err := receiver(srv)
	if err != nil {
		srv.Stop()
		return nil, err
	}
	return &server{Server: srv, received: received, stop: stop}, nil
}

func (s *server) close() {
	s.stop()
	s.Stop()
}

// delivered waits until the recipient has every message the runs sent.
func (s *server) delivered() error { return waitCount(s.received, s.expect) }

func run(o options) error {
	gsxBin, err := exec.LookPath("go-sendxmpp")
	if err != nil {
		return fmt.Errorf("go-sendxmpp not found (make bench installs it from bookworm-backports): %w", err)
	}
	ver, _ := exec.Command(gsxBin, "--version").CombinedOutput()
	gsxVersion, _, _ := strings.Cut(strings.TrimSpace(string(ver)), "\n")
	tmp, err := os.MkdirTemp("", "jab-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := buildSpawn(tmp); err != nil {
		return err
	}
	jabBin := o.jab
	if jabBin == "" {
		// As make build does: static, without urfave/cli's doc
		// generators.
		jabBin = filepath.Join(tmp, "jab")
		build := exec.Command("go", "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-o", jabBin, "github.com/jab-xmpp/jab")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build jab: %w", err)
		}
	} else if jabBin, err = filepath.Abs(jabBin); err != nil {
		return err
	}
	rev, _ := exec.Command("git", "describe", "--always", "--dirty").Output()

	// Stock Prosody 0.12: Nagle's algorithm on, STARTTLS, TLS verified.
	s12, err := startServer(prosody.Options{})
	if err != nil {
		return err
	}
	defer s12.close()

	fmt.Printf("jab-bench: jab %s against %s, Prosody 0.12 at %s (stock: Nagle on, STARTTLS, TLS verified); %d interleaved runs per tool and case\n",
		strings.TrimSpace(string(rev)), gsxVersion, s12.Addr, o.runs)
	fmt.Printf("jab-bench: %d CPUs, load average %s at the start; max RSS measured by a helper process (floor %.1f MiB)\n",
		runtime.NumCPU(), loadavg(), float64(spawnFloor())/1024)
	t := &table{}
	jab12, gsx12 := tools(jabBin, gsxBin, s12, tmp, "12", s12.Addr, false)

	// Cold one-shot send.
	js, gs, err := interleave(o.runs, s12, nil, jab12.message("bench cold"), gsx12.message("bench cold"))
	if err != nil {
		return fmt.Errorf("cold one-shot send: %w", err)
	}
	t.add("one-shot send, cold", "wall", wallOf, js, gs, 0.4)
	t.add("", "CPU", cpuOf, js, gs, 0)
	t.add("", "max RSS", rssOf, js, gs, 0.8)

	// Through a running `jab listen` of the same account.
	var notes []string
	line, err := warm(o, t, s12, jab12, gsx12, tmp)
	if err != nil {
		return fmt.Errorf("send through a running listen: %w", err)
	}
	notes = append(notes, "listen running: jab send --debug says: "+line)

	if o.room {
		note, err := room(o, t, s12, jab12, gsx12, tmp)
		if err != nil {
			return err
		}
		notes = append(notes, note)
	}

	if o.lines > 0 {
		var b strings.Builder
		for i := 0; i < o.lines; i++ {
			fmt.Fprintf(&b, "line %d\n", i)
		}
		jl := jab12.with("--lines")
		jl.stdin, jl.msgs = b.String(), o.lines
		// go-sendxmpp -i exits 1 at end of input (its documented
		// behaviour); the recipient's count checks that it delivered.
		gl := gsx12
		gl.args = append([]string{"-i"}, gl.args...)
		gl.stdin, gl.msgs, gl.okCode = b.String(), o.lines, 1
		js, gs, err := interleave(o.runs, s12, nil, jl, gl)
		if err != nil {
			return fmt.Errorf("%d stdin lines: %w", o.lines, err)
		}
		label := fmt.Sprintf("%d stdin lines (-i)", o.lines)
		t.add(label, "wall", wallOf, js, gs, 0.8)
		t.add("", "CPU", cpuOf, js, gs, 0)
		t.add("", "max RSS", rssOf, js, gs, 0.8)
	}

	if o.delay > 0 {
		px, err := delayproxy.Start(delayproxy.Options{Target: s12.Addr, Delay: o.delay, ConnectRTT: true, Trace: o.traceTo})
		if err != nil {
			return err
		}
		defer px.Close()
		jp, gp := tools(jabBin, gsxBin, s12, tmp, "12-proxy", px.Addr(), false)
		p, err := probe(s12, jp, gp)
		if err != nil {
			return fmt.Errorf("through the delay proxy: %w", err)
		}
		notes = append(notes, "Prosody 0.12 through the proxy: "+p)
		js, gs, err := interleave(o.runs, s12, px, jp.message("bench proxy"), gp.message("bench proxy"))
		if err != nil {
			return fmt.Errorf("through the delay proxy: %w", err)
		}
		label := fmt.Sprintf("proxy %v each way, STARTTLS", o.delay)
		t.add(label, "wall", wallOf, js, gs, 0.7)
		t.add("", "round trips", rtOf, js, gs, 0)
	}

	if o.p13 {
		n, err := fast(o, t, jabBin, gsxBin, tmp)
		if err != nil {
			return fmt.Errorf("Prosody 13: %w", err)
		}
		notes = append(notes, n...)
	}

	t.print(os.Stdout)
	for _, n := range notes {
		fmt.Println("  " + n)
	}
	fmt.Printf("  Medians of %d runs; ratio = jab / go-sendxmpp; targets from issue 11. Load average %s at the end.\n", o.runs, loadavg())
	if o.delay > 0 {
		fmt.Println("  Round trips as internal/delayproxy counts them: the TCP connect, and each time the client sent again (or closed)")
		fmt.Println("  after an answer to its previous turn reached it; -trace FILE shows every turn.")
	}

	if o.bot > 0 {
		for _, conc := range []int{1, 4} {
			if err := botLoad(jabBin, s12.Server, jab12.env, tmp, o.bot, conc); err != nil {
				return fmt.Errorf("bot load: %w", err)
			}
		}
	}
	if o.reliability {
		if err := reliabilityTable(jabBin); err != nil {
			return fmt.Errorf("reliability: %w", err)
		}
	}
	return nil
}

// tools returns jab and go-sendxmpp set up to log in as me@ on srv through
// addr, each with its own home and state directory named by tag.
func tools(jabBin, gsxBin string, srv *server, tmp, tag, addr string, directTLS bool) (jab, gsx tool) {
	home := filepath.Join(tmp, "home-"+tag)
	os.MkdirAll(home, 0o700)
	me := "me@" + srv.Domain
	jab = tool{bin: jabBin, args: []string{"send"}, to: "alice@" + srv.Domain, msgs: 1, env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"JAB_JID=" + me, "JAB_PASSWORD=bench-me", "JAB_SERVER=" + addr, "JAB_CA_FILE=" + srv.CAFile,
		"JAB_STATE_DIR=" + filepath.Join(tmp, "state-"+tag)}}
	// go-sendxmpp has no CA option; Go's x509 reads SSL_CERT_FILE, so it
	// verifies TLS against the same throwaway CA as jab.
	gsx = tool{bin: gsxBin, to: "alice@" + srv.Domain, gsx: true, msgs: 1, env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "SSL_CERT_FILE=" + srv.CAFile},
		args: []string{"-u", me, "-p", "bench-me", "-j", addr, "--suppress-root-warning"}}
	if directTLS {
		jab.env = append(jab.env, "JAB_DIRECT_TLS=1")
		gsx.args = append(gsx.args, "-t")
	}
	return jab, gsx
}

// warm measures `jab send` while a `jab listen` of the same account runs
// on the same state directory, interleaved with go-sendxmpp's cold send.
// It returns what `jab send --debug` said about the path it took.
func warm(o options, t *table, srv *server, jab, gsx tool, tmp string) (string, error) {
	state := filepath.Join(tmp, "state-warm")
	jab = jab.withEnv("JAB_STATE_DIR=" + state) // the later entry wins
	l, err := startListen(jab, state)
	if err != nil {
		return "", err
	}
	defer l.stop()
	r, err := measureOut(jab.with("--debug").message("which path"))
	if err != nil {
		return "", err
	}
	srv.expect++
	path, line := reportedPath(r)
	if line == "" {
		line = "(jab send --debug names no path)"
	}
	js, gs, err := interleave(o.runs, srv, nil, jab.message("bench warm"), gsx.message("bench warm"))
	if err != nil {
		return "", err
	}
	label := fmt.Sprintf("one-shot, listen running (%s)", path)
	t.add(label, "wall", wallOf, js, gs, 0.1)
	t.add("", "CPU", cpuOf, js, gs, 0)
	t.add("", "max RSS", rssOf, js, gs, 0)
	return line, nil
}

// reportedPath says which path `jab send --debug` reports it took:
// "hand-off" (through a running listen) or "direct" (also when it does
// not say), and the line that says so.
func reportedPath(debug string) (path, line string) {
	for _, l := range strings.Split(debug, "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "jab: debug:"))
		low := strings.ToLower(l)
		switch {
		case strings.HasPrefix(low, "send") || strings.HasPrefix(low, "recv"):
		case strings.Contains(low, "no hand-off") || strings.Contains(low, "no handoff"):
			return "direct", l
		case strings.Contains(low, "hand-off") || strings.Contains(low, "handoff") || strings.Contains(low, "handed") ||
			strings.Contains(low, "running listen") || strings.Contains(low, "running repl"):
			return "hand-off", l
		}
	}
	return "direct", ""
}

// listen is a background `jab listen`.
type listen struct {
	cmd    *exec.Cmd
	stderr *strings.Builder
}

func startListen(jab tool, state string, args ...string) (*listen, error) {
	cmd := exec.Command(jab.bin, append([]string{"listen"}, args...)...)
	cmd.Env = jab.env
	var stderr strings.Builder
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	l := &listen{cmd: cmd, stderr: &stderr}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(state, "observer-*.json")); len(m) > 0 {
			return l, nil
		}
		if time.Now().After(deadline) {
			l.stop()
			return nil, fmt.Errorf("jab listen did not come online: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *listen) stop() {
	l.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { l.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		l.cmd.Process.Kill()
		<-done
	}
}

var (
	reRoundTrips = regexp.MustCompile(`(\d+) round trips in all`)
	reAuth       = regexp.MustCompile(`SEND:? <(?:authenticate|auth) [^>]*mechanism=['"]([^'"]+)['"]`)
)

// probe runs `jab send --debug` and `go-sendxmpp -d` once each (both
// messages are delivered) and says how each logged in: the SASL
// mechanisms, and the round trips jab reports.
func probe(srv *server, jab, gsx tool) (string, error) {
	jout, err := measureOut(jab.with("--debug").message("probe"))
	if err != nil {
		return "", fmt.Errorf("jab --debug: %w", err)
	}
	gout, err := measureOut(gsx.with("-d").message("probe"))
	if err != nil {
		return "", fmt.Errorf("go-sendxmpp -d: %w", err)
	}
	srv.expect += 2
	s := "jab logs in with " + mechanisms(jout)
	if m := reRoundTrips.FindStringSubmatch(jout); m != nil {
		s += " and reports " + m[1] + " round trips"
	}
	return s + "; go-sendxmpp with " + mechanisms(gout), nil
}

// mechanisms lists the SASL mechanisms a --debug log shows being used.
func mechanisms(out string) string {
	var ms []string
	for _, m := range reAuth.FindAllStringSubmatch(out, -1) {
		ms = append(ms, m[1])
	}
	if len(ms) == 0 {
		return "?"
	}
	return strings.Join(ms, ", then ")
}

// fast measures against Prosody 13 with direct TLS, after one login of
// each tool so that each holds a FAST token if it keeps one.
func fast(o options, t *table, jabBin, gsxBin, tmp string) ([]string, error) {
	if err := prosody.Available13(); err != nil {
		return nil, err
	}
	s13, err := startServer(prosody.Options{Prosody13: true, DirectTLS: true, Domain: "example13.test"})
	if err != nil {
		return nil, err
	}
	defer s13.close()
	var notes []string
	jab, gsx := tools(jabBin, gsxBin, s13, tmp, "13", s13.DirectTLSAddr, true)
	// go-sendxmpp 0.14.1 asks for a FAST token, but a login with it does
	// not bind a resource after SASL2 success, and its message bounces
	// (service-unavailable) while it exits 0. So it logs in with SCRAM
	// each time, its fastest working login.
	gsx.args = append([]string{"--fast-off"}, gsx.args...)
	// The first login, with the password, gets the token.
	for _, tl := range []tool{jab, gsx} {
		if _, err := measureOut(tl.message("first login")); err != nil {
			return nil, fmt.Errorf("first login: %w", err)
		}
		s13.expect++
	}
	p, err := probe(s13, jab, gsx)
	if err != nil {
		return nil, err
	}
	notes = append(notes, "Prosody 13, direct TLS, after a first login: "+p+" (--fast-off: its FAST login does not bind)")

	js, gs, err := interleave(o.runs, s13, nil, jab.message("bench fast"), gsx.message("bench fast"))
	if err != nil {
		return nil, err
	}
	t.add("Prosody 13, direct TLS + FAST", "wall", wallOf, js, gs, 0)
	t.add("", "max RSS", rssOf, js, gs, 0)
	if o.delay > 0 {
		px, err := delayproxy.Start(delayproxy.Options{Target: s13.DirectTLSAddr, Delay: o.delay, ConnectRTT: true, Trace: o.traceTo})
		if err != nil {
			return nil, err
		}
		defer px.Close()
		jp, gp := tools(jabBin, gsxBin, s13, tmp, "13", px.Addr(), true)
		gp.args = append([]string{"--fast-off"}, gp.args...)
		p, err := probe(s13, jp, gp)
		if err != nil {
			return nil, err
		}
		notes = append(notes, "Prosody 13 through the proxy: "+p)
		js, gs, err := interleave(o.runs, s13, px, jp.message("bench fast proxy"), gp.message("bench fast proxy"))
		if err != nil {
			return nil, err
		}
		t.add(fmt.Sprintf("  … proxy %v each way", o.delay), "wall", wallOf, js, gs, 0)
		t.addAbs("", "round trips", rtOf, js, gs, 5)
	}
	return notes, nil
}

// interleave runs a and b n times each, alternating which goes first, after
// one warm-up run of each that is not measured, and checks that srv's
// recipient got every message. Through px, each sample carries the round
// trips the proxy counted for the run's connections.
func interleave(n int, srv *server, px *delayproxy.Proxy, a, b tool) (as, bs []sample, err error) {
	one := func(tl tool) (sample, error) {
		before := 0
		if px != nil {
			before = len(px.Stats())
			if traceOut != nil {
				fmt.Fprintf(traceOut, "jab-bench: %s %q from connection %d\n", filepath.Base(tl.bin), tl.text, before+1)
			}
		}
		s, err := measure(tl)
		if err != nil {
			return s, fmt.Errorf("%s: %w", filepath.Base(tl.bin), err)
		}
		srv.expect += int64(tl.msgs)
		if px != nil {
			if !px.WaitIdle(10 * time.Second) {
				return s, errors.New("a connection through the delay proxy did not end")
			}
			for _, c := range px.Stats()[before:] {
				s.rt += c.RoundTrips
			}
		}
		return s, nil
	}
	for _, tl := range []tool{a, b} {
		if _, err := one(tl); err != nil {
			return nil, nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	for i := 0; i < n; i++ {
		first, second := a, b
		if i%2 == 1 {
			first, second = b, a
		}
		s1, err := one(first)
		if err != nil {
			return nil, nil, err
		}
		s2, err := one(second)
		if err != nil {
			return nil, nil, err
		}
		if i%2 == 1 {
			s1, s2 = s2, s1
		}
		as, bs = append(as, s1), append(bs, s2)
		// Bulk runs: let the recipient catch up so one run's backlog
		// does not slow the next.
		if a.msgs > 1 {
			if err := srv.delivered(); err != nil {
				return nil, nil, err
			}
		}
	}
	return as, bs, srv.delivered()
}

// traceOut gets the delay proxy's trace (-trace), and a line naming the
// tool before each run through the proxy.
var traceOut io.Writer

type sample struct {
	wall, cpu time.Duration
	rssKiB    int64
	rt        int // round trips counted by the delay proxy
}

// measure runs a tool once and returns its wall time, CPU time and max RSS.
func measure(tl tool) (sample, error) {
	s, _, err := run1(tl)
	return s, err
}

// measureOut runs a tool once and returns its output.
func measureOut(tl tool) (string, error) {
	_, out, err := run1(tl)
	return out, err
}

func run1(tl tool) (sample, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args, stdin := tl.command()
	// One buffer for stdout and stderr: go-sendxmpp -d logs on stdout.
	s, code, out, err := spawn(ctx, tl.bin, args, tl.env, strings.NewReader(stdin))
	if err != nil {
		return sample{}, out, err
	}
	if code != tl.okCode {
		return sample{}, out, fmt.Errorf("exit %d: %s", code, out)
	}
	return s, out, nil
}

func receiver(srv *prosody.Server) (*atomic.Int64, func(), error) {
	var n atomic.Int64
	pem, err := os.ReadFile(srv.CAFile)
	if err != nil {
		return nil, nil, err
	}
	cfg := session.Config{JID: session.JID{Local: "alice", Domain: srv.Domain}, Password: "bench-alice",
		Server: srv.Addr, Resource: "bench", Timeout: 10 * time.Second}
	cfg.ExtraCAs = poolFrom(pem)
	s, err := session.OpenHandler(context.Background(), cfg, func(v any) {
		if m, ok := v.(*session.Message); ok && m.Body != "" {
			n.Add(1)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	prio := 0
	if err := s.Conn().Send(&session.Presence{Priority: &prio}); err != nil {
		return nil, nil, err
	}
	return &n, func() { s.Close() }, nil
}

func waitCount(n *atomic.Int64, want int64) error {
	deadline := time.Now().Add(30 * time.Second)
	for n.Load() < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("recipient got %d messages, want %d: a tool did not deliver", n.Load(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func median[T int64 | time.Duration | int](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// loadavg is the 1-, 5- and 15-minute load average, "?" if unknown.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

func ms(d int64) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }

func poolFrom(pem []byte) *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(pem)
	return p
}
