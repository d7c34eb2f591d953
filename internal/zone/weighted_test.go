package zone

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/fileerr"
	"github.com/hadns/hadns/internal/sites"
)

// weightedService parses one service (YAML lines under `services:`) and
// returns it with the orders of sites east (falling back to west) and west.
func weightedService(t testing.TB, svc string) (*Service, []sites.Order) {
	t.Helper()
	text := "origin: example.test.\nsoa: {mname: ns1, rname: h}\nns: [ns1]\nrecords: |\n  ns1 A 192.0.2.53\nservices:\n" + svc
	z, err := Parse("z.yaml", []byte(text), time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sites.New([]sites.Config{
		{Name: "east", Fallback: []string{"west"}},
		{Name: "west", Fallback: []string{"east"}},
	}, nil, fileerr.Position{}, []string{"east", "west"})
	if err != nil {
		t.Fatal(err)
	}
	return z.Services()[0], st.Orders()
}

// simulate asks a service's A answer for site queries times, from a
// counter started at a seeded value, with AAAA queries of the same service
// mixed in at random (they share the counter, as they do in the server),
// and counts how often each address is first and in the answer at all.
func simulate(s *Service, health []Health, orders []sites.Order, site, queries int, seed uint64) (first, member map[string]int) {
	s.SetAnswers(ComputeAnswers(s, health, orders))
	r := rand.New(rand.NewPCG(seed, 15))
	s.rot.Store(r.Uint32())
	first, member = map[string]int{}, map[string]int{}
	for asked := 0; asked < queries; {
		if r.IntN(2) == 0 {
			s.answer(dns.TypeAAAA, site, 0, nil)
			continue
		}
		asked++
		res := s.answer(dns.TypeA, site, 0, nil)
		first[res.Answer[0].(*dns.A).A.String()]++
		for _, rr := range res.Answer {
			member[rr.(*dns.A).A.String()]++
		}
	}
	return first, member
}

// within fails t unless got/n is p to within five standard deviations of a
// binomial count of n.
func within(t *testing.T, what string, got, n int, p float64) {
	t.Helper()
	share := float64(got) / float64(n)
	tol := 5 * math.Sqrt(p*(1-p)/float64(n))
	t.Logf("%s: %.3f%%, want %.3f%% ± %.3f", what, 100*share, 100*p, 100*tol)
	if math.Abs(share-p) > tol {
		t.Errorf("%s: %.3f%%, want %.3f%% ± %.3f", what, 100*share, 100*p, 100*tol)
	}
}

const canaryService = `  - name: api
    weighted: true
    port: 80
    backends:
      - {address: 10.1.0.1, site: east, weight: 100}
      - {address: 10.1.0.2, site: east, weight: 100}
      - {address: 10.1.0.3, site: east, weight: 1}
      - {address: "2001:db8::1", site: east}
      - {address: 10.2.0.1, site: west}
`

// A canary at weight 1 beside two backends at 100 comes first in 1/201 of
// 100,000 simulated answers (0.498%), each of the others in 100/201.
func TestWeightedFirstShare(t *testing.T) {
	s, orders := weightedService(t, canaryService)
	first, member := simulate(s, make([]Health, len(s.Backends())), orders, 0, 100_000, 1)
	within(t, "10.1.0.1 first", first["10.1.0.1"], 100_000, 100.0/201)
	within(t, "10.1.0.2 first", first["10.1.0.2"], 100_000, 100.0/201)
	within(t, "10.1.0.3 first", first["10.1.0.3"], 100_000, 1.0/201)
	// max_answers (8) holds the whole pool: everyone is in every answer.
	for _, a := range []string{"10.1.0.1", "10.1.0.2", "10.1.0.3"} {
		if member[a] != 100_000 {
			t.Errorf("%s in %d answers of 100000, want all", a, member[a])
		}
	}
	if member["10.2.0.1"] != 0 {
		t.Errorf("west's backend in %d answers to east clients", member["10.2.0.1"])
	}
}

// With max_answers below the healthy count, membership follows weights
// too: with max_answers 1 it is the first-record share; with 2 of 3
// backends weighted 3:2:1, a heavier backend is in at least as many answers.
func TestWeightedMembership(t *testing.T) {
	one := strings.Replace(canaryService, "weighted: true", "weighted: true\n    max_answers: 1", 1)
	s, orders := weightedService(t, one)
	first, member := simulate(s, make([]Health, len(s.Backends())), orders, 0, 100_000, 2)
	for a, n := range first {
		if member[a] != n {
			t.Errorf("max_answers 1: %s first %d times, in %d answers", a, n, member[a])
		}
	}
	within(t, "max_answers 1: canary in answer", member["10.1.0.3"], 100_000, 1.0/201)

	s, orders = weightedService(t, `  - name: api
    weighted: true
    max_answers: 2
    port: 80
    backends:
      - {address: 10.1.0.1, site: east, weight: 3}
      - {address: 10.1.0.2, site: east, weight: 2}
      - {address: 10.1.0.3, site: east, weight: 1}
`)
	first, member = simulate(s, make([]Health, len(s.Backends())), orders, 0, 100_000, 3)
	within(t, "3:2:1 first 10.1.0.1", first["10.1.0.1"], 100_000, 3.0/6)
	within(t, "3:2:1 first 10.1.0.3", first["10.1.0.3"], 100_000, 1.0/6)
	// The exact membership of the 6-slot sequence a b a c b a: the
	// windows of two from each slot are ab ba ac cb ba ab, so a and b are
	// each in 5/6 of the answers, c in 2/6: membership grows with weight
	// but is not proportional to it (no answer holds a backend twice).
	within(t, "3:2:1 member 10.1.0.1", member["10.1.0.1"], 100_000, 5.0/6)
	within(t, "3:2:1 member 10.1.0.2", member["10.1.0.2"], 100_000, 5.0/6)
	within(t, "3:2:1 member 10.1.0.3", member["10.1.0.3"], 100_000, 2.0/6)
}

// When min_healthy brings in a fallback site, each site keeps the share of
// first places it has without weights (its healthy backends over the
// pool's), and weights split it inside the site.
func TestWeightedTiers(t *testing.T) {
	s, orders := weightedService(t, `  - name: api
    weighted: true
    min_healthy: 3
    port: 80
    backends:
      - {address: 10.1.0.1, site: east, weight: 3}
      - {address: 10.1.0.2, site: east, weight: 1}
      - {address: 10.2.0.1, site: west, weight: 1}
      - {address: 10.2.0.2, site: west, weight: 5}
`)
	first, _ := simulate(s, make([]Health, len(s.Backends())), orders, 0, 100_000, 4)
	within(t, "east 10.1.0.1", first["10.1.0.1"], 100_000, 0.5*3/4)
	within(t, "east 10.1.0.2", first["10.1.0.2"], 100_000, 0.5*1/4)
	within(t, "west 10.2.0.1", first["10.2.0.1"], 100_000, 0.5*1/6)
	within(t, "west 10.2.0.2", first["10.2.0.2"], 100_000, 0.5*5/6)

	// A backend that is down leaves the slots to the healthy ones.
	h := make([]Health, len(s.Backends()))
	h[0] = Down
	first, _ = simulate(s, h, orders, 0, 100_000, 5)
	if first["10.1.0.1"] != 0 {
		t.Errorf("a down backend first in %d answers", first["10.1.0.1"])
	}
}

// Without `weighted`, weights stay SRV-only: one rotation per pool member,
// no slots, as before.
func TestUnweightedUnchanged(t *testing.T) {
	s, orders := weightedService(t, strings.Replace(canaryService, "    weighted: true\n", "", 1))
	set := ComputeAnswers(s, make([]Health, len(s.Backends())), orders)
	a := set.bySite[0].a
	if a.slots != nil || len(a.Rotations()) != 3 {
		t.Fatalf("unweighted: %d rotations, slots %v; want 3 and none", len(a.Rotations()), a.slots)
	}
	s, orders = weightedService(t, canaryService)
	set = ComputeAnswers(s, make([]Health, len(s.Backends())), orders)
	a = set.bySite[0].a
	if len(a.slots) != 201 || len(a.wire) != len(a.Rotations()) {
		t.Fatalf("weighted: %d slots, %d rotations, %d packed; want 201 slots and every rotation packed", len(a.slots), len(a.Rotations()), len(a.wire))
	}
}

// The weighted key is checked like every other: a wrong type is an error
// with its line.
func TestWeightedKeyErrors(t *testing.T) {
	_, err := Parse("z.yaml", []byte("origin: example.test.\nsoa: {mname: ns1, rname: h}\nns: [ns1]\nrecords: |\n  ns1 A 192.0.2.53\nservices:\n"+
		"  - name: api\n    weighted: sometimes\n    backends:\n      - {address: 10.1.0.1, site: east}\n"), time.Unix(1, 0))
	if err == nil || !strings.Contains(err.Error(), "z.yaml:8") || !strings.Contains(err.Error(), "weighted") {
		t.Fatalf("weighted: sometimes: %v, want an error on line 8 naming weighted", err)
	}
}
