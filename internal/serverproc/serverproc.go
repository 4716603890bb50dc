// Package serverproc runs the process of a throwaway test server
// (internal/prosody, internal/ejabberd): in a process group of its own that
// dies with the test binary, stopped with SIGTERM and then SIGKILL, with
// the helpers both servers need around it (free loopback ports, a log's
// tail, a probe that the c2s port speaks XMPP).
package serverproc

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Proc is a started server process.
type Proc struct {
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error // valid after done is closed
}

// Start starts cmd in its own process group, killed if the test binary
// dies (Linux), and waits for it in the background.
func Start(cmd *exec.Cmd) (*Proc, error) {
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is how the process ended; valid once Done is closed.
func (p *Proc) Err() error { return p.waitErr }

// Pid is the process id (and its process group's).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Terminate sends SIGTERM to the process group, as a service manager
// does, and SIGKILL after grace. It is an error if the process had
// already exited or had to be killed.
func (p *Proc) Terminate(grace time.Duration) error {
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return fmt.Errorf("it had already exited: %v", p.waitErr)
	default:
	}
	signalTerm(p.cmd.Process)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	signalKill(p.cmd.Process)
	<-p.done
	return errors.New("it did not exit after SIGTERM; killed")
}

// Kill stops the process group at once and waits for the process.
func (p *Proc) Kill() {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	signalKill(p.cmd.Process)
	<-p.done
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FileTail returns the last n lines of the file at path, or a line saying
// why there are none.
func FileTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)\n", err)
	}
	return TailLines(string(data), n)
}

// TailLines returns the last n lines of text.
func TailLines(text string, n int) string {
	if n <= 0 {
		return ""
	}
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// ProbeStream opens an XMPP client stream to addr and reads until the
// server offers STARTTLS.
func ProbeStream(addr, domain string) error {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	header := "<?xml version='1.0'?><stream:stream to='" + domain +
		"' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
	if _, err := conn.Write([]byte(header)); err != nil {
		return err
	}
	var buf bytes.Buffer
	chunk := make([]byte, 4096)
	for {
		n, err := conn.Read(chunk)
		buf.Write(chunk[:n])
		if bytes.Contains(buf.Bytes(), []byte("starttls")) {
			conn.Write([]byte("</stream:stream>"))
			return nil
		}
		if err != nil {
			return fmt.Errorf("stream probe: %w (got %q)", err, buf.String())
		}
		if buf.Len() > 1<<16 {
			return fmt.Errorf("stream probe: no starttls in %q", buf.String())
		}
	}
}
