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
// A round trip is a time the client had to wait for the server: it sent
// something, and sent again (or ended the connection) only after an
// answer to it came back. The proxy sees both directions and knows when
// it passed each chunk on, so it can tell an answer from bytes that were
// already on their way. Per connection it counts turns:
//
//   - the TCP connect opens turn 1 (the client cannot send before it
//     completes), and the client's first bytes belong to it;
//   - a server chunk answers the current turn if the proxy read it from
//     the server after it had passed on (to the server) the turn's first
//     bytes: only then can the server have seen them;
//   - when the client sends again (bytes, or its end: a FIN, or a reset,
//     noticed when reading from it or when a write to it fails) after
//     such an answer was delivered to it, a new turn begins, and that is
//     one more round trip.
//
// So a client that writes A, waits for the answer, writes B, waits for
// the answer and closes costs 3: connect, A's answer, B's answer (the
// close is the client acting on B's answer). A client that pipelines A
// and B and then waits costs 2. A client that exits as soon as it has
// what it waited for ends the connection then, and that end is its turn,
// FIN or reset alike; server bytes still on their way at that moment
// (say, the TLS close_notify behind a closing stream tag) are no answer
// to it and start no further round trip. A failed write to the client
// shows its end, but only an answer that reached it can have prompted
// it. The proxy's own closing (after a server reset, or Close) is not
// the client's turn. The count is the same for any client, since it only
// looks at when bytes cross the proxy.
//
// Limits: (1) the count is of turns, not of causes: a client that sends
// something unrelated right after an answer arrived, or that streams
// while the server answers (a bulk send), is counted once per such turn,
// so the count is meant for request/response exchanges such as a login
// and one message; so are server bytes sent unprompted (a server ping)
// once the current turn reached the server. (2) The order of events is
// the proxy's: bytes a client wrote in the same few microseconds as a
// delivery may be read after it. (3) Waits the server did not cause (the
// client's own CPU time) are not counted. (4) The proxy terminates TCP:
// on its side the kernel acknowledges the server's segments at once
// (TCP_QUICKACK on Linux), so a server's Nagle stall, which on a real
// link costs a further round trip, is not reproduced; only the
// protocol's own round trips are.
package delayproxy

import (
	"context"
	"errors"
	"fmt"
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
	// Trace, if set, gets one line per event at the client's socket:
	// what the client sent (with the round trip it started, if any) and
	// what the proxy delivered to it, with the time since the accept.
	Trace io.Writer
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
		c.id = len(p.conns) + 1
		c.trace(c.stats.Start, "connect [round trip 1]")
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
	id        int // 1 for the first connection

	// Guarded by p.mu. The current turn is stats.RoundTrips.
	stats       Stats
	forwarded   int  // the latest turn whose bytes were passed on to the server
	sawServer   bool // delivery of an answer to the current turn began
	okServer    bool // and one such delivery reached the client
	clientSent  bool // the client has sent its first bytes
	clientEnded bool // its end (FIN or reset) has been counted
}

// chunk is what a reader queues: data, or the end of the stream (eof),
// or an error that ends the connection (err). turn is, for the client's
// chunks, the turn they belong to; for the server's, the latest turn the
// server had been passed when the proxy read them.
type chunk struct {
	at   time.Time
	data []byte
	eof  bool
	err  error
	turn int
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
	c.p.mu.Lock()
	c.forwarded = 1 // the server has the connection
	c.p.mu.Unlock()
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

// read queues what src sends until its end of stream or an error, then
// closes q. fromClient: src is the client, whose sends the round-trip
// count watches.
func (c *conn) read(src io.Reader, q chan<- chunk, fromClient bool) {
	defer close(q)
	buf := make([]byte, chunkSize)
	for {
		n, err := src.Read(buf)
		now := time.Now()
		var turn int
		if fromClient {
			if n > 0 {
				now, turn = c.clientEvent(now, n, false, false)
			}
			// net.ErrClosed: our own close, not the client's doing.
			if err != nil && !errors.Is(err, net.ErrClosed) {
				now, turn = c.clientEvent(now, 0, true, false)
			}
		} else {
			c.p.mu.Lock()
			c.stats.Down += int64(n)
			turn = c.forwarded
			c.p.mu.Unlock()
		}
		if n > 0 {
			q <- chunk{at: now, data: append([]byte(nil), buf[:n]...), turn: turn}
		}
		if err == io.EOF {
			q <- chunk{at: now, eof: true, turn: turn}
			return
		}
		if err != nil {
			q <- chunk{at: now, err: err, turn: turn}
			return
		}
	}
}

// clientEvent counts a send of the client: n bytes, or its end (end: its
// FIN or a reset, seen by the reader or, byWriter, by a failed write to
// it). It returns the time to stamp the chunk with and its turn. The end
// counts once.
func (c *conn) clientEvent(now time.Time, n int, end, byWriter bool) (time.Time, int) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if end {
		if c.clientEnded {
			return now, c.stats.RoundTrips
		}
		c.clientEnded = true
	}
	// A failed write shows the client gone, but the bytes it carried
	// never reached the client: only an earlier answer can have
	// prompted its end.
	turn := ""
	if c.sawServer && (!byWriter || c.okServer) {
		c.stats.RoundTrips++
		turn = fmt.Sprintf(" [round trip %d]", c.stats.RoundTrips)
	}
	c.sawServer, c.okServer = false, false
	ev := what(n)
	if byWriter {
		ev = "end of stream (a write to it failed)"
	}
	c.trace(now, "client sent %s%s", ev, turn)
	c.stats.Up += int64(n)
	if !c.clientSent {
		c.clientSent = true
		if c.p.opts.ConnectRTT {
			if ready := c.stats.Start.Add(2 * c.p.opts.Delay); now.Before(ready) {
				now = ready
			}
		}
	}
	return now, c.stats.RoundTrips
}

// what names a client event of n bytes: its size, or the end of the
// stream when n is 0.
func what(n int) string {
	if n == 0 {
		return "end of stream"
	}
	return fmt.Sprintf("%d bytes", n)
}

// trace writes one line to Options.Trace; c.p.mu is held.
func (c *conn) trace(at time.Time, format string, args ...any) {
	if c.p.opts.Trace == nil {
		return
	}
	fmt.Fprintf(c.p.opts.Trace, "delayproxy: conn %d +%.1fms %s\n", c.id,
		float64(at.Sub(c.stats.Start).Microseconds())/1000, fmt.Sprintf(format, args...))
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
		answer := false
		c.p.mu.Lock()
		if toClient && ch.err == nil {
			// Before the write: the client cannot answer bytes it
			// has not got, and must not answer them before we note
			// that it got them.
			answer = ch.turn >= c.stats.RoundTrips
			c.sawServer = c.sawServer || answer
			note := ""
			if !answer {
				note = " (on its way before the current turn reached the server)"
			}
			c.trace(time.Now(), "delivered to the client %s%s", what(len(ch.data)), note)
		}
		if !toClient && ch.turn > c.forwarded {
			// Before the write too: the server may answer at once.
			c.forwarded = ch.turn
		}
		c.p.mu.Unlock()
		var err error
		switch {
		case ch.err != nil:
			c.abort()
			failed = true
			continue
		case ch.eof:
			err = dst.CloseWrite()
		default:
			_, err = dst.Write(ch.data)
		}
		if err != nil {
			if toClient && !errors.Is(err, net.ErrClosed) {
				c.clientEvent(time.Now(), 0, true, true)
			}
			c.abort()
			failed = true
		} else if answer {
			c.p.mu.Lock()
			c.okServer = true
			c.p.mu.Unlock()
		}
	}
}
