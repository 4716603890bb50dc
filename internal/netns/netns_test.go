package netns_test

import (
	"net"
	"os"
	"testing"

	"github.com/jab-xmpp/jab/internal/netns"
)

func TestMain(m *testing.M) { netns.Main(m) }

// TestIsolated: the tests run in a namespace of their own, where only
// loopback exists and is up, and loopback works.
func TestIsolated(t *testing.T) {
	if testing.Short() {
		t.Skip("not re-executed with -short")
	}
	if !netns.Inside() {
		t.Fatal("not re-executed")
	}
	if err := netns.LoopbackOnly(); err != nil {
		t.Fatal(err)
	}
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if init, err := os.Readlink("/proc/1/ns/net"); err == nil && init == self {
		t.Fatalf("same network namespace as pid 1: %s", self)
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen %s: %v", addr, err)
		}
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatalf("dial %s: %v", l.Addr(), err)
		}
		c.Close()
		l.Close()
	}
}
