package statefile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Observer records a running long-lived jab process (listen, repl) for one
// account. While a live observer exists, persisted locks are kept true by it
// (it sees every presence change that unlocks), so a one-shot "jab send" may
// trust them; without one they may be stale.
type Observer struct {
	Account        string    `json:"account"` // bare JID
	PID            int       `json:"pid"`
	Host           string    `json:"host"`
	Resource       string    `json:"resource"`
	ConnectedSince time.Time `json:"connected_since"`
	Heartbeat      time.Time `json:"heartbeat"`
}

// observerPath names the record of account. The file name is the hex of the
// first 16 bytes of SHA-256 of the bare JID: a JID may be up to 3071 bytes of
// any Unicode, which no escaping fits safely into a file name on every file
// system, while a hash is fixed-length, safe, and collision-free in practice.
// The record itself holds the JID for humans and is checked on read.
// Callers pass the JID in one canonical form; the hash does not fold case.
func (s *Store) observerPath(account string) string { return s.accountFile("observer-", account) }

// accountFile names a per-account file (observer record, roster cache,
// FAST token) in the state directory, as described at observerPath.
func (s *Store) accountFile(prefix, account string) string {
	sum := sha256.Sum256([]byte(account))
	return filepath.Join(s.dir, prefix+hex.EncodeToString(sum[:16])+".json")
}

// WriteObserver writes o as the observer record of o.Account, replacing any
// previous one atomically.
func (s *Store) WriteObserver(o Observer) error {
	if o.Account == "" {
		return errors.New("write observer file: empty account")
	}
	path := s.observerPath(o.Account)
	data, err := encode(o)
	if err != nil {
		return fmt.Errorf("encode observer file %q: %w", path, err)
	}
	return writeFileAtomic(path, data)
}

// ReadObserver returns the observer record of account, or nil if there is
// none. The record is advisory, so a corrupt one, or one for another account,
// counts as none rather than as an error. Whether the observer is still
// running is for Observer.Live to say.
func (s *Store) ReadObserver(account string) (*Observer, error) {
	path := s.observerPath(account)
	o, err := readObserverFile(path)
	if err != nil {
		return nil, err
	}
	if o == nil || o.Account != account {
		return nil, nil
	}
	return o, nil
}

func readObserverFile(path string) (*Observer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read observer file %q: %w", path, err)
	}
	var o Observer
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, nil
	}
	return &o, nil
}

// RemoveObserver removes the observer record of account if it was written by
// process pid, so an exiting listener never removes the record of another
// listener that has since taken over. A missing or corrupt record is left
// alone: it is not provably ours, and a corrupt one counts as none anyway.
func (s *Store) RemoveObserver(account string, pid int) error {
	path := s.observerPath(account)
	o, err := readObserverFile(path)
	if err != nil || o == nil || o.PID != pid {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove observer file %q: %w", path, err)
	}
	return nil
}

// Live reports whether o describes a running observer: its heartbeat is
// within maxAge of now in either direction (a heartbeat far in the future
// means a wrong clock, not a fresh record), and, when it runs on this host,
// its process exists according to pidAlive (PIDAlive when nil). On another
// host only the heartbeat can be judged. A reused PID can make a dead
// observer look alive until its heartbeat goes stale; the heartbeat bounds
// that error.
func (o *Observer) Live(now time.Time, maxAge time.Duration, host string, pidAlive func(int) bool) bool {
	if o == nil || o.Heartbeat.IsZero() {
		return false
	}
	age := now.Sub(o.Heartbeat)
	if age > maxAge || age < -maxAge {
		return false
	}
	if o.Host == host {
		if pidAlive == nil {
			pidAlive = PIDAlive
		}
		return pidAlive(o.PID)
	}
	return true
}

// PIDAlive reports whether a process with id pid exists on this host. Signal
// 0 checks existence without delivering anything; EPERM means it exists but
// belongs to another user. Non-positive ids are refused because kill(2)
// treats them as process groups.
func PIDAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
