package hadns

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/dnssec"
)

// The signing of one zone's answers: what knows the zone model and the
// answers, and nothing of CoreDNS or the engine (dnssec.go).

// Sizes of a zone's signature caches (slots; a new entry replaces the one
// in its slot). sets holds the engine's precomputed signatures, so a
// re-sign finds the ones not yet due; onDemand those made per query.
const (
	setsCacheSlots     = 1 << 16
	onDemandCacheSlots = 1 << 12
)

// zoneSigner signs one zone's answers. Its caches are lock-free: the query
// path reads and fills onDemand.
type zoneSigner struct {
	*dnssec.Signer
	now      func() time.Time // the signing time; tests inject a clock
	sets     sigCache[*dns.RRSIG]
	onDemand sigCache[*dns.RRSIG]
	denials  sigCache[denial]
}

type denial struct {
	nsec *dns.NSEC
	sig  *dns.RRSIG
}

func newZoneSigner(s *dnssec.Signer, now func() time.Time) *zoneSigner {
	return &zoneSigner{
		Signer:   s,
		now:      now,
		sets:     newSigCache[*dns.RRSIG](setsCacheSlots),
		onDemand: newSigCache[*dns.RRSIG](onDemandCacheSlots),
		denials:  newSigCache[denial](onDemandCacheSlots),
	}
}

// sigCache is a bounded, lock-free cache: a fixed table of slots indexed by
// the key's hash, each holding one entry, which a new key replaces.
type sigCache[V any] struct {
	slots []atomic.Pointer[cacheEntry[V]]
}

type cacheEntry[V any] struct {
	key [sha256.Size]byte
	v   V
}

func newSigCache[V any](n int) sigCache[V] {
	return sigCache[V]{slots: make([]atomic.Pointer[cacheEntry[V]], n)}
}

func (c *sigCache[V]) slot(key *[sha256.Size]byte) *atomic.Pointer[cacheEntry[V]] {
	i := (uint(key[0]) | uint(key[1])<<8 | uint(key[2])<<16 | uint(key[3])<<24) % uint(len(c.slots))
	return &c.slots[i]
}

func (c *sigCache[V]) get(key *[sha256.Size]byte) (V, bool) {
	if e := c.slot(key).Load(); e != nil && e.key == *key {
		return e.v, true
	}
	var zero V
	return zero, false
}

func (c *sigCache[V]) put(key *[sha256.Size]byte, v V) {
	c.slot(key).Store(&cacheEntry[V]{key: *key, v: v})
}

// setKey identifies an RRset by content: owner, type, TTL and data, in any
// order (an RRSIG covers the set sorted), so the rotations of one pool and
// the same answer in several sites share a signature.
func setKey(set []dns.RR) [sha256.Size]byte {
	lines := make([]string, len(set))
	for i, rr := range set {
		lines[i] = strings.ToLower(rr.Header().Name) + "\t" + rr.String()
	}
	slices.Sort(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// sig returns the RRSIG over set, valid at now and not due for refresh:
// from the caches, or made now. The engine (engine true) keeps what it
// makes in sets; the query path in onDemand.
func (zs *zoneSigner) sig(set []dns.RR, now time.Time, engine bool) (*dns.RRSIG, error) {
	key := setKey(set)
	if s, ok := zs.sets.get(&key); ok && !zs.NeedsRefresh(s, now) {
		return s, nil
	}
	if !engine {
		if s, ok := zs.onDemand.get(&key); ok && !zs.NeedsRefresh(s, now) {
			return s, nil
		}
	}
	s, err := zs.Sign(set, now)
	if err != nil {
		return nil, err
	}
	if engine {
		zs.sets.put(&key, s)
	} else {
		zs.onDemand.put(&key, s)
	}
	return s, nil
}

// signSection returns rrs with each RRset followed by its RRSIG. Records of
// one RRset are brought together. Left unsigned, as RFC 4035 2.2 and RFC
// 6672 5.3.1 ask: an NS set at a delegation and glue below it (z says where
// the cuts are; nil for replies that hold none), a CNAME synthesized from a
// DNAME, RRSIGs, and what is outside the zone.
func (zs *zoneSigner) signSection(z *Zone, rrs []dns.RR, now time.Time, engine bool) ([]dns.RR, error) {
	if len(rrs) == 0 {
		return rrs, nil
	}
	var sets [][]dns.RR
	for _, rr := range rrs {
		i := slices.IndexFunc(sets, func(set []dns.RR) bool { return sameRRset(set[0], rr) })
		if i < 0 {
			sets = append(sets, []dns.RR{rr})
		} else {
			sets[i] = append(sets[i], rr)
		}
	}
	out := make([]dns.RR, 0, len(rrs)+len(sets))
	for _, set := range sets {
		out = append(out, set...)
		if !zs.signable(z, set[0], rrs) {
			continue
		}
		s, err := zs.sig(set, now, engine)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out[:len(out):len(out)], nil
}

func (zs *zoneSigner) signable(z *Zone, rr dns.RR, section []dns.RR) bool {
	h := rr.Header()
	owner := dns.CanonicalName(h.Name)
	switch {
	case h.Rrtype == dns.TypeRRSIG || h.Rrtype == dns.TypeOPT:
		return false
	case !dns.IsSubDomain(zs.Zone(), owner):
		return false
	case z != nil && h.Rrtype != dns.TypeDS && z.cutAbove(owner) != "":
		return false
	case h.Rrtype == dns.TypeCNAME:
		for _, d := range section {
			if d.Header().Rrtype == dns.TypeDNAME && owner != dns.CanonicalName(d.Header().Name) && dns.IsSubDomain(dns.CanonicalName(d.Header().Name), owner) {
				return false
			}
		}
	}
	return true
}

// reply signs res, the reply to owner and qtype, and packs it.
func (zs *zoneSigner) reply(owner string, qtype uint16, res lookupResult, now time.Time) (*signedReply, error) {
	sr := &signedReply{}
	var err error
	if sr.answer, err = zs.signSection(nil, res.answer, now, true); err != nil {
		return nil, err
	}
	if sr.ns, err = zs.signSection(nil, res.ns, now, true); err != nil {
		return nil, err
	}
	if sr.extra, err = zs.signSection(nil, res.extra, now, true); err != nil {
		return nil, err
	}
	res.answer, res.ns, res.extra = sr.answer, sr.ns, sr.extra
	sr.wa = packWire(owner, qtype, res, nil)
	return sr, nil
}

// twin gives wa, the packed reply to owner and qtype with res, its signed
// twin. wa must not be published yet.
func (zs *zoneSigner) twin(wa *wireAnswer, owner string, qtype uint16, res lookupResult, now time.Time) error {
	sr, err := zs.reply(owner, qtype, res, now)
	if err != nil {
		return err
	}
	wa.signed = &signedTwin{}
	wa.signed.cur.Store(sr)
	return nil
}

// staticTwin is a static reply's twin and what it signs, for resign.
type staticTwin struct {
	twin  *signedTwin
	owner string
	qtype uint16
	res   lookupResult
}

// signZone adds the apex key records to z and makes its static twins.
func (zs *zoneSigner) signZone(z *Zone, now time.Time) ([]staticTwin, error) {
	apex := z.nodes[z.origin]
	ttl := z.soa.Hdr.Ttl
	for _, set := range [][]dns.RR{zs.DNSKEY(ttl), zs.CDS(ttl), zs.CDNSKEY(ttl)} {
		t := set[0].Header().Rrtype
		if len(apex.rrsets.get(t)) > 0 {
			continue // the zone file's own CDS or CDNSKEY, e.g. during a KSK rollover
		}
		for _, rr := range set {
			apex.rrsets.add(rr)
		}
		apex.wire = append(apex.wire, typedWire{t, packWire(z.origin, t, lookupResult{result: Success, answer: set}, nil)})
	}
	var twins []staticTwin
	for name, n := range z.nodes {
		below := z.cutAbove(name) != ""
		for _, tw := range n.wire {
			if tw.wa == nil || below && tw.t != dns.TypeDS {
				continue // at or below a cut only the DS is the zone's own
			}
			st := staticTwin{owner: name, qtype: tw.t, res: lookupResult{result: Success, answer: n.rrsets.get(tw.t), extra: n.extra[tw.t]}}
			if err := zs.twin(tw.wa, name, tw.t, st.res, now); err != nil {
				return twins, err
			}
			st.twin = tw.wa.signed
			twins = append(twins, st)
		}
	}
	// The SOA of negative answers, signed now so queries find it.
	if _, err := zs.sig(z.negSOA, now, true); err != nil {
		return twins, err
	}
	return twins, nil
}

// signAnswers gives every packed reply of a service's new answers its
// signed twin; set must not be published yet.
func (zs *zoneSigner) signAnswers(s *service, set *answerSet, now time.Time) error {
	for i := range set.bySite {
		sa := &set.bySite[i]
		if err := zs.twinAnswer(&sa.a, s.name, dns.TypeA, now); err != nil {
			return err
		}
		if err := zs.twinAnswer(&sa.aaaa, s.name, dns.TypeAAAA, now); err != nil {
			return err
		}
		for j := range sa.srv {
			if err := zs.twinAnswer(&sa.srv[j], s.srv[j].name, dns.TypeSRV, now); err != nil {
				return err
			}
		}
		for j, d := range sa.deps {
			if d.wire == nil {
				continue
			}
			dep := s.deps[j]
			if err := zs.twin(d.wire, dep.owner, dep.qtype, lookupResult{result: Success, answer: dep.set, extra: d.extra}, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// resignZone signs the static twins of z again at now: the signatures
// not yet due come from the cache.
func (zs *zoneSigner) resignZone(z *Zone, twins []staticTwin, now time.Time) error {
	for _, st := range twins {
		sr, err := zs.reply(st.owner, st.qtype, st.res, now)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", st.owner, dns.TypeToString[st.qtype], err)
		}
		st.twin.cur.Store(sr)
	}
	if _, err := zs.sig(z.negSOA, now, true); err != nil {
		return fmt.Errorf("the SOA: %w", err)
	}
	return nil
}

// twinAnswer signs each rotation of a positive answer. Negative ones share
// the zone's NODATA and are signed per query, with their denial.
func (zs *zoneSigner) twinAnswer(ra *rrAnswer, owner string, qtype uint16, now time.Time) error {
	if ra.result != Success {
		return nil
	}
	for i, rot := range ra.rotations {
		if i >= len(ra.wire) || ra.wire[i] == nil {
			continue
		}
		res := lookupResult{result: Success, answer: rot, extra: ra.extra, degraded: ra.degraded}
		if err := zs.twin(ra.wire[i], owner, qtype, res, now); err != nil {
			return err
		}
	}
	return nil
}

// signGeneral signs an answer that is not precomputed. A name that does
// not exist gets compact denial (RFC 9824): NOERROR, no answer, and an NSEC
// owned by the name whose bitmap holds NXNAME; a name without the type an
// NSEC whose bitmap lists what the name has. A referral carries the DS at
// the cut, or the NSEC that proves there is none (RFC 4035 3.1.4).
func (zs *zoneSigner) signGeneral(z *Zone, qname string, qtype uint16, res lookupResult) (lookupResult, error) {
	now := zs.now()
	var err error
	if res.answer, err = zs.signSection(z, res.answer, now, false); err != nil {
		return res, err
	}
	if res.extra, err = zs.signSection(z, res.extra, now, false); err != nil {
		return res, err
	}
	// The name the answer ends at: the query name, or a CNAME chain's last
	// target.
	final := qname
	if n := len(res.answer); n > 0 {
		for i := n - 1; i >= 0; i-- {
			if c, ok := res.answer[i].(*dns.CNAME); ok {
				final = dns.CanonicalName(c.Target)
				break
			}
			if res.answer[i].Header().Rrtype != dns.TypeRRSIG {
				break
			}
		}
	}
	switch res.result {
	case NameError, NoData:
		exists := res.result == NoData
		var types []uint16
		if exists {
			types = typesAt(z, final)
			types = slices.DeleteFunc(types, func(t uint16) bool { return t == qtype })
		}
		ns, err := zs.signSection(z, res.ns, now, false)
		if err != nil {
			return res, err
		}
		dn, err := zs.denial(final, exists, types, z.negSOA[0].Header().Ttl, now)
		if err != nil {
			return res, err
		}
		res.ns = append(ns[:len(ns):len(ns)], dn.nsec, dn.sig)
		res.result = NoData
	case Delegation:
		cut := dns.CanonicalName(res.ns[0].Header().Name)
		ns := slices.Clip(res.ns)
		if ds := z.nodes[cut].rrsets.get(dns.TypeDS); len(ds) > 0 {
			s, err := zs.sig(ds, now, false)
			if err != nil {
				return res, err
			}
			ns = append(append(ns, ds...), s)
		} else {
			dn, err := zs.denial(cut, true, typesAt(z, cut), z.negSOA[0].Header().Ttl, now)
			if err != nil {
				return res, err
			}
			ns = append(ns, dn.nsec, dn.sig)
		}
		res.ns = ns
	default:
		if res.ns, err = zs.signSection(z, res.ns, now, false); err != nil {
			return res, err
		}
	}
	return res, nil
}

// denial returns the compact denial for name, from the cache while its
// signature is not due.
func (zs *zoneSigner) denial(name string, exists bool, types []uint16, ttl uint32, now time.Time) (denial, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s %t %d %v", name, exists, ttl, types)
	var key [sha256.Size]byte
	h.Sum(key[:0])
	if d, ok := zs.denials.get(&key); ok && !zs.NeedsRefresh(d.sig, now) {
		return d, nil
	}
	nsec, sig, err := zs.Denial(name, exists, types, ttl, now)
	if err != nil {
		return denial{}, err
	}
	d := denial{nsec: nsec, sig: sig}
	zs.denials.put(&key, d)
	return d, nil
}

// typesAt returns the types a name in z has, for an NSEC bitmap: its own,
// or its wildcard's when a wildcard answers for it. At a delegation only
// the NS and DS are the zone's (RFC 4035 2.3). A service name has A and
// AAAA for the families of its backends, an SRV owner SRV.
func typesAt(z *Zone, name string) []uint16 {
	n, ok := z.nodes[name]
	if !ok {
		if n, ok = z.nodes["*."+z.closestEncloser(name)]; !ok {
			return nil
		}
	}
	var types []uint16
	if n.cut {
		types = append(types, dns.TypeNS)
		if len(n.rrsets.get(dns.TypeDS)) > 0 {
			types = append(types, dns.TypeDS)
		}
		return types
	}
	for _, ts := range n.rrsets {
		types = append(types, ts.t)
	}
	if n.svc != nil {
		for _, b := range n.svc.backends {
			if t := b.family(); !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	if n.srvOf != nil && !slices.Contains(types, dns.TypeSRV) {
		types = append(types, dns.TypeSRV)
	}
	return types
}
