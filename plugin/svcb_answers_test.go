package hadns

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/zone"
	"github.com/hadns/hadns/internal/zone/zonetest"
)

// svcbSel is selZone's service (three sites: east, west with an IPv6
// backend, north) with an HTTPS record and an SVCB record below it.
func svcbSel(t *testing.T, onAllDown string) (*zone.Service, func(map[string]zone.Health) *zone.AnswerSet) {
	t.Helper()
	s, orders := selService(t, func(z string) string {
		if onAllDown != "" {
			z += "    on_all_down: " + onAllDown + "\n"
		}
		return z + "    https: {alpn: [h2]}\n    svcb: {name: _8443._foo, port: 8443}\n"
	})
	return s, func(h map[string]zone.Health) *zone.AnswerSet {
		return zone.ComputeAnswers(s, health(s, h), orders)
	}
}

// tiersOf renders an HTTPS/SVCB answer as "prio target v4,v4|v6" per record.
func tiersOf(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		var s *dns.SVCB
		switch rr := rr.(type) {
		case *dns.HTTPS:
			s = &rr.SVCB
		case *dns.SVCB:
			s = rr
		default:
			continue
		}
		var v4, v6 []string
		for _, kv := range s.Value {
			switch kv := kv.(type) {
			case *dns.SVCBIPv4Hint:
				for _, ip := range kv.Hint {
					v4 = append(v4, ip.String())
				}
			case *dns.SVCBIPv6Hint:
				for _, ip := range kv.Hint {
					v6 = append(v6, ip.String())
				}
			}
		}
		out = append(out, fmt.Sprintf("%d %s %s|%s", s.Priority, s.Target, strings.Join(v4, ","), strings.Join(v6, ",")))
	}
	return out
}

func TestSelectSVCB(t *testing.T) {
	const east, west, north = 0, 1, 2
	tests := []struct {
		name    string
		health  map[string]zone.Health
		edit    string // replaces on_all_down
		site    int
		result  zone.Result
		tiers   []string
		ttl     uint32
		degrade string
		extra   []string // the additional section's addresses
	}{
		{name: "all healthy, east: every site a tier in east's order", site: east,
			tiers: []string{"1 . 10.1.0.1,10.1.0.2|", "2 . 10.2.0.1,10.2.0.2|2001:db8::1", "3 . 10.3.0.1|"}, ttl: 20,
			extra: []string{"10.1.0.1", "10.1.0.2", "2001:db8::1"}},
		{name: "all healthy, west first", site: west,
			tiers: []string{"1 . 10.2.0.1,10.2.0.2|2001:db8::1", "2 . 10.1.0.1,10.1.0.2|", "3 . 10.3.0.1|"}, ttl: 20,
			extra: []string{"10.2.0.1", "10.2.0.2", "2001:db8::1"}},
		{name: "a backend down leaves the hints", site: east, health: map[string]zone.Health{"10.1.0.1": zone.Down, "2001:db8::1": zone.Down},
			tiers: []string{"1 . 10.1.0.2|", "2 . 10.2.0.1,10.2.0.2|", "3 . 10.3.0.1|"}, ttl: 20,
			extra: []string{"10.1.0.2", "10.2.0.1", "10.2.0.2"}}, // min_healthy 2 tops A up from west
		{name: "a site down: its tier disappears", site: east, health: map[string]zone.Health{"10.1.0.1": zone.Down, "10.1.0.2": zone.Down},
			tiers: []string{"1 . 10.2.0.1,10.2.0.2|2001:db8::1", "2 . 10.3.0.1|"}, ttl: 10, degrade: "fallback: no healthy backend in site east",
			extra: []string{"10.2.0.1", "10.2.0.2", "2001:db8::1"}},
		{name: "a middle site down", site: east, health: map[string]zone.Health{"10.2.0.1": zone.Down, "10.2.0.2": zone.Drained, "2001:db8::1": zone.Down},
			tiers: []string{"1 . 10.1.0.1,10.1.0.2|", "2 . 10.3.0.1|"}, ttl: 20,
			extra: []string{"10.1.0.1", "10.1.0.2"}},
		{name: "a suspect backend: TTL 1", site: north, health: map[string]zone.Health{"10.3.0.1": zone.Suspect},
			tiers: []string{"1 . 10.3.0.1|", "2 . 10.1.0.1,10.1.0.2|", "3 . 10.2.0.1,10.2.0.2|2001:db8::1"}, ttl: 1,
			extra: []string{"10.1.0.1", "10.1.0.2", "10.3.0.1", "2001:db8::1"}}, // min_healthy 2 adds east
		{name: "all down: fail open to the first site, as A does", site: west, health: allOf(zone.Down),
			tiers: []string{"1 . 10.2.0.1,10.2.0.2|2001:db8::1"}, ttl: 10, degrade: "fail-open"},
		{name: "all down but drained ones: fail open skips them", site: east,
			health: map[string]zone.Health{"10.1.0.1": zone.Drained, "10.1.0.2": zone.Drained, "10.2.0.1": zone.Down, "10.2.0.2": zone.Down, "2001:db8::1": zone.Drained, "10.3.0.1": zone.Down},
			tiers:  []string{"1 . 10.2.0.1,10.2.0.2|"}, ttl: 10, degrade: "fail-open"},
		{name: "all down or drained: NODATA", site: east, health: allOf(zone.Drained), result: zone.NoData, degrade: "nodata: every backend"},
		{name: "on_all_down nodata", site: east, health: allOf(zone.Down), edit: "nodata", result: zone.NoData, degrade: "nodata: no healthy"},
		{name: "on_all_down servfail", site: east, health: allOf(zone.Down), edit: "servfail", result: zone.ServerFailure, degrade: "servfail"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, compute := svcbSel(t, tc.edit)
			set := compute(tc.health)
			for j, want := range []string{".", "api.example.test."} {
				ra := set.For(tc.site, dns.TypeSVCB, j)
				if ra.Result() != tc.result {
					t.Fatalf("record %d: result %v, want %v", j, ra.Result(), tc.result)
				}
				if (ra.Degraded() == nil) != (tc.degrade == "") || ra.Degraded() != nil && !strings.HasPrefix(ra.Degraded().Text, tc.degrade) {
					t.Errorf("record %d: degraded %+v, want %q", j, ra.Degraded(), tc.degrade)
				}
				if tc.result != zone.Success {
					if len(ra.Rotations()) != 0 {
						t.Errorf("record %d: records in a %v answer", j, tc.result)
					}
					continue
				}
				var wantTiers []string
				for _, w := range tc.tiers {
					wantTiers = append(wantTiers, strings.Replace(w, " . ", " "+want+" ", 1))
				}
				if got := tiersOf(ra.Rotations()[0]); !slices.Equal(got, wantTiers) {
					t.Errorf("record %d: tiers %q, want %q", j, got, wantTiers)
				}
				for _, rr := range ra.Rotations()[0] {
					if rr.Header().Ttl != tc.ttl {
						t.Errorf("record %d: TTL %d, want %d", j, rr.Header().Ttl, tc.ttl)
					}
				}
				if got := zonetest.AddrsOf(ra.Extra()); !slices.Equal(got, tc.extra) {
					t.Errorf("record %d: additional %v, want %v", j, got, tc.extra)
				}
				if j == 0 && tc.degrade == "fail-open" {
					// The hints are what an A/AAAA query gets while failing open.
					var hinted []string
					for _, ra := range []*zone.ServiceAnswer{set.For(tc.site, dns.TypeA, 0), set.For(tc.site, dns.TypeAAAA, 0)} {
						if len(ra.Rotations()) > 0 {
							hinted = append(hinted, zonetest.AddrsOf(ra.Rotations()[0])...)
						}
					}
					slices.Sort(hinted)
					if got := hintAddrs(ra.Rotations()[0]); !slices.Equal(got, hinted) {
						t.Errorf("fail-open hints %v, A and AAAA answers %v", got, hinted)
					}
				}
			}
		})
	}
}

func allOf(h zone.Health) map[string]zone.Health {
	m := map[string]zone.Health{}
	for _, a := range []string{"10.1.0.1", "10.1.0.2", "10.2.0.1", "10.2.0.2", "10.3.0.1", "2001:db8::1"} {
		m[a] = h
	}
	return m
}

// hintAddrs lists the hints of every record, sorted.
func hintAddrs(rrs []dns.RR) []string {
	var out []string
	for _, t := range tiersOf(rrs) {
		f := strings.Fields(t)[2]
		for _, p := range strings.FieldsFunc(f, func(r rune) bool { return r == ',' || r == '|' }) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// Every backend a hint hands out is a member of the answer, so draining
// one waits for the HTTPS answers that held it too.
func TestSVCBMembersForDrain(t *testing.T) {
	s, compute := svcbSel(t, "")
	set := compute(map[string]zone.Health{"10.1.0.1": zone.Drained})
	for bi, b := range s.Backends() {
		if got, want := inAnswers(set, bi), b.Addr().String() != "10.1.0.1"; got != want {
			t.Errorf("%s in answers: %v, want %v", b.Addr(), got, want)
		}
	}
}

// What a client gets over the server's path: per site by source address,
// the hints following health, the fast path and the general path alike,
// ECS scope set because the answer depends on the site.
func TestServeHTTPS(t *testing.T) {
	h := newTestHandler(t, wireZone+"    https: {alpn: [h2, http/1.1]}\n", wireSites...)
	ask := func(src string, ecs bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("API.example.test.", dns.TypeHTTPS)
		m.SetEdns0(1232, false)
		if ecs {
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{
				Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(10, 2, 3, 0).To4()})
		}
		return query(t, h, m, &addrWriter{remote: &net.UDPAddr{IP: net.ParseIP(src), Port: 53}})
	}
	r := ask("10.1.0.9", false)
	if got, want := tiersOf(r.Answer), []string{"1 . 192.0.2.1,192.0.2.2|2001:db8::1", "2 . 198.51.100.1,198.51.100.2|"}; !r.Authoritative || !slices.Equal(got, want) {
		t.Fatalf("east: AA %v tiers %q, want %q\n%v", r.Authoritative, got, want, r)
	}
	if r.Answer[0].Header().Name != "API.example.test." {
		t.Errorf("owner %q: the query's case is echoed", r.Answer[0].Header().Name)
	}
	if got := zonetest.AddrsOf(r.Extra); !slices.Equal(got, []string{"192.0.2.1", "192.0.2.2", "2001:db8::1"}) {
		t.Errorf("east additional %v", got)
	}
	r = ask("10.1.0.9", true) // ECS says west
	if got, want := tiersOf(r.Answer), []string{"1 . 198.51.100.1,198.51.100.2|", "2 . 192.0.2.1,192.0.2.2|2001:db8::1"}; !slices.Equal(got, want) {
		t.Fatalf("west by ECS: tiers %q, want %q", got, want)
	}
	if o := r.IsEdns0(); o == nil || len(o.Option) == 0 || o.Option[0].(*dns.EDNS0_SUBNET).SourceScope != 16 {
		t.Errorf("ECS scope: %v, want 16 (the site's network)", r.IsEdns0())
	}

	// West goes down: its tier leaves every site's answer.
	setHealth(t, h, map[string]zone.Health{"198.51.100.1": zone.Down, "198.51.100.2": zone.Down})
	r = ask("10.2.0.9", false)
	if got, want := tiersOf(r.Answer), []string{"1 . 192.0.2.1,192.0.2.2|2001:db8::1"}; !slices.Equal(got, want) {
		t.Fatalf("west client, west down: tiers %q, want %q", got, want)
	}
	if r.Answer[0].Header().Ttl != 5 || !strings.Contains(r.String(), "fallback: no healthy backend in site west") {
		t.Errorf("west client, west down: want degraded TTL 5 and the fallback EDE:\n%v", r)
	}
	// Then one east backend too: it leaves the hints and the additional data.
	setHealth(t, h, map[string]zone.Health{"198.51.100.1": zone.Down, "198.51.100.2": zone.Down, "192.0.2.2": zone.Down})
	r = ask("10.1.0.9", false)
	if got, want := tiersOf(r.Answer), []string{"1 . 192.0.2.1|2001:db8::1"}; !slices.Equal(got, want) {
		t.Fatalf("east, 192.0.2.2 down: tiers %q, want %q", got, want)
	}
	if got := zonetest.AddrsOf(r.Extra); !slices.Equal(got, []string{"192.0.2.1", "2001:db8::1"}) {
		t.Errorf("additional %v still holds the dead backend", got)
	}
}

// setHealth recomputes every service of h's zone with the backends of
// health set (the rest healthy), as a health change does.
func setHealth(t *testing.T, h *Hadns, health map[string]zone.Health) {
	t.Helper()
	snap := h.snap.Load()
	for _, z := range snap.zones {
		for _, s := range z.Services() {
			hs := make([]zone.Health, len(s.Backends()))
			for i, b := range s.Backends() {
				hs[i] = health[b.Addr().String()]
			}
			s.SetAnswers(zone.ComputeAnswers(s, hs, snap.sites.Orders()))
		}
	}
}

// A zone with HTTPS records answers ANY at an owner with only an HTTPS or
// SVCB record with that, and NODATA for other types there.
func TestServeSVCBOwner(t *testing.T) {
	h := newTestHandler(t, wireZone+"    svcb: [{name: _8443._foo, port: 8443}, {name: _dns, alias: dns.example.org.}]\n", wireSites...)
	for _, tc := range []struct {
		name  string
		qtype uint16
		want  string
	}{
		{"_8443._foo.api.example.test.", dns.TypeSVCB, "SVCB\t1 api.example.test. port=\"8443\""},
		{"_8443._foo.api.example.test.", dns.TypeANY, "SVCB\t1 api.example.test. port=\"8443\""},
		{"_8443._foo.api.example.test.", dns.TypeHTTPS, "NOERROR, id"},
		{"_8443._foo.api.example.test.", dns.TypeA, "NOERROR, id"},
		{"_foo.api.example.test.", dns.TypeSVCB, "NOERROR, id"},
		{"_dns.api.example.test.", dns.TypeSVCB, "SVCB\t0 dns.example.org."},
		{"api.example.test.", dns.TypeHTTPS, "NOERROR, id"},
	} {
		m := new(dns.Msg)
		m.SetQuestion(tc.name, tc.qtype)
		r := query(t, h, m, tcpWriter())
		if !strings.Contains(r.String(), tc.want) {
			t.Errorf("%s %s: want %q in\n%v", tc.name, dns.TypeToString[tc.qtype], tc.want, r)
		}
		if strings.HasPrefix(tc.want, "NOERROR") && (len(r.Answer) != 0 || len(r.Ns) != 1) {
			t.Errorf("%s %s: want NODATA, got\n%v", tc.name, dns.TypeToString[tc.qtype], r)
		}
	}
}

// svcbWireZone is wireZone with an HTTPS record at the service name and
// SVCB records below it, for the tests of every kind of answer.
const svcbWireZone = wireZone + `    https: {alpn: [h2, http/1.1], params: {ech: AEX+DQBB}}
    svcb:
      - {name: _8443._foo, port: 8443, alpn: [foo]}
      - {name: _dns, alias: dns.example.org.}
`
