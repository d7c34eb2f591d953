package dnssec

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Defaults for Options. A fresh signature is due for refresh after about 6
// days (Validity - Skew - Jitter - Refresh) and a due one still has 7 days of
// life, so a refresh can be almost a week late before any expired signature
// is served, and a resolver holding a signature just before its refresh still
// has a week before it expires.
const (
	DefaultValidity = 14 * 24 * time.Hour
	DefaultRefresh  = 7 * 24 * time.Hour
	DefaultJitter   = 24 * time.Hour
	DefaultSkew     = time.Hour
)

// Options set the lifetime of signatures. Zero fields take the defaults.
type Options struct {
	// Validity is the time from inception to expiration, before jitter.
	// Default 14 days.
	Validity time.Duration
	// Refresh: a signature is re-made once less than this remains before
	// its expiration. Default 7 days.
	Refresh time.Duration
	// Jitter: each signature's expiration is brought forward by a random
	// amount in [0, Jitter] so refreshes spread out. Default 1 day; a negative
	// value turns jitter off.
	Jitter time.Duration
	// Skew back-dates the inception for resolvers whose clock is behind.
	// Default 1 hour; a negative value turns it off.
	Skew time.Duration
	// Published are keys put in the DNSKEY RRset that sign nothing: a new
	// ZSK published ahead of its use, or an old one kept until its
	// signatures have left the caches (the pre-publish rollover of RFC 6781
	// 4.1.1.1). Same zone and algorithm as the signing keys.
	Published []*Key
}

func (o Options) withDefaults() Options {
	if o.Validity == 0 {
		o.Validity = DefaultValidity
	}
	if o.Refresh == 0 {
		o.Refresh = DefaultRefresh
	}
	switch {
	case o.Jitter == 0:
		o.Jitter = DefaultJitter
	case o.Jitter < 0:
		o.Jitter = 0
	}
	switch {
	case o.Skew == 0:
		o.Skew = DefaultSkew
	case o.Skew < 0:
		o.Skew = 0
	}
	return o
}

// maxValidity keeps expiration within RFC 1982 serial arithmetic of the
// inception (RFC 4034 3.1.5): beyond 68 years the order is ambiguous.
const maxValidity = 10 * 365 * 24 * time.Hour

func (o Options) check() error {
	if o.Validity < 0 || o.Refresh < 0 {
		return errors.New("validity and refresh must be positive")
	}
	if o.Validity > maxValidity {
		return fmt.Errorf("validity %s is longer than 10 years", o.Validity)
	}
	// A fresh signature must not be due at once: it lives Validity - Skew -
	// Jitter from now at least, and is due when Refresh remains.
	if life := o.Validity - o.Skew - o.Jitter; life <= o.Refresh {
		return fmt.Errorf("validity %s minus skew %s minus jitter %s must be longer than refresh %s", o.Validity, o.Skew, o.Jitter, o.Refresh)
	}
	return nil
}

// Signer signs RRsets of one zone. It is safe for concurrent use: it holds no
// state that changes after NewSigner.
type Signer struct {
	zone     string
	ksk, zsk *Key // the same key for a CSK
	opt      Options
	// jitter returns a random duration in [0, n]; tests replace it.
	jitter func(n time.Duration) time.Duration
}

// NewSigner returns a Signer for zone with either one KSK (flags 257) and
// one ZSK (flags 256), or a single key with flags 257 used as a combined
// signing key. All keys must be for zone and share one algorithm.
func NewSigner(zone string, keys []*Key, opt Options) (*Signer, error) {
	zone = dns.CanonicalName(zone)
	opt = opt.withDefaults()
	if err := opt.check(); err != nil {
		return nil, fmt.Errorf("dnssec options: %w", err)
	}
	s := &Signer{zone: zone, opt: opt, jitter: randomJitter}
	for _, k := range keys {
		if k.IsKSK() {
			if s.ksk != nil {
				return nil, fmt.Errorf("dnssec keys %s and %s: two KSKs (flags 257); give one KSK and one ZSK, or one combined key", s.ksk.File, k.File)
			}
			s.ksk = k
		} else {
			if s.zsk != nil {
				return nil, fmt.Errorf("dnssec keys %s and %s: two ZSKs (flags 256); give one KSK and one ZSK, or one combined key", s.zsk.File, k.File)
			}
			s.zsk = k
		}
	}
	switch {
	case s.ksk == nil && s.zsk == nil:
		return nil, fmt.Errorf("dnssec: no key for zone %q", zone)
	case s.ksk == nil:
		return nil, fmt.Errorf("dnssec key %s: a ZSK (flags 256) needs a KSK (flags 257) beside it", s.zsk.File)
	case s.zsk == nil:
		s.zsk = s.ksk // combined signing key
	}
	// RFC 6840 5.11: every algorithm in the DNSKEY set must sign every
	// RRset; two algorithms would mean signing everything twice.
	all := append(s.keys(), opt.Published...)
	for _, k := range all[1:] {
		if k.DNSKEY.Algorithm != s.ksk.DNSKEY.Algorithm {
			return nil, fmt.Errorf("dnssec keys %s and %s: algorithms %d and %d differ; all keys of a zone must use one algorithm",
				s.ksk.File, k.File, s.ksk.DNSKEY.Algorithm, k.DNSKEY.Algorithm)
		}
	}
	for i, k := range all {
		if owner := dns.CanonicalName(k.DNSKEY.Hdr.Name); owner != zone {
			return nil, fmt.Errorf("dnssec key %s: key is for zone %q, not %q", k.File, owner, zone)
		}
		for _, o := range all[:i] {
			if o.DNSKEY.PublicKey == k.DNSKEY.PublicKey {
				return nil, fmt.Errorf("dnssec keys %s and %s: the same key given twice", o.File, k.File)
			}
		}
	}
	return s, nil
}

func randomJitter(n time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(n) + 1))
}

// Zone returns the zone's name, lower case.
func (s *Signer) Zone() string { return s.zone }

// Options returns the options in force, defaults filled in.
func (s *Signer) Options() Options { return s.opt }

// keyFor returns the key that signs RRsets of type t.
func (s *Signer) keyFor(t uint16) *Key {
	switch t {
	case dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY:
		return s.ksk
	}
	return s.zsk
}

// Sign returns the RRSIG over rrset made at now: inception now - Skew,
// expiration inception + Validity - jitter. rrset must be one RRset (same
// owner, type and class) inside the zone; its first record's TTL becomes the
// RRSIG's TTL and original TTL. The records are not changed. A wildcard owner
// (*.x) is signed as such: the RRSIG's label count leaves out the "*".
func (s *Signer) Sign(rrset []dns.RR, now time.Time) (*dns.RRSIG, error) {
	if len(rrset) == 0 {
		return nil, errors.New("dnssec sign: empty RRset")
	}
	if !dns.IsRRset(rrset) {
		return nil, fmt.Errorf("dnssec sign %s: records differ in owner, type or class", rrset[0].Header().Name)
	}
	h := rrset[0].Header()
	if h.Rrtype == dns.TypeRRSIG {
		return nil, fmt.Errorf("dnssec sign %s: RRSIGs are not signed (RFC 4035 2.2)", h.Name)
	}
	if !dns.IsSubDomain(s.zone, h.Name) {
		return nil, fmt.Errorf("dnssec sign %s: not in zone %s", h.Name, s.zone)
	}
	k := s.keyFor(h.Rrtype)
	inception := now.Add(-s.opt.Skew)
	expiration := inception.Add(s.opt.Validity - s.jitter(s.opt.Jitter))
	sig := &dns.RRSIG{
		Hdr:        dns.RR_Header{Ttl: h.Ttl},
		Algorithm:  k.DNSKEY.Algorithm,
		KeyTag:     k.Tag,
		SignerName: s.zone,
		Inception:  uint32(inception.Unix()),
		Expiration: uint32(expiration.Unix()),
	}
	if err := sig.Sign(k.Signer, rrset); err != nil {
		return nil, fmt.Errorf("dnssec sign %s/%s: %w", h.Name, dns.TypeToString[h.Rrtype], err)
	}
	return sig, nil
}

// sigTime turns an RRSIG time field back into a time, taking the one within
// 68 years of now (RFC 4034 3.1.5 serial arithmetic).
func sigTime(v uint32, now time.Time) time.Time {
	n := now.Unix()
	return time.Unix(n+int64(int32(v-uint32(n))), 0)
}

// RefreshAt returns when sig is due to be re-made: Refresh before its
// expiration.
func (s *Signer) RefreshAt(sig *dns.RRSIG, now time.Time) time.Time {
	return sigTime(sig.Expiration, now).Add(-s.opt.Refresh)
}

// NeedsRefresh says whether sig must be re-made at now: less than Refresh
// remains, or it is not yet or no longer valid.
func (s *Signer) NeedsRefresh(sig *dns.RRSIG, now time.Time) bool {
	return !now.Before(s.RefreshAt(sig, now)) || !Valid(sig, now)
}

// Valid says whether now lies between sig's inception and expiration
// (RFC 4034 3.1.5, serial arithmetic). Unlike dns.RRSIG.ValidityPeriod it
// stays right when the 32-bit time field wraps in 2106.
func Valid(sig *dns.RRSIG, now time.Time) bool {
	return !now.Before(sigTime(sig.Inception, now)) && !now.After(sigTime(sig.Expiration, now))
}

// NextRefresh returns the earliest time one of sigs is due to be re-made
// (possibly already past), or the zero time if sigs is empty. nil entries are
// skipped. The plugin sets one timer to it.
func (s *Signer) NextRefresh(sigs []*dns.RRSIG, now time.Time) time.Time {
	var next time.Time
	for _, sig := range sigs {
		if sig == nil {
			continue
		}
		if t := s.RefreshAt(sig, now); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

// DNSKEY returns the apex DNSKEY RRset, owner the zone, with ttl: the
// signing keys, KSK first, then the published ones.
func (s *Signer) DNSKEY(ttl uint32) []dns.RR {
	var set []dns.RR
	for _, k := range append(s.keys(), s.opt.Published...) {
		set = append(set, s.withHeader(k.DNSKEY, ttl))
	}
	return set
}

// CDNSKEY returns the CDNSKEY RRset (RFC 7344) for the KSK.
func (s *Signer) CDNSKEY(ttl uint32) []dns.RR {
	c := s.ksk.DNSKEY.ToCDNSKEY()
	return []dns.RR{s.withHeader(c, ttl)}
}

// CDS returns the CDS RRset (RFC 7344) for the KSK, SHA-256 digest.
func (s *Signer) CDS(ttl uint32) []dns.RR {
	c := s.ksk.DNSKEY.ToDS(dns.SHA256).ToCDS()
	return []dns.RR{s.withHeader(c, ttl)}
}

// DS returns the DS record for the parent zone (SHA-256 digest of the KSK).
func (s *Signer) DS(ttl uint32) *dns.DS {
	ds := s.ksk.DNSKEY.ToDS(dns.SHA256)
	ds.Hdr.Name = s.zone
	ds.Hdr.Ttl = ttl
	return ds
}

// DSLines returns the DS record for the parent in presentation format, one
// line with a trailing newline, ready to paste into the parent zone.
func (s *Signer) DSLines(ttl uint32) string {
	var b strings.Builder
	b.WriteString(s.DS(ttl).String())
	b.WriteByte('\n')
	return b.String()
}

// keys returns the signing keys, KSK first, in a new slice.
func (s *Signer) keys() []*Key {
	if s.ksk == s.zsk {
		return []*Key{s.ksk}
	}
	return []*Key{s.ksk, s.zsk}
}

// withHeader returns a copy of rr with owner the zone and TTL ttl.
func (s *Signer) withHeader(rr dns.RR, ttl uint32) dns.RR {
	c := dns.Copy(rr)
	c.Header().Name = s.zone
	c.Header().Ttl = ttl
	c.Header().Class = dns.ClassINET
	return c
}

// sortedTypes returns types with extra added, sorted, without duplicates.
func sortedTypes(types []uint16, extra ...uint16) []uint16 {
	out := make([]uint16, 0, len(types)+len(extra))
	out = append(out, types...)
	out = append(out, extra...)
	slices.Sort(out)
	return slices.Compact(out)
}
