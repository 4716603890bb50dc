package session

import (
	"net"
	"sync"
)

// turnCounter counts the round trips of a connection as the wall clock
// sees them: every burst of writes that the server answers is one, however
// many stanzas it holds, and the TCP connect is one more. A burst ends when
// the answer's first bytes arrive; what is written before that (a message
// pipelined behind the binding request) rides in the same round trip. The
// counter sits below TLS, so the TLS handshake's flights count too.
// --debug prints the count after login and at the end, so a change meant
// to save a round trip can be seen to. The delay proxy of the benchmark
// (internal/delayproxy) counts on the wire by the same rule.
type turnCounter struct {
	net.Conn
	mu      sync.Mutex
	n       int
	inBurst bool // written since the last answer
}

func countTurns(c net.Conn) *turnCounter { return &turnCounter{Conn: c, n: 1} }

func (t *turnCounter) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.inBurst = true
	t.mu.Unlock()
	return t.Conn.Write(p)
}

func (t *turnCounter) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if n > 0 {
		t.mu.Lock()
		if t.inBurst {
			t.n++
			t.inBurst = false
		}
		t.mu.Unlock()
	}
	return n, err
}

// RoundTrips returns the round trips the connection has made so far: the
// TCP connect, and every wait for the server after a write.
func (c *Conn) RoundTrips() int {
	if c.turns == nil {
		return 0
	}
	c.turns.mu.Lock()
	defer c.turns.mu.Unlock()
	return c.turns.n
}
