package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jab-xmpp/jab/internal/prosody"
	"github.com/jab-xmpp/jab/statefile"
)

// writers runs n `jab send` processes at once, each to a contact of its
// own, while a `jab listen` of the account runs on the same state
// directory, half of them on their own connection (--no-handoff) and half
// handed to the listen. Every send must leave its conversation, its thread
// and its history record: a lost update is one missing.
func writers(jab string, n int) error {
	srv, err := prosody.Start(prosody.Options{})
	if err != nil {
		return err
	}
	defer srv.Stop()
	if err := srv.Register("me", "me-secret"); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "jab-faults-writers-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env := append(os.Environ(), "JAB_JID=me@"+srv.Domain, "JAB_PASSWORD=me-secret", "JAB_SERVER="+srv.Addr,
		"JAB_CA_FILE="+srv.CAFile, "JAB_STATE_DIR="+filepath.Join(dir, "state"), "HOME="+dir, "XDG_CONFIG_HOME="+dir)

	listen := exec.Command(jab, "listen")
	listen.Env = env
	stderr, err := listen.StderrPipe()
	if err != nil {
		return err
	}
	if err := listen.Start(); err != nil {
		return err
	}
	defer func() {
		listen.Process.Signal(os.Interrupt)
		listen.Wait()
	}()
	go bufio.NewReader(stderr).WriteTo(discard{})
	store, err := statefile.Open(filepath.Join(dir, "state"))
	if err != nil {
		return err
	}
	if err := waitObserver(store, "me@"+srv.Domain); err != nil {
		return err
	}

	peers := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range peers {
		peers[i] = fmt.Sprintf("peer%d@%s", i, srv.Domain)
		wg.Go(func() { errs[i] = srv.Register(fmt.Sprintf("peer%d", i), "pw") })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	start := time.Now()
	for i, p := range peers {
		wg.Go(func() {
			args := []string{"send", p, fmt.Sprintf("writer %d", i)}
			if i%2 == 0 {
				args = []string{"send", "--no-handoff", p, fmt.Sprintf("writer %d", i)}
			}
			cmd := exec.Command(jab, args...)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("send %d: %v: %s", i, err, strings.TrimSpace(string(out)))
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			fmt.Fprintln(os.Stderr, "  ", err)
		}
	}

	st, err := store.Load()
	if err != nil {
		return err
	}
	a := st.Account("me@" + srv.Domain)
	lostConv, lostThread := 0, 0
	for _, p := range peers {
		c := a.Conversations[p]
		switch {
		case c == nil || c.Thread == "":
			lostConv++
		case a.Threads[c.Thread] == nil || a.Threads[c.Thread].Count != 1:
			lostThread++
		}
	}
	records := map[string]bool{}
	store.History(1 << 20).Scan(func(r statefile.Record) error {
		records[r.Peer] = true
		return nil
	})
	lostHistory := 0
	for _, p := range peers {
		if !records[p] {
			lostHistory++
		}
	}
	fmt.Printf("\n%d concurrent `jab send` (%d on their own connection, %d handed to the running listen) and the listen on one state directory, in %s:\n",
		n, (n+1)/2, n/2, took.Round(time.Millisecond))
	fmt.Printf("  sends failed %d; conversations lost %d; thread counts wrong %d; history records lost %d\n",
		failed, lostConv, lostThread, lostHistory)
	if failed+lostConv+lostThread+lostHistory > 0 {
		return fmt.Errorf("concurrent writers lost updates")
	}
	return nil
}

// waitObserver waits until the listen has written its observer record.
func waitObserver(store *statefile.Store, account string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if obs, err := store.ReadObserver(account); err == nil && obs != nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("jab listen did not come online")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
