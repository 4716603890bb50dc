package commands

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/urfave/cli/v2"
)

// The man page is generated from the app: every command, its usage,
// description and flags, the environment variables from envOf, the config
// keys from the global flags, and the exit statuses from exitStatuses.
// Only the prose that has no other home (DESCRIPTION, the topic sections
// from SENDING to CONFIGURATION, FILES, SECURITY, STANDARDS, EXAMPLES, SEE
// ALSO) is written here. It is the reference; README.md is the
// introduction and points here for the detail. urfave/cli's
// ToMan renders section 8 through Markdown; jab is a section 1 command,
// and writing roff directly keeps every escape under our control, so
// `groff -man -ww -z` stays silent.

func manCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print the manual page (roff) on stdout",
		Description: `Prints jab(1) in roff. To read it:

  jab man | man -l -

'make install' installs it as $PREFIX/share/man/man1/jab.1, so that 'man jab'
finds it.`,
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("see 'jab man --help'", "man takes no arguments")
			}
			// A fresh app: this one's flags hold the values parsed for
			// this run, not their defaults.
			_, err := io.WriteString(c.App.Writer, manPage(newApp(env)))
			return err
		},
	}
}

const manDescription = `jab sends and receives XMPP (Jabber) messages from the command line: a notification from a shell script, incoming messages printed for a pipeline, or a chat from a terminal.

It follows XEP-0296 (Best Practices for Resource Locking) and XEP-0201 (Best Practices for Message Threads) and keeps their state between runs in a state file. A conversation starts at the contact's bare JID; once the contact answers from one device, jab locks to that device and sends there until a presence change, a <gone/> chat state, an error or idleness unlocks it. Each conversation carries a thread id that jab reuses. So a one-shot jab send respects a lock that an earlier jab listen established.

Standard output carries data only (text records, or JSON Lines with --json); every diagnostic goes to standard error as "jab: error: ..." and often "jab: hint: ...". Text from remote peers never reaches the terminal raw: control characters are escaped.

COMMANDS and GLOBAL OPTIONS list every command and option. The sections after them explain how sending, listening, bot mode, threads and the interactive REPL behave, when a stored lock is trusted, how jab connects and logs in, and the config file; SECURITY and STANDARDS come after EXIT STATUS.`

const manGlobalIntro = `Global options go before or after the command. Each one with an environment variable falls back to it (see ENVIRONMENT). -h or --help works everywhere, and --version prints the version and the commit jab was built from.`

// manEnvExtra documents the variables that are not a flag's fallback.
var manEnvExtra = map[string]string{
	"JAB_PASSWORD": "The account's password. Password sources are tried in this order: --password-cmd, --password-file, JAB_PASSWORD, JAB_PASSWORD_FILE, JAB_PASSWORD_CMD, then the config file's account table and its top level (password_cmd, password_file, password in each), then the system keyring (secret-tool lookup service jab account JID, when secret-tool is installed), and last a no-echo prompt when standard input is a terminal. There is deliberately no flag that takes the password itself: it would show in ps(1) and in the shell history.",
}

var manEnvAfter = []struct{ name, text string }{
	{"NO_COLOR", "When set to any non-empty value, jab threads show and jab repl print no colour even on a terminal (https://no-color.org). Output to a pipe is never coloured."},
	{"XDG_STATE_HOME", "The default state directory is $XDG_STATE_HOME/jab, when XDG_STATE_HOME is an absolute path."},
	{"XDG_CONFIG_HOME", "The default config file is $XDG_CONFIG_HOME/jab/config.toml, when XDG_CONFIG_HOME is an absolute path."},
	{"HOME", "Otherwise the default state directory is $HOME/.local/state/jab and the default config file $HOME/.config/jab/config.toml."},
}

var manFiles = []struct{ name, text string }{
	{"$XDG_CONFIG_HOME/jab/config.toml, ~/.config/jab/config.toml", "The config file (TOML), unless --config or JAB_CONFIG names another; none is fine. A file that holds a password, like a password file, must not be readable by group or others (chmod 600). jab config init writes a commented one; jab config show prints the settings in force and their sources. See CONFIGURATION."},
	{"$XDG_STATE_HOME/jab/, ~/.local/state/jab/", "The state directory (mode 0700), unless --state-dir or JAB_STATE_DIR names another. Its files are created with mode 0600."},
	{"state.json", "The persisted state, per account: the stable listen resource, one conversation per contact (the XEP-0296 lock and the current XEP-0201 thread) and the thread index. Versioned JSON, replaced atomically (written to a temporary file, fsynced and renamed). A corrupt file or one written by a newer jab is an error naming the path; jab never resets it."},
	{"state.json.lock", "The lock file that writers of state.json hold (flock(2)) from read to write, so concurrent sends and a listen never lose an update."},
	{"history.jsonl", "One JSON record per message sent or received, read by jab threads show and send --reply-to; capped by --history-max, off with --no-history. history.jsonl.lock and history.count are its lock file and cached record count."},
	{"observer-*.json", "The record of a running jab listen (or repl, or a waiting send --wait-reply) for one account: pid, host, resource, connection time, and a heartbeat every 5 s. While it is live, jab send trusts the persisted locks instead of checking them with a ping (see STORED LOCKS)."},
	{"roster-*.json", "The roster of one account as last fetched by jab roster, jab listen or jab repl; shell completion offers its contacts."},
	{"fast-*.json", "The FAST login token (XEP-0484) of one account and the client id it is tied to, kept where the server offers SASL2 with FAST so that later logins need no password exchange; a password substitute, so mode 0600 and never printed. --no-fast neither uses nor stores one."},
	{"repl_history", "The line history of jab repl."},
}

// manFilesAfter follows the list of files.
const manFilesAfter = `The * in observer-*.json, roster-*.json and fast-*.json is a hash of the account's bare JID. Every change to state.json is a read-modify-write under an exclusive flock(2) of state.json.lock; the new content goes to a temporary file in the same directory, which is fsynced and renamed over state.json, and then the directory is fsynced. Any number of sends and a listen can run at once without losing an update, and a crash leaves either the old or the new file. docs/STATE.md in jab's source tree describes every field of these files.`

// manExitAfter follows the exit statuses.
const manExitAfter = `Every error is one line, "jab: error: ...", often followed by "jab: hint: ...". A mistake in the command line itself (an unknown command or flag, a flag without its value) is also followed by the command's usage line, "jab: usage: ...".`

var manExamples = []struct{ text, code string }{
	{"Send a message; the account and password come from the environment:", `export JAB_JID=me@example.org JAB_PASSWORD_CMD='pass show xmpp'
jab send alice@example.org "the build is done"`},
	{"Send each line of a log as its own message, over one connection:", `tail -f /var/log/app.log | jab send --lines ops@example.org`},
	{"Print incoming messages as JSON Lines and stop after the first one:", `jab listen --json --count 1`},
	{"Start a side thread, list the threads, show one and close it:", `jab send --fork alice@example.org "a side topic"
jab threads list
jab threads show alice@example.org
jab threads close 692e`},
	{"Ask a server what it supports, with a raw disco#info query:", `echo "<iq type='get' to='example.org'>
  <query xmlns='http://jabber.org/protocol/disco#info'/></iq>" | jab raw --wait-iq`},
	{"Install the completions for the current bash session:", `source <(jab completion bash)`},
}

// manSection is a section of prose that no command or flag owns. Its text
// is light markup, rendered by manProse: paragraphs are separated by blank
// lines; a paragraph starting with "## " is a subsection heading; one
// starting with "- " is a bulleted item; one whose first line starts with
// "+ " is a tagged paragraph, that line its tag; a paragraph with lines
// indented by two spaces is kept as it is (an example).
type manSection struct{ title, text string }

// manCommandNotes follow a command's description in COMMANDS: details its
// description leaves out, and where the topic sections take it further.
var manCommandNotes = map[string]string{
	"jab send":       `SENDING describes how each message is addressed, --lines, --wait-reply and what the exit status guarantees; STORED LOCKS, when a stored lock is trusted; THREADS, --reply-to and --fork.`,
	"jab listen":     `LISTENING describes the output, receipts, reconnecting and the live observer; BOT MODE describes --exec.`,
	"jab repl":       `INTERACTIVE USE describes the prompt, its commands, chat states and auto-away.`,
	"jab threads":    `THREADS has an example session and the bounds of the history and the thread index.`,
	"jab raw":        `Without --wait-iq, jab raw makes one round trip to the server after the last stanza, which confirms that the server handled them. EXAMPLES has a disco#info query.`,
	"jab roster":     `The text lines are tab-separated and sanitised; the JSON objects have the fields jid, name, subscription and groups. The cache is roster-<hash>.json (mode 0600) in the state directory.`,
	"jab config":     `CONFIGURATION describes the config file, its keys and accounts, the precedence and the password sources.`,
	"jab completion": `Completion offers the subcommands, the flags, the JIDs of the conversations in the state file and of the contacts in the roster cache (written by jab roster, jab listen and jab repl), and thread ids for threads show, threads close and send --thread. It reads the state directory only: it never connects and never prompts.`,
}

// manTopics follow GLOBAL OPTIONS: how the commands behave, in more detail
// than their descriptions.
var manTopics = []manSection{
	{"SENDING", `jab send addresses each message per recipient, from the persisted conversation state:

- A chat goes to the bare JID while the conversation is unlocked, and to the locked full JID while it is locked (see STORED LOCKS for when a lock is trusted).

- A JID given with a resource is used exactly as given, and recorded as the lock.

- A chat carries the conversation's thread; a new conversation gets a new UUIDv4 thread id.

- A normal message always goes to the address given, never to a remembered full JID, and gets a new thread unless --thread is given.

- A headline changes no state.

Each message has its own id, which is also its XEP-0359 origin-id. With --json, send prints one line per sent message: {"to":...,"id":...,"thread":...,"type":...}.

Recipients are the leading arguments. After the first, an argument counts as a recipient only while it contains @. Use -- to end the recipients explicitly:

  jab send alice@example.org -- bob@example.org is here

send exits 0 only after the server has processed every message: it makes one round trip (a ping to the server) after the last message, and if the server bounced any message in the meantime, the exit status is 5 and the error names the recipient and the reason. With --receipt, the error on a missing receipt gives the number of messages confirmed.

The conversation state is written just before the first message goes out. A send that fails before that (it could not log in, or its message was refused) leaves the state file byte for byte as it was.

A message larger than the server's stanza limit is refused before anything is written. jab uses the limit the server advertises (XEP-0478), or 256 KiB when the server advertises none, which is Prosody's default.

send never binds the observer's resource. Instead it binds <stable>-<6 random hex digits>, so concurrent sends never collide with each other or with listen. It sends no presence: a presence broadcast would reach every contact, and their clients would unlock from us.

A contact may answer the send's own full JID while a long --lines run is still connected. Such a reply is not lost: it updates the conversation (it locks) and is shown on standard error. When no send is connected, the server passes the reply on to the bare JID, where listen gets it.

## One message per line: --lines

Each non-empty line of standard input is one message, all over one connection. Lines go out as they are read, so tail -f log | jab send --lines ops@example.org feeds a conversation live. The end of the input is success.

- If the state changes while the lines run (say a listen sees the contact's presence or a <gone/>), the next line follows the new lock and thread.

- A line that is not UTF-8 is skipped with a warning naming it, and the run ends with status 1, or 2 if nothing was sent.

- SIGINT or SIGTERM stops the run at once, even while it waits for input.

## Ask and wait: --wait-reply

  answer=$(jab send --wait-reply 10m ops@example.org "Deploy 4.2? yes/no")

sends, then waits up to 10 minutes for the first reply in that conversation: a message from the contact (any resource) in the thread sent, or a chat without a thread from a client that does not echo threads. It prints the reply's body and exits 0, or exits 5 when no reply comes. Without a duration it waits as long as --timeout. --wait-reply takes exactly one JID.

- Only a chat or normal message with a body from that contact counts. Errors, headlines, other contacts and delayed messages (an old answer waiting in offline storage) do not.

- The body is printed verbatim for a script capturing it, and escaped only when standard output is a terminal. With --json the reply is printed as listen --json prints it, instead of the sent records.

- send goes online (available presence, priority 0) before the question goes out, so a quick reply to the bare JID reaches it. While it waits it is the account's live observer, like listen (unless a listen already is), and it pings its server as listen does.

- The reply locks the conversation as usual, and the state is saved before send exits.`},

	{"LISTENING", `jab listen stays online with the account's stable resource and sends available presence (priority 0 unless --priority). It prints one record per incoming message:

+ Text (the default)
TIME FROM TYPE THREAD8: [(re: ID)] [subject: S] BODY: the time, the sender's full JID, the message type, the short thread id, the id of the message it answers, the subject and the body. Newlines and other control characters in remote text are escaped (\n, \u{1b}), so one message is one line and nothing from a peer reaches the terminal raw.

+ --json
One JSON object per line, with the fields kind, from, to, type, id, thread, body, subject, chat_state, delayed, time, and parent_thread, error and in_reply_to when present. Control characters, DEL, C1 controls and bidi overrides are written as \u escapes.

+ --presence
Presence stanzas are printed too (kind "presence", with from, type, show, status and time).

For example:

  2026-11-22T04:46:55Z me@example.test/jab-2e6211e9-6f4897 chat dbbe1b11: Hello from jab

Standalone chat states and XEP-0155 terminate forms change the state but are not printed. SIGINT and SIGTERM stop listen cleanly, with exit status 130 or 143.

## Receipts

listen answers the XEP-0184 receipt requests of every message it receives, printed or filtered out, and lists urn:xmpp:receipts in its disco#info; --no-receipts turns both off. A receipt tells the sender we are online, so (XEP-0184 §8) it goes only to our own account's resources and to contacts allowed to see our presence (subscription from or both). For that, listen fetches the roster when it logs in, follows roster pushes, and refreshes the roster cache that shell completion reads. No receipt is sent for an error or group-chat message, or for a message without an id.

## The connection

If the connection drops, listen reconnects with exponential backoff from 1 s up to 1 min, and writes a line on standard error for each attempt. The backoff starts again from 1 s only after a connection has lasted 30 s. After reconnecting it does not print a stanza it has already printed (by sender and id).

listen pings its server every 10 s, so a half-open connection is noticed and treated as lost (within about 40 s: the ping's answer may take --timeout). An answer held up because listen itself stopped reading (a bot's full queue) does not count as lost; such a connection is checked again once the backlog drains.

Some failures end listen instead of starting a reconnect: the first connection fails; authentication or TLS fails; the state file, the observer record or standard output cannot be written.

Only one listen may hold a resource. A second listen on the same account and resource is refused (exit 1). If another session takes the resource over, listen exits 1 rather than taking it back, because the two would otherwise throw each other off for ever. Give each concurrent listen its own --resource.

While it runs, listen is the account's live observer. It keeps a record in the state directory with its pid, host, connection time and a heartbeat every 5 s (see STORED LOCKS).`},

	{"BOT MODE", `With --exec CMD, listen runs sh -c CMD for each message that passes the filters, with the body on standard input and the message in the environment:

+ JAB_FROM, JAB_FROM_BARE
the sender's full JID and bare JID

+ JAB_TYPE
chat or normal

+ JAB_ID, JAB_THREAD, JAB_SUBJECT
the message's id, thread and subject

+ JAB_ACCOUNT
our account's bare JID

Global options given to listen as flags (--state-dir, --config, ...) reach CMD as their JAB_* variables too, so a jab send inside CMD runs as the same account on the same state.

- The reply: CMD's standard output, with trailing newlines removed, is sent back when it is not blank. It has the same type and thread as the message and an In-Reply-To header naming it. It is addressed by the conversation's lock, so a chat reply goes to the resource that wrote (XEP-0296), and a normal message's reply goes to the bare JID. It is recorded in the history like any message jab sends.

- Failures send nothing. A CMD that exits non-zero gets a line on standard error with its status and the first line of its standard error. A reply over the server's stanza limit, or one that is not UTF-8, is also an error line. listen goes on with the next message.

- --exec-timeout (default 30s) kills CMD and its whole process group.

- CMD never runs for errors, headlines, group chat, messages without a body, our own account's messages, or delayed (offline) messages unless --include-delayed.

- --exec-concurrency N (default 1) runs CMD for up to N conversations at once. Messages go to a worker chosen by the sender's bare JID, so one conversation's replies always leave in the order its messages came.

- Backpressure: up to 256 messages wait per worker. When a queue is full, listen says so on standard error and stops reading until a slot frees; the server holds the rest. Nothing is dropped while listen runs. A reply whose connection drops is sent on the next one.

- When listen ends (--timeout, an error, a signal), a CMD still running is killed and the messages still queued are not handled; listen says how many on standard error. They were printed and are in the history.

- Trust: a reply goes to the locked resource without a ping only on the connection its message came in on, and only for a message that could lock (not a delayed one). Otherwise the rule of STORED LOCKS applies.

- With --count N, listen exits once the Nth message's reply has been sent.

CMD handles a peer's text: see SECURITY.`},

	{"THREADS", `jab keeps an index of XEP-0201 threads in the state file, and a history of every message it sends or receives in history.jsonl; the threads commands read and manage them. THREAD is a full id or a unique prefix of at least 4 characters. jab threads show draws child threads as a tree under their parent; parent cycles are shown once and do not loop. A received terminate (FORM_TYPE urn:xmpp:ssn or the legacy urn:xmpp:chatneg) closes its thread and is never printed.

## Replies and child threads

jab send --reply-to ID JID TEXT answers a message from the history: ID is its id or origin-id, ours or the contact's. The reply carries the original's thread and type. It goes to the full JID the original came from, unless listen saw that resource go offline, in which case it goes to the bare JID (RFC 6121 §5.2.1). It also carries <headers xmlns='http://jabber.org/protocol/shim'><header name='In-Reply-To'>ID</header></headers>. Headlines and errors are never answered.

jab send --fork [--thread PARENT] JID TEXT starts a child thread, <thread parent='PARENT'>NEW</thread>, with the current thread as parent by default.

An example session:

  $ jab send alice@example.test "hello alice"
  $ jab send --fork alice@example.test "a side topic"
  $ jab threads list
  692e69f4  alice@example.test  chat  open  1  2026-11-22T05:25:22Z
            alice@example.test/phone  ↳ f1871d13  a side topic
  f1871d13  alice@example.test  chat  open  2  2026-11-22T05:25:21Z
            alice@example.test/phone              hello alice
  $ jab threads show alice@example.test
  thread f1871d13-1c09-4fcc-a514-ecdd354265c0 with alice@example.test
      (chat): hello alice
    2026-11-22T05:25:20Z  ->  alice@example.test  hello alice
    2026-11-22T05:25:21Z  <-  alice@example.test/phone
        (re: a1408430-682d-4013-96fc-c0ec53c5058c)  hi back
    ↳ thread 692e69f4-61ca-4bd1-81a2-d2618e2bccee with alice@example.test
        (chat): a side topic
      2026-11-22T05:25:22Z  ->  alice@example.test/phone  a side topic
  $ jab threads close 692e

(Lines of jab threads list and show are wrapped here; jab prints each record on one line.)

## Bounds

- History: capped at --history-max records (default 1,000,000); the oldest are pruned. --no-history (or JAB_NO_HISTORY=1) turns it off, and threads still work.

- Peer thread values: a value longer than 256 bytes, or with control characters, is ignored.

- Thread index: at most 200 threads per contact and 5000 per account. The least recently active go first; a conversation's current thread is never dropped.

- Conversations: at most 10,000 per account; when the cap is reached, the least recently active ones are dropped.

- Crash safety: a history record torn by a crash mid-append is skipped with a warning; the rest of the history is kept.`},

	{"INTERACTIVE USE", `jab repl [JID] is listen with a prompt. It uses the same stable resource and state file, keeps the persisted locks true while it runs (so one-shot sends trust them), and refuses to start while a jab listen holds that resource (pass --resource to run both). A plain line is a chat message to the current conversee; a line starting with / is a command (// sends a leading slash). The prompt is where the next message goes, the locked full JID or the bare JID, and the thread's short id in its colour (#new before the thread starts):

  $ jab repl alice@example.org
  alice@example.org #new> hello, are you there?
  10:02:11 alice@example.org/phone #5353d770: yes!
  alice@example.org/phone #5353d770 (typing…)> one sec
  /lock
  locked to alice@example.org/phone since 10:02:11, by a chat message
  from it (XEP-0296 §2.2); last activity 10:02:11; unlocks if idle
  until 10:17:11 (--lock-idle 15m0s)
  /fork
  /history 5
  /reply b0119261 yes, that one
  /threads list
  /close
  alice@example.org #new> ^D

The first message goes to the bare JID, starts a thread and carries <active/>. Alice's answer is printed above the line being typed, with her resource visible, and locks the conversation to /phone (XEP-0296 §2.2); the prompt shows that she is typing. /fork makes the next message start a child thread (XEP-0201 §3.3). /history shows recent messages, grouped by thread, with their ids. /reply answers in the original's thread, with In-Reply-To. Any jab subcommand runs from the prompt. /close sends <gone/> and the XEP-0155 terminate, and the next message starts a new thread. Ctrl-D on an empty line quits, with no <gone/> (D-6).

Commands: /to JID, /thread [new|ID], /fork, /close, /lock, /who, /status [away|xa|dnd|chat|online] [TEXT], /reply ID TEXT, /history [N], /help, /quit. Tab completes commands, JIDs (roster, state, presence seen), and thread and message ids. The line history is repl_history (0600) in the state directory, searched with Ctrl-R. Ctrl-C clears the line. An unknown command names the closest one and sends nothing. A line over the server's stanza limit is refused and nothing is sent; on a terminal the line stays in the line history (Up arrow), to shorten or split.

- Chat states (XEP-0085): every message carries <active/>; typing sends <composing/> once, about 5 s without a key <paused/>, about 2 min without touching the conversation <inactive/>; <gone/> only with /close. States go out until the contact's first reply and stop if that reply carries none (§5.1). The same standalone state never goes out twice in a row, and none goes to a MUC room. --no-chat-states turns them all off. A contact's states show in the prompt (until the next one, its message, 30 s without a new one, or that resource going offline) and are never stored as messages; its <gone/> unlocks and the next message starts a new thread. A MUC occupant (a private message from a room) is always addressed by its full JID, never the room, and gets no chat states (D-12).

- Inactivity (XEP-0296 §3.2, §3.3): a conversation idle past --lock-idle unlocks. After --auto-away (default 10m, 0 disables) without input the REPL announces away, after --auto-xa (default 30m) xa, and available again at the next key. After a reconnect the REPL announces its presence again, with the /status you set or the auto-away in effect.

- Scripts: when standard input is not a terminal there is no prompt and no line editing. Lines are read from standard input, incoming messages are printed to standard output as listen prints them, and the end of the input quits (status 0), as in printf 'hello\n/close\n' | jab repl alice@example.org. A line over the server's stanza limit is refused with an error and the REPL goes on with the next line (there is no line history in a script). A read error, such as a line over 16 MiB, ends the REPL with status 1.`},

	{"STORED LOCKS", `A lock is only as good as what jab knows about the contact's presence since the lock was recorded: XEP-0296 §2.3 says any presence change unlocks. So jab send uses a persisted lock as follows:

+ Trusted
when a live jab listen (or repl, or a send --wait-reply while it waits) for the account has been connected since the lock was recorded, or since a later message from the locked resource confirmed it (lock_seen in the state file). That observer sees every presence change and would have unlocked. The observer's heartbeat is written by its reading loop, so an observer that falls behind (a bot with a backlog) stops being trusted by other processes until it catches up. A bot's own reply to the message it has just read is the exception described under BOT MODE.

+ Checked
in every other case: send first pings the locked full JID (XEP-0199). If the contact's client answers, the lock is used. On an error or a timeout, the message goes to the bare JID and the unlock is recorded ("unlock_reason": "check").

+ Idle
a lock unused for --lock-idle (default 15m, 0 disables) unlocks whatever the observer says (XEP-0296 §3.2).

listen also sees every contact's current presence again when it logs in. That presence unlocks, as the specification says.`},

	{"CONNECTING AND LOGGING IN", `## Where jab connects

With --server HOST:PORT jab connects there. Without it, jab looks up the SRV records _xmpps-client._tcp (direct TLS, XEP-0368) and _xmpp-client._tcp (STARTTLS) of the JID's domain. It merges them and tries them in order: lowest priority first, then highest weight, and direct TLS before STARTTLS on a tie. With --direct-tls jab uses only the _xmpps-client records, and port 5223 when --server has no port. When these lookups give no usable record, jab falls back to the domain itself, on port 5222 (5223 with --direct-tls). This happens when the domain has no such records, when a lookup fails (DNS trouble counts as no record), and with --direct-tls also when the domain has only _xmpp-client records. A single record whose target is "." means the domain offers no such service. If no target accepts a connection, jab prints one error line that lists every address it tried and why each one failed, and exits 5.

## TLS

Every connection is encrypted before any credential or stanza is sent. STARTTLS is required: a server that does not offer it is an error, never a plain-text session. --direct-tls starts TLS on the first byte, announces the ALPN protocol xmpp-client, and saves a round trip. TLS 1.2 is the minimum, and --tls-min 1.3 raises it; any other value of --tls-min is a usage error. The certificate is always verified against the JID's domain, even when --server or an SRV target points elsewhere: SNI and the name check use the domain, never the host connected to. --ca-file adds trusted CAs to the system ones.

--insecure-skip-verify turns certificate verification off, for a throwaway test server with a self-signed certificate and nothing else. With it, anyone on the network path can pretend to be the server. They can read and change every message. With PLAIN they get the password, and with SCRAM they get what they need to guess it offline. It is never on by default. Every run that connects with it prints "jab: warning: --insecure-skip-verify: ..." on standard error. Prefer --ca-file with the server's CA: it is as easy and keeps the protection.

## Mechanisms

jab uses SCRAM when the server offers it: SHA-512, then SHA-256, then SHA-1. The password never crosses the wire, and the server proves that it knows the password too. A -PLUS variant (channel binding, RFC 5802) is preferred over any variant without it, because it ties the login to this TLS connection: a man in the middle with a trusted certificate still cannot relay it. The binding type is the one the server lists (XEP-0440): jab prefers tls-exporter, then tls-server-end-point, then tls-unique. When the server lists none, jab uses the default of each specification: tls-unique on TLS 1.2 and tls-exporter on TLS 1.3. Prosody 0.12 offers -PLUS only on TLS 1.2, with tls-unique. When the server offers no -PLUS variant but jab could bind, jab says so (GS2 flag y), so a server that does support binding detects a stripped offer.

PLAIN is the last resort, and only inside TLS. --no-plain refuses it even then: against a server that offers only PLAIN, jab sends nothing and exits 4 with an error that names the offered mechanisms. --debug shows the mechanism and binding used, as in SEND <auth mechanism='SCRAM-SHA-256-PLUS' channel-binding='tls-unique'>[redacted], and nothing of the exchange itself.

## SASL2 and FAST tokens

When the server offers the Extensible SASL Profile (XEP-0388, "SASL2"; Prosody 13 with mod_sasl2), jab logs in with it, choosing the mechanism as above, and then binds its resource as usual; a server without it gets exactly the login described above.

If the server also offers FAST (XEP-0484, mod_sasl2_fast), the first login with the password asks for a token, which jab keeps in the state directory as fast-<hash>.json (mode 0600, one file per account, apart from state.json). Later runs log in with the token instead of the password: one round trip instead of two and no SCRAM key derivation, which makes repeated one-shot commands cheaper (the password is still looked up, in case the token is refused). The token is bound to the TLS connection like a -PLUS mechanism: jab asks for HT-SHA-256-EXPR (tls-exporter) on TLS 1.3, HT-SHA-256-UNIQ (tls-unique) on TLS 1.2, then -ENDP (tls-server-end-point), and -NONE only when the server has no binding in common with jab. The server proves that it knows the token too.

A token the server refuses (revoked, changed password, corrupted file) is deleted, and the same run logs in again with the password on a new connection and stores a fresh token. An expired token is never sent, and one that expires within a day is replaced at the next login. When the server rotates a token, jab stores the new one. A token file that is not valid is ignored and replaced.

A token is a password substitute for this account on this server: anyone who can read the file can log in as you until it expires (Prosody: 21 days) or the password changes. --no-fast (JAB_NO_FAST=1, no_fast = true) neither uses nor stores a token; delete fast-*.json to forget one. --debug shows SEND <authenticate mechanism='HT-SHA-256-EXPR' channel-binding='tls-exporter'>[redacted] for a token login and request-token='...' when jab asks for one; the token itself never appears, nor do the SASL exchange and passwords.`},

	{"CONFIGURATION", `A config file holds every global option and any number of named accounts. jab reads $XDG_CONFIG_HOME/jab/config.toml, else ~/.config/jab/config.toml, or the file that --config FILE or JAB_CONFIG names. Having no file at the default path is fine; a file named with --config must exist.

  # ~/.config/jab/config.toml (mode 0600 if it holds a password)
  server = "xmpp.example.org:5222"   # top-level keys are the defaults
  timeout = "20s"
  default_account = "me"             # used without --account

  [accounts.me]
  jid = "me@example.org"
  password_cmd = "pass show xmpp/me@example.org"

  [accounts.ci]
  jid = "ci-bot@example.org"
  password_file = "~/.config/jab/ci-bot.password"
  no_history = true

With it:

  jab send alice@example.org "hello"                  # as me@example.org
  jab --account ci send ops@example.org "build done"  # as ci-bot@example.org
  JAB_ACCOUNT=ci jab listen                           # ci, from the environment

+ Keys
every global option but --config and --account, with - written _, and password: {keys}. Each has the type of its option: strings, true or false, integers, and durations as strings such as "30s". In ca_file, password_file and state_dir, ~/ is the home directory and a relative path is relative to the config file.

+ Accounts
Top-level keys are the defaults. Each [accounts.NAME] table holds the same keys for one account. --account NAME (or JAB_ACCOUNT) picks a table, else default_account does. The value may also be a JID: the table whose jid it is, or, when no table has it, no table and that JID as the account (below --jid and JAB_JID). jab listen --exec sets JAB_ACCOUNT to the account's bare JID for its children this way. A JID that is the jid of several tables is an error (give the table name instead), so a bot whose children run jab must use an account whose jid no other table shares.

+ Precedence
flag, then environment variable, then the account's table, then the top-level keys, then the built-in default. One difference: timeout in the file bounds connecting and every wait, but only --timeout or JAB_TIMEOUT makes listen exit when no message comes.

+ Password sources
The first one set wins: --password-cmd, --password-file, JAB_PASSWORD, JAB_PASSWORD_FILE, JAB_PASSWORD_CMD, then the account's table and then the top level (password_cmd, password_file, password in each), then the system keyring when secret-tool is installed (secret-tool lookup service jab account JID; nothing found falls through), then a no-echo prompt when standard input is a terminal. A table (or the top level) that sets jid keeps its password sources for that JID: when --jid or JAB_JID names another account, they are skipped and the next source is used. A command runs with sh -c, bounded by --timeout (its whole process group is killed then), and its first output line is the password; a command that fails, prints nothing or times out is an error. Commands check their own flags and arguments before they run it. The password never appears in arguments, errors or --debug output. To store one in the keyring: secret-tool store --label jab service jab account me@example.org.

+ Permissions
As ssh does with a private key, jab refuses a config file that holds a password, and a password file, when group or others can read them (chmod 600 FILE fixes it). A config file without a password may be readable by others. A config file that holds a password_cmd is refused when group or others can write it, or when it belongs to another user (chmod go-w FILE fixes the first).

+ Errors
An unknown key (with the closest valid key as a hint), a value of the wrong type, an account that does not exist (with the closest name), a missing --config file or a refused file is one "jab: error:" line naming the key and the file, and exit status 2.

jab config show [--json] prints every global option's effective value and where it came from: flag, env JAB_X, config FILE [accounts.NAME], config FILE or default. The password is shown as ********, or as (from password_cmd) or (from password_file). It runs no password command and contacts nothing. --json prints one {"key":...,"value":...,"source":...} object per line.

  $ jab --account ci config show
  config         "/home/me/.config/jab/config.toml"      default
  account        "ci"                                    flag
  jid            "ci-bot@example.org"                    config ... [accounts.ci]
  password_file  "/home/me/.config/jab/ci-bot.password"  config ... [accounts.ci]
  password_cmd   ""                                      default
  password       (from password_file)                    config ... [accounts.ci]
  server         "xmpp.example.org:5222"                 config ...
  ...

(Here "config ..." stands for config /home/me/.config/jab/config.toml.)`},
}

// manNotes follow EXIT STATUS.
var manNotes = []manSection{
	{"SECURITY", `- Passwords never appear in argv: there is no --password VALUE flag, because it would show in ps(1) and in the shell history. They come from the environment, a file, a command, the config file, the system keyring or a no-echo prompt (see CONFIGURATION for the order). A config file holding a password, and any password file, is refused when group or others can read it, with the chmod 600 to fix it. --debug shows the XML stream with the SASL exchange redacted.

- TLS is required: STARTTLS (or --direct-tls), certificates verified against the system roots plus --ca-file, for the JID's domain whatever --server says. SCRAM is preferred over PLAIN and uses channel binding (-PLUS) when the server offers it, and --no-plain refuses PLAIN altogether. --insecure-skip-verify turns verification off for a test server, and jab prints a warning on every run that uses it; it is never a default. See CONNECTING AND LOGGING IN.

- Text from peers never reaches the terminal raw. Text output escapes control characters and bidi overrides (\u{1b}), JSON escapes them too, and the REPL shows them escaped. Only --format (with or without --null), which exists to pass bodies through to other programs, writes them verbatim, and send --wait-reply prints the body verbatim only when standard output is not a terminal.

- Bot mode hands a peer's text to a program. The body arrives on standard input and the rest in JAB_* variables, never in the command line, but CMD must still treat them as data: quote them ("$JAB_FROM") and never eval them. Restrict who can trigger it with --from. CMD inherits jab's environment, so a password in JAB_PASSWORD reaches it too: for a bot, prefer a password file or command.

- The state directory is 0700 and its files 0600. It holds conversation state, the history of message bodies, the roster and the FAST token, so it is as private as the messages themselves.`},

	{"STANDARDS", `jab follows XEP-0296 v0.2 (resource locking) and XEP-0201 v0.3 (message threads) with the 1.0 parent attribute. Where the specifications leave room it decides as follows; the decisions (D-n) and the checklist items are explained, with their specification sections, in docs/PROTOCOL.md in jab's source tree.

- D-1, D-4: a chat from another resource re-locks to it. A normal or headline message from another resource unlocks without locking.

- D-2: a full JID given to send is honoured and recorded as a forced lock, which the ordinary unlock rules release.

- D-3: available, unavailable and error presence unlock. Subscription requests and probes do not.

- D-5: errors never lock. An error from the locked JID unlocks. listen prints errors as errors and never answers them.

- D-7: a chat without a thread attaches to the current thread if the contact has never sent that thread back (the 0.3 rule, kept per bare JID so it survives lock moves). Otherwise it starts a new thread. A legacy client that never sends threads therefore stays in one thread.

- D-8: whitespace around a received thread value is stripped. Otherwise thread values are opaque and compared exactly, case included.

- D-9: locks and threads persist. Threads are kept across restarts, so a later send resumes the conversation's thread.

- D-10 (XEP-0201 0.3): jab threads close sends the XEP-0155 terminate form (plus <gone/> for chat) and ends the thread. A received terminate (FORM_TYPE urn:xmpp:ssn or the legacy urn:xmpp:chatneg) ends its thread and is never printed as a message. Nothing is sent on exit or disconnect (D-6). The 1.0 parent attribute is accepted and sent for child threads.

- XEP-0201 0.3 §7: the ping that checks a stale lock carries the conversation's thread as a SHIM ThreadID header inside <ping/>, never as a second child of <iq/>.

- D-15: offline and delayed messages never lock.

- Standalone chat states lock like messages (checklist item 9), but a thread-less standalone chat state does not start a thread.

- D-12: MUC private messages (a message carrying muc#user) are keyed by the occupant's full JID and never fall back to the bare room JID. Occupant presence never unlocks them.`},
}

const manSeeAlsoRefs = `.BR sendxmpp (1),
.BR go\-sendxmpp (1),
.BR prosody (8)`

const manSeeAlso = `XEP-0296: Best Practices for Resource Locking (v0.2); XEP-0201: Best Practices for Message Threads (v0.3, with the 1.0 parent attribute); XEP-0155: Stanza Session Negotiation (thread termination); XEP-0085: Chat State Notifications; XEP-0199: XMPP Ping; XEP-0131: Stanza Headers and Internet Metadata (In-Reply-To); XEP-0359: Unique and Stable Stanza IDs; XEP-0478: Stream Limits Advertisement; XEP-0184: Message Delivery Receipts; XEP-0368: SRV records for XMPP over TLS; XEP-0388: Extensible SASL Profile; XEP-0484: Fast Authentication Streamlining Tokens; RFC 6120 and RFC 6121 (XMPP Core and IM).`

// manPage renders the app's manual page, section 1.
func manPage(app *cli.App) string {
	app.Setup() // adds --help and --version to the app's flags
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(".\\\" Generated by '%s man' from the command definitions; do not edit.\n", app.Name)
	p(".TH %s 1 \"\" \"%s\" \"User Commands\"\n", strings.ToUpper(app.Name), app.Name)

	p(".SH NAME\n%s\n", roffFill(roffText(app.Name+" - "+app.Usage)))

	p(".SH SYNOPSIS\n.nf\n")
	p("\\fB%s\\fR [\\fIglobal options\\fR] \\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]\n", app.Name)
	walkCommands(app.Commands, app.Name, func(path string, cmd *cli.Command) {
		if len(cmd.Subcommands) == 0 {
			p("\\fB%s\\fR [\\fIoptions\\fR]%s\n", roffText(path), manArgs(cmd.ArgsUsage))
		}
	})
	p(".fi\n")

	p(".SH DESCRIPTION\n")
	manParagraphs(&b, manDescription)

	global := map[string]bool{}
	for _, f := range globalFlags() {
		global[f.Names()[0]] = true
	}
	p(".SH COMMANDS\n")
	walkCommands(app.Commands, app.Name, func(path string, cmd *cli.Command) {
		p(".SS \"%s\"\n", roffText(strings.TrimSpace(path+" "+cmd.ArgsUsage)))
		manParagraphs(&b, capitalize(cmd.Usage)+".")
		if cmd.Description != "" {
			manParagraphs(&b, cmd.Description)
		}
		if note, ok := manCommandNotes[path]; ok {
			manProse(&b, note)
		}
		var own []cli.Flag
		for _, f := range cmd.VisibleFlags() {
			if !global[f.Names()[0]] {
				own = append(own, f)
			}
		}
		acceptsGlobal := len(own) < len(cmd.VisibleFlags())
		switch {
		case len(own) > 0 && acceptsGlobal:
			p(".PP\nOptions (and the global options):\n")
			manFlags(&b, own)
		case len(own) > 0:
			p(".PP\nOptions:\n")
			manFlags(&b, own)
		case acceptsGlobal:
			p(".PP\nOptions: the global options.\n")
		}
		if len(cmd.Subcommands) > 0 {
			var names []string
			for _, s := range cmd.Subcommands {
				if !s.Hidden && s.Name != "help" {
					names = append(names, "\\fB"+roffText(s.Name)+"\\fR")
				}
			}
			p(".PP\nSubcommands: %s.\n", strings.Join(names, ", "))
		}
	})

	p(".SH GLOBAL OPTIONS\n")
	manParagraphs(&b, manGlobalIntro)
	manFlags(&b, app.VisibleFlags())

	for _, sec := range manTopics {
		text := strings.Replace(sec.text, "{keys}", manConfigKeys(), 1)
		p(".SH %s\n", sec.title)
		manProse(&b, text)
	}

	p(".SH ENVIRONMENT\n")
	for _, f := range globalFlags() {
		name := f.Names()[0]
		env, ok := envOf[name]
		if !ok {
			continue
		}
		usage, _, _ := strings.Cut(flagUsage(f), " (env ")
		p(".TP\n.B %s\n%s\n", env, roffFill(roffText(fmt.Sprintf("As --%s: %s.", name, usage))))
		if name == flagJID {
			p(".TP\n.B JAB_PASSWORD\n%s\n", roffFill(roffText(manEnvExtra["JAB_PASSWORD"])))
		}
	}
	for _, e := range manEnvAfter {
		p(".TP\n.B %s\n%s\n", e.name, roffFill(roffText(e.text)))
	}
	p(".PP\n%s\n", roffFill(roffText("Boolean variables (JAB_DEBUG, JAB_NO_HISTORY) take 1 or 0 (also true or false); durations are Go durations such as 30s or 15m.")))

	p(".SH FILES\n")
	for _, f := range manFiles {
		var names []string
		for _, n := range strings.Split(f.name, ", ") {
			names = append(names, "\\fI"+roffText(n)+"\\fR")
		}
		p(".TP\n%s\n%s\n", strings.Join(names, ", "), roffFill(roffText(f.text)))
	}

	p(".PP\n%s\n", roffFill(roffText(manFilesAfter)))

	p(".SH EXIT STATUS\n")
	for _, s := range exitStatuses {
		p(".TP\n.B %d\n%s\n", s.Code, roffFill(roffCode(s.Meaning)))
	}
	p(".PP\n%s\n", roffFill(roffText(manExitAfter)))

	for _, sec := range manNotes {
		p(".SH %s\n", sec.title)
		manProse(&b, sec.text)
	}

	p(".SH EXAMPLES\n")
	for _, e := range manExamples {
		if !afterHeading(b.String()) {
			p(".PP\n")
		}
		p("%s\n.PP\n.RS 4\n.nf\n%s\n.fi\n.RE\n", roffFill(roffText(e.text)), roffText(e.code))
	}

	p(".SH SEE ALSO\n%s\n.PP\n%s\n", manSeeAlsoRefs, roffFill(roffText(manSeeAlso)))
	return glyphFallbacks(b.String())
}

// asciiFallback spells the non-ASCII characters the page uses for
// devices that lack them (groff -Tascii: a terminal in the C locale).
var asciiFallback = map[string]string{
	"u00A7": "S", "u2026": "...", "u21B3": "->", "u2192": "->", "u2014": "--", "u2013": "-",
	"u2018": "'", "u2019": "'", "u201C": `"`, "u201D": `"`, "u00D7": "x", "u2264": "<=", "u2265": ">=",
}

var glyphEscape = regexp.MustCompile(`\\\[(u[0-9A-F]{4,6})\]`)

// glyphFallbacks defines, after .TH, an ASCII spelling for each non-ASCII
// character of the page that the output device does not have, so groff
// -ww stays silent on every device.
func glyphFallbacks(page string) string {
	var defs []string
	seen := map[string]bool{}
	for _, m := range glyphEscape.FindAllStringSubmatch(page, -1) {
		if seen[m[1]] {
			continue
		}
		seen[m[1]] = true
		fb, ok := asciiFallback[m[1]]
		if !ok {
			fb = "?"
		}
		defs = append(defs, fmt.Sprintf(".if !c\\[%s] .char \\[%s] %s\n", m[1], m[1], fb))
	}
	sort.Strings(defs)
	head, body, _ := strings.Cut(page, "\n.SH NAME\n")
	return head + "\n" + strings.Join(defs, "") + ".SH NAME\n" + body
}

// walkCommands calls fn for each visible command, depth first, with its
// full path ("jab threads show"); urfave/cli's own help commands are left
// out.
func walkCommands(cmds []*cli.Command, prefix string, fn func(path string, cmd *cli.Command)) {
	for _, cmd := range cmds {
		if cmd.Hidden || cmd.Name == "help" {
			continue
		}
		path := prefix + " " + cmd.Name
		fn(path, cmd)
		walkCommands(cmd.Subcommands, path, fn)
	}
}

// manFlags writes one tagged paragraph per flag.
func manFlags(b *strings.Builder, flags []cli.Flag) {
	for _, f := range flags {
		var names []string
		for _, n := range f.Names() {
			names = append(names, "\\fB"+roffText(dashed(n))+"\\fR")
		}
		tag := strings.Join(names, ", ")
		if d, ok := f.(cli.DocGenerationFlag); ok && d.TakesValue() {
			tag += " \\fI" + roffText(flagPlaceholder(f)) + "\\fR"
		}
		text := flagUsage(f)
		if def := flagDefault(f); def != "" {
			text += " (default: " + def + ")"
		}
		fmt.Fprintf(b, ".TP\n%s\n%s\n", tag, roffFill(roffText(text)))
	}
}

// flagPlaceholder is the flag's value name: the `NAME` in its usage, or
// one by type, as in jab --help.
func flagPlaceholder(f cli.Flag) string {
	d := f.(cli.DocGenerationFlag)
	usage := d.GetUsage()
	if i := strings.IndexByte(usage, '`'); i >= 0 {
		if j := strings.IndexByte(usage[i+1:], '`'); j >= 0 {
			return usage[i+1 : i+1+j]
		}
	}
	switch f.(type) {
	case *cli.DurationFlag:
		return "DURATION"
	case *cli.IntFlag:
		return "N"
	}
	return "VALUE"
}

// flagDefault is the flag's default when it says something (not false, 0
// or empty).
func flagDefault(f cli.Flag) string {
	d, ok := f.(cli.DocGenerationFlag)
	if !ok || !d.TakesValue() {
		return ""
	}
	def := strings.Trim(d.GetDefaultText(), `"`)
	switch def {
	case "", "0", "0s":
		return ""
	}
	return def
}

// manArgs renders a command's ArgsUsage for the synopsis: placeholders
// (upper-case words) in italics.
var upperWord = regexp.MustCompile(`[A-Z][A-Z0-9_]*`)

func manArgs(s string) string {
	if s == "" {
		return ""
	}
	s = roffText(s)
	return " " + upperWord.ReplaceAllString(s, `\fI$0\fR`)
}

// manParagraphs writes text as roff paragraphs: a blank line separates
// paragraphs, lines indented by spaces are kept as they are (examples),
// other lines are filled.
func manParagraphs(b *strings.Builder, text string) {
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if !afterHeading(b.String()) {
			b.WriteString(".PP\n")
		}
		lines := strings.Split(para, "\n")
		literal := false
		for _, l := range lines {
			if strings.HasPrefix(l, "  ") {
				literal = true
			}
		}
		if literal {
			b.WriteString(".RS 4\n.nf\n")
			for _, l := range lines {
				b.WriteString(roffText(strings.TrimPrefix(l, "  ")) + "\n")
			}
			b.WriteString(".fi\n.RE\n")
			continue
		}
		b.WriteString(roffFill(roffText(strings.Join(strings.Fields(para), " "))) + "\n")
	}
}

// manProse writes a manSection's text (see manSection for its markup).
func manProse(b *strings.Builder, text string) {
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		switch {
		case strings.HasPrefix(para, "## "):
			fmt.Fprintf(b, ".SS \"%s\"\n", roffText(strings.TrimPrefix(para, "## ")))
		case strings.HasPrefix(para, "- "):
			fmt.Fprintf(b, ".IP \\(bu 2\n%s\n", roffFill(roffText(strings.Join(strings.Fields(para[2:]), " "))))
		case strings.HasPrefix(para, "+ "):
			tag, body, _ := strings.Cut(para[2:], "\n")
			fmt.Fprintf(b, ".TP\n\\fB%s\\fR\n%s\n", roffText(tag), roffFill(roffText(strings.Join(strings.Fields(body), " "))))
		case strings.HasPrefix(para, "  "):
			// An example: manParagraphs would trim its indentation.
			if !afterHeading(b.String()) {
				b.WriteString(".PP\n")
			}
			b.WriteString(".RS 4\n.nf\n")
			for _, l := range strings.Split(para, "\n") {
				b.WriteString(roffText(strings.TrimPrefix(l, "  ")) + "\n")
			}
			b.WriteString(".fi\n.RE\n")
		default:
			manParagraphs(b, para)
		}
	}
}

// manConfigKeys lists the config file's keys: every global option but
// --config and --account, with - written _, and password.
func manConfigKeys() string {
	var keys []string
	for _, f := range globalFlags() {
		name := f.Names()[0]
		if name == "config" || name == "account" {
			continue
		}
		keys = append(keys, strings.ReplaceAll(name, "-", "_"))
	}
	return strings.Join(append(keys, "password"), ", ")
}

// afterHeading reports whether the page so far ends with .SH or .SS,
// which start a paragraph already.
func afterHeading(page string) bool {
	page = strings.TrimSuffix(page, "\n")
	last := page[strings.LastIndex(page, "\n")+1:]
	return strings.HasPrefix(last, ".SH ") || strings.HasPrefix(last, ".SS ")
}

// roffText escapes text for a roff text line: backslashes, hyphens (as
// \- so they are not broken or turned into typographic hyphens in names
// such as --state-dir), non-ASCII characters (as \[uXXXX], so the page
// renders the same whatever the input encoding), and a leading '.' or '\”
// that would make the line a request.
func roffText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-':
			b.WriteString(`\-`)
		case r == '\n':
			b.WriteByte('\n')
		case r > unicode.MaxASCII:
			fmt.Fprintf(&b, `\[u%04X]`, r)
		default:
			b.WriteRune(r)
		}
	}
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

// roffFill breaks escaped text into lines of at most about 80 bytes,
// and after each sentence, as roff sources are written (groff then knows
// where sentences end). Escapes never contain spaces, so it breaks at
// spaces only.
func roffFill(s string) string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		switch {
		case cur == "":
			cur = w
		case len(cur)+1+len(w) > 78:
			lines = append(lines, cur)
			cur = w
		default:
			cur += " " + w
		}
		if endsSentence(w) {
			lines = append(lines, cur)
			cur = ""
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

// endsSentence reports whether a word ends a sentence: a full stop,
// question or exclamation mark after a word with no other full stop (not
// "e.g." or "0.3.").
func endsSentence(w string) bool {
	w = strings.TrimRight(w, `"')`)
	if w == "" || !strings.ContainsAny(w[len(w)-1:], ".?!") {
		return false
	}
	return !strings.Contains(w[:len(w)-1], ".")
}

// roffCode escapes text in which `code spans` are set in bold.
func roffCode(s string) string {
	parts := strings.Split(s, "`")
	for i := range parts {
		parts[i] = roffText(parts[i])
		if i%2 == 1 {
			parts[i] = `\fB` + parts[i] + `\fR`
		}
	}
	return strings.Join(parts, "")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
