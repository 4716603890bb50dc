package commands_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/commands"
	"github.com/jab-xmpp/jab/internal/peer"
	"github.com/jab-xmpp/jab/session"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory, or skips the
// test where mounting is not allowed (not root, no mount(8)).
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to mount a small file system")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.Itoa(size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// onSmallDisk is a jab whose state directory is on a tmpfs of size bytes,
// with one message sent to alice, who is online.
func onSmallDisk(t *testing.T, size int) (disk string, j *jab, alice account, ap *peer.Peer) {
	t.Helper()
	needServer(t)
	t.Parallel()
	disk = mountTmpfs(t, size)
	var me account
	me, alice = newAccount(t, "me"), newAccount(t, "alice")
	j = newJab(t, me)
	j.stateDir = filepath.Join(disk, "state")
	ap = cliOnline(t, alice)
	j.send(alice.JID, "first on a small disk")
	ap.WaitBody(t, "first on a small disk")
	return disk, j, alice, ap
}

// fill writes a file until the file system holding dir is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			return
		}
	}
}

// Issue 13, a full disk: a send that must record a new route first sends
// nothing; one whose route is recorded already goes out and exits 1 saying
// what was not recorded (RecordError). The state file is never half
// written, and no temporary file is left behind.
func TestCLIFullDisk(t *testing.T) {
	disk, j, alice, ap := onSmallDisk(t, 128<<10)
	before := j.readState()
	fill(t, disk)

	r := j.run("", "send", "--new-thread", alice.JID, "disk new thread")
	if r.Code != commands.ExitError || !strings.Contains(r.Stderr, "no space left") || !strings.Contains(r.Stderr, "full") {
		t.Fatalf("a new thread on a full disk: %s; want exit 1 naming the full disk", r)
	}
	ap.NoMessage(t, 500*time.Millisecond, func(m *session.Message) bool { return m.Body == "disk new thread" })

	r = j.run("", "send", alice.JID, "disk same thread")
	if r.Code != commands.ExitError || !strings.Contains(r.Stderr, "sent, but not recorded") || !strings.Contains(r.Stderr, "do not send it again") {
		t.Fatalf("the same thread on a full disk: %s; want exit 1, sent but not recorded", r)
	}
	ap.WaitBody(t, "disk same thread")

	if after := j.readState(); !bytes.Equal(before, after) {
		t.Fatalf("the state file changed on a full disk:\nbefore %s\nafter  %s", before, after)
	}
	if temps, _ := filepath.Glob(filepath.Join(j.stateDir, ".*.tmp")); len(temps) > 0 {
		t.Fatalf("temporary files left behind: %v", temps)
	}
}

// Issue 13, a read-only state directory: a clear error naming it, with a
// hint; nothing sent, the state unchanged.
func TestCLIReadOnlyStateDir(t *testing.T) {
	disk, j, alice, ap := onSmallDisk(t, 1<<20)
	before := j.readState()
	if out, err := exec.Command("mount", "-o", "remount,ro", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v: %s", err, out)
	}
	r := j.run("", "send", alice.JID, "ro second")
	if r.Code != commands.ExitError || !strings.Contains(r.Stderr, j.stateDir) || !strings.Contains(r.Stderr, "state directory it can write") {
		t.Fatalf("send on a read-only state directory: %s; want exit 1 naming %s with a hint", r, j.stateDir)
	}
	ap.NoMessage(t, 500*time.Millisecond, func(m *session.Message) bool { return m.Body == "ro second" })
	if after := j.readState(); !bytes.Equal(before, after) {
		t.Fatal("the state file changed")
	}
}
