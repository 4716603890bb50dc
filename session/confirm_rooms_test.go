package session

import (
	"fmt"
	"testing"

	"github.com/jab-xmpp/jab/statefile"
)

// TestRoomsToConfirm: the rooms whose occupants a send went to, once
// each; contacts and rooms themselves are not pinged.
func TestRoomsToConfirm(t *testing.T) {
	occ := func(to string) Route { return Route{To: to, Conv: statefile.Conversation{Occupant: true}} }
	got := roomsToConfirm([]Route{occ("room@conference.example.org/alice"), {To: "bob@example.org"},
		occ("room@conference.example.org/carol"), occ("other@conference.example.org/dave"), {To: "room@conference.example.org"}})
	want := []string{"room@conference.example.org", "other@conference.example.org"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("roomsToConfirm = %v, want %v", got, want)
	}
	if got := roomsToConfirm([]Route{{To: "bob@example.org"}}); got != nil {
		t.Errorf("no occupant: %v, want none", got)
	}
}
