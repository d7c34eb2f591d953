package hadns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/healthcheck/healthchecktest"
	"github.com/hadns/hadns/internal/sites"
	"github.com/hadns/hadns/internal/zone"
)

// BenchmarkServeDNSSigned compares, in one run, queries to the unsigned
// zone (the baseline) with the same queries to the signed zone, with DO
// (the signed packed twin) and without (the unsigned bytes). Run with
// -benchmem: the packed paths allocate nothing. The ratio is
// BenchmarkServeDNSSignedRatio's.
func BenchmarkServeDNSSigned(b *testing.B) {
	plain := newTestHandler(b, signedZone, wireSites...)
	signed, _ := newSignedHandler(b, signedZone, healthcheck.SystemClock{}, wireSites...)
	for _, bc := range signedBenchCases {
		for _, v := range []struct {
			name string
			h    *Hadns
			do   bool
		}{{"unsigned", plain, false}, {"signed-DO", signed, true}, {"signed-noDO", signed, false}} {
			m := doQuery(bc.qname, bc.qtype, v.do)
			w := benchWriter(m)
			b.Run(bc.name+"/"+v.name, func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					v.h.ServeDNS(ctx, w, m)
				}
			})
		}
	}
}

var signedBenchCases = []struct {
	name  string
	qname string
	qtype uint16
}{
	{"service-A", "api.example.test.", dns.TypeA},
	{"service-SRV", "_http._tcp.api.example.test.", dns.TypeSRV},
	{"static-A", "mail.example.test.", dns.TypeA},
	{"nxdomain", "nope.example.test.", dns.TypeA},
}

func benchWriter(m *dns.Msg) dns.ResponseWriter {
	return request.NewScrubWriter(m, &discardWire{addrWriter{remote: &net.UDPAddr{IP: net.IPv4(10, 1, 0, 9), Port: 53}}})
}

// BenchmarkServeDNSSignedRatio reports, for each kind of answer, the time
// of a signed query with DO over that of the same query to the unsigned
// zone, measured in this run in alternating rounds of 1000 queries so that
// both see the same machine load, and the signed query's allocations.
func BenchmarkServeDNSSignedRatio(b *testing.B) {
	plain := newTestHandler(b, signedZone, wireSites...)
	signed, _ := newSignedHandler(b, signedZone, healthcheck.SystemClock{}, wireSites...)
	for _, bc := range signedBenchCases {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			mp, ms := doQuery(bc.qname, bc.qtype, false), doQuery(bc.qname, bc.qtype, true)
			wp, ws := benchWriter(mp), benchWriter(ms)
			const round = 1000
			var tp, ts time.Duration
			for b.Loop() {
				t0 := time.Now()
				for range round {
					plain.ServeDNS(ctx, wp, mp)
				}
				t1 := time.Now()
				for range round {
					signed.ServeDNS(ctx, ws, ms)
				}
				tp, ts = tp+t1.Sub(t0), ts+time.Since(t1)
			}
			b.ReportMetric(float64(ts)/float64(tp), "signed/unsigned")
			b.ReportMetric(float64(tp.Nanoseconds())/float64(b.N*round), "unsigned-ns/query")
			b.ReportMetric(float64(ts.Nanoseconds())/float64(b.N*round), "signed-ns/query")
			b.ReportMetric(testing.AllocsPerRun(100, func() { signed.ServeDNS(ctx, ws, ms) }), "signed-allocs/query")
		})
	}
}

// scaleZone is a zone of services × backends spread over nsites sites,
// each service with an SRV owner, and the site lines for it.
func scaleZone(services, backends, nsites int) (string, []sites.Config) {
	var z strings.Builder
	z.WriteString("origin: example.test.\nsoa: {mname: ns1, rname: h}\nns: [ns1]\nrecords: |\n  ns1 A 192.0.2.53\nservices:\n")
	for i := range services {
		fmt.Fprintf(&z, "  - name: svc%d\n    ttl: 30\n    srv: [_http._tcp]\n    port: 80\n    backends:\n", i)
		for j := range backends {
			fmt.Fprintf(&z, "      - {address: 10.%d.%d.%d, site: s%d}\n", i, j/250, j%250+1, j%nsites)
		}
	}
	var cfg []sites.Config
	for k := range nsites {
		cfg = append(cfg, sites.Config{
			Name:     fmt.Sprintf("s%d", k),
			Networks: []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("192.168.%d.0/24", k))},
			Fallback: []string{fmt.Sprintf("s%d", (k+1)%nsites)},
		})
	}
	return z.String(), cfg
}

// BenchmarkSignedTransition measures, for a zone of 50 services × 200
// backends × 5 sites, what a health transition costs when the zone is
// signed, against the same zone unsigned in the same run: a backend goes
// down (another each time, the previous one back up, so each state is new
// to the signature cache) and its service's answers are recomputed,
// signed and published; the op ends when a query with DO has been answered
// from the new answers. It reports the time per transition and the
// signatures made per transition. The cold sub-benchmark signs one
// service's whole answer set with empty caches, as at start-up: the time
// per signed answer (each rotation of each site's A and SRV answer) and
// per signature made.
func BenchmarkSignedTransition(b *testing.B) {
	zoneText, siteCfg := scaleZone(50, 200, 5)
	plain := newTestHandler(b, zoneText, siteCfg...)
	start := time.Now()
	signed, se := newSignedHandler(b, zoneText, healthchecktest.NewFakeClock(time.Now()), siteCfg...)
	load := time.Since(start)
	for _, v := range []struct {
		name string
		h    *Hadns
		e    *engine
	}{{"unsigned", plain, &engine{cfg: &config{}}}, {"signed", signed, se}} {
		b.Run(v.name, func(b *testing.B) {
			e := v.e
			snap := v.h.snap.Load()
			s := snap.zones["example.test."].Services()[17]
			health := make([]zone.Health, len(s.Backends()))
			w := &captureWriter{ResponseWriter: &addrWriter{remote: &net.UDPAddr{IP: net.IPv4(192, 168, 2, 9), Port: 53}}}
			prev, k := 0, 0
			var made0 uint64
			if zs := e.cfg.dnssec.signerFor("example.test."); zs != nil {
				made0 = zs.Made()
			}
			var took time.Duration
			for b.Loop() {
				// Backends of site s2 (j % 5 == 2), whose client asks.
				cur := (k*35)%200 + 2
				k++
				health[prev], health[cur] = zone.Healthy, zone.Down
				prev = cur
				q := doQuery(s.Name(), dns.TypeA, true)
				t0 := time.Now()
				set := zone.ComputeAnswers(s, health, snap.sites.Orders())
				e.signAnswers(s, set, snap)
				s.SetAnswers(set)
				v.h.ServeDNS(context.Background(), request.NewScrubWriter(q, w), q)
				took += time.Since(t0)
				r := new(dns.Msg)
				if err := r.Unpack(w.wire); err != nil || len(r.Answer) == 0 {
					b.Fatalf("no answer after the transition: %v", err)
				}
				for _, rr := range r.Answer {
					if a, ok := rr.(*dns.A); ok && a.A.Equal(s.Backends()[cur].Addr().AsSlice()) {
						b.Fatalf("the backend taken down is still served: %v", r)
					}
				}
			}
			b.ReportMetric(float64(took.Microseconds())/float64(b.N)/1000, "ms/transition")
			sigs := uint64(0)
			if zs := e.cfg.dnssec.signerFor("example.test."); zs != nil {
				sigs = zs.Made() - made0
			}
			b.ReportMetric(float64(sigs)/float64(b.N), "signatures/transition")
		})
	}
	b.Run("cold", func(b *testing.B) {
		snap := signed.snap.Load()
		s := snap.zones["example.test."].Services()[17]
		health := make([]zone.Health, len(s.Backends()))
		old := se.cfg.dnssec.zones["example.test."]
		answers, sigs := 0, 0
		var took time.Duration
		for b.Loop() {
			zs := zone.NewSigner(old.Signer, time.Now)
			set := zone.ComputeAnswers(s, health, snap.sites.Orders())
			t0 := time.Now()
			if err := zs.SignAnswers(s, set, time.Now()); err != nil {
				b.Fatal(err)
			}
			took += time.Since(t0)
			sigs += int(zs.Made())
			for i := range set.Len() {
				answers += len(set.For(i, dns.TypeA, 0).Rotations()) + len(s.SRV()) // every rotation is packed
			}
		}
		b.ReportMetric(float64(took.Microseconds())/float64(answers), "µs/answer")
		b.ReportMetric(float64(took.Microseconds())/float64(sigs), "µs/signature")
		b.ReportMetric(float64(answers)/float64(b.N), "answers/service")
		b.ReportMetric(load.Seconds(), "s-to-load-and-sign-zone")
	})
}
