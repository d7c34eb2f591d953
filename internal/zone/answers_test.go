package zone

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/sites"
	"github.com/hadns/hadns/internal/zone/zonetest"
)

func selService(t *testing.T, edit func(string) string) (*Service, []sites.Order) {
	t.Helper()
	text := zonetest.SelZone
	if edit != nil {
		text = edit(text)
	}
	z, err := Parse("z.yaml", []byte(text), time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	return z.services[0], zonetest.SelOrders(t)
}

func health(s *Service, set map[string]Health) []Health {
	h := make([]Health, len(s.backends))
	for i, b := range s.backends {
		if v, ok := set[b.addr.String()]; ok {
			h[i] = v
		}
	}
	return h
}

func TestSelectAddrs(t *testing.T) {
	const east, west, north, unknown = 0, 1, 2, 3
	tests := []struct {
		name    string
		edit    func(string) string
		health  map[string]Health
		site    int
		family  uint16
		result  Result
		addrs   []string
		ttl     uint32
		degrade string // prefix of the EDE text, "" for none
	}{
		{name: "all healthy: own site, topped up to min_healthy from its own site", site: east, family: dns.TypeA,
			addrs: []string{"10.1.0.1", "10.1.0.2"}, ttl: 20},
		{name: "one local down: top up from the fallback site", site: east, family: dns.TypeA,
			health: map[string]Health{"10.1.0.1": Down},
			addrs:  []string{"10.1.0.2", "10.2.0.1", "10.2.0.2"}, ttl: 10, degrade: "fallback: too few healthy backends in site east"},
		{name: "whole site down: the fallback site with the degraded TTL", site: east, family: dns.TypeA,
			health: map[string]Health{"10.1.0.1": Down, "10.1.0.2": Drained},
			addrs:  []string{"10.2.0.1", "10.2.0.2"}, ttl: 10, degrade: "fallback: no healthy backend in site east; answering from site west"},
		{name: "own and fallback down: the remaining site", site: east, family: dns.TypeA,
			health: map[string]Health{"10.1.0.1": Down, "10.1.0.2": Down, "10.2.0.1": Down, "10.2.0.2": Down},
			addrs:  []string{"10.3.0.1"}, ttl: 10, degrade: "fallback: no healthy backend in site east; answering from site north"},
		{name: "suspect backend: TTL 1", site: east, family: dns.TypeA,
			health: map[string]Health{"10.1.0.2": Suspect},
			addrs:  []string{"10.1.0.1", "10.1.0.2"}, ttl: 1},
		{name: "all down: fail open with the first tier", site: west, family: dns.TypeA,
			health: map[string]Health{"10.1.0.1": Down, "10.1.0.2": Down, "10.2.0.1": Down, "10.2.0.2": Down, "10.3.0.1": Down},
			addrs:  []string{"10.2.0.1", "10.2.0.2"}, ttl: 10, degrade: "fail-open: no healthy backend in any site"},
		{name: "fail open leaves out drained backends", site: west, family: dns.TypeA,
			health: map[string]Health{"10.1.0.1": Down, "10.1.0.2": Down, "10.2.0.1": Drained, "10.2.0.2": Down, "10.3.0.1": Down},
			addrs:  []string{"10.2.0.2"}, ttl: 10, degrade: "fail-open"},
		{name: "fail open never hands out a drained backend: the next tier with one that is not", site: north, family: dns.TypeA,
			health: map[string]Health{"10.1.0.1": Down, "10.1.0.2": Down, "10.2.0.1": Down, "10.2.0.2": Down, "10.3.0.1": Drained},
			addrs:  []string{"10.1.0.1", "10.1.0.2"}, ttl: 10, degrade: "fail-open"},
		{name: "every backend down or drained: nodata, not a drained backend", site: north, family: dns.TypeA,
			health: map[string]Health{"10.1.0.1": Drained, "10.1.0.2": Drained, "10.2.0.1": Drained, "10.2.0.2": Drained, "10.3.0.1": Drained},
			result: NoData, degrade: "nodata: every backend is down or drained"},
		{name: "all down, nodata", edit: func(s string) string {
			return strings.Replace(s, "max_answers: 3", "max_answers: 3\n    on_all_down: nodata", 1)
		},
			site: west, family: dns.TypeAAAA, health: map[string]Health{"2001:db8::1": Down},
			result: NoData, degrade: "nodata: no healthy backend"},
		{name: "all down, servfail", edit: func(s string) string {
			return strings.Replace(s, "max_answers: 3", "max_answers: 3\n    on_all_down: servfail", 1)
		},
			site: west, family: dns.TypeAAAA, health: map[string]Health{"2001:db8::1": Down},
			result: ServerFailure, degrade: "servfail: no healthy backend"},
		{name: "AAAA from the only site that has v6: not a degradation", site: east, family: dns.TypeAAAA,
			addrs: []string{"2001:db8::1"}, ttl: 20},
		{name: "a family with no backends is plain NODATA", edit: func(s string) string {
			return strings.Replace(s, "      - {address: \"2001:db8::1\", site: west}\n", "", 1)
		},
			site: east, family: dns.TypeAAAA, result: NoData},
		{name: "unknown client: default order", site: unknown, family: dns.TypeA,
			addrs: []string{"10.1.0.1", "10.1.0.2"}, ttl: 20},
		{name: "a site short of min_healthy by design tops up from the default order, degraded", site: north, family: dns.TypeA,
			addrs: []string{"10.1.0.1", "10.1.0.2", "10.3.0.1"}, ttl: 10, degrade: "fallback: too few healthy backends in site north; adding site east"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, orders := selService(t, tc.edit)
			got := selectAddrs(s, health(s, tc.health), orders[tc.site], tc.family)
			if got.result != tc.result {
				t.Fatalf("result %d, want %d", got.result, tc.result)
			}
			if tc.degrade == "" && got.degraded != nil {
				t.Errorf("degraded %q, want none", got.degraded.Text)
			}
			if tc.degrade != "" && (got.degraded == nil || !strings.HasPrefix(got.degraded.Text, tc.degrade)) {
				t.Errorf("degraded %v, want text starting %q", got.degraded, tc.degrade)
			}
			if tc.result != Success {
				if len(got.rotations) != 0 {
					t.Errorf("records in a %d answer", tc.result)
				}
				return
			}
			// Every rotation holds the same set when it fits max_answers.
			for _, r := range got.rotations {
				if a := zonetest.AddrsOf(r); !slices.Equal(a, tc.addrs) {
					t.Fatalf("answer %v, want %v", a, tc.addrs)
				}
				for _, rr := range r {
					if rr.Header().Ttl != tc.ttl {
						t.Fatalf("TTL %d, want %d", rr.Header().Ttl, tc.ttl)
					}
				}
			}
		})
	}
}

func TestSelectAddrsRotatesWithinMaxAnswers(t *testing.T) {
	s, orders := selService(t, func(s string) string { return strings.Replace(s, "min_healthy: 2", "min_healthy: 5", 1) })
	got := selectAddrs(s, make([]Health, len(s.backends)), orders[0], dns.TypeA)
	if len(got.rotations) != 5 {
		t.Fatalf("%d rotations, want one per pooled backend (5)", len(got.rotations))
	}
	seen := map[string]bool{}
	for _, r := range got.rotations {
		if len(r) != 3 {
			t.Fatalf("rotation of %d records, want max_answers 3", len(r))
		}
		seen[zonetest.AddrsOf(r[:1])[0]] = true
	}
	if len(seen) != 5 {
		t.Fatalf("first records %v: every backend should lead one rotation", seen)
	}
	// The service hands rotations out in turn.
	first := map[string]int{}
	s.answers.Store(ComputeAnswers(s, make([]Health, len(s.backends)), orders))
	for range 10 {
		first[s.answer(dns.TypeA, 0, 0, nil).Answer[0].(*dns.A).A.String()]++
	}
	if len(first) != 5 {
		t.Fatalf("10 queries led with %v: rotation should spread them", first)
	}
}

func TestSelectSRV(t *testing.T) {
	s, orders := selService(t, nil)
	type srv struct {
		prio, weight uint16
		target       string
	}
	srvs := func(r ServiceAnswer) []srv {
		var out []srv
		for _, rr := range r.rotations[0] {
			x := rr.(*dns.SRV)
			out = append(out, srv{x.Priority, x.Weight, strings.TrimSuffix(x.Target, ".api.example.test.")})
		}
		return out
	}
	t.Run("tiers in the client's order, weights from config", func(t *testing.T) {
		got := selectSRV(s, 0, make([]Health, len(s.backends)), orders[1]) // west
		want := []srv{{1, 1, "10-2-0-1"}, {1, 1, "10-2-0-2"}, {1, 1, "2001-0db8-0000-0000-0000-0000-0000-0001"},
			{2, 1, "10-1-0-1"}, {2, 5, "10-1-0-2"}, {3, 0, "10-3-0-1"}}
		if g := srvs(got); !slices.Equal(g, want) {
			t.Fatalf("SRV %v, want %v", g, want)
		}
		if got.degraded != nil || got.rotations[0][0].Header().Ttl != 20 {
			t.Fatalf("healthy local SRV: degraded %v TTL %d", got.degraded, got.rotations[0][0].Header().Ttl)
		}
		if len(got.extra) != 6 {
			t.Fatalf("%d additional records, want the 6 targets' addresses", len(got.extra))
		}
	})
	t.Run("down backends leave; an emptied site's tier goes", func(t *testing.T) {
		h := health(s, map[string]Health{"10.2.0.1": Down, "10.2.0.2": Down, "2001:db8::1": Drained, "10.1.0.1": Down})
		got := selectSRV(s, 0, h, orders[1])
		want := []srv{{1, 0, "10-1-0-2"}, {2, 0, "10-3-0-1"}}
		if g := srvs(got); !slices.Equal(g, want) {
			t.Fatalf("SRV %v, want %v", g, want)
		}
		if got.degraded == nil || got.rotations[0][0].Header().Ttl != 10 {
			t.Fatalf("own site empty: want degraded TTL 10 and EDE, got %v", got.degraded)
		}
	})
	t.Run("all down fails open with the first tier", func(t *testing.T) {
		h := slices.Repeat([]Health{Down}, len(s.backends))
		got := selectSRV(s, 0, h, orders[0])
		want := []srv{{1, 1, "10-1-0-1"}, {1, 5, "10-1-0-2"}}
		if g := srvs(got); !slices.Equal(g, want) || got.degraded == nil || got.degraded.Kind != "fail_open" {
			t.Fatalf("SRV %v (%v), want %v failing open", g, got.degraded, want)
		}
	})
}

// The rotation index stays in range however far the query counter has
// gone: int(counter) turns negative on 32-bit platforms after 2^31 queries
// (run with GOARCH=386 to see the old arithmetic fail).
func TestRotationIndexUnsigned(t *testing.T) {
	for _, c := range []uint32{0, 1, 1<<31 - 1, 1 << 31, 1<<31 + 7, 1<<32 - 1} {
		for _, n := range []int{2, 3, 7, 8} {
			if i := rotIndex(c, n); i < 0 || i >= n {
				t.Errorf("rotIndex(%d, %d) = %d, want 0..%d", c, n, i, n-1)
			}
		}
	}
}
