package session

import (
	"regexp"
	"slices"
)

// Filter selects received events (the records `jab listen` prints): From
// applies to messages and presence; Types, Thread and Match to messages
// only, and when any of them is set no presence passes.
type Filter struct {
	From   []JID // bare: any resource; full: that resource only
	Types  []string
	Thread string         // "" for any
	Match  *regexp.Regexp // on the body
}

// messageOnly reports whether a filter that only messages can pass is set.
func (f *Filter) messageOnly() bool {
	return len(f.Types) > 0 || f.Thread != "" || f.Match != nil
}

// Pass reports whether ev is printed (and, for a message, counted).
func (f *Filter) Pass(ev Event) bool {
	if len(f.From) > 0 {
		from, err := ParseJID(ev.From)
		if err != nil {
			return false
		}
		ok := false
		for _, j := range f.From {
			if from.Bare() == j.Bare() && (!j.IsFull() || from.Resource == j.Resource) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if ev.Kind != KindMessage {
		return !f.messageOnly()
	}
	if len(f.Types) > 0 && !slices.Contains(f.Types, ev.Type) {
		return false
	}
	if f.Thread != "" && ev.Thread != f.Thread {
		return false
	}
	if f.Match != nil && !f.Match.MatchString(ev.Body) {
		return false
	}
	return true
}
