package hadns

import (
	"testing"

	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

var negSOA = test.SOA("example.test. 60 IN SOA ns1.example.test. hostmaster.example.test. 7 3600 600 1209600 60")

// authCase is a test.Case plus the flags test.Header does not check.
type authCase struct {
	name string
	test.Case
	noAA bool // a referral: AA must be clear
}

var authCases = []authCase{
	{name: "A at a static name", Case: test.Case{Qname: "mail.example.test.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("mail.example.test. 3600 IN A 192.0.2.25")}}},
	{name: "NXDOMAIN carries the SOA with TTL min(SOA TTL, minimum)", Case: test.Case{Qname: "nope.example.test.", Qtype: dns.TypeA,
		Rcode: dns.RcodeNameError, Ns: []dns.RR{negSOA}}},
	{name: "NODATA carries the SOA", Case: test.Case{Qname: "mail.example.test.", Qtype: dns.TypeAAAA,
		Ns: []dns.RR{negSOA}}},
	{name: "empty non-terminal is NODATA", Case: test.Case{Qname: "dc.example.test.", Qtype: dns.TypeA,
		Ns: []dns.RR{negSOA}}},
	{name: "deeper empty non-terminal is NODATA", Case: test.Case{Qname: "lab.dc.example.test.", Qtype: dns.TypeTXT,
		Ns: []dns.RR{negSOA}}},
	{name: "below an empty non-terminal is NXDOMAIN", Case: test.Case{Qname: "x.dc.example.test.", Qtype: dns.TypeA,
		Rcode: dns.RcodeNameError, Ns: []dns.RR{negSOA}}},
	{name: "apex NS with in-zone glue", Case: test.Case{Qname: "example.test.", Qtype: dns.TypeNS,
		Answer: []dns.RR{test.NS("example.test. 3600 IN NS ns1.example.test."), test.NS("example.test. 3600 IN NS ns2.example.test.")},
		Extra:  []dns.RR{test.A("ns1.example.test. 3600 IN A 192.0.2.53"), test.AAAA("ns2.example.test. 3600 IN AAAA 2001:db8::53")}}},
	{name: "apex SOA", Case: test.Case{Qname: "example.test.", Qtype: dns.TypeSOA,
		Answer: []dns.RR{test.SOA("example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 7 3600 600 1209600 60")}}},
	{name: "MX with the exchange's address in additional", Case: test.Case{Qname: "example.test.", Qtype: dns.TypeMX,
		Answer: []dns.RR{test.MX("example.test. 3600 IN MX 10 mail.example.test.")},
		Extra:  []dns.RR{test.A("mail.example.test. 3600 IN A 192.0.2.25")}}},
	{name: "referral below the apex", noAA: true, Case: test.Case{Qname: "www.child.example.test.", Qtype: dns.TypeA,
		Ns:    []dns.RR{test.NS("child.example.test. 3600 IN NS ns.elsewhere.example.org."), test.NS("child.example.test. 3600 IN NS ns1.child.example.test.")},
		Extra: []dns.RR{test.A("ns1.child.example.test. 3600 IN A 192.0.2.153")}}},
	{name: "referral at the cut", noAA: true, Case: test.Case{Qname: "child.example.test.", Qtype: dns.TypeNS,
		Ns:    []dns.RR{test.NS("child.example.test. 3600 IN NS ns.elsewhere.example.org."), test.NS("child.example.test. 3600 IN NS ns1.child.example.test.")},
		Extra: []dns.RR{test.A("ns1.child.example.test. 3600 IN A 192.0.2.153")}}},
	{name: "glue is not answered authoritatively", noAA: true, Case: test.Case{Qname: "ns1.child.example.test.", Qtype: dns.TypeA,
		Ns:    []dns.RR{test.NS("child.example.test. 3600 IN NS ns.elsewhere.example.org."), test.NS("child.example.test. 3600 IN NS ns1.child.example.test.")},
		Extra: []dns.RR{test.A("ns1.child.example.test. 3600 IN A 192.0.2.153")}}},
	{name: "DS at the cut is the parent's: NODATA", Case: test.Case{Qname: "child.example.test.", Qtype: dns.TypeDS,
		Ns: []dns.RR{negSOA}}},
	{name: "CNAME chain followed into a service", Case: test.Case{Qname: "old.example.test.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("api.example.test. 10 IN A 192.0.2.1"),
			test.CNAME("old.example.test. 3600 IN CNAME www.example.test."), test.CNAME("www.example.test. 3600 IN CNAME api.example.test.")}}},
	{name: "CNAME asked for itself is not followed", Case: test.Case{Qname: "www.example.test.", Qtype: dns.TypeCNAME,
		Answer: []dns.RR{test.CNAME("www.example.test. 3600 IN CNAME api.example.test.")}}},
	{name: "CNAME out of the zone stops there", Case: test.Case{Qname: "out.example.test.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.CNAME("out.example.test. 3600 IN CNAME elsewhere.example.org.")}}},
	{name: "CNAME to a missing name keeps NXDOMAIN (RFC 6604)", Case: test.Case{Qname: "dangling.example.test.", Qtype: dns.TypeA,
		Rcode: dns.RcodeNameError, Answer: []dns.RR{test.CNAME("dangling.example.test. 3600 IN CNAME missing.example.test.")}, Ns: []dns.RR{negSOA}}},
	{name: "CNAME into a delegation: AA for our CNAME, the referral in authority", Case: test.Case{Qname: "tochild.example.test.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.CNAME("tochild.example.test. 3600 IN CNAME www.child.example.test.")},
		Ns:     []dns.RR{test.NS("child.example.test. 3600 IN NS ns.elsewhere.example.org."), test.NS("child.example.test. 3600 IN NS ns1.child.example.test.")},
		Extra:  []dns.RR{test.A("ns1.child.example.test. 3600 IN A 192.0.2.153")}}},
	{name: "CNAME loop ends", Case: test.Case{Qname: "loop1.example.test.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.CNAME("loop1.example.test. 3600 IN CNAME loop2.example.test."), test.CNAME("loop2.example.test. 3600 IN CNAME loop1.example.test.")}}},
	{name: "wildcard synthesizes with the query name", Case: test.Case{Qname: "a.b.wild.example.test.", Qtype: dns.TypeTXT,
		Answer: []dns.RR{test.TXT(`a.b.wild.example.test. 3600 IN TXT "wild"`)}}},
	{name: "wildcard NODATA", Case: test.Case{Qname: "a.wild.example.test.", Qtype: dns.TypeMX,
		Ns: []dns.RR{negSOA}}},
	{name: "existing name is not covered by the wildcard", Case: test.Case{Qname: "exists.wild.example.test.", Qtype: dns.TypeA,
		Ns: []dns.RR{negSOA}}},
	{name: "below an existing name the wildcard does not apply (RFC 4592 2.2.1)", Case: test.Case{Qname: "x.exists.wild.example.test.", Qtype: dns.TypeTXT,
		Rcode: dns.RcodeNameError, Ns: []dns.RR{negSOA}}},
	{name: "wildcard CNAME is synthesized and followed", Case: test.Case{Qname: "x.cn.example.test.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("mail.example.test. 3600 IN A 192.0.2.25"), test.CNAME("x.cn.example.test. 3600 IN CNAME mail.example.test.")}}},
	{name: "the wildcard owner itself", Case: test.Case{Qname: "*.wild.example.test.", Qtype: dns.TypeTXT,
		Answer: []dns.RR{test.TXT(`*.wild.example.test. 3600 IN TXT "wild"`)}}},
	{name: "ANY is answered with one RRset (RFC 8482)", Case: test.Case{Qname: "example.test.", Qtype: dns.TypeANY,
		Answer: []dns.RR{test.NS("example.test. 3600 IN NS ns1.example.test."), test.NS("example.test. 3600 IN NS ns2.example.test.")}}},
	{name: "ANY at an empty non-terminal is NODATA", Case: test.Case{Qname: "dc.example.test.", Qtype: dns.TypeANY,
		Ns: []dns.RR{negSOA}}},
	{name: "service A", Case: test.Case{Qname: "api.example.test.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("api.example.test. 10 IN A 192.0.2.1")}}},
	{name: "service AAAA", Case: test.Case{Qname: "api.example.test.", Qtype: dns.TypeAAAA,
		Answer: []dns.RR{test.AAAA("api.example.test. 10 IN AAAA 2001:db8::1")}}},
	{name: "service TXT is NODATA", Case: test.Case{Qname: "api.example.test.", Qtype: dns.TypeTXT,
		Ns: []dns.RR{negSOA}}},
	{name: "service SRV with generated targets and their addresses", Case: test.Case{Qname: "_http._tcp.api.example.test.", Qtype: dns.TypeSRV,
		Answer: []dns.RR{test.SRV("_http._tcp.api.example.test. 10 IN SRV 1 1 8080 192-0-2-1.api.example.test."),
			test.SRV("_http._tcp.api.example.test. 10 IN SRV 1 1 8080 2001-0db8-0000-0000-0000-0000-0000-0001.api.example.test.")},
		Extra: []dns.RR{test.A("192-0-2-1.api.example.test. 10 IN A 192.0.2.1"),
			test.AAAA("2001-0db8-0000-0000-0000-0000-0000-0001.api.example.test. 10 IN AAAA 2001:db8::1")}}},
	{name: "a generated target answers its address", Case: test.Case{Qname: "192-0-2-1.api.example.test.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("192-0-2-1.api.example.test. 10 IN A 192.0.2.1")}}},
	{name: "_tcp below a service is an empty non-terminal", Case: test.Case{Qname: "_tcp.api.example.test.", Qtype: dns.TypeSRV,
		Ns: []dns.RR{negSOA}}},
	{name: "SRV owner A is NODATA", Case: test.Case{Qname: "_http._tcp.api.example.test.", Qtype: dns.TypeA,
		Ns: []dns.RR{negSOA}}},
	{name: "outside every zone is REFUSED", noAA: true, Case: test.Case{Qname: "example.org.", Qtype: dns.TypeA,
		Rcode: dns.RcodeRefused}},
	{name: "zone transfers are refused", noAA: true, Case: test.Case{Qname: "example.test.", Qtype: dns.TypeAXFR,
		Rcode: dns.RcodeRefused}},
}

func TestAuthoritativeSemantics(t *testing.T) {
	h := newTestHandler(t, testZone)
	for _, tc := range authCases {
		for _, w := range []struct {
			name string
			w    func() dns.ResponseWriter
		}{{"udp", udpWriter}, {"tcp", tcpWriter}} {
			t.Run(tc.name+"/"+w.name, func(t *testing.T) {
				m := tc.Msg()
				m.RecursionDesired = true
				resp := query(t, h, m, w.w())
				if err := test.SortAndCheck(resp, tc.Case); err != nil {
					t.Fatalf("%v\n%v", err, resp)
				}
				if wantAA := !tc.noAA; resp.Authoritative != wantAA {
					t.Errorf("AA = %v, want %v", resp.Authoritative, wantAA)
				}
				if resp.RecursionAvailable {
					t.Error("RA set: hadns never recurses")
				}
				if !resp.RecursionDesired {
					t.Error("RD not copied from the query")
				}
			})
		}
	}
}

func TestQueryNameCaseIsEchoed(t *testing.T) {
	h := newTestHandler(t, testZone)
	m := new(dns.Msg)
	m.SetQuestion("MaIl.ExAmPlE.tEsT.", dns.TypeA)
	resp := query(t, h, m, udpWriter())
	if got := resp.Question[0].Name; got != "MaIl.ExAmPlE.tEsT." {
		t.Fatalf("question name %q, want the case as sent", got)
	}
	if len(resp.Answer) != 1 || resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("mixed-case query not answered: %v", resp)
	}
}

func TestEDNS(t *testing.T) {
	h := newTestHandler(t, testZone)
	t.Run("no OPT in, no OPT out", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("mail.example.test.", dns.TypeA)
		if resp := query(t, h, m, udpWriter()); resp.IsEdns0() != nil {
			t.Fatal("OPT in a reply to a query without one")
		}
	})
	t.Run("OPT echoed with our buffer and DO", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("mail.example.test.", dns.TypeA)
		m.SetEdns0(4096, true)
		opt := query(t, h, m, udpWriter()).IsEdns0()
		if opt == nil || opt.Version() != 0 || opt.UDPSize() != maxUDPSize || !opt.Do() {
			t.Fatalf("reply OPT %v, want version 0, udp %d, DO", opt, maxUDPSize)
		}
	})
	t.Run("truncated over UDP without EDNS", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("big.example.test.", dns.TypeTXT)
		resp := query(t, h, m, udpWriter())
		resp.Compress = true // Len as sent: the reply is compressed
		if !resp.Truncated || resp.Len() > dns.MinMsgSize || len(resp.Answer) >= 6 {
			t.Fatalf("TC=%v len=%d answers=%d, want TC, ≤512 bytes, trimmed", resp.Truncated, resp.Len(), len(resp.Answer))
		}
	})
	t.Run("advertised buffer honoured", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("big.example.test.", dns.TypeTXT)
		m.SetEdns0(1232, false)
		resp := query(t, h, m, udpWriter())
		if resp.Truncated || len(resp.Answer) != 6 {
			t.Fatalf("TC=%v answers=%d, want the whole RRset in 1232 bytes", resp.Truncated, len(resp.Answer))
		}
		if resp.IsEdns0() == nil {
			t.Fatal("OPT lost")
		}
	})
	t.Run("full answer over TCP", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("big.example.test.", dns.TypeTXT)
		resp := query(t, h, m, tcpWriter())
		if resp.Truncated || len(resp.Answer) != 6 {
			t.Fatalf("TC=%v answers=%d, want all 6 over TCP", resp.Truncated, len(resp.Answer))
		}
	})
}

func TestMalformedQueries(t *testing.T) {
	h := newTestHandler(t, testZone)
	t.Run("no question", func(t *testing.T) {
		m := new(dns.Msg)
		m.Id = 7
		if resp := query(t, h, m, udpWriter()); resp.Rcode != dns.RcodeFormatError {
			t.Fatalf("rcode %s, want FORMERR", dns.RcodeToString[resp.Rcode])
		}
	})
	t.Run("two questions", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("mail.example.test.", dns.TypeA)
		m.Question = append(m.Question, m.Question[0])
		if resp := query(t, h, m, udpWriter()); resp.Rcode != dns.RcodeFormatError {
			t.Fatalf("rcode %s, want FORMERR", dns.RcodeToString[resp.Rcode])
		}
	})
	t.Run("unknown opcode", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("mail.example.test.", dns.TypeA)
		m.Opcode = 3
		m.SetEdns0(1232, false)
		resp := query(t, h, m, udpWriter())
		if resp.Rcode != dns.RcodeNotImplemented || resp.IsEdns0() == nil {
			t.Fatalf("rcode %s, OPT %v: want NOTIMP with OPT", dns.RcodeToString[resp.Rcode], resp.IsEdns0())
		}
	})
	t.Run("meta type as question", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("example.test.", dns.TypeOPT)
		if resp := query(t, h, m, udpWriter()); resp.Rcode != dns.RcodeFormatError {
			t.Fatalf("rcode %s, want FORMERR", dns.RcodeToString[resp.Rcode])
		}
	})
}
