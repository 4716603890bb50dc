package delayproxy

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoServer echoes every connection until its client half-closes, then
// closes. It returns its address.
func echoServer(t *testing.T) string {
	t.Helper()
	return server(t, func(c net.Conn) { io.Copy(c, c) })
}

// server runs handle for every connection on a loopback listener.
func server(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func start(t *testing.T, opts Options) *Proxy {
	t.Helper()
	p, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c.(*net.TCPConn)
}

func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return buf
}

// exchange writes msg and reads its echo, and returns how long that took.
func exchange(t *testing.T, c net.Conn, msg string) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if got := string(readN(t, c, len(msg))); got != msg {
		t.Fatalf("echo %q, want %q", got, msg)
	}
	return time.Since(start)
}

// TestDelay: an echo through the proxy takes one delay each way, and with
// ConnectRTT the first one also pays for the connect.
func TestDelay(t *testing.T) {
	const delay = 25 * time.Millisecond
	// Generous: the machine may be busy, but an echo that took less
	// than 2×delay would show the delay was not applied.
	const slack = 100 * time.Millisecond
	target := echoServer(t)
	t.Run("each way", func(t *testing.T) {
		p := start(t, Options{Target: target, Delay: delay})
		c := dial(t, p)
		for i := range 3 {
			if d := exchange(t, c, "ping"); d < 2*delay || d > 2*delay+slack {
				t.Errorf("echo %d took %v, want %v (+ at most %v)", i, d, 2*delay, slack)
			}
		}
	})
	t.Run("connect RTT", func(t *testing.T) {
		p := start(t, Options{Target: target, Delay: delay, ConnectRTT: true})
		start := time.Now()
		c := dial(t, p)
		exchange(t, c, "first")
		if d := time.Since(start); d < 4*delay || d > 4*delay+slack {
			t.Errorf("connect and first echo took %v, want %v (+ at most %v)", d, 4*delay, slack)
		}
		if d := exchange(t, c, "second"); d < 2*delay || d > 2*delay+slack {
			t.Errorf("second echo took %v, want %v", d, 2*delay)
		}
	})
	t.Run("no delay", func(t *testing.T) {
		p := start(t, Options{Target: target})
		c := dial(t, p)
		if d := exchange(t, c, "ping"); d > slack {
			t.Errorf("echo without delay took %v", d)
		}
	})
}

// TestOrder: megabytes written in pieces of random size, while the echo
// is read concurrently, come back byte for byte in order, through a queue
// far smaller than the data.
func TestOrder(t *testing.T) {
	p := start(t, Options{Target: echoServer(t), Delay: 2 * time.Millisecond})
	c := dial(t, p)
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	go func() {
		rest := data
		for len(rest) > 0 {
			n := min(len(rest), 1+rand.IntN(70000))
			if _, err := c.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
		c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		i := 0
		for i < min(len(got), len(data)) && got[i] == data[i] {
			i++
		}
		t.Fatalf("echo differs from byte %d (got %d bytes, sent %d)", i, len(got), len(data))
	}
	p.WaitIdle(5 * time.Second)
	if s := p.Stats(); len(s) != 1 || s[0].Up != int64(len(data)) || s[0].Down != int64(len(data)) {
		t.Errorf("stats %+v, want one connection with %d bytes each way", s, len(data))
	}
}

// TestRoundTrips: scripted exchanges, each with the count the package
// comment defines.
func TestRoundTrips(t *testing.T) {
	echo := echoServer(t)
	greeter := server(t, func(c net.Conn) {
		c.Write([]byte("hello"))
		io.Copy(c, c)
	})
	closer := server(t, func(c net.Conn) {
		c.Write([]byte("bye"))
	})
	// Answers "A" to the first byte, and 2 ms later sends "B" on its own.
	twice := server(t, func(c net.Conn) {
		io.ReadFull(c, make([]byte, 1))
		c.Write([]byte("A"))
		time.Sleep(2 * time.Millisecond)
		c.Write([]byte("B"))
		io.Copy(io.Discard, c)
	})
	tests := []struct {
		name   string
		target string
		script func(t *testing.T, c *net.TCPConn)
		want   int
	}{
		{"connect and close", echo, func(t *testing.T, c *net.TCPConn) {}, 1},
		{"one request", echo, func(t *testing.T, c *net.TCPConn) {
			exchange(t, c, "a")
		}, 2},
		{"two requests in turn", echo, func(t *testing.T, c *net.TCPConn) {
			exchange(t, c, "a")
			exchange(t, c, "b")
		}, 3},
		{"ten requests in turn", echo, func(t *testing.T, c *net.TCPConn) {
			for range 10 {
				exchange(t, c, "request")
			}
		}, 11},
		{"pipelined", echo, func(t *testing.T, c *net.TCPConn) {
			c.Write([]byte("a"))
			c.Write([]byte("bb"))
			c.Write([]byte("ccc"))
			readN(t, c, 6)
		}, 2},
		{"answer in pieces", echo, func(t *testing.T, c *net.TCPConn) {
			// The answer arrives in several reads; one turn.
			exchange(t, c, string(make([]byte, 200<<10)))
		}, 2},
		{"long request after an answer", echo, func(t *testing.T, c *net.TCPConn) {
			// The second request reaches the proxy in several
			// reads; one turn.
			exchange(t, c, "a")
			exchange(t, c, string(make([]byte, 200<<10)))
		}, 3},
		{"server speaks first", greeter, func(t *testing.T, c *net.TCPConn) {
			readN(t, c, 5)
			exchange(t, c, "x")
		}, 3},
		{"half-close and wait for the server's close", echo, func(t *testing.T, c *net.TCPConn) {
			exchange(t, c, "last")
			c.CloseWrite()
			if b, err := io.ReadAll(c); err != nil || len(b) > 0 {
				t.Fatalf("after half-close: %q, %v", b, err)
			}
		}, 2},
		{"reset after the answer", echo, func(t *testing.T, c *net.TCPConn) {
			// A client that exits with unread data resets the
			// connection; that end is its turn as a FIN would be.
			exchange(t, c, "a")
			c.SetLinger(0)
		}, 2},
		{"reset while the answer is on its way", echo, func(t *testing.T, c *net.TCPConn) {
			// The client did not wait: the answer's failed
			// delivery is no round trip.
			c.Write([]byte("a"))
			time.Sleep(5 * time.Millisecond)
			c.SetLinger(0)
		}, 1},
		{"exit with the server's close unread", closer, func(t *testing.T, c *net.TCPConn) {
			readN(t, c, 3)
			c.SetLinger(0)
		}, 2},
		{"bytes already on their way are no answer", twice, func(t *testing.T, c *net.TCPConn) {
			// y reacts to A: a round trip. B left the server
			// before y reached it, so closing after B is not a
			// wait for y's answer.
			c.Write([]byte("x"))
			readN(t, c, 1)
			c.Write([]byte("y"))
			readN(t, c, 1)
		}, 2},
		{"server closes first", closer, func(t *testing.T, c *net.TCPConn) {
			if b, err := io.ReadAll(c); err != nil || string(b) != "bye" {
				t.Fatalf("read %q, %v", b, err)
			}
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := start(t, Options{Target: tt.target, Delay: 10 * time.Millisecond})
			c := dial(t, p)
			tt.script(t, c)
			c.Close()
			// The kernel completes the connect before the proxy
			// accepts: a client that closes at once can be gone before
			// the proxy has counted its connection, and WaitIdle would
			// then see nothing open.
			for deadline := time.Now().Add(5 * time.Second); len(p.Stats()) == 0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			if !p.WaitIdle(5 * time.Second) {
				t.Fatal("the connection did not end")
			}
			s := p.Stats()
			if len(s) != 1 {
				t.Fatalf("%d connections, want 1", len(s))
			}
			if s[0].RoundTrips != tt.want {
				t.Errorf("round trips %d, want %d", s[0].RoundTrips, tt.want)
			}
			if s[0].End.IsZero() || s[0].End.Before(s[0].Start) {
				t.Errorf("start %v, end %v", s[0].Start, s[0].End)
			}
		})
	}
	t.Run("per connection", func(t *testing.T) {
		t.Parallel()
		p := start(t, Options{Target: echo, Delay: time.Millisecond})
		for n := range 3 {
			c := dial(t, p)
			for range n {
				exchange(t, c, "x")
			}
			c.Close()
			p.WaitIdle(5 * time.Second)
		}
		var got []int
		for _, s := range p.Stats() {
			got = append(got, s.RoundTrips)
		}
		if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
			t.Errorf("round trips per connection %v, want [1 2 3]", got)
		}
	})
}

// TestClose: a half-close reaches the server after the delay and the
// server's close comes back; a reset of the server reaches the client.
func TestClose(t *testing.T) {
	const delay = 20 * time.Millisecond
	t.Run("half-close both ways", func(t *testing.T) {
		p := start(t, Options{Target: echoServer(t), Delay: delay})
		c := dial(t, p)
		c.Write([]byte("tail"))
		start := time.Now()
		c.CloseWrite()
		b, err := io.ReadAll(c)
		if err != nil || string(b) != "tail" {
			t.Fatalf("read %q, %v", b, err)
		}
		if d := time.Since(start); d < 2*delay {
			t.Errorf("the server's close came back after %v, want at least %v", d, 2*delay)
		}
	})
	t.Run("server reset", func(t *testing.T) {
		target := server(t, func(c net.Conn) {
			c.(*net.TCPConn).SetLinger(0)
			io.ReadFull(c, make([]byte, 1))
		})
		p := start(t, Options{Target: target, Delay: delay})
		c := dial(t, p)
		c.Write([]byte("x"))
		_, err := io.ReadAll(c)
		if err == nil {
			t.Fatal("the server's reset reached the client as a clean end of stream")
		}
		if !p.WaitIdle(5 * time.Second) {
			t.Fatal("the connection did not end")
		}
	})
	t.Run("unreachable target", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		p := start(t, Options{Target: addr, Delay: delay})
		c := dial(t, p)
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("read from a connection to nowhere succeeded")
		}
	})
}

// TestBounded: a server that never reads pushes back on the client
// instead of the proxy buffering what the client writes.
func TestBounded(t *testing.T) {
	stop := make(chan struct{})
	target := server(t, func(c net.Conn) { <-stop })
	defer close(stop)
	p := start(t, Options{Target: target, Delay: time.Millisecond})
	c := dial(t, p)
	c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1<<20)
	var written int
	for written < 256<<20 {
		n, err := c.Write(buf)
		written += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// The kernel's socket buffers on both legs (a few MiB each on
	// loopback) and the proxy's queue (2 MiB) take some.
	if written > 64<<20 {
		t.Errorf("the client wrote %d MiB to a server that reads nothing", written>>20)
	}
}

// TestShutdown: Close ends open connections at once, returns when every
// goroutine has, and the address refuses new connections.
func TestShutdown(t *testing.T) {
	p, err := Start(Options{Target: echoServer(t), Delay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var cs []*net.TCPConn
	for range 3 {
		c := dial(t, p)
		exchange(t, c, "x")
		c.Write([]byte("in flight"))
		cs = append(cs, c)
	}
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	for i, c := range cs {
		if _, err := io.ReadAll(c); err == nil {
			// "in flight" may come back or not; the stream must
			// end with an error (a reset), not hang.
			t.Logf("connection %d ended cleanly", i)
		}
	}
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Error("the proxy still accepts connections after Close")
	}
	if !p.WaitIdle(time.Second) {
		t.Error("connections open after Close")
	}
	for _, s := range p.Stats() {
		if s.End.IsZero() {
			t.Error("a connection has no end time after Close")
		}
	}
}

// TestTrace: the trace names each event at the client's socket and the
// round trip each send started.
func TestTrace(t *testing.T) {
	var mu sync.Mutex
	var b bytes.Buffer
	p := start(t, Options{Target: echoServer(t), Delay: time.Millisecond, Trace: writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return b.Write(p)
	})})
	c := dial(t, p)
	exchange(t, c, "abc")
	c.Close()
	p.WaitIdle(5 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	want := []string{"connect [round trip 1]", "client sent 3 bytes", "delivered to the client 3 bytes", "client sent end of stream [round trip 2]"}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) < len(want) {
		t.Fatalf("trace:\n%s", b.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], "delayproxy: conn 1 +") || !strings.HasSuffix(lines[i], " "+w) {
			t.Errorf("trace line %d: %q, want conn 1 and %q", i, lines[i], w)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestClientEventRule: the counting rule itself, including the cases a
// socket test cannot force (which of the reader and the writer notices
// the client's end first).
func TestClientEventRule(t *testing.T) {
	type step struct {
		delivered string // "": none; "began": a delivery began; "ok": and reached the client
		n         int
		end       bool
		byWriter  bool
	}
	tests := []struct {
		name  string
		steps []step
		want  int
	}{
		{"send without an answer", []step{{n: 10}, {n: 5}}, 1},
		{"send after a delivery began", []step{{n: 10}, {delivered: "began", n: 5}}, 2},
		{"end seen by the reader after a delivery", []step{{n: 10}, {delivered: "ok", end: true}}, 2},
		{"end seen by a failed write, nothing delivered before", []step{{n: 10}, {delivered: "began", end: true, byWriter: true}}, 1},
		{"end seen by a failed write after a delivery", []step{{n: 10}, {delivered: "ok", end: true, byWriter: true}}, 2},
		{"the end counts once", []step{{n: 10}, {delivered: "ok", end: true}, {delivered: "ok", end: true, byWriter: true}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Proxy{}
			c := &conn{p: p, stats: Stats{RoundTrips: 1, Start: time.Now()}}
			for _, s := range tt.steps {
				switch s.delivered {
				case "began":
					c.sawServer = true
				case "ok":
					c.sawServer, c.okServer = true, true
				}
				c.clientEvent(time.Now(), s.n, s.end, s.byWriter)
			}
			if c.stats.RoundTrips != tt.want {
				t.Errorf("round trips %d, want %d", c.stats.RoundTrips, tt.want)
			}
		})
	}
}
