package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

// ObserverMaxAge is how old an observer's heartbeat may be before the
// observer is presumed dead; the observer beats every ObserverBeat.
const (
	ObserverBeat   = 5 * time.Second
	ObserverMaxAge = 3 * ObserverBeat
)

// Env is what the session needs from its surroundings.
type Env struct {
	Store *statefile.Store
	Now   func() time.Time
	Host  string // os.Hostname, for the observer record
}

// errNoChange aborts a statefile.Update without writing.
var errNoChange = errors.New("no change")

// trusted reports whether a live observer for account has been watching
// since at, so a lock recorded at that time is still true (decision D-9).
func (e Env) trusted(account string, at time.Time) bool {
	o, err := e.Store.ReadObserver(account)
	if err != nil || o == nil {
		return false
	}
	if !o.Live(e.Now(), ObserverMaxAge, e.Host, statefile.PIDAlive) {
		return false
	}
	return !o.ConnectedSince.After(at)
}

// EnsureResource returns the account's stable observer resource, making
// and persisting one the first time ("jab-" and random hex).
func EnsureResource(ctx context.Context, env Env, account string) (string, error) {
	st, err := env.Store.Load()
	if err != nil {
		return "", err
	}
	if a := st.Accounts[account]; a != nil && a.Resource != "" {
		return a.Resource, nil
	}
	var res string
	_, err = env.Store.Update(ctx, func(st *statefile.State) error {
		a := st.Account(account)
		if a.Resource == "" {
			a.Resource = "jab-" + RandomSuffix(8)
		}
		res = a.Resource
		return nil
	})
	return res, err
}

// SendOptions is one `jab send` request.
type SendOptions struct {
	Account   JID
	To        []JID
	Type      string // chat, normal, headline
	Thread    string
	NewThread bool
	Subject   string
	LockIdle  time.Duration
}

// Plan is where each recipient's messages go.
type Plan struct {
	Routes []Route
	Type   string
}

// Checker reports whether a locked full JID answers (XEP-0199 ping). An
// error means the check could not be made at all (no connection); the
// plan is then abandoned rather than recording an unverified unlock.
type Checker func(full string) (alive bool, err error)

// PlanSend decides the routes for all recipients from the persisted state:
// it checks stale locks with check (a failed check unlocks, decision D-9),
// then records the decisions in the state file in one read-modify-write.
// It needs no connection unless a lock must be checked, so the caller can
// run it while logging in.
func PlanSend(ctx context.Context, env Env, o SendOptions, check Checker) (*Plan, error) {
	account := o.Account.Bare()
	st, err := env.Store.Load()
	if err != nil {
		return nil, err
	}
	now := env.Now()
	verified := map[string]bool{}
	fresh := make([]string, len(o.To))
	for i := range fresh {
		fresh[i] = NewID()
	}
	route := func(st *statefile.State, i int) Route {
		to := o.To[i]
		var c statefile.Conversation
		exists := false
		if a := st.Accounts[account]; a != nil {
			if p := a.Conversations[to.Bare()]; p != nil {
				c, exists = *p, true
			}
		}
		return RouteOutbound(c, exists, Outbound{To: to, Type: o.Type, Thread: o.Thread, NewThread: o.NewThread,
			Now: now, LockIdle: o.LockIdle, Trusted: exists && c.LockedTo != "" && env.trusted(account, c.LockedAt),
			Verified: verified, FreshThread: fresh[i]})
	}
	for i := range o.To {
		if r := route(st, i); r.Check != "" {
			if _, done := verified[r.Check]; !done {
				alive, err := check(r.Check)
				if err != nil {
					return nil, err
				}
				verified[r.Check] = alive
			}
		}
	}
	plan := &Plan{Type: o.Type}
	_, err = env.Store.Update(ctx, func(st *statefile.State) error {
		plan.Routes = plan.Routes[:0]
		changed := false
		for i := range o.To {
			r := route(st, i)
			if r.Check != "" {
				// The lock changed under us to one we have not checked:
				// use the bare JID rather than an unverified resource.
				r.To, r.Check = o.To[i].Bare(), ""
				r.Conv.LockedTo, r.Conv.LockKind = "", ""
			}
			if r.Store {
				a := st.Account(account)
				conv := r.Conv
				a.Conversations[conv.Peer] = &conv
				changed = true
			}
			plan.Routes = append(plan.Routes, r)
		}
		if !changed {
			return errNoChange
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return nil, err
	}
	return plan, nil
}

// Sent describes one message written to the stream.
type Sent struct {
	To     string `json:"to"`
	ID     string `json:"id"`
	Thread string `json:"thread,omitempty"`
	Type   string `json:"type"`
}

// BuildMessage makes the stanza for one body along one route. The id is
// also the XEP-0359 origin-id: a fresh UUIDv4 with no by, no text.
func BuildMessage(r Route, typ, subject, body string) *Message {
	id := NewID()
	m := &Message{To: r.To, ID: id, Type: typ, Subject: subject, Body: body, OriginID: &OriginID{ID: id}}
	if r.Thread != "" {
		m.Thread = &Thread{Value: r.Thread}
	}
	return m
}

// DeliveryError lists messages the server bounced.
type DeliveryError struct {
	Failed []string // "to: condition"
	Total  int
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("%d of %d messages not delivered: %s", len(e.Failed), e.Total, strings.Join(e.Failed, "; "))
}

// Bounces records errors bounced for our message ids. Its Handle method
// is the one-shot session's handler (see OpenHandler), so a bounce that
// precedes the confirming ping's answer on the stream is always recorded.
type Bounces struct {
	mu     sync.Mutex
	ids    map[string]string // id -> to
	failed []string
}

// NewBounces returns an empty recorder.
func NewBounces() *Bounces { return &Bounces{ids: map[string]string{}} }

// Handle records message errors for tracked ids and ignores the rest.
func (b *Bounces) Handle(v any) {
	m, ok := v.(*Message)
	if !ok || m.Type != "error" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if to, ok := b.ids[m.ID]; ok {
		b.failed = append(b.failed, to+": "+m.Error.Cond())
	}
}

// Track registers a sent message id.
func (b *Bounces) Track(id, to string) {
	b.mu.Lock()
	b.ids[id] = to
	b.mu.Unlock()
}

// Confirm makes a round trip to the server after the last stanza: the
// server handles a stream's stanzas in order, so once the ping is answered
// every message has been routed and any local bounce has arrived.
func (b *Bounces) Confirm(ctx context.Context, s *Session) error {
	if err := s.Ping(ctx, ""); err != nil {
		var iqe *IQError
		// A server without XEP-0199 still answers, with an error: that
		// answer is the round trip we need.
		if !errors.As(err, &iqe) {
			return fmt.Errorf("confirm delivery: %w", err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.failed) > 0 {
		return &DeliveryError{Failed: append([]string(nil), b.failed...), Total: len(b.ids)}
	}
	return nil
}
