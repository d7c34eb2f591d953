package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// DNSProber is kind dns: a query over UDP for QName and QType whose answer
// carries the expected RCode.
type DNSProber struct{}

// Check sends one query to t. Use it through a Checker, which binds the
// query once per target; called directly it builds it each time.
func (DNSProber) Check(ctx context.Context, t Target) error {
	p, err := DNSProber{}.bind(t)
	if err != nil {
		return err
	}
	return p.Check(ctx, t)
}

func (DNSProber) bind(t Target) (Prober, error) {
	s := t.spec().WithDefaults()
	qtype, ok := dnsType(s.QType)
	if !ok {
		return nil, &ProbeError{Op: "dns", Err: fmt.Errorf("unknown qtype %q", s.QType)}
	}
	rcode, ok := dnsRcode(s.RCode)
	if !ok {
		return nil, &ProbeError{Op: "dns", Err: fmt.Errorf("unknown rcode %q", s.RCode)}
	}
	if s.QName == "" {
		return nil, &ProbeError{Op: "dns", Err: fmt.Errorf("no qname")}
	}
	client := &dns.Client{Net: "udp"}
	if src := t.source(); src.IsValid() {
		client.Dialer = &net.Dialer{LocalAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	}
	return &dnsCheck{
		client: client,
		addr:   t.ProbeAddr().String(),
		qname:  dns.Fqdn(s.QName),
		qtype:  qtype,
		rcode:  rcode,
	}, nil
}

type dnsCheck struct {
	client *dns.Client
	addr   string
	qname  string
	qtype  uint16
	rcode  int
}

func (p *dnsCheck) Check(ctx context.Context, _ Target) error {
	m := new(dns.Msg)
	m.SetQuestion(p.qname, p.qtype)
	m.RecursionDesired = false
	resp, _, err := p.client.ExchangeContext(ctx, m, p.addr)
	if err != nil {
		return probeErr("dns", err)
	}
	if err := p.isReplyTo(m, resp); err != nil {
		return &ProbeError{Op: "dns", Err: err}
	}
	if resp.Rcode != p.rcode {
		return &ProbeError{Op: "dns", Err: fmt.Errorf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[p.rcode])}
	}
	return nil
}

// isReplyTo checks that resp answers q (RFC 1035 section 7.3; RFC 5452
// section 9.1): the ID matches (the client drops others), QR is set, the
// opcode is QUERY, and the question is the one asked. Anything that merely
// echoes packets back, or a server answering another question, is not a
// healthy DNS server.
func (p *dnsCheck) isReplyTo(q, resp *dns.Msg) error {
	switch {
	case resp.Id != q.Id:
		return fmt.Errorf("reply with ID %d to query %d", resp.Id, q.Id)
	case !resp.Response:
		return errors.New("not a reply (QR clear): an echo of the query?")
	case resp.Opcode != dns.OpcodeQuery:
		return fmt.Errorf("reply with opcode %s", dns.OpcodeToString[resp.Opcode])
	case len(resp.Question) != 1:
		return fmt.Errorf("reply with %d questions, want 1", len(resp.Question))
	}
	got, want := resp.Question[0], q.Question[0]
	if !strings.EqualFold(got.Name, want.Name) || got.Qtype != want.Qtype || got.Qclass != want.Qclass {
		return fmt.Errorf("reply to another question: %s %s, asked %s %s",
			got.Name, dns.TypeToString[got.Qtype], want.Name, dns.TypeToString[want.Qtype])
	}
	return nil
}

// dnsType parses a query type name such as "A" or "SOA".
func dnsType(s string) (uint16, bool) {
	t, ok := dns.StringToType[strings.ToUpper(s)]
	return t, ok
}

// dnsRcode parses a response code name such as "NOERROR" or "NXDOMAIN".
func dnsRcode(s string) (int, bool) {
	r, ok := dns.StringToRcode[strings.ToUpper(s)]
	return r, ok
}
