package main

import (
	"fmt"
	"strings"
)

// testPackage is the package whose integration tests every mutant runs.
const testPackage = "./commands/"

// mutant breaks one rule: it replaces old, which must occur exactly once
// in file, with new, and names the tests (a -run pattern over
// testPackage, plain test names joined by |, each optionally ending in $)
// that must then fail. TestTable checks every row against the tree.
type mutant struct {
	name, old, new, tests string
	file                  string // default session/rules.go
}

// path is the mutant's file, relative to the repository root.
func (m mutant) path() string {
	if m.file == "" {
		return "session/rules.go"
	}
	return m.file
}

// apply returns src with the mutant's change. Its old text must occur
// exactly once: a text that is gone means the code moved, and one that
// occurs twice would mutate whichever comes first, maybe not the rule.
func (m mutant) apply(src string) (string, error) {
	switch n := strings.Count(src, m.old); n {
	case 1:
		return strings.Replace(src, m.old, m.new, 1), nil
	case 0:
		return "", fmt.Errorf("mutant %q: its text is no longer in %s; update the table", m.name, m.path())
	default:
		return "", fmt.Errorf("mutant %q: its text occurs %d times in %s; make it unique", m.name, n, m.path())
	}
}

// testNames returns the test functions m.tests names.
func (m mutant) testNames() []string {
	var names []string
	for _, alt := range strings.Split(m.tests, "|") {
		names = append(names, strings.TrimSuffix(strings.TrimPrefix(alt, "^"), "$"))
	}
	return names
}

// mutants is the table `make mutants` runs, one rule each.
var mutants = []mutant{
	{"XEP-0296 §2.3: presence does not unlock", `unlock(&c, UnlockPresence, in.Time)`, `_ = UnlockPresence`, "TestRulesPresenceUnlocks", ""},
	{"XEP-0085 §5.7: gone keeps the thread", "c.Thread, c.PeerThreaded = \"\", false\n\t\treturn c, true\n\t}\n\tif !in.Delayed", "return c, true\n\t}\n\tif !in.Delayed", "TestRulesGone", ""},
	{"XEP-0296 §2.4: gone does not unlock", `unlock(&c, UnlockGone, in.Time)`, `_ = UnlockGone`, "TestRulesGone", ""},
	{"D-15: delayed messages lock", `if !in.Delayed && !in.Occupant {`, `if !in.Occupant {`, "TestRulesOfflineMessageDoesNotLock", ""},
	{"XEP-0296 §2.3: no re-lock to a new resource", `lock(&c, in.From.String(), statefile.LockMessage, in.Time)`, "if c.LockedTo == \"\" {\n\t\t\t\tlock(&c, in.From.String(), statefile.LockMessage, in.Time)\n\t\t\t}", "TestRulesRelockOtherResource", ""},
	{"XEP-0296 §2.2: chat never locks", `lock(&c, in.From.String(), statefile.LockMessage, in.Time)`, `_ = statefile.LockMessage`, "TestRulesLockOnChat", ""},
	{"D-5: an error does not unlock", `unlock(&c, UnlockError, in.Time)`, `_ = UnlockError`, "TestRulesErrorMessage", ""},
	{"D-4: normal from another resource keeps the lock", `unlock(&c, UnlockResource, in.Time)`, `_ = UnlockResource`, "TestRulesNonChatMessages", ""},
	{"D-7: a thread-less chat always starts a thread", `case c.Thread != "" && !c.PeerThreaded:`, `case false:`, "TestRulesThreadlessPeer", ""},
	{"XEP-0201: the peer's thread is not adopted", `c.Thread, c.PeerThreaded = in.Thread, true`, `c.PeerThreaded = true`, "TestRulesUnknownThread|TestRulesPeerThreadExact", ""},
	{"XEP-0296 §3.2: idle never unlocks", `return lockIdle > 0 && now.Sub(LastActive(c)) >= lockIdle`, `return false`, "TestRulesIdleUnlock", ""},
	{"D-9: a stale lock is never checked", `case out.Trusted:`, `case true:`, "TestRulesStaleLockChecked", ""},
	{"D-3: subscribe unlocks", `case "", "unavailable", "error":`, `case "", "unavailable", "error", "subscribe":`, "TestRulesPresenceTypes", ""},
	{"D-9: a live observer's locks are not trusted", `Trusted: exists && c.LockedTo != "" && (p.o.Trust || p.env.trusted(account, LockTime(c))),`, `Trusted: false,`, "TestRulesFreshnessTrusted", "session/send.go"},
	{"D-9: a lock older than the observer is trusted", `return !o.ConnectedSince.After(at)`, `return true`, "TestRulesFreshnessRestartedListen", "session/send.go"},
	{"--lines keeps the first route", `if sd.routes == nil || (!sd.inBurst && sd.planner.Stale()) {`, `if sd.routes == nil {`, "TestCLILinesFollowState", "session/sender.go"},
	{"XEP-0201 0.3 §5: close sends no <gone/>", `msgs = append(msgs, GoneMessage(to, id))`, `_ = GoneMessage`, "TestThreadsClose$", "session/close.go"},
	{"XEP-0155: terminate carries the legacy FORM_TYPE", `{Var: "FORM_TYPE", Values: []string{"urn:xmpp:ssn"}},`, `{Var: "FORM_TYPE", Values: []string{"urn:xmpp:chatneg"}},`, "TestThreadsClose$", "session/close.go"},
	{"XEP-0201 0.3 §5: a received terminate does not close", `changed = MarkClosed(a.Threads, in.Thread, now) || changed`, `_ = MarkClosed`, "TestThreadsReceivedTerminate", "session/listen.go"},
	{"RFC 6121 §5.2.1: replies ignore gone resources", "if g == full.String() {\n\t\t\treturn full.Bare()", "if g == full.String() {\n\t\t\treturn full.String()", "TestThreadsReplyChat", "session/threads.go"},
	{"0.3 §8: replies carry no In-Reply-To", `if inReplyTo != "" {`, `if false {`, "TestThreadsReplyChat", "session/send.go"},
	{"1.0 §3.3: forks carry no parent", `m.Thread = &Thread{Value: r.Thread, Parent: r.Parent}`, `m.Thread = &Thread{Value: r.Thread}`, "TestThreadsFork", "session/send.go"},
	{"0.3 §7: liveness pings carry no ThreadID", `if thread != "" {
		h, err := xml.Marshal`, `if false {
		h, err := xml.Marshal`, "TestThreadsPingThreadID", "session/session.go"},
	{"XEP-0184: listen answers no receipt request", `if r := ReceiptFor(m); r != nil && auth.allows(m.From) {`, `if r := ReceiptFor(m); r != nil && false {`, "TestListenAnswersReceipts", "session/listen.go"},
	{"XEP-0184: send --receipt does not wait", `return sd.receipts.Wait(ctx, d)`, `return nil`, "TestSendReceipt", "session/sender.go"},
	{"bot: the reply leaves the thread", `Thread: ev.Thread, LockIdle: b.o.LockIdle, Trust: s == arrived && !ev.Delayed}`, `LockIdle: b.o.LockIdle, Trust: s == arrived && !ev.Delayed}`, "TestExecBotReplies", "session/bot.go"},
	{"bot: CMD runs for headlines", `if ev.Type != "chat" && ev.Type != "normal" {`, `if ev.Type == "groupchat" {`, "TestExecSkips", "session/bot.go"},
	{"bot: the timeout kills CMD but not its process group", `return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)`, `return cmd.Process.Kill()`, "TestExecFailureAndTimeout", "commands/listen_bot_unix.go"},
	{"wait-reply: a message in another thread is taken", `if t := m.ThreadValue(); t != "" && !w.threads[t] {`, `if t := m.ThreadValue(); t == "\x00" && !w.threads[t] {`, "TestSendWaitReply$", "session/waitreply.go"},
	{"wait-reply: not online while waiting", `if err := sd.s.SendPresence(0); err != nil {`, `if err := error(nil); err != nil {`, "TestSendWaitReply$", "session/sender.go"},
	{"XEP-0184 §8: receipts go to strangers", `return a.ok[bare]`, `return true`, "TestListenAnswersReceipts", "session/listen.go"},
	{"D-9: lock_seen does not confirm the lock", `func LockTime(c statefile.Conversation) time.Time { return latest(c.LockedAt, c.LockSeen) }`, `func LockTime(c statefile.Conversation) time.Time { return c.LockedAt }`, "TestRulesFreshnessLockSeen", ""},
	{"bot: listen waits for CMD when it ends", `	if b.cancel != nil {
		b.cancel()
	}`, ``, "TestExecStopsWithListen", "session/bot.go"},
	{"wait-reply: an old offline answer is taken", `|| ev.Body == "" || ev.Delayed {`, `|| ev.Body == "" {`, "TestSendWaitReply$", "session/waitreply.go"},
	{"D-9: the send pipeline never pings a stale lock", `sd.planner.Verified(c.JID, sd.s.PingThread(ctx, c.JID, c.Thread) == nil)`, `sd.planner.Verified(c.JID, true)`, "TestRulesStaleLockChecked", "session/sender.go"},
	{"raw: a mismatched end tag is accepted", `if len(scopes) == 0 || scopes[len(scopes)-1].name != rawName(t.Name) {`, `if len(scopes) == 0 {`, "TestRawBadInput", "session/raw.go"},
	{"RFC 6120 §7.7.2.2: a second observer takes the resource", `return nil, &ObserverError{PID: obs.PID, Host: obs.Host, Resource: resource}`, `_ = obs`, "TestReplRefusesSecondObserver|TestListenConflict", "session/resource.go"},
	{"XEP-0085: /close of a normal thread sends <gone/>", "if chat {\n\t\t\tres.Gone = m.Close(c.env.Now()) != \"\"", "if _ = chat; true {\n\t\t\tres.Gone = m.Close(c.env.Now()) != \"\"", "TestReplPipeCloseNormalThread", "session/chat.go"},
	{"issue 11: <starttls/> waits for the stream features", `f, err := c.openStream(domain, "", "<starttls xmlns='"+nsTLS+"'/>")`, "f, err := c.openStream(domain, \"\", \"\")\n\t\tc.write([]byte(\"<starttls xmlns='\" + nsTLS + \"'/>\"))", "TestLoginRoundTrips", "session/conn.go"},
	{"issue 11: the binding request waits for the stream features", "if err := c.writeStreamHeader(domain, cfg.JID.Bare(), bindRequest(cfg.Resource)); err != nil {\n\t\treturn err\n\t}\n\tc.restarted = true\n\treturn c.bound(cfg)", "if err := c.writeStreamHeader(domain, cfg.JID.Bare(), \"\"); err != nil {\n\t\treturn err\n\t}\n\tif err := c.restartFeatures(); err != nil {\n\t\treturn err\n\t}\n\treturn c.bind(cfg)", "TestLoginRoundTrips", "session/conn.go"},
	{"issue 11: the first stanzas wait for the binding answer", "cfg.PipelineBind = true", "cfg.PipelineBind = false", "TestSendRoundTripsOverDelay", "session/sender.go"},
	{"issue 11: the stream closes after the confirming ping", "\t\tconfirm = sd.bounces.ConfirmClose", "\t\t_ = sd.bounces.ConfirmClose", "TestSendRoundTripsOverDelay", "session/sender.go"},
	{"hand-off: a request for another account is served", "case req.Send.Account != h.o.Account.Bare():", "case false && req.Send.Account != h.o.Account.Bare():", "TestHandoffBadClients", "session/handoff.go"},
	{"hand-off: --no-handoff is ignored", "\tif noHandoff {", "\tif false && noHandoff {", "TestHandoffOff", "commands/cmd_send.go"},
	{"issue 11: a route change waits for Flush", "if !changed || !routing {", "if !changed || true {", "TestCLISendNewThread", "session/send.go"},
	{"XEP-0198 §5: unacknowledged stanzas are not resent on resumption", `			out = append(out, d...)`, `			_ = d`, "TestSmacksResumeResendsHandoff", "session/smacks_conn.go"},
	{"XEP-0198 §5: a refused resumption resends nothing", `	for _, d := range resend {
		if err := c.writeStanza(d); err != nil {`, `	for _, d := range resend[:0] {
		if err := c.writeStanza(d); err != nil {`, "TestSmacksResumeRefusedResends", "session/smacks_conn.go"},
	{"XEP-0198 §5: a resumed session sends presence again", `	if !s.Resumed() { // a resumed session is online already (XEP-0198 §5)`, `	if true { // a resumed session is online already (XEP-0198 §5)`, "TestSmacksResumeResendsHandoff", "session/listen.go"},
	{"issue 3: oversized peer threads are stored", `if s == "" || len(s) > MaxThreadLen || !utf8.ValidString(s) {`, `if s == "" || !utf8.ValidString(s) {`, "TestThreadsOversizedRemote", "session/threads.go"},
	{"item 79: a carbon wrapper from one of our full JIDs accepted", `if m.From != "" && m.From != account {`, `if m.From != "" && BareOf(m.From) != account {`, "TestCarbonForged", "session/carbons.go"},
	{"item 79: a carbon wrapper from anyone accepted", `if m.From != "" && m.From != account {`, `if false {`, "TestCarbonForged", "session/carbons.go"},
	{"item 81: a received carbon is taken as sent", `if u.Dir == CarbonSent {`, `if u.Dir != "" {`, "TestCarbonReceivedLocks", "session/listen.go"},
	{"item 82: a sent carbon's lock does not follow its to", `lock(&c, s.To.String(), statefile.LockForced, s.Time)`, `_ = statefile.LockForced`, "TestCarbonSentFollowsTo", "session/carbons.go"},
	{"item 83: a gone by carbon keeps the lock", `unlock(&c, UnlockGone, s.Time)`, `_ = UnlockGone`, "TestCarbonGoneUnlocks", "session/carbons.go"},
	{"item 84: the bot answers carbons", `if ev.Carbon != "" || ev.Sent {`, `if false {`, "TestCarbonNoAutoAnswer", "session/bot.go"},
	{"item 80: carbons asked of a server that does not offer them", "\tif !serverFeatures[nsCarbons] {", "\tif false && !serverFeatures[nsCarbons] {", "TestCarbonsNotOffered", "session/carbons.go"},
	{"item 88: a stanza-id is trusted where the account offers no archive or stanza-id", "\ttrustSID = accountFeats[nsMAM] || accountFeats[nsSID]", "\ttrustSID = true", "TestStanzaIDNotTrusted", "session/listen.go"},
	{"item 87: an archived message locks and unlocks", "if in.Archived {\n\t\treturn applyArchived(c, exists, in)\n\t}", "if false {\n\t\treturn applyArchived(c, exists, in)\n\t}", "TestCatchUpSinceLastRun", ""},
	{"XEP-0045 §10.1.1: a room the join created is used", "if p.MUCUser.Has(StatusCreated) {", "if false {", "TestRoomSendNoSuchRoom", "session/muc.go"},
	{"XEP-0045 §7.4: a bounced room message counts as delivered", "case m.Type == \"error\":\n\t\t\treturn EchoBounced, id", "case m.Type == \"error\":\n\t\t\treturn EchoOK, id", "TestRoomSendBounced", "session/muc.go"},
	{"XEP-0045 §7.4: send --room does not wait for the echo", "if len(r.pending) > 0 {\n\t\t\t\treturn false", "if len(r.pending) < 0 {\n\t\t\t\treturn false", "TestRoomSend$", "session/room_send.go"},
	{"XEP-0045 §7.2.9: a nick conflict is not retried", `if r.step.Kind == JoinRefused && r.step.Cond == "conflict" && !r.retried {`, `if false {`, "TestRoomSendRefusals", "session/room_send.go"},
	{"XEP-0045 §8.2: listen does not rejoin after a kick", "s.Conn().Send(JoinPresence(room, lr.nick, lr.t.Password))\n\t\tev.Own = true", "ev.Own = true", "TestRoomListenKickBan", "session/muc_listen.go"},
	{"listen --room: our own echo is not marked own", "Own: from.Resource != \"\" && from.Resource == lr.nick}", "Own: false}", "TestRoomListen$", "session/muc_listen.go"},
	{"item 73: room traffic reaches the one-to-one rules", "if ev, show, ok := o.Rooms.Handle(ctx, s, v); ok {", "if ev, show, ok := o.Rooms.Handle(ctx, s, v); ok && false {", "TestRoomListen$|TestRoomPM", "session/listen.go"},
	{"room bot: answers its own echo", `ev.Type == "groupchat" && !ev.Own && !ev.Delayed`, `ev.Type == "groupchat" && !ev.Delayed`, "TestRoomExec", "session/muc_bot.go"},
	{"room bot: answers messages not addressed to it", `ev.Body != "" && Addressed(ev.Body, b.o.Rooms.Nick(ev.Room))`, `ev.Body != ""`, "TestRoomExec", "session/muc_bot.go"},
	{"item 77: a private message carries no muc#user <x/>", "m.MUCUser = privateX(r, typ) // muc.go", "", "TestRoomPM", "session/send.go"},
	{"item 76: a PM conversation does not follow a nick change", "cv.Peer = next // the old key forwards to the new nick", "_ = next", "TestRoomPM", "session/muc_occupant.go"},
	{"item 76: an occupant who left is not marked gone", "cv.Gone = append(cv.Gone, full)", "_ = full", "TestRoomPM", "session/muc_occupant.go"},
	{"item 74: send --pm keys the conversation by the room", "c = statefile.Conversation{Peer: ConversationKey(out.To, out.Occupant), Occupant: out.Occupant}", "c = statefile.Conversation{Peer: out.To.Bare()}", "TestRoomSendPM", ""},
	{"D-13: the REPL starts a new thread for every room line", "if lr.thread == \"\" || fresh {", "if true {", "TestRoomRepl", "session/muc_chat.go"},
	{"hand-off: a room send is not handed to the listen in the room", "\treturn h.attachRoom(s, hs)\n}", "\treturn nil, errNotInRoom\n}", "TestRoomSendHandoff", "session/muc_handoff.go"},
	{"item 73: an occupant's full JID becomes a lock on the room", "\tsd.recognizeRooms(ctx) // muc_send.go: item 73\n", "", "TestRoomOccupantByDisco", "session/sender.go"},
	{"REPL: the occupants already in a room are not known", "if lr.phase == roomJoining && p.Type == \"\" {", "if false {", "TestReplRoomCompletion|TestRoomReplTerminal", "session/muc_listen.go"},
	{"REPL: the prompt does not name the room and our nick", "if r.chat.IsRoom(peer) {\n\t\treturn r.roomPrompt(peer)", "if false {\n\t\treturn r.roomPrompt(peer)", "TestReplRoomPrompt|TestRoomReplTerminal", "commands/cmd_repl.go"},
	{"threads list: no room threads", "\t\tfor _, t := range rooms {\n\t\t\tif peer == \"\" || t.Peer == peer {", "\t\tfor _, t := range rooms[:0] {\n\t\t\tif peer == \"\" || t.Peer == peer {", "TestRoomThreads", "commands/cmd_threads_view.go"},
	{"threads: our room messages recorded without our nick", "\tif r.Type == \"groupchat\" {\n\t\tr.Nick = nick", "\tif false {\n\t\tr.Nick = nick", "TestRoomThreads", "session/send.go"},
	{"threads: a room message of an occupant we talk to in private is hers", "if rec.Type == \"groupchat\" {\n\t\t\t// A room's message", "if false {\n\t\t\t// A room's message", "TestRoomThreads", "session/threadview.go"},
	{"config: a room's nick is not used", "case rc.Nick != \"\":\n\t\t\tnick = rc.Nick", "case false:\n\t\t\tnick = rc.Nick", "TestRoomConfigPerRoom", "commands/cmd_send_room.go"},
	{"config: --nick does not beat a room's nick", "case givenIn(g.settings, flagNick):\n\t\t\tnick = configured", "case false:\n\t\t\tnick = configured", "TestRoomConfigPerRoom", "commands/cmd_send_room.go"},
	{"config: a room's password source is not used", "if (rc.PasswordFile != \"\" || rc.PasswordCmd != \"\") && !givenIn(", "if false && !givenIn(", "TestRoomConfigPerRoom", "commands/cmd_send_room.go"},
	{"config: listen joins a room marked autojoin = false", "\t\t\t\t\tif r.Autojoin {", "\t\t\t\t\tif true {", "TestRoomConfigPerRoom", "commands/cmd_listen.go"},
	{"XEP-0045 §7.2.10: a full room is not said to be full", "case \"service-unavailable\":\n\t\treturn fmt.Sprintf(\"room %s is full\", e.Room)", "case \"full-mutant\":\n\t\treturn fmt.Sprintf(\"room %s is full\", e.Room)", "TestRoomSendRefusals", "session/muc.go"},
	{"XEP-0045 §7.4: a message the room never echoed counts as delivered", "failed = append(failed, fmt.Sprintf(\"%s: no echo within %s\", r.jid, rs.o.Timeout))", "_ = fmt.Sprintf(\"%s: no echo within %s\", r.jid, rs.o.Timeout)", "TestRoomSendNoEcho", "session/room_send.go"},
	{"XEP-0045 §7.2.9: a nick conflict is retried more than once", `if r.step.Kind == JoinRefused && r.step.Cond == "conflict" && !r.retried {`, `if r.step.Kind == JoinRefused && r.step.Cond == "conflict" {`, "TestRoomSendRefusals", "session/room_send.go"},
	{"item 74: a private message is keyed by the room, not the occupant", "func ConversationKey(j JID, occupant bool) string {\n\tif occupant {", "func ConversationKey(j JID, occupant bool) string {\n\tif false && occupant {", "TestRoomPM|TestRoomSendPM", ""},
	{"item 75: an occupant's status change makes her private conversation unreachable", "case p.Type == \"\" && !self:\n\t\tc.Kind = RoomOccupantJoined", "case p.Type == \"\" && !self:\n\t\tc.Kind = RoomOccupantLeft", "TestRoomPM", "session/muc_listen.go"},
	{"item 77: send --pm sends group chat", "m = BuildMessage(route, \"chat\", \"\", out.Body, out.InReplyTo) // §7.5, item 77", "m = BuildMessage(route, \"groupchat\", \"\", out.Body, out.InReplyTo) // §7.5, item 77", "TestRoomSendPM", "session/room_send.go"},
	{"item 78, D-13: every send --room continues one thread", "\t\trs.thread = NewID() // D-13: a new topic\n\t}\n\tif o.PM", "\t\trs.thread = \"d13-one-thread\"\n\t}\n\tif o.PM", "TestRoomSend$|TestRoomSendReplyTo", "session/room_send.go"},
	{"item 78, D-13: send --room --reply-to leaves the message's thread", "o.thread, o.inReplyTo = r.Thread, session.InReplyToOf(r)", "o.inReplyTo = session.InReplyToOf(r)", "TestRoomSendReplyTo", "commands/cmd_send_room.go"},
	{"item 78, D-13: the room bot's reply leaves the message's thread", "return BuildMessage(Route{To: ev.Room, Thread: ev.Thread}, \"groupchat\", \"\", body, ev.ID)", "return BuildMessage(Route{To: ev.Room}, \"groupchat\", \"\", body, ev.ID)", "TestRoomExec", "session/muc_bot.go"},
	{"muc#mam: rooms are not caught up from their archive", "case !feats[nsMAM]:\n\t\t\tbase.env.debugf", "case true:\n\t\t\tbase.env.debugf", "TestRoomCatchUp", "session/muc_catchup.go"},
	{"muc#mam: a live room message does not move the room's position", "return changedIf(moveRoomArchive(st.Account(r.account), ev.Room, ev.roomSID))", "return errNoChange", "TestRoomCatchUp", "session/muc_catchup.go"},
	{"muc#mam: the room's position is the account's", "return a.RoomArchive[c.room.jid]", "return a.ArchiveLast", "TestRoomCatchUp", "session/muc_catchup.go"},
	{"muc#mam: the room bot answers delayed and archived messages", `!ev.Own && !ev.Delayed && !ev.Archived && ev.Error == ""`, `!ev.Own && ev.Error == ""`, "TestRoomCatchUp", "session/muc_bot.go"},
	{"XEP-0363 §4: a plain http slot is used", `case u.Scheme == "http" && !insecure:`, `case false:`, "TestSendFilePlainHTTP", "session/upload.go"},
	{"XEP-0363 §3: no size check before the slot request", `	if max > 0 && size > max {
		return &FileTooLargeError{Name: name, Size: size, Max: max}`, `	if false {
		return &FileTooLargeError{Name: name, Size: size, Max: max}`, "TestSendFileOverLimit", "session/upload.go"},
	{"upload: a failed PUT is announced anyway", `		if err := o.HTTP.Put(ctx, slot, f, progress); err != nil {
			return nil, err
		}`, `		_ = o.HTTP.Put(ctx, slot, f, progress)`, "TestSendFileCutHalfway", "session/upload_run.go"},
	{"upload: the text goes out after a failed upload", `	urls, err := uploadAll(ctx, env, g, o.files, slots)
	if err != nil {
		return nil, err
	}`, `	urls, _ := uploadAll(ctx, env, g, o.files, slots)`, "TestSendFileQuota|TestSendFileCutHalfway", "commands/cmd_send_file.go"},
	{"XEP-0066: a file's message carries no OOB URL", `		m.OOB = []OOB{{URL: u}}`, `		_ = u`, "TestSendFile$|TestSendFileHandoff", "session/upload.go"},
	{"upload: the file is held in memory", `	var body io.Reader = io.NewSectionReader(u.f, 0, u.Size)`, `	all, _ := io.ReadAll(io.NewSectionReader(u.f, 0, u.Size))
	var body io.Reader = io.NewSectionReader(u.f, int64(len(all))-u.Size, u.Size)`, "TestSendFile1GiB", "session/upload_http.go"},
	{"upload: the file name is not sanitised", `u := &UploadFile{Given: path, Name: SafeFilename(name)}`, `u := &UploadFile{Given: path, Name: name}`, "TestSendFile$|TestSendFileStdin", "session/upload_http.go"},
	// OpenPGP for XMPP (XEP-0373/0374): trust, the recipient's checks,
	// never the fallback body, never --exec for an unverified message.
	{"D-21: a swapped key is used", `if len(unpinned) > 0 {`, `if false {`, "TestOXRefused", "session/ox/trust.go"},
	{"D-21: --trust always pins the first key", `if mode == TrustAlways {`, `if false {`, "TestOXRefused", "session/ox/trust.go"},
	{"XEP-0373 §3.2: the signed to is not checked", `if !addressed {`, `if !addressed && false {`, "TestOXReceiveFromGPG", "session/ox/signcrypt.go"},
	{"D-22: the replay window is not checked", `if d := t.Sub(ref); d > ReplayWindow || d < -ReplayWindow {`, `if d := t.Sub(ref); false && d > 0 {`, "TestOXReceiveFromGPG", "session/ox/signcrypt.go"},
	{"XEP-0380: an unreadable message shows its fallback body", `out.Body, out.Subject = "", ""`, `_ = out`, "TestOXReceiveFromGPG", "session/e2e.go"},
	{"D-23: --exec runs for an unverified message", `if ev.Encrypted && !ev.Verified {`, `if false {`, "TestOXReceiveFromGPG", "session/bot.go"},
	{"D-23: the bot answers an encrypted message in plaintext", `so.E2E = b.env.E2E`, `_ = b.env.E2E`, "TestOXReceiveFromGPG", "session/bot.go"},
	// The companion jab-ox (commands/openpgp.go): plain jab hands over
	// before it reads stdin, and a copy of jab named jab-ox does not loop.
	{"jab-ox: a copy of jab named jab-ox runs itself again", `if env.Getenv(envOXExec) == strconv.Itoa(execedPid()) {`, `if false {`, "TestOXCompanionNoLoop|TestOXNoLoop", "commands/openpgp.go"},
	{"jab-ox: send reads stdin before handing over", "\tif o.encrypt {\n\t\tif err := needOX(env, g.debug); err != nil {", "\tif false {\n\t\tif err := needOX(env, g.debug); err != nil {", "TestOXCompanionMissing|TestOXReexec", "commands/cmd_send.go"},
}

// sessionPackage is the package whose tests kill sessionMutants.
const sessionPackage = "./session/"

// sessionMutants break rules that only a hostile or broken server
// exercises, which the real Prosody of testPackage never is: the fake
// servers of session's own tests kill them.
var sessionMutants = []mutant{
	// Against Prosody an h that stays 0 goes unnoticed: the server
	// resends its whole queue on resumption (listen drops what it has
	// printed) and, past 500 stanzas, refuses to resume but puts the
	// queue in offline storage, which the new session gets.
	{"XEP-0198: inbound stanzas are not counted (h stays 0)", `		m.in.read(queued)`, `		_ = queued`, "TestSmacksAnswersR", "session/smacks.go"},
	{"XEP-0198 §4: an h beyond what was sent is accepted", `if n > o.unacked() {`, `if false && n > o.unacked() {`, "TestSmacksAck|TestResumedHandledTooHigh|TestAckHandledTooHigh", "session/smacks.go"},
	{"XEP-0198 §4: a handled stanza is not counted before the pending ones", `		return i.pending[0] - 1`, `		return i.received`, "TestSmacksInboundCount", "session/smacks.go"},
	{"item 87: the queryid of a result is not checked", `case qid == "" || r.QueryID != qid:`, `case false:`, "TestCatchUpHostile|TestAcceptResult", "session/mam.go"},
	{"item 87: a result from someone else accepted", `if m.MAMResult != nil && m.From != "" && m.From != account {`, `if false {`, "TestCatchUpHostile|TestAcceptResult", "session/mam.go"},
	{"item 87: a room archive result from anyone accepted", "if m.MAMResult != nil && m.From != room {", "if false {", "TestAcceptRoomResult", "session/muc_catchup.go"},
	{"item 73: a chat from a joined room's bare JID becomes a one-to-one conversation", `if x.Type != "groupchat" && x.Type != "error" && strings.Contains(x.From, "/") {`, `if x.Type != "groupchat" && x.Type != "error" && (strings.Contains(x.From, "/") || true) {`, "TestRoomsHandle", "session/muc_listen.go"},
	{"catch-up: a repeated page is asked for again", `case p.Lasts[f.Last] || f.Last == p.After:`, `case false:`, "TestCatchUpHostile|TestNextPage", "session/mam.go"},
	{"catch-up: no limit", `if p.Applied >= p.Limit {
		c.skipped++`, `if false {
		c.skipped++`, "TestCatchUpFlood", "session/catchup.go"},
	{"catch-up: archived messages are printed twice", "if c.seen.has(keys) {\n\t\treturn c.position(ctx, id)", "if false {\n\t\treturn c.position(ctx, id)", "TestCatchUpPages", "session/catchup.go"},
	{"item 82: a sent carbon's inner from not checked", `if from.Bare() != account || !from.IsFull() {`, `if false {`, "TestApplyForgedCarbons|TestUnwrapCarbon", "session/carbons.go"},
	{"a carbon nested in a carbon accepted", "if in.CarbonReceived != nil || in.CarbonSent != nil || in.MAMResult != nil {\n\t\t// A copy of a copy", "if false {\n\t\t// A copy of a copy", "TestApplyForgedCarbons|TestUnwrapCarbon", "session/carbons.go"},
	{"item 85: a MUC PM carbon of a room not joined accepted", `if in.MUCUser != nil && (joined == nil || !joined(peer.Bare())) {`, `if false {`, "TestApplyForgedCarbons|TestUnwrapCarbon", "session/carbons.go"},
	// Prosody ignores headers it does not read: a fake service sees them.
	{"XEP-0363 §4: any slot header goes with the PUT", `canon, ok := slotHeaders[strings.ToLower(name)]`, `canon, ok := name, true`, "TestCheckSlot|TestUploadPut", "session/upload.go"},
	{"XEP-0363 §8: newlines kept in slot headers", `Value: stripNewlines(h.Value)}`, `Value: h.Value}`, "TestCheckSlot", "session/upload.go"},
	{"upload: a slot URL's user info is used", `	case u.User != nil:
		return "carries user info"`, `	case false:
		return "carries user info"`, "TestCheckSlot", "session/upload.go"},
	{"upload: --timeout bounds the whole upload, not a stall", `wait: answerWait(idle)}`, `wait: idle}`, "TestUploadSlowAndStalled", "session/upload_http.go"},
	// jab's own PUT client (upload_http.go) follows no redirect at all:
	// what can break is a 3xx taken for success.
	{"upload: a redirect of the PUT passes for success", `if code < 200 || code > 299 {`, `if code < 200 || code > 399 {`, "TestUploadPut|TestUploadAnswers", "session/upload_http.go"},
	{"upload: an answer's headers are not bounded", `if n == maxAnswerHeaders {`, `if false {`, "TestUploadAnswers", "session/upload_http.go"},
	{"upload: an answer before the whole file passes for success", `return a.code, a.status, errors.New("the service answered before it had the whole file")`, `return a.code, a.status, nil`, "TestUploadEarlyRefusal", "session/upload_http.go"},
	{"channel binding: a server offering -PLUS with no usable type gets a login without binding", "if anyPlus && len(have) > 0 && mode != BindingNone {", "if false {", "TestChooseMechanism", "session/sasl.go"},
	{"channel binding: the TLS 1.2 retry also where the server listed its types", "choice.cbType == cbExporter && cbOffered == nil && version", "choice.cbType == cbExporter && version", "TestRefusedBinding", "session/binding.go"},
	{"channel binding: the TLS 1.2 retry below --tls-min 1.3", "if !capped && tlsMin < tls.VersionTLS13 {", "if !capped {", "TestBindingNext", "session/binding.go"},
	{"channel binding: a failed retry always blamed on the binding", "ae.Condition == \"not-authorized\" && !mentionsBinding(ae.Text):\n\t\treturn retryErr", "false:\n\t\treturn retryErr", "TestAfterRetry", "session/binding.go"},
	{"channel binding: the TLS 1.2 record is not kept", "return store.WriteBinding(statefile.Binding{Account: account, Type: cbUnique, Since: now})", "return nil", "TestRememberBinding", "session/binding.go"},
	{"a private message's room is not pinged before the send is confirmed", "		if !r.Conv.Occupant {\n\t\t\tcontinue", "		if true {\n\t\t\tcontinue", "TestRoomsToConfirm", "session/sender.go"},
}

// statefileMutants break the state directory's own rules, which its
// unit tests check.
var statefileMutants = []mutant{
	{"durability: WithSyncLater ignored (a hand-off answer waits for every fsync)", "if later, ok := ctx.Value(syncLaterKey{}).(func(func() error)); ok && later != nil {", "if later, ok := ctx.Value(syncLaterKey{}).(func(func() error)); false && ok && later != nil {", "TestSyncLater", "statefile/durable.go"},
}

// suites pairs each table with the package whose tests run against it.
var suites = []struct {
	pkg     string
	mutants []mutant
}{{testPackage, mutants}, {sessionPackage, sessionMutants}, {"./statefile/", statefileMutants}}
