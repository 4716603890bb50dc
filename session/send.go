package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
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

// StableResource returns the account's stable observer resource, or a new
// candidate ("jab-" and random hex) when none is stored yet; stored says
// which. A candidate is persisted only once a login with it succeeded
// (KeepResource), so a failed login leaves the state file as it was.
func StableResource(env Env, account string) (res string, stored bool, err error) {
	st, err := env.Store.Load()
	if err != nil {
		return "", false, err
	}
	if a := st.Accounts[account]; a != nil && a.Resource != "" {
		return a.Resource, true, nil
	}
	return "jab-" + RandomSuffix(8), false, nil
}

// KeepResource persists res as the account's stable resource unless one
// was stored meanwhile.
func KeepResource(ctx context.Context, env Env, account, res string) error {
	_, err := env.Store.Update(ctx, func(st *statefile.State) error {
		a := st.Account(account)
		if a.Resource != "" {
			return errNoChange
		}
		a.Resource = res
		return nil
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err
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
	// Resource, if not "", is stored as the account's stable resource at
	// Commit when none is stored yet (see StableResource).
	Resource string
}

// Planner decides where each recipient's messages go. It reads the state
// without a lock to preview the routes and list the stale locks to check
// (which needs no connection, so it can run while logging in), and writes
// nothing until Commit, which the caller runs just before the first
// message is written: a send that fails before that leaves the state file
// untouched.
type Planner struct {
	env      Env
	o        SendOptions
	now      time.Time
	fresh    []string
	verified map[string]bool
	state    *statefile.State
	written  os.FileInfo // the state file as Commit left it
}

// NewPlanner reads the state and prepares the routes.
func NewPlanner(env Env, o SendOptions) (*Planner, error) {
	st, err := env.Store.Load()
	if err != nil {
		return nil, err
	}
	p := &Planner{env: env, o: o, now: env.Now(), verified: map[string]bool{}, state: st,
		fresh: make([]string, len(o.To))}
	p.refresh()
	return p, nil
}

// refresh takes a new time and new candidate thread ids, so a thread ended
// since the last commit is never started again with the same id.
func (p *Planner) refresh() {
	p.now = p.env.Now()
	for i := range p.fresh {
		p.fresh[i] = NewID()
	}
}

// Stale reports whether anyone wrote the state file since the last Commit
// (a listen that saw a presence or a <gone/>, say): the routes must then be
// committed again before the next message.
func (p *Planner) Stale() bool {
	cur := p.env.Store.Stat()
	switch {
	case cur == nil && p.written == nil:
		return false
	case cur == nil || p.written == nil:
		return true
	}
	return !os.SameFile(cur, p.written)
}

func (p *Planner) route(st *statefile.State, i int) Route {
	account := p.o.Account.Bare()
	to := p.o.To[i]
	var c statefile.Conversation
	exists := false
	if a := st.Accounts[account]; a != nil {
		key := to.Bare()
		if occ := a.Conversations[to.String()]; to.IsFull() && occ != nil && occ.Occupant {
			// A MUC occupant's conversation is keyed by its full JID (D-12).
			key = to.String()
		}
		if conv := a.Conversations[key]; conv != nil {
			c, exists = *conv, true
		}
	}
	return RouteOutbound(c, exists, Outbound{To: to, Type: p.o.Type, Thread: p.o.Thread, NewThread: p.o.NewThread,
		Now: p.now, LockIdle: p.o.LockIdle, Trusted: exists && c.LockedTo != "" && p.env.trusted(account, c.LockedAt),
		Verified: p.verified, FreshThread: p.fresh[i]})
}

// Checks lists the locked full JIDs that must answer a ping before they
// are used (decision D-9).
func (p *Planner) Checks() []string {
	var out []string
	for i := range p.o.To {
		if r := p.route(p.state, i); r.Check != "" && !slices.Contains(out, r.Check) {
			out = append(out, r.Check)
		}
	}
	return out
}

// Verified records the result of checking a locked full JID.
func (p *Planner) Verified(full string, alive bool) { p.verified[full] = alive }

// Preview returns the routes as the state read at NewPlanner gives them.
func (p *Planner) Preview() []Route {
	routes := make([]Route, len(p.o.To))
	for i := range routes {
		routes[i] = p.route(p.state, i)
	}
	return routes
}

// Commit routes again under the state file's lock, so concurrent changes
// are not lost, records the conversations, and returns the routes to use.
// It may be called again when the state went Stale.
func (p *Planner) Commit(ctx context.Context) ([]Route, error) {
	if p.written != nil {
		p.refresh()
	}
	account := p.o.Account.Bare()
	var routes []Route
	_, err := p.env.Store.Update(ctx, func(st *statefile.State) error {
		routes = routes[:0]
		changed := false
		if p.o.Resource != "" {
			if a := st.Account(account); a.Resource == "" {
				a.Resource, changed = p.o.Resource, true
			}
		}
		for i := range p.o.To {
			r := p.route(st, i)
			if r.Check != "" {
				// The lock changed under us to one we have not checked:
				// use the bare JID rather than an unverified resource.
				r.To, r.Check = p.o.To[i].Bare(), ""
				r.Conv.LockedTo, r.Conv.LockKind = "", ""
			}
			if r.Store {
				conv := r.Conv
				st.Account(account).Conversations[conv.Peer] = &conv
				changed = true
			}
			routes = append(routes, r)
		}
		if !changed {
			return errNoChange
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return nil, err
	}
	p.written = p.env.Store.Stat()
	return routes, nil
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
