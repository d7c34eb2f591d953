package hadns

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/zone"
)

// TestMailQtypes: MAILA and MAILB are QTYPEs (RFC 1035 3.2.3), not malformed
// questions; no record has them, so the answer is NODATA (NXDOMAIN where the
// name does not exist), as NSD and Knot answer.
func TestMailQtypes(t *testing.T) {
	h := newTestHandler(t, testZone)
	cases := []test.Case{
		{Qname: "mail.example.test.", Qtype: dns.TypeMAILA, Ns: []dns.RR{negSOA}},
		{Qname: "mail.example.test.", Qtype: dns.TypeMAILB, Ns: []dns.RR{negSOA}},
		{Qname: "api.example.test.", Qtype: dns.TypeMAILB, Ns: []dns.RR{negSOA}},
		{Qname: "nope.example.test.", Qtype: dns.TypeMAILA, Rcode: dns.RcodeNameError, Ns: []dns.RR{negSOA}},
	}
	for _, tc := range cases {
		for _, w := range []dns.ResponseWriter{udpWriter(), tcpWriter()} {
			resp := query(t, h, tc.Msg(), w)
			if err := test.SortAndCheck(resp, tc); err != nil {
				t.Errorf("%s %s: %v\n%v", tc.Qname, dns.TypeToString[tc.Qtype], err, resp)
			}
			if !resp.Authoritative {
				t.Errorf("%s %s: AA clear", tc.Qname, dns.TypeToString[tc.Qtype])
			}
		}
	}
}

// srvZone is a zone with a service of n IPv4 backends in one site.
func srvZone(n int) string {
	var b strings.Builder
	b.WriteString(`origin: example.test.
soa: {mname: ns1.example.test., rname: hostmaster.example.test., serial: 1}
ns: [ns1]
records: |
  ns1 A 192.0.2.53
services:
  - name: api
    port: 8080
    srv: [_http._tcp]
    backends:
`)
	for i := range n {
		fmt.Fprintf(&b, "      - {address: 10.100.%d.%d, site: east}\n", i/200, 10+i%200)
	}
	return b.String()
}

// TestTCOnlyWhenAnswerDoesNotFit: RFC 2181 9 sets TC when the answer (or
// required authority) did not fit; the SRV targets' addresses are
// additional data, and dropping them does not set TC. Checked on the
// packed path and on the message path.
func TestTCOnlyWhenAnswerDoesNotFit(t *testing.T) {
	for _, tc := range []struct {
		backends int
		edns     uint16 // 0: no EDNS (512 bytes)
		tc       bool
	}{
		{backends: 8},
		{backends: 24, edns: 1232},
		{backends: 60, tc: true}, // the SRV records alone exceed 512 bytes
	} {
		h := newTestHandler(t, srvZone(tc.backends))
		for _, path := range []string{"packed", "message"} {
			t.Run(fmt.Sprintf("%d backends/edns %d/%s", tc.backends, tc.edns, path), func(t *testing.T) {
				m := new(dns.Msg)
				m.SetQuestion("_http._tcp.api.example.test.", dns.TypeSRV)
				if tc.edns > 0 {
					m.SetEdns0(tc.edns, false)
				}
				var resp *dns.Msg
				if path == "packed" {
					resp = query(t, h, m, udpWriter())
				} else {
					resp = slowQuery(t, h, m, udpWriter())
				}
				size := dns.MinMsgSize
				if tc.edns > 0 {
					size = int(tc.edns)
				}
				resp.Compress = true
				if l := resp.Len(); l > size {
					t.Fatalf("reply is %d bytes, more than %d", l, size)
				}
				if resp.Truncated != tc.tc {
					t.Fatalf("TC %v, want %v (%d SRV records, %d additional)", resp.Truncated, tc.tc, len(resp.Answer), len(resp.Extra))
				}
				if !tc.tc && len(resp.Answer) != tc.backends {
					t.Fatalf("%d SRV records, want all %d", len(resp.Answer), tc.backends)
				}
				if tc.tc {
					return
				}
				if len(withoutOPT(resp.Extra)) == tc.backends {
					t.Fatalf("every address fits: the test does not exercise dropping additional data")
				}
				targets := map[string]bool{}
				for _, rr := range resp.Answer {
					targets[rr.(*dns.SRV).Target] = true
				}
				for _, rr := range withoutOPT(resp.Extra) {
					if !targets[rr.Header().Name] {
						t.Errorf("additional record %s is for no target", rr)
					}
				}
				if (tc.edns > 0) != (resp.IsEdns0() != nil) {
					t.Errorf("OPT %v, want one iff the query had one", resp.IsEdns0())
				}
			})
		}
	}
}

func withoutOPT(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}

// TestOwnerCaseEchoed: replies built as messages (CNAME chains, wildcards,
// DNAME) spell the query name as the query did, as packed replies do and
// as NSD and Knot do (RFC 4343 4.1 lets the server keep the query's case);
// other owners keep the zone's spelling.
func TestOwnerCaseEchoed(t *testing.T) {
	h := newTestHandler(t, testZone)
	hd := newTestHandler(t, dnameZone)
	cases := []struct {
		h      *Hadns
		qname  string
		qtype  uint16
		owners []string // of the answer, in order
	}{
		{h, "OLD.Example.TEST.", dns.TypeA, []string{"OLD.Example.TEST.", "www.example.test.", "api.example.test."}},
		{h, "X.b.WILD.example.test.", dns.TypeTXT, []string{"X.b.WILD.example.test."}},
		{h, "X.CN.example.test.", dns.TypeA, []string{"X.CN.example.test.", "mail.example.test."}},
		{h, "Dangling.example.test.", dns.TypeA, []string{"Dangling.example.test."}},
		{hd, "A.Dn.Example.TEST.", dns.TypeA, []string{"Dn.Example.TEST.", "A.Dn.Example.TEST.", "a.sub.example.test."}},
	}
	for _, tc := range cases {
		for _, w := range []dns.ResponseWriter{udpWriter(), tcpWriter()} {
			m := new(dns.Msg)
			m.SetQuestion(tc.qname, tc.qtype)
			resp := query(t, tc.h, m, w)
			var got []string
			for _, rr := range resp.Answer {
				got = append(got, rr.Header().Name)
			}
			if !slices.Equal(got, tc.owners) {
				t.Errorf("%s %s: owners %q, want %q", tc.qname, dns.TypeToString[tc.qtype], got, tc.owners)
			}
		}
	}
}

// A referral asked at the cut itself spells the NS owner (the query name)
// as the query did, like NSD and Knot (RFC 4343: case is preserved).
func TestOwnerCaseEchoedReferral(t *testing.T) {
	h := newTestHandler(t, testZone)
	for _, w := range []dns.ResponseWriter{udpWriter(), tcpWriter()} {
		m := new(dns.Msg)
		m.SetQuestion("ChIlD.Example.TEST.", dns.TypeA)
		resp := query(t, h, m, w)
		if len(resp.Ns) == 0 {
			t.Fatalf("no authority in %v", resp)
		}
		for _, rr := range resp.Ns {
			if rr.Header().Name != "ChIlD.Example.TEST." {
				t.Errorf("authority owner %q, want the query's spelling", rr.Header().Name)
			}
		}
	}
}

// NODATA at the apex: the SOA in authority is owned by the query name, so
// it takes the query's spelling, as NSD and Knot write it.
func TestOwnerCaseEchoedApexNoData(t *testing.T) {
	h := newTestHandler(t, testZone)
	for _, w := range []dns.ResponseWriter{udpWriter(), tcpWriter()} {
		m := new(dns.Msg)
		m.SetQuestion("ExAmPlE.TeSt.", dns.TypeCNAME)
		resp := query(t, h, m, w)
		if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 0 || len(resp.Ns) != 1 {
			t.Fatalf("not a NODATA with the SOA: %v", resp)
		}
		if got := resp.Ns[0].Header().Name; got != "ExAmPlE.TeSt." {
			t.Errorf("SOA owner %q, want the query's spelling", got)
		}
	}
}

// ecsQueryMsg is a query for qname with an ECS option of the given raw
// bytes (family, source prefix, scope, address), unpacked from the wire as
// the server would see it.
func ecsQueryMsg(t *testing.T, qname string, qtype uint16, option []byte) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.SetEdns0(1232, false)
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: option},
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
	wire, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(wire); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestECSScope: the scope is the client's site network when the answer
// depends on the site, and 0 when every site gets the same answer
// (RFC 7871 7.4), such as NODATA for the AAAA of an IPv4-only service; a
// CNAME chain takes the most specific scope of its parts (7.2.1).
func TestECSScope(t *testing.T) {
	// IPv4 backends in both sites: each site gets its own A answer, and
	// every site the same (empty) AAAA answer.
	zoneText := strings.Replace(srvZone(2), "  ns1 A 192.0.2.53\n", "  ns1 A 192.0.2.53\n  www CNAME api\n  mail A 192.0.2.25\n  alias CNAME mail\n", 1) +
		"      - {address: 10.200.0.1, site: west}\n"
	h := newTestHandler(t, zoneText, wireSites...)
	east := []byte{0, 1, 24, 0, 10, 1, 2}
	for _, tc := range []struct {
		qname string
		qtype uint16
		scope uint8
	}{
		{"api.example.test.", dns.TypeA, 16},   // west clients fall back: another answer
		{"api.example.test.", dns.TypeAAAA, 0}, // NODATA everywhere
		{"www.example.test.", dns.TypeA, 16},   // chain into a site-dependent answer
		{"www.example.test.", dns.TypeAAAA, 0}, // chain into an answer the same everywhere
		{"alias.example.test.", dns.TypeA, 0},  // static data
		{"_http._tcp.api.example.test.", dns.TypeSRV, 16},
	} {
		for _, path := range []string{"packed", "message"} {
			m := ecsQueryMsg(t, tc.qname, tc.qtype, east)
			var resp *dns.Msg
			if path == "packed" {
				resp = query(t, h, m, udpWriter())
			} else {
				resp = slowQuery(t, h, m, udpWriter())
			}
			var got *dns.EDNS0_SUBNET
			if opt := resp.IsEdns0(); opt != nil {
				for _, o := range opt.Option {
					if e, ok := o.(*dns.EDNS0_SUBNET); ok {
						got = e
					}
				}
			}
			if got == nil || got.SourceScope != tc.scope || got.SourceNetmask != 24 {
				t.Errorf("%s %s (%s): ECS %v, want source 24 scope %d", tc.qname, dns.TypeToString[tc.qtype], path, got, tc.scope)
			}
		}
	}
}

// TestECSAddressLength: the ADDRESS of an ECS option holds just the octets
// its SOURCE PREFIX-LENGTH needs; more or fewer is a FORMERR (RFC 7871 6).
func TestECSAddressLength(t *testing.T) {
	h := newTestHandler(t, wireZone, wireSites...)
	for _, tc := range []struct {
		name   string
		option []byte
		rcode  int
	}{
		{"/24 in 3 octets", []byte{0, 1, 24, 0, 10, 1, 2}, dns.RcodeSuccess},
		{"/20 in 3 octets", []byte{0, 1, 20, 0, 10, 1, 0}, dns.RcodeSuccess},
		{"/0 in none", []byte{0, 1, 0, 0}, dns.RcodeSuccess},
		{"/56 in 7 octets", []byte{0, 2, 56, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0}, dns.RcodeSuccess},
		{"/24 in 4 octets", []byte{0, 1, 24, 0, 10, 1, 2, 0}, dns.RcodeFormatError},
		{"/24 in 2 octets", []byte{0, 1, 24, 0, 10, 1}, dns.RcodeFormatError},
		{"/0 in 1 octet", []byte{0, 1, 0, 0, 0}, dns.RcodeFormatError},
		{"/56 in 16 octets", []byte{0, 2, 56, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, dns.RcodeFormatError},
	} {
		resp := query(t, h, ecsQueryMsg(t, "api.example.test.", dns.TypeA, tc.option), udpWriter())
		if resp.Rcode != tc.rcode {
			t.Errorf("%s: rcode %s, want %s", tc.name, dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
		}
	}
	// An ECS option a plugin before us adds (rewrite edns0 subnet) did not
	// come on the wire: its length cannot be judged, and it is accepted.
	m := ecsQueryMsg(t, "api.example.test.", dns.TypeA, []byte{0, 1, 24, 0, 10, 1, 2})
	opt := m.IsEdns0()
	opt.Option = slices.DeleteFunc(opt.Option, func(o dns.EDNS0) bool { return o.Option() == dns.EDNS0SUBNET })
	r := new(dns.Msg) // as it came: a cookie only
	if b, err := m.Pack(); err != nil || r.Unpack(b) != nil {
		t.Fatal("repack")
	}
	r.IsEdns0().Option = append(r.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(10, 1, 2, 0).To4()})
	if resp := query(t, h, r, udpWriter()); resp.Rcode != dns.RcodeSuccess {
		t.Errorf("ECS added after unpacking: rcode %s, want NOERROR", dns.RcodeToString[resp.Rcode])
	}
}

// TestServiceTargetAdditional: when an MX, SRV or NS target is a service's
// name, the additional section holds the addresses the A and AAAA queries of
// that client's site get now, never a backend seen down, and follows health
// (RFC 1034 4.3.2 step 6 lets us add them; hadns's promise is to hand out no
// dead backend). An answer failing open is left out.
func TestServiceTargetAdditional(t *testing.T) {
	zoneText := `origin: example.test.
soa: {mname: ns1.example.test., rname: hostmaster.example.test., serial: 1}
ns: [ns1]
records: |
  ns1      A    192.0.2.53
  @        MX   10 api
  @        MX   20 mail
  mail     A    192.0.2.25
  _x._tcp  SRV  0 0 80 api
  child    NS   api
  multi    MX   10 api
  multi    MX   20 api2
services:
  - name: api2
    port: 8080
    backends:
      - {address: 10.1.0.5, site: east}
  - name: api
    port: 8080
    backends:
      - {address: 10.1.0.1, site: east}
      - {address: 10.1.0.2, site: east}
      - {address: 10.2.0.1, site: west}
      - {address: "2001:db8::1", site: east}
`
	h := newTestHandler(t, zoneText, wireSites...)
	snap := h.snap.Load()
	s := snap.zones["example.test."].Services()[1]
	setHealth := func(hs ...zone.Health) { s.SetAnswers(zone.ComputeAnswers(s, hs, snap.sites.Orders())) }
	ask := func(client, qname string, qtype uint16) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(qname, qtype)
		return query(t, h, m, &test.ResponseWriter{RemoteIP: client})
	}
	apiAddrs := func(rrs []dns.RR) []string {
		var out []string
		for _, rr := range rrs {
			if rr.Header().Name == "api.example.test." && (rr.Header().Rrtype == dns.TypeA || rr.Header().Rrtype == dns.TypeAAAA) {
				out = append(out, rr.String())
			}
		}
		slices.Sort(out)
		return out
	}
	check := func(state string, failOpen bool) {
		t.Helper()
		for _, client := range []string{"10.1.0.9", "10.2.0.9", "10.9.0.9"} {
			want := apiAddrs(append(ask(client, "api.example.test.", dns.TypeA).Answer, ask(client, "api.example.test.", dns.TypeAAAA).Answer...))
			if failOpen {
				want = nil
			}
			for _, q := range []struct {
				name  string
				qtype uint16
			}{{"example.test.", dns.TypeMX}, {"_x._tcp.example.test.", dns.TypeSRV}, {"www.child.example.test.", dns.TypeA}, {"multi.example.test.", dns.TypeMX}} {
				resp := ask(client, q.name, q.qtype)
				got := apiAddrs(resp.Extra)
				if q.qtype != dns.TypeA && q.name != "multi.example.test." {
					// Packed with the service's answers, and the same as
					// the reply built as a message.
					m := new(dns.Msg)
					m.SetQuestion(q.name, q.qtype)
					m.Id = resp.Id
					if !isWire(h, m) {
						t.Errorf("%s %s: not packed", q.name, dns.TypeToString[q.qtype])
					}
					slow := slowQuery(t, h, m, &test.ResponseWriter{RemoteIP: client})
					if a, b := normal(resp), normal(slow); a != b {
						t.Errorf("%s, client %s, %s: packed reply\n%s\ndiffers from the message\n%s", state, client, q.name, a, b)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s, client %s, %s %s: additional %q, want the service's current answer %q",
						state, client, q.name, dns.TypeToString[q.qtype], got, want)
				}
				for _, rr := range got {
					if strings.Contains(rr, "10.1.0.1") && state != "all healthy" {
						t.Errorf("%s: dead backend 10.1.0.1 in the additional section of %s", state, q.name)
					}
				}
				if q.name == "multi.example.test." && !strings.Contains(resp.String(), "api2.example.test.\t10\tIN\tA\t10.1.0.5") {
					t.Errorf("%s, client %s: multi MX additional lacks api2's address:\n%v", state, client, resp)
				}
			}
		}
	}
	check("all healthy", false)
	setHealth(zone.Down, zone.Healthy, zone.Healthy, zone.Healthy)
	check("10.1.0.1 down", false)
	setHealth(zone.Down, zone.Down, zone.Down, zone.Down)
	check("all down (fail open)", true)
}

// TestReferralGlueSetsTC: a referral's in-domain glue is required (RFC 9471
// 3.1): when it does not all fit over UDP, TC is set, unlike other
// additional data.
func TestReferralGlueSetsTC(t *testing.T) {
	var b strings.Builder
	b.WriteString(`origin: example.test.
soa: {mname: ns1.example.test., rname: hostmaster.example.test.}
ns: [ns1]
records: |
  ns1 A 192.0.2.53
`)
	for i := range 20 {
		fmt.Fprintf(&b, "  child NS ns%02d.child\n  ns%02d.child A 192.0.2.%d\n", i, i, 100+i)
	}
	h := newTestHandler(t, b.String())
	m := new(dns.Msg)
	m.SetQuestion("www.child.example.test.", dns.TypeA)
	resp := query(t, h, m, udpWriter())
	if !resp.Truncated || len(resp.Ns) != 20 || len(resp.Extra) == 20 {
		t.Fatalf("TC %v, %d NS, %d glue: want TC, all 20 NS, glue cut", resp.Truncated, len(resp.Ns), len(resp.Extra))
	}
	resp = query(t, h, m, tcpWriter())
	if resp.Truncated || len(resp.Ns) != 20 || len(resp.Extra) != 20 {
		t.Fatalf("TCP: TC %v, %d NS, %d glue: want all of it", resp.Truncated, len(resp.Ns), len(resp.Extra))
	}
}
