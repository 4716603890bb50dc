//go:build linux

package delayproxy

import (
	"io"
	"net"
	"syscall"
)

// quickACK returns a reader of c that puts the socket in quick-ACK mode
// (TCP_QUICKACK, tcp(7)) before each read, so the proxy acknowledges the
// server's segments at once. Without it a server with Nagle's algorithm
// on would wait for the proxy's delayed ACK (up to 40 ms) before its next
// small segment, a stall of the proxy's making that no client could
// avoid. The mode is not permanent, hence once per read.
func quickACK(c *net.TCPConn) io.Reader {
	rc, err := c.SyscallConn()
	if err != nil {
		return c
	}
	return &quickACKReader{c: c, rc: rc}
}

type quickACKReader struct {
	c  *net.TCPConn
	rc syscall.RawConn
}

func (r *quickACKReader) Read(p []byte) (int, error) {
	r.rc.Control(func(fd uintptr) {
		// Best effort: on failure the read goes on with delayed ACKs.
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
	return r.c.Read(p)
}
