// Package delayproxy is a loopback TCP proxy that delays each direction of
// every connection by a fixed time, to measure how a client fares over a
// slow network when netem is not available, and counts the round trips
// each connection cost its client.
//
// # Delay
//
// A Proxy listens on 127.0.0.1:0 and, for each accepted connection, dials
// its target. Each direction has a timed queue: a reader goroutine reads
// what one side wrote, stamps it with the time it was read and queues it;
// a writer goroutine writes each chunk to the other side once Delay has
// passed since its stamp. The delay is constant and the queue is FIFO, so
// bytes are never reordered and stream semantics are kept. An end of
// stream (FIN) travels the same queue and is passed on with CloseWrite
// after the same delay; a reset or any other error ends the connection on
// both sides. The queue is bounded (queueChunks chunks of at most
// chunkSize bytes per direction): when it is full the reader stops reading
// and TCP's flow control pushes back on the sender, so memory stays
// bounded however fast a side writes.
//
// The TCP handshake with the proxy happens on loopback, in the kernel,
// before accept, so it cannot be delayed. With Options.ConnectRTT the
// proxy makes up for it: the client's first bytes are treated as sent no
// earlier than one round trip (2×Delay) after the accept, which is when a
// client on a real link of that delay would have finished connect(). For
// a client that writes as soon as it is connected (XMPP clients speak
// first) its wall time is then what it would be on such a link.
//
// # Round trips
//
// A round trip is a time the client had to wait for the server. The proxy
// sees both directions of the client's socket in one order, and counts,
// per connection:
//
//   - 1 for the TCP connect (the client cannot send before it completes);
//   - 1 each time the client sends again (bytes, or its FIN or a reset)
//     after the proxy delivered server bytes (or the server's FIN) to it
//     since the client last sent.
//
// So a client that writes A, waits for the answer, writes B, waits for
// the answer and closes costs 3: connect, A's answer, B's answer (the
// close is the client acting on B's answer). A client that pipelines A
// and B and then waits costs 2. The count is the same for any client,
// since it only looks at when bytes cross the proxy.
//
// Limits: (1) the count is of turns, not of causes: a client that sends
// something unrelated right after server bytes arrived, or that streams
// while the server answers (a bulk send), is counted once per such turn,
// so the count is meant for request/response exchanges such as a login
// and one message. (2) "after" is the proxy's order of events: bytes the
// client wrote in the same few microseconds as a delivery may be read
// after it and counted, which takes a client that writes unprompted at
// that instant. (3) Waits the server did not cause (the client's own CPU
// time) are not counted. (4) The proxy terminates TCP: on its side the
// kernel acknowledges the server's segments at once (TCP_QUICKACK on
// Linux), so a server's Nagle stall, which on a real link costs a further
// round trip, is not reproduced; only the protocol's own round trips are.
package delayproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

const (
	chunkSize   = 32 << 10 // largest chunk read at once
	queueChunks = 64       // chunks queued per direction: at most 2 MiB
)

// Options configures Start.
type Options struct {
	// Target is the host:port each connection is forwarded to.
	Target string
	// Delay is added to each direction (one way): an exchange of a
	// request and its answer takes 2×Delay more than without the proxy.
	Delay time.Duration
	// ConnectRTT also charges the TCP handshake one round trip: the
	// client's first bytes leave the proxy no earlier than 3×Delay after
	// the accept, as if connect() had taken 2×Delay.
	ConnectRTT bool
}

// Proxy is a running delay proxy. Its methods are safe for concurrent use.
type Proxy struct {
	opts Options
	ln   net.Listener
	wg   sync.WaitGroup // the accept loop and every connection

	mu     sync.Mutex
	conns  []*conn
	open   int
	idle   *sync.Cond // broadcast when open drops
	closed bool
}

// Stats describes one proxied connection.
type Stats struct {
	// RoundTrips is the number of times the client waited for the
	// server, as the package comment defines it (the connect counts 1).
	RoundTrips int
	// Up and Down are the bytes the client sent and the server sent.
	Up, Down int64
	// Start is when the proxy accepted the connection; End when both of
	// its sockets were closed (zero while it is open).
	Start, End time.Time
}

// Start listens on 127.0.0.1:0 and forwards every connection to
// opts.Target with opts.Delay each way.
func Start(opts Options) (*Proxy, error) {
	if opts.Target == "" {
		return nil, errors.New("delayproxy: no target")
	}
	if opts.Delay < 0 {
		return nil, errors.New("delayproxy: negative delay")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{opts: opts, ln: ln}
	p.idle = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's "127.0.0.1:PORT", where clients connect.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stats returns every connection accepted so far, in accept order.
func (p *Proxy) Stats() []Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Stats, len(p.conns))
	for i, c := range p.conns {
		out[i] = c.stats
	}
	return out
}

// WaitIdle waits until no connection is open, or timeout has passed; it
// reports whether the proxy is idle. Call it after a client exited and
// before Stats, so the last connection's count is complete.
func (p *Proxy) WaitIdle(timeout time.Duration) bool {
	t := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		p.idle.Broadcast()
		p.mu.Unlock()
	})
	defer t.Stop()
	deadline := time.Now().Add(timeout)
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.open > 0 && time.Now().Before(deadline) {
		p.idle.Wait()
	}
	return p.open == 0
}

// Close stops listening, ends every open connection at once and waits
// for all the proxy's goroutines to return.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.mu.Unlock()
	err := p.ln.Close()
	for _, c := range conns {
		c.abort()
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		c := &conn{p: p, client: client.(*net.TCPConn), stop: make(chan struct{}), stats: Stats{RoundTrips: 1, Start: time.Now()}}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			client.Close()
			return
		}
		p.conns = append(p.conns, c)
		p.open++
		p.mu.Unlock()
		p.wg.Add(1)
		go c.run()
	}
}

// conn is one proxied connection.
type conn struct {
	p              *Proxy
	client, server *net.TCPConn
	stop           chan struct{} // closed by abort

	abortOnce sync.Once

	// Guarded by p.mu.
	stats      Stats
	sawServer  bool // server data reached the client since it last sent
	clientSent bool // the client has sent its first bytes
}

// chunk is what a reader queues: data, or the end of the stream (eof),
// or an error that ends the connection (err).
type chunk struct {
	at   time.Time
	data []byte
	eof  bool
	err  error
}

func (c *conn) run() {
	defer c.p.wg.Done()
	defer func() {
		c.client.Close()
		if c.server != nil {
			c.server.Close()
		}
		c.p.mu.Lock()
		c.stats.End = time.Now()
		c.p.open--
		c.p.idle.Broadcast()
		c.p.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	d := net.Dialer{Timeout: 10 * time.Second}
	s, err := d.DialContext(ctx, "tcp", c.p.opts.Target)
	if err != nil {
		return
	}
	c.server = s.(*net.TCPConn)
	up := make(chan chunk, queueChunks)
	down := make(chan chunk, queueChunks)
	done := make(chan struct{})
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-c.stop:
			// A reset on one side, or Close: reset both.
			c.client.SetLinger(0)
			c.server.SetLinger(0)
			c.client.Close()
			c.server.Close()
		case <-done:
		}
	}()
	var pumps sync.WaitGroup
	pumps.Add(4)
	go func() { defer pumps.Done(); c.read(c.client, up, true) }()
	go func() { defer pumps.Done(); c.write(c.server, up, false) }()
	go func() { defer pumps.Done(); c.read(quickACK(c.server), down, false) }()
	go func() { defer pumps.Done(); c.write(c.client, down, true) }()
	pumps.Wait()
	close(done)
	<-watcher
}

// abort ends the connection now: both sockets are reset, so every reader
// and writer returns.
func (c *conn) abort() {
	c.abortOnce.Do(func() { close(c.stop) })
}

// aborted reports whether abort was called.
func (c *conn) aborted() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// read queues what src sends until its end of stream or an error, then
// closes q. fromClient: src is the client, whose sends the round-trip
// count watches.
func (c *conn) read(src io.Reader, q chan<- chunk, fromClient bool) {
	defer close(q)
	buf := make([]byte, chunkSize)
	for {
		n, err := src.Read(buf)
		now := time.Now()
		if n > 0 || err != nil {
			if fromClient {
				now = c.clientEvent(now, n)
			} else {
				c.p.mu.Lock()
				c.stats.Down += int64(n)
				c.p.mu.Unlock()
			}
		}
		if n > 0 {
			q <- chunk{at: now, data: append([]byte(nil), buf[:n]...)}
		}
		if err == io.EOF {
			q <- chunk{at: now, eof: true}
			return
		}
		if err != nil {
			q <- chunk{at: now, err: err}
			return
		}
	}
}

// clientEvent counts a send of the client (n bytes, or its end of stream
// or an error when n is 0) and returns the time to stamp it with.
func (c *conn) clientEvent(now time.Time, n int) time.Time {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if c.sawServer && !c.aborted() {
		c.stats.RoundTrips++
		c.sawServer = false
	}
	c.stats.Up += int64(n)
	if !c.clientSent {
		c.clientSent = true
		if c.p.opts.ConnectRTT {
			if ready := c.stats.Start.Add(2 * c.p.opts.Delay); now.Before(ready) {
				now = ready
			}
		}
	}
	return now
}

// write passes on what q holds, each chunk Delay after its stamp.
// toClient: dst is the client, and each delivery is a server turn for
// the round-trip count.
func (c *conn) write(dst *net.TCPConn, q <-chan chunk, toClient bool) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	failed := false
	for ch := range q {
		if failed {
			continue // drain, so the reader never blocks
		}
		if wait := time.Until(ch.at.Add(c.p.opts.Delay)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-c.stop:
				failed = true
				continue
			}
		}
		if toClient && ch.err == nil {
			// Before the write: the client cannot answer bytes it
			// has not got, and must not answer them before we note
			// that it got them.
			c.p.mu.Lock()
			c.sawServer = true
			c.p.mu.Unlock()
		}
		switch {
		case ch.err != nil:
			c.abort()
			failed = true
		case ch.eof:
			if dst.CloseWrite() != nil {
				c.abort()
				failed = true
			}
		default:
			if _, err := dst.Write(ch.data); err != nil {
				c.abort()
				failed = true
			}
		}
	}
}
