package e2e

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

// TestAuthoritative checks the zone semantics of an authoritative server,
// each case over UDP and TCP, with and without EDNS, with RD clear and set.
func TestAuthoritative(t *testing.T) {
	t.Parallel()
	s := startMain(t)

	nodata := want{aa: true, ns: []string{negSOA}}
	nxdomain := want{rcode: dns.RcodeNameError, aa: true, ns: []string{negSOA}}
	refused := want{rcode: dns.RcodeRefused}

	cases := []struct {
		name  string
		qname string
		qtype uint16
		want  want
	}{
		// Positive answers: AA set, RA clear.
		{"static A", "static.e2e.test.", dns.TypeA, want{aa: true, answer: staticA}},
		{"apex SOA", "e2e.test.", dns.TypeSOA, want{aa: true, answer: []string{"e2e.test. 3600 IN SOA ns1.e2e.test. hostmaster.e2e.test. 2026112201 14400 3600 1209600 120"}}},
		{"apex NS with glue", "e2e.test.", dns.TypeNS, want{aa: true, answer: apexNS, extra: apexNSGlue}},
		{"apex MX with address", "e2e.test.", dns.TypeMX, want{aa: true, answer: []string{"e2e.test. 3600 IN MX 10 mail.e2e.test."}, extra: []string{"mail.e2e.test. 3600 IN A 127.0.0.3"}}},
		{"apex TXT", "e2e.test.", dns.TypeTXT, want{aa: true, answer: []string{`e2e.test. 3600 IN TXT "v=spf1 -all"`}}},

		// Negative answers: the SOA in authority with TTL min(SOA TTL, minimum).
		{"NXDOMAIN", "nope.e2e.test.", dns.TypeA, nxdomain},
		{"NXDOMAIN below a name", "x.static.e2e.test.", dns.TypeA, nxdomain},
		{"NODATA", "static.e2e.test.", dns.TypeAAAA, nodata},
		{"NODATA at the apex", "e2e.test.", dns.TypeAAAA, nodata},
		{"empty non-terminal", "lab.dc.e2e.test.", dns.TypeA, nodata},
		{"empty non-terminal two up", "dc.e2e.test.", dns.TypeTXT, nodata},
		{"DS at the apex", "e2e.test.", dns.TypeDS, nodata},
		{"other zone NXDOMAIN: SOA TTL below minimum", "nope.other.test.", dns.TypeA, want{rcode: dns.RcodeNameError, aa: true, ns: []string{"other.test. 30 IN SOA ns1.e2e.test. hostmaster.e2e.test. 1 3600 600 1209600 600"}}},
		{"other zone NODATA", "other.test.", dns.TypeMX, want{aa: true, ns: []string{"other.test. 30 IN SOA ns1.e2e.test. hostmaster.e2e.test. 1 3600 600 1209600 600"}}},
		{"other zone A", "other.test.", dns.TypeA, want{aa: true, answer: []string{"other.test. 600 IN A 127.0.0.40"}}},

		// Delegation: a referral, not authoritative, glue in additional.
		{"referral below the cut", "www.child.e2e.test.", dns.TypeA, want{ns: childNS, extra: childGlue}},
		{"referral at the cut", "child.e2e.test.", dns.TypeA, want{ns: childNS, extra: childGlue}},
		{"referral for NS at the cut", "child.e2e.test.", dns.TypeNS, want{ns: childNS, extra: childGlue}},
		{"referral for the glue name", "ns1.child.e2e.test.", dns.TypeA, want{ns: childNS, extra: childGlue}},
		{"DS at the cut is the parent's", "child.e2e.test.", dns.TypeDS, nodata},

		// CNAMEs: followed inside the zone, left to the resolver outside it.
		{"CNAME to static", "alias.e2e.test.", dns.TypeA, want{aa: true, answer: concat([]string{"alias.e2e.test. 3600 IN CNAME static.e2e.test."}, staticA)}},
		{"CNAME chain to a service", "old.e2e.test.", dns.TypeA, want{aa: true, answer: concat([]string{
			"old.e2e.test. 3600 IN CNAME www.e2e.test.",
			"www.e2e.test. 3600 IN CNAME api.e2e.test.",
		}, apiA())}},
		{"CNAME chain to NODATA", "old.e2e.test.", dns.TypeTXT, want{aa: true, answer: []string{
			"old.e2e.test. 3600 IN CNAME www.e2e.test.",
			"www.e2e.test. 3600 IN CNAME api.e2e.test.",
		}, ns: []string{negSOA}}},
		{"CNAME query is not followed", "old.e2e.test.", dns.TypeCNAME, want{aa: true, answer: []string{"old.e2e.test. 3600 IN CNAME www.e2e.test."}}},
		{"CNAME out of the zone", "docs.e2e.test.", dns.TypeA, want{aa: true, answer: []string{"docs.e2e.test. 3600 IN CNAME docs.example.org."}}},
		// RFC 6604: the rcode is the last name's.
		{"CNAME to a missing name", "dangling.e2e.test.", dns.TypeA, want{rcode: dns.RcodeNameError, aa: true, answer: []string{"dangling.e2e.test. 3600 IN CNAME nothere.e2e.test."}, ns: []string{negSOA}}},
		// RFC 1035 4.1.1: AA follows the first owner in the answer, here the
		// zone's own CNAME; the referral for its target follows it.
		{"CNAME into a delegation", "tochild.e2e.test.", dns.TypeA, want{aa: true, answer: []string{"tochild.e2e.test. 3600 IN CNAME www.child.e2e.test."}, ns: childNS, extra: childGlue}},

		// Wildcards (RFC 4592).
		{"wildcard", "foo.wild.e2e.test.", dns.TypeTXT, want{aa: true, answer: []string{`foo.wild.e2e.test. 3600 IN TXT "wildcard"`}}},
		{"wildcard two labels down", "a.b.wild.e2e.test.", dns.TypeTXT, want{aa: true, answer: []string{`a.b.wild.e2e.test. 3600 IN TXT "wildcard"`}}},
		{"wildcard owner itself", "*.wild.e2e.test.", dns.TypeTXT, want{aa: true, answer: []string{`*.wild.e2e.test. 3600 IN TXT "wildcard"`}}},
		{"wildcard NODATA", "foo.wild.e2e.test.", dns.TypeA, nodata},
		{"existing name: no wildcard", "host.wild.e2e.test.", dns.TypeTXT, nodata},
		{"below an existing name: no wildcard", "x.host.wild.e2e.test.", dns.TypeTXT, nxdomain},
		{"wildcard parent is an empty non-terminal", "wild.e2e.test.", dns.TypeTXT, nodata},
		{"wildcard CNAME", "foo.wc.e2e.test.", dns.TypeA, want{aa: true, answer: concat([]string{"foo.wc.e2e.test. 3600 IN CNAME static.e2e.test."}, staticA)}},

		// Services.
		{"service A", "api.e2e.test.", dns.TypeA, want{aa: true, answer: apiA()}},
		{"service AAAA without v6 backends", "api.e2e.test.", dns.TypeAAAA, nodata},
		{"service SRV with glue", "_http._tcp.api.e2e.test.", dns.TypeSRV, want{aa: true, answer: apiSRV(), extra: apiSRVGlue()}},
		{"generated SRV target", "127-0-2-1.api.e2e.test.", dns.TypeA, want{aa: true, answer: []string{"127-0-2-1.api.e2e.test. 10 IN A 127.0.2.1"}}},
		{"SRV owner parent is an empty non-terminal", "_tcp.api.e2e.test.", dns.TypeSRV, nodata},

		// Outside the served zones: REFUSED, never recursion.
		{"other domain", "example.org.", dns.TypeA, refused},
		{"parent of the zone", "test.", dns.TypeSOA, refused},
		{"root", ".", dns.TypeNS, refused},
		{"suffix lookalike", "xe2e.test.", dns.TypeA, refused},
	}
	for _, c := range cases {
		for _, network := range networks {
			for _, edns := range []uint16{0, 1232} {
				// RD set or not, the reply echoes it and RA stays clear.
				for _, rd := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/%s/edns=%d/rd=%v", c.name, network, edns, rd), func(t *testing.T) {
						t.Parallel()
						q := query(c.qname, c.qtype, edns)
						q.RecursionDesired = rd
						r, _ := s.exchange(t, network, q)
						check(t, q, r, c.want)
					})
				}
			}
		}
	}
}

// TestANY checks RFC 8482: ANY gets one RRset of the name, not all of them.
func TestANY(t *testing.T) {
	t.Parallel()
	s := startMain(t)
	apex := map[uint16]int{dns.TypeNS: 2, dns.TypeSOA: 1, dns.TypeMX: 1, dns.TypeTXT: 1}
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			q := query("e2e.test.", dns.TypeANY, 1232)
			r, _ := s.exchange(t, network, q)
			checkHeader(t, q, r)
			if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
				t.Fatalf("ANY at the apex: rcode %s AA %v, want NOERROR AA", dns.RcodeToString[r.Rcode], r.Authoritative)
			}
			if len(r.Answer) == 0 {
				t.Fatal("ANY at the apex: empty answer, want one RRset")
			}
			h0 := r.Answer[0].Header()
			for _, rr := range r.Answer {
				if h := rr.Header(); h.Name != "e2e.test." || h.Rrtype != h0.Rrtype {
					t.Errorf("ANY at the apex: answer holds more than one RRset:\n%s", indent(rrStrings(r.Answer)))
					break
				}
			}
			if n, ok := apex[h0.Rrtype]; !ok || n != len(r.Answer) {
				t.Errorf("ANY at the apex: %d %s records, want a whole RRset of the apex:\n%s", len(r.Answer), dns.Type(h0.Rrtype), indent(rrStrings(r.Answer)))
			}

			q = query("static.e2e.test.", dns.TypeANY, 0)
			r, _ = s.exchange(t, network, q)
			check(t, q, r, want{aa: true, answer: staticA})

			q = query("nope.e2e.test.", dns.TypeANY, 0)
			r, _ = s.exchange(t, network, q)
			check(t, q, r, want{rcode: dns.RcodeNameError, aa: true, ns: []string{negSOA}})
		})
	}
}

// TestCaseEcho sends mixed-case names (as 0x20 resolvers do): the question
// comes back exactly as sent, the answer is the same as for lowercase.
func TestCaseEcho(t *testing.T) {
	t.Parallel()
	s := startMain(t)
	for _, network := range networks {
		for _, name := range []string{"StAtIc.E2e.TeSt.", "sTaTiC.e2E.tEsT.", "STATIC.E2E.TEST."} {
			q := query(name, dns.TypeA, 1232)
			r, _ := s.exchange(t, network, q)
			checkHeader(t, q, r)
			for _, rr := range r.Answer {
				rr.Header().Name = dns.CanonicalName(rr.Header().Name)
			}
			check(t, q, r, want{aa: true, answer: staticA})
		}
		q := query("NoPe.E2E.test.", dns.TypeA, 0)
		r, _ := s.exchange(t, network, q)
		check(t, q, r, want{rcode: dns.RcodeNameError, aa: true, ns: []string{negSOA}})
	}
}

// TestZoneTransferRefused: every instance loads the files itself, so AXFR
// and IXFR are refused.
func TestZoneTransferRefused(t *testing.T) {
	t.Parallel()
	s := startMain(t)
	for _, qt := range []uint16{dns.TypeAXFR, dns.TypeIXFR} {
		q := query("e2e.test.", qt, 0)
		r, _ := s.exchange(t, "tcp", q)
		if r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
			t.Errorf("%s over TCP: rcode %s with %d answers, want REFUSED and none", dns.Type(qt), dns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
}
