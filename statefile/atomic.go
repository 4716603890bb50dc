package statefile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Backoff bounds while waiting for the lock: short enough that a waiting
// one-shot command is not noticeably delayed, long enough not to spin.
const (
	lockPollMin = 2 * time.Millisecond
	lockPollMax = 20 * time.Millisecond
)

// lock takes the writers' exclusive flock on the sidecar lock file, polling
// with LOCK_NB so that a cancelled or expired ctx ends the wait (a blocking
// flock cannot be interrupted). The returned function releases it.
func (s *Store) lock(ctx context.Context) (func() error, error) {
	path := s.lockPath()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lock %q: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %q: %w", path, err)
	}
	fd := int(f.Fd())
	delay := lockPollMin
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %q: %w", path, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("lock %q: held by another jab process: %w", path, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, lockPollMax)
	}
	return func() error {
		// Closing the descriptor releases the flock; the explicit unlock
		// just makes the release not depend on that.
		uerr := syscall.Flock(fd, syscall.LOCK_UN)
		cerr := f.Close()
		if err := errors.Join(uerr, cerr); err != nil {
			return fmt.Errorf("unlock %q: %w", path, err)
		}
		return nil
	}, nil
}

// writeFileAtomic replaces path with data so that a reader or a crash sees
// either the old content or the new, never a part: write a temp file in the
// same directory (rename is atomic only within one file system), fsync it,
// rename it over path, then fsync the directory so the rename is durable.
// The temp file is named ".<base>-*.tmp" (".state-*.tmp" for state.json) so
// that removeStaleTemps can recognise leftovers.
func writeFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+strings.TrimSuffix(base, ".json")+"-*.tmp")
	if err != nil {
		return fmt.Errorf("create temp file for %q: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp already uses 0600; set it explicitly so the mode never
	// depends on that detail.
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("chmod temp file %q: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write temp file %q: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync temp file %q: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close temp file %q: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %q: %w", path, err)
	}
	return syncDir(filepath.Clean(dir))
}

// syncDir makes a rename in dir durable. Some file systems cannot fsync a
// directory and say so with EINVAL or ENOTSUP; there is nothing better to do
// there, so those are not errors.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %q: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	return nil
}
