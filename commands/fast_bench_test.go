package commands_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/prosody"
)

// BenchmarkOneShotSend measures the wall time of one `jab send` against
// Prosody 13, logging in with the password (SASL2 + SCRAM, --no-fast) and
// with a stored FAST token, and for comparison against the system Prosody
// 0.12 (RFC 6120 SASL + SCRAM, stream restart), and reports the median:
//
//	go test -run '^$' -bench OneShotSend -benchtime 10x ./commands
//
// (10x: ten rounds, each mode once per round).
//
// It uses a binary built without -race, as a user runs it.
func BenchmarkOneShotSend(b *testing.B) {
	if testing.Short() {
		b.Skip("needs Prosody 13")
	}
	if err := prosody.Available13(); err != nil {
		b.Fatal(err)
	}
	start := func(opts prosody.Options) *prosody.Server {
		s, err := prosody.Start(opts)
		if err != nil {
			b.Fatal(err)
		}
		for _, u := range []string{"bench", "peer"} {
			if err := s.Register(u, u+"-secret"); err != nil {
				b.Fatal(err)
			}
		}
		return s
	}
	// Without Nagle's algorithm on the server unless JAB_BENCH_NAGLE=1:
	// see session's BenchmarkDialFAST.
	noNagle := os.Getenv("JAB_BENCH_NAGLE") != "1"
	s13 := start(prosody.Options{Prosody13: true, NoNagle: noNagle})
	defer s13.Stop()
	s12 := start(prosody.Options{NoNagle: noNagle})
	defer s12.Stop()
	dir := b.TempDir()
	bin := filepath.Join(dir, "jab")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/jab-xmpp/jab").CombinedOutput(); err != nil {
		b.Fatalf("build jab: %v\n%s", err, out)
	}
	send := func(b *testing.B, s *prosody.Server, flags ...string) time.Duration {
		args := append(append([]string{"send"}, flags...), "peer@"+s.Domain, "benchmark")
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{
			"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
			"JAB_JID=bench@" + s.Domain, "JAB_PASSWORD=bench-secret",
			"JAB_SERVER=" + s.Addr, "JAB_CA_FILE=" + s.CAFile,
			"JAB_STATE_DIR=" + filepath.Join(dir, "state-"+s.Addr), "JAB_NO_HISTORY=1",
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("jab %v: %v\n%s", args, err, stderr.String())
		}
		return time.Since(start)
	}
	modes := []struct {
		name  string
		s     *prosody.Server
		flags []string
	}{
		{"prosody12-sasl", s12, nil},
		{"prosody13-sasl2-password", s13, []string{"--no-fast"}},
		{"prosody13-sasl2-fast", s13, nil},
	}
	for _, m := range modes {
		send(b, m.s, m.flags...) // warm up; stores the token for "fast"
	}
	// The modes take turns, so a load that comes and goes on the machine
	// weighs on each alike.
	times := make([][]time.Duration, len(modes))
	b.ResetTimer()
	for range b.N {
		for i, m := range modes {
			times[i] = append(times[i], send(b, m.s, m.flags...))
		}
	}
	b.StopTimer()
	for i, m := range modes {
		t := times[i]
		slices.Sort(t)
		median := t[len(t)/2]
		b.ReportMetric(float64(median.Microseconds())/1000, "ms-median-"+m.name)
		b.Log(fmt.Sprintf("%s: median %v over %d runs (min %v, max %v)", m.name, median, len(t), t[0], t[len(t)-1]))
	}
}
