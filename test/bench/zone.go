package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

const origin = "bench.test."

// staticRecords are served as they are by both servers: hadns from its YAML
// zone's records, CoreDNS's file plugin from the RFC 1035 zone.
const staticRecords = `ns1   A  127.0.0.1
www   A  127.0.0.80
mail  A  127.0.0.25
@     MX 10 mail
`

// service is one hadns service of the bench zone: two backends in each of
// two sites, all healthy.
type service struct {
	name  string // relative to the origin
	srv   string // SRV owner below the name
	hosts []string
	sites []string

	addrs []string // the listeners' host:port, one a host
}

func services() []*service {
	return []*service{
		{name: "api", srv: "_http._tcp", hosts: []string{"127.0.60.1", "127.0.60.2", "127.0.61.1", "127.0.61.2"}, sites: []string{"a", "a", "b", "b"}},
		{name: "web", srv: "_http._tcp", hosts: []string{"127.0.62.1", "127.0.62.2", "127.0.63.1", "127.0.63.2"}, sites: []string{"a", "a", "b", "b"}},
	}
}

// queryKind is a set of questions measured together.
type queryKind struct {
	name      string
	questions []question
}

type question struct {
	name  string // absolute
	qtype uint16
}

func (q question) String() string { return q.name + " " + dns.TypeToString[q.qtype] }

// queryKinds are the question sets -types picks from: A and SRV of the
// services (health-aware answers in hadns), and static A records.
func queryKinds(svcs []*service) map[string]queryKind {
	var a, srv []question
	for _, s := range svcs {
		a = append(a, question{s.name + "." + origin, dns.TypeA})
		srv = append(srv, question{s.srv + "." + s.name + "." + origin, dns.TypeSRV})
	}
	return map[string]queryKind{
		"A":      {"A", a},
		"SRV":    {"SRV", srv},
		"static": {"static", []question{{"www." + origin, dns.TypeA}, {"mail." + origin, dns.TypeA}}},
	}
}

// dnsperfData is a dnsperf input file for the questions.
func dnsperfData(qs []question) string {
	var b strings.Builder
	for _, q := range qs {
		fmt.Fprintf(&b, "%s %s\n", q.name, dns.TypeToString[q.qtype])
	}
	return b.String()
}

const soaLine = "@ 3600 IN SOA ns1.bench.test. hostmaster.bench.test. 1 3600 600 1209600 30"

// hadnsZone is the YAML zone of hadns: the static records and the
// services, checked by tcp connect against the listeners.
func hadnsZone(svcs []*service) string {
	var b strings.Builder
	fmt.Fprintf(&b, "origin: %s\nttl: 3600\nsoa: {mname: ns1.%s, rname: hostmaster.%s, serial: 1, refresh: 3600, retry: 600, expire: 1209600, minimum: 30}\nns: [ns1]\nrecords: |\n",
		origin, origin, origin)
	for _, l := range strings.Split(strings.TrimSpace(staticRecords), "\n") {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	b.WriteString("services:\n")
	for _, s := range svcs {
		fmt.Fprintf(&b, "  - name: %s\n    ttl: 10\n    srv: [%s]\n    check: {kind: tcp}\n    backends:\n", s.name, s.srv)
		for i, a := range s.addrs {
			host, port, _ := strings.Cut(a, ":")
			fmt.Fprintf(&b, "      - {address: %s, port: %s, site: %s}\n", host, port, s.sites[i])
		}
	}
	return b.String()
}

// hadnsCorefile serves the zone on port; sites a and b take 127.0.0.0/16
// and 127.1.0.0/16, so dnsperf's 127.0.0.1 is a client of site a.
func hadnsCorefile(port, pprofPort int) string {
	return fmt.Sprintf(`%s:%d {
    bind 127.0.0.1
    pprof 127.0.0.1:%d
    hadns {
        zone bench.test.yaml
        site a 127.0.0.0/16 fallback b
        site b 127.1.0.0/16 fallback a
        reload 0
    }
}
`, origin, port, pprofPort)
}

func corednsCorefile(port, pprofPort int) string {
	return fmt.Sprintf(`%s:%d {
    bind 127.0.0.1
    pprof 127.0.0.1:%d
    file bench.test.zone
}
`, origin, port, pprofPort)
}

// corednsZone is the RFC 1035 zone for CoreDNS's file plugin: the same SOA,
// NS and static records, and as static records every record of hadns's
// service answers (answer and additional sections), so both servers give
// the same records to the same questions.
func corednsZone(serviceRRs []dns.RR) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL 3600\n%s\n@ 3600 IN NS ns1\n%s", origin, soaLine, staticRecords)
	seen := map[string]bool{}
	for _, rr := range serviceRRs {
		s := rr.String()
		if !seen[s] {
			seen[s] = true
			b.WriteString(s + "\n")
		}
	}
	return b.String()
}

// serviceRecords are the answer and additional records of replies, without
// OPT.
func serviceRecords(replies []*dns.Msg) []dns.RR {
	var out []dns.RR
	for _, r := range replies {
		out = append(out, r.Answer...)
		for _, rr := range r.Extra {
			if rr.Header().Rrtype != dns.TypeOPT {
				out = append(out, rr)
			}
		}
	}
	return out
}

// sameRecords reports how two replies to one question differ: rcode, and
// the answer and additional records as sets (order aside: hadns rotates).
// "" when they match.
func sameRecords(a, b *dns.Msg) string {
	if a.Rcode != b.Rcode {
		return fmt.Sprintf("rcode %s vs %s", dns.RcodeToString[a.Rcode], dns.RcodeToString[b.Rcode])
	}
	set := func(rrs []dns.RR) []string {
		var s []string
		for _, rr := range rrs {
			if rr.Header().Rrtype != dns.TypeOPT {
				s = append(s, rr.String())
			}
		}
		slices.Sort(s)
		return s
	}
	if x, y := set(a.Answer), set(b.Answer); !slices.Equal(x, y) {
		return fmt.Sprintf("answer %v vs %v", x, y)
	}
	if x, y := set(a.Extra), set(b.Extra); !slices.Equal(x, y) {
		return fmt.Sprintf("additional %v vs %v", x, y)
	}
	return ""
}
