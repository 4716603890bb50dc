package commands

// `jab send --file`: the files' flags, the progress bar, and the order of
// the messages. Finding the upload service, the slots, their rules and
// the PUT are session's (upload*.go).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/jab-xmpp/jab/session"
)

// progressMin is the size from which an upload shows a progress bar
// (when stderr is a terminal).
const progressMin = 1 << 20

// openFiles opens the --file arguments before anything is contacted: a
// file that is missing, unreadable or a directory is a usage error, and
// nothing is sent. The caller closes them (closeFiles).
func openFiles(c *cli.Context, env *Env) ([]*session.UploadFile, error) {
	paths := c.StringSlice("file")
	name := c.String("filename")
	switch {
	case len(paths) == 0 && c.IsSet("filename"):
		return nil, usagef("--filename names the file of --file", "--filename without --file")
	case len(paths) > 1 && name != "":
		return nil, usagef("give one --file with --filename, or rename the files", "--filename applies to one --file, not %d", len(paths))
	case c.Bool("lines") && len(paths) > 0:
		return nil, usagef("--lines reads messages from stdin; send the file in a run of its own", "--file and --lines conflict")
	}
	var files []*session.UploadFile
	stdin := false
	for _, p := range paths {
		if p == "-" {
			if stdin {
				return nil, usagef("", "--file - is given twice")
			}
			if name == "" {
				closeFiles(files)
				return nil, usagef("name what stdin holds: --file - --filename build.log", "--file - needs --filename")
			}
			stdin = true
		}
		f, err := session.OpenUpload(p, name, env.Stdin)
		if err != nil {
			closeFiles(files)
			return nil, usagef("give a readable regular file (or - for stdin); nothing was sent", "%w", err)
		}
		files = append(files, f)
	}
	return files, nil
}

func closeFiles(files []*session.UploadFile) {
	for _, f := range files {
		f.Close()
	}
}

// messages are what a send without --lines sends: its text, if any,
// then one message per file, once every file is uploaded.
func (o *sendOptions) messages(ctx context.Context, env *Env, g *options, slots session.Slots,
	msg func(string) session.Outgoing) ([]session.Outgoing, error) {
	var outs []session.Outgoing
	if o.text != "" {
		outs = append(outs, msg(o.text))
	}
	if len(o.files) == 0 {
		return outs, nil
	}
	urls, err := uploadAll(ctx, env, g, o.files, slots)
	if err != nil {
		return nil, err
	}
	for _, u := range urls {
		m := msg(u)
		m.OOBURL = u
		outs = append(outs, m)
	}
	return outs, nil
}

// uploadAll uploads the files through slots (the send's own session, or
// the running listen's) and returns their GET URLs, which become the
// messages' bodies and XEP-0066 URLs. Any failure returns before a
// message is sent.
func uploadAll(ctx context.Context, env *Env, g *options, files []*session.UploadFile, slots session.Slots) ([]string, error) {
	if err := g.readyForTLS(env); err != nil {
		return nil, err
	}
	cfg := g.sessionConfig(env, "")
	bar := &progressBar{w: env.Stderr, now: env.Now}
	o := session.UploadOptions{HTTP: session.NewUploader(cfg), Insecure: cfg.InsecureSkipVerify}
	if env.StderrTTY {
		o.Progress = bar.update
	}
	done, err := session.Upload(ctx, slots, files, o)
	bar.end()
	if err != nil {
		return nil, err
	}
	var urls []string
	for _, u := range done {
		g.debugf(env, "uploaded %s (%d bytes, %s) to %s", sanitize(u.File.Given), u.File.Size, u.File.Type, sanitize(u.URL))
		urls = append(urls, u.URL)
	}
	return urls, nil
}

// progressBar draws one line on a terminal's stderr while a large file
// uploads, at most five times a second, and clears it at the end.
type progressBar struct {
	w     io.Writer
	now   func() time.Time
	mu    sync.Mutex
	last  time.Time
	drawn bool
}

func (p *progressBar) update(f *session.UploadFile, sent int64) {
	if f.Size < progressMin {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if sent < f.Size && now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last, p.drawn = now, true
	const width = 30
	filled := int(int64(width) * sent / f.Size)
	fmt.Fprintf(p.w, "\r\x1b[Kjab: uploading %s [%s%s] %3d%% %s", sanitize(f.Name), strings.Repeat("#", filled),
		strings.Repeat(" ", width-filled), 100*sent/f.Size, mib(sent))
}

func (p *progressBar) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// fileHint gives the upload errors their hints.
func fileHint(err error) string {
	var se *session.SlotError
	var sr *session.SlotRefusedError
	var nu *session.NoUploadServiceError
	var ue *session.UploadError
	var tl *session.FileTooLargeError
	switch {
	case errors.As(err, &tl):
		return "compress or split the file, or share it another way"
	case errors.As(err, &se) && strings.Contains(se.Problem, "plain http"):
		return "the server offers no HTTPS for uploads; --insecure-skip-verify allows plain http (anyone on the path can read the file)"
	case errors.As(err, &se):
		return "the upload service is misconfigured; tell its administrator"
	case errors.As(err, &sr) && sr.Condition == "resource-constraint":
		return "the upload service's quota is used up; try again later"
	case errors.As(err, &sr):
		return "the upload service does not take this file from this account"
	case errors.As(err, &nu):
		return "the server offers no HTTP file upload; ask its administrator (Prosody: mod_http_file_share)"
	case errors.As(err, &ue):
		return "nothing was sent; run the command again to upload the file anew"
	}
	return ""
}

// cmdFile is the REPL's /file PATH: the upload of send --file, on the
// REPL's session, to the conversee. The line waits for the upload; no
// progress bar is drawn under the prompt.
func (r *repl) cmdFile(args []string, rest string) error {
	words, err := splitWords(rest)
	if err != nil || len(words) != 1 || words[0] == "-" {
		return usagef("/file PATH (quote a path with spaces)", "/file takes one file")
	}
	if _, err := r.needPeer(); err != nil {
		return err
	}
	f, err := session.OpenUpload(words[0], "", nil)
	if err != nil {
		return usagef("give a readable regular file; nothing was sent", "%w", err)
	}
	defer f.Close()
	env := *r.env
	env.Stderr, env.StderrTTY = r.errw, false
	urls, err := uploadAll(r.ctx, &env, r.g, []*session.UploadFile{f}, r.chat)
	if err != nil {
		return err
	}
	return chatError(r.chat.SayFile(r.ctx, urls[0]))
}
