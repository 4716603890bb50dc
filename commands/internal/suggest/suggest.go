// Package suggest finds the name a user probably meant, for the "did you
// mean …?" hints of jab's usage errors: a mistyped command, flag, config
// key or account name.
package suggest

import "strings"

// Closest is the name closest to a mistyped one, or "": one it begins,
// else the nearest within an edit distance of a third of its length (at
// least 2, so a swapped pair of letters is found); ties go to the longer
// common prefix.
func Closest(names []string, typed string) string {
	if typed == "" {
		return ""
	}
	limit := max(2, len([]rune(typed))/3)
	best, bestDist, bestCommon := "", limit+1, -1
	for _, n := range names {
		d := Distance(typed, n)
		if strings.HasPrefix(n, typed) {
			d = 0
		}
		if d > limit {
			continue
		}
		common := 0
		for common < len(n) && common < len(typed) && n[common] == typed[common] {
			common++
		}
		if d < bestDist || (d == bestDist && common > bestCommon) {
			best, bestDist, bestCommon = n, d, common
		}
	}
	return best
}

// Distance is the Levenshtein distance between a and b, over their first
// 64 runes (bounded work for whatever the user typed).
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 {
		ra = ra[:64]
	}
	if len(rb) > 64 {
		rb = rb[:64]
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
