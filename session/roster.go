package session

import (
	"context"
	"encoding/xml"
	"fmt"

	"github.com/jab-xmpp/jab/statefile"
)

const nsRoster = "jabber:iq:roster"

// FetchRoster asks the server for the roster (RFC 6121 §2.2). Items whose
// jid does not parse are left out; the JIDs come back in canonical form.
func FetchRoster(ctx context.Context, s *Session) ([]statefile.RosterItem, error) {
	res, err := s.Request(ctx, &IQ{Type: "get", Payload: &RawElement{XMLName: xml.Name{Space: nsRoster, Local: "query"}}})
	if err != nil {
		return nil, fmt.Errorf("fetch roster: %w", err)
	}
	return ParseRoster(res)
}

// ParseRoster reads the items of a roster result.
func ParseRoster(res *IQ) ([]statefile.RosterItem, error) {
	if res == nil || res.Payload == nil {
		return nil, nil // RFC 6121 §2.1.3: an empty result is an empty roster
	}
	var q struct {
		Items []struct {
			JID          string   `xml:"jid,attr"`
			Name         string   `xml:"name,attr"`
			Subscription string   `xml:"subscription,attr"`
			Groups       []string `xml:"group"`
		} `xml:"item"`
	}
	inner := append(append([]byte("<query>"), res.Payload.Inner...), "</query>"...)
	if err := xml.Unmarshal(inner, &q); err != nil {
		return nil, fmt.Errorf("roster result: %w", err)
	}
	var items []statefile.RosterItem
	for _, it := range q.Items {
		j, err := ParseJID(it.JID)
		if err != nil {
			continue
		}
		items = append(items, statefile.RosterItem{JID: j.String(), Name: it.Name, Subscription: it.Subscription, Groups: it.Groups})
		if len(items) == statefile.MaxRosterItems {
			break
		}
	}
	return items, nil
}
