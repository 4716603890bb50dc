package commands

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"text/template"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/commands/internal/settings"
	"github.com/jab-xmpp/jab/session"
	"github.com/jab-xmpp/jab/statefile"
)

// Shell completion works in two halves:
//
//   - The scripts (jab completion bash|zsh|fish, committed under
//     completions/) are thin: they pass the words up to the cursor, the
//     current word always last (possibly empty), to
//     'jab WORDS... --generate-bash-completion' (urfave/cli's hidden
//     completion flag) and offer what it prints.
//   - jab answers through the BashComplete funcs that newApp installs on
//     every command: one candidate per line, optionally followed by a tab
//     and a description, or the directive ":file" or ":dir" for file name
//     completion. Subcommands, flags and flag values come from the app
//     itself, so completion always matches the binary; JIDs and thread ids
//     come from the state file.
//
// Completing never connects, never prompts, never reads stdin, never
// writes or creates anything, and prints nothing on stderr: a missing,
// unreadable or corrupt state simply offers no JIDs.

// completionFlag is urfave/cli's hidden flag that asks for candidates.
const completionFlag = "--generate-bash-completion"

// Directives in the completion output.
const (
	completeFiles = ":file"
	completeDirs  = ":dir"
)

// argKind says what a command's positional arguments are.
type argKind int

const (
	argNone        argKind = iota
	argCommands            // a subcommand name
	argJIDs                // recipients, any number
	argThreadOrJID         // one thread id or JID
	argOpenThread          // one open thread id
	argShell               // one shell name
)

// positionalArgs maps a command path (without "jab") to its positional
// arguments; commands with subcommands complete those.
var positionalArgs = map[string]argKind{
	"send":          argJIDs,
	"threads show":  argThreadOrJID,
	"threads close": argOpenThread,
	"completion":    argShell,
}

// completionShells are the shells 'jab completion' writes scripts for.
var completionShells = []struct{ name, desc string }{
	{"bash", "bash completion script"},
	{"fish", "fish completion script"},
	{"zsh", "zsh completion script"},
}

func completionCommand(*Env) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: `Prints the completion script for the shell on stdout. It completes
commands, flags, the JIDs of the account's conversations and thread ids, which
it reads from the state directory without connecting, and the group chat rooms
(--room: the config file's and the state's; --pm: the occupants of private
conversations). To load it:

  bash: source <(jab completion bash)        (or install it as
        $PREFIX/share/bash-completion/completions/jab)
  zsh:  jab completion zsh > "${fpath[1]}/_jab"
  fish: jab completion fish > ~/.config/fish/completions/jab.fish

'make install' installs all three.`,
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("jab completion bash, jab completion zsh or jab completion fish", "completion takes one shell name")
			}
			script, err := completionScript(c.App.Name, c.Args().First())
			if err != nil {
				return err
			}
			_, err = io.WriteString(c.App.Writer, script)
			return err
		},
	}
}

// completionScript returns the completion script of the app named name
// for shell.
func completionScript(name, shell string) (string, error) {
	var text string
	switch shell {
	case "bash":
		text = bashCompletion
	case "zsh":
		text = zshCompletion
	case "fish":
		text = fishCompletion
	default:
		var names []string
		for _, s := range completionShells {
			names = append(names, s.name)
		}
		hint := "the shells are bash, zsh and fish"
		if c := closestThreads(names, shell, 1); len(c) > 0 {
			hint = fmt.Sprintf("did you mean %q?", c[0])
		}
		return "", usagef(hint, "no completion for shell %q", shell)
	}
	t := template.Must(template.New(shell).Delims("<<", ">>").Parse(text))
	var b strings.Builder
	if err := t.Execute(&b, struct{ Name, Func, Flag string }{name, strings.ReplaceAll(name, "-", "_"), completionFlag}); err != nil {
		return "", err
	}
	return b.String(), nil
}

// installCompletion gives every command of app its completion function.
func installCompletion(env *Env, app *cli.App) {
	app.EnableBashCompletion = true
	app.BashComplete = completer(env, "", argCommands)
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, cmd := range cmds {
			path := strings.TrimSpace(prefix + " " + cmd.Name)
			kind := positionalArgs[path]
			if len(cmd.Subcommands) > 0 {
				kind = argCommands
			}
			cmd.BashComplete = completer(env, path, kind)
			walk(path, cmd.Subcommands)
		}
	}
	walk("", app.Commands)
}

// completer prints the candidates for the last argument of the command at
// path (see the comment at the top of this file).
func completer(env *Env, path string, kind argKind) cli.BashCompleteFunc {
	return func(c *cli.Context) {
		w := c.App.Writer
		if path == "" {
			// The root's own arguments are lost when its flags fail to
			// parse (a partial flag is being completed), so it cannot tell
			// a partial flag from a flag's value: it offers the commands
			// and its flags and the scripts keep the flags only for a
			// word that starts with '-'.
			args := c.Args().Slice()
			if len(args) <= 1 {
				printCommands(w, c.Command.Subcommands)
			}
			if len(args) == 0 {
				printFlags(w, c.Command.VisibleFlags())
			}
			return
		}
		// A subcommand's raw arguments are its parent's remaining ones:
		// flag parsing stops at the first non-flag, the command's name.
		lineage := c.Lineage()
		if len(lineage) < 2 {
			return
		}
		raw := lineage[1].Args().Tail()
		cur, before := "", raw
		if n := len(raw); n > 0 {
			cur, before = raw[n-1], raw[:n-1]
		}
		flags := c.Command.VisibleFlags()
		positional, pending := scanWords(flags, before)
		switch {
		case pending != nil:
			printFlagValues(w, c, env, pending)
		case positional > 0 && kind != argJIDs:
			// Every command but send takes at most one argument, and
			// flags after an argument are not parsed as flags.
		case strings.HasPrefix(cur, "-"):
			if positional == 0 {
				printFlags(w, flags)
			}
		case kind == argCommands:
			printCommands(w, c.Command.Subcommands)
		case kind == argJIDs:
			printJIDs(w, loadCompletionState(c, env, false))
		case kind == argThreadOrJID:
			st := loadCompletionState(c, env, false)
			printThreads(w, st, false)
			printJIDs(w, st)
		case kind == argOpenThread:
			printThreads(w, loadCompletionState(c, env, false), true)
		case kind == argShell:
			for _, s := range completionShells {
				fmt.Fprintf(w, "%s\t%s\n", s.name, s.desc)
			}
		}
	}
}

// scanWords walks a command's arguments before the cursor as Go's flag
// package does: it returns how many positional arguments there are and,
// when the last word is a flag still waiting for its value, that flag.
func scanWords(flags []cli.Flag, words []string) (positional int, pending cli.Flag) {
	for i := 0; i < len(words); i++ {
		w := words[i]
		if positional > 0 || w == "-" || !strings.HasPrefix(w, "-") {
			positional++
			continue
		}
		name := strings.TrimLeft(w, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := lookupFlag(flags, name)
		if f == nil || !takesValue(f) {
			continue
		}
		if i == len(words)-1 {
			return positional, f
		}
		i++ // the value
	}
	return positional, nil
}

func lookupFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	d, ok := f.(cli.DocGenerationFlag)
	return ok && d.TakesValue()
}

func flagUsage(f cli.Flag) string {
	d, ok := f.(cli.DocGenerationFlag)
	if !ok {
		return ""
	}
	return strings.ReplaceAll(d.GetUsage(), "`", "")
}

// dashed is a flag name as typed: -h, --help.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

func printCommands(w io.Writer, cmds []*cli.Command) {
	for _, cmd := range cmds {
		if cmd.Hidden || cmd.Name == "help" {
			continue
		}
		fmt.Fprintf(w, "%s\t%s\n", cmd.Name, oneLine(cmd.Usage))
	}
}

func printFlags(w io.Writer, flags []cli.Flag) {
	for _, f := range flags {
		for _, n := range f.Names() {
			fmt.Fprintf(w, "%s\t%s\n", dashed(n), oneLine(flagUsage(f)))
		}
	}
}

// printFlagValues offers the values of flag f.
func printFlagValues(w io.Writer, c *cli.Context, env *Env, f cli.Flag) {
	switch f.Names()[0] {
	case flagJID:
		st := loadCompletionState(c, env, true)
		if st == nil {
			return
		}
		for _, a := range st.accounts {
			fmt.Fprintf(w, "%s\taccount\n", a.jid)
		}
	case "peer":
		printJIDs(w, loadCompletionState(c, env, false))
	case "thread":
		printThreads(w, loadCompletionState(c, env, false), false)
	case "type":
		fmt.Fprint(w, "chat\tone-to-one chat (default)\nnormal\tstandalone message, like an email\nheadline\tnotification that is never answered\n")
	case "room":
		printRooms(w, c, env, loadCompletionState(c, env, false))
	case "pm":
		printOccupants(w, loadCompletionState(c, env, false))
	case flagCAFile, flagPasswordFile, flagRoomPwFile:
		fmt.Fprintln(w, completeFiles)
	case flagStateDir:
		fmt.Fprintln(w, completeDirs)
	}
}

// completionState is what completion reads from the state file: the
// account given with --jid or JAB_JID, or every account when none is (or
// when allAccounts asks for them, to complete --jid itself).
type completionState struct {
	accounts []completionAccount
	rosters  []*statefile.Roster // roster caches of the accounts offered
}

type completionAccount struct {
	jid string
	*statefile.Account
}

// loadCompletionState reads the state directory the command would use
// (--state-dir, JAB_STATE_DIR or the default) without creating it. Any
// error means nothing to offer.
func loadCompletionState(c *cli.Context, env *Env, allAccounts bool) *completionState {
	s, _ := loadSettings(c, env) // a config file that cannot be read counts as none
	dir, _ := settings.Get(s, flagStateDir, "")
	if dir == "" {
		var err error
		if dir, err = statefile.DefaultDir(env.Getenv); err != nil {
			return nil
		}
	}
	// statefile.Open creates a missing directory; completion must not.
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil
	}
	store, err := statefile.Open(dir)
	if err != nil {
		return nil
	}
	st, err := store.Load()
	if err != nil {
		return nil
	}
	var only string
	jid, _ := settings.Get(s, flagJID, "")
	if j, err := session.ParseJID(jid); err == nil && j.Local != "" && !allAccounts {
		only = j.Bare()
	}
	cs := &completionState{}
	for jid, a := range st.Accounts {
		if (only == "" || jid == only) && completable(jid) {
			cs.accounts = append(cs.accounts, completionAccount{jid, a})
		}
	}
	sort.Slice(cs.accounts, func(i, j int) bool { return cs.accounts[i].jid < cs.accounts[j].jid })
	rosterOf := []string{only}
	if only == "" {
		rosterOf = rosterOf[:0]
		for _, a := range cs.accounts {
			rosterOf = append(rosterOf, a.jid)
		}
	}
	for _, acct := range rosterOf {
		if r := store.ReadRoster(acct); r != nil {
			cs.rosters = append(cs.rosters, r)
		}
	}
	return cs
}

// completable reports whether s can be offered as a candidate: peers
// choose JIDs and thread ids, and a control character or a space would
// reach the terminal or split the candidate.
func completable(s string) bool {
	return s != "" && !strings.HasPrefix(s, "-") && sanitize(s) == s && !strings.ContainsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\u00a0' || r == '\u2028' || r == '\u2029'
	})
}

// printJIDs offers the conversations' JIDs, the most recently active
// first, each described by its lock.
func printJIDs(w io.Writer, st *completionState) {
	if st == nil {
		return
	}
	type jid struct {
		key  string
		conv *statefile.Conversation
	}
	var list []jid
	seen := map[string]bool{}
	for _, a := range st.accounts {
		for key, conv := range a.Conversations {
			if completable(key) && !seen[key] {
				seen[key] = true
				list = append(list, jid{key, conv})
			}
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if a, b := list[i].conv.LastActivity, list[j].conv.LastActivity; !a.Equal(b) {
			return a.After(b)
		}
		return list[i].key < list[j].key
	})
	for _, j := range list {
		desc := "conversation, unlocked"
		if j.conv.LockedTo != "" {
			desc = "conversation, locked to " + j.conv.LockedTo
		}
		fmt.Fprintf(w, "%s\t%s\n", j.key, oneLine(desc))
	}
	// Then the contacts of the roster cache (jab roster, jab repl) that
	// have no conversation yet.
	for _, r := range st.rosters {
		for _, it := range r.Items {
			if !completable(it.JID) || seen[it.JID] {
				continue
			}
			seen[it.JID] = true
			desc := "contact"
			if it.Name != "" {
				desc = "contact " + it.Name
			}
			fmt.Fprintf(w, "%s\t%s\n", it.JID, oneLine(desc))
		}
	}
}

// printRooms offers the group chat rooms of the config file, then those
// the state knows (knownRooms).
func printRooms(w io.Writer, c *cli.Context, env *Env, st *completionState) {
	s, _ := loadSettings(c, env)
	var accounts []*statefile.Account
	if st != nil {
		for _, a := range st.accounts {
			accounts = append(accounts, a.Account)
		}
	}
	configured, known := knownRooms(s, accounts...)
	for _, r := range configured {
		fmt.Fprintf(w, "%s\troom in the config file\n", r)
	}
	for _, r := range known {
		fmt.Fprintf(w, "%s\troom\n", r)
	}
}

// knownRooms are the rooms of the config file (rooms), and those the
// accounts' state knows that it does not name: rooms with an archive
// position, and the rooms of private conversations with occupants; each
// sorted, only those completion may offer.
func knownRooms(s *settings.Settings, accounts ...*statefile.Account) (configured, known []string) {
	seen := map[string]bool{}
	keep := func(list []string) []string {
		slices.Sort(list)
		return slices.DeleteFunc(list, func(r string) bool {
			if !completable(r) || seen[r] {
				return true
			}
			seen[r] = true
			return false
		})
	}
	if s != nil {
		rooms, _ := settings.Get(s, optRooms, []settings.Room(nil))
		for _, r := range rooms {
			configured = append(configured, r.JID)
		}
	}
	configured = keep(configured)
	for _, a := range accounts {
		for room := range a.RoomArchive {
			known = append(known, room)
		}
		for key, cv := range a.Conversations {
			if cv.Occupant {
				known = append(known, session.BareOf(key))
			}
		}
	}
	return configured, keep(known)
}

// printOccupants offers the occupants of private conversations (send
// --pm).
func printOccupants(w io.Writer, st *completionState) {
	if st == nil {
		return
	}
	var list []string
	for _, a := range st.accounts {
		for key, cv := range a.Conversations {
			if cv.Occupant && completable(key) && !slices.Contains(list, key) {
				list = append(list, key)
			}
		}
	}
	slices.Sort(list)
	for _, key := range list {
		fmt.Fprintf(w, "%s\tprivate conversation in a room\n", key)
	}
}

// printThreads offers thread ids, the most recently active first, each
// described by its peer and subject.
func printThreads(w io.Writer, st *completionState, openOnly bool) {
	if st == nil {
		return
	}
	var list []*statefile.Thread
	for _, a := range st.accounts {
		for id, t := range a.Threads {
			if completable(id) && !(openOnly && t.Closed) {
				list = append(list, t)
			}
		}
	}
	session.ByActivity(list)
	for _, t := range list {
		state := "open"
		if t.Closed {
			state = "closed"
		}
		desc := fmt.Sprintf("thread with %s, %s", t.Peer, state)
		if s := session.Headline(t.Subject, ""); s != "" {
			desc += ": " + s
		}
		fmt.Fprintf(w, "%s\t%s\n", t.ID, oneLine(desc))
	}
}

// oneLine makes a description safe for one completion line: no control
// characters, no tab (the separator), at most 80 characters.
func oneLine(s string) string {
	s = strings.ReplaceAll(sanitize(strings.Join(strings.Fields(s), " ")), `\t`, " ")
	if r := []rune(s); len(r) > 80 {
		s = string(r[:79]) + "…"
	}
	return s
}

const bashCompletion = `# bash completion for <<.Name>>                                  -*- shell-script -*-
#
# Generated by '<<.Name>> completion bash'; do not edit. Install it as
# $PREFIX/share/bash-completion/completions/<<.Name>>, or load it from ~/.bashrc:
#     source <(<<.Name>> completion bash)
#
# The candidates come from <<.Name>> itself: the words up to the cursor go to
# '<<.Name>> WORDS... <<.Flag>>', which prints one candidate per
# line (then a tab and a description), or ":file" or ":dir" for file names.
# It reads the state directory for JIDs and thread ids; it never connects.

_<<.Func>>() {
    local cur words cword
    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
        _get_comp_words_by_ref -n =: cur words cword
    else
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
        cur=${COMP_WORDS[COMP_CWORD]}
    fi
    COMPREPLY=()
    local i
    # After "--" only message text follows (and the command would run
    # instead of completing).
    for ((i = 1; i < cword; i++)); do
        [[ ${words[i]} == -- ]] && return 0
    done
    local -a args=("${words[@]:1:cword-1}")
    if [[ $cur == -- ]]; then
        args+=(-)
    else
        args+=("$cur")
    fi
    local prog=${words[0]}
    [[ $prog == "~/"* ]] && prog=$HOME/${prog#"~/"}
    local line cand
    while IFS= read -r line; do
        case $line in
        :file)
            compopt -o filenames 2>/dev/null
            mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -- "$cur")
            ;;
        :dir)
            compopt -o filenames 2>/dev/null
            mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -d -- "$cur")
            ;;
        *)
            cand=${line%%$'\t'*}
            [[ -z $cand || ($cand == -* && $cur != -*) ]] && continue
            [[ $cand == "$cur"* ]] && COMPREPLY+=("$cand")
            ;;
        esac
    done < <("$prog" "${args[@]}" <<.Flag>> 2>/dev/null)
    # bash-completion: a ':' in the word is a word break for readline.
    if declare -F __ltrim_colon_completions >/dev/null 2>&1; then
        __ltrim_colon_completions "$cur"
    fi
    return 0
}

complete -F _<<.Func>> <<.Name>>
`

const zshCompletion = `#compdef <<.Name>>
#
# zsh completion for <<.Name>>. Generated by '<<.Name>> completion zsh'; do not edit.
# Install it as _<<.Name>> in a directory of $fpath (such as
# $PREFIX/share/zsh/site-functions), or load it from ~/.zshrc after compinit:
#     source <(<<.Name>> completion zsh)
#
# The candidates come from <<.Name>> itself: the words up to the cursor go to
# '<<.Name>> WORDS... <<.Flag>>', which prints one candidate per
# line (then a tab and a description), or ":file" or ":dir" for file names.
# It reads the state directory for JIDs and thread ids; it never connects.

_<<.Func>>() {
  local -a args lines cands
  local prog=${words[1]} cur=${(Q)words[CURRENT]} line cand desc i
  [[ $prog == '~/'* ]] && prog=$HOME/${prog#\~/}
  # After "--" only message text follows (and the command would run
  # instead of completing).
  for (( i = 2; i < CURRENT; i++ )); do
    [[ ${words[i]} == -- ]] && return 1
  done
  args=("${(@Q)words[2,CURRENT-1]}")
  if [[ $cur == -- ]]; then
    args+=(-)
  else
    args+=("$cur")
  fi
  lines=("${(@f)$("$prog" "${args[@]}" <<.Flag>> 2>/dev/null)}")
  for line in "${lines[@]}"; do
    case $line in
      (:file) _files; return ;;
      (:dir) _files -/; return ;;
      ('') continue ;;
    esac
    cand=${line%%$'\t'*}
    [[ $cand == -* && $cur != -* ]] && continue
    desc=
    [[ $line == *$'\t'* ]] && desc=${line#*$'\t'}
    cands+=("${cand//:/\\:}${desc:+:$desc}")
  done
  (( ${#cands} )) || return 1
  _describe -t values '<<.Name>>' cands
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _<<.Func>> "$@"
else
  compdef _<<.Func>> <<.Name>>
fi
`

const fishCompletion = `# fish completion for <<.Name>>. Generated by '<<.Name>> completion fish'; do not edit.
# Install it as $PREFIX/share/fish/vendor_completions.d/<<.Name>>.fish or
# ~/.config/fish/completions/<<.Name>>.fish, or load it with:
#     <<.Name>> completion fish | source
#
# The candidates come from <<.Name>> itself: the words up to the cursor go to
# '<<.Name>> WORDS... <<.Flag>>', which prints one candidate per
# line (then a tab and a description), or ":file" or ":dir" for file names.
# It reads the state directory for JIDs and thread ids; it never connects.

function __<<.Func>>_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l args
    if set -q tokens[2]
        set args $tokens[2..-1]
    end
    # After "--" only message text follows (and the command would run
    # instead of completing).
    if contains -- -- $args
        return
    end
    set -l req "$cur"
    if test "$cur" = --
        set req -
    end
    set -l prog (string replace -r '^~/' "$HOME/" -- $tokens[1])
    for line in ($prog $args "$req" <<.Flag>> 2>/dev/null)
        switch $line
            case :file
                __fish_complete_path "$cur"
            case :dir
                __fish_complete_directories "$cur"
            case '-*'
                if string match -q -- '-*' "$cur"
                    printf '%s\n' $line
                end
            case '*'
                printf '%s\n' $line
        end
    end
end

complete -c <<.Name>> -f -a '(__<<.Func>>_complete)'
`
