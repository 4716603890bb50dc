//go:build linux

package session

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// handoffSupported: Linux tells a Unix socket who is at the other end
// (SO_PEERCRED), which the hand-off needs to accept only its own user.
const handoffSupported = true

// peerCred returns the user and process at the other end of c, as the
// kernel recorded them when the connection was made.
func peerCred(c *net.UnixConn) (uid, pid int, err error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, 0, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return -1, 0, err
	}
	if cerr != nil {
		return -1, 0, fmt.Errorf("SO_PEERCRED: %w", cerr)
	}
	return int(cred.Uid), int(cred.Pid), nil
}

// fileOwner returns the user owning the file fi describes.
func fileOwner(fi os.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, false
	}
	return int(st.Uid), true
}
