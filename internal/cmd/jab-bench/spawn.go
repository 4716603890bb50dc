package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// spawnBin is the measuring helper (./spawn), built by buildSpawn. Each run
// goes through it so that the tool's max RSS is its own and not the
// bench's: spawn/main.go explains.
var spawnBin string

// buildSpawn builds the helper into dir.
func buildSpawn(dir string) error {
	spawnBin = filepath.Join(dir, "spawn")
	build := exec.Command("go", "build", "-trimpath", "-o", spawnBin, "github.com/jab-xmpp/jab/internal/cmd/jab-bench/spawn")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the spawn helper: %v: %s", err, out)
	}
	return nil
}

// spawn runs bin with args through the helper and returns the tool's
// figures, its exit code and what it wrote on stdout and stderr.
func spawn(ctx context.Context, bin string, args, env []string, stdin io.Reader) (s sample, code int, out string, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return s, 0, "", err
	}
	defer r.Close()
	cmd := exec.CommandContext(ctx, spawnBin, append([]string{bin}, args...)...)
	cmd.Env = env
	cmd.Stdin = stdin
	// The same comparable writer twice: os/exec then writes from one
	// goroutine at a time.
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.ExtraFiles = []*os.File{w}
	runErr := cmd.Run()
	w.Close()
	line, _ := io.ReadAll(r)
	if cmd.ProcessState == nil {
		return s, 0, buf.String(), runErr
	}
	var wallNS, cpuNS int64
	if _, err := fmt.Sscan(string(line), &wallNS, &cpuNS, &s.rssKiB); err != nil {
		return s, 0, buf.String(), errors.Join(fmt.Errorf("spawn helper: no figures (%v): %s", err, buf.String()), runErr)
	}
	s.wall, s.cpu = time.Duration(wallNS), time.Duration(cpuNS)
	return s, cmd.ProcessState.ExitCode(), buf.String(), nil
}

// spawnFloor is the smallest max RSS the helper can report: /bin/true's,
// which is about the helper's own high-water mark at exec. Figures near
// it mean little.
func spawnFloor() int64 {
	s, _, _, err := spawn(context.Background(), "/bin/true", nil, nil, nil)
	if err != nil {
		return 0
	}
	return s.rssKiB
}
