//go:build linux

package session

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// TestQuickACK: a read through quickACK leaves the socket in quick-ACK
// mode (tcp(7) TCP_QUICKACK), which a plain TCP socket is not in.
func TestQuickACK(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			time.Sleep(time.Second)
			c.Close()
		}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	mode := func() int {
		rc, err := raw.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		v := -1
		rc.Control(func(fd uintptr) {
			v, err = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK)
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// A fresh connection is in quick-ACK mode until the kernel sees the
	// exchange is interactive; a read with nothing to read does not
	// change it, so clear it first to see that quickACK sets it.
	rc, _ := raw.(*net.TCPConn).SyscallConn()
	rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 0) })
	if mode() != 0 {
		t.Skip("cannot clear TCP_QUICKACK here")
	}
	c := quickACK(raw)
	if c == raw {
		t.Fatal("quickACK did not wrap a TCP connection")
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	c.Read(make([]byte, 1))
	if got := mode(); got != 1 {
		t.Fatalf("after a read through quickACK TCP_QUICKACK is %d, want 1", got)
	}
}
