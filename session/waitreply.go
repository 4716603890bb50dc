package session

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// replyWaiter picks the reply `send --wait-reply` waits for out of what
// the one-shot session receives: a chat or normal message with a body from
// the recipient (any resource), in the thread we sent, or in none when the
// peer does not echo threads (RFC 6121 §5.2.5 makes the thread a SHOULD).
type replyWaiter struct {
	peer string // bare JID

	mu      sync.Mutex
	threads map[string]bool // threads of the messages sent
	armed   bool
	got     chan Event
}

func newReplyWaiter(peer string) *replyWaiter {
	return &replyWaiter{peer: peer, threads: map[string]bool{}, got: make(chan Event, 1)}
}

// expect arms the waiter for a message sent in thread ("" for none).
func (w *replyWaiter) expect(thread string) {
	w.mu.Lock()
	w.threads[thread] = true
	w.armed = true
	w.mu.Unlock()
}

// offer reports whether v (received as ev) is the reply; the first one is
// kept.
func (w *replyWaiter) offer(v any, ev Event) bool {
	m, ok := v.(*Message)
	if !ok || ev.Kind != KindMessage || ev.Error != "" || ev.Body == "" || ev.Delayed {
		// A delayed message was stored before we asked: an old "yes"
		// left in offline storage must not answer a new question.
		return false
	}
	if ev.Type != "chat" && ev.Type != "normal" {
		return false
	}
	if ev.Carbon != "" || ev.Sent || ev.Archived {
		// A copy of what another of our devices sent or received is that
		// device's conversation, not an answer to this question.
		return false
	}
	if BareOf(ev.From) != w.peer {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.armed {
		return false
	}
	if t := m.ThreadValue(); t != "" && !w.threads[t] {
		return false // a message in another conversation thread
	}
	select {
	case w.got <- ev:
	default:
	}
	return true
}

// NoReplyError: WaitReply ended without a reply.
type NoReplyError struct {
	Peer string
	Wait time.Duration
}

func (e *NoReplyError) Error() string {
	return fmt.Sprintf("%v: no reply from %s within %s", ErrTimeout, e.Peer, e.Wait)
}

func (e *NoReplyError) Unwrap() error { return ErrTimeout }

// WaitReply waits up to wait for the reply of a StartSend with WaitReply.
// Meanwhile the one-shot session is a live observer of the account as
// listen is: StartSend sent available presence before the question, so a
// reply to our bare JID reaches us; the observer record makes the locks
// recorded meanwhile trusted, unless a live listen already is the
// account's observer, whose record is left alone. Like listen it pings its
// server, so a half-open connection neither waits for ever nor keeps a
// stale record alive. Apply has recorded the reply's effect (the lock, the
// thread, the history) before it is offered, so it is persisted before
// jab exits.
func (sd *Sender) WaitReply(ctx context.Context, wait time.Duration) (Event, error) {
	w, s, env := sd.waiter, sd.s, sd.env
	if w == nil {
		return Event{}, fmt.Errorf("WaitReply without OneShot.WaitReply")
	}
	if !sd.own {
		return sd.waitAttached(ctx, wait)
	}
	select {
	case ev := <-w.got: // it came while we confirmed delivery
		return ev, nil
	default:
	}
	rec := statefile.Observer{Account: sd.account, PID: os.Getpid(), Host: env.Host, Resource: s.JID().Resource,
		ConnectedSince: env.Now(), Heartbeat: env.Now()}
	observer := true
	if o, err := env.Store.ReadObserver(sd.account); err == nil && o != nil && o.PID != rec.PID &&
		o.Live(env.Now(), ObserverMaxAge, env.Host, statefile.PIDAlive) {
		observer = false // a running listen keeps the locks true already
	}
	if observer {
		if err := env.Store.WriteObserver(rec); err != nil {
			return Event{}, err
		}
		defer env.Store.RemoveObserver(sd.account, rec.PID)
	}
	beat := time.NewTicker(ObserverBeat)
	defer beat.Stop()
	kctx, stopKeepalive := context.WithCancel(ctx)
	defer stopKeepalive()
	pingFailed := Keepalive(kctx, s, KeepaliveEvery)
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case err := <-pingFailed:
			return Event{}, fmt.Errorf("waiting for the reply: %w", err)
		case ev := <-w.got:
			return ev, nil
		case <-t.C:
			return Event{}, &NoReplyError{Peer: w.peer, Wait: wait}
		case <-ctx.Done():
			return Event{}, ctx.Err()
		case <-s.Done():
			return Event{}, fmt.Errorf("waiting for the reply: connection lost: %w", s.Err())
		case <-beat.C:
			if !observer {
				continue
			}
			rec.Heartbeat = env.Now()
			if err := env.Store.WriteObserver(rec); err != nil {
				return Event{}, err
			}
		}
	}
}
