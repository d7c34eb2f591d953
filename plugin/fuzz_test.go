package hadns

// Fuzz targets for everything that reads untrusted or operator-written bytes:
// zone files, the Corefile's site lines, the ECS option of a query, and
// whole query packets through ServeDNS. Their seed corpora live in
// testdata/fuzz/<FuzzName>/; `go test ./plugin` runs every seed as a
// regression test, `go test -run '^$' -fuzz '^FuzzServeDNS$' ./plugin`
// explores further.

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/clientsubnet"
	"github.com/hadns/hadns/internal/fileerr"
	"github.com/hadns/hadns/internal/sites"
	"github.com/hadns/hadns/internal/zone"
	"github.com/hadns/hadns/internal/zone/zonetest"
)

// FuzzZoneFile feeds bytes to the zone-file parser. It must never panic;
// every error must name the file and a line (only "empty zone file" concerns
// the file as a whole); a zone that loads must answer queries for each of its
// names without panicking and with replies that pack.
func FuzzZoneFile(f *testing.F) {
	f.Add([]byte(testZone))
	f.Add([]byte(svcbWireZone))
	f.Add([]byte(zonetest.SVCBBase + "    svcb: [{name: _a, alias: x}, {name: _b, params: {mandatory: ech, ech: AEX+}}, {name: 1, port: 0}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		z, err := zone.Parse("fuzz.yaml", data, time.Unix(1, 0))
		if err != nil {
			var list fileerr.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not a non-empty fileerr.ErrorList: %T %v", err, err)
			}
			for _, e := range list {
				if e.File != "fuzz.yaml" {
					t.Errorf("error names file %q: %v", e.File, e)
				}
				if e.Line <= 0 && e.Msg != "empty zone file" {
					t.Errorf("error without a line: %q", e.Error())
				}
			}
			return
		}
		if z == nil {
			t.Fatal("no error and no zone")
		}
		h := handlerForZone(t, z)
		names := z.Names()
		if len(names) > 64 {
			names = names[:64] // bound the work per input
		}
		for _, name := range names {
			for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypeANY, dns.TypeNS, dns.TypeMX, dns.TypeTXT} {
				m := new(dns.Msg)
				m.SetQuestion(name, qt)
				m.SetEdns0(4096, false)
				checkServe(t, h, m, false, fuzzClients[0], true)
			}
		}
	})
}

// handlerForZone serves one parsed zone with every backend healthy, the
// sites being those its backends name.
func handlerForZone(t *testing.T, z *zone.Zone) *Hadns {
	t.Helper()
	var backendSites []string
	for _, s := range z.Services() {
		for _, b := range s.Backends() {
			if !slices.Contains(backendSites, b.Site()) {
				backendSites = append(backendSites, b.Site())
			}
		}
	}
	st, err := sites.New(nil, nil, fileerr.Position{}, backendSites)
	if err != nil {
		t.Fatalf("site table for a zone that loaded: %v", err)
	}
	snap := &snapshot{zones: map[string]*zone.Zone{z.Origin(): z}, sites: st}
	for _, s := range z.Services() {
		s.SetAnswers(zone.ComputeAnswers(s, make([]zone.Health, len(s.Backends())), st.Orders()))
	}
	h := &Hadns{}
	h.snap.Store(snap)
	h.ready.Store(true)
	return h
}

// caddyLine finds the "Testfile:N" location caddy puts in Corefile errors.
var caddyLine = regexp.MustCompile(`Testfile:\d+ - `)

// FuzzSiteLines parses arbitrary text as the body of a hadns block (site,
// default_order and the other properties). It must never panic; a rejected
// block's error must carry the Corefile line; an accepted one must build a
// site table, or be refused with a plain error, and the table must map any
// address to a valid order.
func FuzzSiteLines(f *testing.F) {
	f.Add("site east 127.0.1.0/24 fallback west\nsite west 127.0.2.0/24 fallback east")
	f.Fuzz(func(t *testing.T, body string) {
		c := caddy.NewTestController("dns", "hadns {\n zone a.yaml\n"+body+"\n}\n")
		c.ServerBlockKeys = []string{"example.test."}
		_, cfg, err := parse(c)
		if err != nil {
			if errors.Is(err, plugin.ErrOnce) && strings.Contains(body, pluginName) {
				return // a second hadns directive: CoreDNS's own message
			}
			if !caddyLine.MatchString(err.Error()) {
				t.Fatalf("Corefile error without a line: %v", err)
			}
			return
		}
		var backendSites []string
		for _, s := range cfg.sites {
			backendSites = append(backendSites, s.Name)
		}
		st, err := sites.New(cfg.sites, cfg.defaultOrder, cfg.defaultOrderAt, backendSites)
		if err != nil {
			return // a semantic error (unknown fallback, duplicate network): reported by load
		}
		if len(st.Orders()) != len(cfg.sites)+1 {
			t.Fatalf("%d orders for %d sites", len(st.Orders()), len(cfg.sites))
		}
		for _, o := range st.Orders() {
			if len(o.Sites) != len(cfg.sites) {
				t.Errorf("order %v does not hold every site once", o.Sites)
			}
		}
		probes := []netip.Addr{netip.MustParseAddr("127.0.1.1"), netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::ffff:127.0.2.9")}
		for _, s := range cfg.sites {
			for _, n := range s.Networks {
				probes = append(probes, n.Addr())
			}
		}
		for _, a := range probes {
			i, bits := st.Match(a)
			if i < 0 || i >= len(st.Orders()) {
				t.Fatalf("match(%v) = order %d of %d", a, i, len(st.Orders()))
			}
			if bits < -1 || bits > a.BitLen() {
				t.Fatalf("match(%v) = scope %d", a, bits)
			}
			if bits >= 0 {
				// Every address in the scope's network gets the same order.
				n, _ := a.Prefix(bits)
				for _, b := range []netip.Addr{n.Addr(), lastAddr(n)} {
					if j, _ := st.Match(b); j != i {
						t.Fatalf("match(%v) = order %d, scope /%d, but %v in that network gets order %d", a, i, bits, b, j)
					}
				}
			}
		}
	})
}

// FuzzECS puts arbitrary bytes in the EDNS Client Subnet option of an A
// query. queryECS must never panic; an option it accepts must be a masked
// prefix of its family; ServeDNS must answer FORMERR exactly when it is
// refused, and otherwise echo the option with a scope whose network maps to
// the same site as the client.
func FuzzECS(f *testing.F) {
	f.Add([]byte{0, 1, 24, 0, 127, 0, 1})
	h := exampleHandler(f)
	f.Fuzz(func(t *testing.T, option []byte) {
		wire := ecsQuery("api.example.test.", option)
		r := new(dns.Msg)
		if err := r.Unpack(wire); err != nil {
			return // a packet CoreDNS would drop before any plugin sees it
		}
		ecs, ecsErr := clientsubnet.Parse(r.IsEdns0())
		if ecsErr == nil && ecs.Opt != nil {
			p := ecs.Prefix
			switch ecs.Opt.Family {
			case 1:
				if !p.Addr().Is4() {
					t.Fatalf("family 1 gave %v", p)
				}
			case 2:
				if !p.Addr().Is6() {
					t.Fatalf("family 2 gave %v", p)
				}
			default:
				t.Fatalf("accepted family %d", ecs.Opt.Family)
			}
			if p.Masked() != p || p.Bits() < 0 {
				t.Fatalf("accepted unmasked or invalid prefix %v", p)
			}
		}
		for _, client := range fuzzClients {
			reply := checkServe(t, h, r, false, client, true)
			if reply == nil {
				continue
			}
			if (reply.Rcode == dns.RcodeFormatError) != (ecsErr != nil) {
				t.Fatalf("rcode %s, queryECS error %v", dns.RcodeToString[reply.Rcode], ecsErr)
			}
			if ecs.Opt == nil || ecsErr != nil {
				continue
			}
			var got *dns.EDNS0_SUBNET
			if opt := reply.IsEdns0(); opt != nil {
				for _, o := range opt.Option {
					if e, ok := o.(*dns.EDNS0_SUBNET); ok {
						got = e
					}
				}
			}
			if got == nil {
				t.Fatalf("ECS not echoed")
			}
			if got.Family != ecs.Opt.Family || got.SourceNetmask != ecs.Opt.SourceNetmask {
				t.Fatalf("echoed ECS %v for %v", got, ecs.Opt)
			}
			checkScope(t, h, ecs.Prefix, got)
		}
	})
}

// checkScope asserts that every client in the network the reply's ECS scope
// names gets the same site as the one the answer was made for: a resolver
// caches the answer for that whole network.
func checkScope(t *testing.T, h *Hadns, client netip.Prefix, got *dns.EDNS0_SUBNET) {
	t.Helper()
	if got.SourceScope == 0 || client.Bits() == 0 {
		return
	}
	st := h.snap.Load().sites
	want, _ := st.Match(client.Addr())
	scope := int(got.SourceScope)
	if scope > client.Addr().BitLen() {
		t.Fatalf("scope /%d for a %d-bit family", scope, client.Addr().BitLen())
	}
	network, err := client.Addr().Prefix(scope)
	if err != nil {
		t.Fatalf("scope /%d: %v", scope, err)
	}
	// The network's first and last addresses: a site network no longer than
	// the scope holds both or neither.
	first := network.Addr()
	last := lastAddr(network)
	for _, a := range []netip.Addr{first, last} {
		if i, _ := st.Match(a); i != want {
			t.Fatalf("scope %s: %v gets site %q, the client %v site %q", network, a, st.Orders()[i].Site, client, st.Orders()[want].Site)
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// ecsQuery builds the wire form of an A query for name whose OPT record holds
// one option of code 8 (ECS) with the given data, whatever it holds.
func ecsQuery(name string, option []byte) []byte {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.Id = 0x4ec5
	wire, _ := m.Pack()
	binary.BigEndian.PutUint16(wire[10:], 1) // ARCOUNT
	opt := []byte{0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0}
	rdlen := 4 + len(option)
	if rdlen > 0xffff {
		rdlen, option = 0xffff, option[:0xffff-4]
	}
	opt = binary.BigEndian.AppendUint16(opt, uint16(rdlen))
	opt = binary.BigEndian.AppendUint16(opt, dns.EDNS0SUBNET)
	opt = binary.BigEndian.AppendUint16(opt, uint16(len(option)))
	return append(append(wire, opt...), option...)
}

// FuzzServeDNS unpacks arbitrary bytes as a query and, when miekg/dns
// accepts them, serves them over UDP and TCP from several client addresses
// to a handler for the example zone (every backend healthy) and one for a
// zone whose services are degraded (suspect, down, fail-open, nodata,
// servfail, not ready). It must not panic and must write exactly one reply
// that packs, is a response to the query, carries an rcode from the set
// hadns uses, and fits the client's UDP buffer.
func FuzzServeDNS(f *testing.F) {
	f.Add(mustPack(f, "api.example.test.", dns.TypeA), false, uint8(0))
	f.Add(mustPackDO(f, "nope.wild.example.test.", dns.TypeNXNAME), false, uint8(0))
	f.Add(mustPack(f, "api.example.test.", dns.TypeHTTPS), false, uint8(1))
	f.Add(mustPackDO(f, "api.example.test.", dns.TypeHTTPS), true, uint8(0))
	f.Add(mustPack(f, "api.degraded.test.", dns.TypeHTTPS), false, uint8(0))
	f.Add(mustPack(f, "_x._tcp.sf.degraded.test.", dns.TypeSVCB), false, uint8(0))
	f.Add(mustPack(f, "_x._udp.open.degraded.test.", dns.TypeSVCB), false, uint8(1))
	handlers := []struct {
		h        *Hadns
		servfail bool // the zone has a service that answers SERVFAIL
	}{
		{exampleHandler(f), false},
		{degradedHandler(f), true},
		{signedFuzzHandler(f), false},
	}
	f.Fuzz(func(t *testing.T, packet []byte, tcp bool, src uint8) {
		r := new(dns.Msg)
		if err := r.Unpack(packet); err != nil {
			return // CoreDNS drops it (or answers FORMERR) before any plugin
		}
		client := fuzzClients[int(src)%len(fuzzClients)]
		for _, hd := range handlers {
			checkServe(t, hd.h, r, tcp, client, hd.servfail)
		}
	})
}

// fuzzClients are the source addresses queries come from: each example site,
// no site, IPv6, and an IPv4-mapped IPv6 address.
var fuzzClients = []string{"127.0.1.100", "127.0.2.100", "192.0.2.1", "2001:db8::5", "::ffff:127.0.1.7"}

// checkServe serves a copy of r (ServeDNS must not depend on the caller
// keeping it) and checks the reply; it returns the reply unpacked from its
// wire form, or nil when there was none to check.
func checkServe(t *testing.T, h *Hadns, r *dns.Msg, tcp bool, client string, servfailOK bool) *dns.Msg {
	t.Helper()
	w := &fuzzWriter{tcp: tcp, remote: net.ParseIP(client)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	q := r.Copy()
	// Under the writers a CoreDNS server gives a plugin, so packed answers
	// are fuzzed too.
	rc, err := h.ServeDNS(ctx, dnstest.NewRecorder(request.NewScrubWriter(q, w)), q)
	if err != nil || rc != dns.RcodeSuccess {
		t.Fatalf("ServeDNS returned %d, %v: it writes every reply itself", rc, err)
	}
	if len(w.msgs) != 1 {
		t.Fatalf("%d replies written, want 1, for\n%v", len(w.msgs), r)
	}
	m := w.msgs[0]
	wire := w.wires[0]
	if wire == nil {
		var err error
		if wire, err = m.Pack(); err != nil {
			t.Fatalf("reply does not pack: %v\nquery:\n%v\nreply:\n%v", err, r, m)
		}
	}
	if !tcp {
		limit := dns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil {
			limit = int(min(max(opt.UDPSize(), dns.MinMsgSize), maxUDPSize))
		}
		if len(wire) > limit {
			t.Fatalf("UDP reply of %d bytes for a %d-byte buffer\nquery:\n%v", len(wire), limit, r)
		}
	}
	back := new(dns.Msg)
	if err := back.Unpack(wire); err != nil {
		t.Fatalf("reply does not unpack: %v\nquery:\n%v", err, r)
	}
	if !back.Response || back.Id != r.Id || back.Opcode != r.Opcode {
		t.Fatalf("not a response to the query: id %d/%d opcode %d/%d qr %v", back.Id, r.Id, back.Opcode, r.Opcode, back.Response)
	}
	if back.RecursionAvailable {
		t.Fatalf("RA set")
	}
	switch back.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeFormatError, dns.RcodeNotImplemented, dns.RcodeRefused:
	case dns.RcodeServerFailure:
		if !servfailOK {
			t.Fatalf("SERVFAIL from a zone with no servfail service\nquery:\n%v", r)
		}
	default:
		t.Fatalf("rcode %s\nquery:\n%v", dns.RcodeToString[back.Rcode], r)
	}
	if back.Rcode == dns.RcodeSuccess || back.Rcode == dns.RcodeNameError {
		if len(back.Question) != 1 || !strings.EqualFold(back.Question[0].Name, r.Question[0].Name) {
			t.Fatalf("question not echoed: %v for %v", back.Question, r.Question)
		}
	}
	return back
}

// fuzzWriter records what ServeDNS writes, from a chosen client address.
type fuzzWriter struct {
	tcp    bool
	remote net.IP
	msgs   []*dns.Msg
	wires  [][]byte // the bytes of replies written as bytes; nil for messages
}

func (w *fuzzWriter) LocalAddr() net.Addr {
	if w.tcp {
		return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
}

func (w *fuzzWriter) RemoteAddr() net.Addr {
	if w.tcp {
		return &net.TCPAddr{IP: w.remote, Port: 40212}
	}
	return &net.UDPAddr{IP: w.remote, Port: 40212}
}

func (w *fuzzWriter) WriteMsg(m *dns.Msg) error {
	w.msgs, w.wires = append(w.msgs, m), append(w.wires, nil)
	return nil
}

func (w *fuzzWriter) Write(b []byte) (int, error) {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return 0, err
	}
	w.msgs, w.wires = append(w.msgs, m), append(w.wires, append([]byte(nil), b...))
	return len(b), nil
}
func (w *fuzzWriter) Network() string {
	if w.tcp {
		return "tcp"
	}
	return "udp"
}
func (w *fuzzWriter) Close() error        { return nil }
func (w *fuzzWriter) TsigStatus() error   { return nil }
func (w *fuzzWriter) TsigTimersOnly(bool) {}
func (w *fuzzWriter) Hijack()             {}

// exampleHandler serves the repository's example zone with the sites of
// Corefile.example, every backend healthy.
func exampleHandler(tb testing.TB) *Hadns {
	tb.Helper()
	data, err := os.ReadFile("../zones/example.test.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	return newTestHandler(tb, string(data),
		sites.Config{Name: "east", Networks: []netip.Prefix{netip.MustParsePrefix("127.0.1.0/24")}, Fallback: []string{"west"}},
		sites.Config{Name: "west", Networks: []netip.Prefix{netip.MustParsePrefix("127.0.2.0/24"), netip.MustParsePrefix("2001:db8::/48")}, Fallback: []string{"east"}},
	)
}

// degradedZone has a service per degraded answer kind; degradedHandler sets
// its backends' health.
const degradedZone = `origin: degraded.test.
soa: {mname: ns1, rname: hostmaster, minimum: 60}
ns: [ns1]
records: |
  ns1   A      192.0.2.53
  www   CNAME  api
  sf2   CNAME  sf
services:
  - name: api
    port: 80
    srv: [_http._tcp, {name: _https._tcp, port: 443}]
    https: {alpn: [h2], port: 443}
    min_healthy: 2
    max_answers: 2
    backends:
      - {address: 127.0.1.1, site: east}
      - {address: 127.0.1.2, site: east, weight: 5}
      - {address: "2001:db8::1", site: east, hostname: v6.degraded.test.}
      - {address: 127.0.2.1, site: west}
      - {address: 127.0.2.2, site: west}
  - name: open
    port: 80
    srv: [_x._udp]
    svcb: {name: _x._udp, alpn: [x]}
    backends:
      - {address: 127.0.1.3, site: east}
      - {address: 127.0.2.3, site: west}
  - name: nd
    on_all_down: nodata
    port: 80
    srv: [_x._tcp]
    https: {}
    backends: [{address: 127.0.1.4, site: east}]
  - name: sf
    on_all_down: servfail
    port: 80
    srv: [_x._tcp]
    svcb: {name: _x._tcp}
    backends: [{address: 127.0.2.4, site: west}]
`

// degradedHandler serves degradedZone, not yet ready: api has a down and a
// suspect backend in east, everything else is down.
func degradedHandler(tb testing.TB) *Hadns {
	tb.Helper()
	h := newTestHandler(tb, degradedZone,
		sites.Config{Name: "east", Networks: []netip.Prefix{netip.MustParsePrefix("127.0.1.0/24")}, Fallback: []string{"west"}},
		sites.Config{Name: "west", Networks: []netip.Prefix{netip.MustParsePrefix("127.0.2.0/24")}},
	)
	snap := h.snap.Load()
	for _, s := range snap.zones["degraded.test."].Services() {
		health := make([]zone.Health, len(s.Backends()))
		for i := range health {
			health[i] = zone.Down
		}
		if s.Name() == "api.degraded.test." {
			health = []zone.Health{zone.Down, zone.Suspect, zone.Healthy, zone.Healthy, zone.Drained}
		}
		s.SetAnswers(zone.ComputeAnswers(s, health, snap.sites.Orders()))
	}
	h.ready.Store(false)
	return h
}

func mustPack(tb testing.TB, name string, qtype uint16) []byte {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	wire, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return wire
}
