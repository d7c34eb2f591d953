package zone

import (
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/fileerr"
	"github.com/hadns/hadns/internal/wire"
)

// Service is a name whose A, AAAA (and SRV at its SRV owners) answers are
// chosen from healthy backends. Its configuration is immutable; answers holds
// the current precomputed answer set, swapped whole when health changes.
type Service struct {
	name        string // absolute, lowercase
	srv         []SRVOwner
	ttl         uint32
	degradedTTL uint32
	port        uint16
	minHealthy  int
	maxAnswers  int
	weighted    bool // A/AAAA first places (and membership) follow weights
	onAllDown   string
	budget      time.Duration
	quorum      int // health: quorum N; 0 is local health (plugin/quorum.go decides)
	backends    []*Backend
	line        int
	file        string
	negSOA      []dns.RR     // the zone's, for the authority of empty answers
	noData      *wire.Answer // the zone's packed NODATA

	answers atomic.Pointer[AnswerSet]
	// rot spreads A/AAAA answers over the pool: each query takes the next rotation.
	rot atomic.Uint32
	// retired is set when a reload removed the service and its series
	// were deleted; a late query must not make them again.
	retired atomic.Bool
	// overrideSeries is set once an override metric series exists for a
	// backend; until then recomputes skip deleting series (guarded by the
	// engine's mutex).
	overrideSeries bool
	// deps are the static RRsets whose additional data is this service's
	// addresses (set when the zone is finished; see serviceExtra).
	deps []depRRset

	// svcb are the ServiceMode HTTPS and SVCB records, answered from
	// health (svcb_answers.go); svcbAlias the AliasMode ones, served as
	// static records.
	svcb      []*svcbRecord
	svcbAlias []svcbAlias
}

// SRVOwner is a name with SRV records for the service.
type SRVOwner struct {
	name string // absolute, lowercase
	port uint16 // 0: each backend's port
}

// Backend is one configured address of a service.
type Backend struct {
	addr      netip.Addr
	port      uint16 // effective port: the backend's own or the service's
	site      string
	weight    uint16
	target    string // SRV target name, absolute; "" (and no glue) for a service without SRV
	generated bool   // target is a name hadns made up and answers itself
	check     healthcheck.Target
	line      int

	a    dns.RR // the address record with owner = service name (TTL set per answer)
	glue dns.RR // the address record with owner = target
}

// Family returns the type of the backend's address record: A or AAAA.
func (b *Backend) Family() uint16 {
	if b.addr.Is4() {
		return dns.TypeA
	}
	return dns.TypeAAAA
}

// ID names the backend in logs, status and metrics: address, or address:port.
func (b *Backend) ID() string {
	if b.port == 0 {
		return b.addr.String()
	}
	return netip.AddrPortFrom(b.addr, b.port).String()
}

// owners returns every name the service answers at.
func (s *Service) owners() []string {
	out := []string{s.name}
	for _, o := range s.srv {
		out = append(out, o.name)
	}
	for _, r := range s.svcb {
		if !slices.Contains(out, r.owner) {
			out = append(out, r.owner)
		}
	}
	for _, a := range s.svcbAlias {
		if o := a.rr.Header().Name; !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// configuredAddrs returns the address records of every backend.
func (s *Service) configuredAddrs() []dns.RR {
	out := make([]dns.RR, 0, len(s.backends))
	for _, b := range s.backends {
		out = append(out, b.a)
	}
	return out
}

// generatedName is the in-zone SRV target of a backend without a hostname:
// its address with dots and colons as dashes, under the service name, so it
// stays the same when backends are reordered (127-0-1-1.api.example.test.).
func generatedName(addr netip.Addr, svcName string) string {
	s := addr.StringExpanded()
	if addr.Is4() {
		s = addr.String()
	}
	s = strings.NewReplacer(".", "-", ":", "-").Replace(s)
	return s + "." + svcName
}

func buildService(sc *serviceConfig, origin string, specs *healthcheck.Specs, errs *fileerr.List) *Service {
	if sc.Name == "" {
		errs.Addf(sc.line, "service needs a name")
		return nil
	}
	name := absName(sc.Name, origin)
	if !ValidName(name) || !dns.IsSubDomain(origin, name) {
		errs.Addf(sc.line, "service name %q is not a name inside %s", sc.Name, origin)
		return nil
	}
	if hasWildcardLabel(name) {
		// Answers carry the service name as their owner; a resolver drops
		// records owned by *.x in reply to foo.x (RFC 4592 synthesis is for
		// static records only). List the names instead.
		errs.Addf(sc.keyLine("name"), "service name %q: wildcard service names are not supported; list each name as a service", sc.Name)
		return nil
	}
	s := &Service{
		name:       name,
		ttl:        uint32(orDefault(sc.TTL, defaultServiceTTL)),
		port:       sc.Port,
		minHealthy: sc.MinHealthy,
		maxAnswers: sc.MaxAnswers,
		weighted:   sc.Weighted,
		onAllDown:  sc.OnAllDown,
		budget:     sc.FailoverBudget,
		line:       sc.line,
		file:       errs.File,
	}
	if q, err := parseHealthPolicy(sc.Health); err != nil {
		errs.Addf(sc.keyLine("health"), "service %s: %v", name, err)
	} else {
		s.quorum = q
	}
	s.degradedTTL = sc.DegradedTTL
	if s.degradedTTL == 0 {
		s.degradedTTL = max(s.ttl/2, 1)
	}
	if s.degradedTTL > s.ttl {
		errs.Addf(sc.keyLine("degraded_ttl"), "service %s: degraded_ttl %d is above ttl %d; degraded answers should expire sooner", name, s.degradedTTL, s.ttl)
	}
	if s.minHealthy == 0 {
		s.minHealthy = defaultMinHealthy
	}
	if s.maxAnswers == 0 {
		s.maxAnswers = defaultMaxAnswers
	}
	if s.minHealthy < 0 || s.maxAnswers < 0 {
		errs.Addf(sc.keyLine("min_healthy"), "service %s: min_healthy and max_answers must be positive", name)
	}
	if s.maxAnswers > maxMaxAnswers {
		errs.Addf(sc.keyLine("max_answers"), "service %s: max_answers %d is above %d: a UDP reply of 1232 bytes holds about 70 A or 40 AAAA records, and every rotation of the answer is kept in memory", name, s.maxAnswers, maxMaxAnswers)
	}
	switch s.onAllDown {
	case "":
		s.onAllDown = failOpen
	case failOpen, noData, servFail:
	default:
		errs.Addf(sc.keyLine("on_all_down"), "service %s: on_all_down %q is not one of fail_open, nodata, servfail", name, sc.OnAllDown)
	}
	for _, o := range sc.SRV {
		if !strings.HasPrefix(o.Name, "_") || dns.IsFqdn(o.Name) {
			errs.Addf(sc.keyLine("srv"), "service %s: srv owner %q should be relative to the service name and start with _ (like _http._tcp)", name, o.Name)
			continue
		}
		owner := dns.CanonicalName(o.Name + "." + name)
		if hasWildcardLabel(o.Name) {
			errs.Addf(sc.keyLine("srv"), "service %s: srv owner %q: wildcard names are not supported", name, o.Name)
			continue
		}
		if !ValidName(owner) {
			errs.Addf(sc.keyLine("srv"), "service %s: srv owner %q is not a valid name", name, o.Name)
			continue
		}
		s.srv = append(s.srv, SRVOwner{name: owner, port: o.Port})
	}
	if len(sc.Backends) == 0 {
		errs.Addf(sc.line, "service %s has no backends", name)
	}
	svcSpec, ok := decodeSpec(&sc.Check, healthcheck.Spec{}, errs)
	seen := map[string]int{}
	for i := range sc.Backends {
		bc := &sc.Backends[i]
		b, key, err := buildBackend(bc, s, origin)
		if err != nil {
			errs.Addf(keyLine(bc.node, key), "service %s: %v", name, err)
			continue
		}
		if l, dup := seen[b.ID()]; dup {
			errs.Addf(bc.line, "service %s: backend %s is listed twice (first on line %d)", name, b.ID(), l)
			continue
		}
		seen[b.ID()] = bc.line
		if b.port == 0 && slices.ContainsFunc(s.srv, func(o SRVOwner) bool { return o.port == 0 }) {
			errs.Addf(bc.line, "service %s: backend %s needs a port for SRV (set port on the service or the backend)", name, b.addr)
		}
		if spec, bok := decodeSpec(&bc.Check, svcSpec, errs); ok && bok {
			b.check = healthcheck.Target{Addr: netip.AddrPortFrom(b.addr, b.port), Spec: specs.Intern(spec)}
			if b.check.ProbeAddr().Port() == 0 {
				errs.Addf(bc.line, "service %s: backend %s has no port to check: set port on the service or backend, or check.port", name, b.addr)
			}
		}
		s.backends = append(s.backends, b)
	}
	for _, o := range s.srv {
		if n := s.FullSRVSize(o); n > dns.MaxMsgSize {
			errs.Addf(sc.line, "service %s: the SRV answer at %s with every backend healthy is %d bytes, more than the %d a DNS message can hold even over TCP; split the service or give it fewer backends", name, o.name, n, dns.MaxMsgSize)
		}
	}
	buildSVCB(sc, s, origin, errs)
	if s.budget > 0 {
		if worst := s.FailoverBound(); worst > s.budget {
			errs.Addf(sc.keyLine("failover_budget"), "service %s: worst-case failover %v (detection + TTL) exceeds failover_budget %v", name, worst, s.budget)
		}
	}
	return s
}

// hasWildcardLabel reports whether a name has a label that is just "*".
func hasWildcardLabel(name string) bool {
	for _, l := range dns.SplitDomainName(name) {
		if l == "*" {
			return true
		}
	}
	return false
}

// FullSRVSize is the packed size of the reply to an SRV query at owner o
// when every backend is healthy: one record per backend, with the address
// of each generated target in the additional section. A answers are bounded
// by max_answers; the SRV answer holds every backend.
func (s *Service) FullSRVSize(o SRVOwner) int {
	m := &dns.Msg{Compress: true, Question: []dns.Question{{Name: o.name, Qtype: dns.TypeSRV, Qclass: dns.ClassINET}}}
	for _, b := range s.backends {
		m.Answer = append(m.Answer, &dns.SRV{Hdr: dns.RR_Header{Name: o.name, Rrtype: dns.TypeSRV, Class: dns.ClassINET}, Port: b.port, Target: b.target})
		if b.generated {
			m.Extra = append(m.Extra, b.glue)
		}
	}
	return m.Len()
}

// maxMaxAnswers caps max_answers. An answer is kept in as many rotations as
// there are backends in its pool, each max_answers long, so packed answers
// cost backends × max_answers records per site order: the cap keeps that
// linear in backends. 64 A records about fill a 1232-byte UDP reply.
const maxMaxAnswers = 64

// minCheckInterval is the shortest interval, fast_interval and
// down_interval a check may have: below it probes cost the backends (and
// the checker) more than they tell.
const minCheckInterval = 100 * time.Millisecond

// decodeSpec decodes a check section over base (the service's spec, for a
// backend's override) and validates the result at the section's line.
func decodeSpec(n *yaml.Node, base healthcheck.Spec, errs *fileerr.List) (healthcheck.Spec, bool) {
	if n.Kind == 0 {
		return base, true
	}
	before := len(errs.Errs)
	strictKeys(n, reflect.TypeOf(base), errs)
	spec := base
	if base.Headers != nil {
		spec.Headers = maps.Clone(base.Headers)
	}
	if err := n.Decode(&spec); err != nil {
		addYAMLError(err, errs, n.Line)
		return spec, false
	}
	full := spec.WithDefaults()
	if err := full.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			errs.Addf(n.Line, "check: %s", line)
		}
	}
	for _, iv := range []struct {
		key string
		d   time.Duration
	}{{"interval", full.Interval}, {"fast_interval", full.FastInterval}, {"down_interval", full.DownInterval}} {
		if iv.d > 0 && iv.d < minCheckInterval {
			errs.Addf(keyLine(n, iv.key), "check: %s %v is below the minimum %v", iv.key, iv.d, minCheckInterval)
		}
	}
	return spec, len(errs.Errs) == before
}

// FailoverBound is the worst case a client waits for a dead backend to leave
// its cache: the slowest backend's detection bound plus the answer TTL.
func (s *Service) FailoverBound() time.Duration {
	return s.DetectionBound() + time.Duration(s.ttl)*time.Second
}

// DetectionBound is the slowest backend's worst-case detection time.
func (s *Service) DetectionBound() time.Duration {
	var detect time.Duration
	for _, b := range s.backends {
		if b.check.Spec != nil { // nil only for a backend whose check is in error
			detect = max(detect, b.check.Spec.DetectionBound())
		}
	}
	return detect
}

// buildBackend returns the backend, or an error and the key it concerns.
func buildBackend(bc *BackendConfig, s *Service, origin string) (*Backend, string, error) {
	addr, err := ValidAddr(bc.Address)
	if err != nil {
		return nil, "address", err
	}
	if bc.Site == "" {
		return nil, "", fmt.Errorf("backend %s needs a site", addr)
	}
	b := &Backend{addr: addr, port: bc.Port, site: bc.Site, weight: defaultBackendWeigh, line: bc.line}
	if b.port == 0 {
		b.port = s.port
	}
	if bc.Weight != nil {
		if *bc.Weight == 0 {
			return nil, "weight", fmt.Errorf("backend %s: weight must be 1 to 65535 (hadns gives weight 0 itself to a target alone in its tier, as RFC 2782 asks)", addr)
		}
		b.weight = *bc.Weight
	}
	if bc.Hostname != "" {
		b.target = absName(bc.Hostname, origin)
		if !ValidName(b.target) {
			return nil, "hostname", fmt.Errorf("backend %s: hostname %q is not a valid name", addr, bc.Hostname)
		}
	} else if len(s.srv) > 0 {
		b.target = generatedName(addr, s.name)
		b.generated = true
	}
	hdr := dns.RR_Header{Name: s.name, Class: dns.ClassINET, Ttl: s.ttl}
	ghdr := hdr
	ghdr.Name = b.target
	// The SRV target and its glue serve only SRV answers: a service without
	// SRV owners has neither (one name and record less per backend).
	glue := len(s.srv) > 0
	if addr.Is4() {
		hdr.Rrtype, ghdr.Rrtype = dns.TypeA, dns.TypeA
		b.a = &dns.A{Hdr: hdr, A: addr.AsSlice()}
		if glue {
			b.glue = &dns.A{Hdr: ghdr, A: addr.AsSlice()}
		}
	} else {
		hdr.Rrtype, ghdr.Rrtype = dns.TypeAAAA, dns.TypeAAAA
		b.a = &dns.AAAA{Hdr: hdr, AAAA: addr.AsSlice()}
		if glue {
			b.glue = &dns.AAAA{Hdr: ghdr, AAAA: addr.AsSlice()}
		}
	}
	return b, "", nil
}

// addService puts a service's names into the zone, refusing clashes with
// static records.
func (z *Zone) addService(s *Service, errs *fileerr.List) {
	n := z.node(s.name)
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeCNAME} {
		if len(n.rrsets.get(t)) > 0 {
			errs.Addf(s.line, "service %s clashes with the static %s record on line %d", s.name, dns.TypeToString[t], z.line(s.name, t))
		}
	}
	n.svc = s
	for i, o := range s.srv {
		sn := z.node(o.name)
		for _, t := range []uint16{dns.TypeSRV, dns.TypeCNAME} {
			if len(sn.rrsets.get(t)) > 0 {
				errs.Addf(s.line, "srv owner %s clashes with the static %s record on line %d", o.name, dns.TypeToString[t], z.line(o.name, t))
			}
		}
		m := sn.moreFields()
		m.srvOf, m.srvIdx = s, i
	}
	z.addSVCB(s, errs)
	// Generated SRV targets answer their own address. A service without
	// SRV owners has no SRV targets: no names are made up for it.
	for _, b := range s.backends {
		if !b.generated || len(s.srv) == 0 {
			continue
		}
		gn := z.node(b.target)
		if gn.svc != nil || len(gn.rrsets.get(dns.TypeCNAME)) > 0 {
			errs.Addf(b.line, "generated name %s for backend %s clashes with another name", b.target, b.addr)
			continue
		}
		dup := false
		for _, o := range gn.rrsets.get(b.Family()) {
			if dns.IsDuplicate(o, b.glue) {
				dup = true
			}
		}
		if !dup {
			gn.rrsets.add(b.glue)
			z.setLine(b.target, b.Family(), b.line)
		}
	}
	z.services = append(z.services, s)
}
