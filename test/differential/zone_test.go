package differential

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// origin is the zone all three servers serve.
const origin = "diff.test."

// soaText and nsText are the zone's SOA and apex NS, the same for hadns
// (its soa and ns keys) and the references.
const (
	soaText = "diff.test. 3600 IN SOA ns1.diff.test. hostmaster.diff.test. 2026120101 14400 3600 1209600 300"
	nsText  = "diff.test. 3600 IN NS ns1.diff.test.\ndiff.test. 3600 IN NS ns2.diff.test.\n"
)

// staticRecords is the zone's static data, written once in zone-file syntax:
// hadns reads it in its records block, NSD and Knot in their zone file.
// Every feature the comparison covers has a name here.
var staticRecords = `ns1           A      127.0.0.1
ns2           A      127.0.0.2
ns2           AAAA   ::2
@             MX     10 mail
@             MX     20 api
mx2           MX     10 relay
@             TXT    "v=spf1 -all"
mail          A      192.0.2.25
mail          AAAA   2001:db8::25
multi         TXT    "a" "b"
www           CNAME  api
old           CNAME  www
alias         CNAME  mail
docs          CNAME  docs.example.org.
dangling      CNAME  nothere
*.wild        TXT    "wildcard"
*.wild        A      192.0.2.80
host.wild     A      192.0.2.81
*.wc          CNAME  mail
host.lab.dc   A      192.0.2.10
child         NS     ns1.child
child         NS     ns.example.org.
ns1.child     A      192.0.2.53
ns1.child     AAAA   2001:db8::53
tochild       CNAME  www.child
dn            DNAME  sub
sub           TXT    "sub"
x.sub         A      192.0.2.90
out           DNAME  example.org.
p             DNAME  pool
srvmail       SRV    0 0 25 mail
_x._tcp       SRV    0 0 80 api
loop1         CNAME  loop2
loop2         CNAME  loop1
c1            CNAME  c2
c2            CNAME  c3
c3            CNAME  c4
c4            CNAME  mail
towild        CNAME  foo.wild
esc\.dot      A      192.0.2.44
v.api         TXT    "below a service"
*.svcw        CNAME  api
child2        NS     ns1.child
@             CAA    0 issue "ca.example.net"
@             HTTPS  1 . alpn=h2
_443._tcp.www TLSA   3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
long          TXT    "` + strings.Repeat("y", 255) + `" "z"
` + bigTXT() + midA()

// Large RRsets: big's TXT set is above 1232 bytes, so every UDP reply is
// truncated; mid's A set is above 512 bytes and below 1232, so only replies
// to queries without EDNS (or with a buffer of 512) are.
const (
	bigRecords = 12 // TXT records of 120 bytes
	midRecords = 40 // A records
)

func bigTXT() string {
	var b strings.Builder
	for i := range bigRecords {
		fmt.Fprintf(&b, "big           TXT    \"%02d%s\"\n", i, strings.Repeat("x", 118))
	}
	return b.String()
}

func midA() string {
	var b strings.Builder
	for i := range midRecords {
		fmt.Fprintf(&b, "mid           A      192.0.2.%d\n", 100+i)
	}
	return b.String()
}

// site is where backends are. The client of every query is 127.0.0.1,
// inside east's network, so east is its own site and west its fallback.
const (
	east = "east"
	west = "west"
)

// backend is one service backend. down backends have no listener: the
// checker sees them down and no answer may hand them out.
type backend struct {
	addr netip.Addr
	port int
	site string
	down bool
}

// service is a service of the zone, relative name and SRV owners.
type service struct {
	name       string // relative to origin
	srv        []string
	maxAnswers int
	backends   []backend
}

// Services: every backend listens (see startBackends) except relay's
// second, so additional data for relay (the MX target of mx2) must leave it
// out. pool24's SRV answer (24 targets) and pool8's fit a 1232-byte and a
// 512-byte reply without their additional records.
func testServices() []*service {
	svcs := []*service{
		{name: "api", srv: []string{"_http._tcp"}, backends: []backend{
			{addr: a4("127.0.1.1"), site: east}, {addr: a4("127.0.1.2"), site: east}, {addr: a4("127.0.1.3"), site: east},
			{addr: a4("127.0.2.1"), site: west}, {addr: a4("127.0.2.2"), site: west},
		}},
		{name: "relay", backends: []backend{
			{addr: a4("127.0.3.1"), site: east}, {addr: a4("127.0.3.2"), site: east, down: true},
		}},
		{name: "web.pool", srv: []string{"_http._tcp"}, backends: []backend{
			{addr: a4("127.0.5.1"), site: east}, {addr: a4("127.0.5.2"), site: west},
		}},
		{name: "api6", backends: []backend{{addr: netip.MustParseAddr("::1"), site: east}}},
		{name: "pool8", srv: []string{"_http._tcp"}},
		{name: "pool24", srv: []string{"_http._tcp"}},
	}
	for i := range 8 {
		svcs[4].backends = append(svcs[4].backends, backend{addr: a4(fmt.Sprintf("127.0.8.%d", i+1)), site: east})
	}
	for i := range 24 {
		svcs[5].backends = append(svcs[5].backends, backend{addr: a4(fmt.Sprintf("127.0.24.%d", i+1)), site: east})
	}
	for _, s := range svcs {
		s.maxAnswers = 8 // hadns's default
	}
	return svcs
}

func a4(s string) netip.Addr { return netip.MustParseAddr(s) }

// serviceTTL is the TTL hadns gives the answers of a service whose own site
// has a healthy backend (the zone files set no ttl: the default).
const serviceTTL = 10

// hadnsZone is the zone file hadns loads.
func hadnsZone(svcs []*service) string {
	var b strings.Builder
	b.WriteString(`origin: diff.test.
ttl: 3600
soa:
  mname: ns1
  rname: hostmaster
  serial: 2026120101
  refresh: 14400
  retry: 3600
  expire: 1209600
  minimum: 300
ns: [ns1, ns2]
records: |
`)
	for _, l := range strings.Split(strings.TrimSuffix(staticRecords, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	b.WriteString("services:\n")
	for _, s := range svcs {
		fmt.Fprintf(&b, "  - name: %s\n", s.name)
		if len(s.srv) > 0 {
			fmt.Fprintf(&b, "    srv: [%s]\n", strings.Join(s.srv, ", "))
		}
		// A long timeout, so a busy machine does not make a probe fail
		// (a suspect backend's answers get TTL 1); a refused connection
		// still fails at once, and the fast interval confirms it.
		b.WriteString("    check: {kind: tcp, interval: 2s, timeout: 1500ms, fast_interval: 100ms}\n    backends:\n")
		for _, be := range s.backends {
			fmt.Fprintf(&b, "      - {address: %q, port: %d, site: %s}\n", be.addr, be.port, be.site)
		}
	}
	return b.String()
}

// referenceZone renders the zone as an RFC 1035 zone file for NSD and Knot,
// each service as the plain records hadns answers a client of east with:
// A/AAAA with east's healthy backends, SRV with east as priority 1 and west
// as 2 (weight 0 for a target alone in its tier, RFC 2782), and every
// backend's generated target name with its address.
func referenceZone(svcs []*service) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL 3600\n%s\n%s", origin, soaText, nsText)
	b.WriteString(staticRecords)
	for _, s := range svcs {
		for _, rr := range serviceRecords(s) {
			b.WriteString(rr.String() + "\n")
		}
	}
	return b.String()
}

// serviceRecords are the records a client of east gets for service s.
func serviceRecords(s *service) []dns.RR {
	name := dns.Fqdn(s.name) + origin
	var out []dns.RR
	hdr := func(owner string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: owner, Rrtype: t, Class: dns.ClassINET, Ttl: serviceTTL}
	}
	for _, be := range s.backends {
		if be.site == east && !be.down {
			out = append(out, addrRR(hdr(name, 0), be.addr))
		}
	}
	tiers := map[string]int{}
	for _, be := range s.backends {
		if !be.down {
			tiers[be.site]++
		}
	}
	for _, owner := range s.srv {
		for _, be := range s.backends {
			if be.down {
				continue
			}
			prio, weight := uint16(1), uint16(1)
			if be.site == west {
				prio = 2
			}
			if tiers[be.site] == 1 {
				weight = 0
			}
			out = append(out, &dns.SRV{Hdr: hdr(owner+"."+name, dns.TypeSRV), Priority: prio, Weight: weight, Port: uint16(be.port), Target: targetName(be.addr, name)})
		}
	}
	for _, be := range s.backends {
		out = append(out, addrRR(hdr(targetName(be.addr, name), 0), be.addr))
	}
	return out
}

func addrRR(h dns.RR_Header, a netip.Addr) dns.RR {
	if a.Is4() {
		h.Rrtype = dns.TypeA
		return &dns.A{Hdr: h, A: a.AsSlice()}
	}
	h.Rrtype = dns.TypeAAAA
	return &dns.AAAA{Hdr: h, AAAA: a.AsSlice()}
}

// targetName is the SRV target hadns makes up for a backend without a
// hostname (see the README): the address with dashes, under the service.
func targetName(a netip.Addr, svcName string) string {
	s := a.StringExpanded()
	if a.Is4() {
		s = a.String()
	}
	return strings.NewReplacer(".", "-", ":", "-").Replace(s) + "." + svcName
}

// serviceOwners maps every name whose A/AAAA or SRV follow health to its
// service, for the membership comparison.
func serviceOwners(svcs []*service) map[string]*service {
	m := map[string]*service{}
	for _, s := range svcs {
		name := dns.Fqdn(s.name) + origin
		m[name] = s
		for _, o := range s.srv {
			m[o+"."+name] = s
		}
	}
	return m
}

// sortedNames returns m's keys sorted, for stable output.
func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
