package session

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// The files of an upload and the HTTP PUT (XEP-0363 §6). A file is never
// held in memory: a regular file is read from disk as it is sent, and
// standard input or a pipe is first copied to an unlinked temporary file
// (its size must be known for the slot), bounded by the service's limit.

// UploadFile is one file to upload.
type UploadFile struct {
	// Given is the name the user gave (a path, or "-"), for messages.
	Given string
	// Name is the sanitised name the slot is asked for (SafeFilename).
	Name string
	// Size and Type are known once the file is ready (Prepare).
	Size int64
	Type string

	f      *os.File  // the file, or the spooled copy of stream
	stream io.Reader // standard input or a pipe, until spooled
	ready  bool
}

// FileError: a file to upload cannot be used (missing, unreadable, a
// directory). Nothing was sent.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return fmt.Sprintf("file %q: %v", e.Path, e.Err) }
func (e *FileError) Unwrap() error { return e.Err }

// errIsDirectory: a directory given as a file to upload.
var errIsDirectory = errors.New("is a directory, not a file")

// OpenUpload opens a file to upload: path "-" is stdin. name, if not
// "", is the name to give it instead of the path's (--filename); it is
// sanitised either way. A regular file is ready at once; stdin, a pipe or
// a device is copied to a temporary file by Prepare.
func OpenUpload(path, name string, stdin io.Reader) (*UploadFile, error) {
	if name == "" {
		name = path
	}
	u := &UploadFile{Given: path, Name: SafeFilename(name)}
	if path == "-" {
		u.stream = stdin
		return u, nil
	}
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &FileError{Path: path, Err: err}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &FileError{Path: path, Err: err}
	}
	switch {
	case fi.IsDir():
		f.Close()
		return nil, &FileError{Path: path, Err: errIsDirectory}
	case fi.Mode().IsRegular():
		u.f, u.Size = f, fi.Size()
		// A directory reads as an error only now on some systems: read
		// the head here, so a file that cannot be read fails before
		// anything is contacted.
		if err := u.sniff(); err != nil {
			f.Close()
			return nil, &FileError{Path: path, Err: err}
		}
		u.ready = true
	default:
		u.stream = f // a pipe, /dev/stdin, a device: spooled
	}
	return u, nil
}

// sniff sets Type from the head of the file (sniffContentType), read
// at offset 0 without moving the file.
func (u *UploadFile) sniff() error {
	head := make([]byte, sniffLen+1)
	n, err := u.f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return err
	}
	u.Type = sniffContentType(head[:n])
	return nil
}

// Prepare makes the file ready for its slot request: a stream is copied
// to an unlinked temporary file, at most max bytes (0: no limit), so its
// size is known; one longer than max is a *FileTooLargeError and nothing
// is uploaded. Then the size is checked against max (CheckUploadSize).
func (u *UploadFile) Prepare(max int64) error {
	if !u.ready {
		if err := u.spool(max); err != nil {
			return err
		}
		u.ready = true
	}
	return CheckUploadSize(u.Given, u.Size, max)
}

func (u *UploadFile) spool(max int64) error {
	tmp, err := os.CreateTemp("", "jab-upload-*")
	if err != nil {
		return fmt.Errorf("copy %s to a temporary file: %w", u.Given, err)
	}
	// Unlinked at once: nothing is left behind, whatever happens.
	os.Remove(tmp.Name())
	src := u.stream
	if max > 0 {
		src = io.LimitReader(src, max+1)
	}
	n, err := io.Copy(tmp, src)
	if c, ok := u.stream.(io.Closer); ok && u.stream != os.Stdin {
		c.Close()
	}
	if err != nil {
		tmp.Close()
		return fmt.Errorf("copy %s to a temporary file: %w", u.Given, err)
	}
	if max > 0 && n > max {
		tmp.Close()
		return &FileTooLargeError{Name: u.Given, Size: n, Max: max}
	}
	u.f, u.Size, u.stream = tmp, n, nil
	return u.sniff()
}

// Close closes the file (and so frees a temporary copy).
func (u *UploadFile) Close() error {
	if u.f == nil {
		return nil
	}
	return u.f.Close()
}

// Uploader makes the PUTs of a send. Its requests carry only what the
// slot gives: no credentials of ours (jab has none for HTTP: no password,
// no client certificate, no cookie jar, no proxy), and no redirect is
// followed, so the slot's headers reach the slot's PUT URL and nowhere
// else, whatever its host.
//
// It speaks just enough HTTP/1.1 for one PUT per connection, on net and
// crypto/tls: net/http, linked into jab for this alone, made every cold
// start about 1 MiB bigger in memory (docs/ARCHITECTURE.md, "The upload's
// HTTP client").
type Uploader struct {
	cfg  Config        // the login's TLS settings (tlsFor)
	idle time.Duration // connecting, the handshake, a stalled write
	wait time.Duration // the answer, once the whole file is written
}

// UploadError: a PUT failed (refused, or cut off halfway). No message
// was sent for the file.
type UploadError struct {
	File   string
	Host   string
	Status string // the HTTP status, or "" when the request did not complete
	Err    error
}

func (e *UploadError) Error() string {
	msg := fmt.Sprintf("upload of %s to %s failed", e.File, e.Host)
	if e.Status != "" {
		msg += ": the server answered " + e.Status
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + "; no message was sent for it"
}

func (e *UploadError) Unwrap() error { return e.Err }

// NewUploader makes the HTTP client of cfg's TLS settings: verified
// against the system roots plus cfg.ExtraCAs, unless
// cfg.InsecureSkipVerify. cfg.Timeout bounds connecting, the TLS
// handshake and any stall while the file is written, not the whole
// upload; the answer is awaited up to answerWait after the last byte.
func NewUploader(cfg Config) *Uploader {
	idle := cfg.Timeout
	if idle <= 0 {
		idle = 30 * time.Second
	}
	return &Uploader{cfg: cfg, idle: idle, wait: answerWait(idle)}
}

// idleConn fails a write that makes no progress for idle: the service
// stopped taking the file. Reads have no deadline while the file is
// written: the answer comes only once the whole file is in (answerWait
// bounds the wait from then on).
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(p)
}

// answerWait is how long the answer to a PUT is awaited once the last
// byte is handed to the kernel: the last megabytes of the file may still
// be in the socket's buffers, on their way over a slow link.
func answerWait(idle time.Duration) time.Duration {
	return max(4*idle, 2*time.Minute)
}

// Put uploads u to the slot (one CheckSlot returned): the slot's
// headers, Content-Type as sniffed, Content-Length the size the slot was
// asked for, the body streamed from the file. progress, if not nil, is
// told how many bytes have been sent. Only a 2xx answer is success
// (XEP-0363 §6: 201 Created); a 3xx is a failure like any other.
func (up *Uploader) Put(ctx context.Context, s Slot, u *UploadFile, progress func(sent int64)) error {
	pu, err := url.Parse(s.Put)
	if err != nil {
		return &UploadError{File: u.Given, Host: "?", Err: err}
	}
	fail := func(status string, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &UploadError{File: u.Given, Host: pu.Host, Status: status, Err: err}
	}
	var body io.Reader = io.NewSectionReader(u.f, 0, u.Size)
	if progress != nil {
		body = &countingReader{r: body, f: progress}
	}
	head, err := putHead(pu, u.Size, u.Type, s.Headers)
	if err != nil {
		return fail("", err)
	}
	raw, c, err := up.dial(ctx, pu)
	if err != nil {
		return fail("", err)
	}
	defer raw.Close()
	// Closing the connection ends both the write and the wait.
	defer context.AfterFunc(ctx, func() { raw.Close() })()
	code, status, err := up.exchange(raw, c, head, body, u.Size)
	if err != nil {
		return fail(status, err)
	}
	if code < 200 || code > 299 {
		return fail(status, nil)
	}
	return nil
}

// dial connects to the PUT URL's host: raw is the TCP connection (with
// the write stall bounded), c the TLS client on it for https (ALPN
// http/1.1 only), or raw itself for a plain http slot (CheckSlot allows
// one only with --insecure-skip-verify).
func (up *Uploader) dial(ctx context.Context, pu *url.URL) (raw, c net.Conn, err error) {
	host, port := pu.Hostname(), pu.Port()
	if port == "" {
		port = "443"
		if pu.Scheme == "http" {
			port = "80"
		}
	}
	d := net.Dialer{Timeout: up.idle}
	tcp, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, nil, err
	}
	raw = &idleConn{Conn: tcp, idle: up.idle}
	if pu.Scheme == "http" {
		return raw, raw, nil
	}
	tc := tlsFor(host, up.cfg)
	tc.NextProtos = []string{"http/1.1"}
	tlsc := tls.Client(raw, tc)
	tcp.SetDeadline(time.Now().Add(up.idle))
	if err := tlsc.HandshakeContext(ctx); err != nil {
		tcp.Close()
		return nil, nil, &TLSError{Err: err}
	}
	tcp.SetDeadline(time.Time{})
	return raw, tlsc, nil
}

// putHead is the request line and the headers of the PUT: nothing but
// Host, User-Agent, Content-Length, Content-Type, the slot's headers
// (CheckSlot kept only Authorization, Cookie and Expires, without
// newlines) and Connection: close. No Expect: 100-continue: the slot
// was granted for this size already.
func putHead(pu *url.URL, size int64, typ string, slot []SlotHeader) ([]byte, error) {
	host := pu.Host
	if i := strings.Index(host, "%25"); i >= 0 && strings.HasPrefix(host, "[") {
		// RFC 6874 §4: no IPv6 zone in the Host header.
		if j := strings.LastIndexByte(host, ']'); j > i {
			host = host[:i] + host[j:]
		}
	}
	if !visibleASCII(host) {
		return nil, fmt.Errorf("the PUT URL's host %q is not plain ASCII", pu.Host)
	}
	var b strings.Builder
	b.WriteString("PUT " + requestTarget(pu) + " HTTP/1.1\r\n")
	b.WriteString("Host: " + host + "\r\n")
	b.WriteString("User-Agent: jab\r\n")
	b.WriteString("Content-Length: " + strconv.FormatInt(size, 10) + "\r\n")
	headers := append([]SlotHeader{{"Content-Type", typ}}, slot...)
	for _, h := range headers {
		if !visibleASCII(h.Name) || strings.Contains(h.Name, ":") || !fieldValue(h.Value) {
			return nil, fmt.Errorf("the header %q cannot be sent", plainText(h.Name, 40))
		}
		b.WriteString(h.Name + ": " + h.Value + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return []byte(b.String()), nil
}

// requestTarget is the URL's path and query as url.URL.RequestURI gives
// them, with what the query may still hold raw (spaces, bytes beyond
// ASCII) percent-encoded: a request line has no room for them.
func requestTarget(pu *url.URL) string {
	uri := pu.RequestURI()
	var b strings.Builder
	for i := 0; i < len(uri); i++ {
		if c := uri[i]; c <= ' ' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// visibleASCII: s is not empty and all visible ASCII.
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return s != ""
}

// fieldValue: s holds no control bytes but tab (RFC 9110 §5.5).
func fieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// exchange writes the request on c and reads the answer (raw is the
// connection under c). The answer is read while the file is written: a
// service that refuses early (413) and closes is reported by its status,
// not as a broken pipe. An answer before the last byte ends the upload
// (raw is closed): the file did not get there whole.
func (up *Uploader) exchange(raw, c net.Conn, head []byte, body io.Reader, size int64) (code int, status string, err error) {
	type answer struct {
		code   int
		status string
		err    error
	}
	answers := make(chan answer, 1)
	go func() {
		code, status, err := readAnswer(bufio.NewReaderSize(c, maxAnswerLine))
		answers <- answer{code, status, err}
		raw.Close()
	}()
	if err := writeRequest(c, head, body, size); err != nil {
		// The service may have answered and closed in the meantime: its
		// status says why better than the write's error.
		select {
		case a := <-answers:
			if a.err == nil && (a.code < 200 || a.code > 299) {
				return a.code, a.status, nil // a refusal: its status says it all
			}
			if a.err == nil {
				return a.code, a.status, errors.New("the service answered before it had the whole file")
			}
		case <-time.After(200 * time.Millisecond):
		}
		return 0, "", err
	}
	c.SetReadDeadline(time.Now().Add(up.wait))
	a := <-answers
	switch {
	case errors.Is(a.err, io.EOF):
		a.err = errors.New("the connection was closed without an answer")
	case errors.Is(a.err, os.ErrDeadlineExceeded):
		a.err = fmt.Errorf("no answer within %s of the file's last byte", up.wait)
	}
	return a.code, a.status, a.err
}

// writeRequest writes the head and exactly size bytes of body, through
// a buffer of its own: memory stays flat however big the file is.
func writeRequest(c net.Conn, head []byte, body io.Reader, size int64) error {
	w := bufio.NewWriterSize(c, 32<<10)
	w.Write(head)
	n, err := io.CopyN(w, body, size)
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("the file shrank while it was sent: %d of %d bytes", n, size)
	}
	if err != nil {
		return err
	}
	return w.Flush()
}

// The bounds of an answer's head: a hostile service cannot make jab read
// without end or hold more than maxAnswerLine of it at once.
const (
	maxAnswerLine    = 8 << 10  // a status or header line
	maxAnswerHeaders = 100      // header lines of one answer
	maxAnswerHead    = 64 << 10 // every line of the answer's head
	maxInterim       = 8        // 1xx answers before the final one
)

// readAnswer reads the status line and the headers of the final answer
// (skipping 1xx interim answers) and returns its status code and
// "code reason" made plain for messages. The headers are read only to
// be bounded: nothing in them matters to a PUT, nor does the body,
// which is never read.
func readAnswer(r *bufio.Reader) (code int, status string, err error) {
	budget := maxAnswerHead
	line := func() (string, error) {
		l, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", errors.New("the answer has a line too long")
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(l) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		if budget -= len(l); budget < 0 {
			return "", errors.New("the answer's head is too long")
		}
		return strings.TrimRight(string(l), "\r\n"), nil
	}
	for interim := 0; ; interim++ {
		l, err := line()
		if err != nil {
			return 0, "", err
		}
		code, status, err = parseStatus(l)
		if err != nil {
			return 0, "", err
		}
		for n := 0; ; n++ {
			h, err := line()
			if err != nil {
				return 0, "", err
			}
			if h == "" {
				break
			}
			if n == maxAnswerHeaders {
				return 0, "", errors.New("the answer has too many headers")
			}
			if h[0] != ' ' && h[0] != '\t' && !strings.Contains(h, ":") {
				return 0, "", fmt.Errorf("the answer has a malformed header %q", plainText(h, 40))
			}
		}
		switch {
		case code == 101:
			return 0, "", errors.New("the service switched protocols")
		case code >= 200:
			return code, status, nil
		case interim == maxInterim:
			return 0, "", errors.New("the answer has too many interim (1xx) answers")
		}
	}
}

// parseStatus reads "HTTP/1.1 201 Created".
func parseStatus(l string) (code int, status string, err error) {
	rest, ok := strings.CutPrefix(l, "HTTP/1.")
	if !ok || len(rest) < 5 || (rest[0] != '0' && rest[0] != '1') || rest[1] != ' ' ||
		len(rest) > 5 && rest[5] != ' ' {
		return 0, "", fmt.Errorf("the answer is not HTTP/1.1: %q", plainText(l, 40))
	}
	for _, c := range rest[2:5] {
		if c < '0' || c > '9' {
			return 0, "", fmt.Errorf("the answer has a bad status %q", plainText(l, 40))
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 {
		return 0, "", fmt.Errorf("the answer has a bad status %q", plainText(l, 40))
	}
	return code, plainText(strings.TrimSpace(rest[2:]), 80), nil
}

// countingReader reports the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
	f func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 {
		c.f(c.n)
	}
	return n, err
}
