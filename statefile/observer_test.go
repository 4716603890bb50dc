package statefile

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
	"time"
)

func TestObserverRoundTrip(t *testing.T) {
	s := openTemp(t)
	o := Observer{
		Account: "me@example.net", PID: 4242, Host: "box", Resource: "jab-abc",
		ConnectedSince: t0, Heartbeat: t0.Add(time.Minute),
	}
	if got, err := s.ReadObserver(o.Account); got != nil || err != nil {
		t.Fatalf("ReadObserver() before write = %+v, %v; want nil, nil", got, err)
	}
	if err := s.WriteObserver(o); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadObserver(o.Account)
	if err != nil || got == nil || !reflect.DeepEqual(*got, o) {
		t.Fatalf("ReadObserver() = %+v, %v; want %+v", got, err, o)
	}
	path := s.observerPath(o.Account)
	if fi, err := os.Stat(path); err != nil || fi.Mode() != 0o600 {
		t.Errorf("observer file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	if other, _ := s.ReadObserver("you@example.net"); other != nil {
		t.Errorf("ReadObserver(other account) = %+v, want nil", other)
	}

	// Another process's exit must not remove our record.
	if err := s.RemoveObserver(o.Account, o.PID+1); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ReadObserver(o.Account); got == nil {
		t.Fatal("RemoveObserver() with another pid removed the record")
	}
	if err := s.RemoveObserver(o.Account, o.PID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("observer file still exists after RemoveObserver(): %v", err)
	}
	if err := s.RemoveObserver(o.Account, o.PID); err != nil {
		t.Errorf("RemoveObserver() of a missing record = %v", err)
	}
	if got := dirNames(t, s.Dir()); len(got) != 0 {
		t.Errorf("directory holds %v after removal, want nothing (no temp files)", got)
	}
	if err := s.WriteObserver(Observer{}); err == nil {
		t.Error("WriteObserver() without an account succeeded")
	}
}

func TestReadObserverAdvisory(t *testing.T) {
	const account = "me@example.net"
	tests := []struct {
		name    string
		content string
	}{
		{name: "corrupt", content: `{"account": "me@exa`},
		{name: "empty", content: ``},
		{name: "wrong type", content: `{"account": "me@example.net", "pid": "x"}`},
		{name: "other account", content: `{"account": "you@example.net", "pid": 1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			writeFile(t, s.observerPath(account), tt.content)
			if got, err := s.ReadObserver(account); got != nil || err != nil {
				t.Errorf("ReadObserver() = %+v, %v; want nil, nil", got, err)
			}
			// Not provably ours: left alone.
			if err := s.RemoveObserver(account, 1); err != nil {
				t.Errorf("RemoveObserver() = %v", err)
			}
		})
	}
}

func TestObserverPathIsSafe(t *testing.T) {
	s := openTemp(t)
	seen := map[string]string{}
	name := regexp.MustCompile(`^observer-[0-9a-f]{32}\.json$`)
	for _, account := range []string{"me@example.net", "../../etc/passwd", "a/b@c", "", "ME@example.net", string(make([]byte, 4000))} {
		p := s.observerPath(account)
		if filepath.Dir(p) != s.Dir() || !name.MatchString(filepath.Base(p)) {
			t.Errorf("observerPath(%.20q) = %q, not a plain name in the store", account, p)
		}
		if prev, ok := seen[p]; ok {
			t.Errorf("accounts %.20q and %.20q share %q", prev, account, p)
		}
		seen[p] = account
	}
}

func TestObserverLive(t *testing.T) {
	const maxAge = 30 * time.Second
	now := t0
	alive := func(int) bool { return true }
	dead := func(int) bool { return false }
	tests := []struct {
		name     string
		o        *Observer
		pidAlive func(int) bool
		want     bool
	}{
		{name: "fresh", o: &Observer{Host: "here", PID: 1, Heartbeat: now.Add(-10 * time.Second)}, pidAlive: alive, want: true},
		{name: "at max age", o: &Observer{Host: "here", PID: 1, Heartbeat: now.Add(-maxAge)}, pidAlive: alive, want: true},
		{name: "stale", o: &Observer{Host: "here", PID: 1, Heartbeat: now.Add(-maxAge - time.Second)}, pidAlive: alive, want: false},
		{name: "slightly future", o: &Observer{Host: "here", PID: 1, Heartbeat: now.Add(5 * time.Second)}, pidAlive: alive, want: true},
		{name: "far future", o: &Observer{Host: "here", PID: 1, Heartbeat: now.Add(maxAge + time.Second)}, pidAlive: alive, want: false},
		{name: "zero heartbeat", o: &Observer{Host: "here", PID: 1}, pidAlive: alive, want: false},
		{name: "same host dead pid", o: &Observer{Host: "here", PID: 1, Heartbeat: now}, pidAlive: dead, want: false},
		{name: "other host", o: &Observer{Host: "there", PID: 1, Heartbeat: now}, pidAlive: dead, want: true},
		{name: "other host stale", o: &Observer{Host: "there", PID: 1, Heartbeat: now.Add(-time.Hour)}, pidAlive: alive, want: false},
		{name: "nil", o: nil, pidAlive: alive, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.o.Live(now, maxAge, "here", tt.pidAlive); got != tt.want {
				t.Errorf("Live() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPIDAlive(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pid  int
		want bool
	}{
		{name: "self", pid: os.Getpid(), want: true},
		{name: "pid 1 (EPERM unless root)", pid: 1, want: true},
		{name: "exited child", pid: cmd.Process.Pid, want: false},
		{name: "zero is a process group", pid: 0, want: false},
		{name: "negative is a process group", pid: -1, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PIDAlive(tt.pid); got != tt.want {
				t.Errorf("PIDAlive(%d) = %v, want %v", tt.pid, got, tt.want)
			}
		})
	}
}
