package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the repository root, seen from this package's directory.
const root = "../../.."

// TestTable checks every mutant against the tree without running it:
// its file exists, its old text occurs there exactly once (what apply,
// and so `make mutants`, requires), and each test its -run pattern names
// is a test function of testPackage. Moving code breaks mutants silently
// otherwise, and `make mutants` takes ten minutes to say so.
func TestTable(t *testing.T) {
	names := map[string]bool{}
	for _, suite := range suites {
		tests := testFuncs(t, filepath.Join(root, suite.pkg))
		for _, m := range suite.mutants {
			checkMutant(t, m, names, tests, suite.pkg)
		}
	}
}

func checkMutant(t *testing.T, m mutant, names, tests map[string]bool, pkg string) {
	t.Helper()
	if names[m.name] {
		t.Errorf("mutant %q: the name is used twice (JAB_MUTANTS selects by name)", m.name)
	}
	names[m.name] = true
	src, err := os.ReadFile(filepath.Join(root, m.path()))
	if err != nil {
		t.Errorf("mutant %q: %v", m.name, err)
	} else if _, err := m.apply(string(src)); err != nil {
		t.Error(err)
	}
	if m.old == m.new {
		t.Errorf("mutant %q: its new text is its old text", m.name)
	}
	if _, err := regexp.Compile(m.tests); err != nil {
		t.Errorf("mutant %q: -run pattern %q: %v", m.name, m.tests, err)
	}
	for _, name := range m.testNames() {
		if !tests[name] {
			t.Errorf("mutant %q: no func %s in %s", m.name, name, pkg)
		}
	}
}

// TestApply pins what apply demands of a mutant's old text: exactly one
// occurrence.
func TestApply(t *testing.T) {
	m := mutant{name: "m", old: "a && b", new: "a", file: "x.go"}
	for _, c := range []struct {
		name, src, want, err string
	}{
		{name: "once", src: "if a && b {", want: "if a {"},
		{name: "absent", src: "if a || b {", err: "no longer in x.go"},
		{name: "twice", src: "if a && b {} else if a && b {", err: "occurs 2 times in x.go"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := m.apply(c.src)
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("apply: %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("apply: error %v, want one containing %q", err, c.err)
			case got != c.want:
				t.Fatalf("apply = %q, want %q", got, c.want)
			}
		})
	}
}

// testFuncs returns the names of the Test functions in dir's test files.
func testFuncs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in %s (%v)", dir, err)
	}
	fset := token.NewFileSet()
	names := map[string]bool{}
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Test") {
				names[fn.Name.Name] = true
			}
		}
	}
	return names
}
