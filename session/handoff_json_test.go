package session

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/jab-xmpp/jab/statefile"
)

func encodeRequest(t testing.TB, r handoffRequest) (fast, want string) {
	t.Helper()
	b, err := appendRequest([]byte("x"), r)
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), "x" + string(j) + "\n"
}

func TestAppendRequestMatchesJSON(t *testing.T) {
	full := &handoffSend{Account: "me@example.net", To: []string{"a@b", "c@d/e"}, Type: "chat", Thread: "t<1>",
		NewThread: true, Fork: true, Subject: "s&\"\\", LockIdle: time.Hour, WaitReply: true, Single: true,
		History: true, HistoryMax: 5}
	cases := map[string]handoffRequest{
		"hello":       {V: 1, Op: "send", Send: &handoffSend{Account: "me@example.net", To: []string{"a@b"}, Type: "chat"}},
		"hello, full": {V: 1, Op: "send", Send: full},
		"no to":       {V: 1, Op: "send", Send: &handoffSend{}},
		"msg":         {V: 1, Op: "msg", Msg: &handoffMsg{Body: "hi"}},
		"msg, full": {V: 1, Op: "msg", Msg: &handoffMsg{Subject: "sub", Body: "a\x00b\x1f\u2028\u2029\xff\t\n\r\b\f<>&é😀",
			InReplyTo: "id", Receipt: true, More: true}},
		"wait":     {V: 1, Op: "reply", Wait: 3 * time.Second},
		"reply to": {V: 1, Op: "send", Send: &handoffSend{Account: "me@x", ReplyTo: &statefile.Record{ID: "x", Body: "b"}}},
		"file msg": {V: 2, Op: "msg", Msg: &handoffMsg{Body: "https://a/f", OOBURL: "https://a/f?x=<&>", More: true}},
		"slot": {V: 2, Op: "slot", Service: &UploadService{JID: "up.x", MaxSize: 9},
			Slot: &SlotRequest{Filename: "a b", Size: 3, ContentType: "text/plain"}},
	}
	for name, r := range cases {
		if got, want := encodeRequest(t, r); got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

// Every field of the request types is written: one added later and not
// written fails here.
func TestAppendRequestEveryField(t *testing.T) {
	for _, typ := range []any{handoffRequest{}, handoffSend{}, handoffMsg{}} {
		rt := reflect.TypeOf(typ)
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			if !f.IsExported() || f.Name == "ReplyTo" {
				continue
			}
			r := handoffRequest{V: 1, Op: "x", Send: &handoffSend{}, Msg: &handoffMsg{}}
			var v reflect.Value
			switch rt {
			case reflect.TypeOf(handoffRequest{}):
				v = reflect.ValueOf(&r).Elem().Field(i)
			case reflect.TypeOf(handoffSend{}):
				v = reflect.ValueOf(r.Send).Elem().Field(i)
			default:
				v = reflect.ValueOf(r.Msg).Elem().Field(i)
			}
			switch v.Kind() {
			case reflect.String:
				v.SetString("x")
			case reflect.Bool:
				v.SetBool(true)
			case reflect.Int, reflect.Int64:
				v.SetInt(7)
			case reflect.Slice:
				v.Set(reflect.ValueOf([]string{"y"}))
			case reflect.Pointer:
				continue // Send and Msg themselves: set above
			default:
				t.Fatalf("%s.%s: kind %s not covered by this test", rt.Name(), f.Name, v.Kind())
			}
			if got, want := encodeRequest(t, r); got != want {
				t.Errorf("%s.%s set:\n got %s\nwant %s", rt.Name(), f.Name, got, want)
			}
		}
	}
}

func FuzzAppendRequest(f *testing.F) {
	f.Add("me@example.net", "a@b", "hi", "sub", "t", int64(5), true)
	f.Add("\xff\x00", "<&>", "\u2028\"\\", "", "", int64(-1), false)
	f.Fuzz(func(t *testing.T, account, to, body, subject, thread string, n int64, flag bool) {
		r := handoffRequest{V: 1, Op: "send", Send: &handoffSend{Account: account, To: []string{to, body}, Type: "chat",
			Thread: thread, NewThread: flag, Subject: subject, LockIdle: time.Duration(n), History: flag, HistoryMax: int(n)},
			Msg: &handoffMsg{Subject: subject, Body: body, InReplyTo: thread, Receipt: flag, More: !flag}, Wait: time.Duration(n)}
		if got, want := encodeRequest(t, r); got != want {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}

func TestAnswerDecodesWhatWasEncoded(t *testing.T) {
	// handoffAnswer decodes its reply and errors only where present
	// (UnmarshalJSON): every field must still come back.
	cases := map[string]handoffAnswer{
		"hello":   {answerHead: answerHead{V: 1, OK: true, PID: 42, JID: "me@example.net/r", Command: "listen"}},
		"refused": {answerHead: answerHead{V: 1, Refused: "busy"}},
		"sent": {answerHead: answerHead{V: 1, OK: true, Finished: true,
			Sent: []Sent{{To: "a@b/c", ID: "i", Thread: "t", Type: "chat"}}}},
		"reply": {answerHead: answerHead{V: 1, OK: true},
			Reply: &Event{Kind: "message", From: "a@b/c", Body: "yes", Thread: "t", Time: time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)}},
		"errors": {answerHead: answerHead{V: 1, Finished: true},
			Err:       &wireError{Message: "bounced", Delivery: &DeliveryError{Failed: []string{"a@b: x"}, Total: 2}},
			FinishErr: &wireError{Message: "late", Timeout: true}},
		"upload": {answerHead: answerHead{V: 2, OK: true}, Service: &UploadService{JID: "up.x", MaxSize: 10},
			Slot: &Slot{Put: "https://p/x", Get: "https://g/x", Headers: []SlotHeader{{"Authorization", "B t"}}}},
		"upload errors": {answerHead: answerHead{V: 2}, Err: &wireError{Message: "m",
			FileSize:    &FileTooLargeError{Name: "f", Size: 3, Max: 2, Server: true},
			SlotRefused: &SlotRefusedError{Service: "up", File: "f", Condition: "resource-constraint", Text: "quota"},
			NoUpload:    &NoUploadServiceError{Domain: "x"}}},
	}
	for name, a := range cases {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var got handoffAnswer
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, a) {
			t.Errorf("%s: decoded %+v\nwant %+v", name, got, a)
		}
	}
	var a handoffAnswer
	if err := json.Unmarshal([]byte(`{"v":1,"error":{"message":1}}`), &a); err == nil {
		t.Error("a malformed error decoded without an error")
	}
}
