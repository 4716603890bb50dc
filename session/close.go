package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// TerminateMessage is the XEP-0155 §7 terminate form for a thread, which
// XEP-0201 0.3 §5 says to send even for sessions never negotiated. It has
// a thread and no body; type normal as in XEP-0155's examples.
func TerminateMessage(to, thread string) *Message {
	return &Message{To: to, Type: "normal", ID: NewID(), Thread: &Thread{Value: thread},
		Feature: &FeatureNeg{Form: DataForm{Type: "submit", Fields: []DataField{
			{Var: "FORM_TYPE", Values: []string{"urn:xmpp:ssn"}},
			{Var: "terminate", Values: []string{"1"}},
		}}}}
}

// GoneMessage is a standalone XEP-0085 <gone/> with the thread (§5.6: a
// standalone notification carries only the state and the thread).
func GoneMessage(to, thread string) *Message {
	m := &Message{To: to, Type: "chat", ID: NewID(), Thread: &Thread{Value: thread}}
	m.SetChatState("gone")
	return m
}

// ErrAlreadyClosed: the thread was closed before; nothing was sent.
var ErrAlreadyClosed = errors.New("thread already closed")

// CloseThread ends a thread (XEP-0201 0.3 §5, decision D-10): it sends the
// terminate form carrying the thread and, for a chat thread, a standalone
// <gone/>, confirms the server handled them, then marks the thread closed;
// if it was the conversation's current thread the conversation unlocks and
// its next message starts a new thread. The stanzas go to the locked full
// JID if the lock is trusted or answers a ping, else to the bare JID.
func CloseThread(ctx context.Context, s *Session, env Env, account, id string, b *Bounces) (sentTo string, err error) {
	return CloseThreadGone(ctx, s, env, account, id, b, true)
}

// CloseThreadGone is CloseThread; with gone false it leaves out the
// <gone/>, for a client whose chat states are switched off (XEP-0085 §5.2).
func CloseThreadGone(ctx context.Context, s *Session, env Env, account, id string, b *Bounces, gone bool) (sentTo string, err error) {
	st, err := env.Store.Load()
	if err != nil {
		return "", err
	}
	a := st.Accounts[account]
	if a == nil || a.Threads[id] == nil {
		return "", fmt.Errorf("no thread %q", id)
	}
	t := *a.Threads[id]
	if t.Closed {
		return "", ErrAlreadyClosed
	}
	to := t.Peer
	if c := a.Conversations[t.Peer]; c != nil && c.LockedTo != "" {
		if env.trusted(account, LockTime(*c)) || s.PingThread(ctx, c.LockedTo, id) == nil {
			to = c.LockedTo
		}
	}
	msgs := []*Message{TerminateMessage(to, id)}
	if t.Type == "chat" && gone {
		msgs = append(msgs, GoneMessage(to, id))
	}
	for _, m := range msgs {
		b.Track(m.ID, m.To)
		if err := s.Conn().Send(m); err != nil {
			return "", err
		}
	}
	if err := b.Confirm(ctx, s); err != nil {
		return "", err
	}
	now := env.Now()
	_, err = env.Store.Update(ctx, func(st *statefile.State) error {
		a := st.Account(account)
		MarkClosed(a.Threads, id, now)
		if c := a.Conversations[t.Peer]; c != nil && c.Thread == id {
			c.Thread, c.PeerThreaded = "", false
			unlock(c, UnlockTerminate, now)
		}
		return nil
	})
	return to, err
}

// PruneResult says what PruneThreads removed.
type PruneResult struct {
	Threads int
	Records int
}

// Prune removes threads idle (or closed) for longer than age, and their
// history records. A pruned thread that was a conversation's current one
// is cleared there, so the next message starts a new thread.
func Prune(ctx context.Context, env Env, account string, age time.Duration) (PruneResult, error) {
	cutoff := env.Now().Add(-age)
	gone := map[string]bool{}
	_, err := env.Store.Update(ctx, func(st *statefile.State) error {
		a := st.Account(account)
		for id, t := range a.Threads {
			if t.Last.Before(cutoff) || (t.Closed && t.ClosedAt.Before(cutoff)) {
				gone[id] = true
				delete(a.Threads, id)
			}
		}
		if len(gone) == 0 {
			return errNoChange
		}
		for _, c := range a.Conversations {
			if gone[c.Thread] {
				c.Thread, c.PeerThreaded = "", false
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return PruneResult{}, err
	}
	res := PruneResult{Threads: len(gone)}
	if env.History != nil && len(gone) > 0 {
		n, err := env.History.Rewrite(ctx, func(r statefile.Record) bool {
			return r.Account != account || !gone[r.Thread]
		})
		if err != nil {
			return res, err
		}
		res.Records = n
	}
	return res, nil
}
