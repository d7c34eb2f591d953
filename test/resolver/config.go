package main

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// The addresses of the lab, all on the namespace's loopback. The
// nameservers' addresses and the backends are the example zone's.
const (
	zoneName     = "example.test."
	serviceName  = "api.example.test."
	srvName      = "_http._tcp.api.example.test."
	rootAddr     = "127.0.0.254" // a.root-servers.
	resolverAddr = "127.0.1.53"  // unbound: listens and sends from here, in site east
	backendPort  = 8080
	readyPort    = 8181 // each nameserver's ready endpoint, on its own address
)

// nameserver is one hadns instance.
type nameserver struct {
	name, addr string
}

var nameservers = []nameserver{{"ns1", "127.0.0.1"}, {"ns2", "127.0.0.2"}}

// site is a site of the example Corefile: its client network, its backends
// (as the example zone lists them) and the client this program queries from.
type site struct {
	name     string
	net      netip.Prefix
	client   netip.Addr
	backends []string
}

var sites = []site{
	{"east", netip.MustParsePrefix("127.0.1.0/24"), netip.MustParseAddr("127.0.1.100"),
		[]string{"127.0.1.1", "127.0.1.2", "127.0.1.3"}},
	{"west", netip.MustParsePrefix("127.0.2.0/24"), netip.MustParseAddr("127.0.2.100"),
		[]string{"127.0.2.1", "127.0.2.2", "127.0.2.3"}},
}

// siteOf names the site whose network holds a (a client or a backend), or "".
func siteOf(a netip.Addr) string {
	for _, s := range sites {
		if s.net.Contains(a) {
			return s.name
		}
	}
	return ""
}

// siteByName returns the site called name.
func siteByName(name string) site {
	for _, s := range sites {
		if s.name == name {
			return s
		}
	}
	panic("no site " + name)
}

// rootZone is the private root: one server, and a delegation of
// example.test straight from the root with glue for both nameservers.
func rootZone() string {
	var b strings.Builder
	b.WriteString("$ORIGIN .\n$TTL 86400\n")
	fmt.Fprintf(&b, ".                86400  IN SOA a.root-servers. hostmaster.root-servers. 2026112201 1800 900 604800 86400\n")
	fmt.Fprintf(&b, ".                518400 IN NS  a.root-servers.\n")
	fmt.Fprintf(&b, "a.root-servers.  518400 IN A   %s\n", rootAddr)
	for _, ns := range nameservers {
		fmt.Fprintf(&b, "%s  172800 IN NS  %s.%s\n", zoneName, ns.name, zoneName)
	}
	for _, ns := range nameservers {
		fmt.Fprintf(&b, "%s.%s  172800 IN A   %s\n", ns.name, zoneName, ns.addr)
	}
	return b.String()
}

// rootHints is what unbound starts from.
func rootHints() string {
	return fmt.Sprintf(".                3600000 IN NS a.root-servers.\na.root-servers.  3600000 IN A  %s\n", rootAddr)
}

// rootCorefile serves the private root with CoreDNS's file plugin.
func rootCorefile(zoneFile string) string {
	return fmt.Sprintf(".:53 {\n    bind %s\n    errors\n    file %s .\n}\n", rootAddr, zoneFile)
}

// nsCorefile is one nameserver's Corefile: the example zone and the sites
// of Corefile.example, on port 53 of its own address.
func nsCorefile(ns nameserver, zoneFile string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:53 {\n    bind %s\n    errors\n    ready %s:%d\n    hadns {\n        zone %s\n",
		strings.TrimSuffix(zoneName, "."), ns.addr, ns.addr, readyPort, zoneFile)
	for i, s := range sites {
		other := sites[(i+1)%len(sites)]
		fmt.Fprintf(&b, "        site %s %s fallback %s\n", s.name, s.net, other.name)
	}
	b.WriteString("    }\n}\n")
	return b.String()
}

// unboundConf is unbound's configuration: the private root as its only
// way in, no DNSSEC validation (no validator module, so no trust anchor),
// and with ecs, the subnetcache module sending the client's /24 as ECS to
// the two nameservers (and to nothing else). Caching is unbound's default
// (no prefetch, no serving of expired answers) with cacheMinTTL as its
// cache-min-ttl (unbound's default 0: TTLs as the nameservers give them).
func unboundConf(dir string, ecs bool, cacheMinTTL int) string {
	var b strings.Builder
	b.WriteString("server:\n")
	fmt.Fprintf(&b, "    interface: %s\n    port: 53\n    outgoing-interface: %s\n", resolverAddr, resolverAddr)
	b.WriteString("    access-control: 127.0.0.0/8 allow\n")
	b.WriteString("    do-ip6: no\n")
	// The nameservers are on loopback addresses, which unbound does not
	// query by default.
	b.WriteString("    do-not-query-localhost: no\n")
	// unbound answers the special-use names of RFC 6761 (test. among
	// them) from local zones of its own unless told not to.
	fmt.Fprintf(&b, "    local-zone: %q nodefault\n", tld(zoneName))
	fmt.Fprintf(&b, "    root-hints: %q\n", dir+"/root.hints")
	fmt.Fprintf(&b, "    directory: %q\n", dir)
	b.WriteString("    username: \"\"\n    chroot: \"\"\n    pidfile: \"\"\n")
	b.WriteString("    use-syslog: no\n    logfile: \"\"\n    verbosity: 1\n    num-threads: 1\n")
	fmt.Fprintf(&b, "    cache-min-ttl: %d\n", cacheMinTTL)
	if ecs {
		b.WriteString("    module-config: \"subnetcache iterator\"\n")
		for _, ns := range nameservers {
			fmt.Fprintf(&b, "    send-client-subnet: %s\n", ns.addr)
		}
		b.WriteString("    max-client-subnet-ipv4: 24\n")
	} else {
		b.WriteString("    module-config: \"iterator\"\n")
	}
	b.WriteString("remote-control:\n    control-enable: no\n")
	return b.String()
}

// parseBudget reads service's row of `hadns check`'s table: the DETECTION,
// TTL and WORST CASE (detection bound + TTL) columns.
func parseBudget(checkOutput, service string) (budget, error) {
	col := map[string]int{}
	for _, line := range strings.Split(checkOutput, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "SERVER" {
			for i, h := range f {
				col[h] = i
			}
			continue
		}
		want := max(col["DETECTION"], col["TTL"], col["WORST"])
		if len(col) == 0 || len(f) <= want || f[1] != service {
			continue
		}
		var b budget
		var err error
		for _, c := range []struct {
			name string
			d    *time.Duration
		}{{"DETECTION", &b.detection}, {"TTL", &b.ttl}, {"WORST", &b.worst}} {
			if *c.d, err = time.ParseDuration(f[col[c.name]]); err != nil {
				return b, fmt.Errorf("hadns check: %s of %s: %w", c.name, service, err)
			}
		}
		return b, nil
	}
	return budget{}, fmt.Errorf("hadns check printed no row for %s:\n%s", service, checkOutput)
}

// tld is the last label of name, with its dot ("test." for example.test.).
func tld(name string) string {
	labels := dns.SplitDomainName(name)
	return labels[len(labels)-1] + "."
}

// firstTier returns the addresses of an SRV answer's lowest-priority
// (first) targets, read from hadns's target names (127-0-1-1.api...).
func firstTier(r *dns.Msg) []string {
	var best uint16
	var out []string
	for _, rr := range r.Answer {
		srv, ok := rr.(*dns.SRV)
		if !ok {
			continue
		}
		if out != nil && srv.Priority > best {
			continue
		}
		if out == nil || srv.Priority < best {
			best, out = srv.Priority, []string{}
		}
		label := dns.SplitDomainName(srv.Target)[0]
		out = append(out, strings.ReplaceAll(label, "-", "."))
	}
	return out
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
