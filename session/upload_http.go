package session

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
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

// sniff sets Type from the first 512 bytes (net/http's content
// sniffing), read at offset 0 without moving the file.
func (u *UploadFile) sniff() error {
	head := make([]byte, 512)
	n, err := u.f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return err
	}
	u.Type = http.DetectContentType(head[:n])
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
type Uploader struct {
	client *http.Client
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
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: idle}
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: c, idle: idle}, nil
	}
	tr := &http.Transport{
		Proxy:       nil,
		DialContext: dial,
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			raw, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc := tlsFor(host, cfg)
			tc.NextProtos = []string{"http/1.1"}
			c := tls.Client(raw, tc)
			raw.SetDeadline(time.Now().Add(idle))
			if err := c.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, &TLSError{Err: err}
			}
			raw.SetDeadline(time.Time{})
			return c, nil
		},
		ResponseHeaderTimeout: answerWait(idle),
		DisableCompression:    true,
		MaxIdleConnsPerHost:   1,
	}
	return &Uploader{client: &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// idleConn fails a write that makes no progress for idle: the service
// stopped taking the file. Reads have no deadline here: the transport
// waits for the answer all along, and the answer comes only once the
// whole file is in (answerWait bounds that wait).
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
// (XEP-0363 §6: 201 Created).
func (up *Uploader) Put(ctx context.Context, s Slot, u *UploadFile, progress func(sent int64)) error {
	pu, err := url.Parse(s.Put)
	if err != nil {
		return &UploadError{File: u.Given, Host: "?", Err: err}
	}
	fail := func(status string, err error) error {
		return &UploadError{File: u.Given, Host: pu.Host, Status: status, Err: err}
	}
	var body io.Reader = io.NewSectionReader(u.f, 0, u.Size)
	if progress != nil {
		body = &countingReader{r: body, f: progress}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.Put, body)
	if err != nil {
		return fail("", err)
	}
	req.ContentLength = u.Size
	if u.Size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("User-Agent", "jab")
	req.Header.Set("Content-Type", u.Type)
	for _, h := range s.Headers {
		req.Header.Set(h.Name, h.Value)
	}
	res, err := up.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail("", err)
	}
	// The answer's body is not read: nothing in it matters, and a service
	// that never ends it cannot hold the send. The connection is not
	// reused.
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fail(plainText(res.Status, 80), nil)
	}
	return nil
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
