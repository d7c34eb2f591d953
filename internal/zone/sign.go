package zone

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/dnssec"
	"github.com/hadns/hadns/internal/wire"
)

// The signing of one zone's answers: what knows the zone model and the
// answers, and nothing of CoreDNS or the engine (plugin/dnssec.go).

// onDemandCacheSlots is the size of a zone's caches of what queries sign
// (slots; a new entry replaces the one in its slot).
const onDemandCacheSlots = 1 << 12

// maxSets bounds the engine's signature cache: beyond it, it starts over
// (and what is still served is signed again when next computed).
const maxSets = 1 << 20

// Signer signs one zone's answers. sets is the engine's: it keeps
// every signature of the precomputed answers, so that a health change or
// a re-sign signs only what is new or due, and is used under the engine's
// mutex only. The query path has caches of its own, lock-free.
type Signer struct {
	*dnssec.Signer
	now func() time.Time // the signing time; tests inject a clock

	sets map[[sha256.Size]byte]*setSig
	gen  uint64 // the re-sign pass; sets entries not used in this one or the last are dropped

	onDemand sigCache[*dns.RRSIG]
	denials  sigCache[denial]
	// negSOA is the SOA of negative answers and its RRSIG, for the zone
	// build signed last: negative answers take it as it is.
	negSOA atomic.Pointer[[]dns.RR]
	// made counts the signatures made, for the figures of what signing
	// costs.
	made atomic.Uint64
}

// sign makes the RRSIG over set at now, and counts it.
func (zs *Signer) sign(set []dns.RR, now time.Time) (*dns.RRSIG, error) {
	zs.made.Add(1)
	return zs.Sign(set, now)
}

type setSig struct {
	sig *dns.RRSIG
	gen uint64
}

type denial struct {
	nsec *dns.NSEC
	sig  *dns.RRSIG
}

// NewSigner returns the signer of one zone's answers with the keys of s,
// signing at the times now gives.
func NewSigner(s *dnssec.Signer, now func() time.Time) *Signer {
	return &Signer{
		Signer:   s,
		now:      now,
		sets:     map[[sha256.Size]byte]*setSig{},
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
// the same answer in several sites share a signature. Records are taken in
// wire form, uncompressed, owner lower case: cheaper than their text.
func setKey(set []dns.RR) [sha256.Size]byte {
	var buf [512]byte
	recs := make([][]byte, 0, len(set))
	for _, rr := range set {
		b := buf[:]
		if n := dns.Len(rr) + 2; n > len(b) {
			b = make([]byte, n)
		}
		n, err := dns.PackRR(rr, b, 0, nil, false)
		if err != nil {
			// Not expected for records that were parsed or made here;
			// their text identifies them as well.
			recs = append(recs, []byte(rr.String()))
			continue
		}
		rec := bytes.Clone(b[:n])
		// The owner, lower case: the first name in the record.
		for off := 0; off < len(rec) && rec[off] != 0; off += int(rec[off]) + 1 {
			lower(rec[off+1 : min(len(rec), off+1+int(rec[off]))])
		}
		recs = append(recs, rec)
	}
	slices.SortFunc(recs, bytes.Compare)
	h := sha256.New()
	for _, r := range recs {
		h.Write([]byte{byte(len(r) >> 8), byte(len(r))})
		h.Write(r)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func lower(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

// sig returns the RRSIG over set, valid at now and not due for refresh:
// from a cache, or made now. The engine (engine true) uses sets; the query
// path onDemand.
func (zs *Signer) sig(set []dns.RR, now time.Time, engine bool) (*dns.RRSIG, error) {
	key := setKey(set)
	if !engine {
		if s, ok := zs.onDemand.get(&key); ok && !zs.NeedsRefresh(s, now) {
			return s, nil
		}
		s, err := zs.sign(set, now)
		if err != nil {
			return nil, err
		}
		zs.onDemand.put(&key, s)
		return s, nil
	}
	if e, ok := zs.sets[key]; ok && !zs.NeedsRefresh(e.sig, now) {
		e.gen = zs.gen
		return e.sig, nil
	}
	s, err := zs.sign(set, now)
	if err != nil {
		return nil, err
	}
	if len(zs.sets) >= maxSets {
		clear(zs.sets)
	}
	zs.sets[key] = &setSig{sig: s, gen: zs.gen}
	return s, nil
}

// NewPass starts a re-sign pass: the signatures not used since the
// previous pass began are forgotten.
func (zs *Signer) NewPass() {
	for k, e := range zs.sets {
		if e.gen < zs.gen {
			delete(zs.sets, k)
		}
	}
	zs.gen++
}

// signSection returns rrs with each RRset followed by its RRSIG. Records of
// one RRset are brought together. Left unsigned, as RFC 4035 2.2 and RFC
// 6672 5.3.1 ask: an NS set at a delegation and glue below it (z says where
// the cuts are; nil for replies that hold none), a CNAME synthesized from a
// DNAME, RRSIGs, and what is outside the zone.
func (zs *Signer) signSection(z *Zone, rrs []dns.RR, now time.Time, engine bool) ([]dns.RR, error) {
	if len(rrs) == 0 {
		return rrs, nil
	}
	type setID struct {
		name string
		t    uint16
	}
	var sets [][]dns.RR
	index := make(map[setID]int, len(rrs))
	for _, rr := range rrs {
		h := rr.Header()
		id := setID{strings.ToLower(h.Name), h.Rrtype}
		if i, ok := index[id]; ok {
			sets[i] = append(sets[i], rr)
			continue
		}
		index[id] = len(sets)
		sets = append(sets, []dns.RR{rr})
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

func (zs *Signer) signable(z *Zone, rr dns.RR, section []dns.RR) bool {
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
func (zs *Signer) reply(owner string, qtype uint16, res Reply, now time.Time) (*wire.Signed, error) {
	sr := &wire.Signed{}
	var err error
	if sr.Answer, err = zs.signSection(nil, res.Answer, now, true); err != nil {
		return nil, err
	}
	if sr.Ns, err = zs.signSection(nil, res.Ns, now, true); err != nil {
		return nil, err
	}
	if sr.Extra, err = zs.signSection(nil, res.Extra, now, true); err != nil {
		return nil, err
	}
	res.Answer, res.Ns, res.Extra = sr.Answer, sr.Ns, sr.Extra
	sr.Wire = packWire(owner, qtype, res, nil)
	return sr, nil
}

// twin gives wa, the packed reply to owner and qtype with res, its signed
// twin. wa must not be published yet.
func (zs *Signer) twin(wa *wire.Answer, owner string, qtype uint16, res Reply, now time.Time) error {
	sr, err := zs.reply(owner, qtype, res, now)
	if err != nil {
		return err
	}
	t := &wire.Twin{}
	t.Store(sr)
	wa.SetSigned(t)
	return nil
}

// StaticTwin is a static reply's twin and what it signs, for resign.
type StaticTwin struct {
	twin  *wire.Twin
	owner string
	qtype uint16
	res   Reply
}

// SignZone adds the apex key records to z and makes its static twins.
func (zs *Signer) SignZone(z *Zone, now time.Time) ([]StaticTwin, error) {
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
		apex.rrsets.setWire(t, packWire(z.origin, t, Reply{Result: Success, Answer: set}, nil))
	}
	var twins []StaticTwin
	for name, n := range z.nodes {
		below := z.cutAbove(name) != ""
		for _, tw := range n.rrsets {
			if tw.wa == nil || below && tw.t != dns.TypeDS {
				continue // at or below a cut only the DS is the zone's own
			}
			st := StaticTwin{owner: name, qtype: tw.t, res: Reply{Result: Success, Answer: tw.set, Extra: n.extraFor(tw.t)}}
			if err := zs.twin(tw.wa, name, tw.t, st.res, now); err != nil {
				return twins, err
			}
			st.twin = tw.wa.Signed()
			twins = append(twins, st)
		}
	}
	return twins, zs.signNegSOA(z, now)
}

// SignAnswers gives every packed reply of a service's new answers its
// signed twin; set must not be published yet.
func (zs *Signer) SignAnswers(s *Service, set *AnswerSet, now time.Time) error {
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
		for j := range sa.svcb {
			if err := zs.twinAnswer(&sa.svcb[j], s.svcb[j].owner, s.svcb[j].rrtype, now); err != nil {
				return err
			}
		}
		for j, d := range sa.deps {
			if d.wire == nil {
				continue
			}
			dep := s.deps[j]
			if err := zs.twin(d.wire, dep.owner, dep.qtype, Reply{Result: Success, Answer: dep.set, Extra: d.extra}, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// ResignZone signs the static twins of z again at now: the signatures
// not yet due come from the cache.
func (zs *Signer) ResignZone(z *Zone, twins []StaticTwin, now time.Time) error {
	for _, st := range twins {
		sr, err := zs.reply(st.owner, st.qtype, st.res, now)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", st.owner, dns.TypeToString[st.qtype], err)
		}
		st.twin.Store(sr)
	}
	if err := zs.signNegSOA(z, now); err != nil {
		return fmt.Errorf("the SOA: %w", err)
	}
	return nil
}

// signNegSOA signs the SOA of z's negative answers, for queries to take.
func (zs *Signer) signNegSOA(z *Zone, now time.Time) error {
	sec, err := zs.signSection(nil, z.negSOA, now, true)
	if err != nil {
		return err
	}
	zs.negSOA.Store(&sec)
	return nil
}

// negative returns the authority section of a negative answer, signed:
// the one signed in advance while it is z's and not due, else signed now.
func (zs *Signer) negative(z *Zone, ns []dns.RR, now time.Time) ([]dns.RR, error) {
	if p := zs.negSOA.Load(); p != nil && len(ns) == 1 && len(*p) == 2 && (*p)[0] == ns[0] {
		if sig := (*p)[1].(*dns.RRSIG); !zs.NeedsRefresh(sig, now) {
			return *p, nil
		}
	}
	return zs.signSection(z, ns, now, false)
}

// twinAnswer signs each rotation of a positive answer. Negative ones share
// the zone's NODATA and are signed per query, with their denial.
func (zs *Signer) twinAnswer(ra *ServiceAnswer, owner string, qtype uint16, now time.Time) error {
	if ra.result != Success {
		return nil
	}
	for i, rot := range ra.rotations {
		if i >= len(ra.wire) || ra.wire[i] == nil {
			continue
		}
		res := Reply{Result: Success, Answer: rot, Extra: ra.extra, Degraded: ra.degraded}
		if err := zs.twin(ra.wire[i], owner, qtype, res, now); err != nil {
			return err
		}
	}
	return nil
}

// SignGeneral signs an answer that is not precomputed. A name that does
// not exist gets compact denial (RFC 9824): NOERROR, no answer, and an NSEC
// owned by the name whose bitmap holds NXNAME; a name without the type an
// NSEC whose bitmap lists what the name has. A referral carries the DS at
// the cut, or the NSEC that proves there is none (RFC 4035 3.1.4).
func (zs *Signer) SignGeneral(z *Zone, qname string, qtype uint16, res Reply) (Reply, error) {
	now := zs.now()
	var err error
	if res.Answer, err = zs.signSection(z, res.Answer, now, false); err != nil {
		return res, err
	}
	if res.Extra, err = zs.signSection(z, res.Extra, now, false); err != nil {
		return res, err
	}
	// The name the answer ends at: the query name, or a CNAME chain's last
	// target.
	final := qname
	if n := len(res.Answer); n > 0 {
		for i := n - 1; i >= 0; i-- {
			if c, ok := res.Answer[i].(*dns.CNAME); ok {
				final = dns.CanonicalName(c.Target)
				break
			}
			if res.Answer[i].Header().Rrtype != dns.TypeRRSIG {
				break
			}
		}
	}
	switch res.Result {
	case NameError, NoData:
		exists := res.Result == NoData
		var types []uint16
		if exists {
			types = typesAt(z, final)
			types = slices.DeleteFunc(types, func(t uint16) bool { return t == qtype })
		}
		ns, err := zs.negative(z, res.Ns, now)
		if err != nil {
			return res, err
		}
		dn, err := zs.denial(final, exists, types, z.negSOA[0].Header().Ttl, now)
		if err != nil {
			return res, err
		}
		if exists && qtype == dns.TypeNSEC {
			// The name's NSEC is the answer: it exists wherever the
			// zone answers.
			res.Answer = append(slices.Clip(res.Answer), dn.nsec, dn.sig)
			res.Ns, res.Result = nil, Success
			break
		}
		res.Ns = append(ns[:len(ns):len(ns)], dn.nsec, dn.sig)
		res.Result = NoData
	case Delegation:
		cut := dns.CanonicalName(res.Ns[0].Header().Name)
		ns := slices.Clip(res.Ns)
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
		res.Ns = ns
	default:
		if res.Ns, err = zs.signSection(z, res.Ns, now, false); err != nil {
			return res, err
		}
	}
	return res, nil
}

// denial returns the compact denial for name, from the cache while its
// signature is not due.
func (zs *Signer) denial(name string, exists bool, types []uint16, ttl uint32, now time.Time) (denial, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s %t %d %v", name, exists, ttl, types)
	var key [sha256.Size]byte
	h.Sum(key[:0])
	if d, ok := zs.denials.get(&key); ok && !zs.NeedsRefresh(d.sig, now) {
		return d, nil
	}
	zs.made.Add(1)
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
// AAAA for the families of its backends, an SRV owner SRV, an owner of a
// service's HTTPS or SVCB record that type.
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
			if t := b.Family(); !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	if n.srvOwner() != nil && !slices.Contains(types, dns.TypeSRV) {
		types = append(types, dns.TypeSRV)
	}
	return z.svcbTypes(name, types)
}
