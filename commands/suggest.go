package commands

import (
	"slices"
	"strings"

	"github.com/jab-xmpp/jab/commands/internal/suggest"
)

// closestThreads returns up to n candidates close to arg, best first, for
// "did you mean" hints on thread and message ids. Users type short ids, so
// a candidate is scored by the edit distance to its prefix of arg's length
// as well as to the whole id; ties go to the longer common prefix. Candidates further than half of arg
// away are not suggested. It keeps only the n best: linear in candidates.
func closestThreads(cands []string, arg string, n int) []string {
	type scored struct {
		id           string
		dist, common int
	}
	better := func(a, b scored) bool {
		if a.dist != b.dist {
			return a.dist < b.dist
		}
		if a.common != b.common {
			return a.common > b.common
		}
		return a.id < b.id
	}
	ra := []rune(arg)
	limit := max(1, len(ra)/2)
	var best []scored
	for _, c := range cands {
		if c == "" {
			continue
		}
		rc := []rune(c)
		common := 0
		for common < len(ra) && common < len(rc) && ra[common] == rc[common] {
			common++
		}
		d := suggest.Distance(arg, string(rc[:min(len(ra), len(rc))])) + max(len(ra)-len(rc), 0)
		d = min(d, suggest.Distance(arg, c))
		if d > limit {
			continue
		}
		s := scored{c, d, common}
		i := len(best)
		for i > 0 && better(s, best[i-1]) {
			i--
		}
		if i >= n {
			continue
		}
		best = slices.Insert(best, i, s)
		if len(best) > n {
			best = best[:n]
		}
	}
	out := make([]string, 0, len(best))
	for _, s := range best {
		if !slices.Contains(out, s.id) {
			out = append(out, s.id)
		}
	}
	return out
}

// closestHint is a hint naming the closest candidates, or "".
func closestHint(candidates []string, x string) string {
	c := closestThreads(candidates, x, 3)
	if len(c) == 0 {
		return ""
	}
	// The candidates are peers' thread and message ids.
	for i := range c {
		c[i] = sanitize(c[i])
	}
	return "closest: " + strings.Join(c, ", ")
}
