package commands

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// replyWaiter picks the reply send --wait-reply waits for out of what the
// one-shot session receives: a chat or normal message with a body from the
// recipient (any resource), in the thread we sent, or in none when the
// peer does not echo threads (RFC 6121 §5.2.5 makes the thread a SHOULD).
type replyWaiter struct {
	peer string // bare JID

	mu      sync.Mutex
	threads map[string]bool // threads of the messages sent
	armed   bool
	got     chan session.Event
}

func newReplyWaiter(peer string) *replyWaiter {
	return &replyWaiter{peer: peer, threads: map[string]bool{}, got: make(chan session.Event, 1)}
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
func (w *replyWaiter) offer(v any, ev session.Event) bool {
	m, ok := v.(*session.Message)
	if !ok || ev.Kind != session.KindMessage || ev.Error != "" || ev.Body == "" || ev.Delayed {
		// A delayed message was stored before we asked: an old "yes"
		// left in offline storage must not answer a new question.
		return false
	}
	if ev.Type != "chat" && ev.Type != "normal" {
		return false
	}
	if session.BareOf(ev.From) != w.peer {
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

// waitForReply makes the one-shot session a live observer of the account
// as listen is, until the reply comes or wait ends. runSend sent available
// presence before the question, so a reply to our bare JID reaches us; the
// observer record makes the locks recorded meanwhile trusted, unless a
// live listen already is the account's observer, whose record is left
// alone. Like listen it pings its server, so a half-open connection
// neither waits for ever nor keeps a stale record alive. Apply has
// recorded the reply's effect (the lock, the thread, the history) before
// it is offered, so it is persisted before jab exits.
func waitForReply(ctx context.Context, env *Env, senv session.Env, s *session.Session, account string,
	w *replyWaiter, wait time.Duration) (session.Event, error) {
	select {
	case ev := <-w.got: // it came while we confirmed delivery
		return ev, nil
	default:
	}
	rec := statefile.Observer{Account: account, PID: os.Getpid(), Host: env.Host, Resource: s.JID().Resource,
		ConnectedSince: env.Now(), Heartbeat: env.Now()}
	observer := true
	if o, err := senv.Store.ReadObserver(account); err == nil && o != nil && o.PID != rec.PID &&
		o.Live(env.Now(), session.ObserverMaxAge, env.Host, statefile.PIDAlive) {
		observer = false // a running listen keeps the locks true already
	}
	if observer {
		if err := senv.Store.WriteObserver(rec); err != nil {
			return session.Event{}, err
		}
		defer senv.Store.RemoveObserver(account, rec.PID)
	}
	beat := time.NewTicker(session.ObserverBeat)
	defer beat.Stop()
	kctx, stopKeepalive := context.WithCancel(ctx)
	defer stopKeepalive()
	pingFailed := session.Keepalive(kctx, s, session.KeepaliveEvery)
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case err := <-pingFailed:
			return session.Event{}, fmt.Errorf("waiting for the reply: %w", err)
		case ev := <-w.got:
			return ev, nil
		case <-t.C:
			return session.Event{}, &noReplyError{peer: w.peer, wait: wait}
		case <-ctx.Done():
			return session.Event{}, ctx.Err()
		case <-s.Done():
			return session.Event{}, fmt.Errorf("waiting for the reply: connection lost: %w", s.Err())
		case <-beat.C:
			if !observer {
				continue
			}
			rec.Heartbeat = env.Now()
			if err := senv.Store.WriteObserver(rec); err != nil {
				return session.Event{}, err
			}
		}
	}
}

// printReply prints the reply: its body (made safe when stdout is a
// terminal, verbatim for a script capturing it), or the listen --json
// record.
func printReply(env *Env, out *bufio.Writer, asJSON bool, ev session.Event) error {
	if asJSON {
		out.Write(append(jsonRecord(ev), '\n'))
	} else {
		body := ev.Body
		if env.StdoutTTY {
			body = sanitize(body)
		}
		out.WriteString(strings.TrimSuffix(body, "\n") + "\n")
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	return nil
}

// noReplyError: --wait-reply ended without a reply (exit 5).
type noReplyError struct {
	peer string
	wait time.Duration
}

func (e *noReplyError) Error() string {
	return fmt.Sprintf("%v: no reply from %s within %s", session.ErrTimeout, e.peer, e.wait)
}

func (e *noReplyError) Unwrap() error { return session.ErrTimeout }
