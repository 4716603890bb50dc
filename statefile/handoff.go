package statefile

import "strings"

// HandoffPath names the hand-off socket of account: the Unix-domain socket
// on which a running observer (listen, repl) takes `jab send` requests for
// that account, so that a send needs no login of its own. It sits next to
// the observer record and has the same name with .sock instead of .json
// (see observerPath for why the name is a hash). Only the observer creates
// it, once its session is online, and removes it when it ends; a crash
// leaves it behind, and a client that finds nobody listening on it goes on
// without (package session describes the protocol). The state directory
// is 0700, and the observer also checks that each peer runs as its own
// user.
func (s *Store) HandoffPath(account string) string {
	return strings.TrimSuffix(s.observerPath(account), ".json") + ".sock"
}
