package zone

import (
	"sort"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/fileerr"
	"github.com/hadns/hadns/internal/wire"
)

// Zone is one loaded zone: its static records in a name tree and the services
// whose addresses follow health. A Zone is immutable once built except for the
// services' answer sets, which are swapped atomically.
type Zone struct {
	origin string // lowercase, fully qualified
	file   string
	soa    *dns.SOA
	negSOA []dns.RR // the SOA with TTL min(SOA TTL, minimum), for negative answers
	apexNS []dns.RR
	nsLine int              // line of the zone file's ns key, for errors about the nameservers
	nodes  map[string]*node // every owner name and empty non-terminal, lowercase
	// lines is the line of each RRset's first record, for errors while
	// the zone is built; dropped once it is packed.
	lines map[nameType]int
	// services in file order
	services []*Service
	// nx is the zone's NXDOMAIN, packed but for the question.
	nx *wire.Answer
	// noData is the NODATA of every name but the apex, packed but for the
	// question (which it takes from the query); apexNoData is the apex's,
	// whose SOA is owned by the question's name.
	noData, apexNoData *wire.Answer
	// hasDNAME is set when a name has a DNAME, so lookups look for one
	// above the name asked only then.
	hasDNAME bool
	// src and mtime are the document the zone was built from, so that it
	// can be built again with registered backends added.
	src   []byte
	mtime time.Time
	// svcb holds the ServiceMode HTTPS and SVCB RRsets that services
	// answer from health (nil in a zone without any).
	svcb map[svcbKey]svcbRef
}

// node holds what one owner name has. A zone has a node per name, so it
// holds only what most names need; the rest is in more.
type node struct {
	rrsets typedSets
	svc    *Service  // a service's name: its A and AAAA follow health
	more   *nodeMore // nil for most names (node.go)
	cut    bool      // NS below the apex: a delegation
}

// typedSets are a name's RRsets by type: a name has a handful of types, so
// a slice costs a fraction of a map's memory (a map is over 300 bytes even
// with one entry) and is as quick to search.
type typedSets []typedSet

type typedSet struct {
	t   uint16
	set []dns.RR
	// wa is the RRset's reply packed at load for the fast path, answered
	// as asked; nil where its additional data follows health (packed with
	// a service's answers) or before the zone is packed.
	wa *wire.Answer
}

// get returns the RRset of type t, nil if none.
func (ts typedSets) get(t uint16) []dns.RR {
	for i := range ts {
		if ts[i].t == t {
			return ts[i].set
		}
	}
	return nil
}

// wire returns the packed reply of the RRset of type t, nil if none.
func (ts typedSets) wire(t uint16) *wire.Answer {
	for i := range ts {
		if ts[i].t == t {
			return ts[i].wa
		}
	}
	return nil
}

// add appends rr to the RRset of its type, making the set if it is the first.
func (ts *typedSets) add(rr dns.RR) {
	t := rr.Header().Rrtype
	for i := range *ts {
		if (*ts)[i].t == t {
			(*ts)[i].set = append((*ts)[i].set, rr)
			return
		}
	}
	if *ts == nil {
		*ts = make(typedSets, 0, 1) // most names have one type
	}
	*ts = append(*ts, typedSet{t: t, set: []dns.RR{rr}})
}

// setWire sets the packed reply of the RRset of type t.
func (ts typedSets) setWire(t uint16, wa *wire.Answer) {
	for i := range ts {
		if ts[i].t == t {
			ts[i].wa = wa
			return
		}
	}
}

func newZone(origin, file string) *Zone {
	return &Zone{origin: origin, file: file, nodes: map[string]*node{}, lines: map[nameType]int{}}
}

// Origin returns the zone's apex name.
func (z *Zone) Origin() string { return z.origin }

// File returns the file the zone was loaded from.
func (z *Zone) File() string { return z.file }

func (z *Zone) node(name string) *node {
	n, ok := z.nodes[name]
	if !ok {
		n = &node{}
		z.nodes[name] = n
	}
	return n
}

// insert adds a record without validation: the zone's own SOA and NS.
func (z *Zone) insert(rr dns.RR) {
	h := rr.Header()
	h.Name = dns.CanonicalName(h.Name)
	n := z.node(h.Name)
	for _, o := range n.rrsets.get(h.Rrtype) {
		if dns.IsDuplicate(o, rr) {
			return
		}
	}
	n.rrsets.add(rr)
	if rr, ok := rr.(*dns.SOA); ok {
		z.soa = rr
	}
}

// insertStatic adds a record from the records block, rejecting what an
// authoritative server must not serve.
func (z *Zone) insertStatic(rr dns.RR, line int, errs *fileerr.List) {
	h := rr.Header()
	h.Name = dns.CanonicalName(h.Name)
	switch {
	case h.Class != dns.ClassINET:
		errs.Addf(line, "records: %s: only class IN is served", h.Name)
		return
	case !dns.IsSubDomain(z.origin, h.Name):
		errs.Addf(line, "records: %s is outside the zone %s", h.Name, z.origin)
		return
	case h.Rrtype == dns.TypeSOA:
		errs.Addf(line, "records: the SOA is set by the soa key, not in records")
		return
	case h.Rrtype == dns.TypeRRSIG || h.Rrtype == dns.TypeNSEC || h.Rrtype == dns.TypeNSEC3 ||
		h.Rrtype == dns.TypeNSEC3PARAM || h.Rrtype == dns.TypeDNSKEY:
		errs.Addf(line, "records: %s records are not supported: hadns does not sign zones from their records; a `dnssec` line in the Corefile signs the zone", dns.TypeToString[h.Rrtype])
		return
	}
	n := z.node(h.Name)
	if set := n.rrsets.get(h.Rrtype); len(set) > 0 && set[0].Header().Ttl != h.Ttl {
		errs.Addf(line, "records: %s %s: TTL %d differs from %d on line %d; an RRset has one TTL (RFC 2181)",
			h.Name, dns.TypeToString[h.Rrtype], h.Ttl, set[0].Header().Ttl, z.line(h.Name, h.Rrtype))
		return
	}
	if h.Rrtype == dns.TypeCNAME && len(n.rrsets.get(dns.TypeCNAME)) > 0 {
		errs.Addf(line, "records: %s has more than one CNAME", h.Name)
		return
	}
	if h.Rrtype == dns.TypeDNAME && len(n.rrsets.get(dns.TypeDNAME)) > 0 {
		errs.Addf(line, "records: %s has more than one DNAME (RFC 6672 2.4)", h.Name)
		return
	}
	had := len(n.rrsets.get(h.Rrtype))
	z.insert(rr)
	if had == 0 {
		z.setLine(h.Name, h.Rrtype, line)
	}
}

// finish checks the zone as a whole and adds the empty non-terminals.
func (z *Zone) finish(errs *fileerr.List) {
	if z.soa == nil {
		return
	}
	neg := dns.Copy(z.soa).(*dns.SOA)
	neg.Hdr.Ttl = min(z.soa.Hdr.Ttl, z.soa.Minttl)
	z.negSOA = []dns.RR{neg}
	z.apexNS = z.nodes[z.origin].rrsets.get(dns.TypeNS)

	names := make([]string, 0, len(z.nodes))
	for name := range z.nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		n := z.nodes[name]
		if cn := n.rrsets.get(dns.TypeCNAME); len(cn) > 0 {
			if name == z.origin {
				errs.Addf(z.line(name, dns.TypeCNAME), "records: a CNAME at the zone apex is not allowed")
			}
			if len(n.rrsets) > 1 || n.svc != nil || n.srvOwner() != nil {
				errs.Addf(z.line(name, dns.TypeCNAME), "records: %s has a CNAME and other data (RFC 1034 3.6.2)", name)
			}
		}
		if name != z.origin && len(n.rrsets.get(dns.TypeNS)) > 0 {
			n.cut = true
			if n.svc != nil || n.srvOwner() != nil {
				errs.Addf(z.line(name, dns.TypeNS), "records: %s is delegated and also a service name", name)
			}
		}
		// Empty non-terminals: every ancestor up to the origin exists.
		for p := parent(name); p != "" && dns.IsSubDomain(z.origin, p) && p != name; p = parent(p) {
			if _, ok := z.nodes[p]; ok {
				break
			}
			z.nodes[p] = &node{}
		}
	}
	// A DNAME's owner has no descendants (RFC 6672 2.3): they would never
	// be answered, every name below being substituted.
	for _, name := range names {
		if len(z.nodes[name].rrsets.get(dns.TypeDNAME)) == 0 {
			continue
		}
		z.hasDNAME = true
		for _, below := range names {
			if below == name || !dns.IsSubDomain(name, below) {
				continue
			}
			if line := z.firstLine(below); line > 0 {
				errs.Addf(line, "records: %s is below the DNAME at %s, which gives it no descendants (RFC 6672 2.3)", below, name)
			}
		}
	}
	// Services below a delegation would never be answered.
	for _, name := range names {
		if z.nodes[name].svc == nil && z.nodes[name].srvOwner() == nil {
			continue
		}
		if cut := z.cutAbove(name); cut != "" {
			errs.Addf(z.nodes[name].svcLine(), "service name %s is below the delegation at %s", name, cut)
		}
	}
	// Additional sections are fixed once the zone is: compute them once.
	for name, n := range z.nodes {
		for _, t := range []uint16{dns.TypeNS, dns.TypeMX, dns.TypeSRV} {
			if set := n.rrsets.get(t); len(set) > 0 {
				m := n.moreFields()
				if m.extra == nil {
					m.extra = map[uint16][]dns.RR{}
				}
				var svcs []*Service
				m.extra[t], svcs = z.additional(set, n.cut && t == dns.TypeNS)
				if len(svcs) > 0 {
					if m.extraSvc == nil {
						m.extraSvc = map[uint16][]*Service{}
						m.depIdx = map[uint16]int{}
					}
					m.extraSvc[t] = svcs
				}
				if len(svcs) == 1 {
					m.depIdx[t] = len(svcs[0].deps)
					svcs[0].deps = append(svcs[0].deps, depRRset{owner: name, qtype: t, set: set, extra: m.extra[t], cut: n.cut && t == dns.TypeNS})
				}
			}
		}
	}
	z.packStatic()
	// An in-zone nameserver needs an address, or resolvers cannot reach it.
	for _, rr := range z.apexNS {
		target := rr.(*dns.NS).Ns
		if !dns.IsSubDomain(z.origin, target) {
			continue
		}
		if len(z.addrs(target)) == 0 {
			errs.Addf(z.nsLine, "nameserver %s is inside the zone but has no A or AAAA record", target)
		}
	}
}

// firstLine is the line of a record or service at name, 0 for none.
func (z *Zone) firstLine(name string) int {
	n := z.nodes[name]
	if l := n.svcLine(); l > 0 {
		return l
	}
	line := 0
	for _, ts := range n.rrsets {
		if l := z.line(name, ts.t); line == 0 || l > 0 && l < line {
			line = l
		}
	}
	return line
}

func (n *node) svcLine() int {
	if n.svc != nil {
		return n.svc.line
	}
	if s := n.srvOwner(); s != nil {
		return s.line
	}
	return 0
}

// parent returns name without its first label, or "" at the root.
func parent(name string) string {
	off, end := dns.NextLabel(name, 0)
	if end {
		return ""
	}
	return name[off:]
}

// cutAbove returns the closest delegation point at or above name (below the
// apex), or "".
func (z *Zone) cutAbove(name string) string {
	found := ""
	for n := name; n != z.origin && n != ""; n = parent(n) {
		if nd, ok := z.nodes[n]; ok && nd.cut {
			found = n // keep walking: the highest cut wins
		}
	}
	return found
}

// addrs returns the static A and AAAA records at name, or the addresses a
// service answers with.
func (z *Zone) addrs(name string) []dns.RR {
	n, ok := z.nodes[name]
	if !ok {
		return nil
	}
	out := make([]dns.RR, 0, len(n.rrsets.get(dns.TypeA))+len(n.rrsets.get(dns.TypeAAAA)))
	out = append(out, n.rrsets.get(dns.TypeA)...)
	out = append(out, n.rrsets.get(dns.TypeAAAA)...)
	if len(out) == 0 && n.svc != nil {
		out = append(out, n.svc.configuredAddrs()...)
	}
	return out
}
