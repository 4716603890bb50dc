package session

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/prosody"
	"github.com/jab-xmpp/jab/statefile"
)

// BenchmarkDialFAST measures Dial alone (TCP, STARTTLS, TLS, login,
// resource binding) against Prosody 13 with a password (SASL2 + SCRAM)
// and with a FAST token, the modes taking turns, and reports the medians:
//
//	go test -run '^$' -bench DialFAST -benchtime 20x ./session
//
// The server runs without Nagle's algorithm, as a busy server would be
// tuned; JAB_BENCH_NAGLE=1 leaves Prosody's default, where a stall of
// about 40 ms after TLS (the server's features wait for the client's
// delayed ACK) dominates every login on loopback.
func BenchmarkDialFAST(b *testing.B) {
	if testing.Short() {
		b.Skip("needs Prosody 13")
	}
	if err := prosody.Available13(); err != nil {
		b.Fatal(err)
	}
	nagle := os.Getenv("JAB_BENCH_NAGLE") == "1"
	s, err := prosody.Start(prosody.Options{Prosody13: true, NoNagle: !nagle})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Stop()
	if err := s.Register("bench", "bench-secret"); err != nil {
		b.Fatal(err)
	}
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	store, err := statefile.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{JID: JID{Local: "bench", Domain: s.Domain}, Password: "bench-secret", Server: s.Addr,
		ExtraCAs: roots, Timeout: 10 * time.Second}
	dial := func(fast TokenStore) time.Duration {
		c := cfg
		c.FAST = fast
		c.Resource = "bench-" + RandomSuffix(6)
		start := time.Now()
		conn, err := Dial(context.Background(), c)
		d := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		conn.Close()
		return d
	}
	dial(store) // the first login with the store asks for the token
	if f, _ := store.ReadFAST("bench@" + s.Domain); !f.HasToken() {
		b.Fatal("no token stored")
	}
	modes := []struct {
		name  string
		store TokenStore
	}{{"password", nil}, {"fast", store}}
	times := make([][]time.Duration, len(modes))
	b.ResetTimer()
	for range b.N {
		for i, m := range modes {
			times[i] = append(times[i], dial(m.store))
		}
	}
	b.StopTimer()
	for i, m := range modes {
		t := times[i]
		slices.Sort(t)
		b.ReportMetric(float64(t[len(t)/2].Microseconds())/1000, "ms-median-"+m.name)
		b.Log(fmt.Sprintf("%s: median %v over %d dials (min %v, max %v)", m.name, t[len(t)/2], len(t), t[0], t[len(t)-1]))
	}
}
