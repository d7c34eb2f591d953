package hadns

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/metadata"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

// ratioRounds times a and b in alternating rounds of 1000 calls, so both
// see the same machine load, and reports b's time over a's as name, each
// one's ns per call, and b's allocations.
func ratioRounds(b *testing.B, name string, a, c func()) {
	const round = 1000
	var ta, tc time.Duration
	for b.Loop() {
		t0 := time.Now()
		for range round {
			a()
		}
		t1 := time.Now()
		for range round {
			c()
		}
		ta, tc = ta+t1.Sub(t0), tc+time.Since(t1)
	}
	b.ReportMetric(float64(tc)/float64(ta), name)
	b.ReportMetric(float64(ta.Nanoseconds())/float64(b.N*round), "base-ns/query")
	b.ReportMetric(float64(tc.Nanoseconds())/float64(b.N*round), "ns/query")
	b.ReportMetric(testing.AllocsPerRun(100, c), "allocs/query")
}

func aQuery(name string) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.SetEdns0(1232, false)
	return m
}

func writerFrom(m *dns.Msg, ip net.IP) dns.ResponseWriter {
	return request.NewScrubWriter(m, &discardWire{addrWriter{remote: &net.UDPAddr{IP: ip, Port: 53}}})
}

// BenchmarkServeDNSRouting compares, in one run: a weighted service's A
// answer with an unweighted one's (same zone, same client), and a client
// placed by GeoIP with the same client placed by a site network, with the
// labels a geoip plugin sets and with the geoip plugin itself. The geoip
// plugin's lookup runs before hadns for every query of its server block,
// placed by GeoIP or not; "geoip-plugin" times it alone.
func BenchmarkServeDNSRouting(b *testing.B) {
	ctx := context.Background()
	b.Run("weighted-A", func(b *testing.B) {
		h := newTestHandler(b, weightedZone, wireSites...)
		mu, mw := aQuery("api.example.test."), aQuery("wapi.example.test.")
		wu, ww := writerFrom(mu, net.IPv4(10, 1, 0, 9)), writerFrom(mw, net.IPv4(10, 1, 0, 9))
		ratioRounds(b, "weighted/unweighted",
			func() { h.ServeDNS(ctx, wu, mu) },
			func() { h.ServeDNS(ctx, ww, mw) })
	})
	// The same query from 81.2.69.142 (the test database's one network,
	// Cambridge) to two handlers: one whose site fra holds 81.2.69.0/24
	// (placed by network), one where no network holds it (placed by GeoIP:
	// country and continent lists missed, nearest coordinates found, the
	// longest path).
	netCfg := slices.Clone(geoSiteCfg)
	netCfg[1].Networks = append(slices.Clone(netCfg[1].Networks), netip.MustParsePrefix("81.2.69.0/24"))
	hn, hg := newTestHandler(b, geoZone, netCfg...), newTestHandler(b, geoZone, geoSiteCfg...)
	cambridge := net.ParseIP("81.2.69.142")
	b.Run("geo-placed-A", func(b *testing.B) {
		// hadns alone, given the labels the geoip plugin sets.
		geoCtx := metadata.ContextWithMetadata(ctx)
		geoCtx = metaProvider{geoCountry: "GB", geoContinent: "EU", geoLatitude: "52.2242", geoLongitude: "0.1315"}.Metadata(geoCtx, request.Request{})
		m := aQuery("api.example.test.")
		w := writerFrom(m, cambridge)
		ratioRounds(b, "geo/network",
			func() { hn.ServeDNS(geoCtx, w, m) },
			func() { hg.ServeDNS(geoCtx, w, m) })
	})
	b.Run("geo-placed-A-with-geoip", func(b *testing.B) {
		// As a server block runs it: the geoip plugin's lookup into a new
		// metadata context, then hadns.
		p := geoipProvider(b)
		m := aQuery("api.example.test.")
		w := writerFrom(m, cambridge)
		st := request.Request{Req: m, W: w}
		ratioRounds(b, "geo/network",
			func() { hn.ServeDNS(p.Metadata(metadata.ContextWithMetadata(ctx), st), w, m) },
			func() { hg.ServeDNS(p.Metadata(metadata.ContextWithMetadata(ctx), st), w, m) })
	})
	b.Run("geoip-plugin", func(b *testing.B) {
		p := geoipProvider(b)
		m := aQuery("api.example.test.")
		st := request.Request{Req: m, W: &addrWriter{remote: &net.UDPAddr{IP: net.ParseIP("81.2.69.142"), Port: 53}}}
		b.ReportAllocs()
		for b.Loop() {
			p.Metadata(metadata.ContextWithMetadata(ctx), st)
		}
	})
}
