package jabrun

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tests run sh in jab's place: what is tested is the process
// handling, not jab.

func shPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh:", err)
	}
	return path
}

func sh(t *testing.T, script string) *exec.Cmd { return exec.Command(shPath(t), "-c", script) }

func TestRun(t *testing.T) {
	r, err := Run(context.Background(), shPath(t), nil, strings.NewReader("in\n"), "-c", "cat; echo err >&2; exit 3")
	if err != nil || r != (Result{Stdout: "in\n", Stderr: "err\n", Code: 3}) {
		t.Fatalf("Run = %+v, %v", r, err)
	}
	// When ctx ends, the process gets SIGTERM (and may exit as jab does).
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r, _ = Run(ctx, shPath(t), nil, nil, "-c", `trap "exit 143" TERM; while :; do sleep 0.05; done`)
	if r.Code != 143 {
		t.Fatalf("Run after ctx ended: %+v, want exit 143 from SIGTERM", r)
	}
}

func TestProc(t *testing.T) {
	p, err := Start(sh(t, `trap "exit 143" TERM; read x; echo "got $x"; echo warn >&2; echo ready; while :; do sleep 0.05; done`), true)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if _, err := p.Stdin().Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	i, err := p.WaitLine(ctx, 0, "ready")
	if err != nil || i != 1 {
		t.Fatalf("WaitLine(ready) = %d, %v; lines %q", i, err, p.Lines())
	}
	if l := p.Lines(); len(l) != 2 || l[0] != "got hello" {
		t.Fatalf("lines %q", l)
	}
	// Searching from after the line does not find it again.
	short, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := p.WaitLine(short, 2, "ready"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitLine from 2: %v, want a deadline error", err)
	}
	if p.Stderr() != "warn\n" {
		t.Fatalf("stderr %q", p.Stderr())
	}
	if code := p.Stop(); code != 143 {
		t.Fatalf("Stop = %d, want 143", code)
	}
	if _, err := p.WaitLine(ctx, 2, "never"); !errors.Is(err, ErrExited) {
		t.Fatalf("WaitLine after exit: %v, want ErrExited", err)
	}
	if code, err := p.Wait(ctx); code != 143 || err != nil {
		t.Fatalf("Wait = %d, %v", code, err)
	}
}

func TestWaitObserver(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		time.Sleep(50 * time.Millisecond)
		os.WriteFile(filepath.Join(dir, "observer-x.json"), []byte("{}"), 0o600)
	}()
	if path, err := WaitObserver(ctx, dir, done); err != nil || filepath.Base(path) != "observer-x.json" {
		t.Fatalf("WaitObserver = %q, %v", path, err)
	}
	close(done)
	if _, err := WaitObserver(ctx, t.TempDir(), done); !errors.Is(err, ErrExited) {
		t.Fatalf("WaitObserver after exit: %v, want ErrExited", err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := WaitObserver(short, t.TempDir(), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitObserver timeout: %v", err)
	}
}
