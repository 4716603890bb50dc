package ox

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jab-xmpp/jab/session"
)

// Public keys on PEP (XEP-0373 §4, XEP-0163): the metadata node lists
// the fingerprints, one data node per fingerprint holds the key.

const (
	nsPubSub      = "http://jabber.org/protocol/pubsub"
	nsPubSubOwner = "http://jabber.org/protocol/pubsub#owner"
	nsData        = "jabber:x:data"
	// NodeList is the metadata node (XEP-0373 §4.2).
	NodeList = session.NSOpenPGP + ":public-keys"
)

// NodeKey is the data node of the key with fingerprint fp (§4.1).
func NodeKey(fp string) string { return NodeList + ":" + fp }

// MaxPublishedKeys bounds the keys one contact may publish: each is
// fetched and used, so a list longer than this refuses the contact
// rather than making jab fetch thousands of keys.
const MaxPublishedKeys = 32

type pubsub struct {
	Items          *items          `xml:"items,omitempty"`
	Publish        *publish        `xml:"publish,omitempty"`
	PublishOptions *publishOptions `xml:"publish-options,omitempty"`
}

type items struct {
	Node     string `xml:"node,attr"`
	MaxItems string `xml:"max_items,attr,omitempty"`
	Item     []item `xml:"item"`
}

type publish struct {
	Node string `xml:"node,attr"`
	Item item   `xml:"item"`
}

type item struct {
	ID     string   `xml:"id,attr,omitempty"`
	PubKey *pubkey  `xml:"urn:xmpp:openpgp:0 pubkey,omitempty"`
	List   *keyList `xml:"urn:xmpp:openpgp:0 public-keys-list,omitempty"`
}

type pubkey struct {
	Data string `xml:"data"`
}

type keyList struct {
	Meta []keyMeta `xml:"pubkey-metadata"`
}

type keyMeta struct {
	FP   string `xml:"v4-fingerprint,attr"`
	Date string `xml:"date,attr"`
}

type publishOptions struct {
	Form dataForm `xml:"jabber:x:data x"`
}

type dataForm struct {
	Type   string      `xml:"type,attr"`
	Fields []dataField `xml:"field"`
}

type dataField struct {
	Var   string `xml:"var,attr"`
	Type  string `xml:"type,attr,omitempty"`
	Value string `xml:"value"`
}

// accessForm is the form that makes a node readable by anyone (the
// open access model): a contact fetches our key without a presence
// subscription.
func accessForm(formType string) dataForm {
	return dataForm{Type: "submit", Fields: []dataField{
		{Var: "FORM_TYPE", Type: "hidden", Value: formType},
		{Var: "pubsub#access_model", Value: "open"},
	}}
}

// request sends a pubsub IQ (ns: pubsub or pubsub#owner) with the
// children inner and returns the result's children.
func request(ctx context.Context, s *session.Session, to, typ, ns string, inner any) ([]byte, error) {
	body, err := xml.Marshal(inner)
	if err != nil {
		return nil, err
	}
	// inner is marshalled as <pubsub>…</pubsub> without a namespace; the
	// IQ's payload carries the namespace and only the children.
	body = body[len("<pubsub>") : len(body)-len("</pubsub>")]
	res, err := s.Request(ctx, &session.IQ{To: to, Type: typ,
		Payload: &session.RawElement{XMLName: xml.Name{Space: ns, Local: "pubsub"}, Inner: body}})
	if err != nil {
		return nil, err
	}
	if res.Payload == nil {
		return nil, nil
	}
	return res.Payload.Inner, nil
}

// missing reports whether err is a PEP answer meaning "nothing
// published": item-not-found, forbidden (Prosody's answer to another
// user for a node that does not exist), or no PEP at all.
func missing(err error) bool {
	var iqe *session.IQError
	if !errors.As(err, &iqe) {
		return false
	}
	switch iqe.Condition {
	case "item-not-found", "forbidden", "service-unavailable", "feature-not-implemented":
		return true
	}
	return false
}

// noKey is the error for a contact whose keys cannot be found.
func noKey(peer, why string) *session.E2EError {
	return &session.E2EError{Peer: peer, Problem: "publishes no OpenPGP key (" + why + ")",
		Hint: "ask " + peer + " to publish a key (jab keys publish, or an OX client); nothing was sent"}
}

// FetchList returns the fingerprints peer publishes (§4.3). Nothing
// published is an *E2EError; so is a list over MaxPublishedKeys.
func FetchList(ctx context.Context, s *session.Session, peer string) ([]string, error) {
	inner, err := request(ctx, s, peer, "get", nsPubSub, pubsub{Items: &items{Node: NodeList, MaxItems: "1"}})
	if missing(err) {
		return nil, noKey(peer, err.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("fetch the OpenPGP keys of %s: %w", peer, err)
	}
	fps, err := ParseList(peer, inner)
	if err != nil {
		return nil, err
	}
	if len(fps) == 0 {
		return nil, noKey(peer, "the list is empty")
	}
	return fps, nil
}

// ParseList reads the metadata node's items (the children of a pubsub
// result): the fingerprints of the newest item, deduplicated and upper
// case; malformed ones are skipped. Remote input: bounded by
// MaxPublishedKeys.
func ParseList(peer string, inner []byte) ([]string, error) {
	var r struct {
		Items []items `xml:"items"`
	}
	wrapped := append(append([]byte("<pubsub>"), inner...), "</pubsub>"...)
	if err := xml.Unmarshal(wrapped, &r); err != nil {
		return nil, &session.E2EError{Peer: peer, Problem: "the published key list does not parse: " + err.Error()}
	}
	var list *keyList
	for _, its := range r.Items {
		for i := range its.Item {
			if its.Item[i].List != nil {
				list = its.Item[i].List // the last one: the newest
			}
		}
	}
	if list == nil {
		return nil, nil
	}
	if n := len(list.Meta); n > MaxPublishedKeys {
		return nil, &session.E2EError{Peer: peer, Problem: fmt.Sprintf("publishes %d keys, more than the %d jab uses", n, MaxPublishedKeys),
			Hint: "ask " + peer + " to remove the keys they no longer use"}
	}
	var fps []string
	for _, m := range list.Meta {
		fp := strings.ToUpper(strings.TrimSpace(m.FP))
		if !validFingerprint(fp) {
			continue
		}
		dup := false
		for _, f := range fps {
			dup = dup || f == fp
		}
		if !dup {
			fps = append(fps, fp)
		}
	}
	return fps, nil
}

// validFingerprint: a v4 fingerprint, 40 upper-case hex digits.
func validFingerprint(fp string) bool {
	return len(fp) == 40 && strings.Trim(fp, "0123456789ABCDEF") == ""
}

// FetchKey returns the key data peer publishes for fp (§4.4): the
// newest item's data, base64-decoded.
func FetchKey(ctx context.Context, s *session.Session, peer, fp string) ([]byte, error) {
	inner, err := request(ctx, s, peer, "get", nsPubSub, pubsub{Items: &items{Node: NodeKey(fp), MaxItems: "1"}})
	if missing(err) {
		return nil, noKey(peer, "the key "+fp+" is listed but not published: "+err.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("fetch the OpenPGP key %s of %s: %w", fp, peer, err)
	}
	return ParseKeyData(peer, fp, inner)
}

// ParseKeyData reads a data node's items: the newest item's key,
// decoded from base64 (bounded by MaxKeySize).
func ParseKeyData(peer, fp string, inner []byte) ([]byte, error) {
	var r struct {
		Items []items `xml:"items"`
	}
	wrapped := append(append([]byte("<pubsub>"), inner...), "</pubsub>"...)
	if err := xml.Unmarshal(wrapped, &r); err != nil {
		return nil, &session.E2EError{Peer: peer, Problem: "the published key " + fp + " does not parse: " + err.Error()}
	}
	var data string
	for _, its := range r.Items {
		for _, it := range its.Item {
			if it.PubKey != nil {
				data = it.PubKey.Data
			}
		}
	}
	data = strings.Join(strings.Fields(data), "")
	if data == "" {
		return nil, noKey(peer, "the node of "+fp+" holds no key")
	}
	if base64.StdEncoding.DecodedLen(len(data)) > MaxKeySize {
		return nil, &session.E2EError{Peer: peer, Problem: fmt.Sprintf("the published key %s is over the %d bytes jab accepts", fp, MaxKeySize)}
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, &session.E2EError{Peer: peer, Problem: "the published key " + fp + " is not base64: " + err.Error()}
	}
	return raw, nil
}

// Publish puts our public key on our PEP service: the data node first,
// then the metadata node listing its fingerprint (§4.2: the key must be
// there before it is announced), both with the open access model.
func Publish(ctx context.Context, s *session.Session, fp string, key []byte, now time.Time) error {
	stamp := now.UTC().Format(time.RFC3339)
	data := item{ID: stamp, PubKey: &pubkey{Data: base64.StdEncoding.EncodeToString(key)}}
	if err := publishOpen(ctx, s, NodeKey(fp), data); err != nil {
		return err
	}
	list := item{ID: "current", List: &keyList{Meta: []keyMeta{{FP: fp, Date: stamp}}}}
	return publishOpen(ctx, s, NodeList, list)
}

// publishOpen publishes it to node with publish-options asking for the
// open access model. Prosody treats publish-options as preconditions
// (XEP-0060 §7.1.5): a node that exists with other options refuses with
// precondition-not-met (a conflict); it is then reconfigured through
// the owner form and published to again.
func publishOpen(ctx context.Context, s *session.Session, node string, it item) error {
	p := pubsub{Publish: &publish{Node: node, Item: it},
		PublishOptions: &publishOptions{Form: accessForm(nsPubSub + "#publish-options")}}
	_, err := request(ctx, s, "", "set", nsPubSub, p)
	var iqe *session.IQError
	if !errors.As(err, &iqe) || iqe.Condition != "conflict" {
		if err != nil {
			return fmt.Errorf("publish %s: %w", node, err)
		}
		return nil
	}
	cfg := struct {
		XMLName   xml.Name `xml:"pubsub"`
		Configure struct {
			Node string   `xml:"node,attr"`
			Form dataForm `xml:"jabber:x:data x"`
		} `xml:"configure"`
	}{}
	cfg.Configure.Node = node
	cfg.Configure.Form = accessForm(nsPubSub + "#node_config")
	if _, err := request(ctx, s, "", "set", nsPubSubOwner, cfg); err != nil {
		return fmt.Errorf("configure %s for the open access model: %w", node, err)
	}
	if _, err := request(ctx, s, "", "set", nsPubSub, p); err != nil {
		return fmt.Errorf("publish %s: %w", node, err)
	}
	return nil
}
