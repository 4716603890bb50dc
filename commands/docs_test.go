package commands

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/statefile"
	"github.com/urfave/cli/v2"
)

// -update-docs rewrites completions/ and man/jab.1 (make docs). It is not
// called -update: threads_view_test.go defines that one for testdata/.
var updateDocs = flag.Bool("update-docs", false, "rewrite completions/ and man/jab.1 from the app")

// docFiles are the committed generated files and the command printing each.
var docFiles = []struct {
	path string
	args []string
}{
	{"../completions/jab.bash", []string{"completion", "bash"}},
	{"../completions/_jab", []string{"completion", "zsh"}},
	{"../completions/jab.fish", []string{"completion", "fish"}},
	{"../man/jab.1", []string{"man"}},
}

// docsOutput runs jab with args and returns its stdout, failing on
// anything else.
func docsOutput(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := runApp(t, "", nil, args...)
	if code != 0 || errs != "" {
		t.Fatalf("jab %s: exit %d, stderr %q", strings.Join(args, " "), code, errs)
	}
	return out
}

func TestDocsGolden(t *testing.T) {
	for _, d := range docFiles {
		t.Run(strings.Join(d.args, " "), func(t *testing.T) {
			got := docsOutput(t, d.args...)
			if *updateDocs {
				if err := os.WriteFile(d.path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(d.path)
			if err != nil {
				t.Fatalf("%v (run make docs)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from 'jab %s' (run make docs to regenerate it):\n%s",
					d.path, strings.Join(d.args, " "), firstDifference(string(want), got))
			}
		})
	}
}

// firstDifference shows the first differing line of two texts.
func firstDifference(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n--- committed\n" + w + "\n--- generated\n" + g
		}
	}
	return "(no line differs)"
}

func TestCompletionScriptSyntax(t *testing.T) {
	for _, c := range []struct{ shell, file string }{
		{"bash", "../completions/jab.bash"},
		{"zsh", "../completions/_jab"},
		{"fish", "../completions/jab.fish"},
	} {
		t.Run(c.shell, func(t *testing.T) {
			if _, err := exec.LookPath(c.shell); err != nil {
				t.Skipf("%s is not installed", c.shell)
			}
			script := docsOutput(t, "completion", c.shell)
			path := filepath.Join(t.TempDir(), filepath.Base(c.file))
			if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(c.shell, "-n", path).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("%s -n: %v\n%s", c.shell, err, out)
			}
		})
	}
}

func TestCompletionUnknownShell(t *testing.T) {
	code, out, errs := runApp(t, "", nil, "completion", "bsh")
	if code != ExitUsage || out != "" || !strings.Contains(errs, `did you mean "bash"?`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// completionEnv runs jab in-process as a completion request does. It
// fails the test if anything reads stdin or a password source: completing
// must never prompt, and never needs to log in.
func completionRun(t *testing.T, env map[string]string, args ...string) (code int, out, errs string) {
	t.Helper()
	var o, e bytes.Buffer
	ev := &Env{Stdin: failReader{t}, Stdout: &o, Stderr: &e, Now: time.Now, Host: "test",
		Getenv: func(k string) string {
			if strings.HasPrefix(k, "JAB_PASSWORD") {
				t.Errorf("completion read %s", k)
			}
			return env[k]
		}}
	code = Run(context.Background(), ev, append(append([]string{"jab"}, args...), completionFlag))
	return code, o.String(), e.String()
}

type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Error("completion read stdin")
	return 0, errors.New("no stdin")
}

// candidates are the completion output's candidates, descriptions cut.
func candidates(out string) []string {
	var c []string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line != "" {
			c = append(c, strings.SplitN(line, "\t", 2)[0])
		}
	}
	return c
}

func TestCompletionCandidates(t *testing.T) {
	dir := tvFixture(t)
	env := map[string]string{"JAB_JID": tvAccount, "JAB_STATE_DIR": dir}
	commands := []string{"send", "listen", "repl", "threads", "raw", "roster", "config", "completion", "man", "keys"}
	jids := []string{"alice@example.org", "bob@example.com"}
	openThreads := []string{tvT1, tvT2, tvFoo, tvBar}
	allThreads := append(slices.Clone(openThreads), tvT3)
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		want   []string // all offered
		wantNo []string // none offered
		only   bool     // want is exactly what is offered
	}{
		{name: "commands", args: []string{""}, want: commands, wantNo: []string{"help", "--jid"}, only: true},
		{name: "commands, no current word", args: nil, want: commands},
		{name: "partial command", args: []string{"thr"}, want: commands},
		{name: "root flags", args: []string{"--st"}, want: []string{"--state-dir", "--version", "--help"}},
		{name: "threads subcommands", args: []string{"threads", ""}, want: []string{"list", "show", "close", "prune"}, only: true},
		{name: "send recipients", args: []string{"send", ""}, want: jids, only: true},
		{name: "send recipients, urfave style", args: []string{"send"}, want: jids, only: true},
		{name: "send more recipients", args: []string{"send", "alice@example.org", ""}, want: jids},
		{name: "send flags", args: []string{"send", "--ty"}, want: []string{"--type", "--thread", "--jid", "--state-dir", "--help"}},
		{name: "no flags after a recipient", args: []string{"send", "alice@example.org", "--js"}, wantNo: []string{"--json"}},
		{name: "send --thread", args: []string{"send", "--thread", ""}, want: allThreads, only: true},
		{name: "send --type", args: []string{"send", "--type", ""}, want: []string{"chat", "normal", "headline"}, only: true},
		{name: "a flag's value is not a recipient", args: []string{"send", "--subject", ""}, only: true},
		{name: "recipients after flags", args: []string{"send", "--subject", "hi", "--json", ""}, want: jids, only: true},
		{name: "show", args: []string{"threads", "show", ""}, want: append(slices.Clone(allThreads), jids...), only: true},
		{name: "show takes one argument", args: []string{"threads", "show", tvT1, ""}, only: true},
		{name: "close offers open threads", args: []string{"threads", "close", ""}, want: openThreads, wantNo: []string{tvT3}, only: true},
		{name: "list --peer", args: []string{"threads", "list", "--peer", ""}, want: jids, only: true},
		{name: "--jid", args: []string{"send", "--jid", ""}, want: []string{tvAccount}, only: true},
		{name: "--ca-file", args: []string{"send", "--ca-file", ""}, want: []string{completeFiles}, only: true},
		{name: "--state-dir", args: []string{"listen", "--state-dir", ""}, want: []string{completeDirs}, only: true},
		{name: "completion shells", args: []string{"completion", ""}, want: []string{"bash", "zsh", "fish"}, only: true},
		{name: "--state-dir flag before the command", env: map[string]string{"JAB_JID": tvAccount},
			args: []string{"--state-dir", dir, "send", ""}, want: jids, only: true},
		{name: "--state-dir flag after the command", env: map[string]string{"JAB_JID": tvAccount},
			args: []string{"send", "--state-dir", dir, ""}, want: jids, only: true},
		{name: "--jid picks the account", args: []string{"--jid", "other@example.net", "threads", "show", ""}, only: true},
		{name: "every account without a JID", env: map[string]string{"JAB_STATE_DIR": dir},
			args: []string{"send", ""}, want: jids},
		{name: "no state directory", env: map[string]string{"JAB_JID": tvAccount, "JAB_STATE_DIR": filepath.Join(dir, "missing")},
			args: []string{"send", ""}, only: true},
		{name: "no HOME", env: map[string]string{}, args: []string{"threads", "close", ""}, only: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env
			if tt.env != nil {
				e = tt.env
			}
			code, out, errs := completionRun(t, e, tt.args...)
			if code != 0 || errs != "" {
				t.Fatalf("exit %d, stderr %q", code, errs)
			}
			got := candidates(out)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("%q not offered: %q", w, got)
				}
			}
			for _, w := range tt.wantNo {
				if slices.Contains(got, w) {
					t.Errorf("%q offered: %q", w, got)
				}
			}
			if tt.only && len(got) != len(tt.want) {
				t.Errorf("offered %q, want exactly %q", got, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("completion created the state directory: %v", err)
	}
}

// TestCompletionRooms: --room offers the config file's rooms and the rooms
// the state knows (an archive position, a private conversation); --pm the
// occupants of private conversations; --room-password-file a file.
func TestCompletionRooms(t *testing.T) {
	dir := tvFixture(t)
	store, err := statefile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Update(context.Background(), func(st *statefile.State) error {
		a := st.Account(tvAccount)
		a.RoomArchive = map[string]string{"archived@muc.example.org": "s1"}
		a.Conversations["pm@muc.example.org/alice"] = &statefile.Conversation{Peer: "pm@muc.example.org/alice", Occupant: true}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte("[rooms.\"team@muc.example.org\"]\nnick = \"ci\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"JAB_JID": tvAccount, "JAB_STATE_DIR": dir, "JAB_CONFIG": cfg}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"send", "--room", ""}, []string{"team@muc.example.org", "archived@muc.example.org", "pm@muc.example.org"}},
		{[]string{"listen", "--room", ""}, []string{"team@muc.example.org", "archived@muc.example.org", "pm@muc.example.org"}},
		{[]string{"send", "--pm", ""}, []string{"pm@muc.example.org/alice"}},
		{[]string{"send", "--room-password-file", ""}, []string{completeFiles}},
	} {
		code, out, errs := completionRun(t, env, c.args...)
		if got := candidates(out); code != 0 || errs != "" || !slices.Equal(got, c.want) {
			t.Errorf("%q: offered %q (exit %d, %s), want %q", c.args, got, code, errs, c.want)
		}
	}
}

func TestCompletionDefaultStateDir(t *testing.T) {
	xdg := t.TempDir()
	if err := os.Symlink(tvFixture(t), filepath.Join(xdg, "jab")); err != nil {
		t.Fatal(err)
	}
	code, out, errs := completionRun(t, map[string]string{"XDG_STATE_HOME": xdg, "JAB_JID": tvAccount}, "threads", "list", "--peer", "")
	if code != 0 || errs != "" || !slices.Contains(candidates(out), "alice@example.org") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestCompletionBadState(t *testing.T) {
	for name, content := range map[string]string{
		"corrupt": "{not json",
		"too new": `{"version": 99999}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errs := completionRun(t, map[string]string{"JAB_JID": tvAccount, "JAB_STATE_DIR": dir}, "send", "")
			if code != 0 || out != "" || errs != "" {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
			}
		})
	}
}

func TestCompletionHostilePeers(t *testing.T) {
	// Peers choose JIDs and thread ids: a candidate that could act on the
	// terminal or split into two words is not offered, and descriptions
	// are escaped.
	dir := t.TempDir()
	writeState(t, dir, `{"version": 1, "accounts": {"me@example.net": {
		"conversations": {"evil\u001b[2J@example.org": {"peer": "x"}, "ok@example.org": {"peer": "ok@example.org", "locked_to": "ok@example.org/\u001b]0;x\u0007"}},
		"threads": {"a b": {"id": "a b", "peer": "ok@example.org"}, "-rf": {"id": "-rf", "peer": "ok@example.org"},
			"good": {"id": "good", "peer": "ok@example.org", "subject": "line\nbreak\tand tab"}}}}}`)
	code, out, errs := completionRun(t, map[string]string{"JAB_JID": "me@example.net", "JAB_STATE_DIR": dir}, "threads", "show", "")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if got := candidates(out); !slices.Equal(got, []string{"good", "ok@example.org"}) {
		t.Errorf("offered %q", got)
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.Count(line, "\t") != 1 || strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 && r != '\t' }) {
			t.Errorf("unsafe completion line %q", line)
		}
	}
}

func writeState(t *testing.T, dir, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCompletionAfterDoubleDash(t *testing.T) {
	// urfave/cli runs the command instead of completing when "--" is among
	// the arguments; jab refuses instead of sending "hi --generate-…".
	dir := t.TempDir()
	code, out, errs := completionRun(t, map[string]string{"JAB_JID": tvAccount, "JAB_STATE_DIR": dir, "JAB_SERVER": "127.0.0.1:1"},
		"send", "alice@example.org", "--", "hi")
	if code != ExitUsage || out != "" || !strings.Contains(errs, "nothing to complete") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err == nil {
		t.Error("the state file was written")
	}
}

// completionBinary is a jab binary for the tests that drive the real
// completion scripts.
func completionBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "jab")
	build := exec.Command("go", "build", "-o", bin, "github.com/jab-xmpp/jab")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build jab: %v\n%s", err, out)
	}
	return dir
}

// shellEnv is a clean environment for a shell that completes jab from
// binDir with the fixture's state.
func shellEnv(t *testing.T, binDir, stateDir string) []string {
	home := t.TempDir()
	return []string{"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + home,
		"XDG_CONFIG_HOME=" + home, "XDG_DATA_HOME=" + home, "XDG_CACHE_HOME=" + home,
		"JAB_JID=" + tvAccount, "JAB_STATE_DIR=" + stateDir}
}

// shellCases are command lines (the cursor at the end) and what the
// scripts must complete them to, in order.
var shellCases = []struct {
	line string
	want []string
}{
	{"jab ", []string{"completion", "config", "keys", "listen", "man", "raw", "repl", "roster", "send", "threads"}},
	{"jab th", []string{"threads"}},
	{"jab threads ", []string{"close", "list", "prune", "show"}},
	{"jab send al", []string{"alice@example.org"}},
	{"jab send --ty", []string{"--type"}},
	{"jab send --type h", []string{"headline"}},
	{"jab threads close a1", []string{tvT1, tvT2}},
	{"jab threads show c", []string{tvT3, tvBar, tvFoo}},
	{"jab send alice@example.org -- ", nil},
	{"jab completion z", []string{"zsh"}},
}

func TestCompletionBashScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	bin, state := completionBinary(t), tvFixture(t)
	script := filepath.Join(t.TempDir(), "jab.bash")
	if err := os.WriteFile(script, []byte(docsOutput(t, "completion", "bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	// Without and, where it is installed, with the bash-completion
	// package, whose word splitting the script then uses.
	modes := map[string]string{"plain": ""}
	if _, err := os.Stat("/usr/share/bash-completion/bash_completion"); err == nil {
		modes["bash-completion"] = "source /usr/share/bash-completion/bash_completion\n"
	}
	for mode, preamble := range modes {
		for _, c := range shellCases {
			t.Run(mode+"/"+c.line, func(t *testing.T) {
				// COMP_WORDS as bash splits the line, the cursor at its end.
				driver := preamble + `source "$1"; shift
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
_jab; printf '%s\n' "${COMPREPLY[@]}" | sort`
				words := strings.Split(c.line, " ")
				cmd := exec.Command(bash, append([]string{"--norc", "--noprofile", "-c", driver, "bash", script}, words...)...)
				cmd.Env = shellEnv(t, bin, state)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil || stderr.Len() > 0 {
					t.Fatalf("bash: %v: %s", err, stderr.String())
				}
				if got := strings.Fields(string(out)); !slices.Equal(got, sorted(c.want)) {
					t.Errorf("completes to %q, want %q", got, sorted(c.want))
				}
			})
		}
	}
}

func TestCompletionFishScript(t *testing.T) {
	fish, err := exec.LookPath("fish")
	if err != nil {
		t.Skip("fish is not installed")
	}
	bin, state := completionBinary(t), tvFixture(t)
	script := filepath.Join(t.TempDir(), "jab.fish")
	if err := os.WriteFile(script, []byte(docsOutput(t, "completion", "fish")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range shellCases {
		t.Run(c.line, func(t *testing.T) {
			cmd := exec.Command(fish, "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, script, c.line)
			cmd.Env = shellEnv(t, bin, state)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Fatalf("fish: %v: %s", err, stderr.String())
			}
			got := candidates(string(out))
			if !slices.Equal(sorted(got), sorted(c.want)) {
				t.Errorf("completes to %q, want %q", got, c.want)
			}
		})
	}
}

func TestCompletionZshScript(t *testing.T) {
	// zsh's completion system needs a terminal; this calls the script's
	// function with compsys's variables set and _describe stubbed, which
	// checks what it asks jab and passes on.
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("zsh is not installed")
	}
	bin, state := completionBinary(t), tvFixture(t)
	script := filepath.Join(t.TempDir(), "_jab")
	if err := os.WriteFile(script, []byte(docsOutput(t, "completion", "zsh")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range shellCases {
		t.Run(c.line, func(t *testing.T) {
			driver := `compdef() { :; }
_describe() { local c; for c in "${(@P)4}"; do print -r -- "${c%%:*}"; done; }
source $1; shift
words=("$@"); CURRENT=$#
_jab`
			words := strings.Split(c.line, " ")
			cmd := exec.Command(zsh, append([]string{"-f", "-c", driver, "zsh", script}, words...)...)
			cmd.Env = shellEnv(t, bin, state)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, _ := cmd.Output() // _jab returns 1 when it offers nothing
			if stderr.Len() > 0 {
				t.Fatalf("zsh: %s", stderr.String())
			}
			// _describe filters by the current word; the stub does not.
			cur := words[len(words)-1]
			var got []string
			for _, c := range strings.Fields(string(out)) {
				if strings.HasPrefix(c, cur) {
					got = append(got, c)
				}
			}
			if !slices.Equal(sorted(got), sorted(c.want)) {
				t.Errorf("completes to %q, want %q", got, c.want)
			}
		})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if s == nil {
		s = []string{}
	}
	return s
}

func TestManGroff(t *testing.T) {
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("groff is not installed")
	}
	page := filepath.Join(t.TempDir(), "jab.1")
	if err := os.WriteFile(page, []byte(docsOutput(t, "man")), 0o644); err != nil {
		t.Fatal(err)
	}
	// ps is groff's default device; man(1) uses utf8 or, in the C locale,
	// ascii, which lacks every non-ASCII glyph.
	for _, dev := range []string{"ps", "utf8", "ascii"} {
		out, err := exec.Command("groff", "-man", "-ww", "-z", "-T"+dev, page).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff -man -ww -z -T%s: %v\n%s", dev, err, out)
		}
	}
}

func TestManContents(t *testing.T) {
	page := docsOutput(t, "man")
	unescape := strings.NewReplacer(`\-`, "-", `\fB`, "", `\fI`, "", `\fR`, "", `\&`, "").Replace
	text := unescape(page)
	if !strings.HasPrefix(page, ".\\\"") || !strings.Contains(page, "\n.TH JAB 1 ") {
		t.Error("not a section 1 page")
	}
	sections := []string{"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "GLOBAL OPTIONS",
		"SENDING", "LISTENING", "BOT MODE", "THREADS", "INTERACTIVE USE", "STORED LOCKS", "CONNECTING AND LOGGING IN", "CONFIGURATION", "ENCRYPTION",
		"ENVIRONMENT", "FILES", "EXIT STATUS", "SECURITY", "STANDARDS", "EXAMPLES", "SEE ALSO"}
	for _, s := range sections {
		if !strings.Contains(page, "\n.SH "+s+"\n") {
			t.Errorf("no %s section", s)
		}
	}
	// The prose cites sections by name ("see STORED LOCKS", "THREADS
	// has ..."): each name cited must be a section.
	cited := regexp.MustCompile(`(?:(?i:see)|under|rule of) ([A-Z][A-Z ]*[A-Z])\b|\b([A-Z][A-Z ]*[A-Z]) (?:describes|has|gives)\b`)
	prose := []string{manDescription, manFilesAfter}
	for _, sec := range append(slices.Clone(manTopics()), manNotes()...) {
		prose = append(prose, sec.text)
	}
	for _, n := range manCommandNotes {
		prose = append(prose, n)
	}
	for _, f := range manFiles {
		prose = append(prose, f.text)
	}
	refs := 0
	for _, p := range prose {
		for _, m := range cited.FindAllStringSubmatch(p, -1) {
			refs++
			if name := m[1] + m[2]; !slices.Contains(sections, name) {
				t.Errorf("the man page cites section %q, which does not exist", name)
			}
		}
	}
	if refs < 10 {
		t.Errorf("only %d section references found: the pattern no longer matches the prose", refs)
	}
	app := newApp(&Env{Getenv: func(string) string { return "" }})
	notes := map[string]bool{}
	walkCommands(app.Commands, "jab", func(path string, cmd *cli.Command) {
		if !strings.Contains(text, ".SS \""+path) {
			t.Errorf("command %q is missing", path)
		}
		if _, ok := manCommandNotes[path]; ok {
			notes[path] = true
		}
		for _, f := range cmd.VisibleFlags() {
			if !strings.Contains(text, dashed(f.Names()[0])) {
				t.Errorf("%s: flag --%s is missing", path, f.Names()[0])
			}
		}
	})
	for path := range manCommandNotes {
		if !notes[path] {
			t.Errorf("manCommandNotes has a note for %q, which is no command", path)
		}
	}
	// The config keys are generated from the global options.
	_, conf, _ := strings.Cut(text, "\n.SH CONFIGURATION\n")
	conf, _, _ = strings.Cut(conf, "\n.SH ")
	for _, f := range globalFlags() {
		if name := f.Names()[0]; name != "config" && name != "account" && !strings.Contains(conf, strings.ReplaceAll(name, "-", "_")) {
			t.Errorf("CONFIGURATION does not list the key of --%s", name)
		}
	}
	env := []string{"JAB_PASSWORD", "NO_COLOR"}
	for _, e := range envOf {
		env = append(env, e)
	}
	for _, e := range env {
		if !strings.Contains(page, "\n.B "+e+"\n") {
			t.Errorf("environment variable %s is missing", e)
		}
	}
	for _, s := range exitStatuses {
		if !strings.Contains(page, "\n.B "+strconv.Itoa(s.Code)+"\n") {
			t.Errorf("exit status %d is missing", s.Code)
		}
	}
	for _, f := range []string{"state.json", "state.json.lock", "history.jsonl", "observer-*.json", "roster-*.json", "fast-*.json", "repl_history",
		"sendxmpp", "go-sendxmpp", "prosody", "XEP-0296", "XEP-0201", "docs/PROTOCOL.md", "docs/STATE.md"} {
		if !strings.Contains(text, f) {
			t.Errorf("%s is not mentioned", f)
		}
	}
	// Unescaped roff: a line starting with ' or . that is not a request,
	// a bare hyphen or backslash in text.
	bareHyphen := regexp.MustCompile(`(^|[^\\])-`)
	for i, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, "'") {
			t.Errorf("line %d starts with ': %q", i+1, line)
		}
		if !strings.HasPrefix(line, ".") && bareHyphen.MatchString(line) {
			t.Errorf("line %d has an unescaped hyphen: %q", i+1, line)
		}
	}
}

func TestManProse(t *testing.T) {
	var b strings.Builder
	b.WriteString(".SH X\n")
	manProse(&b, "first paragraph\n\n## A sub-section\n\n- a bullet\n\n+ --tag\nits text\n\n  literal -x\n  two\n\nlast")
	want := `.SH X
first paragraph
.SS "A sub\-section"
.IP \(bu 2
a bullet
.TP
\fB\-\-tag\fR
its text
.PP
.RS 4
.nf
literal \-x
two
.fi
.RE
.PP
last
`
	if got := b.String(); got != want {
		t.Errorf("manProse:\n%s\nwant\n%s", got, want)
	}
}

func TestRoffText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"--state-dir", `\-\-state\-dir`},
		{`a\b`, `a\eb`},
		{".hidden request", `\&.hidden request`},
		{"'quoted", `\&'quoted`},
		{"a\n.b", "a\n\\&.b"},
		{"§3.2 ↳", `\[u00A7]3.2 \[u21B3]`},
	}
	for _, tt := range tests {
		if got := roffText(tt.in); got != tt.want {
			t.Errorf("roffText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDocsExitStatuses(t *testing.T) {
	// Every Exit constant is in the table...
	f, err := parser.ParseFile(token.NewFileSet(), "exitcode.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var consts []string
	ast.Inspect(f, func(n ast.Node) bool {
		if v, ok := n.(*ast.ValueSpec); ok {
			for _, id := range v.Names {
				if strings.HasPrefix(id.Name, "Exit") {
					consts = append(consts, id.Name)
				}
			}
		}
		return true
	})
	var names []string
	for _, s := range exitStatuses {
		names = append(names, s.Name)
	}
	if !slices.Equal(sorted(consts), sorted(names)) {
		t.Errorf("exit constants %q, table %q", consts, names)
	}
	// ...and README.md's table says the same.
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Exit status\n")
	if !ok {
		t.Fatal("README.md has no Exit status section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile(`(?m)^\| (\d+) \| (.*) \|$`)
	var rows []string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		rows = append(rows, m[1]+" "+m[2])
	}
	var want []string
	for _, s := range exitStatuses {
		want = append(want, strconv.Itoa(s.Code)+" "+s.Meaning)
	}
	if !slices.Equal(rows, want) {
		t.Errorf("README.md's exit status table differs from exitStatuses:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}

// readRepoFile reads a file of the repository, failing the test if it
// cannot.
func readRepoFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// markdownSection is the text under a "## title" heading of a Markdown
// file, up to the next heading of that level.
func markdownSection(t *testing.T, doc, title string) string {
	t.Helper()
	_, section, ok := strings.Cut(doc, "\n## "+title+"\n")
	if !ok {
		t.Fatalf("no %q section", title)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	return section
}

func TestReadmeSize(t *testing.T) {
	// README.md is the introduction; the reference is the man page
	// (commands/cmd_man.go) and docs/. Detail that makes it grow past
	// this belongs there.
	const limit = 20 << 10
	if n := len(readRepoFile(t, "README.md")); n > limit {
		t.Errorf("README.md has %d bytes, over the %d of an introduction: move the detail to the man page or docs/", n, limit)
	}
}

func TestReadmeLinks(t *testing.T) {
	// Every link of README.md and of the docs/ pages it owns resolves
	// inside the repository: someone who clones jab can follow them all.
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, doc := range []string{"README.md", "docs/STATE.md", "docs/PERFORMANCE.md"} {
		text := readRepoFile(t, doc)
		if strings.Contains(text, "../") {
			t.Errorf("%s names a path outside the repository (../)", doc)
		}
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target, anchor, _ := strings.Cut(m[1], "#")
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file := doc
			if target != "" {
				file = filepath.ToSlash(filepath.Join(filepath.Dir(doc), target))
				if strings.HasPrefix(file, "../") {
					t.Errorf("%s: link %q leaves the repository", doc, m[1])
					continue
				}
				if _, err := os.Stat(filepath.Join("..", file)); err != nil {
					t.Errorf("%s: link %q: %v", doc, m[1], err)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(file, ".md") && !slices.Contains(markdownAnchors(readRepoFile(t, file)), anchor) {
				t.Errorf("%s: link %q: %s has no heading %q", doc, m[1], file, anchor)
			}
		}
	}
}

// markdownAnchors are the anchors GitHub makes for a Markdown file's
// headings: lower case, spaces as hyphens, punctuation dropped.
func markdownAnchors(doc string) []string {
	var anchors []string
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range h {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 0x7f:
				b.WriteRune(r)
			}
		}
		anchors = append(anchors, b.String())
	}
	return anchors
}

func TestReadmeCommands(t *testing.T) {
	// The README introduces every command, and points to the reference.
	commands := markdownSection(t, readRepoFile(t, "README.md"), "Commands")
	for _, want := range []string{"jab help CMD", "man jab"} {
		if !strings.Contains(commands, want) {
			t.Errorf("README.md's Commands section does not point to %q", want)
		}
	}
	for _, cmd := range newApp(&Env{Getenv: func(string) string { return "" }}).Commands {
		if !cmd.Hidden && cmd.Name != "help" && !strings.Contains(commands, "**`jab "+cmd.Name) {
			t.Errorf("README.md's Commands section does not introduce jab %s", cmd.Name)
		}
	}
}

func TestReadmePerformance(t *testing.T) {
	// The README's summary quotes docs/PERFORMANCE.md, which has the
	// tables: every figure it gives must be there.
	summary := markdownSection(t, readRepoFile(t, "README.md"), "Performance")
	detail := readRepoFile(t, "docs/PERFORMANCE.md")
	figure := regexp.MustCompile(`\d[\d.,]* (?:ms|MiB|s)\b`)
	figures := figure.FindAllString(summary, -1)
	if len(figures) < 4 {
		t.Fatalf("README.md's Performance section quotes %d figures: %q", len(figures), figures)
	}
	for _, f := range figures {
		if !strings.Contains(detail, f) {
			t.Errorf("README.md quotes %q, which docs/PERFORMANCE.md does not have", f)
		}
	}
	for _, n := range regexp.MustCompile(`about (\d+) messages a second`).FindAllStringSubmatch(summary, -1) {
		if !strings.Contains(detail, "| "+n[1]+" |") {
			t.Errorf("README.md quotes %s replies a second, which docs/PERFORMANCE.md does not have", n[1])
		}
	}
}

func TestDocsStateFields(t *testing.T) {
	// docs/STATE.md describes every field of every file in the state
	// directory.
	doc := readRepoFile(t, "docs/STATE.md")
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ.PkgPath() != reflect.TypeFor[statefile.State]().PkgPath() || seen[typ] {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if !strings.Contains(doc, "`"+name+"`") {
				t.Errorf("docs/STATE.md does not describe %s.%s (%q)", typ.Name(), f.Name, name)
			}
			walk(f.Type)
		}
	}
	for _, v := range []any{statefile.State{}, statefile.Record{}, statefile.Observer{}, statefile.FAST{}, statefile.Roster{}, statefile.SecretKey{}} {
		walk(reflect.TypeOf(v))
	}
	if len(seen) < 8 {
		t.Errorf("walked %d types", len(seen))
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-v"}} {
		out := docsOutput(t, args...)
		if want := "jab version " + versionString() + "\n"; out != want {
			t.Errorf("%v: %q, want %q", args, out, want)
		}
	}
	info := func(main string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Version: main}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	tests := []struct {
		name, version string
		info          *debug.BuildInfo
		want          string
	}{
		{"checkout, modified", "dev", info("(devel)", "vcs.revision", "abc1234def5678abc1234def5678abc1234def56", "vcs.modified", "true"),
			"dev (commit abc1234def56, modified)"},
		{"checkout, clean, make build", "v0.3.0-2-gabc1234", info("v0.0.0-20260101-abc1234def56", "vcs.revision", "abc1234def56", "vcs.modified", "false"),
			"v0.3.0-2-gabc1234 (commit abc1234def56)"},
		{"go install @version", "dev", info("v1.2.3"), "v1.2.3"},
		{"no build info", "dev", info(""), "dev"},
	}
	for _, tt := range tests {
		if got := formatVersion(tt.version, tt.info); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	tests := []struct {
		args       []string
		error, tip string
		usage      string
	}{
		{[]string{"sned", "alice@example.org", "hi"}, `unknown command "sned"`, `did you mean "send"?`, "jab [global options] COMMAND [options] [arguments...]"},
		{[]string{"lsiten"}, `unknown command "lsiten"`, `did you mean "listen"?`, "jab [global options] COMMAND [options] [arguments...]"},
		{[]string{"thread", "list"}, `unknown command "thread"`, `did you mean "threads"?`, "jab [global options] COMMAND [options] [arguments...]"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`, "run 'jab --help' for the list of commands", "jab [global options] COMMAND [options] [arguments...]"},
		{[]string{"threads", "lsit"}, `unknown threads command "lsit"`, `did you mean "list"?`, "jab threads COMMAND [options] [arguments...]"},
		{[]string{"send", "--jsno", "a@b", "x"}, "unknown flag --jsno", `did you mean "--json"?`, "jab send [options] [JID...] [--] [TEXT...]"},
		{[]string{"--jdi", "me@example.net", "send"}, "unknown flag --jdi", `did you mean "--jid"?`, "jab send [options] [JID...] [--] [TEXT...]"},
		{[]string{"threads", "show", "--al", "x"}, "unknown flag --al", `did you mean "--all"?`, ""},
		{[]string{"send", "--zzzzzz", "a@b", "x"}, "unknown flag --zzzzzz", "see 'jab send --help'", "jab send [options] [JID...] [--] [TEXT...]"},
		{[]string{"threads", "prune", "--older-than"}, "flag needs an argument: -older-than", "see 'jab threads prune --help'", "jab threads prune [options]"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errs := runApp(t, "", nil, tt.args...)
			want := "jab: error: " + tt.error + "\njab: hint: " + tt.tip + "\n"
			if tt.usage != "" {
				want += "jab: usage: " + tt.usage + "\n"
			} else if !strings.Contains(errs, "jab: usage: jab threads show ") {
				t.Errorf("no usage line for threads show: %s", errs)
			}
			if tt.usage == "" {
				errs = errs[:strings.Index(errs, "jab: usage: ")]
			}
			if code != ExitUsage || out != "" || errs != want {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 and:\n%s", code, out, errs, want)
			}
		})
	}
}

func TestDocsHelpEverywhere(t *testing.T) {
	paths := [][]string{nil}
	walkCommands(newApp(&Env{Getenv: func(string) string { return "" }}).Commands, "", func(path string, _ *cli.Command) {
		paths = append(paths, strings.Fields(path))
	})
	for _, p := range paths {
		for _, h := range []string{"-h", "--help"} {
			args := append(slices.Clone(p), h)
			code, out, errs := runApp(t, "", nil, args...)
			if code != 0 || errs != "" || !strings.Contains(out, "USAGE:") {
				t.Errorf("jab %s: exit %d, stderr %q, stdout %q", strings.Join(args, " "), code, errs, out)
			}
		}
	}
}

func TestDocsMakeInstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	dest := t.TempDir()
	files := map[string]string{
		"/usr/bin/jab":    "",
		"/usr/bin/jab-ox": "",
		"/usr/share/bash-completion/completions/jab":    "../completions/jab.bash",
		"/usr/share/zsh/site-functions/_jab":            "../completions/_jab",
		"/usr/share/fish/vendor_completions.d/jab.fish": "../completions/jab.fish",
		"/usr/share/man/man1/jab.1":                     "../man/jab.1",
	}
	if testing.Short() {
		// A dry run: -short does not build.
		out, err := exec.Command("make", "-C", "..", "-n", "install", "DESTDIR="+dest, "PREFIX=/usr").CombinedOutput()
		if err != nil {
			t.Fatalf("make -n install: %v\n%s", err, out)
		}
		for path := range files {
			if !strings.Contains(string(out), dest+path) {
				t.Errorf("make -n install does not install %s:\n%s", path, out)
			}
		}
		return
	}
	out, err := exec.Command("make", "-C", "..", "install", "DESTDIR="+dest, "PREFIX=/usr").CombinedOutput()
	if err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for path, src := range files {
		got, err := os.ReadFile(filepath.Join(dest, path))
		if err != nil {
			t.Error(err)
			continue
		}
		if src == "" {
			continue
		}
		if want, err := os.ReadFile(src); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not %s (%v)", path, src, err)
		}
	}
	for _, bin := range []string{"jab", "jab-ox"} {
		out, err = exec.Command(filepath.Join(dest, "usr/bin", bin), "--version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "jab version ") {
			t.Errorf("installed %s --version: %v: %s", bin, err, out)
		}
	}
}
