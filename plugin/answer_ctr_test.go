package hadns

import (
	"net/netip"
	"testing"

	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/sites"
)

// An answer's counter takes the client's site from the query (source
// address, or ECS) and the service from the answer, also when a CNAME led
// to it: each client site counts in its own series.
func TestAnswerCountersClientSite(t *testing.T) {
	zone := `origin: ctr.test.
soa: {mname: ns1, rname: h}
ns: [ns1]
records: |
  ns1   A      192.0.2.53
  alias CNAME  api
services:
  - name: api
    port: 80
    backends:
      - {address: 192.0.2.1, site: east}
      - {address: 192.0.2.2, site: west}
`
	h := newTestHandler(t, zone,
		sites.Config{Name: "east", Networks: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}},
		sites.Config{Name: "west", Networks: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16")}})
	ask := func(name, from string, ecs string) {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		if ecs != "" {
			m.SetEdns0(1232, false)
			p := netip.MustParsePrefix(ecs)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice()})
		}
		query(t, h, m, &test.ResponseWriter{RemoteIP: from})
	}
	ask("api.ctr.test.", "10.2.0.9", "")
	ask("alias.ctr.test.", "10.2.0.9", "")
	ask("api.ctr.test.", "192.0.2.200", "10.1.7.0/24")
	ask("api.ctr.test.", "192.0.2.200", "")
	for _, w := range []struct {
		client, served string
		want           float64
	}{{"west", "west", 2}, {"east", "east", 1}, {"default", "east", 1}} {
		c, err := answers.GetMetricWithLabelValues("api.ctr.test.", w.client, w.served)
		if err != nil {
			t.Fatal(err)
		}
		if got := counterValue(t, c); got != w.want {
			t.Errorf("answers_total{client_site=%s, served_site=%s} = %v, want %v", w.client, w.served, got, w.want)
		}
	}
	if hasSeries(t, answers, map[string]string{"service": "api.ctr.test.", "client_site": "west", "served_site": "east"}) {
		t.Error("a west client's answer counted as served from east")
	}
}
