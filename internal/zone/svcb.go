package zone

import (
	"fmt"
	"maps"
	"net"
	"reflect"
	"slices"
	"strings"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"

	"github.com/hadns/hadns/internal/fileerr"
)

// SVCB and HTTPS records of a service (RFC 9460). A ServiceMode record is
// answered from health like the SRV answer: one record per site tier that
// has a healthy backend, SvcPriority 1, 2, ... in the client's site order,
// its ipv4hint and ipv6hint the tier's healthy addresses (svcb_answers.go).
// An AliasMode record is static: it is put in the zone as an ordinary
// RRset.

// svcbConfig is one HTTPS or SVCB record of a service, in the zone file's
// https: or svcb: key (a mapping, or a list of them).
type svcbConfig struct {
	Name          string            `yaml:"name"`            // owner relative to the service name, starting with _ (_8443._https); default the service name
	Alias         string            `yaml:"alias"`           // AliasMode (SvcPriority 0) to this target; no other key then
	ALPN          []string          `yaml:"alpn"`            // alpn: protocol ids, e.g. [h2, http/1.1]
	NoDefaultALPN bool              `yaml:"no_default_alpn"` // no-default-alpn; needs alpn
	Port          *uint16           `yaml:"port"`            // port: where clients connect; default the scheme's (443 for HTTPS)
	Params        map[string]string `yaml:"params"`          // any other key, as in a zone file: mandatory, ech (base64), dohpath, keyNNNNN
	line          int
	node          *yaml.Node
}

func (c *svcbConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain svcbConfig
	c.line, c.node = n.Line, n
	return n.Decode((*plain)(c))
}

// svcbRecord is a service's ServiceMode record at one owner: its
// parameters, to which each answer adds the tier's address hints.
type svcbRecord struct {
	owner  string // absolute, lowercase
	rrtype uint16 // dns.TypeHTTPS or dns.TypeSVCB
	// target is "." when the owner is the service name (the owner itself,
	// RFC 9460 2.5.2), else the service name, whose addresses we answer.
	target string
	params []dns.SVCBKeyValue // sorted by key; no hints
	line   int
}

// svcbAlias is an AliasMode record, served as a static RRset.
type svcbAlias struct {
	rr   dns.RR
	line int
}

// hintKeys are filled from health: a zone file cannot set them.
var hintKeys = []dns.SVCBKey{dns.SVCB_IPV4HINT, dns.SVCB_IPV6HINT}

// buildSVCB reads a service's https: and svcb: keys into s.
func buildSVCB(sc *serviceConfig, s *Service, origin string, errs *fileerr.List) {
	seen := map[string]int{} // owner and type → line
	for _, kind := range []struct {
		key    string
		n      *yaml.Node
		rrtype uint16
	}{{"https", &sc.HTTPS, dns.TypeHTTPS}, {"svcb", &sc.SVCB, dns.TypeSVCB}} {
		for _, c := range decodeSVCB(kind.n, kind.key, errs) {
			owner, ok := svcbOwner(c, kind.key, s, errs)
			if !ok {
				continue
			}
			id := kind.key + " " + owner
			if l, dup := seen[id]; dup {
				errs.Addf(c.line, "service %s: %s record at %s is already given on line %d (one record per owner: hadns makes one per site tier)", s.name, kind.key, owner, l)
				continue
			}
			seen[id] = c.line
			if c.Alias != "" {
				if rr, ok := svcbAliasRR(c, kind.key, kind.rrtype, owner, s, origin, errs); ok {
					s.svcbAlias = append(s.svcbAlias, svcbAlias{rr: rr, line: c.line})
				}
				continue
			}
			params, ok := svcbParams(c, kind.key, s.name, errs)
			if !ok {
				continue
			}
			r := &svcbRecord{owner: owner, rrtype: kind.rrtype, target: ".", params: params, line: c.line}
			if owner != s.name {
				r.target = s.name
			}
			if n := s.fullSVCBSize(r); n > dns.MaxMsgSize {
				errs.Addf(c.line, "service %s: the %s answer at %s with every backend healthy in one site is %d bytes, more than the %d a DNS message can hold", s.name, kind.key, owner, n, dns.MaxMsgSize)
				continue
			}
			s.svcb = append(s.svcb, r)
		}
	}
}

// decodeSVCB decodes an https: or svcb: value, a mapping or a list of
// mappings, strictly: unknown keys and values of the wrong type are errors.
func decodeSVCB(n *yaml.Node, key string, errs *fileerr.List) []svcbConfig {
	if n.Kind == 0 || n.ShortTag() == "!!null" {
		return nil
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	var out []svcbConfig
	for _, it := range items {
		if it.Kind == yaml.AliasNode && it.Alias != nil {
			it = it.Alias
		}
		if it.Kind != yaml.MappingNode {
			errs.Addf(it.Line, "%s: want a mapping (alpn, port, params... or alias), not %s", key, kindName(it))
			continue
		}
		before := len(errs.Errs)
		strictKeys(it, reflect.TypeOf(svcbConfig{}), errs)
		var c svcbConfig
		if err := it.Decode(&c); err != nil {
			addYAMLError(err, errs, it.Line)
			continue
		}
		if len(errs.Errs) == before {
			out = append(out, c)
		}
	}
	return out
}

// svcbOwner returns the owner of c: the service name, or a name below it
// that starts with an underscore label (_8443._https, _dns).
func svcbOwner(c svcbConfig, key string, s *Service, errs *fileerr.List) (string, bool) {
	if c.Name == "" || c.Name == "@" {
		return s.name, true
	}
	line := keyLine(c.node, "name")
	if !strings.HasPrefix(c.Name, "_") || dns.IsFqdn(c.Name) {
		errs.Addf(line, "service %s: %s name %q should be relative to the service name and start with _ (like _8443._https), or be left out for the service name itself", s.name, key, c.Name)
		return "", false
	}
	if hasWildcardLabel(c.Name) {
		errs.Addf(line, "service %s: %s name %q: wildcard names are not supported", s.name, key, c.Name)
		return "", false
	}
	owner := dns.CanonicalName(c.Name + "." + s.name)
	if !ValidName(owner) {
		errs.Addf(line, "service %s: %s name %q is not a valid name", s.name, key, c.Name)
		return "", false
	}
	return owner, true
}

// svcbAliasRR makes the AliasMode record of c.
func svcbAliasRR(c svcbConfig, key string, rrtype uint16, owner string, s *Service, origin string, errs *fileerr.List) (dns.RR, bool) {
	if len(c.ALPN) > 0 || c.NoDefaultALPN || c.Port != nil || len(c.Params) > 0 {
		errs.Addf(c.line, "service %s: %s alias (AliasMode) takes no alpn, no_default_alpn, port or params: clients ignore them (RFC 9460 2.4.2)", s.name, key)
		return nil, false
	}
	target := "."
	if c.Alias != "." {
		target = absName(c.Alias, origin)
	}
	if !ValidName(target) {
		errs.Addf(keyLine(c.node, "alias"), "service %s: %s alias %q is not a valid name", s.name, key, c.Alias)
		return nil, false
	}
	if target == owner {
		errs.Addf(keyLine(c.node, "alias"), "service %s: %s alias %s points at its own owner", s.name, key, target)
		return nil, false
	}
	hdr := dns.RR_Header{Name: owner, Rrtype: rrtype, Class: dns.ClassINET, Ttl: s.ttl}
	svcb := dns.SVCB{Hdr: hdr, Priority: 0, Target: target}
	if rrtype == dns.TypeHTTPS {
		return &dns.HTTPS{SVCB: svcb}, true
	}
	return &svcb, true
}

// svcbParams builds c's SvcParams: alpn, no-default-alpn and port from
// their keys, the rest from params in zone-file form, checked as RFC 9460
// asks of a zone's records (2.2, 7.1.1, 8).
func svcbParams(c svcbConfig, key string, svcName string, errs *fileerr.List) ([]dns.SVCBKeyValue, bool) {
	ok := true
	bad := func(k, format string, args ...any) {
		errs.Addf(keyLine(c.node, k), "service %s: %s %s", svcName, key, fmt.Sprintf(format, args...))
		ok = false
	}
	var out []dns.SVCBKeyValue
	if len(c.ALPN) > 0 {
		for _, id := range c.ALPN {
			if id == "" || len(id) > 255 {
				bad("alpn", "alpn: %q: a protocol id is 1 to 255 bytes", id)
			}
		}
		out = append(out, &dns.SVCBAlpn{Alpn: slices.Clone(c.ALPN)})
	}
	if c.NoDefaultALPN {
		if len(c.ALPN) == 0 {
			bad("no_default_alpn", "no_default_alpn needs alpn: without it no protocol is left (RFC 9460 7.1.1)")
		}
		out = append(out, &dns.SVCBNoDefaultAlpn{})
	}
	if c.Port != nil {
		if *c.Port == 0 {
			bad("port", "port 0 is not a port clients can connect to")
		}
		out = append(out, &dns.SVCBPort{Port: *c.Port})
	}
	pline := keyLine(c.node, "params")
	keys := slices.Sorted(maps.Keys(c.Params))
	for _, k := range keys {
		kv, err := parseSvcParam(k, c.Params[k])
		if err != nil {
			bad("params", "params: %s: %v", k, err)
			continue
		}
		switch kv.Key() {
		case dns.SVCB_ALPN:
			bad("params", "params: %s: use the alpn key", k)
			continue
		case dns.SVCB_NO_DEFAULT_ALPN:
			bad("params", "params: %s: use the no_default_alpn key", k)
			continue
		case dns.SVCB_PORT:
			bad("params", "params: %s: use the port key", k)
			continue
		case dns.SVCB_IPV4HINT, dns.SVCB_IPV6HINT:
			bad("params", "params: %s: hadns fills ipv4hint and ipv6hint with the healthy backends' addresses", k)
			continue
		}
		if slices.ContainsFunc(out, func(o dns.SVCBKeyValue) bool { return o.Key() == kv.Key() }) {
			bad("params", "params: %s is given twice", kv.Key())
			continue
		}
		out = append(out, kv)
	}
	if !ok {
		return nil, false
	}
	slices.SortFunc(out, func(a, b dns.SVCBKeyValue) int { return int(a.Key()) - int(b.Key()) })
	if i := slices.IndexFunc(out, func(kv dns.SVCBKeyValue) bool { return kv.Key() == dns.SVCB_MANDATORY }); i >= 0 {
		if msg := checkMandatory(out[i].(*dns.SVCBMandatory), out); msg != "" {
			errs.Addf(pline, "service %s: %s params: mandatory: %s", svcName, key, msg)
			return nil, false
		}
	}
	return out, true
}

// checkMandatory returns what is wrong with a mandatory key (RFC 9460 8),
// or "".
func checkMandatory(m *dns.SVCBMandatory, params []dns.SVCBKeyValue) string {
	if len(m.Code) == 0 {
		return "lists no key"
	}
	seen := map[dns.SVCBKey]bool{}
	for _, k := range m.Code {
		switch {
		case k == 65535:
			return "names a key that does not exist"
		case k == dns.SVCB_MANDATORY:
			return "must not list mandatory itself"
		case slices.Contains(hintKeys, k):
			return fmt.Sprintf("must not list %s: hadns leaves it out of a tier that has no address of its family", k)
		case seen[k]:
			return fmt.Sprintf("lists %s twice", k)
		case !slices.ContainsFunc(params, func(kv dns.SVCBKeyValue) bool { return kv.Key() == k }):
			return fmt.Sprintf("lists %s, which the record does not have", k)
		}
		seen[k] = true
	}
	return ""
}

// parseSvcParam parses one key and value in zone-file form with miekg/dns's
// own parser, so every key it knows (and keyNNNNN) reads as in a zone file.
func parseSvcParam(key, value string) (dns.SVCBKeyValue, error) {
	if key == "" || strings.ContainsAny(key, " \t\"=;()\\") {
		return nil, fmt.Errorf("%q is not a key name", key)
	}
	text := ". 0 IN SVCB 1 . " + key
	if value != "" {
		if strings.ContainsAny(value, "\n\r") {
			return nil, fmt.Errorf("a value is one line")
		}
		text += `="` + escapeQuotes(value) + `"`
	}
	rr, err := dns.NewRR(text)
	if err != nil {
		return nil, cleanSvcParamError(err)
	}
	v := rr.(*dns.SVCB).Value
	if len(v) != 1 {
		return nil, fmt.Errorf("not one key and value")
	}
	return v[0], nil
}

// escapeQuotes escapes the double quotes of s that are not already, so it
// can stand between quotes.
func escapeQuotes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteByte(c)
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			b.WriteString(`\"`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// cleanSvcParamError keeps what miekg/dns says is wrong, without the text
// of the made-up record it parsed.
func cleanSvcParamError(err error) error {
	msg := cleanParseError(err).Error()
	msg = strings.TrimPrefix(msg, "dns: ")
	if i := strings.Index(msg, ": \""); i > 0 {
		msg = msg[:i]
	}
	if msg == "bad SVCB key" {
		msg = "unknown key (known: mandatory, ech, dohpath, ohttp, and keyNNNNN for the others)"
	}
	return fmt.Errorf("%s", msg)
}

// fullSVCBSize is the packed size of the reply to r's query when every
// backend is healthy and in one site: one record holding every address.
func (s *Service) fullSVCBSize(r *svcbRecord) int {
	var v4, v6 []dns.RR
	for _, b := range s.backends {
		if b.addr.Is4() {
			v4 = append(v4, b.a)
		} else {
			v6 = append(v6, b.a)
		}
	}
	rr := r.record(1, 0, v4, v6)
	m := &dns.Msg{Compress: true, Question: []dns.Question{{Name: r.owner, Qtype: r.rrtype, Qclass: dns.ClassINET}}, Answer: []dns.RR{rr}}
	return m.Len()
}

// record makes the ServiceMode record with priority prio and the addresses
// of v4 and v6 (A and AAAA records) as hints.
func (r *svcbRecord) record(prio uint16, ttl uint32, v4, v6 []dns.RR) dns.RR {
	value := make([]dns.SVCBKeyValue, 0, len(r.params)+2)
	value = append(value, r.params...)
	if len(v4) > 0 {
		h := &dns.SVCBIPv4Hint{Hint: make([]net.IP, 0, len(v4))}
		for _, a := range v4 {
			h.Hint = append(h.Hint, a.(*dns.A).A)
		}
		value = append(value, h)
	}
	if len(v6) > 0 {
		h := &dns.SVCBIPv6Hint{Hint: make([]net.IP, 0, len(v6))}
		for _, a := range v6 {
			h.Hint = append(h.Hint, a.(*dns.AAAA).AAAA)
		}
		value = append(value, h)
	}
	slices.SortStableFunc(value, func(a, b dns.SVCBKeyValue) int { return int(a.Key()) - int(b.Key()) })
	svcb := dns.SVCB{
		Hdr:      dns.RR_Header{Name: r.owner, Rrtype: r.rrtype, Class: dns.ClassINET, Ttl: ttl},
		Priority: prio, Target: r.target, Value: value,
	}
	if r.rrtype == dns.TypeHTTPS {
		return &dns.HTTPS{SVCB: svcb}
	}
	return &svcb
}

// addSVCB puts a service's HTTPS and SVCB owners into the zone: AliasMode
// records as static RRsets, ServiceMode owners in z.svcb for lookups. A
// static record of the same type, or a CNAME, at an owner is an error.
func (z *Zone) addSVCB(s *Service, errs *fileerr.List) {
	clash := func(owner string, t uint16, line int) bool {
		n := z.node(owner)
		for _, ct := range []uint16{t, dns.TypeCNAME} {
			if len(n.rrsets.get(ct)) > 0 {
				errs.Addf(line, "service %s: the %s record at %s clashes with the static %s record on line %d", s.name, dns.TypeToString[t], owner, dns.TypeToString[ct], z.line(owner, ct))
				return true
			}
		}
		// A delegation between the owner and the service name would take
		// the owner out of the zone's authority.
		for p := owner; p != s.name && p != ""; p = parent(p) {
			if pn, ok := z.nodes[p]; ok && len(pn.rrsets.get(dns.TypeNS)) > 0 {
				errs.Addf(line, "service %s: the %s record at %s is at or below the delegation at %s", s.name, dns.TypeToString[t], owner, p)
				return true
			}
		}
		return false
	}
	for i, r := range s.svcb {
		if clash(r.owner, r.rrtype, r.line) {
			continue
		}
		if z.svcb == nil {
			z.svcb = map[svcbKey]svcbRef{}
		}
		z.svcb[svcbKey{r.owner, r.rrtype}] = svcbRef{s: s, i: i}
	}
	for _, a := range s.svcbAlias {
		h := a.rr.Header()
		if clash(h.Name, h.Rrtype, a.line) {
			continue
		}
		z.insert(a.rr)
		z.setLine(h.Name, h.Rrtype, a.line)
	}
}

// svcbKey names a ServiceMode RRset of the zone: owner and type.
type svcbKey struct {
	name string
	t    uint16
}

// svcbRef is the service that answers a ServiceMode RRset, and which of
// its records it is.
type svcbRef struct {
	s *Service
	i int
}
