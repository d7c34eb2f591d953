package e2e

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

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

// protoCorefile serves protoZone with two sites.
const protoCorefile = `.:{{.Port}} {
    bind 127.0.0.1
    hadns proto.test {
        zone proto.test.yaml
        site east 127.0.1.0/24 fallback west
        site west 127.0.2.0/24 fallback east
    }
}
`

// protoZone has DNAMEs, an MX whose target is a service with a backend
// that never answers its check (127.0.1.9), and services of 8 and 24
// backends for SRV answers near the UDP limits (nothing listens on their
// addresses: they fail open, with every backend in the answer).
func protoZone(port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `origin: proto.test.
soa: {mname: ns1.proto.test., rname: hostmaster.proto.test., serial: 1, minimum: 60}
ns: [ns1]
records: |
  ns1    A      127.0.0.1
  @      MX     10 api
  dn     300 DNAME  sub.proto.test.
  a.sub  A      127.0.0.5
  svc    120 DNAME  proto.test.
services:
  - name: api
    ttl: 10
    port: %d
    check: {kind: http, path: /healthz}
    backends:
      - {address: 127.0.1.1, site: east}
      - {address: 127.0.1.2, site: east}
      - {address: 127.0.2.1, site: west}
      - {address: 127.0.1.9, site: east}
`, port)
	for _, svc := range []struct {
		name string
		n    int
		net  int
	}{{"eight", 8, 50}, {"many", 24, 51}} {
		fmt.Fprintf(&b, "  - name: %s\n    port: %d\n    srv: [_http._tcp]\n    backends:\n", svc.name, port)
		for i := range svc.n {
			fmt.Fprintf(&b, "      - {address: 127.0.%d.%d, site: east}\n", svc.net, 10+i)
		}
	}
	return b.String()
}

// TestProtocolThroughServer checks, through the real server and its
// writers, what RFCs ask of replies that plugin unit tests build: TC only
// when the answer did not fit (RFC 2181 9), DNAME substitution (RFC 6672),
// the query's spelling of its name, NODATA for MAILA/MAILB (RFC 1035
// 3.2.3), ECS scope 0 for an answer the same everywhere (RFC 7871 7.4) and
// FORMERR for an ECS ADDRESS longer than its prefix (RFC 7871 6), and
// additional data for a service target without a dead backend.
func TestProtocolThroughServer(t *testing.T) {
	t.Parallel()
	s := startServer(t, protoCorefile, files{"proto.test.yaml": protoZone(backendPort)})

	t.Run("TC only when the answer does not fit", func(t *testing.T) {
		for _, tc := range []struct {
			svc  string
			n    int
			edns uint16
		}{{"eight", 8, 0}, {"many", 24, 1232}} {
			q := query("_http._tcp."+tc.svc+".proto.test.", dns.TypeSRV, tc.edns)
			r, size := s.exchange(t, "udp", q)
			limit := 512
			if tc.edns > 0 {
				limit = int(tc.edns)
			}
			if r.Truncated || len(r.Answer) != tc.n || size > limit {
				t.Errorf("%s SRV, EDNS %d: TC %v, %d SRV records, %d bytes; want TC clear, all %d, at most %d bytes",
					tc.svc, tc.edns, r.Truncated, len(r.Answer), size, tc.n, limit)
			}
			r, _ = s.exchange(t, "tcp", q)
			if r.Truncated || len(r.Answer) != tc.n || len(withoutOPT(r.Extra)) != tc.n {
				t.Errorf("%s SRV over TCP: TC %v, %d SRV, %d additional; want all %d of each", tc.svc, r.Truncated, len(r.Answer), len(withoutOPT(r.Extra)), tc.n)
			}
		}
	})

	t.Run("DNAME", func(t *testing.T) {
		for _, network := range networks {
			q := query("A.Dn.Proto.TEST.", dns.TypeA, 1232)
			r, _ := s.exchange(t, network, q)
			check(t, q, r, want{aa: true, answer: []string{
				"Dn.Proto.TEST. 300 IN DNAME sub.proto.test.",
				"A.Dn.Proto.TEST. 300 IN CNAME a.sub.proto.test.",
				"a.sub.proto.test. 3600 IN A 127.0.0.5",
			}})
			if len(r.Answer) > 1 && r.Answer[1].Header().Name != q.Question[0].Name {
				t.Errorf("%s: synthesized CNAME owner %q, want the query's spelling %q", network, r.Answer[1].Header().Name, q.Question[0].Name)
			}
			q = query("x.dn.proto.test.", dns.TypeA, 0)
			r, _ = s.exchange(t, network, q)
			check(t, q, r, want{rcode: dns.RcodeNameError, aa: true, answer: []string{
				"dn.proto.test. 300 IN DNAME sub.proto.test.",
				"x.dn.proto.test. 300 IN CNAME x.sub.proto.test.",
			}, ns: []string{"proto.test. 60 IN SOA ns1.proto.test. hostmaster.proto.test. 1 3600 600 1209600 60"}})
		}
	})

	t.Run("MAILA and MAILB", func(t *testing.T) {
		for _, qtype := range []uint16{dns.TypeMAILA, dns.TypeMAILB} {
			q := query("ns1.proto.test.", qtype, 1232)
			r, _ := s.exchange(t, "udp", q)
			check(t, q, r, want{aa: true, ns: []string{"proto.test. 60 IN SOA ns1.proto.test. hostmaster.proto.test. 1 3600 600 1209600 60"}})
		}
	})

	t.Run("ECS", func(t *testing.T) {
		ecsQuery := func(qtype uint16, option []byte) *dns.Msg {
			q := query("api.proto.test.", qtype, 1232)
			q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: option})
			r, _ := s.exchange(t, "udp", q)
			return r
		}
		east := []byte{0, 1, 24, 0, 127, 0, 1}
		if e := replyECS(ecsQuery(dns.TypeA, east)); e == nil || e.SourceScope != 24 {
			t.Errorf("A: reply ECS %v, want scope 24: the answer depends on the site", e)
		}
		if e := replyECS(ecsQuery(dns.TypeAAAA, east)); e == nil || e.SourceScope != 0 {
			t.Errorf("AAAA (NODATA everywhere): reply ECS %v, want scope 0", e)
		}
		if r := ecsQuery(dns.TypeA, append(east, 0)); r.Rcode != dns.RcodeFormatError {
			t.Errorf("/24 in 4 octets: rcode %s, want FORMERR", dns.RcodeToString[r.Rcode])
		}
	})

	t.Run("service target additional", func(t *testing.T) {
		// From east: 127.0.1.1 and .2 once 127.0.1.9 fails its check.
		wantAddrs := sortedRRs([]string{"api.proto.test. 10 IN A 127.0.1.1", "api.proto.test. 10 IN A 127.0.1.2"})
		poll(t, "127.0.1.9 out of the A answer", 15*time.Second, func() error {
			q := query("api.proto.test.", dns.TypeA, 0)
			r := exchangeFrom(t, s, "udp", "127.0.1.100", q)
			if got := rrStrings(r.Answer); !slices.Equal(got, wantAddrs) {
				return fmt.Errorf("A answer %q", got)
			}
			return nil
		})
		q := query("proto.test.", dns.TypeMX, 0)
		r := exchangeFrom(t, s, "udp", "127.0.1.100", q)
		if got := rrStrings(withoutOPT(r.Extra)); !slices.Equal(got, wantAddrs) {
			t.Errorf("MX additional %q, want the A answer %q (never the dead 127.0.1.9)", got, wantAddrs)
		}
	})
}

// TestBadVersionReplyShape pins the BADVERS reply README describes: CoreDNS's
// server answers EDNS versions above 0 before any plugin runs (RFC 6891
// 6.1.3), with an OPT record of version 0 whose UDP size is 0, where NSD and
// Knot put their buffer size. If this fails, CoreDNS changed that reply:
// update README's "Protocol behaviour".
func TestBadVersionReplyShape(t *testing.T) {
	t.Parallel()
	s := startServer(t, protoCorefile, files{"proto.test.yaml": protoZone(backendPort)})
	for _, network := range networks {
		q := query("Ns1.Proto.Test.", dns.TypeA, 1232)
		q.RecursionDesired = true
		q.IsEdns0().SetVersion(1)
		q.IsEdns0().SetDo()
		r, _ := s.exchange(t, network, q)
		opt := r.IsEdns0()
		if r.Rcode != dns.RcodeBadVers || opt == nil || opt.Version() != 0 || opt.UDPSize() != 0 || opt.Do() {
			t.Errorf("%s: rcode %s, OPT %v; want BADVERS, OPT version 0, UDP size 0, DO clear", network, dns.RcodeToString[r.Rcode], opt)
		}
		if r.Authoritative || !r.RecursionDesired || len(r.Question) != 1 || r.Question[0] != q.Question[0] || len(r.Answer)+len(r.Ns) != 0 {
			t.Errorf("%s: AA %v RD %v question %v, %d records; want AA clear, RD and the question echoed, no records",
				network, r.Authoritative, r.RecursionDesired, r.Question, len(r.Answer)+len(r.Ns))
		}
	}
}
