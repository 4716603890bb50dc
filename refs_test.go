package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The code, the tests and the documents cite the protocol checklist's items
// and decisions. Every such reference must resolve to an entry of
// docs/PROTOCOL.md, so that a reader of the repository alone can follow it.
// These tests are fast: they read text files, nothing else.

// protocolDoc is where every item and decision is explained.
const protocolDoc = "docs/PROTOCOL.md"

// The reference forms recognised in the scanned files (see scanned). Anything that
// matches one of them must resolve; tune the patterns here, not by
// rewording the documents, when a false positive turns up.
var (
	// reDecision: a decision, "D-9". Case-sensitive, a capital D, a hyphen
	// and digits, at a word boundary: "D-Bus", "ID-1234" and "3D-7" are not
	// references.
	reDecision = regexp.MustCompile(`\bD-(\d+)\b`)

	// reItems: checklist items, case-insensitive "item 12", "Item 7",
	// "items 14–17", "items 66/68", "items 56, 66, 67, 68", "items 3 and 5",
	// "items 1 to 5". A list goes on over ",", "and", "or" and a "/" with
	// no space around it; "–", "-" and "to" make a range. So "item 68 /
	// 0.3 §5" is item 68 only, and a number followed by ".digit" (a
	// version, a section) is dropped: "items 3, 5.2" is item 3. "goneItem
	// 3" is not matched (no word boundary before "Item"). A
	// checklist-unrelated "item N" would be flagged: word it differently
	// ("entry N", "the Nth item").
	reItems = regexp.MustCompile(`(?i)\bitems?\s+(\d+(?:(?:/|\s*(?:,|–|-|\band\b|\bor\b|\bto\b)\s*)\d+)*)\b`)

	// reLettered: an item with its group letter, as test cases name them:
	// "A3", "B22", "C25/26", "H74/H75", "A3/A5". Upper case only, at a word
	// boundary; the letter must be the item's group (A–K) in PROTOCOL.md.
	// "C0" and "C1" are the ASCII and ISO 6429 control-character sets, not
	// references (see excludedLettered).
	reLettered = regexp.MustCompile(`\b([A-K])(\d{1,2})((?:/[A-K]?\d{1,2})*)\b`)

	// reSections: groups of the checklist, "section A", "sections A–F",
	// "§4 A". The letters must be capitals A–K.
	reSections = regexp.MustCompile(`(?i:\bsections?)\s+([A-K])(?:\s*(?:–|-|\bto\b|\band\b|,)\s*([A-K]))?\b|§4\s+([A-K])\b`)

	// Within a list of items: a range separator, or a number.
	reRangeSep = regexp.MustCompile(`^\s*(?:–|-|to)\s*$`)
	reNumber   = regexp.MustCompile(`\d+`)
)

// excludedLettered are lettered forms that are not item references.
var excludedLettered = map[string]bool{"C0": true, "C1": true}

// forbidden are paths of the checklist outside the repository: citing them
// leaves a reader of the repository stranded. Split so that this file does
// not match itself.
var forbidden = []string{".." + "/shared", "shared" + "/spec", "conformance" + ".md"}

// protocolIndex is what docs/PROTOCOL.md defines.
type protocolIndex struct {
	items     map[int]string // item number -> its group letter
	decisions map[int]bool
	groups    map[string]bool // group letters with a heading
	anchors   map[string]bool // heading slugs and explicit <a id> anchors
}

var (
	reGroupHeading    = regexp.MustCompile(`^## ([A-K])\. `)
	reItemHeading     = regexp.MustCompile(`^### Item (\d+)\s*$`)
	reDecisionHeading = regexp.MustCompile(`^### D-(\d+): `)
	reHeading         = regexp.MustCompile(`^#{1,6} (.+?)\s*$`)
	reAnchor          = regexp.MustCompile(`<a id="([^"]+)"></a>`)
	reLocalLink       = regexp.MustCompile(`\]\(#([^)]+)\)`)
	reSlugDrop        = regexp.MustCompile(`[^\p{L}\p{N} _-]`)
)

// slug is GitHub's anchor for a heading: lower case, punctuation dropped,
// spaces to hyphens.
func slug(h string) string {
	h = strings.ToLower(strings.ReplaceAll(h, "`", ""))
	return strings.ReplaceAll(reSlugDrop.ReplaceAllString(h, ""), " ", "-")
}

func readProtocolIndex(t *testing.T) (protocolIndex, []string) {
	t.Helper()
	data, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatalf("the protocol notes: %v", err)
	}
	ix := protocolIndex{items: map[int]string{}, decisions: map[int]bool{}, groups: map[string]bool{}, anchors: map[string]bool{}}
	group, inCode := "", false
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode {
			continue
		}
		if m := reGroupHeading.FindStringSubmatch(line); m != nil {
			group = m[1]
			ix.groups[group] = true
		} else if strings.HasPrefix(line, "## ") {
			group = ""
		}
		if m := reItemHeading.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			if group == "" {
				t.Errorf("%s:%d: item %d is not under a group heading (## A. …)", protocolDoc, i+1, n)
			}
			if _, dup := ix.items[n]; dup {
				t.Errorf("%s:%d: item %d has two entries", protocolDoc, i+1, n)
			}
			ix.items[n] = group
		}
		if m := reDecisionHeading.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			if ix.decisions[n] {
				t.Errorf("%s:%d: D-%d has two entries", protocolDoc, i+1, n)
			}
			ix.decisions[n] = true
			if i == 0 || !strings.Contains(lines[i-1], fmt.Sprintf(`<a id="d-%d"></a>`, n)) {
				t.Errorf("%s:%d: D-%d has no stable anchor <a id=\"d-%d\"></a> on the line before", protocolDoc, i+1, n, n)
			}
		}
		if m := reHeading.FindStringSubmatch(line); m != nil {
			ix.anchors[slug(m[1])] = true
		}
		for _, m := range reAnchor.FindAllStringSubmatch(line, -1) {
			ix.anchors[m[1]] = true
		}
	}
	return ix, lines
}

// TestProtocolNotesComplete: docs/PROTOCOL.md has every item of the
// checklist (1–95, in groups A–K) and every decision (D-1–D-17), and its
// own links resolve.
func TestProtocolNotesComplete(t *testing.T) {
	ix, lines := readProtocolIndex(t)
	for n := 1; n <= 95; n++ {
		if _, ok := ix.items[n]; !ok {
			t.Errorf("%s: no entry \"### Item %d\"", protocolDoc, n)
		}
	}
	for n := 1; n <= 17; n++ {
		if !ix.decisions[n] {
			t.Errorf("%s: no entry \"### D-%d: …\"", protocolDoc, n)
		}
	}
	for _, g := range strings.Split("ABCDEFGHIJK", "") {
		if !ix.groups[g] {
			t.Errorf("%s: no group heading \"## %s. …\"", protocolDoc, g)
		}
	}
	for i, line := range lines {
		for _, m := range reLocalLink.FindAllStringSubmatch(line, -1) {
			if !ix.anchors[m[1]] {
				t.Errorf("%s:%d: link to #%s, which is no heading or anchor", protocolDoc, i+1, m[1])
			}
		}
	}
}

// scanned says whether a file's references are checked: Go and Markdown
// files, and prose kept in text files (the man page's sections in
// commands/mantext), but not the golden outputs under testdata/, whose text
// is data.
func scanned(name string) bool {
	switch {
	case strings.HasSuffix(name, ".go"), strings.HasSuffix(name, ".md"):
		return true
	case strings.HasSuffix(name, ".txt"):
		return !strings.HasPrefix(name, "testdata/") && !strings.Contains(name, "/testdata/")
	}
	return false
}

// sourceFiles lists the files to scan: those git tracks plus new ones it
// does not ignore, or, without git, every file under the root but .git.
func sourceFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	out, err := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err == nil {
		for _, f := range bytes.Split(out, []byte{0}) {
			if len(f) > 0 && scanned(string(f)) {
				files = append(files, string(f))
			}
		}
		return files
	}
	err = filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if p = filepath.ToSlash(p); !d.IsDir() && scanned(p) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list the source files: %v", err)
	}
	return files
}

// itemNumbers expands the list part of an "items …" reference.
func itemNumbers(list string) []int {
	var nums []int
	locs := reNumber.FindAllStringIndex(list, -1)
	for i, loc := range locs {
		n, _ := strconv.Atoi(list[loc[0]:loc[1]])
		if i > 0 && reRangeSep.MatchString(list[locs[i-1][1]:loc[0]]) {
			prev := nums[len(nums)-1]
			for k := prev + 1; k <= n && k-prev <= 100; k++ {
				nums = append(nums, k)
			}
			continue
		}
		nums = append(nums, n)
	}
	return nums
}

// referenceProblems returns what in one file's text does not resolve.
func referenceProblems(ix protocolIndex, name string, text []byte) []string {
	var problems []string
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		at := fmt.Sprintf("%s:%d", name, ln)
		for _, f := range forbidden {
			if strings.Contains(line, f) {
				problems = append(problems, fmt.Sprintf("%s: %q points outside the repository; cite %s instead", at, f, protocolDoc))
				break
			}
		}
		for _, m := range reDecision.FindAllStringSubmatch(line, -1) {
			n, _ := strconv.Atoi(m[1])
			if !ix.decisions[n] {
				problems = append(problems, fmt.Sprintf("%s: %s has no entry in %s", at, m[0], protocolDoc))
			}
		}
		for _, loc := range reItems.FindAllStringSubmatchIndex(line, -1) {
			nums := itemNumbers(line[loc[2]:loc[3]])
			if rest := line[loc[1]:]; len(rest) > 1 && rest[0] == '.' && rest[1] >= '0' && rest[1] <= '9' {
				nums = nums[:len(nums)-1] // "5.2": a version or a section, not item 5
			}
			for _, n := range nums {
				if _, ok := ix.items[n]; !ok {
					problems = append(problems, fmt.Sprintf("%s: item %d (in %q) has no entry in %s", at, n, line[loc[0]:loc[1]], protocolDoc))
				}
			}
		}
		for _, m := range reLettered.FindAllStringSubmatch(line, -1) {
			if excludedLettered[m[1]+m[2]] && m[3] == "" {
				continue
			}
			refs := [][2]string{{m[1], m[2]}}
			for _, part := range strings.Split(strings.TrimPrefix(m[3], "/"), "/") {
				if part == "" {
					continue
				}
				letter, num := m[1], part
				if part[0] >= 'A' && part[0] <= 'K' {
					letter, num = part[:1], part[1:]
				}
				refs = append(refs, [2]string{letter, num})
			}
			for _, r := range refs {
				n, _ := strconv.Atoi(r[1])
				g, ok := ix.items[n]
				switch {
				case !ok:
					problems = append(problems, fmt.Sprintf("%s: %s%s (in %q) has no entry in %s", at, r[0], r[1], m[0], protocolDoc))
				case g != r[0]:
					problems = append(problems, fmt.Sprintf("%s: %s%s (in %q): item %d is in group %s of %s", at, r[0], r[1], m[0], n, g, protocolDoc))
				}
			}
		}
		for _, m := range reSections.FindAllStringSubmatch(line, -1) {
			for _, g := range m[1:] {
				if g != "" && !ix.groups[g] {
					problems = append(problems, fmt.Sprintf("%s: section %s (in %q) has no group in %s", at, g, m[0], protocolDoc))
				}
			}
		}
	}
	return problems
}

// TestProtocolReferences: every D-n, item and checklist-section reference in
// the repository's Go, Markdown and prose text files has an entry in
// docs/PROTOCOL.md, and none points to the checklist's old home outside the
// repository.
func TestProtocolReferences(t *testing.T) {
	ix, _ := readProtocolIndex(t)
	files := sourceFiles(t)
	if len(files) == 0 {
		t.Fatal("no files to scan")
	}
	for _, name := range files {
		text, err := os.ReadFile(name)
		if os.IsNotExist(err) {
			continue // deleted in the work tree, still in the index
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range referenceProblems(ix, name, text) {
			t.Error(p)
		}
	}
}

// TestReferencePatterns pins what counts as a reference, so that a change
// of the patterns is a visible decision.
func TestReferencePatterns(t *testing.T) {
	ix := protocolIndex{items: map[int]string{}, decisions: map[int]bool{9: true, 12: true}, groups: map[string]bool{"A": true, "F": true}}
	for n := 1; n <= 11; n++ {
		ix.items[n] = "A"
	}
	for n := 57; n <= 65; n++ {
		ix.items[n] = "F"
	}
	// Bogus references are split ("D-" + "99") so that this file itself
	// passes TestProtocolReferences.
	tests := []struct {
		name, line string
		problems   int
	}{
		{"decision", "per D-9 and D-12", 0},
		{"unknown decision", "see D-" + "99", 1},
		{"D-Bus is no decision", "talks to D-Bus, ID-1234", 0},
		{"item", "checklist item 7", 0},
		{"unknown item", "Item " + "96 says", 1},
		{"list", "Items 3, 4 and 11 or 5/6", 0},
		{"range with an en dash", "items 57–65", 0},
		{"range over a gap", "items 10–12", 1},
		{"range with to", "items 1 to 3", 0},
		{"a spaced slash ends the list", "item 8 / 0.3 §5, item 9 / 0201 §4", 0},
		{"a version ends the list", "items 3, 0.3 and item 5.2", 0},
		{"goneItem is no item", `goneItem+" and item 64"`, 0},
		{"lettered", "A3/A5 and F58/59", 0},
		{"lettered, wrong group", "F" + "7", 1},
		{"lettered, unknown", "A" + "99", 1},
		{"C1 controls are no reference", "C0, DEL and C1 controls", 0},
		{"sections", "walks sections A–F", 0},
		{"unknown section", "section B", 1},
		{"old home, once per line", "see ../" + "shared/" + "spec/conformance" + ".md", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := referenceProblems(ix, "x.go", []byte(tt.line)); len(got) != tt.problems {
				t.Errorf("%q: %d problems %q, want %d", tt.line, len(got), got, tt.problems)
			}
		})
	}
	if got := fmt.Sprint(itemNumbers("14–17 and 59")); got != "[14 15 16 17 59]" {
		t.Errorf("itemNumbers(14–17 and 59) = %s", got)
	}
}
