// Package reliability runs the flaky-network scenarios of issue 12 with
// the real jab binary against a real Prosody, and counts what `jab listen`
// printed: a contact sends N chat messages at a steady rate to the
// account's bare JID while the path to the server fails, and every
// message must be printed exactly once.
//
// Two faults: the black hole (internal/faultproxy sits between listen and
// Prosody; several times it drops everything on the connection for a
// while, then resets it) and the server restart (Prosody is stopped with
// SIGTERM under the running listen and started again on the same port and
// data directory). The contact is connected to Prosody directly, so the
// black holes cut only listen's path; across a restart it stops sending,
// waits for the server and reconnects, so every message it sends reaches
// the server.
//
// The integration tests (commands/smacks_integration_test.go) and the
// reliability case of jab-bench both run these scenarios.
package reliability

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/jab-xmpp/jab/internal/faultproxy"
	"github.com/jab-xmpp/jab/internal/jabrun"
	"github.com/jab-xmpp/jab/internal/prosody"
	"github.com/jab-xmpp/jab/session"
)

// Fault is what happens to the path during a scenario.
type Fault int

const (
	// BlackHole: the proxy black-holes listen's connection Holes times
	// for HoleFor each, then cuts it.
	BlackHole Fault = iota
	// Restart: Prosody is stopped (SIGTERM) and started again once.
	Restart
)

// Scenario is one run.
type Scenario struct {
	Name     string
	Modules  []string // Prosody modules: "smacks", "mam"
	Settings []string // extra Prosody config lines
	Fault    Fault
	Messages int           // sent by the contact; default 1000
	Holes    int           // black holes; default 3
	HoleFor  time.Duration // each; default 5 s
	// Every is the time between the starts of two faults; default 10 s.
	// The messages are spread over Holes×Every (at least 10 s).
	Every time.Duration
	// Settle is how long listen may stay silent after the last message
	// before the count is taken; default 15 s.
	Settle time.Duration
	// ListenArgs are extra arguments of `jab listen`.
	ListenArgs []string
}

// Result is what listen printed.
type Result struct {
	Sent       int
	Printed    int // message lines printed
	Lost       int // sent, never printed
	Duplicated int // printed more than once (each extra line counts)
	Connects   int // connections the proxy accepted from listen
	Stderr     string
}

func (r Result) String() string {
	return fmt.Sprintf("sent %d, printed %d, lost %d, duplicated %d (%d connections)", r.Sent, r.Printed, r.Lost, r.Duplicated, r.Connects)
}

func (sc *Scenario) defaults() {
	if sc.Messages == 0 {
		sc.Messages = 1000
	}
	if sc.Holes == 0 {
		sc.Holes = 3
	}
	if sc.HoleFor == 0 {
		sc.HoleFor = 5 * time.Second
	}
	if sc.Every == 0 {
		sc.Every = 10 * time.Second
	}
	if sc.Settle == 0 {
		sc.Settle = 15 * time.Second
	}
}

// Run runs sc with the jab binary jabBin; logf (may be nil) follows it.
func Run(ctx context.Context, jabBin string, sc Scenario, logf func(string, ...any)) (Result, error) {
	sc.defaults()
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var res Result
	srv, err := prosody.Start(prosody.Options{Modules: sc.Modules, Settings: sc.Settings})
	if err != nil {
		return res, err
	}
	defer srv.Stop()
	pw := "pw-reliability-secret"
	for _, u := range []string{"me", "alice"} {
		if err := srv.Register(u, pw); err != nil {
			return res, err
		}
	}
	proxy, err := faultproxy.Start(srv.Addr)
	if err != nil {
		return res, err
	}
	defer proxy.Close()

	home, err := os.MkdirTemp("", "jab-reliability-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(home)
	stateDir := filepath.Join(home, "state")
	cmd := exec.Command(jabBin, append([]string{"listen", "--json", "--no-receipts"}, sc.ListenArgs...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "JAB_JID=me@" + srv.Domain, "JAB_PASSWORD=" + pw,
		"JAB_SERVER=" + proxy.Addr(), "JAB_CA_FILE=" + srv.CAFile, "JAB_STATE_DIR=" + stateDir}
	listen, err := jabrun.Start(cmd, false)
	if err != nil {
		return res, err
	}
	defer listen.Stop()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	_, err = jabrun.WaitObserver(wctx, stateDir, listen.Done())
	cancel()
	if err != nil {
		return res, fmt.Errorf("listen did not come online: %v: %s", err, listen.Stderr())
	}

	alice, err := newSender(ctx, srv, "alice", pw)
	if err != nil {
		return res, err
	}
	defer alice.close()

	span := time.Duration(sc.Holes) * sc.Every
	if sc.Fault == Restart {
		span = 2 * sc.Every
	}
	if span < 10*time.Second {
		span = 10 * time.Second
	}
	interval := span / time.Duration(sc.Messages)
	to := "me@" + srv.Domain
	var faultErr error
	var faults sync.WaitGroup
	faults.Add(1)
	go func() {
		defer faults.Done()
		if sc.Fault == Restart {
			if !sleep(ctx, sc.Every/2) {
				return
			}
			alice.pause()
			logf("restarting prosody")
			if err := srv.Restart(); err != nil {
				faultErr = err
			}
			alice.resume()
			return
		}
		for i := 0; i < sc.Holes; i++ {
			if !sleep(ctx, sc.Every/4) {
				return
			}
			n, cut := proxy.BlackHole(sc.HoleFor)
			logf("black hole %d over %d connection(s)", i+1, n)
			<-cut
			if !sleep(ctx, sc.Every-sc.Every/4-sc.HoleFor) {
				return
			}
		}
	}()
	start := time.Now()
	for i := 0; i < sc.Messages; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 && !sleep(ctx, d) {
			return res, ctx.Err()
		}
		if err := alice.send(ctx, to, Body(i)); err != nil {
			return res, err
		}
	}
	res.Sent = sc.Messages
	logf("sent %d messages in %s", sc.Messages, time.Since(start).Round(time.Millisecond))
	faults.Wait()
	if faultErr != nil {
		return res, faultErr
	}
	// Wait until every message is printed, or listen is quiet for Settle.
	last, lastN := time.Now(), -1
	for time.Since(last) < sc.Settle {
		if n := len(listen.Lines()); n != lastN {
			last, lastN = time.Now(), n
			if countBodies(listen.Lines(), sc.Messages).distinct == sc.Messages {
				// Give a duplicate the chance to show.
				sleep(ctx, time.Second)
				break
			}
		}
		if !sleep(ctx, 200*time.Millisecond) {
			return res, ctx.Err()
		}
	}
	listen.Signal(syscall.SIGTERM)
	listen.Stop()
	c := countBodies(listen.Lines(), sc.Messages)
	res.Printed, res.Lost, res.Duplicated = c.printed, sc.Messages-c.distinct, c.printed-c.distinct
	res.Connects = proxy.Accepted()
	res.Stderr = listen.Stderr()
	return res, nil
}

// Body is the text of message i.
func Body(i int) string { return fmt.Sprintf("reliability message %04d", i) }

type counts struct{ printed, distinct int }

func countBodies(lines []string, n int) counts {
	var c counts
	seen := make([]int, n)
	for _, l := range lines {
		var rec struct {
			Kind string `json:"kind"`
			Body string `json:"body"`
		}
		if json.Unmarshal([]byte(l), &rec) != nil {
			continue
		}
		var i int
		if _, err := fmt.Sscanf(rec.Body, "reliability message %d", &i); err != nil || i < 0 || i >= n {
			continue
		}
		c.printed++
		if seen[i] == 0 {
			c.distinct++
		}
		seen[i]++
	}
	return c
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// sender is the contact: it sends chat messages on its own connection to
// Prosody, and reconnects when it is told the server restarts.
type sender struct {
	cfg session.Config
	mu  sync.Mutex // held while paused
	s   *session.Session
}

func newSender(ctx context.Context, srv *prosody.Server, user, pw string) (*sender, error) {
	pem, err := os.ReadFile(srv.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	j, err := session.ParseJID(user + "@" + srv.Domain)
	if err != nil {
		return nil, err
	}
	cfg := session.Config{JID: j, Password: pw, Server: srv.Addr, ExtraCAs: pool, Resource: "phone", Timeout: 10 * time.Second}
	s, err := session.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("contact: %w", err)
	}
	go drain(s)
	return &sender{cfg: cfg, s: s}, nil
}

func drain(s *session.Session) {
	for range s.Events() {
	}
}

// pause makes send wait; the connection is closed politely first, so
// nothing the contact sent is still in flight when the server stops.
func (a *sender) pause() {
	a.mu.Lock()
	if a.s != nil {
		a.s.Ping(context.Background(), "")
		a.s.Close()
		a.s = nil
	}
}

func (a *sender) resume() { a.mu.Unlock() }

func (a *sender) send(ctx context.Context, to, body string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.s == nil {
		s, err := session.Open(ctx, a.cfg)
		if err != nil {
			return fmt.Errorf("contact reconnects: %w", err)
		}
		go drain(s)
		a.s = s
	}
	return a.s.Conn().Send(&session.Message{To: to, Type: "chat", ID: session.NewID(), Body: body})
}

func (a *sender) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.s != nil {
		a.s.Close()
	}
}
