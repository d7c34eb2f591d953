package hadns

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/geoip" // the real geoip plugin, as the binary links it
	"github.com/coredns/coredns/plugin/metadata"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/sites"
)

// geoZone: one backend in each of three sites.
const geoZone = `origin: example.test.
soa: {mname: ns1, rname: h}
ns: [ns1]
records: |
  ns1 A 192.0.2.53
  static A 192.0.2.80
services:
  - name: api
    ttl: 10
    port: 80
    backends:
      - {address: 198.51.100.1, site: iad}
      - {address: 192.0.2.1, site: fra}
      - {address: 203.0.113.1, site: sin}
`

// geoSiteCfg: iad is first, so it is the default order's first site; each
// site has a network, and a location.
var geoSiteCfg = []sites.Config{
	{Name: "iad", Networks: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16")},
		Geo: sites.Geo{Coordinates: true, Lat: 38.95, Lon: -77.45, Countries: []string{"US"}}},
	{Name: "fra", Networks: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
		Geo: sites.Geo{Coordinates: true, Lat: 50.11, Lon: 8.68}},
	{Name: "sin", Networks: []netip.Prefix{netip.MustParsePrefix("10.3.0.0/16")},
		Geo: sites.Geo{Coordinates: true, Lat: 1.35, Lon: 103.99, Continents: []string{"OC"}}},
}

// siteOf names the site whose backend answered.
var siteOf = map[string]string{"198.51.100.1": "iad", "192.0.2.1": "fra", "203.0.113.1": "sin"}

// geoipProvider sets up CoreDNS's geoip plugin with the City test database
// CoreDNS ships (copied to testdata: one network, 81.2.69.142/32, in
// Cambridge, GB) and its edns-subnet option, as a Corefile would.
func geoipProvider(t testing.TB) metadata.Provider {
	t.Helper()
	db, err := filepath.Abs("testdata/GeoLite2-City.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatal(err)
	}
	c := caddy.NewTestController("dns", "geoip "+db+" {\n edns-subnet\n}")
	setup, err := caddy.DirectiveAction("dns", "geoip")
	if err != nil {
		t.Fatal(err)
	}
	if err := setup(c); err != nil {
		t.Fatal(err)
	}
	return dnsserver.GetConfig(c).Plugin[0](nil).(metadata.Provider)
}

// geoQuery asks api's A record from src (with ECS ecs when valid) with the
// metadata the geoip plugin finds for it, and returns the site of the
// first answer and the reply's ECS scope (-1: no ECS option).
func geoQuery(t *testing.T, h *Hadns, p metadata.Provider, src string, ecs netip.Prefix) (string, int) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("api.example.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	if ecs.IsValid() {
		fam := uint16(1)
		if ecs.Addr().Is6() {
			fam = 2
		}
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{
			Code: dns.EDNS0SUBNET, Family: fam, SourceNetmask: uint8(ecs.Bits()), Address: ecs.Addr().AsSlice()})
	}
	w := &addrWriter{remote: &net.UDPAddr{IP: net.ParseIP(src), Port: 53}}
	ctx := metadata.ContextWithMetadata(context.Background())
	if p != nil {
		ctx = p.Metadata(ctx, request.Request{Req: m, W: w})
	}
	cw := &captureWriter{ResponseWriter: w}
	if _, err := h.ServeDNS(ctx, request.NewScrubWriter(m, cw), m); err != nil {
		t.Fatal(err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(cw.wire); err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) == 0 {
		t.Fatalf("%s %v: no answer: %v", src, ecs, r)
	}
	scope := -1
	for _, o := range r.IsEdns0().Option {
		if e, ok := o.(*dns.EDNS0_SUBNET); ok {
			scope = int(e.SourceScope)
		}
	}
	return siteOf[r.Answer[0].(*dns.A).A.String()], scope
}

// The placement table with the real geoip plugin and CoreDNS's test
// database: the one network it knows lands in the nearest site, unknown
// clients get the default order, site networks win over GeoIP, and the
// ECS scope of a GeoIP answer is the client's source prefix.
func TestGeoIPPlacement(t *testing.T) {
	h := newTestHandler(t, geoZone, geoSiteCfg...)
	p := geoipProvider(t)
	pfx := netip.MustParsePrefix
	for _, c := range []struct {
		what  string
		src   string
		ecs   netip.Prefix
		site  string
		scope int
	}{
		{"ECS 81.2.69.142/32: Cambridge, GB: nearest is fra (640 km; iad 5,900 km)", "127.0.0.1", pfx("81.2.69.142/32"), "fra", 32},
		{"source 81.2.69.142, no ECS: Cambridge: fra", "81.2.69.142", netip.Prefix{}, "fra", -1},
		{"ECS 81.2.69.0/24: the database knows 81.2.69.0 not: default order", "127.0.0.1", pfx("81.2.69.0/24"), "iad", 24},
		{"ECS 192.0.2.0/24: unknown: default order", "127.0.0.1", pfx("192.0.2.0/24"), "iad", 24},
		{"source 127.0.0.1, no ECS: unknown: default order", "127.0.0.1", netip.Prefix{}, "iad", -1},
		{"ECS 10.3.7.0/24 in site sin's network: network wins", "81.2.69.142", pfx("10.3.7.0/24"), "sin", 16},
		{"source in fra's network: network wins", "10.1.0.9", netip.Prefix{}, "fra", -1},
		{"ECS 2001:db8::/56: unknown v6: default order, scope of the source", "127.0.0.1", pfx("2001:db8::/56"), "iad", 56},
	} {
		site, scope := geoQuery(t, h, p, c.src, c.ecs)
		t.Logf("%-75s -> %s /%d", c.what, site, scope)
		if site != c.site || scope != c.scope {
			t.Errorf("%s: site %s scope %d, want %s scope %d", c.what, site, scope, c.site, c.scope)
		}
	}
}

// metaProvider sets fixed geoip labels, for locations the test database
// does not hold.
type metaProvider map[string]string

func (mp metaProvider) Metadata(ctx context.Context, _ request.Request) context.Context {
	for k, v := range mp {
		metadata.SetValueFunc(ctx, k, func() string { return v })
	}
	return ctx
}

func TestGeoPlacementByLabels(t *testing.T) {
	h := newTestHandler(t, geoZone, geoSiteCfg...)
	for _, c := range []struct {
		what   string
		labels metaProvider
		site   string
	}{
		{"country US listed for iad, though nearest Frankfurt", metaProvider{geoCountry: "US", geoContinent: "EU", geoLatitude: "50", geoLongitude: "8"}, "iad"},
		{"continent OC listed for sin", metaProvider{geoCountry: "NZ", geoContinent: "OC", geoLatitude: "52", geoLongitude: "0"}, "sin"},
		{"Tokyo by coordinates: sin", metaProvider{geoCountry: "JP", geoContinent: "AS", geoLatitude: "35.68", geoLongitude: "139.69"}, "sin"},
		{"Lisbon by coordinates: fra", metaProvider{geoCountry: "PT", geoContinent: "EU", geoLatitude: "38.72", geoLongitude: "-9.14"}, "fra"},
		{"empty labels (address not in the database): default", metaProvider{geoCountry: "", geoContinent: "", geoLatitude: "", geoLongitude: ""}, "iad"},
		{"garbage coordinates: default", metaProvider{geoLatitude: "north", geoLongitude: "99999"}, "iad"},
		{"no metadata at all: default", nil, "iad"},
	} {
		var p metadata.Provider
		if c.labels != nil {
			p = c.labels
		}
		if site, _ := geoQuery(t, h, p, "127.0.0.1", netip.Prefix{}); site != c.site {
			t.Errorf("%s: site %s, want %s", c.what, site, c.site)
		}
	}
}

// Placing a client by GeoIP adds no allocation to the packed path.
func TestGeoNoAllocs(t *testing.T) {
	h := newTestHandler(t, geoZone, geoSiteCfg...)
	m := new(dns.Msg)
	m.SetQuestion("api.example.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	w := request.NewScrubWriter(m, &discardWire{addrWriter{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}}})
	ctx := metadata.ContextWithMetadata(context.Background())
	ctx = metaProvider{geoCountry: "JP", geoContinent: "AS", geoLatitude: "35.68", geoLongitude: "139.69"}.Metadata(ctx, request.Request{})
	if n := testing.AllocsPerRun(200, func() { h.ServeDNS(ctx, w, m) }); n != 0 {
		t.Errorf("%.1f allocations per GeoIP-placed query, want 0", n)
	}
}

// Sites with a location need the metadata and geoip plugins; `hadns check`
// says so with the site line.
func TestGeoNeedsPlugins(t *testing.T) {
	useDirective(t)
	dir := t.TempDir()
	zone := filepath.Join(dir, "z.yaml")
	if err := os.WriteFile(zone, []byte(geoZone), 0o644); err != nil {
		t.Fatal(err)
	}
	db, _ := filepath.Abs("testdata/GeoLite2-City.mmdb")
	for _, c := range []struct {
		extra string
		want  string
	}{
		{"", "Corefile:5: site fra has a location, but the server block has no metadata or geoip plugin"},
		{"metadata\n", "Corefile:6: site fra has a location, but the server block has no geoip plugin"},
		{"metadata\ngeoip " + db + "\n", ""},
	} {
		cf := filepath.Join(dir, "Corefile")
		text := "example.test {\n" + c.extra + "hadns {\nzone " + zone + "\nsite iad 10.2.0.0/16\nsite fra coordinates 50.11 8.68\nsite sin\n}\n}\n"
		if err := os.WriteFile(cf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := ValidateCorefile(cf)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(r.Errors) > 0 {
			got = r.Errors.Error()
		}
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("extra %q: errors %q, want %q", c.extra, got, c.want)
		}
	}
}
