package commands

import (
	_ "embed"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
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
	{"observer-*.sock", "The hand-off socket of a running jab listen or repl (same name as its observer record): jab send of the same account hands its messages to it instead of logging in, and only processes of the same user are served. Made once the observer is online, removed when it ends (see SENDING)."},
	{"roster-*.json", "The roster of one account as last fetched by jab roster, jab listen or jab repl; shell completion offers its contacts."},
	{"fast-*.json", "The FAST login token (XEP-0484) of one account and the client id it is tied to, kept where the server offers SASL2 with FAST so that later logins need no password exchange; a password substitute, so mode 0600 and never printed. --no-fast neither uses nor stores one."},
	{"openpgp-*.json", "The OpenPGP key pair of one account, its secret parts encrypted with the key passphrase (see ENCRYPTION). While it exists, listen and repl of that account run jab-ox. pubkeys/ caches contacts' public keys, one file per fingerprint."},
	{"binding-*.json", "That the account's server refused tls-exporter channel binding on TLS 1.3 and took tls-unique on TLS 1.2 (ejabberd before 23.10), so later logins go to TLS 1.2 at once; removed when the server lists its binding types (see CONNECTING AND LOGGING IN). Holds no secret."},
	{"repl_history", "The line history of jab repl."},
}

// manFilesAfter follows the list of files.
const manFilesAfter = `The * in observer-*.json, roster-*.json, fast-*.json and openpgp-*.json is a hash of the account's bare JID. Every change to state.json is a read-modify-write under an exclusive flock(2) of state.json.lock; the new content goes to a temporary file in the same directory, which is fsynced and renamed over state.json, and then the directory is fsynced. Any number of sends and a listen can run at once without losing an update, and a crash leaves either the old or the new file. docs/STATE.md in jab's source tree describes every field of these files.`

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
	"jab keys":       `ENCRYPTION describes the key pair, the passphrase sources, publishing, trust on first use and the checks of received messages.`,
	"jab config":     `CONFIGURATION describes the config file, its keys and accounts, the precedence and the password sources.`,
	"jab completion": `Completion offers the subcommands, the flags, the JIDs of the conversations in the state file and of the contacts in the roster cache (written by jab roster, jab listen and jab repl), and thread ids for threads show, threads close and send --thread. It reads the state directory only: it never connects and never prompts.`,
}

// The prose of the topic sections lives in mantext/, one "# TITLE" line
// before each section's text.
var (
	//go:embed mantext/topics.txt
	manTopicsText string
	//go:embed mantext/notes.txt
	manNotesText string
)

// parseManSections splits a mantext file into its sections.
func parseManSections(text string) []manSection {
	var out []manSection
	for _, part := range strings.Split("\n"+text, "\n# ")[1:] {
		title, body, _ := strings.Cut(part, "\n")
		out = append(out, manSection{title: title, text: strings.TrimRight(body, "\n")})
	}
	return out
}

// manTopics follow GLOBAL OPTIONS: how the commands behave, in more detail
// than their descriptions. Like manNotes, they are parsed when a man page
// is rendered, not at every start.
var manTopics = sync.OnceValue(func() []manSection { return parseManSections(manTopicsText) })

// manNotes follow EXIT STATUS.
var manNotes = sync.OnceValue(func() []manSection { return parseManSections(manNotesText) })

const manSeeAlsoRefs = `.BR sendxmpp (1),
.BR go\-sendxmpp (1),
.BR prosody (8)`

const manSeeAlso = `XEP-0296: Best Practices for Resource Locking (v0.2); XEP-0201: Best Practices for Message Threads (v0.3, with the 1.0 parent attribute); XEP-0155: Stanza Session Negotiation (thread termination); XEP-0085: Chat State Notifications; XEP-0199: XMPP Ping; XEP-0131: Stanza Headers and Internet Metadata (In-Reply-To); XEP-0359: Unique and Stable Stanza IDs; XEP-0478: Stream Limits Advertisement; XEP-0184: Message Delivery Receipts; XEP-0368: SRV records for XMPP over TLS; XEP-0388: Extensible SASL Profile; XEP-0484: Fast Authentication Streamlining Tokens; XEP-0373 and XEP-0374: OpenPGP for XMPP; XEP-0380: Explicit Message Encryption; RFC 6120 and RFC 6121 (XMPP Core and IM).`

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

	for _, sec := range manTopics() {
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

	for _, sec := range manNotes() {
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
	switch unwrapFlag(f).(type) {
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
