package main

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestMain builds the spawn helper, as jab-bench does when it starts.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jab-bench-test-")
	if err != nil {
		panic(err)
	}
	if err := buildSpawn(dir); err != nil {
		os.RemoveAll(dir)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestSpawnRSS: a tool's max RSS measured through the helper does not
// include the bench's own memory, which a direct child's does.
func TestSpawnRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the inherited high-water mark is Linux's")
	}
	ballast := make([]byte, 64<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	direct := exec.Command("/bin/true")
	if err := direct.Run(); err != nil {
		t.Fatal(err)
	}
	if kib := direct.ProcessState.SysUsage().(*syscall.Rusage).Maxrss; kib < 64<<10 {
		t.Logf("a direct child reports %d KiB: this kernel does not fold the parent's peak in", kib)
	}
	s, code, _, err := spawn(context.Background(), "/bin/true", nil, nil, nil)
	if err != nil || code != 0 {
		t.Fatalf("spawn /bin/true: code %d, %v", code, err)
	}
	// The helper's own floor is about 2 MiB.
	if s.rssKiB <= 0 || s.rssKiB > 8<<10 {
		t.Errorf("/bin/true through the helper: max RSS %d KiB, while the bench holds 64 MiB", s.rssKiB)
	}
	runtime.KeepAlive(ballast)
}

// TestSpawnExit: the helper passes on stdin, collects stdout and stderr,
// and returns the tool's exit code and figures.
func TestSpawnExit(t *testing.T) {
	s, code, out, err := spawn(context.Background(), "/bin/sh", []string{"-c", "read x; echo out $x; echo err >&2; exit 3"},
		nil, strings.NewReader("in\n"))
	if err != nil {
		t.Fatal(err)
	}
	if code != 3 || !strings.Contains(out, "out in") || !strings.Contains(out, "err") {
		t.Errorf("code %d, output %q; want 3 and both streams", code, out)
	}
	if s.wall <= 0 || s.rssKiB <= 0 {
		t.Errorf("figures %+v", s)
	}
	if _, _, _, err := spawn(context.Background(), "/nonexistent/tool", nil, nil, nil); err == nil {
		t.Error("spawning a missing tool succeeded")
	}
}
