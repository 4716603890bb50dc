package ejabberd

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/internal/netns"
)

func TestMain(m *testing.M) { netns.Main(m) }

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("ejabberd integration test (skipped with -short)")
	}
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ejabberd log tail:\n%s", s.LogTail(40))
		}
		s.Stop()
	})
	return s
}

// listening returns the addresses of the TCP sockets in LISTEN state in
// pid's network namespace, from /proc/PID/net/tcp and tcp6.
func listening(t *testing.T, pid int) []string {
	t.Helper()
	var out []string
	for _, f := range []string{"tcp", "tcp6"} {
		fh, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "net", f))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) > 3 && fields[3] == "0A" { // TCP_LISTEN
				out = append(out, f+" "+fields[1])
			}
		}
		fh.Close()
	}
	return out
}

// processes returns the pids whose command name is one of names.
func processes(names ...string) []string {
	var out []string
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", d.Name(), "comm"))
		if err != nil {
			continue
		}
		for _, n := range names {
			if strings.TrimSpace(string(comm)) == n {
				out = append(out, d.Name()+" "+n)
			}
		}
	}
	return out
}

// TestLoopbackOnly: ejabberd starts in the test's network namespace,
// listens on the three loopback ports it was given and on nothing else
// (no epmd, no distribution port), takes accounts through the API, and
// leaves no process behind when stopped.
func TestLoopbackOnly(t *testing.T) {
	before := processes("beam.smp", "epmd")
	begin := time.Now()
	s := startServer(t, Options{})
	t.Logf("started in %v", time.Since(begin).Round(time.Millisecond))
	if err := s.Register("alice", "pw-alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("alice", "pw-alice-2"); err != nil {
		t.Fatalf("register again (new password): %v", err)
	}
	socks := listening(t, s.Pid())
	if len(socks) != 3 {
		t.Errorf("ejabberd's namespace has %d listening sockets, want 3 (STARTTLS, direct TLS, API): %q", len(socks), socks)
	}
	for _, l := range socks {
		// 0100007F is 127.0.0.1 in /proc's byte order.
		if !strings.HasPrefix(l, "tcp 0100007F:") {
			t.Errorf("listening beyond 127.0.0.1: %s", l)
		}
	}
	if e := processes("epmd"); len(e) > len(before) {
		t.Errorf("epmd is running: %q", e)
	}
	pid := s.Pid()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("beam.smp %d still running after Stop", pid)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", s.Dir, err)
	}
}

// TestConfigTextRoomArchive: RoomArchive makes mod_muc's rooms archive by
// default; without it mod_muc is as before.
func TestConfigTextRoomArchive(t *testing.T) {
	p := configParams{Domain: "example.test", C2S: 1, DirectTLS: 2, HTTP: 3, CertFile: "/c", KeyFile: "/k", LogLevel: "info",
		Opts: Options{Modules: map[string]string{"mod_mam": ""}, RoomArchive: true}}
	if got := configText(p); !strings.Contains(got, `access_persistent: all, default_room_options: {mam: true}}`) {
		t.Errorf("rooms do not archive:\n%s", got)
	}
	p.Opts.RoomArchive = false
	if got := configText(p); strings.Contains(got, "default_room_options") {
		t.Errorf("rooms archive without RoomArchive:\n%s", got)
	}
}
