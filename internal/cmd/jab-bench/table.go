package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// metric picks one figure of a sample and formats its median.
type metric struct {
	of     func(sample) int64
	format func(int64) string
}

var (
	wallOf = metric{func(s sample) int64 { return int64(s.wall) }, ms}
	cpuOf  = metric{func(s sample) int64 { return int64(s.cpu) }, ms}
	rssOf  = metric{func(s sample) int64 { return s.rssKiB }, func(k int64) string { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }}
	rtOf   = metric{func(s sample) int64 { return int64(s.rt) }, rtFormat}
)

func rtFormat(n int64) string { return fmt.Sprint(n) }

// row is one line of the table.
type row struct {
	label, metric string
	jab, gsx      string // medians; for round trips also the spread
	ratio         string
	target, holds string
}

// table collects the rows of the one table jab-bench prints.
type table struct{ rows []row }

// medians returns the medians of m over js and gs.
func medians(m metric, js, gs []sample) (j, g int64) {
	col := func(ss []sample) int64 {
		xs := make([]int64, len(ss))
		for i, s := range ss {
			xs[i] = m.of(s)
		}
		return median(xs)
	}
	return col(js), col(gs)
}

// spread is " (lo–hi)" when the runs did not all agree, for counts.
func spread(m metric, ss []sample) string {
	lo, hi := m.of(ss[0]), m.of(ss[0])
	for _, s := range ss {
		lo, hi = min(lo, m.of(s)), max(hi, m.of(s))
	}
	if lo == hi {
		return ""
	}
	return fmt.Sprintf(" (%d–%d)", lo, hi)
}

// add appends a row with the ratio of the medians jab/go-sendxmpp and,
// when limit > 0, the target "≤ limit" and whether the ratio meets it.
func (t *table) add(label, metricName string, m metric, js, gs []sample, limit float64) {
	j, g := medians(m, js, gs)
	r := row{label: label, metric: metricName, jab: m.format(j), gsx: m.format(g)}
	ratio := float64(j) / float64(g)
	if g != 0 {
		r.ratio = fmt.Sprintf("%.2f", ratio)
		if limit > 0 && r.ratio == fmt.Sprintf("%.2f", limit) {
			// At the limit: a third digit shows which side.
			r.ratio = fmt.Sprintf("%.3f", ratio)
		}
	}
	if limit > 0 {
		r.target = fmt.Sprintf("≤ %.1f", limit)
		r.holds = verdict(g != 0 && ratio <= limit)
	}
	if metricName == "round trips" {
		r.jab += spread(m, js)
		r.gsx += spread(m, gs)
	}
	t.rows = append(t.rows, r)
}

// addAbs appends a row whose target is an absolute limit on jab's median.
func (t *table) addAbs(label, metricName string, m metric, js, gs []sample, limit int64) {
	t.add(label, metricName, m, js, gs, 0)
	r := &t.rows[len(t.rows)-1]
	j, _ := medians(m, js, gs)
	r.target = fmt.Sprintf("jab ≤ %d", limit)
	r.holds = verdict(j <= limit)
}

func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// print writes the table as aligned columns (and valid Markdown).
func (t *table) print(w io.Writer) {
	head := row{label: "case", metric: "metric", jab: "jab", gsx: "go-sendxmpp", ratio: "ratio", target: "target", holds: "holds"}
	cells := func(r row) []string {
		return []string{r.label, r.metric, r.jab, r.gsx, r.ratio, r.target, r.holds}
	}
	widths := make([]int, 7)
	for _, r := range append([]row{head}, t.rows...) {
		for i, c := range cells(r) {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cs []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cs {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i >= 2 && i <= 4 {
				b.WriteString(" " + pad + c + " |") // numbers right-aligned
			} else {
				b.WriteString(" " + c + pad + " |")
			}
		}
		fmt.Fprintln(w, b.String())
	}
	fmt.Fprintln(w)
	line(cells(head))
	sep := make([]string, 7)
	for i := range sep {
		sep[i] = strings.Repeat("-", widths[i])
		if i >= 2 && i <= 4 {
			sep[i] = sep[i][1:] + ":"
		}
	}
	line(sep)
	for _, r := range t.rows {
		line(cells(r))
	}
}
