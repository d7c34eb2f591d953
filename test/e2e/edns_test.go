package e2e

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// TestEDNS checks the OPT record of replies: present exactly when the query
// had one (in every rcode), one of them, version 0, DO echoed.
func TestEDNS(t *testing.T) {
	t.Parallel()
	s := startMain(t)
	for _, network := range networks {
		for _, c := range []struct {
			qname string
			qtype uint16
			rcode int
		}{
			{"static.e2e.test.", dns.TypeA, dns.RcodeSuccess},
			{"static.e2e.test.", dns.TypeAAAA, dns.RcodeSuccess},
			{"nope.e2e.test.", dns.TypeA, dns.RcodeNameError},
			{"example.org.", dns.TypeA, dns.RcodeRefused},
			{"www.child.e2e.test.", dns.TypeA, dns.RcodeSuccess},
		} {
			for _, do := range []bool{false, true} {
				q := query(c.qname, c.qtype, 4096)
				q.IsEdns0().SetDo(do)
				r, _ := s.exchange(t, network, q)
				checkHeader(t, q, r)
				if r.Rcode != c.rcode {
					t.Errorf("%s %s: rcode %s, want %s", network, qstr(q), dns.RcodeToString[r.Rcode], dns.RcodeToString[c.rcode])
				}
				opt := r.IsEdns0()
				if opt == nil {
					continue // reported by checkHeader
				}
				// The reply's buffer size is not checked: hadns writes 1232,
				// but CoreDNS's ScrubWriter replaces it with the client's.
				// Reply sizes are what TestTruncation checks.
				if opt.Do() != do {
					t.Errorf("%s %s: reply DO %v, want the query's (%v) echoed", network, qstr(q), opt.Do(), do)
				}
				if n := countOPT(r); n != 1 {
					t.Errorf("%s %s: %d OPT records, want 1", network, qstr(q), n)
				}
			}
		}

		// An option we do not know is ignored, not an error (RFC 6891 6.1.2).
		q := query("static.e2e.test.", dns.TypeA, 1232)
		q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte("hello")})
		r, _ := s.exchange(t, network, q)
		check(t, q, r, want{aa: true, answer: staticA})
	}
}

func countOPT(m *dns.Msg) int {
	n := 0
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			n++
		}
	}
	return n
}

// TestTruncation checks UDP reply sizes: 512 without EDNS, the client's
// buffer with it but never above our 1232, TC set when records had to go,
// and the full answer over TCP.
func TestTruncation(t *testing.T) {
	t.Parallel()
	s := startMain(t)
	cases := []struct {
		name    string
		qname   string
		qtype   uint16
		edns    uint16
		network string
		full    int  // records in the complete answer
		tc      bool // reply truncated
		limit   int  // most bytes the reply may take
	}{
		{"many A, no EDNS", "many.e2e.test.", dns.TypeA, 0, "udp", manyRecords, true, 512},
		{"many A, EDNS 600", "many.e2e.test.", dns.TypeA, 600, "udp", manyRecords, true, 600},
		{"many A, EDNS 4096", "many.e2e.test.", dns.TypeA, 4096, "udp", manyRecords, false, 1232},
		{"many A, EDNS 1232", "many.e2e.test.", dns.TypeA, 1232, "udp", manyRecords, false, 1232},
		{"many A, EDNS below 512 counts as 512", "many.e2e.test.", dns.TypeA, 100, "udp", manyRecords, true, 512},
		{"many A, TCP", "many.e2e.test.", dns.TypeA, 0, "tcp", manyRecords, false, 65535},
		{"big TXT, no EDNS", "big.e2e.test.", dns.TypeTXT, 0, "udp", bigRecords, true, 512},
		{"big TXT, EDNS 4096: our cap is 1232", "big.e2e.test.", dns.TypeTXT, 4096, "udp", bigRecords, true, 1232},
		{"big TXT, EDNS 65535", "big.e2e.test.", dns.TypeTXT, 65535, "udp", bigRecords, true, 1232},
		{"big TXT, TCP", "big.e2e.test.", dns.TypeTXT, 0, "tcp", bigRecords, false, 65535},
		{"big TXT, TCP with EDNS", "big.e2e.test.", dns.TypeTXT, 1232, "tcp", bigRecords, false, 65535},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			q := query(c.qname, c.qtype, c.edns)
			r, size := s.exchange(t, c.network, q)
			checkHeader(t, q, r)
			if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
				t.Errorf("rcode %s AA %v, want NOERROR AA", dns.RcodeToString[r.Rcode], r.Authoritative)
			}
			if size > c.limit {
				t.Errorf("reply is %d bytes, want at most %d", size, c.limit)
			}
			if r.Truncated != c.tc {
				t.Errorf("TC %v, want %v (reply %d bytes, %d of %d records)", r.Truncated, c.tc, size, len(r.Answer), c.full)
			}
			if c.tc && len(r.Answer) >= c.full {
				t.Errorf("TC set but all %d records sent", len(r.Answer))
			}
			if !c.tc && len(r.Answer) != c.full {
				t.Errorf("%d records, want all %d", len(r.Answer), c.full)
			}
			for _, rr := range r.Answer {
				if h := rr.Header(); h.Name != c.qname || h.Rrtype != c.qtype {
					t.Errorf("unexpected record in a trimmed answer: %s", rr)
				}
			}
		})
	}
}

// TestBadVersion: EDNS version 1 gets BADVERS (extended rcode 16) with an
// OPT record of version 0 (RFC 6891 6.1.3).
func TestBadVersion(t *testing.T) {
	t.Parallel()
	s := startMain(t)
	for _, network := range networks {
		q := query("static.e2e.test.", dns.TypeA, 1232)
		q.IsEdns0().SetVersion(1)
		r, _ := s.exchange(t, network, q)
		if r.Rcode != dns.RcodeBadVers {
			t.Errorf("%s: rcode %d (%s), want BADVERS (16)", network, r.Rcode, dns.RcodeToString[r.Rcode])
		}
		opt := r.IsEdns0()
		switch {
		case opt == nil:
			t.Errorf("%s: BADVERS reply without an OPT record", network)
		case opt.Version() != 0:
			t.Errorf("%s: BADVERS reply OPT version %d, want 0", network, opt.Version())
		case opt.ExtendedRcode() != dns.RcodeBadVers:
			t.Errorf("%s: OPT extended rcode %d, want 16", network, opt.ExtendedRcode())
		}
		if len(r.Answer) != 0 {
			t.Errorf("%s: BADVERS reply has answers: %v", network, r.Answer)
		}
		if r.Id != q.Id || !r.Response {
			t.Errorf("%s: reply ID %d QR %v, want %d and set", network, r.Id, r.Response, q.Id)
		}
	}
}

// TestECS checks EDNS Client Subnet (RFC 7871): the reply echoes family,
// source prefix and address with a scope; a malformed option is FORMERR.
func TestECS(t *testing.T) {
	t.Parallel()
	s := startMain(t)
	valid := []*dns.EDNS0_SUBNET{
		{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("192.0.2.0").To4()},
		{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 32, Address: net.ParseIP("127.0.2.9").To4()},
		{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 0, Address: net.IPv4zero.To4()},
		{Code: dns.EDNS0SUBNET, Family: 2, SourceNetmask: 56, Address: net.ParseIP("2001:db8:0:100::")},
	}
	for _, network := range networks {
		for _, ecs := range valid {
			for _, qname := range []string{"api.e2e.test.", "static.e2e.test.", "nope.e2e.test."} {
				q := query(qname, dns.TypeA, 1232)
				q.IsEdns0().Option = append(q.IsEdns0().Option, ecs)
				r, _ := s.exchange(t, network, q)
				checkHeader(t, q, r)
				if r.Rcode == dns.RcodeFormatError || r.Rcode == dns.RcodeServerFailure {
					t.Errorf("%s %s with ECS %s: rcode %s", network, qname, ecs, dns.RcodeToString[r.Rcode])
					continue
				}
				got := replyECS(r)
				if got == nil {
					t.Errorf("%s %s with ECS %s: reply has no ECS option", network, qname, ecs)
					continue
				}
				if got.Family != ecs.Family || got.SourceNetmask != ecs.SourceNetmask || !got.Address.Equal(ecs.Address) {
					t.Errorf("%s %s: reply ECS %s, want family %d source %s/%d echoed", network, qname, got, ecs.Family, ecs.Address, ecs.SourceNetmask)
				}
				max := uint8(32)
				if ecs.Family == 2 {
					max = 128
				}
				if got.SourceScope > max {
					t.Errorf("%s %s: reply ECS scope %d is beyond the family's %d bits", network, qname, got.SourceScope, max)
				}
			}
		}

		// Malformed options, RFC 7871 7.1.1 and 7.1.2: FORMERR.
		bad := []struct {
			name string
			opt  dns.EDNS0
		}{
			{"non-zero scope in a query", &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, SourceScope: 24, Address: net.ParseIP("192.0.2.0").To4()}},
			// miekg/dns masks addresses when packing, so these are raw.
			{"address bits beyond the source prefix", &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: []byte{0, 1, 20, 0, 192, 0, 18}}},
			{"v6 address bits beyond the source prefix", &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: []byte{0, 2, 4, 0, 0x21}}},
			{"source prefix longer than the family", &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: []byte{0, 1, 33, 0, 192, 0, 2, 0}}},
			{"unknown family", &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: []byte{0, 3, 8, 0, 192}}},
		}
		for _, b := range bad {
			q := query("static.e2e.test.", dns.TypeA, 1232)
			q.IsEdns0().Option = append(q.IsEdns0().Option, b.opt)
			r, _ := s.exchange(t, network, q)
			if r.Rcode != dns.RcodeFormatError {
				t.Errorf("%s ECS %s: rcode %s, want FORMERR", network, b.name, dns.RcodeToString[r.Rcode])
			}
			if len(r.Answer) != 0 {
				t.Errorf("%s ECS %s: answers in a FORMERR reply: %v", network, b.name, r.Answer)
			}
			if r.Id != q.Id || !r.Response {
				t.Errorf("%s ECS %s: reply ID %d QR %v", network, b.name, r.Id, r.Response)
			}
		}
	}
}

func replyECS(m *dns.Msg) *dns.EDNS0_SUBNET {
	opt := m.IsEdns0()
	if opt == nil {
		return nil
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_SUBNET); ok {
			return e
		}
	}
	return nil
}
