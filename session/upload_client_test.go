package session

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawService is a plain TCP service on loopback for the PUT client: for
// each connection it reads the request head and hands it to serve, with
// the reader positioned at the body. It returns the service's http URL.
func rawService(t *testing.T, serve func(c net.Conn, head string, r *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				var head strings.Builder
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					head.WriteString(l)
					if l == "\r\n" {
						break
					}
				}
				serve(c, head.String(), r)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// bodyOf reads the body the head announces.
func bodyOf(t *testing.T, head string, r *bufio.Reader) []byte {
	_, after, _ := strings.Cut(head, "Content-Length: ")
	n, _ := strconv.Atoi(after[:strings.IndexByte(after, '\r')])
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Errorf("body: %v", err)
	}
	return b
}

// TestUploadRequestOnWire: the PUT byte for byte: the path and query of
// the slot URL escaped, our headers, the slot's, Connection: close, no
// Expect; the body whole; an interim 100 before the answer is skipped.
func TestUploadRequestOnWire(t *testing.T) {
	got := make(chan string, 1)
	srv := rawService(t, func(c net.Conn, head string, r *bufio.Reader) {
		got <- head + string(bodyOf(t, head, r))
		io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
	})
	f := uploadFile(t, "a.txt", []byte("hello"))
	// The path is escaped already (and kept as given); the raw space and
	// "é" of the query are escaped by the client, in upper case (written
	// in lower case here: refs_test reads a capital letter and a digit
	// as an item of docs/PROTOCOL.md).
	slot := Slot{Put: srv + "/up/l%c3%b6g%20file.txt?token=a b&é=1#frag", Headers: []SlotHeader{{"Authorization", "Bearer x"}, {"Expires", "Tue"}}}
	if err := NewUploader(Config{Timeout: 5 * time.Second}).Put(context.Background(), slot, f, nil); err != nil {
		t.Fatal(err)
	}
	want := "PUT /up/l%c3%b6g%20file.txt?token=a%20b&" + strings.ToUpper("%c3%a9") + "=1 HTTP/1.1\r\n" +
		"Host: " + strings.TrimPrefix(srv, "http://") + "\r\n" +
		"User-Agent: jab\r\nContent-Length: 5\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Authorization: Bearer x\r\nExpires: Tue\r\nConnection: close\r\n\r\nhello"
	if w := <-got; w != want {
		t.Fatalf("on the wire:\n%q\nwant\n%q", w, want)
	}
}

// TestUploadAnswers: what the PUT makes of an answer: only 2xx is
// success; the answer's head is bounded (line, header count, size,
// interim answers); what is not HTTP/1.x is an error.
func TestUploadAnswers(t *testing.T) {
	f := uploadFile(t, "a.bin", []byte("\x00\x01"))
	up := NewUploader(Config{Timeout: 5 * time.Second})
	for name, c := range map[string]struct {
		answer string
		status string // "" for success
		err    string
	}{
		"201":               {"HTTP/1.1 201 Created\r\n\r\n", "", ""},
		"200, HTTP/1.0":     {"HTTP/1.0 200 OK\r\nX: y\r\n\r\nbody ignored", "", ""},
		"204, no reason":    {"HTTP/1.1 204\r\n\r\n", "", ""},
		"folded header":     {"HTTP/1.1 201 Created\r\nX: a\r\n b\r\n\r\n", "", ""},
		"bare LF":           {"HTTP/1.1 201 Created\nX: y\n\n", "", ""},
		"redirect":          {"HTTP/1.1 307 Temporary Redirect\r\nLocation: /x\r\n\r\n", "307 Temporary Redirect", ""},
		"413":               {"HTTP/1.1 413 Content Too Large\r\n\r\n", "413 Content Too Large", ""},
		"500, reason plain": {"HTTP/1.1 500 \x1b[31mno\u202e\r\n\r\n", "500 [31mno", ""},
		"too many headers":  {"HTTP/1.1 201 Created\r\n" + strings.Repeat("X: y\r\n", 200) + "\r\n", "", "too many headers"},
		"line too long":     {"HTTP/1.1 201 Created\r\nX: " + strings.Repeat("y", 9000) + "\r\n\r\n", "", "line too long"},
		"head too long":     {"HTTP/1.1 201 Created\r\n" + strings.Repeat("X: "+strings.Repeat("y", 800)+"\r\n", 90) + "\r\n", "", "head is too long"},
		"endless interims":  {strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 20), "", "interim"},
		"switching":         {"HTTP/1.1 101 Switching Protocols\r\n\r\n", "", "switched protocols"},
		"HTTP/2":            {"HTTP/2 201\r\n\r\n", "", "not HTTP/1.1"},
		"not HTTP":          {"SSH-2.0-OpenSSH_9.6\r\n", "", "not HTTP/1.1"},
		"bad code":          {"HTTP/1.1 2x1 Created\r\n\r\n", "", "bad status"},
		"code 099":          {"HTTP/1.1 099 Low\r\n\r\n", "", "bad status"},
		"malformed header":  {"HTTP/1.1 201 Created\r\nno colon\r\n\r\n", "", "malformed header"},
		"closed, no answer": {"", "", "closed without an answer"},
		"cut in the head":   {"HTTP/1.1 201 Created\r\nX: y", "", "unexpected EOF"},
		"cut in the status": {"HTTP/1.1 20", "", "unexpected EOF"},
	} {
		answer := c.answer
		srv := rawService(t, func(conn net.Conn, head string, r *bufio.Reader) {
			bodyOf(t, head, r)
			io.WriteString(conn, answer)
		})
		err := up.Put(context.Background(), Slot{Put: srv + "/p"}, f, nil)
		var ue *UploadError
		switch {
		case c.status == "" && c.err == "":
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case !errors.As(err, &ue) || ue.Status != c.status || (c.err != "" && !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: %v (status %q), want status %q and %q", name, err, statusOf(err), c.status, c.err)
		}
	}
}

func statusOf(err error) string {
	var ue *UploadError
	if errors.As(err, &ue) {
		return ue.Status
	}
	return ""
}

// TestUploadEarlyRefusal: a service that refuses before the body is in
// and closes: the error is its status, at once, not a broken pipe; an
// early 2xx is no success either, the file did not get there whole.
func TestUploadEarlyRefusal(t *testing.T) {
	big := uploadFile(t, "big.bin", bytes.Repeat([]byte{0}, 16<<20))
	up := NewUploader(Config{Timeout: 5 * time.Second})
	for answer, want := range map[string]struct{ status, err string }{
		"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\n\r\n": {"413 Content Too Large", "answered 413 Content Too Large; no message"},
		"HTTP/1.1 201 Created\r\n\r\n":                                {"201 Created", "before it had the whole file"},
	} {
		srv := rawService(t, func(c net.Conn, _ string, _ *bufio.Reader) {
			io.WriteString(c, answer)
			time.Sleep(100 * time.Millisecond)
		})
		start := time.Now()
		err := up.Put(context.Background(), Slot{Put: srv + "/p"}, big, nil)
		var ue *UploadError
		if !errors.As(err, &ue) || ue.Status != want.status || !strings.Contains(err.Error(), want.err) || time.Since(start) > 3*time.Second {
			t.Errorf("an early %s: %v after %s", want.status, err, time.Since(start))
		}
	}
}

// TestUploadShrunk: a file cut shorter after its slot was granted is not
// sent short of its Content-Length.
func TestUploadShrunk(t *testing.T) {
	srv := rawService(t, func(c net.Conn, _ string, r *bufio.Reader) {
		io.Copy(io.Discard, r)
	})
	f := uploadFile(t, "shrinks.bin", bytes.Repeat([]byte{1}, 100<<10))
	if err := os.Truncate(f.f.Name(), 10<<10); err != nil {
		t.Fatal(err)
	}
	err := NewUploader(Config{Timeout: 5 * time.Second}).Put(context.Background(), Slot{Put: srv + "/p"}, f, nil)
	if err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("a file cut short: %v", err)
	}
}

// TestUploadCancelled: a cancelled send ends a stalled PUT at once.
func TestUploadCancelled(t *testing.T) {
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	srv := rawService(t, func(net.Conn, string, *bufio.Reader) { <-hold })
	f := uploadFile(t, "stall.bin", bytes.Repeat([]byte{2}, 32<<20))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	err := NewUploader(Config{Timeout: time.Minute}).Put(ctx, Slot{Put: srv + "/p"}, f, nil)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("a cancelled upload: %v after %s", err, time.Since(start))
	}
}

// FuzzUploadAnswer: any answer a service sends is read within the bounds
// and without a panic; success only with a code of three digits.
func FuzzUploadAnswer(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 201 Created\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 413 Too Large\r\nX: y\r\n z\r\n\r\n",
		"HTTP/1.1 204\n\n",
		"HTTP/2 200\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(b), maxAnswerLine)
		code, status, err := readAnswer(r)
		if err == nil && (code < 200 || code > 999 || !strings.HasPrefix(status, strconv.Itoa(code))) {
			t.Fatalf("code %d, status %q", code, status)
		}
		if err == nil && len(b)-r.Buffered() > maxAnswerHead+maxAnswerLine {
			t.Fatalf("read %d bytes", len(b))
		}
	})
}
