// Package netns keeps a test binary off the real network: Run re-executes
// it in a new network namespace of its own, where the only interface is
// loopback. Servers the tests start there (ejabberd, whose Erlang runtime
// would otherwise be free to listen on every interface) cannot be reached
// from outside, and cannot reach out.
//
// The namespace has no name and no file: the kernel deletes it when its
// last process exits, so neither a failed test nor a killed test binary
// leaves one behind (ip netns list shows none). The child dies with its
// parent (PR_SET_PDEATHSIG), and whatever the child started in its own
// process groups dies with it the same way.
//
// It needs CAP_SYS_ADMIN (root, as CI runs), or unprivileged user
// namespaces, in which the child runs as root of its own user namespace.
package netns

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"testing"
)

// envChild marks the re-executed child; its value is the parent's pid.
const envChild = "JAB_NETNS_CHILD"

// Inside reports whether this process is the child Run started.
func Inside() bool { return os.Getenv(envChild) != "" }

// Run re-executes the running binary, with the same arguments, in a new
// network namespace whose loopback interface is up, and returns its exit
// status; done is true then, and the caller exits with code. In the child
// (Inside) it brings the loopback interface up and returns done false, and
// the caller goes on. The standard streams are the child's; SIGINT and
// SIGTERM are passed on.
func Run() (code int, done bool, err error) {
	if Inside() {
		return 0, false, loopbackUp()
	}
	code, err = reexec()
	return code, true, err
}

// LoopbackOnly returns an error unless every network interface this
// process sees is a loopback interface that is up: the check a server
// that must stay off the network makes before it starts.
func LoopbackOnly() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("list network interfaces: %w", err)
	}
	up := false
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			return fmt.Errorf("network interface %s is not loopback: not inside a private network namespace (netns.Run)", i.Name)
		}
		up = up || i.Flags&net.FlagUp != 0
	}
	if !up {
		return errors.New("the loopback interface is down")
	}
	return nil
}

// Main is a TestMain for tests that start servers which must stay off the
// network: it runs m in a new network namespace (Run), or in this one
// with -short, where such tests skip.
func Main(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		code, done, err := Run()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if done {
			os.Exit(code)
		}
	}
	os.Exit(m.Run())
}
