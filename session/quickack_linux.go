//go:build linux

package session

import (
	"net"
	"syscall"
)

// quickACK wraps a TCP connection so that every read first puts the
// socket in quick-ACK mode (TCP_QUICKACK, tcp(7)).
//
// Why: after the TLS 1.3 handshake the server sends a NewSessionTicket in
// a segment of its own, and then, once it has read our stream header, the
// stream features. With Nagle's algorithm on (servers keep it on) the
// features wait until the ticket's segment is acknowledged, and Linux
// delays that ACK by up to 40 ms because we have nothing to send while we
// wait for the features. Every one-shot send paid those 40 ms: most of its
// wall time on a fast network. In quick-ACK mode the kernel acknowledges
// at once. The mode is not permanent (the kernel leaves it again when it
// sees an interactive exchange), so it is set again before each read;
// that is one setsockopt per read.
func quickACK(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &quickACKConn{TCPConn: tc, rc: rc}
}

type quickACKConn struct {
	*net.TCPConn
	rc syscall.RawConn
}

func (c *quickACKConn) Read(p []byte) (int, error) {
	c.rc.Control(func(fd uintptr) {
		// Best effort: on failure the read goes on with delayed ACKs.
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
	return c.TCPConn.Read(p)
}
