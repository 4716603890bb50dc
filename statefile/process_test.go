package statefile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The cross-process tests run copies of the test binary as helper processes,
// because the guarantee under test is between processes.
const (
	helperEnv     = "JAB_STATEFILE_HELPER" // "add", "hold" or "history"
	helperDirEnv  = "JAB_STATEFILE_DIR"
	helperPeerEnv = "JAB_STATEFILE_PEER"
	testAccount   = "me@example.net"
)

// TestHelperProcess is not a test: it is the body of a helper process and
// does nothing unless started by helperCommand.
//
//	add:  wait for stdin to close (a start gate), then add one conversation;
//	      fn sleeps so that unserialised writers would lose updates.
//	hold: inside Update's fn, print "locked" and wait for stdin to close.
//	history: wait for stdin to close, then append helperAppends history
//	      records one at a time, with peer as Peer and "<peer> <i>" as Body.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	err := runHelper(mode, os.Getenv(helperDirEnv), os.Getenv(helperPeerEnv))
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runHelper(mode, dir, peer string) error {
	s, err := Open(dir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch mode {
	case "add":
		if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
			return err
		}
		_, err = s.Update(ctx, func(st *State) error {
			time.Sleep(5 * time.Millisecond)
			return addConversation(testAccount, peer)(st)
		})
	case "hold":
		_, err = s.Update(ctx, func(st *State) error {
			fmt.Println("locked")
			if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
				return err
			}
			return addConversation(testAccount, peer)(st)
		})
	case "history":
		if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
			return err
		}
		h := s.History(0)
		for i := range helperAppends {
			if err := h.Append(ctx, historyRecord(peer, i)); err != nil {
				return err
			}
		}
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	return err
}

func helperCommand(t *testing.T, mode, dir, peer string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperDirEnv+"="+dir, helperPeerEnv+"="+peer)
	cmd.Stderr = os.Stderr
	return cmd
}

// runHelpersAtOnce starts n helper processes in mode, each for its own
// peer, releases them together (by closing their stdin) so their work
// overlaps, and waits for all of them.
func runHelpersAtOnce(t *testing.T, n int, mode, dir string) {
	t.Helper()
	cmds := make([]*exec.Cmd, n)
	gates := make([]io.WriteCloser, n)
	for i := range cmds {
		cmds[i] = helperCommand(t, mode, dir, fmt.Sprintf("peer%02d@example.com", i))
		var err error
		if gates[i], err = cmds[i].StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range gates {
		g.Close()
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v", i, err)
		}
	}
}

func TestUpdateConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 20 processes")
	}
	const n = 20
	s := openTemp(t)
	runHelpersAtOnce(t, n, "add", s.Dir())
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	convs := st.Account(testAccount).Conversations
	if len(convs) != n {
		t.Errorf("%d conversations after %d concurrent updates, want %d", len(convs), n, n)
	}
	for i := range n {
		if peer := fmt.Sprintf("peer%02d@example.com", i); convs[peer] == nil {
			t.Errorf("update of helper %d lost", i)
		}
	}
}

func TestUpdateTimesOutWhileLocked(t *testing.T) {
	s := openTemp(t)
	holder := helperCommand(t, "hold", s.Dir(), "holder@example.com")
	release, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { release.Close(); holder.Wait() })

	locked := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && line != "locked\n" {
			err = fmt.Errorf("unexpected output %q", line)
		}
		locked <- err
		io.Copy(io.Discard, out)
	}()
	select {
	case err := <-locked:
		if err != nil {
			t.Fatalf("helper did not take the lock: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("helper did not take the lock within a minute")
	}

	// Readers take no lock.
	if _, err := s.Load(); err != nil {
		t.Errorf("Load() while locked: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	called := false
	_, err = s.Update(ctx, func(*State) error { called = true; return nil })
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("Update() took %v with a 150ms deadline", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), s.Path()+".lock") {
		t.Errorf("Update() while locked = %v, want a deadline error naming the lock file", err)
	}
	if called {
		t.Error("fn ran without the lock")
	}

	// Once the holder finishes, the lock is free and its change is visible.
	release.Close()
	if err := holder.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	st, err := s.Update(ctx2, addConversation(testAccount, "after@example.com"))
	if err != nil {
		t.Fatalf("Update() after release: %v", err)
	}
	if a := st.Account(testAccount); a.Conversation("holder@example.com") == nil || a.Conversation("after@example.com") == nil {
		t.Errorf("conversations after release = %v", a.Conversations)
	}
}
