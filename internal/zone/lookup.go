package zone

import (
	"slices"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/wire"
)

// Result says what kind of answer a lookup found; one place (ServeDNS) maps
// it to an rcode and flags.
type Result uint8

// Lookup results.
const (
	Success       Result = iota // records in the answer section (possibly a CNAME chain)
	NameError                   // NXDOMAIN: the name does not exist
	NoData                      // the name exists but has no records of the type
	Delegation                  // a referral: NS in authority, not authoritative
	ServerFailure               // a service configured to answer SERVFAIL when nothing is healthy
	NameTooLong                 // YXDOMAIN: a DNAME substitution made a name too long (RFC 6672 2.2)
)

// maxChase bounds CNAME chains inside a zone.
const maxChase = 8

// Reply is what Lookup found, for the plugin to write. Slices may be shared
// with the zone and must not be written to; full slice expressions keep
// appends off them.
type Reply struct {
	Result Result
	Answer []dns.RR
	Ns     []dns.RR
	Extra  []dns.RR
	// Degraded is set when a service answer came from a fallback tier,
	// failed open or is not yet backed by health results.
	Degraded *Degradation
	// Scoped is set when the answer depended on the client's site, so the
	// ECS scope must be the matched prefix length.
	Scoped bool
	// From is the service answer this came from, for its counters, and
	// Service its service.
	From    *ServiceAnswer
	Service *Service
	// Wire is this very reply packed, when the name was answered as asked
	// (no CNAME followed, no wildcard), for the fast path.
	Wire *wire.Answer
}

// Lookup answers qname (lowercase) and qtype from the zone for a client in
// site (an index into the site orders). CNAMEs are followed inside the zone;
// a chain that ends in NXDOMAIN keeps that rcode (RFC 6604), one that ends in
// a referral keeps its CNAMEs and the referral.
func (z *Zone) Lookup(qname string, qtype uint16, site int) Reply {
	var chain []dns.RR
	var scoped bool
	var deg *Degradation
	var from *ServiceAnswer
	var svc *Service
	for i := 0; ; i++ {
		r := z.lookupOne(qname, qtype, site)
		scoped = scoped || r.Scoped
		if deg == nil {
			deg = r.Degraded
		}
		if from == nil {
			from, svc = r.From, r.Service
		}
		if len(chain) > 0 {
			r.Answer = append(chain, r.Answer...)
		}
		r.Scoped, r.Degraded, r.From, r.Service = scoped, deg, from, svc
		if i > 0 {
			r.Wire = nil
		}
		if !r.cnameOnly || i == maxChase-1 {
			return r.Reply
		}
		target := dns.CanonicalName(r.Answer[len(r.Answer)-1].(*dns.CNAME).Target)
		if !dns.IsSubDomain(z.origin, target) || inChain(r.Answer, target) {
			return r.Reply // outside the zone, or a loop: the resolver's problem
		}
		chain = r.Answer[:len(r.Answer):len(r.Answer)]
		qname = target
	}
}

// inChain reports whether a CNAME chain already visited name.
func inChain(chain []dns.RR, name string) bool {
	for _, rr := range chain {
		if dns.CanonicalName(rr.Header().Name) == name {
			return true
		}
	}
	return false
}

type oneResult struct {
	Reply
	cnameOnly bool // the answer is the CNAME at the name, to be followed
}

func (z *Zone) lookupOne(qname string, qtype uint16, site int) oneResult {
	// A delegation above (or at) the name wins, except the DS at the cut,
	// which belongs to the parent side; a DNAME above both substitutes.
	cut := z.cutAbove(qname)
	if z.hasDNAME {
		if d := z.dnameAbove(qname); d != "" && (cut == "" || len(d) < len(cut)) {
			return z.substitute(qname, d, qtype)
		}
	}
	if cut != "" && !(cut == qname && qtype == dns.TypeDS) {
		return oneResult{Reply: z.referral(cut, site)}
	}
	n, ok := z.nodes[qname]
	owner := qname
	if !ok {
		// RFC 4592: the closest encloser's wildcard synthesizes the answer.
		ce := z.closestEncloser(qname)
		wc := "*." + ce
		n, ok = z.nodes[wc]
		if !ok {
			return oneResult{Reply: Reply{Result: NameError, Ns: z.negSOA, Wire: z.nx}}
		}
		owner = wc
	}
	r := z.answerNode(n, qname, owner, qtype, site)
	if owner != qname {
		r.Wire = nil
	}
	return r
}

// dnameAbove returns the highest owner of a DNAME strictly above qname, or
// "". The DNAME at qname itself is not applied there (RFC 6672 2.3).
func (z *Zone) dnameAbove(qname string) string {
	found := ""
	for p := parent(qname); p != "" && dns.IsSubDomain(z.origin, p); p = parent(p) {
		if n, ok := z.nodes[p]; ok && len(n.rrsets.get(dns.TypeDNAME)) > 0 {
			found = p
		}
	}
	return found
}

// substitute answers qname below the DNAME at owner (RFC 6672 3.2): the
// DNAME, and a CNAME synthesized from it, with the DNAME's TTL, from qname
// to qname with owner replaced by the DNAME's target, which the chain then
// follows (not for a CNAME query: the CNAME is its answer). A name that
// becomes too long is YXDOMAIN, with the DNAME alone (RFC 6672 2.2).
func (z *Zone) substitute(qname, owner string, qtype uint16) oneResult {
	set := z.nodes[owner].rrsets.get(dns.TypeDNAME)
	dn := set[0].(*dns.DNAME)
	target := qname[:len(qname)-len(owner)] + dns.CanonicalName(dn.Target)
	if _, ok := dns.IsDomainName(target); !ok { // longer than 255 octets
		return oneResult{Reply: Reply{Result: NameTooLong, Answer: set[:1:1]}}
	}
	cname := &dns.CNAME{
		Hdr:    dns.RR_Header{Name: qname, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: dn.Hdr.Ttl},
		Target: target,
	}
	return oneResult{Reply: Reply{Result: Success, Answer: []dns.RR{dn, cname}}, cnameOnly: qtype != dns.TypeCNAME}
}

// closestEncloser returns the longest existing ancestor of qname.
func (z *Zone) closestEncloser(qname string) string {
	for p := parent(qname); p != ""; p = parent(p) {
		if _, ok := z.nodes[p]; ok {
			return p
		}
		if p == z.origin {
			return p
		}
	}
	return z.origin
}

func (z *Zone) answerNode(n *node, qname, owner string, qtype uint16, site int) oneResult {
	if n.svc != nil && (qtype == dns.TypeA || qtype == dns.TypeAAAA) {
		return oneResult{Reply: n.svc.answer(qtype, site, 0, z.negSOA)}
	}
	if s := n.srvOwner(); s != nil && qtype == dns.TypeSRV {
		return oneResult{Reply: s.answer(qtype, site, n.more.srvIdx, z.negSOA)}
	}
	if qtype == dns.TypeHTTPS || qtype == dns.TypeSVCB {
		if r, ok := z.lookupSVCB(owner, qtype, site); ok {
			return oneResult{Reply: r}
		}
	}
	if qtype == dns.TypeANY {
		return oneResult{Reply: z.answerANY(n, qname, owner, site)}
	}
	if set := n.rrsets.get(qtype); len(set) > 0 {
		r := Reply{Result: Success, Answer: synth(set, qname, owner), Extra: n.extraFor(qtype), Wire: n.rrsets.wire(qtype)}
		n.serviceExtra(qtype, site, &r, true)
		return oneResult{Reply: r}
	}
	if cn := n.rrsets.get(dns.TypeCNAME); len(cn) > 0 {
		return oneResult{Reply: Reply{Result: Success, Answer: synth(cn, qname, owner)}, cnameOnly: true}
	}
	noData := z.noData
	if owner == z.origin {
		noData = z.apexNoData
	}
	return oneResult{Reply: Reply{Result: NoData, Ns: z.negSOA, Wire: noData}}
}

// answerANY answers ANY with one RRset, as RFC 8482 allows, rather than
// everything at the name: ANY is a favourite of amplification attacks.
func (z *Zone) answerANY(n *node, qname, owner string, site int) Reply {
	if n.svc != nil {
		r := n.svc.answer(dns.TypeA, site, 0, z.negSOA)
		if r.Result == Success && len(r.Answer) > 0 {
			return r
		}
		if r := n.svc.answer(dns.TypeAAAA, site, 0, z.negSOA); r.Result == Success && len(r.Answer) > 0 {
			return r
		}
	}
	if s := n.srvOwner(); s != nil {
		if r := s.answer(dns.TypeSRV, site, n.more.srvIdx, z.negSOA); r.Result == Success && len(r.Answer) > 0 {
			return r
		}
	}
	for _, t := range [...]uint16{dns.TypeHTTPS, dns.TypeSVCB} {
		if r, ok := z.lookupSVCB(owner, t, site); ok && r.Result == Success && len(r.Answer) > 0 {
			return r
		}
	}
	best := uint16(0)
	for _, ts := range n.rrsets {
		if best == 0 || ts.t < best {
			best = ts.t
		}
	}
	if best == 0 {
		return Reply{Result: NoData, Ns: z.negSOA}
	}
	return Reply{Result: Success, Answer: synth(n.rrsets.get(best), qname, owner)}
}

// synth returns set, renamed to qname when it came from a wildcard. The
// shared set is returned as is (capacity capped) when no renaming is needed.
func synth(set []dns.RR, qname, owner string) []dns.RR {
	if qname == owner {
		return set[:len(set):len(set)]
	}
	out := make([]dns.RR, len(set))
	for i, rr := range set {
		c := dns.Copy(rr)
		c.Header().Name = qname
		out[i] = c
	}
	return out
}

// referral answers for a name at or below the delegation at cut.
func (z *Zone) referral(cut string, site int) Reply {
	n := z.nodes[cut]
	ns := n.rrsets.get(dns.TypeNS)
	r := Reply{Result: Delegation, Ns: ns[:len(ns):len(ns)], Extra: n.extraFor(dns.TypeNS)}
	n.serviceExtra(dns.TypeNS, site, &r, false)
	return r
}

// serviceExtra adds to r's additional section the addresses of the
// services that the targets of n's qtype records name: the ones the A and
// AAAA queries of a client of site get now, health- and site-filtered, so
// no dead backend is ever handed out here. An answer failing open (which
// may hold dead backends) is left out; additional data is optional. The
// reply depends on the site when those answers do. With one such service,
// its current answers hold this data, and the reply packed when asked (the
// RRset answers the question); with more, it is put together here.
func (n *node) serviceExtra(qtype uint16, site int, r *Reply, asked bool) {
	if n.more == nil {
		return
	}
	svcs := n.more.extraSvc[qtype]
	if len(svcs) == 0 {
		return
	}
	if i, ok := n.more.depIdx[qtype]; ok && len(svcs) == 1 {
		set := svcs[0].answers.Load()
		if set == nil || site >= len(set.bySite) || i >= len(set.bySite[site].deps) {
			return
		}
		d := &set.bySite[site].deps[i]
		r.Extra, r.Scoped = d.extra, r.Scoped || d.scoped
		if asked {
			r.Wire = d.wire
		}
		return
	}
	extra := r.Extra
	for _, s := range svcs {
		set := s.answers.Load()
		if set == nil || site >= len(set.bySite) {
			continue
		}
		sa := &set.bySite[site]
		for _, ra := range [...]*ServiceAnswer{&sa.a, &sa.aaaa} {
			if ra.result != Success || len(ra.rotations) == 0 || ra.degraded != nil && ra.degraded.Kind == "fail_open" {
				continue
			}
			extra = append(extra[:len(extra):len(extra)], ra.rotations[0]...)
			r.Scoped = r.Scoped || ra.scoped
		}
	}
	r.Extra = extra
}

// additional returns in-zone addresses for the targets of NS, MX and SRV
// records (RFC 1034 section 4.3.2 step 6), and the glue of a delegation
// (whose addresses sit below the cut, where lookups would only refer). A
// target that is a service's name is returned in svcs, not with its
// addresses: those follow health, and serviceExtra adds them per query.
func (z *Zone) additional(set []dns.RR, cut bool) (out []dns.RR, svcs []*Service) {
	for _, rr := range set {
		var target string
		switch rr := rr.(type) {
		case *dns.NS:
			target = rr.Ns
		case *dns.MX:
			target = rr.Mx
		case *dns.SRV:
			target = rr.Target
		default:
			return nil, nil
		}
		target = dns.CanonicalName(target)
		if !dns.IsSubDomain(z.origin, target) || (!cut && z.cutAbove(target) != "") {
			continue
		}
		if tn, ok := z.nodes[target]; ok && tn.svc != nil {
			if !slices.Contains(svcs, tn.svc) {
				svcs = append(svcs, tn.svc)
			}
			continue
		}
		for _, a := range z.addrs(target) {
			if !slices.ContainsFunc(out, func(o dns.RR) bool { return dns.IsDuplicate(o, a) }) {
				out = append(out, a)
			}
		}
	}
	return out[:len(out):len(out)], svcs
}
