package e2e

import (
	"encoding/binary"
	"testing"

	"github.com/miekg/dns"
)

// TestUnknownOpcodesHeaderOnly sends messages of opcodes hadns does not
// implement whose question section is empty, as their RFCs define them: a
// header alone with opcode 15, an inverse query (RFC 3425: opcode 1,
// QDCOUNT 0, ANCOUNT 1) and a DSO message (RFC 8490 5.4: opcode 6, QDCOUNT 0,
// a Keepalive TLV). Each gets NOTIMP with the opcode and ID echoed
// (RFC 1035 4.1.1; RFC 3425 3; RFC 8490 5.1.1), as from NSD, Knot and stock
// CoreDNS: a reply with the opcode reset to QUERY is one clients discard.
func TestUnknownOpcodesHeaderOnly(t *testing.T) {
	t.Parallel()
	s := startMain(t)
	header := func(id uint16, opcode int, qd, an uint16) []byte {
		h := make([]byte, 12)
		binary.BigEndian.PutUint16(h[0:], id)
		h[2] = byte(opcode << 3)
		binary.BigEndian.PutUint16(h[4:], qd)
		binary.BigEndian.PutUint16(h[6:], an)
		return h
	}
	iquery := header(0x2001, 1, 0, 1)
	rr := &dns.A{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0}, A: []byte{127, 0, 0, 30}}
	buf := make([]byte, 64)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	iquery = append(iquery, buf[:n]...)
	// DSO Keepalive TLV (type 1, length 8): inactivity and keepalive timeouts.
	dso := append(header(0x2002, 6, 0, 0), 0, 1, 0, 8, 0, 0, 0x3a, 0x98, 0, 0, 0x3a, 0x98)
	msgs := []struct {
		name   string
		opcode int
		p      []byte
	}{
		{"opcode 15, header only", 15, header(0x2000, 15, 0, 0)},
		{"IQUERY", dns.OpcodeIQuery, iquery},
		{"DSO", 6, dso},
	}
	for _, m := range msgs {
		for _, network := range networks {
			b, err := s.exchangeRaw(network, m.p, queryTimeout)
			if err != nil {
				t.Errorf("%s over %s: no reply: %v", m.name, network, err)
				continue
			}
			r := new(dns.Msg)
			if err := r.Unpack(b); err != nil {
				t.Errorf("%s over %s: reply does not parse: %v", m.name, network, err)
				continue
			}
			if !r.Response || r.Id != binary.BigEndian.Uint16(m.p) || r.Opcode != m.opcode || r.Rcode != dns.RcodeNotImplemented {
				t.Errorf("%s over %s: reply QR %v ID %#x opcode %d rcode %s; want QR, ID %#x, opcode %d, NOTIMP",
					m.name, network, r.Response, r.Id, r.Opcode, dns.RcodeToString[r.Rcode], binary.BigEndian.Uint16(m.p), m.opcode)
			}
			if len(r.Answer)+len(r.Ns) != 0 {
				t.Errorf("%s over %s: records in a NOTIMP reply: %v %v", m.name, network, r.Answer, r.Ns)
			}
		}
	}
}
