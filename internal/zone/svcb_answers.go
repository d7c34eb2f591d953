package zone

import (
	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/sites"
)

// computeSVCB adds to set, whose A and AAAA answers are made, the answers
// of s's ServiceMode HTTPS and SVCB records for every site order, packed.
func computeSVCB(s *Service, health []Health, orders []sites.Order, set *AnswerSet) {
	if len(s.svcb) == 0 {
		return
	}
	for i, o := range orders {
		sa := &set.bySite[i]
		sa.svcb = make([]ServiceAnswer, len(s.svcb))
		for j, r := range s.svcb {
			sa.svcb[j] = selectSVCB(s, r, health, o, sa)
		}
	}
	for j, r := range s.svcb {
		markScoped(set, func(sa *siteAnswers) *ServiceAnswer { return &sa.svcb[j] })
		for i := range set.bySite {
			packRR(s, r.owner, r.rrtype, &set.bySite[i].svcb[j])
		}
	}
}

// selectSVCB builds the answer of a ServiceMode record for a client of
// order o: like the SRV answer, each site with a healthy backend is a tier,
// in the client's order, here one record each with SvcPriority 1, 2, ...
// whose ipv4hint and ipv6hint are the tier's healthy addresses. TTL,
// fallback, fail-open and on_all_down are as for SRV. The additional
// section is the A and AAAA answers of the same site (sa's), as a client
// that follows the record up would get them; not while they fail open,
// as for every target that is a service (serviceExtra).
func selectSVCB(s *Service, r *svcbRecord, health []Health, o sites.Order, sa *siteAnswers) ServiceAnswer {
	ts := tiers(s, o, func(*Backend) bool { return true })
	if len(ts) == 0 {
		return ServiceAnswer{result: NoData}
	}
	groups, ttl, deg, served, done := tierTerms(s, ts, health)
	if done != nil {
		return *done
	}
	answer := make([]dns.RR, 0, len(groups))
	var members []int
	for i, g := range groups {
		var v4, v6 []dns.RR
		for _, bi := range g {
			b := s.backends[bi]
			if b.addr.Is4() {
				v4 = append(v4, b.a)
			} else {
				v6 = append(v6, b.a)
			}
		}
		members = append(members, g...)
		answer = append(answer, r.record(uint16(i+1), ttl, v4, v6))
	}
	var extra []dns.RR
	for _, ra := range [...]*ServiceAnswer{&sa.a, &sa.aaaa} {
		if ra.result != Success || len(ra.rotations) == 0 || ra.degraded != nil && ra.degraded.Kind == "fail_open" {
			continue
		}
		extra = append(extra, ra.rotations[0]...)
	}
	return ServiceAnswer{result: Success, rotations: [][]dns.RR{answer}, extra: extra[:len(extra):len(extra)], degraded: deg, served: served, members: members}
}

// answerSVCB returns the current answer of s's ServiceMode record i for a
// client of site. negSOA goes in authority of empty answers.
func (s *Service) answerSVCB(i, site int, negSOA []dns.RR) Reply {
	set := s.answers.Load()
	if set == nil || site >= len(set.bySite) || i >= len(set.bySite[site].svcb) {
		return Reply{Result: ServerFailure}
	}
	ra := &set.bySite[site].svcb[i]
	res := Reply{Result: ra.result, Extra: ra.extra, Degraded: ra.degraded, Scoped: ra.scoped, From: ra, Service: s}
	if len(ra.rotations) > 0 {
		res.Answer = ra.rotations[0]
	}
	if ra.result == NoData {
		res.Ns = negSOA
	}
	if len(ra.wire) > 0 {
		res.Wire = ra.wire[0]
	}
	return res
}

// lookupSVCB answers an HTTPS or SVCB query at owner when a service
// answers it from health.
func (z *Zone) lookupSVCB(owner string, qtype uint16, site int) (Reply, bool) {
	ref, ok := z.svcb[svcbKey{owner, qtype}]
	if !ok {
		return Reply{}, false
	}
	return ref.s.answerSVCB(ref.i, site, z.negSOA), true
}

// svcbTypes returns the types of the ServiceMode records at name, for NSEC
// bitmaps.
func (z *Zone) svcbTypes(name string, types []uint16) []uint16 {
	for _, t := range [...]uint16{dns.TypeHTTPS, dns.TypeSVCB} {
		if _, ok := z.svcb[svcbKey{name, t}]; ok {
			types = append(types, t)
		}
	}
	return types
}
