package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jab-xmpp/jab/internal/prosody"
	"github.com/jab-xmpp/jab/session"
)

// botLoad floods `jab listen --exec cat` with n chat messages sent as fast
// as the connection takes them, and waits for every reply. No other tool
// has a bot mode to compare with; the figures are jab's alone: wall time
// to the last reply, throughput, and the bot's peak memory (VmHWM sampled
// while it ran), which must stay bounded however many messages wait (the
// queue is bounded; the server holds the rest).
func botLoad(jab string, srv *prosody.Server, env []string, tmp string, n, conc int) error {
	state := filepath.Join(tmp, fmt.Sprintf("bot-state-%d", conc))
	env = append(slices.Clone(env), "JAB_STATE_DIR="+state) // the later entry wins
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
			if kib := vmHWM(cmd.Process.Pid); kib > peakRSS.Load() {
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
	fmt.Printf("\nbot load: %d chat messages from %d contacts to `jab listen --exec cat --exec-concurrency %d`:\n", n, conc, conc)
	fmt.Printf("  all sent in %s (%.0f msg/s offered); last reply after %s: %.0f replies/s\n",
		sent.Round(time.Millisecond), float64(n)/sent.Seconds(), wall.Round(time.Millisecond), float64(n)/wall.Seconds())
	fmt.Printf("  bot CPU %s; peak RSS %.1f MiB (VmHWM, sampled every 50 ms); every message answered\n",
		(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Round(time.Millisecond),
		float64(peakRSS.Load())/1024)
	return nil
}

// vmHWM is a process's peak resident set in KiB since it exec'd, from
// /proc (0 if unknown). Unlike wait4's max RSS it does not include the
// bench's own peak (see spawn.go).
func vmHWM(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kib)
			return kib
		}
	}
	return 0
}
