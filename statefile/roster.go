package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// Roster is the account's roster as last fetched (jab roster, jab repl):
// a cache for shell completion, which must never connect. It is advisory:
// a missing or corrupt file means no roster to offer.
type Roster struct {
	Account string       `json:"account"` // bare JID
	Fetched time.Time    `json:"fetched"`
	Items   []RosterItem `json:"items"`
}

// RosterItem is one contact (RFC 6121 §2.1.2).
type RosterItem struct {
	JID          string   `json:"jid"`
	Name         string   `json:"name,omitempty"`
	Subscription string   `json:"subscription,omitempty"`
	Groups       []string `json:"groups,omitempty"`
}

// MaxRosterItems bounds the cache; a server may send any number.
const MaxRosterItems = 10000

func (s *Store) rosterPath(account string) string { return s.accountFile("roster-", account) }

// WriteRoster replaces the cached roster of r.Account atomically (0600).
func (s *Store) WriteRoster(r Roster) error {
	if r.Account == "" {
		return errors.New("write roster cache: empty account")
	}
	if len(r.Items) > MaxRosterItems {
		r.Items = r.Items[:MaxRosterItems]
	}
	path := s.rosterPath(r.Account)
	data, err := encode(r)
	if err != nil {
		return fmt.Errorf("encode roster cache %q: %w", path, err)
	}
	return writeFileAtomic(path, data)
}

// ReadRoster returns the cached roster of account, or nil when there is
// none or it cannot be used.
func (s *Store) ReadRoster(account string) *Roster {
	data, err := os.ReadFile(s.rosterPath(account))
	if err != nil {
		return nil
	}
	var r Roster
	if err := json.Unmarshal(data, &r); err != nil || r.Account != account {
		return nil
	}
	return &r
}
