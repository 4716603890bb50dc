// Package statefile keeps jab's persistent state: the XEP-0296 locks and
// XEP-0201 threads of each conversation, the stable resource of each
// account, and the message history. It uses only the standard library.
//
// # Where the files live
//
// All files live in one directory, by default $XDG_STATE_HOME/jab, falling
// back to $HOME/.local/state/jab (see DefaultDir). Open creates the directory
// with mode 0700; every file in it is written with mode 0600, because the
// state reveals who the user talks to.
//
//	state.json             the state (State), replaced whole on every change
//	state.json.lock        empty sidecar file that writers flock; never removed
//	observer-<key>.json    one record per account of a running "jab listen"
//	fast-<key>.json        the XEP-0484 FAST token of an account (FAST)
//	history.jsonl          the message history (History), one record a line
//	history.jsonl.lock     empty sidecar file that history writers flock
//	history.count          cached record count of history.jsonl
//	.state-*.tmp           a write in progress, or left behind by a crash
//	.observer-*.tmp        likewise, for an observer record
//	.fast-*.tmp            likewise, for a FAST token file
//	.history.jsonl-*.tmp   likewise, for a rewrite of the history
//
// # File format
//
// state.json is a JSON object indented with two spaces and ending in a
// newline. Its "version" field is the schema version (Version). A file whose
// version is higher than this build understands is refused with a
// *VersionError rather than rewritten, so an older jab never destroys what a
// newer one stored. A file that is not valid JSON, has no version, or does not
// match the schema is refused with a *CorruptError. Neither case is ever
// silently reset: the user decides what to do with the file.
//
// The data a remote peer can make grow is bounded: Update prunes every account
// to MaxConversations conversations, dropping the least recently active.
//
// # Message history
//
// history.jsonl is JSON Lines: each message sent or received is one Record,
// encoded by encoding/json on a line of its own (control characters in bodies
// are escaped, so a record never spans lines), oldest first. A record longer
// than MaxRecordSize is refused. The file is append-only between rewrites:
// Append writes all its records in one write(2) on a descriptor opened with
// O_APPEND, then fsyncs. Scan streams the file and skips, with a warning
// naming the line number, every line that is not a valid record; it never
// fails on content.
//
// The history is capped (History's max, DefaultHistoryMax by default).
// Pruning the oldest records means rewriting the file, so it is amortised:
// Append lets the history grow to max plus a tenth (at least one record)
// and then rewrites it keeping the newest max. Each rewrite costs about max
// record copies and happens at most once every max/10 appends, so an append
// costs a constant amount of pruning work on average, and the file never
// holds more than max + max/10 records after an Append. Knowing when to prune
// needs the number of records, which history.count caches: it records the
// count together with the device, inode, size and modification time of
// history.jsonl it was taken from, and is trusted only while all four still
// match. Otherwise (missing, torn, from before a crash, the file replaced or
// edited) Append recounts by scanning the file. The count file is written in
// place without fsync, since a stale one is always detected.
//
// Rewrite drops records (for example "jab threads prune") by writing a new
// file and renaming it over the old one, as for state.json; lines that are not
// valid records are dropped along with the removed ones.
//
// # Concurrency model
//
// Any number of jab processes may use the same directory at once.
//
// Writers (Update) serialise on an exclusive flock(2) of state.json.lock, held
// across the whole read-modify-write: load, apply the change, write. The lock
// is on a sidecar file and never on state.json itself, because state.json is
// replaced by rename: a lock on the old inode would not exclude a process that
// opened the new one. Each Update opens the lock file afresh, and a flock
// belongs to that open file description, so concurrent Updates exclude each
// other whether they come from different processes or from goroutines of one
// process. Update waits for the lock until its context is done, and the lock
// is released when Update returns.
//
// Readers (Load) take no lock. Each write goes to a temporary file in the same
// directory, which is fsynced and then renamed over state.json, so a reader
// opens either the complete old file or the complete new one, never a mix.
//
// The history has its own lock, an exclusive flock of history.jsonl.lock,
// taken by Append and Rewrite for the whole operation (including a prune and
// the count update), again on a sidecar because Rewrite renames over
// history.jsonl. It is independent of the state lock: neither is ever taken
// while holding the other. Scan takes no lock: it sees whole lines from
// appends and a whole file from rewrites, and at worst a last line still
// being written, which it skips like a torn one.
//
// Observer records (WriteObserver, ReadObserver, RemoveObserver) are advisory
// and take no lock: only the listening process writes its own record, a lost
// race at worst drops a record until that process's next heartbeat, and a
// reader treats a stale, unreadable or corrupt record as no observer at all.
// Liveness is judged by heartbeat age and, on the same host, by whether the
// recorded process still exists (Observer.Live).
//
// FAST token files (ReadFAST, WriteFAST, RemoveFAST) take no lock either. A
// login reads the file, and writes it only when the server issued a new
// token or refused the stored one; every write replaces the whole file by
// rename. Two logins that race lose at most a token, which costs the next
// login one normal (password) authentication. A corrupt token file counts
// as none and is replaced by the next login: it caches something the server
// issues again on request, unlike state.json. It holds a password
// substitute, hence 0600 like every file here, and is kept apart from
// state.json so a login never rewrites the shared state.
//
// # Crashes
//
// A crash (or power loss) at any point leaves state.json either as it was
// before the change or as it is after it: the rename is atomic, the data is
// fsynced before the rename, and the directory is fsynced after it so the
// rename itself is durable. What a crash can leave behind is a temporary file.
// Readers ignore temporary files; the next Update removes leftover .state-*.tmp
// files while it holds the lock (no other writer can be mid-write then), and
// .observer-*.tmp files once they are old enough that no write can still be in
// progress. The lock is released by the kernel when the process holding it
// dies, so a crash never leaves the state locked.
//
// A crash in the middle of an Append can leave a torn last line in
// history.jsonl. Nothing before it is affected. Scan skips it with a warning,
// and the next Append, finding that the file does not end in a newline,
// first writes one, so the torn bytes stay a line of their own and the new
// records are intact. A crash during a rewrite leaves the old history and a
// .history.jsonl-*.tmp file, which the next rewrite (a prune or Rewrite), or
// the next Append that has to recount, removes under the history lock.
//
// Under a context from WithSyncLater (durable.go), Update and Append leave
// their last fsync (the directory's after the rename, the history file's
// after the append) to the caller's background, so they return once the
// change is in place: visible to readers and safe from a crash of the
// process, and durable against a power failure a moment later. The
// observer uses it only for what it records after a handed-off message
// went out.
package statefile
