package zone

import (
	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/weighted"
)

// addrRotations builds the rotations of an A or AAAA answer over pool
// (backend indexes, site tier by site tier) with the TTL set. A service
// without `weighted` gets one rotation per pool member, each query taking
// the next, and no slots. A weighted one gets a rotation of slots in which
// every backend comes first in proportion to its weight within its site
// (package weighted): slots maps each slot to its answer in the returned
// rotations, which hold each distinct answer once. The query path picks a
// slot with weighted.Index: one multiplication, no allocation.
func addrRotations(s *Service, pool []int, ttl uint32) ([][]dns.RR, []uint16) {
	if !s.weighted || len(pool) < 2 || len(pool) > weighted.MaxSlots {
		return rotations(s, pool, ttl), nil
	}
	// The pool is built tier by tier, so a tier is a run of one site.
	var tiers [][]uint32
	for i, bi := range pool {
		if i == 0 || s.backends[bi].site != s.backends[pool[i-1]].site {
			tiers = append(tiers, nil)
		}
		t := &tiers[len(tiers)-1]
		*t = append(*t, uint32(s.backends[bi].weight))
	}
	counts, _ := weighted.Counts(tiers)
	windows, slots := weighted.Windows(weighted.Sequence(counts), len(pool), s.maxAnswers)
	recs := make([]dns.RR, len(pool))
	for i, bi := range pool {
		recs[i] = withTTL(s.backends[bi].a, ttl)
	}
	out := make([][]dns.RR, len(windows))
	for r, w := range windows {
		rot := make([]dns.RR, len(w))
		for j, m := range w {
			rot[j] = recs[m]
		}
		out[r] = rot
	}
	return out, slots
}
