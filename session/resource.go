package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/jab-xmpp/jab/statefile"
)

// StableResource returns the account's stable observer resource, or a new
// candidate ("jab-" and random hex) when none is stored yet; stored says
// which. A candidate is persisted only once a login with it succeeded
// (KeepResource), so a failed login leaves the state file as it was.
func StableResource(env Env, account string) (res string, stored bool, err error) {
	st, err := env.Store.Load()
	if err != nil {
		return "", false, err
	}
	res, stored = ResourceFrom(st, account)
	return res, stored, nil
}

// ResourceFrom is StableResource on a state already read.
func ResourceFrom(st *statefile.State, account string) (res string, stored bool) {
	if a := st.Accounts[account]; a != nil && a.Resource != "" {
		return a.Resource, true
	}
	return "jab-" + RandomSuffix(8), false
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

// oneShotResource is the resource of a one-shot run (send, raw, roster,
// threads close): the stable resource base with a random suffix. It never
// binds the observer's resource (the server would disconnect the
// observer) and never collides with a concurrent run.
func oneShotResource(base string) string { return base + "-" + RandomSuffix(6) }

// OpenOneShot logs in on a one-shot resource (oneShotResource) and sends
// no presence. handler gets every message and presence that reaches the
// resource (see OpenHandler); nothing is written to the state file unless
// handler does.
func OpenOneShot(ctx context.Context, env Env, cfg Config, handler func(any)) (*Session, error) {
	st, err := env.Store.Load()
	if err != nil {
		return nil, err
	}
	base, _ := ResourceFrom(st, cfg.JID.Bare())
	cfg.Resource = oneShotResource(base)
	return OpenHandler(ctx, cfg, handler)
}

// ObserverError: a live observer (jab listen or repl) already holds the
// resource another one was about to bind.
type ObserverError struct {
	PID      int
	Host     string
	Resource string
}

func (e *ObserverError) Error() string {
	return fmt.Sprintf("jab listen already runs for this account with resource %q (pid %d on %s)", e.Resource, e.PID, e.Host)
}

// ObserverDialer is the Dialer of an observer of account (listen, the
// REPL). It binds resource, or the account's stable resource when
// resource is "": contacts lock to our full JID, and the same resource
// keeps their locks pointing at whichever observer runs. A new stable
// resource is kept in the state file only once a login with it worked.
// Two sessions on one full JID would throw each other off the server (RFC
// 6120 §7.7.2.2), so it refuses to be the second: an *ObserverError when
// a live observer holds that resource. config makes the login for a
// resource.
func ObserverDialer(env Env, account, resource string, config func(resource string) Config) (Dialer, error) {
	stored := true
	if resource == "" {
		var err error
		if resource, stored, err = StableResource(env, account); err != nil {
			return nil, err
		}
	}
	if obs, err := env.Store.ReadObserver(account); err == nil && obs != nil && obs.Resource == resource &&
		obs.Live(env.Now(), ObserverMaxAge, env.Host, statefile.PIDAlive) {
		return nil, &ObserverError{PID: obs.PID, Host: obs.Host, Resource: resource}
	}
	sm := NewStreamManagement()
	return func(ctx context.Context) (*Session, error) {
		cfg := config(resource)
		cfg.SM = sm
		s, err := Open(ctx, cfg)
		var re *ResumeError
		if errors.As(err, &re) {
			// A resumption gone wrong (not refused: a bad answer) is
			// given up; a new session is bound at once.
			sm.abandon()
			s, err = Open(ctx, cfg)
		}
		if err == nil && !stored {
			if err := KeepResource(ctx, env, account, resource); err != nil {
				s.Close()
				return nil, err
			}
			stored = true
		}
		return s, err
	}, nil
}
