package zone

import (
	"fmt"
	"slices"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/sites"
	"github.com/hadns/hadns/internal/weighted"
	"github.com/hadns/hadns/internal/wire"
)

// Health is what answer selection knows of a backend: the checker's state
// folded with the operator's overrides.
type Health uint8

// Backend health as selection sees it.
const (
	Healthy Health = iota // up, forced up, or not yet checked (unknown counts as healthy)
	Suspect               // up, but the last probe failed: handed out with TTL 1 s
	Down                  // confirmed down, or forced down
	Drained               // taken out by the operator; still probed
)

// suspectTTL is the TTL of an answer that holds a suspect backend: if the
// backend is confirmed down a moment later, caches drop it within a second.
const suspectTTL = 1

// EDE codes (RFC 8914). Of the registry's codes only Not Ready describes an
// authoritative server's health state; the rest of our degraded answers use
// Other with an EXTRA-TEXT that says why.
const (
	edeOther    = dns.ExtendedErrorCodeOther
	edeNotReady = dns.ExtendedErrorCodeNotReady
)

// Degradation says why an answer is not the healthy local one.
type Degradation struct {
	Code uint16
	Text string
	Kind string // "fallback", "fail_open", "nodata", "servfail", "not_ready": for metrics
}

// AnswerSet is a service's precomputed answers for every site order.
type AnswerSet struct {
	bySite []siteAnswers // indexed like the site table's orders
}

type siteAnswers struct {
	a, aaaa ServiceAnswer
	srv     []ServiceAnswer // one per SRV owner
	svcb    []ServiceAnswer // one per ServiceMode HTTPS or SVCB record (svcb_answers.go)

	deps []depAnswer // by the service's deps
}

// depRRset is a static RRset (MX, NS or SRV) whose additional data is the
// addresses of one service, its records' only service target: its replies
// are built and packed with the service's answers, per site.
type depRRset struct {
	owner string
	qtype uint16
	set   []dns.RR
	extra []dns.RR // the static part of the additional data
	cut   bool     // a delegation's NS: answered as a referral, never packed
}

// depAnswer is a depRRset's additional data for one site, and its reply
// packed (nil where it is not served as asked: a referral).
type depAnswer struct {
	extra  []dns.RR
	scoped bool
	wire   *wire.Answer
}

// depAnswers builds the additional data of s's deps for sa's site: the
// static part, then the A and AAAA answers of the site (rotation 0), left
// out while failing open, which may hand out dead backends.
func depAnswers(s *Service, sa *siteAnswers) []depAnswer {
	if len(s.deps) == 0 {
		return nil
	}
	out := make([]depAnswer, len(s.deps))
	for i, d := range s.deps {
		extra := d.extra
		scoped := false
		for _, ra := range [...]*ServiceAnswer{&sa.a, &sa.aaaa} {
			if ra.result != Success || len(ra.rotations) == 0 || ra.degraded != nil && ra.degraded.Kind == "fail_open" {
				continue
			}
			extra = append(extra[:len(extra):len(extra)], ra.rotations[0]...)
			scoped = scoped || ra.scoped
		}
		out[i] = depAnswer{extra: extra[:len(extra):len(extra)], scoped: scoped}
		if !d.cut {
			out[i].wire = packWire(d.owner, d.qtype, Reply{Result: Success, Answer: d.set, Extra: out[i].extra}, nil)
		}
	}
	return out
}

// ServiceAnswer is one precomputed answer. For A and AAAA each rotation is a
// complete answer; a query takes the next one, so load spreads without a
// per-query copy.
type ServiceAnswer struct {
	result    Result // Success, NoData or ServerFailure
	rotations [][]dns.RR
	extra     []dns.RR
	degraded  *Degradation
	served    string // the site that served (first tier used), for metrics
	members   []int  // indexes of the backends in the answer, for drain_safe_at
	// slots, for a weighted answer, maps each slot of its rotation to the
	// index of the slot's answer in rotations (see addrRotations).
	slots []uint16

	// scoped is set when clients of some other site get another answer, so
	// the ECS scope must be the client's site network (RFC 7871 7.2.1);
	// an answer that is the same everywhere has scope 0 (7.4).
	scoped bool

	ctr ctrSlot // the series it counts in, made by the plugin on its first query

	// wire is each rotation packed (or the one empty answer), for the fast
	// path; set by packAnswers.
	wire []*wire.Answer
}

// answer returns the current answer for qtype (A, AAAA or SRV at SRV owner
// srvIdx) for a client of site. negSOA goes in authority of empty answers.
func (s *Service) answer(qtype uint16, site, srvIdx int, negSOA []dns.RR) Reply {
	set := s.answers.Load()
	if set == nil || site >= len(set.bySite) {
		return Reply{Result: ServerFailure}
	}
	sa := &set.bySite[site]
	var ra *ServiceAnswer
	switch qtype {
	case dns.TypeA:
		ra = &sa.a
	case dns.TypeAAAA:
		ra = &sa.aaaa
	default:
		ra = &sa.srv[srvIdx]
	}
	res := Reply{Result: ra.result, Extra: ra.extra, Degraded: ra.degraded, Scoped: ra.scoped, From: ra, Service: s}
	i := 0
	if ra.slots != nil {
		i = int(ra.slots[weighted.Index(s.rot.Add(1), len(ra.slots))])
	} else if len(ra.rotations) > 1 {
		i = rotIndex(s.rot.Add(1), len(ra.rotations))
	}
	if len(ra.rotations) > 0 {
		res.Answer = ra.rotations[i]
	}
	if ra.result == NoData {
		res.Ns = negSOA
	}
	if i < len(ra.wire) {
		res.Wire = ra.wire[i]
	}
	return res
}

// rotIndex is the rotation a query with counter value c takes, of n. The
// remainder is taken in uint32: int(c) is negative on 32-bit platforms once
// the counter passes 2^31.
func rotIndex(c uint32, n int) int { return int(c % uint32(n)) }

// ComputeAnswers builds a service's answers for every site order from the
// backends' health. It is pure: the same inputs give the same answers.
func ComputeAnswers(s *Service, health []Health, orders []sites.Order) *AnswerSet {
	set := &AnswerSet{bySite: make([]siteAnswers, len(orders))}
	for i, o := range orders {
		sa := siteAnswers{
			a:    selectAddrs(s, health, o, dns.TypeA),
			aaaa: selectAddrs(s, health, o, dns.TypeAAAA),
			srv:  make([]ServiceAnswer, len(s.srv)),
		}
		for j := range s.srv {
			sa.srv[j] = selectSRV(s, j, health, o)
		}
		set.bySite[i] = sa
	}
	markScoped(set, func(sa *siteAnswers) *ServiceAnswer { return &sa.a })
	markScoped(set, func(sa *siteAnswers) *ServiceAnswer { return &sa.aaaa })
	for j := range s.srv {
		markScoped(set, func(sa *siteAnswers) *ServiceAnswer { return &sa.srv[j] })
	}
	computeSVCB(s, health, orders, set)
	for i := range set.bySite {
		packAnswers(s, &set.bySite[i])
		set.bySite[i].deps = depAnswers(s, &set.bySite[i])
	}
	return set
}

// markScoped sets scoped on the answer pick chooses from every site's,
// unless they are all the same.
func markScoped(set *AnswerSet, pick func(*siteAnswers) *ServiceAnswer) {
	scoped := false
	for i := 1; i < len(set.bySite) && !scoped; i++ {
		scoped = !sameAnswer(pick(&set.bySite[0]), pick(&set.bySite[i]))
	}
	for i := range set.bySite {
		pick(&set.bySite[i]).scoped = scoped
	}
}

// sameAnswer reports whether a client gets the same reply from a as from b:
// records, TTLs, order and Extended DNS Error.
func sameAnswer(a, b *ServiceAnswer) bool {
	if a.result != b.result || (a.degraded == nil) != (b.degraded == nil) ||
		a.degraded != nil && *a.degraded != *b.degraded || len(a.rotations) != len(b.rotations) ||
		!slices.Equal(a.slots, b.slots) {
		return false
	}
	same := func(x, y []dns.RR) bool {
		return slices.EqualFunc(x, y, func(p, q dns.RR) bool { return p.String() == q.String() })
	}
	for i := range a.rotations {
		if !same(a.rotations[i], b.rotations[i]) {
			return false
		}
	}
	return same(a.extra, b.extra)
}

// tier is the backends of one site, in configuration order.
type tier struct {
	site     string
	backends []int // indexes into s.backends
}

// tiers groups backends by site in the client's order, keeping only sites
// that have a backend matching keep.
func tiers(s *Service, o sites.Order, keep func(*Backend) bool) []tier {
	var out []tier
	for _, site := range o.Sites {
		t := tier{site: site}
		for i, b := range s.backends {
			if b.site == site && keep(b) {
				t.backends = append(t.backends, i)
			}
		}
		if len(t.backends) > 0 {
			out = append(out, t)
		}
	}
	return out
}

// Usable reports whether a backend of health h may be handed out: healthy
// or suspect.
func Usable(h Health) bool { return h == Healthy || h == Suspect }

// selectAddrs chooses the A or AAAA answer: the healthy backends of the
// client's first tier, topped up from the next tiers until min_healthy is
// met, at most max_answers per answer.
func selectAddrs(s *Service, health []Health, o sites.Order, family uint16) ServiceAnswer {
	ts := tiers(s, o, func(b *Backend) bool { return b.Family() == family })
	if len(ts) == 0 {
		// No backend of this family at all: a plain NODATA, not a degradation.
		return ServiceAnswer{result: NoData}
	}
	var pool []int
	used := 0
	for i, t := range ts {
		for _, bi := range t.backends {
			if Usable(health[bi]) {
				pool = append(pool, bi)
			}
		}
		used = i
		if len(pool) >= s.minHealthy {
			break
		}
	}
	if len(pool) == 0 {
		return allDown(s, ts, health, family)
	}
	ttl := s.ttl
	var deg *Degradation
	if !tierHasUsable(ts[0], health) || used > 0 && poolBeyond(pool, ts[0]) {
		ttl = s.degradedTTL
		deg = fallbackDegradation(ts, health)
	}
	if anySuspect(pool, health) {
		ttl = suspectTTL
	}
	rots, slots := addrRotations(s, pool, ttl)
	return ServiceAnswer{result: Success, rotations: rots, slots: slots, degraded: deg, served: ts[firstUsableTier(ts, health)].site, members: pool}
}

func tierHasUsable(t tier, health []Health) bool {
	for _, bi := range t.backends {
		if Usable(health[bi]) {
			return true
		}
	}
	return false
}

func firstUsableTier(ts []tier, health []Health) int {
	for i, t := range ts {
		if tierHasUsable(t, health) {
			return i
		}
	}
	return 0
}

// poolBeyond reports whether pool holds a backend from outside the first tier.
func poolBeyond(pool []int, first tier) bool {
	for _, bi := range pool {
		if !slices.Contains(first.backends, bi) {
			return true
		}
	}
	return false
}

func anySuspect(pool []int, health []Health) bool {
	for _, bi := range pool {
		if health[bi] == Suspect {
			return true
		}
	}
	return false
}

func fallbackDegradation(ts []tier, health []Health) *Degradation {
	first := ts[0].site
	if !tierHasUsable(ts[0], health) {
		served := ts[firstUsableTier(ts, health)].site
		return &Degradation{Code: edeOther, Kind: "fallback",
			Text: fmt.Sprintf("fallback: no healthy backend in site %s; answering from site %s", first, served)}
	}
	added := ts[len(ts)-1].site
	for _, t := range ts[1:] {
		if tierHasUsable(t, health) {
			added = t.site
			break
		}
	}
	return &Degradation{Code: edeOther, Kind: "fallback",
		Text: fmt.Sprintf("fallback: too few healthy backends in site %s; adding site %s", first, added)}
}

// allDown applies on_all_down when no backend of the family is healthy.
func allDown(s *Service, ts []tier, health []Health, family uint16) ServiceAnswer {
	switch s.onAllDown {
	case noData:
		return ServiceAnswer{result: NoData, degraded: &Degradation{Code: edeOther, Text: "nodata: no healthy backend in any site", Kind: "nodata"}}
	case servFail:
		return ServiceAnswer{result: ServerFailure, degraded: &Degradation{Code: edeOther, Text: "servfail: no healthy backend in any site", Kind: "servfail"}}
	}
	// Fail open: every backend of the first tier that has any not drained
	// (an operator took those out on purpose, so they are never handed out).
	pool, ti := failOpenPool(ts, health)
	if len(pool) == 0 {
		return drainedOut()
	}
	rots, slots := addrRotations(s, pool, s.degradedTTL)
	return ServiceAnswer{
		result:    Success,
		rotations: rots,
		slots:     slots,
		degraded:  &Degradation{Code: edeOther, Text: "fail-open: no healthy backend in any site", Kind: "fail_open"},
		served:    ts[ti].site,
		members:   pool,
	}
}

// drainedOut is the answer when every backend is down or drained: nothing
// to fail open to, since drained backends are never handed out.
func drainedOut() ServiceAnswer {
	return ServiceAnswer{result: NoData, degraded: &Degradation{Code: edeOther, Text: "nodata: every backend is down or drained", Kind: "nodata"}}
}

// failOpenPool returns the backends of the first tier in ts with any that
// is not drained, those backends, and the tier's index.
func failOpenPool(ts []tier, health []Health) ([]int, int) {
	for i, t := range ts {
		var pool []int
		for _, bi := range t.backends {
			if health[bi] != Drained {
				pool = append(pool, bi)
			}
		}
		if len(pool) > 0 {
			return pool, i
		}
	}
	return nil, 0
}

// rotations builds one answer per starting offset in pool, each at most
// max_answers long, with the TTL set. The answers are windows of one ring
// (the pool followed by its first max_answers-1 records), so they cost
// pool + max_answers record pointers, not pool × max_answers; their capacity
// is cut to their length, so no append reaches the next one.
func rotations(s *Service, pool []int, ttl uint32) [][]dns.RR {
	if len(pool) == 0 {
		return nil
	}
	n := min(len(pool), s.maxAnswers)
	ring := make([]dns.RR, len(pool), len(pool)+n-1)
	for i, bi := range pool {
		ring[i] = withTTL(s.backends[bi].a, ttl)
	}
	ring = append(ring, ring[:n-1]...)
	out := make([][]dns.RR, len(pool))
	for r := range out {
		out[r] = ring[r : r+n : r+n]
	}
	return out
}

// withTTL returns rr with TTL ttl: rr itself when it has that TTL already
// (a healthy answer, the common case: no copy per answer and site), else a
// copy. Records in answers are never changed in place, so sharing is safe.
func withTTL(rr dns.RR, ttl uint32) dns.RR {
	if rr.Header().Ttl == ttl {
		return rr
	}
	c := dns.Copy(rr)
	c.Header().Ttl = ttl
	return c
}

// selectSRV builds the SRV answer: every healthy backend, each site a
// priority tier in the client's order, so an SRV-aware client can fail over
// to the next tier with no new query.
func selectSRV(s *Service, owner int, health []Health, o sites.Order) ServiceAnswer {
	so := s.srv[owner]
	ts := tiers(s, o, func(*Backend) bool { return true })
	if len(ts) == 0 {
		return ServiceAnswer{result: NoData}
	}
	groups, ttl, deg, served, done := tierTerms(s, ts, health)
	if done != nil {
		return *done
	}
	var answer, extra []dns.RR
	var members []int
	seenGlue := map[string]bool{}
	for i, g := range groups {
		prio := uint16(i + 1)
		for _, bi := range g {
			members = append(members, bi)
			b := s.backends[bi]
			w := b.weight
			if len(g) == 1 {
				w = 0 // RFC 2782: weight 0 when there is no choice to make
			}
			port := so.port
			if port == 0 {
				port = b.port
			}
			answer = append(answer, &dns.SRV{
				Hdr:      dns.RR_Header{Name: so.name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: ttl},
				Priority: prio, Weight: w, Port: port, Target: b.target,
			})
			if b.generated {
				key := b.glue.String()
				if !seenGlue[key] {
					seenGlue[key] = true
					extra = append(extra, withTTL(b.glue, ttl))
				}
			}
		}
	}
	return ServiceAnswer{result: Success, rotations: [][]dns.RR{answer}, extra: extra[:len(extra):len(extra)], degraded: deg, served: served, members: members}
}

// Each calls f for every answer of set: A, AAAA, SRV, HTTPS and SVCB, for
// every site.
func (set *AnswerSet) Each(f func(*ServiceAnswer)) {
	if set == nil {
		return
	}
	for i := range set.bySite {
		sa := &set.bySite[i]
		f(&sa.a)
		f(&sa.aaaa)
		for j := range sa.srv {
			f(&sa.srv[j])
		}
		for j := range sa.svcb {
			f(&sa.svcb[j])
		}
	}
}

// TTL is the TTL the answer's records carry (one for all of them).
func (ra *ServiceAnswer) TTL() uint32 {
	if len(ra.rotations) == 0 || len(ra.rotations[0]) == 0 {
		return 0
	}
	return ra.rotations[0][0].Header().Ttl
}

// Len is the number of site orders set has answers for.
func (set *AnswerSet) Len() int { return len(set.bySite) }

// For returns the answer of set for qtype for clients of site order site:
// A, AAAA, SRV at the service's SRV owner i, or HTTPS or SVCB for its
// ServiceMode record i.
func (set *AnswerSet) For(site int, qtype uint16, i int) *ServiceAnswer {
	sa := &set.bySite[site]
	switch qtype {
	case dns.TypeA:
		return &sa.a
	case dns.TypeAAAA:
		return &sa.aaaa
	case dns.TypeHTTPS, dns.TypeSVCB:
		return &sa.svcb[i]
	}
	return &sa.srv[i]
}

// tierTerms is what the tiered answers (SRV, ServiceMode HTTPS and SVCB)
// share: the usable backends of each tier that has any, in the client's
// order, or the fail-open pool as one tier when none has; and the answer's
// TTL, degradation and serving site. When the answer is not made of tiers
// (on_all_down nodata or servfail, or every backend drained), done is it.
func tierTerms(s *Service, ts []tier, health []Health) (groups [][]int, ttl uint32, deg *Degradation, served string, done *ServiceAnswer) {
	for _, t := range ts {
		var in []int
		for _, bi := range t.backends {
			if Usable(health[bi]) {
				in = append(in, bi)
			}
		}
		if len(in) > 0 {
			groups = append(groups, in)
		}
	}
	ttl = s.ttl
	if len(groups) == 0 {
		switch s.onAllDown {
		case noData, servFail:
			a := allDown(s, ts, health, 0)
			a.rotations = nil
			return nil, 0, nil, "", &a
		}
		pool, ti := failOpenPool(ts, health)
		if len(pool) == 0 {
			a := drainedOut()
			return nil, 0, nil, "", &a
		}
		deg = &Degradation{Code: edeOther, Text: "fail-open: no healthy backend in any site", Kind: "fail_open"}
		return [][]int{pool}, s.degradedTTL, deg, ts[ti].site, nil
	}
	if !tierHasUsable(ts[0], health) {
		ttl = s.degradedTTL
		deg = fallbackDegradation(ts, health)
	}
	for _, g := range groups {
		if anySuspect(g, health) {
			ttl = suspectTTL
		}
	}
	return groups, ttl, deg, ts[firstUsableTier(ts, health)].site, nil
}
