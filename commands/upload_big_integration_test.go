package commands_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/jabrun"
	"github.com/jab-xmpp/jab/internal/prosody"
	"github.com/jab-xmpp/jab/session"
)

// uploadSink is an HTTPS upload endpoint that counts what a PUT brings
// instead of storing it: the slots of a Prosody started with its URL as
// http_external_url point to it. It serves with the Prosody's own
// certificate (which names 127.0.0.1), so jab verifies it with the test CA.
type uploadSink struct {
	ln     net.Listener
	mu     sync.Mutex
	n      int64 // bytes of the last PUT
	nonZ   int64 // of them, bytes that were not zero
	authz  string
	length int64
}

func (k *uploadSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	buf := make([]byte, 256<<10)
	var n, nonZ int64
	for {
		m, err := r.Body.Read(buf)
		n += int64(m)
		for _, b := range buf[:m] {
			if b != 0 {
				nonZ++
			}
		}
		if err != nil {
			break
		}
	}
	k.mu.Lock()
	k.n, k.nonZ, k.authz, k.length = n, nonZ, r.Header.Get("Authorization"), r.ContentLength
	k.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

// TestSendFile1GiB: a 1 GiB upload keeps jab's memory flat: the file is
// read from disk as it is sent. The real jab binary, built without -race
// as it ships, finds the service and gets its slot from Prosody, and PUTs
// a 1 GiB file (sparse: reading it costs no disk) to the slot's URL, here
// a sink in front of which Prosody's own mod_http_file_share, at a few
// MiB/s on a loaded test machine, would take minutes. Its peak RSS
// (getrusage of the child) must stay under 64 MiB; the sink must have got
// exactly the file, with the slot's Authorization.
func TestSendFile1GiB(t *testing.T) {
	needServer(t)
	t.Parallel()
	const size = 1 << 30
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := uploadServerWith(t, "1gib", prosody.Upload{SizeLimit: 2 * size, DailyQuota: 4 * size,
		ExternalURL: "https://" + ln.Addr().String() + "/"})
	cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	sink := &uploadSink{ln: ln}
	hs := &http.Server{Handler: sink, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go hs.ServeTLS(ln, "", "")
	t.Cleanup(func() { hs.Close() })

	_, alice, j, phone := uploadCastOn(t, s)
	dir := t.TempDir()
	bin := filepath.Join(dir, "jab")
	if err := jabrun.Build(context.Background(), bin); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "big.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	// A non-zero head (so the sink can tell it got the start), then a
	// hole up to 1 GiB.
	f.WriteString("jab 1 GiB upload test\n")
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "send", "--file", p, alice.JID)
	cmd.Env = j.env()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Not the child's rusage: Go starts it with vfork, and at exec Linux
	// folds this test process's high-water mark (well over 100 MiB in the
	// parallel -race suite) into the child's maximum RSS. VmHWM in
	// /proc/PID/status is the child's own memory's, sampled until it ends.
	hwm := make(chan int64, 1)
	stop := make(chan struct{})
	go func() { hwm <- sampleVmHWM(cmd.Process.Pid, stop) }()
	err = cmd.Wait()
	close(stop)
	rss := <-hwm // KiB
	if err != nil {
		t.Fatalf("jab send --file (1 GiB): %v\n%s", err, stderr.String())
	}
	took := time.Since(start)
	t.Logf("1 GiB upload: %s (%.0f MiB/s), peak RSS of jab %.1f MiB", took.Round(time.Millisecond),
		float64(size)/(1<<20)/took.Seconds(), float64(rss)/1024)
	// Alone it peaks at about 16 MiB. Holding the file would take over
	// 1 GiB.
	if rss == 0 {
		t.Fatal("no VmHWM sample of the jab process")
	}
	if rss > 64<<10 {
		t.Errorf("peak RSS %d KiB for a 1 GiB upload: memory is not flat\n%s", rss, stderr.String())
	}
	sink.mu.Lock()
	n, nonZ, authz, length := sink.n, sink.nonZ, sink.authz, sink.length
	sink.mu.Unlock()
	if n != size || length != size || nonZ == 0 || !strings.HasPrefix(authz, "Bearer ") {
		t.Fatalf("the sink got %d bytes (%d not zero), Content-Length %d, Authorization %q", n, nonZ, length, authz)
	}
	m := phone.WaitMessage(t, 30*time.Second, func(m *session.Message) bool { return len(m.OOB) > 0 })
	if u := m.OOB[0].URL; !strings.HasPrefix(u, "https://"+ln.Addr().String()+"/") || m.Body != u {
		t.Fatalf("message %q with OOB URL %q", m.Body, u)
	}
}

// sampleVmHWM reads the VmHWM (peak RSS, KiB) of process pid every 10 ms
// until stop is closed or the process is gone, and returns the largest.
func sampleVmHWM(pid int, stop <-chan struct{}) int64 {
	var peak int64
	for {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					var kib int64
					fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kib)
					peak = max(peak, kib)
				}
			}
		}
		select {
		case <-stop:
			return peak
		case <-time.After(10 * time.Millisecond):
		}
	}
}
