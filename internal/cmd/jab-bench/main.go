// Command jab-bench compares one-shot `jab send` with go-sendxmpp on the
// same throwaway local Prosody, in the same run, interleaving the two tools
// so machine noise hits both alike. It prints medians of wall time, CPU
// time and peak memory (max RSS) and the ratios jab/go-sendxmpp. It is a
// benchmark, not a test: it reports, and exits non-zero only when a run
// fails or a message is not delivered.
package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jab-xmpp/jab/internal/prosody"
	"github.com/jab-xmpp/jab/session"
)

type sample struct {
	wall, cpu time.Duration
	rssKiB    int64
}

func main() {
	runs := flag.Int("n", 20, "runs per tool")
	lines := flag.Int("lines", 1000, "messages in the many-lines case (0 skips it)")
	bot := flag.Int("bot", 0, "also flood a `listen --exec` bot with this many messages and report throughput and memory (0 skips it)")
	flag.Parse()
	if err := run(*runs, *lines, *bot); err != nil {
		fmt.Fprintln(os.Stderr, "jab-bench:", err)
		os.Exit(1)
	}
}

func run(runs, lines, bot int) error {
	gsx, err := exec.LookPath("go-sendxmpp")
	if err != nil {
		return fmt.Errorf("go-sendxmpp not found (make bench installs it from bookworm-backports): %w", err)
	}
	ver, _ := exec.Command(gsx, "--version").CombinedOutput()
	tmp, err := os.MkdirTemp("", "jab-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	jab := filepath.Join(tmp, "jab")
	build := exec.Command("go", "build", "-trimpath", "-o", jab, "github.com/jab-xmpp/jab")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build jab: %w", err)
	}
	srv, err := prosody.Start(prosody.Options{})
	if err != nil {
		return err
	}
	defer srv.Stop()
	for _, u := range []string{"me", "alice", "bob", "carol", "dave"} {
		if err := srv.Register(u, "bench-"+u); err != nil {
			return err
		}
	}
	// The recipient is online, so every message is routed and delivered.
	received, stop, err := receiver(srv)
	if err != nil {
		return err
	}
	defer stop()

	me, to := "me@"+srv.Domain, "alice@"+srv.Domain
	home := filepath.Join(tmp, "home")
	os.MkdirAll(home, 0o700)
	jabEnv := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "JAB_JID=" + me, "JAB_PASSWORD=bench-me",
		"JAB_SERVER=" + srv.Addr, "JAB_CA_FILE=" + srv.CAFile, "JAB_STATE_DIR=" + filepath.Join(tmp, "state")}
	// go-sendxmpp has no CA option; Go's x509 reads SSL_CERT_FILE, so it
	// verifies TLS against the same throwaway CA as jab.
	gsxEnv := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "SSL_CERT_FILE=" + srv.CAFile}
	gsxArgs := []string{"-u", me, "-p", "bench-me", "-j", srv.Addr, "--suppress-root-warning", to}

	fmt.Printf("jab-bench: %d runs each, interleaved, on Prosody at %s (STARTTLS, verified, loopback)\n", runs, srv.Addr)
	fmt.Printf("go-sendxmpp: %s\n", strings.TrimSpace(string(ver)))
	var js, gs []sample
	before := received.Load()
	for i := 0; i < runs; i++ {
		s, err := measure(jab, []string{"send", to, "bench message"}, jabEnv, "", 0)
		if err != nil {
			return fmt.Errorf("jab run %d: %w", i, err)
		}
		js = append(js, s)
		s, err = measure(gsx, gsxArgs, gsxEnv, "bench message\n", 0)
		if err != nil {
			return fmt.Errorf("go-sendxmpp run %d: %w", i, err)
		}
		gs = append(gs, s)
	}
	if err := waitCount(received, before+int64(2*runs)); err != nil {
		return err
	}
	report("one message, one-shot", js, gs)

	if lines > 0 {
		var b strings.Builder
		for i := 0; i < lines; i++ {
			fmt.Fprintf(&b, "line %d\n", i)
		}
		input := b.String()
		var js, gs []sample
		n := max(runs/4, 3)
		for i := 0; i < n; i++ {
			before := received.Load()
			j, err := measure(jab, []string{"send", "--lines", to}, jabEnv, input, 0)
			if err != nil {
				return fmt.Errorf("jab --lines: %w", err)
			}
			if err := waitCount(received, before+int64(lines)); err != nil {
				return fmt.Errorf("jab --lines: %w", err)
			}
			// go-sendxmpp -i exits 1 at end of input (its documented
			// behaviour); the count checks the messages were still sent.
			g, err := measure(gsx, append([]string{"-i"}, gsxArgs...), gsxEnv, input, 1)
			if err != nil {
				return fmt.Errorf("go-sendxmpp -i: %w", err)
			}
			if err := waitCount(received, before+int64(2*lines)); err != nil {
				return fmt.Errorf("go-sendxmpp -i: %w", err)
			}
			js, gs = append(js, j), append(gs, g)
		}
		report(fmt.Sprintf("%d stdin lines, one connection", lines), js, gs)
	}
	if bot > 0 {
		for _, conc := range []int{1, 4} {
			if err := botLoad(jab, srv, jabEnv, tmp, bot, conc); err != nil {
				return fmt.Errorf("bot load: %w", err)
			}
		}
	}
	return nil
}

// botLoad floods `jab listen --exec cat` with n chat messages sent as fast
// as the connection takes them, and waits for every reply. No other tool
// has a bot mode to compare with; the figures are jab's alone: wall time
// to the last reply, throughput, and the bot's peak memory (max RSS, and
// the largest VmRSS sampled while it ran), which must stay bounded however
// many messages wait (the queue is bounded; the server holds the rest).
func botLoad(jab string, srv *prosody.Server, env []string, tmp string, n, conc int) error {
	state := filepath.Join(tmp, fmt.Sprintf("bot-state-%d", conc))
	env = append(slices.Clone(env[:len(env)-1]), "JAB_STATE_DIR="+state)
	cmd := exec.Command(jab, "listen", "--exec", "cat", "--exec-concurrency", fmt.Sprint(conc),
		"--count", fmt.Sprint(n))
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(state, "observer-*.json")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bot did not come online: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	pem, err := os.ReadFile(srv.CAFile)
	if err != nil {
		return err
	}
	// One sender per worker: each contact is one conversation, and one
	// conversation's replies are handled in order by one worker.
	senders := []string{"alice", "bob", "carol", "dave"}[:conc]
	var replies atomic.Int64
	var sessions []*session.Session
	for _, u := range senders {
		cfg := session.Config{JID: session.JID{Local: u, Domain: srv.Domain}, Password: "bench-" + u,
			Server: srv.Addr, Resource: fmt.Sprintf("flood-%d", conc), Timeout: 30 * time.Second, ExtraCAs: poolFrom(pem)}
		s, err := session.OpenHandler(context.Background(), cfg, func(v any) {
			if m, ok := v.(*session.Message); ok && strings.HasPrefix(m.Body, "load ") {
				replies.Add(1)
			}
		})
		if err != nil {
			return err
		}
		defer s.Close()
		sessions = append(sessions, s)
	}
	var peakRSS atomic.Int64
	stopSampling := make(chan struct{})
	go func() {
		for {
			if kib := vmRSS(cmd.Process.Pid); kib > peakRSS.Load() {
				peakRSS.Store(kib)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	to := "me@" + srv.Domain
	start := time.Now()
	for _, s := range sessions {
		s.Conn().Hold()
	}
	for i := 0; i < n; i++ {
		m := &session.Message{To: to, Type: "chat", ID: session.NewID(), Body: fmt.Sprintf("load %d", i)}
		if err := sessions[i%len(sessions)].Conn().Send(m); err != nil {
			return err
		}
	}
	for _, s := range sessions {
		if err := s.Conn().Release(); err != nil {
			return err
		}
	}
	sent := time.Since(start)
	deadline = time.Now().Add(10 * time.Minute)
	for replies.Load() < int64(n) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d replies after 10 minutes: %s", replies.Load(), n, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	wall := time.Since(start)
	close(stopSampling)
	werr := cmd.Wait()
	if werr != nil {
		return fmt.Errorf("bot exited: %v: %s", werr, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	fmt.Printf("\nbot load: %d chat messages from %d contacts to `jab listen --exec cat --exec-concurrency %d`:\n", n, conc, conc)
	fmt.Printf("  all sent in %s (%.0f msg/s offered); last reply after %s: %.0f replies/s\n",
		sent.Round(time.Millisecond), float64(n)/sent.Seconds(), wall.Round(time.Millisecond), float64(n)/wall.Seconds())
	fmt.Printf("  bot CPU %s; max RSS %.1f MiB (largest sampled VmRSS %.1f MiB); every message answered\n",
		(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Round(time.Millisecond),
		float64(ru.Maxrss)/1024, float64(peakRSS.Load())/1024)
	return nil
}

// vmRSS is a process's resident set in KiB, from /proc (0 if unknown).
func vmRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kib int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kib)
			return kib
		}
	}
	return 0
}

// measure runs a command and returns its wall time, CPU time and max RSS.
func measure(bin string, args, env []string, stdin string, okCode int) (sample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if code := cmd.ProcessState.ExitCode(); code != okCode {
		return sample{}, fmt.Errorf("exit %d (%v): %s", code, err, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return sample{wall: wall, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), rssKiB: ru.Maxrss}, nil
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

func median[T int64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func report(title string, js, gs []sample) {
	col := func(ss []sample, f func(sample) int64) int64 {
		var xs []int64
		for _, s := range ss {
			xs = append(xs, f(s))
		}
		return median(xs)
	}
	wall := func(s sample) int64 { return int64(s.wall) }
	cpu := func(s sample) int64 { return int64(s.cpu) }
	rss := func(s sample) int64 { return s.rssKiB }
	jw, gw := col(js, wall), col(gs, wall)
	jc, gc := col(js, cpu), col(gs, cpu)
	jr, gr := col(js, rss), col(gs, rss)
	fmt.Printf("\n%s (median of %d):\n", title, len(js))
	fmt.Printf("  %-12s %10s %10s %12s\n", "tool", "wall", "cpu", "max RSS")
	fmt.Printf("  %-12s %10s %10s %9.1f MiB\n", "jab", ms(jw), ms(jc), float64(jr)/1024)
	fmt.Printf("  %-12s %10s %10s %9.1f MiB\n", "go-sendxmpp", ms(gw), ms(gc), float64(gr)/1024)
	fmt.Printf("  ratio jab/go-sendxmpp: wall %.2f, cpu %.2f, memory %.2f\n",
		float64(jw)/float64(gw), float64(jc)/float64(gc), float64(jr)/float64(gr))
	verdict := "jab is no slower and uses no more memory"
	if jw > gw || jr > gr {
		verdict = "jab is SLOWER or uses MORE memory than go-sendxmpp"
	}
	fmt.Println("  verdict:", verdict)
}

func ms(d int64) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }

func poolFrom(pem []byte) *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(pem)
	return p
}
