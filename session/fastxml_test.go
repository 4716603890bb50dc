package session

import (
	"encoding/xml"
	"reflect"
	"testing"
)

// marshalXML is the reference appendMessage must match.
func marshalXML(t testing.TB, m *Message) string {
	t.Helper()
	b, err := xml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAppendMessageMatchesXML(t *testing.T) {
	route := Route{To: "alice@example.org/phone", Thread: "3d32829a-5c6c-4676-a9eb-ca4cf02c5ecf", Parent: "p<&>\"'"}
	withState := func(m *Message, s string) *Message { m.SetChatState(s); return m }
	withRequest := func(m *Message) *Message { m.Request = &Empty{}; return m }
	cases := map[string]*Message{
		"plain":          BuildMessage(Route{To: "bob@example.org"}, "chat", "", "hi", ""),
		"thread, parent": BuildMessage(route, "chat", "", "hi", ""),
		"subject, reply": BuildMessage(route, "normal", "a <subject>", "body", "orig-id&1"),
		"escapes":        BuildMessage(route, "chat", "\t\r\n", "a\"b'c&d<e>f\x00g\xffh\uFFFEi\U0001F600", ""),
		"empty body":     BuildMessage(route, "headline", "", "", ""),
		"composing":      withState(BuildMessage(route, "chat", "", "", ""), "composing"),
		"gone":           withState(BuildMessage(route, "chat", "", "bye", ""), "gone"),
		"active":         withState(BuildMessage(route, "chat", "", "x", ""), "active"),
		"paused":         withState(BuildMessage(route, "chat", "", "x", ""), "paused"),
		"inactive":       withState(BuildMessage(route, "chat", "", "x", ""), "inactive"),
		"receipt":        withRequest(BuildMessage(route, "chat", "", "x", "")),
		"from":           {From: "me@example.net/a", To: "x@y", ID: "1", Type: "chat", Body: "b"},
		"empty thread":   {To: "x@y", Thread: &Thread{}},
		"no headers":     {To: "x@y", Headers: &Headers{}},
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			got, ok := appendMessage([]byte("prefix"), m)
			if !ok {
				t.Fatal("appendMessage refused a message a send builds")
			}
			if want := "prefix" + marshalXML(t, m); string(got) != want {
				t.Errorf("appendMessage:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// Every other field of Message sends the message to encoding/xml: a field
// added later is refused, not silently dropped.
func TestAppendMessageRefusesOtherFields(t *testing.T) {
	handled := map[string]bool{"From": true, "To": true, "ID": true, "Type": true, "Subject": true, "Body": true,
		"Thread": true, "Active": true, "Compose": true, "Paused": true, "Inactive": true, "Gone": true,
		"OriginID": true, "Headers": true, "Request": true}
	rt := reflect.TypeOf(Message{})
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if handled[f.Name] || f.Name == "XMLName" {
			continue
		}
		m := BuildMessage(Route{To: "bob@example.org"}, "chat", "", "hi", "")
		v := reflect.ValueOf(m).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		default:
			t.Fatalf("field %s: kind %s not covered by this test", f.Name, v.Kind())
		}
		if b, ok := appendMessage(nil, m); ok || len(b) != 0 {
			t.Errorf("field %s set: appendMessage wrote %q, want a refusal", f.Name, b)
		}
	}
	named := BuildMessage(Route{To: "bob@example.org"}, "chat", "", "hi", "x")
	named.Headers.XMLName = xml.Name{Space: "urn:other", Local: "headers"}
	if _, ok := appendMessage(nil, named); ok {
		t.Error("headers with a name of their own: want a refusal")
	}
}

func FuzzAppendMessage(f *testing.F) {
	f.Add("alice@example.org", "hi", "subject", "thread", "parent", "in-reply-to", "composing", true)
	f.Add("a\"b", "\x00\xff<&>", "\r\n\t", "", "'", "\uFFFD", "", false)
	f.Fuzz(func(t *testing.T, to, body, subject, thread, parent, irt, state string, receipt bool) {
		m := BuildMessage(Route{To: to, Thread: thread, Parent: parent}, "chat", subject, body, irt)
		switch state {
		case "active", "composing", "paused", "inactive", "gone":
			m.SetChatState(state)
		}
		if receipt {
			m.Request = &Empty{}
		}
		got, ok := appendMessage(nil, m)
		if !ok {
			t.Fatal("refused")
		}
		if want := marshalXML(t, m); string(got) != want {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}
