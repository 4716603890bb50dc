package session

import (
	"context"
	"fmt"

	"github.com/jab-xmpp/jab/statefile"
)

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
	return func(ctx context.Context) (*Session, error) {
		s, err := Open(ctx, config(resource))
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
