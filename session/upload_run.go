package session

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
)

// The upload use case: find the service, check every file against its
// limit, then for each file ask for a slot and PUT it. The messages that
// point to the files are sent afterwards by the caller's Sender (or
// RoomSender, or hand-off), as any other message: only a file whose
// upload succeeded is ever announced, and a failure sends nothing.

// Slots is where an upload gets its service and slots: the session of the
// send itself (Sender, RoomSender), or the running observer's (Handoff),
// so a send handed to a listen needs no login of its own for its files.
type Slots interface {
	UploadService(ctx context.Context) (UploadService, error)
	RequestSlot(ctx context.Context, svc UploadService, r SlotRequest) (Slot, error)
}

// NoUploadServiceError: the server lists no XEP-0363 service.
type NoUploadServiceError struct{ Domain string }

func (e *NoUploadServiceError) Error() string {
	return "no HTTP upload service (XEP-0363) among the services of " + e.Domain
}

// FindUploadService asks the items of our server's domain, then the
// disco#info of each (all at once: one round trip however many there
// are), for the first that offers urn:xmpp:http:upload:0 (XEP-0363 §3).
func FindUploadService(ctx context.Context, s *Session) (UploadService, error) {
	domain := s.JID().Domain
	res, err := s.Request(ctx, &IQ{To: domain, Type: "get", Payload: &RawElement{XMLName: xml.Name{Space: nsDiscoItems, Local: "query"}}})
	var iqe *IQError
	if errors.As(err, &iqe) {
		return UploadService{}, &NoUploadServiceError{Domain: domain}
	}
	if err != nil {
		return UploadService{}, fmt.Errorf("disco#items of %s: %w", domain, err)
	}
	items := discoItems(res)
	type answer struct {
		svc UploadService
		ok  bool
		err error
	}
	answers := make([]chan answer, len(items))
	for i, jid := range items {
		answers[i] = make(chan answer, 1)
		go func() {
			res, err := s.Request(ctx, &IQ{To: jid, Type: "get", Payload: &RawElement{XMLName: xml.Name{Space: nsDiscoInfo, Local: "query"}}})
			var refused *IQError
			if errors.As(err, &refused) {
				err = nil // a service that answers with an error offers nothing
			}
			svc, ok := uploadInfo(jid, res)
			answers[i] <- answer{svc, ok && err == nil, err}
		}()
	}
	var found *UploadService
	var firstErr error
	for i := range items {
		a := <-answers[i]
		switch {
		case a.err != nil && firstErr == nil:
			firstErr = a.err
		case a.ok && found == nil:
			found = &a.svc
		}
	}
	if found != nil {
		return *found, nil
	}
	if firstErr != nil {
		return UploadService{}, fmt.Errorf("disco#info of the services of %s: %w", domain, firstErr)
	}
	return UploadService{}, &NoUploadServiceError{Domain: domain}
}

// RequestSlot asks svc for a slot (XEP-0363 §4). A refusal is a
// *SlotRefusedError, or a *FileTooLargeError (§5).
func RequestSlot(ctx context.Context, s *Session, svc UploadService, r SlotRequest) (Slot, error) {
	res, err := s.Request(ctx, slotIQ(svc.JID, r))
	var iqe *IQError
	if errors.As(err, &iqe) {
		return Slot{}, slotRefusal(svc.JID, r.Filename, r.Size, res)
	}
	if err != nil {
		return Slot{}, fmt.Errorf("slot request to %s: %w", svc.JID, err)
	}
	return parseSlot(svc.JID, res)
}

// sessionSlots is Slots on a session of our own.
type sessionSlots struct{ s *Session }

func (ss sessionSlots) UploadService(ctx context.Context) (UploadService, error) {
	return FindUploadService(ctx, ss.s)
}

func (ss sessionSlots) RequestSlot(ctx context.Context, svc UploadService, r SlotRequest) (Slot, error) {
	return RequestSlot(ctx, ss.s, svc, r)
}

// UploadService and RequestSlot make a Sender, a RoomSender and a
// Handoff the Slots of their own send.
func (sd *Sender) UploadService(ctx context.Context) (UploadService, error) {
	return sessionSlots{sd.s}.UploadService(ctx)
}

func (sd *Sender) RequestSlot(ctx context.Context, svc UploadService, r SlotRequest) (Slot, error) {
	return sessionSlots{sd.s}.RequestSlot(ctx, svc, r)
}

func (rs *RoomSender) UploadService(ctx context.Context) (UploadService, error) {
	return sessionSlots{rs.s}.UploadService(ctx)
}

func (rs *RoomSender) RequestSlot(ctx context.Context, svc UploadService, r SlotRequest) (Slot, error) {
	return sessionSlots{rs.s}.RequestSlot(ctx, svc, r)
}

// UploadOptions configures Upload.
type UploadOptions struct {
	// HTTP makes the PUTs (NewUploader).
	HTTP *Uploader
	// Insecure allows plain http slots (--insecure-skip-verify).
	Insecure bool
	// Progress, if not nil, is told of each file's bytes sent.
	Progress func(f *UploadFile, sent int64)
}

// Uploaded is one file uploaded: where it is served from.
type Uploaded struct {
	File *UploadFile
	URL  string // the slot's GET URL
}

// Upload uploads files through slots: the service first; then every file
// made ready and checked against the service's limit before any slot is
// asked for (a file over it is a *FileTooLargeError and nothing is
// uploaded); then, file by file, a slot (asked for just before its PUT:
// slots expire), CheckSlot, and the PUT. It returns the files' GET URLs,
// in order, or the first error.
func Upload(ctx context.Context, slots Slots, files []*UploadFile, o UploadOptions) ([]Uploaded, error) {
	svc, err := slots.UploadService(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := f.Prepare(svc.MaxSize); err != nil {
			return nil, err
		}
	}
	var out []Uploaded
	for _, f := range files {
		slot, err := slots.RequestSlot(ctx, svc, SlotRequest{Filename: f.Name, Size: f.Size, ContentType: f.Type})
		if err != nil {
			return nil, err
		}
		if slot, err = CheckSlot(svc.JID, slot, o.Insecure); err != nil {
			return nil, err
		}
		var progress func(int64)
		if o.Progress != nil {
			progress = func(n int64) { o.Progress(f, n) }
		}
		if err := o.HTTP.Put(ctx, slot, f, progress); err != nil {
			return nil, err
		}
		out = append(out, Uploaded{File: f, URL: slot.Get})
	}
	return out, nil
}

// UploadService and RequestSlot make the REPL's Chat the Slots of its
// /file, on its current session.
func (c *Chat) UploadService(ctx context.Context) (UploadService, error) {
	s, err := c.Session()
	if err != nil {
		return UploadService{}, err
	}
	return FindUploadService(ctx, s)
}

func (c *Chat) RequestSlot(ctx context.Context, svc UploadService, r SlotRequest) (Slot, error) {
	s, err := c.Session()
	if err != nil {
		return Slot{}, err
	}
	return RequestSlot(ctx, s, svc, r)
}

// SayFile sends the GET URL of an uploaded file to the conversee: the
// body is the URL, with its XEP-0066 element, so clients show the file.
func (c *Chat) SayFile(ctx context.Context, u string) error {
	peer, err := c.needPeer()
	if err != nil {
		return err
	}
	if c.IsRoom(peer) {
		return c.sayRoom(ctx, peer, u, u)
	}
	return c.send(ctx, peer, Outgoing{Body: u, OOBURL: u}, nil)
}
