package zone

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/fileerr"
)

// zoneFile is the YAML layout of one zone file. Every field's comment gives
// its default.
type zoneFile struct {
	Origin   string          `yaml:"origin"`          // required: the zone's apex, e.g. example.test.
	TTL      uint32          `yaml:"ttl" hadns:"ttl"` // default TTL of static records; default 3600
	SOA      soaConfig       `yaml:"soa"`             // required: mname and rname at least
	NS       []string        `yaml:"ns"`              // required: the zone's nameservers (relative or absolute)
	Records  yaml.Node       `yaml:"records"`         // static records in zone-file syntax (a literal block)
	Services []serviceConfig `yaml:"services"`        // health-checked services
}

type soaConfig struct {
	MName   string `yaml:"mname"`               // required: primary nameserver
	RName   string `yaml:"rname"`               // required: mailbox of the zone's admin, as a name (hostmaster.example.test.)
	Serial  uint32 `yaml:"serial"`              // default: the file's modification time in seconds since 1970
	Refresh uint32 `yaml:"refresh" hadns:"ttl"` // default 3600
	Retry   uint32 `yaml:"retry" hadns:"ttl"`   // default 600
	Expire  uint32 `yaml:"expire" hadns:"ttl"`  // default 1209600
	Minimum uint32 `yaml:"minimum" hadns:"ttl"` // negative-caching TTL; default 30
	TTL     uint32 `yaml:"ttl" hadns:"ttl"`     // TTL of the SOA record itself; default the zone's ttl
	line    int
}

func (s *soaConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain soaConfig
	s.line = n.Line
	return n.Decode((*plain)(s))
}

// serviceConfig is one health-checked service.
type serviceConfig struct {
	Name           string          `yaml:"name"`                     // required: owner name relative to the origin ("api"), or "@"
	TTL            uint32          `yaml:"ttl" hadns:"ttl"`          // TTL of healthy local answers; default 10
	DegradedTTL    uint32          `yaml:"degraded_ttl" hadns:"ttl"` // TTL of fallback and fail-open answers; default ttl/2, at least 1
	Port           uint16          `yaml:"port"`                     // service port for SRV and checks; default 0 (then every backend needs a port when SRV is used)
	SRV            []srvConfig     `yaml:"srv"`                      // SRV owners relative to the service name: "_http._tcp" or {name: _http._tcp, port: 80}
	MinHealthy     int             `yaml:"min_healthy"`              // healthy backends wanted before fallback sites are added; default 1
	MaxAnswers     int             `yaml:"max_answers"`              // most A/AAAA records in one answer; default 8
	Weighted       bool            `yaml:"weighted"`                 // A/AAAA answers follow backend weights within a site; default false
	OnAllDown      string          `yaml:"on_all_down"`              // fail_open (default), nodata or servfail
	FailoverBudget time.Duration   `yaml:"failover_budget"`          // optional bound on detection + TTL; a service that cannot meet it is an error
	Check          yaml.Node       `yaml:"check"`                    // health check; defaults from the checker
	Health         string          `yaml:"health"`                   // local (default) or "quorum N": with a shared store, down only when N instances see it down
	HTTPS          yaml.Node       `yaml:"https"`                    // HTTPS records (RFC 9460): a mapping or a list of them (svcbConfig)
	SVCB           yaml.Node       `yaml:"svcb"`                     // SVCB records, as https
	Backends       []BackendConfig `yaml:"backends"`                 // required: at least one
	line           int
	node           *yaml.Node
}

func (s *serviceConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain serviceConfig
	s.line, s.node = n.Line, n
	return n.Decode((*plain)(s))
}

// keyLine returns the line of one of the service's keys.
func (s *serviceConfig) keyLine(k string) int { return keyLine(s.node, k) }

// srvConfig is one SRV owner of a service, written as a bare name or as a
// mapping with a port.
type srvConfig struct {
	Name string `yaml:"name"` // required: relative to the service name, e.g. _http._tcp
	Port uint16 `yaml:"port"` // port in the SRV records; default each backend's port
}

func (s *srvConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		s.Name = n.Value
		return nil
	}
	type plain srvConfig
	return n.Decode((*plain)(s))
}

// BackendConfig is one address that serves a service.
type BackendConfig struct {
	Address  string    `yaml:"address"`  // required: IPv4 or IPv6 address
	Port     uint16    `yaml:"port"`     // default the service's port
	Site     string    `yaml:"site"`     // required: name of the site the backend is in
	Weight   *uint16   `yaml:"weight"`   // SRV weight and weighted choice; default 1
	Hostname string    `yaml:"hostname"` // SRV target; default a generated in-zone name
	Check    yaml.Node `yaml:"check"`    // per-backend override of the service's check fields
	line     int
	node     *yaml.Node
}

func (b *BackendConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain BackendConfig
	b.line, b.node = n.Line, n
	return n.Decode((*plain)(b))
}

// Defaults documented on the fields above.
const (
	defaultZoneTTL      = 3600
	defaultRefresh      = 3600
	defaultRetry        = 600
	defaultExpire       = 1209600
	defaultMinimum      = 30
	defaultServiceTTL   = 10
	defaultMinHealthy   = 1
	defaultMaxAnswers   = 8
	defaultBackendWeigh = 1
)

// On-all-down policies.
const (
	failOpen = "fail_open"
	noData   = "nodata"
	servFail = "servfail"
)

// Load reads and validates one zone file. The error, if any, is an
// ErrorList naming the file and line of every problem found.
func Load(path string) (*Zone, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fileerr.ErrorList{{File: path, Msg: err.Error()}}
	}
	var mtime time.Time
	if fi, err := os.Stat(path); err == nil {
		mtime = fi.ModTime()
	}
	return Parse(path, data, mtime)
}

// Parse is Load on bytes already read; mtime supplies the
// default serial.
func Parse(path string, data []byte, mtime time.Time) (*Zone, error) {
	return ParseWithBackends(path, data, mtime, nil)
}

// ParseWithBackends is Parse with registered backends (from the shared
// store) added to the services they name, by absolute service name.
func ParseWithBackends(path string, data []byte, mtime time.Time, regs map[string][]BackendConfig) (*Zone, error) {
	errs := &fileerr.List{File: path}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err.Error() == "EOF" {
			errs.Addf(0, "empty zone file")
		} else {
			addYAMLError(err, errs, 1)
		}
		return nil, errs.Err()
	}
	var zf zoneFile
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		errs.Addf(doc.Line, "a zone file is a mapping with origin, soa, ns, records and services")
		return nil, errs.Err()
	}
	strictKeys(doc.Content[0], reflect.TypeOf(zf), errs)
	if err := doc.Decode(&zf); err != nil {
		addYAMLError(err, errs, doc.Content[0].Line)
	}
	// Unknown keys and type errors leave the rest decoded: keep checking, so
	// one run shows every problem in the file.
	z := buildZone(path, doc.Content[0], &zf, mtime, regs, errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	z.src, z.mtime = data, mtime
	return z, nil
}

// keyLine returns the line of key k in mapping n, or the mapping's own line.
func keyLine(n *yaml.Node, k string) int {
	if n == nil {
		return 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == k {
			return n.Content[i].Line
		}
	}
	return n.Line
}

// absName makes a name relative to origin absolute and lowercase; "@" is the origin.
func absName(name, origin string) string {
	if name == "@" || name == "" {
		return origin
	}
	if dns.IsFqdn(name) {
		return dns.CanonicalName(name)
	}
	return dns.CanonicalName(name + "." + origin)
}

// ValidName reports whether s is a syntactically valid domain name, written
// the way miekg/dns writes a name it reads off the wire (special characters
// escaped, as in 0\".example.): queries arrive in that form, so a name
// written otherwise could never be asked for.
func ValidName(s string) bool {
	if _, ok := dns.IsDomainName(s); !ok || strings.Contains(s, "..") {
		return false
	}
	w, ok := wireForm(s)
	return ok && strings.EqualFold(w, dns.Fqdn(s))
}

// wireForm returns name as a query carrying it reads: packed to wire format
// and unpacked (\065 becomes A, a bare " becomes \").
func wireForm(name string) (string, bool) {
	var buf [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(name), buf[:], 0, nil, false)
	if err != nil {
		return "", false
	}
	back, _, err := dns.UnpackDomainName(buf[:n], 0)
	return back, err == nil
}

func buildZone(path string, root *yaml.Node, zf *zoneFile, mtime time.Time, regs map[string][]BackendConfig, errs *fileerr.List) *Zone {
	if zf.Origin == "" {
		if !wrongType(root, "origin") {
			errs.Addf(root.Line, "origin is required")
		}
		return nil
	}
	origin := dns.Fqdn(zf.Origin)
	if !ValidName(origin) {
		errs.Addf(keyLine(root, "origin"), "origin %q is not a valid domain name", zf.Origin)
		return nil
	}
	origin = dns.CanonicalName(origin)
	ttl := zf.TTL
	if ttl == 0 {
		ttl = defaultZoneTTL
	}
	z := newZone(origin, path)

	// SOA.
	s := zf.SOA
	if s.line == 0 {
		if !wrongType(root, "soa") {
			errs.Addf(root.Line, "soa is required")
		}
	} else {
		if s.MName == "" || s.RName == "" {
			errs.Addf(s.line, "soa needs mname and rname")
		}
		soa := &dns.SOA{
			Hdr:     dns.RR_Header{Name: origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: orDefault(s.TTL, ttl)},
			Ns:      absName(s.MName, origin),
			Mbox:    absName(s.RName, origin),
			Serial:  s.Serial,
			Refresh: orDefault(s.Refresh, defaultRefresh),
			Retry:   orDefault(s.Retry, defaultRetry),
			Expire:  orDefault(s.Expire, defaultExpire),
			Minttl:  orDefault(s.Minimum, defaultMinimum),
		}
		if soa.Serial == 0 {
			soa.Serial = uint32(mtime.Unix())
		}
		if !ValidName(soa.Ns) || !ValidName(soa.Mbox) {
			errs.Addf(s.line, "soa mname and rname must be domain names")
		}
		z.insert(soa)
	}

	// NS.
	z.nsLine = keyLine(root, "ns")
	if len(zf.NS) == 0 && !wrongType(root, "ns") {
		errs.Addf(keyLine(root, "ns"), "ns is required: at least one nameserver")
	}
	for _, n := range zf.NS {
		target := absName(n, origin)
		if !ValidName(target) {
			errs.Addf(keyLine(root, "ns"), "ns %q is not a valid domain name", n)
			continue
		}
		z.insert(&dns.NS{Hdr: dns.RR_Header{Name: origin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: ttl}, Ns: target})
	}

	// Static records.
	if zf.Records.Kind != 0 {
		parseRecords(&zf.Records, origin, ttl, z, errs)
	}

	// Services. Backends checked alike share one check spec.
	seen := map[string]int{}
	var specs healthcheck.Specs
	for i := range zf.Services {
		sc := &zf.Services[i]
		if extra := regs[absName(sc.Name, origin)]; len(extra) > 0 {
			sc.Backends = append(slices.Clip(sc.Backends), extra...)
		}
		svc := buildService(sc, origin, &specs, errs)
		if svc == nil {
			continue
		}
		for _, owner := range svc.owners() {
			if l, dup := seen[owner]; dup {
				errs.Addf(sc.line, "service name %s is already used by the service on line %d", owner, l)
				continue
			}
			seen[owner] = sc.line
		}
		z.addService(svc, errs)
	}
	z.finish(errs)
	return z
}

func orDefault(v, d uint32) uint32 {
	if v == 0 {
		return d
	}
	return v
}

// ValidAddr parses a backend address.
func ValidAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("address %q is not an IPv4 or IPv6 address", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("address %q: zoned addresses are not allowed", s)
	}
	a = a.Unmap()
	switch {
	case a.IsUnspecified():
		return netip.Addr{}, fmt.Errorf("address %q is the unspecified address: no client can reach a backend there", s)
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netip.Addr{}, fmt.Errorf("address %q is the broadcast address, not a backend", s)
	case a.IsMulticast():
		return netip.Addr{}, fmt.Errorf("address %q is a multicast address, not a backend", s)
	}
	return a, nil
}
