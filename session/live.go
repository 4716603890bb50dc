package session

import (
	"context"
	"sync"
	"time"
)

// Live holds the current session of a running Listen loop: Set is its
// ListenOptions.OnSession, and it is nil while Listen reconnects. The
// REPL, listen's bot and the hand-off (ServeHandoff) send their messages
// through it.
type Live struct {
	mu     sync.Mutex
	s      *Session
	online chan struct{} // closed while a session is set
	hooks  map[*func(*Session)]struct{}
}

// NewLive returns a holder with no session yet.
func NewLive() *Live { return &Live{online: make(chan struct{})} }

// Set records the new session (nil: the connection is lost), then calls
// the hooks (onSet) with it.
func (l *Live) Set(s *Session) {
	l.mu.Lock()
	l.s = s
	select {
	case <-l.online:
		if s == nil {
			l.online = make(chan struct{})
		}
	default:
		if s != nil {
			close(l.online)
		}
	}
	hooks := make([]func(*Session), 0, len(l.hooks))
	for f := range l.hooks {
		hooks = append(hooks, *f)
	}
	l.mu.Unlock()
	for _, f := range hooks {
		f(s)
	}
}

// onSet registers f, called synchronously by Set with every new session
// (or nil), until stop.
func (l *Live) onSet(f func(*Session)) (stop func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hooks == nil {
		l.hooks = map[*func(*Session)]struct{}{}
	}
	key := &f
	l.hooks[key] = struct{}{}
	return func() {
		l.mu.Lock()
		delete(l.hooks, key)
		l.mu.Unlock()
	}
}

// Current returns the session, or nil while there is none.
func (l *Live) Current() *Session {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s
}

// Wait returns the session, waiting (bounded by ctx) while there is none.
func (l *Live) Wait(ctx context.Context) (*Session, error) {
	for {
		l.mu.Lock()
		s, online := l.s, l.online
		l.mu.Unlock()
		if s != nil {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-online:
		}
	}
}

// WaitAfter is Wait, but never returns dead: Listen may not have let go
// of a lost connection yet.
func (l *Live) WaitAfter(ctx context.Context, dead *Session) (*Session, error) {
	for {
		s, err := l.Wait(ctx)
		if err != nil || dead == nil || s != dead {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
