package hadns

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/dnssec"
)

// DNSSEC online signing of the precomputed answers. The signatures are made
// where the answers already are, off the query path: a zone's static RRsets
// when the engine installs the zone (signZones), each service answer when
// health changes (signAnswers). Each such reply gets a signed twin, packed
// beside it; a query with the DO bit takes the twin's bytes instead, and
// still only copies. What is not precomputed (negative answers, wildcard
// expansions, CNAME chains, referrals) is signed on demand from bounded
// caches (signGeneral). internal/dnssec does the cryptography and knows
// nothing of answers.

// dnssecOptions gathers the dnssec lines of a hadns block:
//
//	dnssec ZONE KEY... [publish KEY...]
//	dnssec_validity DURATION
//	dnssec_refresh DURATION
//
// KEY is the base name of a BIND key pair (K<zone>+<alg>+<tag>, with .key and
// .private beside it). Keys are read as the line is parsed, so a bad key
// names its line; the signers are made once the block is read, when the
// validity and refresh are known.
type dnssecOptions struct {
	file     string
	lines    []dnssecLine
	validity time.Duration
	refresh  time.Duration
	seen     map[string]int // dnssec_validity, dnssec_refresh → line
}

type dnssecLine struct {
	zone    string
	keys    []*dnssec.Key
	publish []*dnssec.Key
	line    int
}

func (o *dnssecOptions) parse(c *caddy.Controller, path func(string) string) error {
	o.file = c.File()
	opt := c.Val()
	args := c.RemainingArgs()
	if opt != "dnssec" {
		if o.seen == nil {
			o.seen = map[string]int{}
		}
		if _, dup := o.seen[opt]; dup {
			return c.Errf("%s given twice", opt)
		}
		o.seen[opt] = c.Line()
		if len(args) != 1 {
			return c.ArgErr()
		}
		d, err := time.ParseDuration(args[0])
		if err != nil || d <= 0 {
			return c.Errf("%s: %q is not a duration like 336h", opt, args[0])
		}
		if opt == "dnssec_validity" {
			o.validity = d
		} else {
			o.refresh = d
		}
		return nil
	}
	if len(args) < 2 {
		return c.Errf("dnssec: want ZONE KEY... [publish KEY...], KEY being a key file's base name")
	}
	if _, ok := dns.IsDomainName(args[0]); !ok {
		return c.Errf("dnssec: %q is not a zone name", args[0])
	}
	l := dnssecLine{zone: dns.CanonicalName(args[0]), line: c.Line()}
	for _, other := range o.lines {
		if other.zone == l.zone {
			return c.Errf("dnssec %s: the zone has keys on line %d already; give all its keys on one line", l.zone, other.line)
		}
	}
	publish := false
	for _, a := range args[1:] {
		if a == "publish" {
			if publish {
				return c.Errf("dnssec %s: publish given twice", l.zone)
			}
			publish = true
			continue
		}
		k, err := dnssec.ReadKey(path(a), l.zone)
		if err != nil {
			return c.Errf("%v", err)
		}
		if publish {
			l.publish = append(l.publish, k)
		} else {
			l.keys = append(l.keys, k)
		}
	}
	switch {
	case len(l.keys) == 0:
		return c.Errf("dnssec %s: no signing key before publish", l.zone)
	case publish && len(l.publish) == 0:
		return c.Errf("dnssec %s: publish needs at least one key", l.zone)
	}
	o.lines = append(o.lines, l)
	return nil
}

// config makes the signers; nil when the block signs nothing.
func (o *dnssecOptions) config() (*dnssecConfig, error) {
	if len(o.lines) == 0 {
		for opt, line := range o.seen {
			return nil, fmt.Errorf("%s:%d - Error during parsing: %s needs a `dnssec ZONE KEY...` line", o.file, line, opt)
		}
		return nil, nil
	}
	d := &dnssecConfig{zones: map[string]*zoneSigner{}, clock: healthcheck.SystemClock{}}
	for _, l := range o.lines {
		s, err := dnssec.NewSigner(l.zone, l.keys, dnssec.Options{Validity: o.validity, Refresh: o.refresh, Published: l.publish})
		if err != nil {
			return nil, fmt.Errorf("%s:%d - Error during parsing: %v", o.file, l.line, err)
		}
		d.zones[l.zone] = newZoneSigner(s, d)
	}
	return d, nil
}

// dnssecConfig is the signing of one hadns block: a signer per signed zone.
type dnssecConfig struct {
	zones map[string]*zoneSigner // by origin; read-only once parsed
	clock healthcheck.Clock      // signing time and the refresh timer; tests inject one

	// built holds, for each signed zone the engine serves, the signed twins
	// of its static replies, for resign. Guarded by the engine's mutex.
	built map[*Zone][]staticTwin
}

// signerFor returns the signer of the zone with origin, nil if unsigned.
func (d *dnssecConfig) signerFor(origin string) *zoneSigner {
	if d == nil {
		return nil
	}
	return d.zones[origin]
}

// resignEvery is how often the engine re-signs what is due. A signature is
// only ever reused while it is not due (more than Refresh before its
// expiration), and a new one is not due for Validity - Skew - Jitter -
// Refresh: re-signing at least that often, and at least every Refresh,
// replaces each signature before it expires, whenever it was made.
func (d *dnssecConfig) resignEvery() time.Duration {
	var every time.Duration
	for _, zs := range d.zones {
		o := zs.Options()
		e := min(o.Validity-o.Skew-o.Jitter-o.Refresh, o.Refresh)
		if every == 0 || e < every {
			every = e
		}
	}
	return every
}

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
	cfg      *dnssecConfig
	sets     sigCache[*dns.RRSIG]
	onDemand sigCache[*dns.RRSIG]
	denials  sigCache[denial]
}

type denial struct {
	nsec *dns.NSEC
	sig  *dns.RRSIG
}

func newZoneSigner(s *dnssec.Signer, d *dnssecConfig) *zoneSigner {
	return &zoneSigner{
		Signer:   s,
		cfg:      d,
		sets:     newSigCache[*dns.RRSIG](setsCacheSlots),
		onDemand: newSigCache[*dns.RRSIG](onDemandCacheSlots),
		denials:  newSigCache[denial](onDemandCacheSlots),
	}
}

func (zs *zoneSigner) now() time.Time { return zs.cfg.clock.Now() }

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

// signedTwin is the signed variant of a packed reply, for queries with the
// DO bit. The reply it stands beside never changes; its signatures are
// replaced before they expire (resign), so the variant is swapped whole.
type signedTwin struct {
	cur atomic.Pointer[signedReply]
}

// signedReply is a reply with its RRSIGs: packed, and as sections for the
// general path (a UDP reply whose answer does not fit, a writer that must
// see a message).
type signedReply struct {
	wa                *wireAnswer // nil if it did not pack
	answer, ns, extra []dns.RR
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

// signZones signs the zones of snap that are not yet: it adds the DNSKEY,
// CDS and CDNSKEY RRsets at the apex and gives every static reply its
// signed twin. It runs in install, under the engine's mutex, before snap is
// published; zones no longer served are forgotten.
func (e *engine) signZones(snap *snapshot) {
	d := e.cfg.dnssec
	if d == nil {
		return
	}
	built := map[*Zone][]staticTwin{}
	now := d.clock.Now()
	for _, z := range snap.zones {
		zs := d.zones[z.origin]
		if zs == nil {
			continue
		}
		if twins, ok := d.built[z]; ok {
			built[z] = twins
			continue
		}
		twins, err := zs.signZone(z, now)
		if err != nil {
			// Not expected once the keys passed their self-test: the
			// zone is served without signed variants, and says why.
			log.Errorf("zone %s: signing failed, answers go out unsigned: %v", z.origin, err)
		}
		built[z] = twins
	}
	for origin := range d.zones {
		if _, ok := snap.zones[origin]; !ok {
			log.Warningf("dnssec %s: no zone file has this origin", origin)
		}
	}
	d.built = built
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
// signed twin, before they are published.
func (e *engine) signAnswers(s *service, set *answerSet, snap *snapshot) {
	z := snap.zoneFor(s.name)
	if z == nil {
		return
	}
	zs := e.cfg.dnssec.signerFor(z.origin)
	if zs == nil {
		return
	}
	now := zs.now()
	err := func() error {
		for i := range set.bySite {
			sa := &set.bySite[i]
			for _, a := range []struct {
				ra    *rrAnswer
				owner string
				qtype uint16
			}{{&sa.a, s.name, dns.TypeA}, {&sa.aaaa, s.name, dns.TypeAAAA}} {
				if err := zs.twinAnswer(a.ra, a.owner, a.qtype, now); err != nil {
					return err
				}
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
	}()
	if err != nil {
		log.Errorf("service %s: signing failed, its answers go out unsigned: %v", s.name, err)
	}
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

// resign replaces the signatures that are due: the static twins of every
// signed zone served are signed again (those not due come from the cache),
// and the services of signed zones recompute, as on a health change.
func (e *engine) resign() {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.cfg.dnssec
	if d == nil || e.snap == nil {
		return
	}
	now := d.clock.Now()
	for z, twins := range d.built {
		zs := d.zones[z.origin]
		for _, st := range twins {
			sr, err := zs.reply(st.owner, st.qtype, st.res, now)
			if err != nil {
				log.Errorf("zone %s: re-signing %s/%s failed: %v", z.origin, st.owner, dns.TypeToString[st.qtype], err)
				continue
			}
			st.twin.cur.Store(sr)
		}
		if _, err := zs.sig(z.negSOA, now, true); err != nil {
			log.Errorf("zone %s: re-signing the SOA failed: %v", z.origin, err)
		}
	}
	for _, z := range e.snap.zones {
		if d.zones[z.origin] == nil {
			continue
		}
		for _, s := range z.services {
			e.recompute(s, e.snap)
		}
	}
}

// signLoop re-signs every resignEvery until ctx ends.
func (e *engine) signLoop(done <-chan struct{}) {
	d := e.cfg.dnssec
	if d == nil {
		return
	}
	every := d.resignEvery()
	t := d.clock.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C():
			e.resign()
			t.Reset(every)
		}
	}
}

// signed turns res, the answer to a query with the DO bit, into its signed
// form: the packed reply's twin where it has one (no allocation), else
// the records signed here.
func (h *Hadns) signed(z *Zone, qname string, qtype uint16, res lookupResult) lookupResult {
	if res.wire != nil && res.wire.signed != nil {
		sr := res.wire.signed.cur.Load()
		res.wire, res.answer, res.ns, res.extra = sr.wa, sr.answer, sr.ns, sr.extra
		return res
	}
	zs := h.dnssec.signerFor(z.origin)
	if zs == nil {
		return res
	}
	res.wire = nil
	out, err := zs.signGeneral(z, qname, qtype, res)
	if err != nil {
		log.Errorf("signing the answer to %s/%s failed: %v", qname, dns.TypeToString[qtype], err)
		return lookupResult{result: ServerFailure}
	}
	return out
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

// signs reports whether the zone z is signed.
func (d *dnssecConfig) signs(z *Zone) bool { return d.signerFor(z.origin) != nil }
