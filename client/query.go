package client

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// ednsSize is the UDP payload size we advertise: the DNS flag day 2020
// value, which avoids IP fragmentation. Larger answers come over TCP.
const ednsSize = 1232

// query asks the nameservers in order, for Attempts rounds, until one
// answers, and returns the answer with its TTL in seconds. NXDOMAIN and
// NODATA are answers. The error says that none answered, or that ctx ended.
func (r *Resolver) query(ctx context.Context, name string, qtype uint16) (*answer, uint32, error) {
	servers, err := r.config()
	if err != nil {
		return nil, 0, &net.DNSError{Err: "nameservers: " + err.Error(), Name: name, UnwrapErr: err}
	}
	var last error
	var lastServer string
	for round := 0; round < r.attempts(); round++ {
		for _, s := range servers {
			resp, err := r.exchange(ctx, s, name, qtype)
			if err == nil {
				ans, ttl := parse(resp, name, qtype, s)
				return ans, ttl, nil
			}
			if ctx.Err() != nil {
				return nil, 0, ctx.Err()
			}
			last, lastServer = err, s
		}
	}
	return nil, 0, &net.DNSError{
		Err:         fmt.Sprintf("%v (last: %v)", ErrUnreachable, last),
		Name:        name,
		Server:      lastServer,
		IsTemporary: true,
		UnwrapErr:   ErrUnreachable,
	}
}

// exchange sends one query to server over UDP, again over TCP when the
// reply is truncated, and returns a reply that answers it: NOERROR or
// NXDOMAIN. Any other rcode is an error, as for an unreachable server.
func (r *Resolver) exchange(ctx context.Context, server, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true // hadns ignores it; a recursive resolver needs it
	m.SetEdns0(ednsSize, false)

	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	resp, err := r.exchangeOver(ctx, "udp", server, m)
	if err == nil && resp.Truncated {
		resp, err = r.exchangeOver(ctx, "tcp", server, m)
	}
	if err != nil {
		return nil, err
	}
	if !resp.Response || len(resp.Question) != 1 ||
		!strings.EqualFold(resp.Question[0].Name, name) || resp.Question[0].Qtype != qtype {
		return nil, errors.New("reply does not match the query")
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("rcode %s", dns.RcodeToString[resp.Rcode])
	}
	return resp, nil
}

func (r *Resolver) exchangeOver(ctx context.Context, network, server string, m *dns.Msg) (*dns.Msg, error) {
	conn, err := r.dial(ctx, network, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	c := &dns.Client{Net: network, Timeout: r.timeout()}
	resp, _, err := c.ExchangeWithConnContext(ctx, m, &dns.Conn{Conn: conn})
	return resp, err
}

// parse turns a NOERROR or NXDOMAIN reply into an answer and its TTL: the
// lowest TTL of the records used, or the negative TTL for NXDOMAIN and
// NODATA.
func parse(resp *dns.Msg, name string, qtype uint16, server string) (*answer, uint32) {
	notFound := func(why string) *answer {
		return &answer{err: &net.DNSError{Err: why, Name: name, Server: server, IsNotFound: true}}
	}
	if resp.Rcode == dns.RcodeNameError {
		return notFound("no such host"), negativeTTL(resp)
	}
	ttl := uint32(math.MaxUint32)
	for _, rr := range resp.Answer {
		if _, ok := rr.(*dns.CNAME); ok {
			ttl = min(ttl, rr.Header().Ttl)
		}
	}
	if qtype != dns.TypeSRV {
		var addrs []netip.Addr
		for _, rr := range resp.Answer {
			if a, ok := addrOf(rr, qtype); ok {
				addrs = append(addrs, a)
				ttl = min(ttl, rr.Header().Ttl)
			}
		}
		if len(addrs) == 0 {
			return notFound("no " + dns.TypeToString[qtype] + " records"), negativeTTL(resp)
		}
		return &answer{addrs: addrs}, ttl
	}

	var ts []Target
	for _, rr := range resp.Answer {
		if srv, ok := rr.(*dns.SRV); ok {
			ts = append(ts, Target{Host: srv.Target, Port: srv.Port, Priority: srv.Priority, Weight: srv.Weight})
			ttl = min(ttl, srv.Hdr.Ttl)
		}
	}
	if len(ts) == 0 {
		return notFound("no SRV records"), negativeTTL(resp)
	}
	// RFC 2782: a single target "." means the service is decidedly not
	// available at this domain.
	if len(ts) == 1 && ts[0].Host == "." {
		return notFound("service not available (SRV target \".\")"), ttl
	}
	glue := map[string][]dns.RR{}
	for _, rr := range resp.Extra {
		switch rr.(type) {
		case *dns.A, *dns.AAAA:
			n := strings.ToLower(rr.Header().Name)
			glue[n] = append(glue[n], rr)
		}
	}
	for i := range ts {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
			for _, rr := range glue[strings.ToLower(ts[i].Host)] {
				if a, ok := addrOf(rr, qt); ok {
					ts[i].Addrs = append(ts[i].Addrs, a)
					ttl = min(ttl, rr.Header().Ttl)
				}
			}
		}
	}
	return &answer{targets: ts}, ttl
}

// addrOf returns the address of an A (qtype A) or AAAA (qtype AAAA) record.
func addrOf(rr dns.RR, qtype uint16) (netip.Addr, bool) {
	switch rr := rr.(type) {
	case *dns.A:
		if qtype == dns.TypeA {
			a, ok := netip.AddrFromSlice(rr.A.To4())
			return a, ok
		}
	case *dns.AAAA:
		if qtype == dns.TypeAAAA {
			a, ok := netip.AddrFromSlice(rr.AAAA.To16())
			return a, ok
		}
	}
	return netip.Addr{}, false
}

// negativeTTL is how long a negative answer may be cached (RFC 2308
// section 5): the lower of the authority SOA's TTL and its MINIMUM field;
// without a SOA, not at all.
func negativeTTL(resp *dns.Msg) uint32 {
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return min(soa.Hdr.Ttl, soa.Minttl)
		}
	}
	return 0
}
