package statefile

import (
	"encoding/json"
	"errors"
	"time"
)

// FASTVersion is the schema version of a FAST token file.
const FASTVersion = 1

// FAST is what one account keeps for XEP-0484 (Fast Authentication
// Streamlining Tokens) in fast-<key>.json: the user-agent id it
// authenticates with (XEP-0388 §2.3: stable, so the server can tie the
// token to this client) and, when the server issued one, the token.
//
// The token is a password substitute: the file is written with mode 0600
// in the 0700 state directory and is never printed.
type FAST struct {
	Version   int       `json:"version"`
	Account   string    `json:"account"`   // bare JID
	ClientID  string    `json:"client_id"` // the XEP-0388 user-agent id, a UUID
	Mechanism string    `json:"mechanism,omitempty"`
	Token     string    `json:"token,omitempty"`
	Expiry    time.Time `json:"expiry,omitzero"`
}

// HasToken tells whether f holds a token (it may have expired).
func (f *FAST) HasToken() bool { return f != nil && f.Token != "" && f.Mechanism != "" }

// fastPath names the token file of account, hashed like an observer record
// (see observerPath).
func (s *Store) fastPath(account string) string { return s.accountFile("fast-", account) }

// FASTPath returns the path of account's token file, for messages and
// tests.
func (s *Store) FASTPath(account string) string { return s.fastPath(account) }

// ReadFAST returns account's token file, or nil when there is none. The
// file is a cache of something the server can always issue again, so one
// that is corrupt, of another schema version or for another account counts
// as none (the next login replaces it) rather than as an error; only a file
// that exists but cannot be read is one.
func (s *Store) ReadFAST(account string) (*FAST, error) {
	data, err := readRecord(s.fastPath(account), "FAST token file")
	if data == nil {
		return nil, err
	}
	var f FAST
	if err := json.Unmarshal(data, &f); err != nil || f.Version != FASTVersion || f.Account != account || f.ClientID == "" {
		return nil, nil
	}
	return &f, nil
}

// WriteFAST replaces f.Account's token file atomically (mode 0600). It
// takes no lock: two logins that race each write a whole file, the last
// one wins, and a token lost that way costs the other account holder one
// normal login.
func (s *Store) WriteFAST(f FAST) error {
	if f.Account == "" || f.ClientID == "" {
		return errors.New("write FAST token file: empty account or client id")
	}
	f.Version = FASTVersion
	return writeRecord(s.fastPath(f.Account), "FAST token file", f)
}

// RemoveFAST deletes account's token file; a missing file is no error.
func (s *Store) RemoveFAST(account string) error {
	return removeRecord(s.fastPath(account), "FAST token file")
}
