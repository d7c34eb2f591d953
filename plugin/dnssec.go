package hadns

import (
	"fmt"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/dnssec"
	"github.com/hadns/hadns/internal/zone"
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
	d := &dnssecConfig{zones: map[string]*zone.Signer{}, clock: healthcheck.SystemClock{}}
	for _, l := range o.lines {
		s, err := dnssec.NewSigner(l.zone, l.keys, dnssec.Options{Validity: o.validity, Refresh: o.refresh, Published: l.publish})
		if err != nil {
			return nil, fmt.Errorf("%s:%d - Error during parsing: %v", o.file, l.line, err)
		}
		d.zones[l.zone] = zone.NewSigner(s, func() time.Time { return d.clock.Now() })
	}
	return d, nil
}

// dnssecConfig is the signing of one hadns block: a signer per signed zone.
type dnssecConfig struct {
	zones map[string]*zone.Signer // by origin; read-only once parsed
	clock healthcheck.Clock       // signing time and the refresh timer; tests inject one

	// built holds, for each signed zone the engine serves, the signed twins
	// of its static replies, for resign. Guarded by the engine's mutex.
	built map[*zone.Zone][]zone.StaticTwin
}

// signerFor returns the signer of the zone with origin, nil if unsigned.
func (d *dnssecConfig) signerFor(origin string) *zone.Signer {
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

// signZones signs the zones of snap that are not yet: it adds the DNSKEY,
// CDS and CDNSKEY RRsets at the apex and gives every static reply its
// signed twin. It runs in install, under the engine's mutex, before snap is
// published; zones no longer served are forgotten.
func (e *engine) signZones(snap *snapshot) {
	d := e.cfg.dnssec
	if d == nil {
		return
	}
	built := map[*zone.Zone][]zone.StaticTwin{}
	now := d.clock.Now()
	for _, z := range snap.zones {
		zs := d.zones[z.Origin()]
		if zs == nil {
			continue
		}
		if twins, ok := d.built[z]; ok {
			built[z] = twins
			continue
		}
		twins, err := zs.SignZone(z, now)
		if err != nil {
			// Not expected once the keys passed their self-test: the
			// zone is served without signed variants, and says why.
			log.Errorf("zone %s: signing failed, answers go out unsigned: %v", z.Origin(), err)
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

// signAnswers gives every packed reply of a service's new answers its
// signed twin, before they are published.
func (e *engine) signAnswers(s *zone.Service, set *zone.AnswerSet, snap *snapshot) {
	z := snap.zoneFor(s.Name())
	if z == nil {
		return
	}
	if zs := e.cfg.dnssec.signerFor(z.Origin()); zs != nil {
		if err := zs.SignAnswers(s, set, zs.Now()); err != nil {
			log.Errorf("service %s: signing failed, its answers go out unsigned: %v", s.Name(), err)
		}
	}
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
	made := map[string]uint64{}
	for origin, zs := range d.zones {
		zs.NewPass()
		made[origin] = zs.Made()
	}
	defer func() {
		for origin, zs := range d.zones {
			log.Infof("dnssec %s: re-signed what was due: %d signatures made", origin, zs.Made()-made[origin])
		}
	}()
	for z, twins := range d.built {
		if err := d.zones[z.Origin()].ResignZone(z, twins, now); err != nil {
			log.Errorf("zone %s: re-signing failed: %v", z.Origin(), err)
		}
	}
	for _, z := range e.snap.zones {
		if d.zones[z.Origin()] == nil {
			continue
		}
		for _, s := range z.Services() {
			e.recompute(s, e.snap)
		}
	}
}

// signLoop re-signs every resignEvery until done is closed.
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
func (h *Hadns) signed(z *zone.Zone, qname string, qtype uint16, res zone.Reply) zone.Reply {
	if tw := res.Wire.Signed(); tw != nil {
		sr := tw.Load()
		res.Wire, res.Answer, res.Ns, res.Extra = sr.Wire, sr.Answer, sr.Ns, sr.Extra
		return res
	}
	zs := h.dnssec.signerFor(z.Origin())
	if zs == nil {
		return res
	}
	res.Wire = nil
	out, err := zs.SignGeneral(z, qname, qtype, res)
	if err != nil {
		log.Errorf("signing the answer to %s/%s failed: %v", qname, dns.TypeToString[qtype], err)
		return zone.Reply{Result: zone.ServerFailure}
	}
	return out
}

// signs reports whether the zone z is signed.
func (d *dnssecConfig) signs(z *zone.Zone) bool { return d.signerFor(z.Origin()) != nil }
