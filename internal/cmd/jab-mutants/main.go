// Command jab-mutants breaks one protocol rule at a time in a copy of the
// repository and runs the integration tests that pin that rule against the
// real Prosody, to show those tests fail when the rule is broken. Every
// mutant must compile and must be killed (its test must fail); the command
// exits non-zero otherwise. It takes about ten minutes, so it is `make
// mutants`, not part of `make test`.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	root, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	tmp, err := os.MkdirTemp("", "jab-mutants-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	copyTree := exec.Command("cp", "-a", root+"/.", tmp)
	if out, err := copyTree.CombinedOutput(); err != nil {
		fail(fmt.Errorf("copy tree: %v: %s", err, out))
	}
	only := os.Getenv("JAB_MUTANTS") // a substring of the names to run; all when empty
	survived, ran := 0, 0
	for _, suite := range suites {
		for _, m := range suite.mutants {
			if only != "" && !strings.Contains(m.name, only) {
				continue
			}
			ran++
			if !killed(tmp, m, suite.pkg) {
				survived++
			}
		}
	}
	fmt.Printf("%d mutants, %d killed, %d survived\n", ran, ran-survived, survived)
	if survived > 0 {
		os.Exit(1)
	}
}

// killed applies m in the copy tmp, runs its tests in pkg, prints the
// verdict and undoes m.
func killed(tmp string, m mutant, pkg string) bool {
	path := filepath.Join(tmp, m.path())
	orig, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	mutated, err := m.apply(string(orig))
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(path, []byte(mutated), 0o644); err != nil {
		fail(err)
	}
	defer os.WriteFile(path, orig, 0o644)
	if out, err := run(tmp, "go", "build", "./..."); err != nil {
		fail(fmt.Errorf("mutant %q does not compile: %s", m.name, out))
	}
	verdict, ok := "killed", true
	if _, err := run(tmp, "go", "test", "-count=1", "-run", m.tests, pkg); err == nil {
		verdict, ok = "SURVIVED", false
	}
	fmt.Printf("%-8s %s (%s)\n", verdict, m.name, m.tests)
	return ok
}

func run(dir string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "jab-mutants:", err)
	os.Exit(1)
}
