package suggest

import "testing"

func TestClosest(t *testing.T) {
	names := []string{"send", "listen", "threads", "timeout", "time-out", "roster"}
	for _, tt := range []struct{ typed, want string }{
		{"sned", "send"},      // a swapped pair
		{"lis", "listen"},     // a prefix
		{"thread", "threads"}, // a prefix, one short
		{"timout", "timeout"}, // one letter missing; the longer common prefix wins the tie
		{"xyz", ""},           // nothing close
		{"", ""},              // nothing typed
		{"rostre", "roster"},  // a swapped pair at the end
		{"rosterrrrr", ""},    // 4 edits: more than a third of its length
	} {
		if got := Closest(names, tt.typed); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.typed, got, tt.want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "abc", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"sned", "send", 2}, {"é", "e", 1},
	} {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
