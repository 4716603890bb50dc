package statefile

import "time"

// Version is the schema version this build writes. A file with a higher
// version is refused (never silently reset); a file with a lower version is
// migrated in memory and written back at the next Update.
const Version = 1

// State is the whole content of state.json.
type State struct {
	Version  int                 `json:"version"`
	Accounts map[string]*Account `json:"accounts,omitempty"` // key: account bare JID
}

// Account is what jab keeps for one of the user's accounts.
type Account struct {
	// Resource is the stable resource of the long-running observer
	// (listen, repl), made once and kept so it is not random per run.
	Resource string `json:"resource,omitempty"`
	// Conversations, keyed by the conversee's bare JID (or, for a MUC
	// occupant, its full occupant JID).
	Conversations map[string]*Conversation `json:"conversations,omitempty"`
	// Threads is the XEP-0201 thread index, keyed by thread id. Peers can
	// make it grow, so it is capped per peer and overall (session prunes
	// the least recently active).
	Threads map[string]*Thread `json:"threads,omitempty"`
	// Seen holds the last MaxSeen received messages as "from id", so a
	// message two of our processes both receive (listen and a waiting
	// send, or a redelivery after a reconnect) is recorded once.
	Seen []string `json:"seen,omitempty"`
	// ArchiveLast is the XEP-0359 stanza-id (given by our own archive) of
	// the newest message listen or the REPL has seen, live or caught up:
	// the next catch-up asks the archive for what came after it
	// (XEP-0313). Empty until one is seen; older files lack it.
	ArchiveLast string `json:"archive_last,omitempty"`
	// RoomArchive is, per group chat room (keyed by its bare JID), the
	// XEP-0359 stanza-id the room's own archive (muc#mam) gave the newest
	// message of that room listen has seen: listen --room catches up
	// from there. Only rooms with an archive have an entry; older files
	// lack it.
	RoomArchive map[string]string `json:"room_archive,omitempty"`
	// OpenPGP holds the pinned OpenPGP keys of contacts (XEP-0373),
	// keyed by bare JID: trust on first use, then only what the user
	// trusts (D-21). Older files lack it.
	OpenPGP map[string]*KeyPins `json:"openpgp,omitempty"`
}

// MaxSeen bounds Account.Seen.
const MaxSeen = 64

// Thread is one XEP-0201 thread as the index keeps it.
type Thread struct {
	ID      string    `json:"id"`
	Parent  string    `json:"parent,omitempty"`  // XEP-0201 1.0 §3.3
	Peer    string    `json:"peer"`              // conversation key
	Type    string    `json:"type"`              // message type that started it: chat or normal
	Subject string    `json:"subject,omitempty"` // subject, else the first line of the first body (capped)
	Count   int       `json:"count"`
	First   time.Time `json:"first,omitzero"`
	Last    time.Time `json:"last,omitzero"`
	Ours    bool      `json:"ours,omitempty"` // we generated the id
	// Closed is set by a XEP-0155 terminate, sent or received (0.3 §5).
	Closed   bool      `json:"closed,omitempty"`
	ClosedAt time.Time `json:"closed_at,omitzero"`
}

// Lock kinds.
const (
	LockMessage = "message" // XEP-0296 §2.2: a chat message from the conversee
	LockForced  = "forced"  // decision D-2: the user addressed a full JID
)

// Conversation is the XEP-0296 lock and the XEP-0201 thread of one
// conversation. It is plain data: the rules in package session decide how it
// changes.
type Conversation struct {
	Peer string `json:"peer"` // conversee bare JID (occupant full JID when Occupant)
	// LockedTo is the full JID messages go to while the conversation is
	// locked; empty means unlocked (messages go to Peer).
	LockedTo string    `json:"locked_to,omitempty"`
	LockKind string    `json:"lock_kind,omitempty"`
	LockedAt time.Time `json:"locked_at,omitzero"`
	// LockSeen is when a message from LockedTo last confirmed the lock: a
	// live observer connected before it has seen every presence since, so
	// the lock is still true (decision D-9), however old LockedAt is.
	LockSeen time.Time `json:"lock_seen,omitzero"`
	// UnlockReason says why the conversation was last unlocked
	// (presence, gone, error, idle, resource, check, terminate).
	UnlockReason string    `json:"unlock_reason,omitempty"`
	UnlockedAt   time.Time `json:"unlocked_at,omitzero"`
	// Thread is the current thread; empty means the next chat message
	// starts a new one.
	Thread string `json:"thread,omitempty"`
	// PeerThreaded is true once the peer sent a message carrying Thread
	// (XEP-0201 0.3 §5 thread-less rule, decision D-7).
	PeerThreaded bool      `json:"peer_threaded,omitempty"`
	LastActivity time.Time `json:"last_activity,omitzero"`
	// Occupant marks a MUC private conversation keyed by the occupant's full
	// JID: it never falls back to the bare room JID (decision D-12).
	Occupant bool `json:"occupant,omitempty"`
	// Gone lists the conversee's full JIDs last seen going unavailable,
	// newest last and bounded: a reply is not addressed to a resource
	// known to have gone (RFC 6121 §5.2.1).
	Gone []string `json:"gone,omitempty"`
}
