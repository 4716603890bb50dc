package commands

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRecipientsFileParse: the file format, and how its JIDs join those of
// the command line.
func TestRecipientsFileParse(t *testing.T) {
	tests := []struct {
		name string
		file string
		cli  []string
		want []string
	}{
		{"one a line", "a@x.org\nb@x.org\n", nil, []string{"a@x.org", "b@x.org"}},
		{"no final newline", "a@x.org\nb@x.org", nil, []string{"a@x.org", "b@x.org"}},
		{"comments and blanks", "# ops team\n\na@x.org\n   # indented comment\n\t\nb@x.org/phone\n", nil, []string{"a@x.org", "b@x.org/phone"}},
		{"surrounding spaces and CRLF", "  a@x.org  \r\n\tb@x.org\t\r\n", nil, []string{"a@x.org", "b@x.org"}},
		{"duplicates in the file", "a@x.org\nb@x.org\na@x.org\n", nil, []string{"a@x.org", "b@x.org"}},
		{"bare and full are different", "a@x.org\na@x.org/phone\n", nil, []string{"a@x.org", "a@x.org/phone"}},
		{"command line first", "b@x.org\nc@x.org\n", []string{"c@x.org", "a@x.org"}, []string{"c@x.org", "a@x.org", "b@x.org"}},
		{"only comments", "# nobody\n\n", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "list")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			listed, err := readRecipientsFile(path)
			if err != nil {
				t.Fatal(err)
			}
			split, err := splitArgs(append(slices.Clone(tt.cli), "text"), true)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, j := range mergeRecipients(split.to, listed) {
				got = append(got, j.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRecipientsFileArgs: with --recipients-file the command-line JIDs
// are optional, and then every argument is text.
func TestRecipientsFileArgs(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantTo   []string
		wantText string
	}{
		{"text only", []string{"deploy", "done"}, nil, "deploy done"},
		{"nothing", nil, nil, ""},
		// The flag parser takes a "--" before the first argument; a second
		// one reaches the recipients.
		{"leading --", []string{"--", "mail", "a@x.org"}, nil, "mail a@x.org"},
		{"JIDs then text", []string{"a@x.org", "b@x.org", "hi"}, []string{"a@x.org", "b@x.org"}, "hi"},
		{"JIDs then --", []string{"a@x.org", "--", "b@x.org", "hi"}, []string{"a@x.org"}, "b@x.org hi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := splitArgs(tt.args, true)
			if err != nil {
				t.Fatal(err)
			}
			var to []string
			for _, j := range r.to {
				to = append(to, j.String())
			}
			if !slices.Equal(to, tt.wantTo) || strings.Join(r.textArgs, " ") != tt.wantText {
				t.Errorf("to %q text %q, want %q %q", to, strings.Join(r.textArgs, " "), tt.wantTo, tt.wantText)
			}
		})
	}
}

// TestRecipientsFileErrors: every bad input is a usage error (exit 2)
// found before connecting, and the state directory is not created.
func TestRecipientsFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "a@x.org\n")
	bad := write("bad", "# team\na@x.org\nnot a@jid\nb@x.org\n")
	badDomain := write("bad-domain", "a@x.org\n\nb@@x.org\n")
	empty := write("empty", "# nobody here\n\n")
	unreadable := filepath.Join(dir, "dir")
	if err := os.Mkdir(unreadable, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string // substrings of stderr
	}{
		{"malformed line", []string{"send", "--recipients-file", bad, "hi"}, []string{`recipients file "` + bad + `": line 3: malformed JID "not a@jid"`}},
		{"malformed line with command-line JID", []string{"send", "--recipients-file", badDomain, "c@x.org", "hi"}, []string{"line 3: malformed JID"}},
		{"missing file", []string{"send", "--recipients-file", filepath.Join(dir, "nope"), "hi"}, []string{`recipients file "` + filepath.Join(dir, "nope") + `": no such file or directory`}},
		{"unreadable file", []string{"send", "--recipients-file", unreadable, "hi"}, []string{`recipients file "` + unreadable + `"`}},
		{"empty file", []string{"send", "--recipients-file", empty, "hi"}, []string{"lists no JID"}},
		{"reply-to conflict", []string{"send", "--recipients-file", good, "--reply-to", "abc", "a@x.org", "hi"}, []string{"--reply-to and --recipients-file conflict"}},
		{"no text", []string{"send", "--recipients-file", good}, []string{"the message is empty"}},
		{"empty flag", []string{"send", "--recipients-file", "", "a@x.org", "hi"}, []string{"--recipients-file needs a FILE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			env := map[string]string{"JAB_JID": "me@example.net", "JAB_PASSWORD": "x", "JAB_STATE_DIR": state, "JAB_SERVER": "127.0.0.1:1"}
			code, out, errs := runApp(t, "", env, tt.args...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d; stderr %q", code, ExitUsage, errs)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q does not contain %q", errs, w)
				}
			}
			if _, err := os.Stat(state); !os.IsNotExist(err) {
				t.Errorf("state directory touched: %v", err)
			}
		})
	}
}

// TestRecipientsFileAccepted: a good file gets past parsing to the
// connection (refused here: exit 5), with or without command-line JIDs.
func TestRecipientsFileAccepted(t *testing.T) {
	list := filepath.Join(t.TempDir(), "list")
	if err := os.WriteFile(list, []byte("# ops\na@x.org\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"send", "--recipients-file", list, "deploy", "done"},
		{"send", "--recipients-file", list, "b@x.org", "deploy done"},
	} {
		env := map[string]string{"JAB_JID": "me@example.net", "JAB_PASSWORD": "x", "JAB_STATE_DIR": t.TempDir(), "JAB_SERVER": "127.0.0.1:1"}
		code, _, errs := runApp(t, "", env, args...)
		if code != ExitTimeout || !strings.Contains(errs, "127.0.0.1:1") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
}
