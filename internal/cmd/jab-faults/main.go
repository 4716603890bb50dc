// Command jab-faults puts figures on what a crash does to jab's files: it
// runs the real state-file and history code in a child process, kills the
// child with SIGKILL at a random point, and checks what the child left.
// `make faults` runs it; it is a measurement, not a test of `make test`
// (the unit tests of statefile cover the same code paths one by one).
//
//   - state: the child updates state.json in a loop (a counter in a
//     conversation, in a state of a few hundred conversations so that a
//     write takes a while) and reports each update that returned. After
//     each kill the file must load, and hold either the last reported
//     value or the one after it (the update in flight).
//   - history: the child appends records numbered in sequence and reports
//     each append that returned. After each kill the history must scan,
//     with the numbers in sequence, ending at the last reported one or the
//     one after it, and at most the torn line of the kill skipped.
//
// Each kind runs -kills trials on one directory, so every trial starts on
// what the previous kill left. The result is a table, and a non-zero exit
// if anything was corrupt, lost or out of order.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

const (
	account = "me@example.org"
	peer    = "counter@example.org"
)

func main() {
	kills := flag.Int("kills", 1000, "kills per kind")
	maxDelay := flag.Duration("max-delay", 40*time.Millisecond, "a kill comes after a random delay up to this")
	child := flag.String("child", "", "internal: run as the child of this kind (state, history) in -dir")
	dir := flag.String("dir", "", "internal: the child's state directory")
	jab := flag.String("jab", "", "also run -writers concurrent `jab send` of this binary with a listen, against a local Prosody")
	nWriters := flag.Int("writers", 50, "concurrent sends with -jab")
	flag.Parse()
	if *child != "" {
		if err := runChild(*child, *dir); err != nil {
			fmt.Fprintln(os.Stderr, "jab-faults child:", err)
			os.Exit(1)
		}
		return
	}
	failed := false
	fmt.Printf("jab-faults: SIGKILL at a random point (0 to %s into the child's loop), %d trials per kind\n\n", *maxDelay, *kills)
	fmt.Println("| kind | trials | writes done | corrupt | old kept | new kept | lost or out of order | torn lines skipped |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, kind := range []string{"state", "history"} {
		r, err := trials(kind, *kills, *maxDelay)
		if err != nil {
			fmt.Fprintln(os.Stderr, "jab-faults:", err)
			os.Exit(1)
		}
		fmt.Printf("| %s | %d | %d | %d | %d | %d | %d | %d |\n", kind, r.trials, r.writes, r.corrupt, r.old, r.new, r.bad, r.torn)
		if r.corrupt > 0 || r.bad > 0 {
			failed = true
			for _, p := range r.problems {
				fmt.Fprintln(os.Stderr, "  ", p)
			}
		}
	}
	if *jab != "" {
		if err := writers(*jab, *nWriters); err != nil {
			fmt.Fprintln(os.Stderr, "jab-faults:", err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

type result struct {
	trials, writes, corrupt, old, new, bad, torn int
	problems                                     []string
}

func (r *result) problem(format string, args ...any) {
	r.bad++
	if len(r.problems) < 10 {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

// trials runs n kills of the child of kind on one directory.
func trials(kind string, n int, maxDelay time.Duration) (*result, error) {
	dir, err := os.MkdirTemp("", "jab-faults-"+kind+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r := &result{}
	acked := 0 // the last value a child reported as written
	for i := 0; i < n; i++ {
		last, err := killOnce(self, kind, dir, time.Duration(rand.Int64N(int64(maxDelay)+1)))
		if err != nil {
			return nil, err
		}
		if last > 0 {
			r.writes += last - acked
			acked = last
		}
		r.trials++
		switch kind {
		case "state":
			checkState(r, dir, &acked)
		case "history":
			checkHistory(r, dir, &acked)
		}
	}
	return r, nil
}

// killOnce starts a child, kills it after delay, and returns the last
// value it reported (0: none).
func killOnce(self, kind, dir string, delay time.Duration) (int, error) {
	cmd := exec.Command(self, "-child", kind, "-dir", dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	lines := make(chan int, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if v, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil {
				lines <- v
			}
		}
	}()
	time.Sleep(delay)
	cmd.Process.Signal(syscall.SIGKILL)
	last := 0
	for v := range lines {
		last = v
	}
	werr := cmd.Wait()
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return 0, werr
	}
	if ee != nil && ee.ExitCode() > 0 {
		return 0, fmt.Errorf("the %s child failed before the kill: %v", kind, werr)
	}
	return last, nil
}

// checkState: the file loads, and holds the last reported value or the
// one in flight; a value the kill wrote but did not report moves acked on.
func checkState(r *result, dir string, acked *int) {
	st, err := openStore(dir).Load()
	if err != nil {
		var ce *statefile.CorruptError
		if errors.As(err, &ce) {
			r.corrupt++
		}
		r.problem("trial %d: %v", r.trials, err)
		return
	}
	v := 0
	if a := st.Accounts[account]; a != nil && a.Conversations[peer] != nil {
		v, _ = strconv.Atoi(a.Conversations[peer].Thread)
	}
	switch v {
	case *acked:
		r.old++
	case *acked + 1:
		r.new++
		*acked = v
	default:
		r.problem("trial %d: the state holds %d after %d was reported written", r.trials, v, *acked)
	}
}

// checkHistory: the history scans, numbered 1, 2, ... in order, ending at
// the last reported append or the one in flight. A record the kill wrote
// but did not report moves acked on.
func checkHistory(r *result, dir string, acked *int) {
	h := openStore(dir).History(1 << 30)
	want := 1
	warnings, err := h.Scan(func(rec statefile.Record) error {
		v, err := strconv.Atoi(rec.Body)
		if err != nil || v != want {
			return fmt.Errorf("record %d holds %q", want, rec.Body)
		}
		want++
		return nil
	})
	r.torn = len(warnings)
	if err != nil {
		r.problem("trial %d: %v", r.trials, err)
		return
	}
	switch last := want - 1; last {
	case *acked:
		r.old++
	case *acked + 1:
		r.new++
		*acked = last
	default:
		r.problem("trial %d: the history ends at %d after %d was reported appended", r.trials, last, *acked)
	}
}

func openStore(dir string) *statefile.Store {
	st, err := statefile.Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jab-faults:", err)
		os.Exit(1)
	}
	return st
}

// runChild writes in a loop until it is killed, reporting each write that
// returned on stdout.
func runChild(kind, dir string) error {
	store, err := statefile.Open(dir)
	if err != nil {
		return err
	}
	ctx := context.Background()
	out := os.Stdout
	switch kind {
	case "state":
		for {
			var v int
			_, err := store.Update(ctx, func(st *statefile.State) error {
				a := st.Account(account)
				c := a.Conversations[peer]
				if c == nil {
					c = &statefile.Conversation{Peer: peer}
					a.Conversations[peer] = c
				}
				v, _ = strconv.Atoi(c.Thread)
				v++
				c.Thread = strconv.Itoa(v)
				c.LastActivity = time.Now()
				// Ballast: a state the size of a busy account's.
				for i := len(a.Conversations); i < 300; i++ {
					p := fmt.Sprintf("contact%d@example.org", i)
					a.Conversations[p] = &statefile.Conversation{Peer: p, LockedTo: p + "/phone", LockKind: statefile.LockMessage,
						Thread: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), LastActivity: time.Now()}
				}
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(out, v)
		}
	case "history":
		h := store.History(1 << 30)
		next := 1
		h.Scan(func(statefile.Record) error { next++; return nil })
		for {
			rec := statefile.Record{Account: account, Dir: statefile.DirOut, Time: time.Now(), Peer: peer, Type: "chat",
				ID: strconv.Itoa(next), Body: strconv.Itoa(next), Thread: "t"}
			if err := h.Append(ctx, rec); err != nil {
				return err
			}
			fmt.Fprintln(out, next)
			next++
		}
	}
	return fmt.Errorf("unknown kind %q", kind)
}
