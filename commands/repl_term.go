package commands

import (
	"bufio"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chzyer/readline"
)

// The REPL's terminal side: readline (only here, per STYLE.md), printing
// above the line being typed, completion, and the plain line reader used
// when stdin is not a terminal.

var errInterrupted = errors.New("interrupted")

type lineResult struct {
	line string
	err  error
}

type terminal struct {
	rl *readline.Instance
	mu sync.Mutex // one write at a time, whether or not readline is reading
}

func newTerminal(r *repl, historyFile string) (*terminal, error) {
	t := &terminal{}
	// readline creates and rewrites the history file (on load, and past
	// HistoryLimit) with mode 0666 less the umask: keep it 0600. Every
	// file jab makes is private, so the mask changes nothing else.
	syscall.Umask(0o077)
	rl, err := readline.NewEx(&readline.Config{
		Prompt:            "jab> ",
		HistoryFile:       historyFile,
		HistoryLimit:      1000,
		HistorySearchFold: true,
		AutoComplete:      &replCompleter{r: r},
		InterruptPrompt:   "^C",
		Stdout:            r.env.Stdout,
		Stderr:            r.env.Stderr,
		Listener: readline.FuncListener(func(line []rune, pos int, key rune) ([]rune, int, bool) {
			r.onKey(line, key)
			return nil, 0, false
		}),
	})
	if err != nil {
		return nil, err
	}
	t.rl = rl
	return t, nil
}

func (t *terminal) close() { t.rl.Close() }

// termWriter writes above the input line: readline clears the line,
// writes, and draws the prompt and the unfinished input again.
type termWriter struct {
	t *terminal
	w io.Writer
}

func (w termWriter) Write(b []byte) (int, error) {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	return w.w.Write(b)
}

func (t *terminal) stdout() io.Writer { return termWriter{t, t.rl.Stdout()} }
func (t *terminal) stderr() io.Writer { return termWriter{t, t.rl.Stderr()} }

// printAbove prints one line above the prompt.
func (t *terminal) printAbove(line string) {
	t.stdout().Write([]byte(line + "\n"))
}

// setPrompt computes the prompt and shows it, both under the terminal's
// lock, so a prompt computed earlier never overwrites a newer one. prompt
// may take r.mu: nothing holds r.mu while it waits for the terminal.
func (t *terminal) setPrompt(prompt func() string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rl.SetPrompt(prompt())
	t.rl.Refresh()
	// readline draws the prompt when Readline starts and only then marks
	// itself reading; Refresh does nothing until it reads. A prompt set
	// in between (the room's join answered just then) would stay unseen
	// until the next key: a second refresh a moment later shows it.
	time.AfterFunc(50*time.Millisecond, t.refresh)
}

func (t *terminal) refresh() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rl.Refresh()
}

// readLines hands lines to the main loop one at a time, waiting on next
// after each, so the prompt returns only once the line is handled.
func (r *repl) readLines(lines chan<- lineResult, next <-chan struct{}) {
	give := func(lr lineResult) bool {
		select {
		case lines <- lr:
		case <-r.ctx.Done():
			return false
		}
		if lr.err != nil && !errors.Is(lr.err, errInterrupted) {
			return false
		}
		select {
		case <-next:
			return true
		case <-r.ctx.Done():
			return false
		}
	}
	if r.term != nil {
		for {
			line, err := r.term.rl.Readline()
			if errors.Is(err, readline.ErrInterrupt) {
				err = errInterrupted
			}
			if !give(lineResult{line, err}) {
				return
			}
		}
	}
	sc := bufio.NewScanner(r.env.Stdin)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		if !give(lineResult{line: strings.TrimSuffix(sc.Text(), "\r")}) {
			return
		}
	}
	err := sc.Err()
	if err == nil {
		err = io.EOF
	}
	give(lineResult{err: err})
}

// replCompleter completes command names, then each command's arguments:
// JIDs (roster, state, presence seen), thread ids, message ids, shows, the
// subcommands of jab commands, and the nicks and rooms of group chat; and,
// at the start of a message to a room, an occupant's nick as "nick: ".
type replCompleter struct{ r *repl }

func (c *replCompleter) Do(line []rune, pos int) ([][]rune, int) {
	text := string(line[:pos])
	words := strings.Fields(text)
	if strings.HasSuffix(text, " ") || len(words) == 0 {
		words = append(words, "")
	}
	prefix := words[len(words)-1]
	var cands []string
	switch {
	case !strings.HasPrefix(text, "/"):
		// A message: in a room, its first word may address an
		// occupant ("nick: "), as the room bots expect (Addressed).
		if len(words) > 1 {
			return nil, 0
		}
		for _, n := range c.r.roomNicks() {
			cands = append(cands, n+":")
		}
	case len(words) == 1:
		for _, n := range c.r.commandNames() {
			cands = append(cands, "/"+n)
		}
	default:
		cands = c.r.completeArg(strings.TrimPrefix(words[0], "/"), words[1:len(words)-1])
	}
	sort.Strings(cands)
	var out [][]rune
	seen := map[string]bool{}
	for _, cand := range cands {
		// Peers choose JIDs, thread and message ids: a candidate that
		// would put a control character on the line, or split it, is not
		// offered.
		if !completable(cand) {
			continue
		}
		if strings.HasPrefix(cand, prefix) && !seen[cand] {
			seen[cand] = true
			out = append(out, []rune(cand[len(prefix):]+" "))
		}
	}
	return out, len([]rune(prefix))
}
