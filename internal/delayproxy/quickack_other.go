//go:build !linux

package delayproxy

import (
	"io"
	"net"
)

// quickACK is Linux only (TCP_QUICKACK); elsewhere the proxy reads the
// server with the system's ACK policy.
func quickACK(c *net.TCPConn) io.Reader { return c }
