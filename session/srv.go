package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// Default ports: RFC 6120 §3.2.1 (STARTTLS) and XEP-0368 §3 (direct TLS).
const (
	defaultPort    = "5222"
	defaultTLSPort = "5223"
)

// SRVResolver looks up SRV records; *net.Resolver is one. Tests pass a
// fake so that no DNS query leaves the machine.
type SRVResolver interface {
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

// target is one place to connect to.
type target struct {
	addr      string // host:port
	directTLS bool   // TLS from the first byte (XEP-0368), else STARTTLS
}

func (t target) String() string {
	if t.directTLS {
		return t.addr + " (direct TLS)"
	}
	return t.addr
}

// srvRecord is an SRV record and the service it came from.
type srvRecord struct {
	net.SRV
	directTLS bool
}

// targets says where to connect, in order. With Server set it is that
// one address (port 5222, or 5223 with DirectTLS, when it has none).
// Otherwise the SRV records of _xmpps-client._tcp (direct TLS, XEP-0368)
// and, unless DirectTLS, _xmpp-client._tcp (STARTTLS, RFC 6120 §3.2.1)
// are merged and ordered (orderSRV); only when there are none does it
// fall back to the domain itself (RFC 2782 §"Usage rules").
func targets(ctx context.Context, cfg Config) ([]target, error) {
	port := defaultPort
	if cfg.DirectTLS {
		port = defaultTLSPort
	}
	if cfg.Server != "" {
		if _, _, err := net.SplitHostPort(cfg.Server); err != nil {
			return []target{{addr: net.JoinHostPort(cfg.Server, port), directTLS: cfg.DirectTLS}}, nil
		}
		return []target{{addr: cfg.Server, directTLS: cfg.DirectTLS}}, nil
	}
	var r SRVResolver = net.DefaultResolver
	if cfg.Resolver != nil {
		r = cfg.Resolver
	}
	domain := cfg.JID.Domain
	services := []struct {
		name      string
		directTLS bool
	}{{"xmpps-client", true}, {"xmpp-client", false}}
	if cfg.DirectTLS {
		services = services[:1]
	}
	var recs []srvRecord
	refused := 0 // services that are "decidedly not available"
	for _, s := range services {
		_, srvs, err := r.LookupSRV(ctx, s.name, "tcp", domain)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// Not found, or DNS trouble: as if there were no record. The
		// standard resolver drops records with invalid names and returns
		// an error beside the rest, which are still good to use.
		if err != nil && len(srvs) == 0 {
			continue
		}
		// RFC 2782: precisely one record whose target is "." means the
		// service is decidedly not available at this domain.
		if len(srvs) == 1 && (srvs[0].Target == "." || srvs[0].Target == "") {
			refused++
			continue
		}
		for _, x := range srvs {
			if x.Target == "." || x.Target == "" {
				continue
			}
			recs = append(recs, srvRecord{SRV: *x, directTLS: s.directTLS})
		}
	}
	if len(recs) == 0 {
		if refused > 0 {
			return nil, fmt.Errorf("%w: domain %s offers no XMPP client service (SRV target '.')", ErrUnreachable, domain)
		}
		return []target{{addr: net.JoinHostPort(domain, port), directTLS: cfg.DirectTLS}}, nil
	}
	orderSRV(recs)
	out := make([]target, len(recs))
	for i, x := range recs {
		out[i] = target{
			addr:      net.JoinHostPort(strings.TrimSuffix(x.Target, "."), strconv.Itoa(int(x.Port))),
			directTLS: x.directTLS,
		}
	}
	return out, nil
}

// orderSRV sorts the merged records of both services (XEP-0368 §3: the
// client combines them and orders by priority and weight): lowest
// priority first, then highest weight, then direct TLS before STARTTLS
// (it saves a round trip), then as the resolver returned them. RFC 2782
// lets a client choose among equal priorities by other means than a
// weighted random draw; a one-shot client gains nothing from spreading
// load at random and a deterministic order is one a test can pin.
func orderSRV(recs []srvRecord) {
	sort.SliceStable(recs, func(i, j int) bool {
		a, b := recs[i], recs[j]
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		if a.Weight != b.Weight {
			return a.Weight > b.Weight
		}
		return a.directTLS && !b.directTLS
	})
}

// dialTargets connects to the first target that accepts a TCP
// connection. When none does, the error lists every target and why.
func dialTargets(ctx context.Context, ts []target) (net.Conn, target, error) {
	d := net.Dialer{}
	var fails []string
	var last error
	for _, t := range ts {
		raw, err := d.DialContext(ctx, "tcp", t.addr)
		if err == nil {
			return raw, t, nil
		}
		last = err
		fails = append(fails, t.String()+": "+dialReason(err))
		if ctx.Err() != nil {
			break
		}
	}
	err := classify(ctx, &connectError{msg: "connect to " + strings.Join(fails, "; "), last: last})
	if !errors.Is(err, ErrTimeout) {
		err = fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return nil, target{}, err
}

// connectError lists every target tried and why it failed; it unwraps to
// the last failure so a timeout is still recognised.
type connectError struct {
	msg  string
	last error
}

func (e *connectError) Error() string { return e.msg }
func (e *connectError) Unwrap() error { return e.last }

// dialReason shortens a dial error to its cause ("connection refused",
// "no such host"), since the address is already named.
func dialReason(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		if dns.IsNotFound {
			return "no such host"
		}
		return dns.Err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		msg := op.Err.Error()
		// "connect: connection refused" → "connection refused"
		if _, after, ok := strings.Cut(msg, ": "); ok {
			return after
		}
		return msg
	}
	return err.Error()
}
