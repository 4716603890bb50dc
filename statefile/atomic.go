package statefile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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

// lock takes the writers' exclusive flock on the state's sidecar lock file.
// The returned function releases it.
func (s *Store) lock(ctx context.Context) (func() error, error) {
	return lockFile(ctx, s.lockPath())
}

// lockFile takes an exclusive flock on the sidecar lock file path, creating
// it if needed, polling with LOCK_NB so that a cancelled or expired ctx ends
// the wait (a blocking flock cannot be interrupted). The returned function
// releases it.
func lockFile(ctx context.Context, path string) (func() error, error) {
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
func writeFileAtomic(path string, data []byte) error {
	return writeFileAtomicFunc(path, writeData(data))
}

// writeData is the write of replaceFile and writeFileAtomicFunc for
// content held in memory.
func writeData(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
}

// writeFileAtomicFunc is writeFileAtomic for content too large to hold in
// memory at once: write streams it to the temp file. If write fails, the temp
// file is removed, path is left untouched and the error is returned as it is.
func writeFileAtomicFunc(path string, write func(io.Writer) error) error {
	durable, err := replaceFile(path, write)
	if err != nil {
		return err
	}
	return durable()
}

// replaceFile is writeFileAtomicFunc up to the rename: the new content is
// in place, whole and synced, and what is left is the directory's fsync
// that makes the rename durable, which it returns.
func replaceFile(path string, write func(io.Writer) error) (durable func() error, err error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+strings.TrimSuffix(base, ".json")+"-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create temp file for %q: %w", path, err)
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
		return nil, fmt.Errorf("chmod temp file %q: %w", tmp, err)
	}
	bw := bufio.NewWriterSize(tempWriter{f}, 256<<10)
	if err := write(bw); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("sync temp file %q: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close temp file %q: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("replace %q: %w", path, err)
	}
	return func() error { return syncDir(filepath.Clean(dir)) }, nil
}

// tempWriter names the temp file in its write errors, which reach the caller
// through write or Flush.
type tempWriter struct{ f *os.File }

func (w tempWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = fmt.Errorf("write temp file %q: %w", w.f.Name(), err)
	}
	return n, err
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
