package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// BindingVersion is the schema version of a channel binding record.
const BindingVersion = 1

// Binding is what one account remembers about its server's channel
// binding in binding-<key>.json: that the server refused tls-exporter on
// TLS 1.3 and accepted tls-unique on a connection capped at TLS 1.2, so
// later logins cap TLS at 1.2 at once (see session.BindingMemo). It holds
// no secret.
type Binding struct {
	Version int       `json:"version"`
	Account string    `json:"account"` // bare JID
	Type    string    `json:"type"`    // "tls-unique"
	Since   time.Time `json:"since"`
}

func (s *Store) bindingPath(account string) string { return s.accountFile("binding-", account) }

// ReadBinding returns account's record, or nil when there is none. Like a
// FAST token file it is a cache the next login rebuilds, so one that is
// corrupt, of another version or for another account counts as none.
func (s *Store) ReadBinding(account string) (*Binding, error) {
	data, err := readRecord(s.bindingPath(account), "channel binding record")
	if data == nil {
		return nil, err
	}
	var b Binding
	if err := json.Unmarshal(data, &b); err != nil || b.Version != BindingVersion || b.Account != account {
		return nil, nil
	}
	return &b, nil
}

// WriteBinding replaces b.Account's record atomically (mode 0600).
func (s *Store) WriteBinding(b Binding) error {
	if b.Account == "" {
		return errors.New("write channel binding record: empty account")
	}
	b.Version = BindingVersion
	return writeRecord(s.bindingPath(b.Account), "channel binding record", b)
}

// RemoveBinding deletes account's record; a missing one is no error.
func (s *Store) RemoveBinding(account string) error {
	return removeRecord(s.bindingPath(account), "channel binding record")
}

// readRecord reads a per-account file: nil data and no error when there
// is none.
func readRecord(path, what string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %q: %w", what, path, err)
	}
	return data, nil
}

// writeRecord replaces a per-account file with v atomically (mode 0600).
func writeRecord(path, what string, v any) error {
	data, err := encode(v)
	if err != nil {
		return fmt.Errorf("encode %s %q: %w", what, path, err)
	}
	return writeFileAtomic(path, data)
}

// removeRecord deletes a per-account file; a missing one is no error.
func removeRecord(path, what string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s %q: %w", what, path, err)
	}
	return nil
}
