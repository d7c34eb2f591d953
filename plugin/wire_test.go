package hadns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/sites"
)

// wireZone adds a second site and more backends to testZone, so answers
// rotate, tier and fall back.
const wireZone = testZone + `      - {address: 192.0.2.2, site: east}
      - {address: 198.51.100.1, site: west}
      - {address: 198.51.100.2, site: west}
`

var wireSites = []sites.Config{
	{Name: "east", Networks: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, Fallback: []string{"west"}},
	{Name: "west", Networks: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16"), netip.MustParsePrefix("2001:db8:2::/48")}, Fallback: []string{"east"}},
}

// opaqueWriter is a writer the fast path does not know, as dnstap's or
// tsig's are: it must be handed a message.
type opaqueWriter struct{ *captureWriter }

// slowQuery answers m through a writer that forces the general path.
func slowQuery(t *testing.T, h *Hadns, m *dns.Msg, w dns.ResponseWriter) *dns.Msg {
	t.Helper()
	cw := &captureWriter{ResponseWriter: w}
	if _, err := h.ServeDNS(context.Background(), opaqueWriter{cw}, m); err != nil {
		t.Fatal(err)
	}
	if cw.msgs != 1 {
		t.Fatalf("general path wrote %d messages", cw.msgs)
	}
	resp := new(dns.Msg)
	if err := resp.Unpack(cw.wire); err != nil {
		t.Fatal(err)
	}
	return resp
}

// normal sorts every section, so answers that differ only in rotation
// compare equal.
func normal(m *dns.Msg) string {
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		slices.SortFunc(sec, func(a, b dns.RR) int { return strings.Compare(a.String(), b.String()) })
	}
	return m.String()
}

// TestWireMatchesMessage checks that every pre-packed reply is the reply the
// general path builds, over every kind of name, flag, EDNS and ECS variant,
// UDP and TCP, ready or not.
func TestWireMatchesMessage(t *testing.T) {
	h := newTestHandler(t, svcbWireZone, wireSites...)
	names := []struct {
		name  string
		qtype uint16
		fast  bool // answered from packed bytes over TCP
	}{
		{"mail.example.test.", dns.TypeA, true},
		{"example.test.", dns.TypeMX, true},
		{"example.test.", dns.TypeNS, true},
		{"example.test.", dns.TypeSOA, true},
		{"example.test.", dns.TypeTXT, true},
		{"example.test.", dns.TypeCAA, true}, // NODATA
		{"api.example.test.", dns.TypeA, true},
		{"api.example.test.", dns.TypeAAAA, true},
		{"api.example.test.", dns.TypeTXT, true}, // NODATA at a service
		{"api.example.test.", dns.TypeANY, true}, // the service's A answer
		{"_http._tcp.api.example.test.", dns.TypeSRV, true},
		{"dc.example.test.", dns.TypeA, true}, // empty non-terminal
		{"www.example.test.", dns.TypeCNAME, true},
		{"www.example.test.", dns.TypeA, false},       // CNAME chased
		{"x.wild.example.test.", dns.TypeTXT, false},  // wildcard
		{"nope.example.test.", dns.TypeA, false},      // NXDOMAIN
		{"www.child.example.test.", dns.TypeA, false}, // referral
		{"big.example.test.", dns.TypeTXT, true},      // too big for UDP: general path there

		// HTTPS and SVCB: from health at the service name and below it,
		// NODATA at an SVCB owner, AliasMode as a static record.
		{"api.example.test.", dns.TypeHTTPS, true},
		{"_8443._foo.api.example.test.", dns.TypeSVCB, true},
		{"_8443._foo.api.example.test.", dns.TypeHTTPS, true},
		{"_dns.api.example.test.", dns.TypeSVCB, true},
	}
	type variant struct {
		name     string
		edns     bool
		size     uint16
		do       bool
		ecs      string
		rd, cd   bool
		upper    bool
		tcp      bool
		notReady bool
		remote   string
	}
	var variants []variant
	for _, tcp := range []bool{false, true} {
		variants = append(variants,
			variant{name: "plain", tcp: tcp, remote: "10.1.0.9"},
			variant{name: "edns", edns: true, size: 1232, tcp: tcp, remote: "10.2.0.9"},
			variant{name: "edns-do-small", edns: true, size: 512, do: true, rd: true, tcp: tcp, remote: "10.9.0.9"},
			variant{name: "ecs4", edns: true, size: 4096, ecs: "10.2.3.0/24", cd: true, upper: true, tcp: tcp, remote: "10.1.0.9"},
			variant{name: "ecs6", edns: true, size: 1400, ecs: "2001:db8:2::/56", tcp: tcp, remote: "10.1.0.9"},
			variant{name: "ecs0", edns: true, size: 1232, ecs: "0.0.0.0/0", tcp: tcp, remote: "10.2.0.9"},
			variant{name: "not-ready", edns: true, size: 1232, notReady: true, upper: true, rd: true, tcp: tcp, remote: "10.2.0.9"},
		)
	}
	for _, v := range variants {
		for _, n := range names {
			proto := "udp"
			if v.tcp {
				proto = "tcp"
			}
			t.Run(fmt.Sprintf("%s/%s/%s/%s", v.name, proto, n.name, dns.TypeToString[n.qtype]), func(t *testing.T) {
				h.ready.Store(!v.notReady)
				defer h.ready.Store(true)
				m := new(dns.Msg)
				qname := n.name
				if v.upper {
					qname = strings.ToUpper(qname[:3]) + qname[3:]
				}
				m.SetQuestion(qname, n.qtype)
				m.Id = 0xbeef
				m.RecursionDesired, m.CheckingDisabled = v.rd, v.cd
				if v.edns {
					m.SetEdns0(v.size, v.do)
					if v.ecs != "" {
						p := netip.MustParsePrefix(v.ecs)
						fam := uint16(1)
						if p.Addr().Is6() {
							fam = 2
						}
						m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{
							Code: dns.EDNS0SUBNET, Family: fam, SourceNetmask: uint8(p.Bits()), Address: net.IP(p.Addr().AsSlice())})
					}
				}
				remote := &net.UDPAddr{IP: net.ParseIP(v.remote), Port: 5353}
				newW := func() dns.ResponseWriter { return &addrWriter{tcp: v.tcp, remote: remote} }

				cw := &captureWriter{ResponseWriter: newW()}
				rec := dnstest.NewRecorder(request.NewScrubWriter(m, cw))
				if _, err := plugin.NextOrFailure("test", h, context.Background(), rec, m); err != nil {
					t.Fatal(err)
				}
				fast := new(dns.Msg)
				if err := fast.Unpack(cw.wire); err != nil {
					t.Fatalf("reply does not unpack: %v", err)
				}
				slow := slowQuery(t, h, m, newW())
				if fast.Id != m.Id || fast.Question[0] != m.Question[0] {
					t.Fatalf("id %x question %v, want %x %v", fast.Id, fast.Question[0], m.Id, m.Question[0])
				}
				// Packed answers point at the question for their owner names,
				// so those take the question's case (as NSD's and Knot's do);
				// names are compared without case (RFC 4343).
				if a, b := strings.ToLower(normal(fast)), strings.ToLower(normal(slow)); a != b {
					t.Fatalf("packed reply differs from the message:\n%s\n--- general path:\n%s", a, b)
				}
				if rec.Msg == nil || rec.Rcode != fast.Rcode || rec.Msg.RecursionDesired != m.RecursionDesired || len(rec.Msg.Answer) != len(fast.Answer) {
					t.Fatalf("recorder saw %v", rec.Msg)
				}
				if v.tcp && n.fast && !isWire(h, m) {
					t.Fatal("expected a packed reply for this name")
				}
				if v.tcp && n.fast && cw.msgs != 0 {
					t.Fatal("a packed answer was written as a message")
				}
			})
		}
	}
}

// isWire reports whether m's answer is pre-packed.
func isWire(h *Hadns, m *dns.Msg) bool {
	snap := h.snap.Load()
	q := m.Question[0]
	qname := strings.ToLower(q.Name)
	return snap.zoneFor(qname).Lookup(qname, q.Qtype, 0).Wire != nil
}

// addrWriter is a test writer with a fixed remote address.
type addrWriter struct {
	test.ResponseWriter
	tcp    bool
	remote net.Addr
}

func (w *addrWriter) RemoteAddr() net.Addr {
	if w.tcp {
		a := w.remote.(*net.UDPAddr)
		return &net.TCPAddr{IP: a.IP, Port: a.Port}
	}
	return w.remote
}

// discardWire takes a reply the way a server does, and keeps nothing.
type discardWire struct{ addrWriter }

func (*discardWire) WriteMsg(m *dns.Msg) error   { _, err := m.Pack(); return err }
func (*discardWire) Write(b []byte) (int, error) { return len(b), nil }

// TestWireNoAllocs checks that a pre-packed answer costs no allocation in
// our code: the request is parsed and the writers made by the server.
func TestWireNoAllocs(t *testing.T) {
	h := newTestHandler(t, svcbWireZone, wireSites...)
	for _, tc := range []struct {
		qname string
		qtype uint16
		ecs   bool
	}{
		{"api.example.test.", dns.TypeA, false},
		{"api.example.test.", dns.TypeA, true},
		{"_http._tcp.api.example.test.", dns.TypeSRV, false},
		{"api.example.test.", dns.TypeHTTPS, false},
		{"api.example.test.", dns.TypeHTTPS, true},
		{"_8443._foo.api.example.test.", dns.TypeSVCB, false},
		{"mail.example.test.", dns.TypeA, false},
		{"api.example.test.", dns.TypeTXT, false},
		{"nope.example.test.", dns.TypeA, false},
	} {
		m := new(dns.Msg)
		m.SetQuestion(tc.qname, tc.qtype)
		m.SetEdns0(1232, true)
		if tc.ecs {
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{
				Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(10, 2, 3, 0).To4()})
		}
		w := &discardWire{addrWriter{remote: &net.UDPAddr{IP: net.IPv4(10, 1, 0, 9), Port: 53}}}
		// The writers a server with log and prometheus before us gives us:
		// recorders, CoreDNS's writer between plugins, its ScrubWriter.
		var sw dns.ResponseWriter
		plugin.NextOrFailure("log", plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, _ *dns.Msg) (int, error) {
			sw = w
			return 0, nil
		}), context.Background(), dnstest.NewRecorder(request.NewScrubWriter(m, w)), m)
		ctx := context.Background()
		allocs := testing.AllocsPerRun(200, func() { h.ServeDNS(ctx, sw, m) })
		if allocs != 0 {
			t.Errorf("%s %s ecs=%v: %.1f allocations per query, want 0", tc.qname, dns.TypeToString[tc.qtype], tc.ecs, allocs)
		}
	}
}

// TestFastPathSeesThroughCoreDNSWriter fails when CoreDNS changes the writer
// plugin.NextOrFailure puts around each plugin so that hadns no longer sees
// through it: answers behind log or prometheus would lose the packed path.
func TestFastPathSeesThroughCoreDNSWriter(t *testing.T) {
	if pluginWriterType == nil {
		t.Fatalf("the packed fast path is off behind other plugins: %s. CoreDNS changed its writer between plugins (plugin.NextOrFailure); teach learnPluginWriter and unwrapPluginWriter the new one", pluginWriterProblem)
	}
}

// The start-up probe that learns CoreDNS's writer reports, never panics,
// whatever CoreDNS does.
func TestLearnPluginWriterCannotPanic(t *testing.T) {
	type oddWriter struct {
		name string
		dns.ResponseWriter
	}
	for _, tc := range []struct {
		name string
		call func(plugin.Handler, dns.ResponseWriter, *dns.Msg)
		want string
	}{
		{"panics", func(plugin.Handler, dns.ResponseWriter, *dns.Msg) { panic("boom") }, "panicked: boom"},
		{"never calls", func(plugin.Handler, dns.ResponseWriter, *dns.Msg) {}, "not called"},
		{"nil writer", func(h plugin.Handler, _ dns.ResponseWriter, r *dns.Msg) { h.ServeDNS(context.Background(), nil, r) }, "not called, or got no writer"},
		{"odd layout", func(h plugin.Handler, w dns.ResponseWriter, r *dns.Msg) {
			h.ServeDNS(context.Background(), &oddWriter{"x", w}, r)
		}, "first field"},
	} {
		typ, problem := learnPluginWriter(tc.call)
		if typ != nil || !strings.Contains(problem, tc.want) {
			t.Errorf("%s: type %v, problem %q; want none and a problem with %q", tc.name, typ, problem, tc.want)
		}
	}
	if typ, problem := learnPluginWriter(func(h plugin.Handler, w dns.ResponseWriter, r *dns.Msg) { h.ServeDNS(context.Background(), w, r) }); typ != nil || problem != "" {
		t.Errorf("no writer between plugins: type %v, problem %q; want neither", typ, problem)
	}
}
