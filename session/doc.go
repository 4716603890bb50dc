// Package session is jab's XMPP session layer: the client stream, typed
// stanzas, the protocol rules of XEP-0296 (resource locking) and XEP-0201
// (message threads), and the use cases any front end drives. It is the
// only package that speaks XMPP; it persists through package statefile and
// knows nothing of the command line.
//
// # Use cases
//
//   - Sender (sender.go): one send request. StartSend logs in on a
//     one-shot resource while it previews the routes, pings stale locks
//     (D-9) and returns a Sender; Send commits the plan just before the
//     first message is written, builds and writes the stanzas, and groups
//     the history appends of a burst; Finish confirms bounces with one
//     round trip; WaitReceipts and WaitReply wait for XEP-0184 receipts and
//     for the contact's answer. Attach and SendOne do the same on a session
//     that is already online (listen's bot, the REPL).
//   - Listen (listen.go): the long-running observer. It applies every
//     stanza to the state file (Apply) before it emits it, answers pings,
//     disco#info and receipt requests, keeps its observer record beating
//     and reconnects with backoff. ObserverDialer (observer.go) picks its
//     stable resource and refuses to be a second observer on it; Live
//     (live.go) holds its current session for whoever sends through it.
//   - The hand-off (handoff*.go): a running observer serves the sends of
//     its account over a Unix socket, with a Sender attached to its own
//     session; HandOff is the client `jab send` tries first.
//   - Bot (bot.go): answers eligible messages through a handler (listen
//     --exec runs a command), one worker per conversation so replies keep
//     their order, with backpressure instead of drops.
//   - Chat (chat.go): the conversation model of an interactive client:
//     the conversee, pending thread changes, the chat-state machines, auto-
//     away, the presence seen, and one writer goroutine for everything it
//     sends.
//   - The thread history (threadview.go): the history grouped by thread,
//     with parents, subtrees and id prefixes, for `threads show` and the
//     REPL's /history.
//   - HTTP file upload (upload*.go): Upload finds the XEP-0363 service,
//     checks every file against its limit, then asks for a slot and PUTs
//     each file, streamed from disk; the messages that point to the files
//     (XEP-0066) are sent afterwards by the caller's Sender, so a failed
//     upload sends nothing. Through the hand-off the observer answers the
//     IQs and the client makes the PUT.
//   - Raw stanzas (raw.go), CloseThread and Prune (close.go), the roster
//     (roster.go).
//
// # Rules
//
// rules.go holds the rules as pure functions over plain values:
// ApplyInbound takes a conversation and one received stanza and returns the
// conversation after it; RouteOutbound takes a conversation and one message
// to send and returns the address, the thread and the conversation after
// it. They take no clock and make no ids: the caller passes the time and a
// freshly generated thread id, so a table test can walk every checklist
// item. The decisions of docs/PROTOCOL.md they implement:
//
//   - A conversation starts unlocked and goes to the bare JID (XEP-0296
//     §2.1). A chat message from a full JID that is not from storage locks
//     (§2.2, D-15); one from another resource re-locks (§2.3, D-1); any
//     available, unavailable or error presence from the conversee unlocks
//     (§2.3, D-3); <gone/> unlocks and ends the thread (§2.4, XEP-0085
//     §5.7); an error from the locked JID unlocks (D-5); a normal or
//     headline message from another resource unlocks without locking
//     (D-4); an idle lock unlocks when it is next used (§3.2).
//   - Threads (XEP-0201 0.3): a peer's thread is reused byte for byte; an
//     unknown one becomes the conversation's thread; a thread-less chat
//     attaches to a thread the peer has never echoed, else starts a new one
//     (0.3 §5 branch B, kept per bare JID: D-7); unavailable presence never
//     ends a thread; a XEP-0155 terminate for the current thread ends it.
//     Ids jab makes are UUID version 4 from crypto/rand.
//   - The thread index (threads.go): every chat or normal message with a
//     thread is counted under it; headlines and errors keep no thread state.
//     Peer values over 256 bytes or with control characters are ignored, a
//     parent equal to its thread is dropped, and at most 200 threads per
//     peer and 5000 per account are kept (the least recently active go;
//     current threads stay). A terminate closes a thread, sent
//     (CloseThread) or received; a reply goes to the full JID it answers
//     unless presence showed it gone (RFC 6121 §5.2.1).
//   - Freshness (D-9): a persisted lock is trusted while a live observer
//     (listen) has been connected since the lock was recorded; otherwise the
//     locked full JID is pinged first and an error or timeout unlocks.
//   - Chat states (chatstate.go, XEP-0085) for the REPL: active with every
//     message, composing once while typing, paused and inactive after
//     delays, gone only on an explicit close (D-6); they go out until the
//     peer's reply shows no support (§5.1) and never repeat a standalone
//     state (§5.3). AutoAway is XEP-0296 §3.3's overall inactivity. Both
//     take the time of each event from the caller.
//
// # Concurrency
//
// A Conn is one stream. Writes are serialised by a mutex and may come from
// any goroutine; reads come from exactly one goroutine, the Session's
// reader. The reader answers IQ requests itself (ping, disco#info, an error
// for anything else), hands IQ responses to the waiting Request, and passes
// messages and presences either to the Events channel (listen) or to a
// handler called synchronously in the reader (send, so a bounce is always
// recorded before the answer to a later ping is seen). Any read error ends
// the connection: nothing is read after a decode error, and reconnecting
// means dialling a new Session.
//
// Stream management (XEP-0198, smacks.go) outlives the connections: an
// observer's StreamManagement (one per ObserverDialer) holds the
// resumption id, the inbound count and the outbound stanzas not yet
// acknowledged, under its own mutex, and each connection works on it
// under a generation number, so a replaced connection's late reader
// changes nothing. The writer counts a stanza under the Conn's write
// lock, so the count follows the order on the wire; the reader answers
// <r/> with the prefix of the stream that is handled: an IQ at once, a
// message or presence once Listen has recorded and emitted it
// (Session.Handled). Nothing of it is persisted: after a crash the
// session is lost, and a new one is bound.
//
// State changes are read-modify-write transactions on the state file
// (statefile.Store.Update, an exclusive flock on a sidecar file), so any
// number of sends and one listen can change it at once without losing an
// update. listen applies a stanza to the state file, and appends it to the
// history, before it emits the stanza, so whoever reacts to the output sees
// the new state. A send appends its history records after the server
// confirmed them (in bursts for --lines).
//
// # Why not go-xmpp's stream
//
// github.com/xmppo/go-xmpp, up to v0.4.1 (the newest the module proxy
// serves), writes an available presence right after binding, with no
// option to skip it, and a one-shot send must not broadcast one: by
// XEP-0296 every contact's client would unlock from us. Its Recv also
// drops the message id, the to attribute and the thread's parent, which
// bounce detection and threads need, and it has no SASL2 or FAST. So this
// package speaks the stream itself with encoding/xml (RFC 6120: STARTTLS,
// SCRAM-SHA-1/256/512 or PLAIN inside TLS, or the same over SASL2 with
// FAST tokens, resource binding) and builds every stanza as a typed
// struct. A test (TestImportDirection) keeps go-xmpp out of the build.
//
// # Login
//
// srv.go finds the server (SRV _xmpps-client and _xmpp-client merged,
// XEP-0368; the domain itself only without SRV records), tls.go builds
// the TLS configuration (verification against the JID's domain, SNI,
// ALPN "xmpp-client" for direct TLS, the TLS floor) and the channel
// binding data (tls-exporter, tls-server-end-point, tls-unique), and
// sasl.go picks the SASL mechanism and GS2 header (RFC 5802 §6: a -PLUS
// variant whenever the server offers one jab can bind; PLAIN last, and
// never with NoPlain). They are pure or take injected resolvers, so unit
// tests need no DNS and no server.
//
// When the server offers the Extensible SASL Profile (XEP-0388, "SASL2"),
// sasl2.go runs the same mechanisms inside <authenticate/>, with no stream
// restart, and then binds the resource with RFC 6120 binding; Bind 2
// (XEP-0386) is not used, because it derives the resource from the stable
// user-agent id, and concurrent one-shot runs of one account need
// resources of their own. With Config.FAST set and FAST offered (XEP-0484)
// the first login asks for a token and stores it (statefile's
// fast-<key>.json); later logins authenticate with the HT-SHA-256 mechanism
// the token was issued for in one round trip, and check the server's
// answer. fast.go decides, as a pure function of the stored token, the
// clock and the offer (planFAST), whether to use the token, ask for a new
// one or drop it, and which channel binding the token's mechanism uses
// (chooseHT: tls-exporter on TLS 1.3, tls-unique on TLS 1.2, then
// tls-server-end-point, -NONE last). A refused token is deleted and Dial
// logs in with the password on a fresh connection. The debug output never
// shows the initial response or the server's success, which carries the
// token.
package session
