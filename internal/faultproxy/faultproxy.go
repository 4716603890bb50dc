// Package faultproxy is a loopback TCP proxy of the test tooling that
// breaks its connections on command, the way a network does, without
// netem or iptables.
//
// BlackHole makes every connection open at that moment a black hole for a
// while: the proxy goes on reading from both sides, so neither sees a FIN,
// a reset or even back pressure, but it drops what it reads instead of
// passing it on, as a NAT that has forgotten the mapping drops packets.
// Then it cuts those connections: both sides are closed with a reset
// (SO_LINGER 0), as when the dead path finally gives up. Connections
// accepted after BlackHole is called are not affected, so a client that
// reconnects gets through.
//
// Traffic stays on 127.0.0.1: the proxy listens on 127.0.0.1:0 and dials
// its target, which is a loopback address too.
package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards each accepted connection to its target.
type Proxy struct {
	target string
	ln     net.Listener

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup

	accepted atomic.Int64
}

type conn struct {
	client, server *net.TCPConn
	holed          atomic.Bool // bytes read are dropped
	dropped        atomic.Int64
}

// Start listens on 127.0.0.1:0 and proxies to target (host:port).
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, ln: ln, conns: map[*conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted counts the connections accepted so far.
func (p *Proxy) Accepted() int { return int(p.accepted.Load()) }

// Open counts the connections currently proxied.
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// BlackHole silently drops, in both directions, everything on the
// connections open now for d, then resets them. It returns at once; the
// returned channel is closed once they are cut. It returns how many
// connections it black-holed.
func (p *Proxy) BlackHole(d time.Duration) (n int, cut <-chan struct{}) {
	p.mu.Lock()
	victims := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		c.holed.Store(true)
		victims = append(victims, c)
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(d)
		for _, c := range victims {
			c.reset()
		}
	}()
	return len(victims), done
}

// Close stops accepting and resets every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.reset()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		cc, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		sc, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			cc.(*net.TCPConn).SetLinger(0)
			cc.Close()
			continue
		}
		c := &conn{client: cc.(*net.TCPConn), server: sc.(*net.TCPConn)}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.reset()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		var ends sync.WaitGroup
		ends.Add(2)
		go func() {
			defer p.wg.Done()
			defer ends.Done()
			c.pipe(c.server, c.client)
		}()
		go func() {
			defer p.wg.Done()
			defer ends.Done()
			c.pipe(c.client, c.server)
		}()
		go func() {
			ends.Wait()
			p.mu.Lock()
			delete(p.conns, c)
			p.mu.Unlock()
		}()
	}
}

// pipe copies src to dst until src ends; while the connection is a black
// hole it reads and drops. An end of stream is passed on as a FIN (not
// while black-holed: a dead path carries no FIN either); any error resets
// both sides.
func (c *conn) pipe(dst, src *net.TCPConn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if c.holed.Load() {
				c.dropped.Add(int64(n))
			} else if _, werr := dst.Write(buf[:n]); werr != nil {
				c.reset()
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && !c.holed.Load() {
				dst.CloseWrite()
				return
			}
			if !c.holed.Load() {
				c.reset()
			}
			return
		}
	}
}

// reset closes both sides with RST.
func (c *conn) reset() {
	c.client.SetLinger(0)
	c.server.SetLinger(0)
	c.client.Close()
	c.server.Close()
}
