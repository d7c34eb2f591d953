package differential

import (
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
)

// names are the owners the queries ask for, relative to the origin ("@"
// is the apex; a trailing dot means absolute). Each is asked with every
// type of queryTypes.
var names = []string{
	"@", "ns1", "ns2", "mail", "multi", "nope", "x.nope", "x.mail",
	// CNAMEs: inside the zone, chains into a service, out of the zone,
	// dangling, into a delegation.
	"www", "old", "alias", "docs", "dangling", "tochild",
	// Wildcards (RFC 4592) and empty non-terminals.
	"foo.wild", "a.b.wild", "*.wild", "host.wild", "x.host.wild", "wild", "foo.wc",
	"host.lab.dc", "lab.dc", "dc",
	// A delegation with glue.
	"child", "www.child", "ns1.child",
	// DNAME (RFC 6672): the owner itself, names below it, out of the zone,
	// into a service's parent.
	"dn", "a.dn", "x.dn", "sub", "x.sub", "out", "z.out", "web.p", "_http._tcp.web.p",
	// Services, their SRV owners, generated targets and the empty
	// non-terminal above an SRV owner.
	"api", "_http._tcp.api", "_tcp.api", "127-0-1-1.api", "127-0-2-1.api",
	"relay", "mx2", "web.pool", "_http._tcp.web.pool", "pool", "api6",
	"pool8", "_http._tcp.pool8", "_http._tcp.pool24", "srvmail", "_x._tcp",
	// A CNAME loop, a chain of four, a CNAME to a wildcard's name, an
	// owner with an escaped dot. (How long a chain a server follows is its
	// own choice: Knot stops after 5 CNAMEs, hadns after 8, NSD goes on;
	// the resolver continues from the last target, RFC 1034 §5.3.3.)
	"loop1", "c1", "towild", `esc\.dot`, `x\.y`,
	// A static name below a service, a wildcard CNAME into a service, a
	// delegation whose nameserver is another cut's glue, newer types.
	"v.api", "x.api", "foo.svcw", "child2", "_443._tcp.www", "long",
	// Large RRsets.
	"big", "mid",
	// Not ours: REFUSED.
	"example.org.", "test.",
}

var queryTypes = []uint16{
	dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypeMX, dns.TypeNS, dns.TypeSOA,
	dns.TypeTXT, dns.TypeCNAME, dns.TypeDNAME, dns.TypeANY, dns.TypeCAA, dns.TypeHTTPS, dns.TypeTLSA,
}

// variant is how a query is sent.
type variant struct {
	tcp  bool
	edns uint16
	do   bool
}

// variants cycle over the name × type matrix; large RRsets get every one.
var variants = []variant{
	{edns: 1232},
	{},
	{tcp: true, edns: 4096, do: true},
	{edns: 512},
	{edns: 4096, do: true},
	{tcp: true},
}

// buildQueries returns the queries in a fixed order: the name × type
// matrix, each with the next variant and every fourth in mixed case (with
// full: every variant, each in lower and mixed case), then every variant
// for the large RRsets and the SRV sets of many backends, then odd
// messages (other opcodes, MAILA/MAILB, ECS).
func buildQueries(full bool) []query {
	var qs []query
	i := 0
	for _, n := range names {
		for _, t := range queryTypes {
			if full {
				for _, v := range variants {
					for _, name := range []string{absolute(n), mixCase(absolute(n))} {
						qs = append(qs, query{name: name, qtype: t, tcp: v.tcp, edns: v.edns, do: v.do})
					}
				}
				continue
			}
			v := variants[i%len(variants)]
			name := absolute(n)
			if i%4 == 3 {
				name = mixCase(name)
			}
			qs = append(qs, query{name: name, qtype: t, tcp: v.tcp, edns: v.edns, do: v.do})
			i++
		}
	}
	for _, n := range []string{"big", "mid", "_http._tcp.pool8", "_http._tcp.pool24", "_http._tcp.api"} {
		t := dns.TypeSRV
		switch n {
		case "big":
			t = dns.TypeTXT
		case "mid":
			t = dns.TypeA
		}
		for _, v := range variants {
			qs = append(qs, query{name: absolute(n), qtype: t, tcp: v.tcp, edns: v.edns, do: v.do})
		}
	}
	// MAILA and MAILB are query types of RFC 1035 §3.2.3; nothing is
	// stored under them, so the answer is NODATA.
	for _, n := range []string{"@", "mail", "api"} {
		for _, t := range []uint16{dns.TypeMAILA, dns.TypeMAILB} {
			qs = append(qs, query{name: absolute(n), qtype: t, edns: 1232})
		}
	}
	// Other opcodes: NOTIMP with the opcode echoed (RFC 1035 §4.1.1).
	iq := &dns.A{Hdr: dns.RR_Header{Name: origin, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0}, A: net.IPv4(192, 0, 2, 1)}
	qs = append(qs,
		query{opcode: 15, noQ: true},                                                  // header only
		query{opcode: dns.OpcodeIQuery, noQ: true, answer: []dns.RR{iq}},              // RFC 3425: obsolete
		query{opcode: 6, noQ: true, edns: 1232},                                       // DSO (RFC 8490)
		query{opcode: dns.OpcodeStatus, name: origin, qtype: dns.TypeSOA, edns: 1232}, // STATUS: NOTIMP already
	)
	// Other types, classes and odd questions.
	for _, t := range []uint16{dns.TypeDS, dns.TypeDNSKEY, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeCAA, dns.TypeHINFO, dns.TypeNULL, 0, dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, 65280, 65535} {
		for _, n := range []string{"@", "child", "api"} {
			q := query{name: absolute(n), qtype: t, edns: 1232, do: true}
			if t == dns.TypeOPT || t == dns.TypeTSIG || t == dns.TypeTKEY {
				// An intended difference: the meta-TYPEs OPT, TSIG and TKEY
				// live only in a message's additional section, never in a
				// zone (RFC 6895 §3.1), so a question for one is malformed:
				// hadns answers FORMERR, as BIND does; NSD and Knot answer
				// NODATA.
				q.expect, q.hadnsOnly = rcode(dns.RcodeFormatError), true
			}
			qs = append(qs, q)
		}
	}
	// Zone transfers: hadns refuses every one (README: every instance loads
	// the zone files itself), over UDP and TCP alike. NSD and Knot answer
	// NOTIMP over UDP (RFC 5936 §4.2 defines AXFR over TCP only) and
	// REFUSED or NOTAUTH without a transfer ACL: an intended difference.
	for _, t := range []uint16{dns.TypeAXFR, dns.TypeIXFR} {
		for _, tcp := range []bool{false, true} {
			qs = append(qs, query{name: origin, qtype: t, tcp: tcp, edns: 1232, expect: rcode(dns.RcodeRefused), hadnsOnly: true})
		}
	}
	for _, c := range []uint16{dns.ClassCHAOS, dns.ClassANY, dns.ClassNONE, dns.ClassHESIOD, 1234} {
		for _, n := range []string{"@", "api"} {
			q := query{name: absolute(n), qtype: dns.TypeA, qclass: c, edns: 1232}
			if c == dns.ClassANY {
				// An intended difference: QCLASS * matches every class (RFC
				// 1035 §3.2.5), and NSD and Knot answer it with the IN data;
				// CoreDNS's server refuses every class but IN (and CH for a
				// chaos plugin) before any plugin sees the query.
				q.expect, q.hadnsOnly = rcode(dns.RcodeRefused), true
			}
			qs = append(qs, q)
		}
	}
	qs = append(qs,
		// RFC 6891 §6.2.5: a buffer below 512 is read as 512.
		query{name: absolute("mid"), qtype: dns.TypeA, edns: 100},
		query{name: absolute("big"), qtype: dns.TypeTXT, edns: 65535},
		// An unknown EDNS option is ignored (RFC 6891 §6.1.2).
		query{name: absolute("api"), qtype: dns.TypeA, edns: 1232, unknownOpt: true},
		query{name: ".", qtype: dns.TypeNS, edns: 1232},
		query{name: "version.bind.", qtype: dns.TypeTXT, qclass: dns.ClassCHAOS},
		query{name: absolute("api"), qtype: dns.TypeA, rd: true},
		query{name: absolute("api"), qtype: dns.TypeA, ednsVersion: 1, edns: 1232},
		// Knot drops a message with two questions; over TCP it says so at
		// once by closing the connection, where UDP would wait out retries.
		query{name: absolute("api"), qtype: dns.TypeA, twoQ: true, tcp: true},
	)
	// ECS (RFC 7871) on a service: the references ignore it; rcode and
	// answer must still agree.
	qs = append(qs,
		query{name: absolute("api"), qtype: dns.TypeA, edns: 1232, ecs: ecs("127.0.0.0", 24), expect: scope(8)}, // east's network is 127.0.0.0/8
		query{name: absolute("api"), qtype: dns.TypeA, edns: 1232, ecs: ecs("198.51.100.0", 24)},
		// RFC 7871 §7.4: an answer that is the same for every site (no
		// backend has an IPv6 address) has scope 0.
		query{name: absolute("api"), qtype: dns.TypeAAAA, edns: 1232, ecs: ecs("127.0.0.0", 24), expect: scope(0)},
		// §7.2.1: a CNAME chain into a service carries the service's
		// scope; static data, the same for every site, scope 0 (§7.4).
		query{name: absolute("www"), qtype: dns.TypeA, edns: 1232, ecs: ecs("127.0.0.0", 24), expect: scope(8)},
		query{name: absolute("mail"), qtype: dns.TypeA, edns: 1232, ecs: ecs("127.0.0.0", 24), expect: scope(0)},
		query{name: absolute("nope"), qtype: dns.TypeA, edns: 1232, ecs: ecs("127.0.0.0", 24), expect: scope(0)},
		query{name: absolute("_http._tcp.api"), qtype: dns.TypeSRV, tcp: true, edns: 1232, ecs: ecs("127.0.0.0", 24), expect: scope(8)},
		// RFC 7871 §6: ADDRESS longer than SOURCE PREFIX-LENGTH needs is
		// FORMERR (a /24 with four octets). NSD and Knot do not implement
		// ECS and answer it as if the option were not there: only hadns's
		// reply is checked.
		query{name: absolute("api"), qtype: dns.TypeA, edns: 1232, rawECS: []byte{0, 1, 24, 0, 127, 0, 0, 0}, expect: rcode(dns.RcodeFormatError), hadnsOnly: true},
	)
	return qs
}

// scope expects hadns's reply to carry an ECS option with this scope.
func scope(want uint8) func(*dns.Msg) string {
	return func(m *dns.Msg) string {
		if o := m.IsEdns0(); o != nil {
			for _, opt := range o.Option {
				if e, ok := opt.(*dns.EDNS0_SUBNET); ok {
					if e.SourceScope != want {
						return fmt.Sprintf("ECS scope /%d, want /%d", e.SourceScope, want)
					}
					return ""
				}
			}
		}
		return "no ECS option in the reply"
	}
}

// rcode expects hadns's reply to have this rcode.
func rcode(want int) func(*dns.Msg) string {
	return func(m *dns.Msg) string {
		if m.Rcode != want {
			return fmt.Sprintf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[want])
		}
		return ""
	}
}

func ecs(addr string, bits uint8) *dns.EDNS0_SUBNET {
	return &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: bits, Address: net.ParseIP(addr).To4()}
}

// absolute makes a relative name of the names list absolute.
func absolute(n string) string {
	switch {
	case n == "@":
		return origin
	case strings.HasSuffix(n, "."):
		return n
	}
	return n + "." + origin
}

// mixCase upper-cases every other letter: servers must echo the question
// as sent (RFC 1034 §3.1 and the 0x20 resolvers rely on).
func mixCase(s string) string {
	b := []byte(s)
	up := true
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			if up {
				b[i] = c - 'a' + 'A'
			}
			up = !up
		}
	}
	return string(b)
}
