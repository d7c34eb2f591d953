package hadns

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkServeDNSHTTPSRatio reports the time of a service's HTTPS query
// (two tiers of hints, the site's A and AAAA in the additional section)
// over that of the same service's A query, through the writers a CoreDNS
// server gives a plugin, measured in this run in alternating rounds of 1000
// queries so that both see the same machine load; and the HTTPS query's
// allocations.
func BenchmarkServeDNSHTTPSRatio(b *testing.B) {
	h := newTestHandler(b, svcbWireZone, wireSites...)
	ctx := context.Background()
	ma, mh := new(dns.Msg), new(dns.Msg)
	ma.SetQuestion("api.example.test.", dns.TypeA)
	mh.SetQuestion("api.example.test.", dns.TypeHTTPS)
	ma.SetEdns0(1232, false)
	mh.SetEdns0(1232, false)
	wa, wh := benchWriter(ma), benchWriter(mh)
	const round = 1000
	var ta, th time.Duration
	for b.Loop() {
		t0 := time.Now()
		for range round {
			h.ServeDNS(ctx, wa, ma)
		}
		t1 := time.Now()
		for range round {
			h.ServeDNS(ctx, wh, mh)
		}
		ta, th = ta+t1.Sub(t0), th+time.Since(t1)
	}
	b.ReportMetric(float64(th)/float64(ta), "HTTPS/A")
	b.ReportMetric(float64(ta.Nanoseconds())/float64(b.N*round), "A-ns/query")
	b.ReportMetric(float64(th.Nanoseconds())/float64(b.N*round), "HTTPS-ns/query")
	b.ReportMetric(testing.AllocsPerRun(100, func() { h.ServeDNS(ctx, wh, mh) }), "HTTPS-allocs/query")
}
