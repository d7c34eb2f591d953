// Package zonetest holds zone documents and helpers for the tests of the
// zone package and of the plugin built on it. It is for tests only.
package zonetest

import (
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/fileerr"
	"github.com/hadns/hadns/internal/sites"
)

// SelZone is a zone with one service, api.example.test., whose backends
// are in three sites (east, west, north), with SRV at _http._tcp.
const SelZone = `origin: example.test.
soa: {mname: ns1, rname: h}
ns: [ns1]
records: |
  ns1 A 192.0.2.53
services:
  - name: api
    ttl: 20
    port: 80
    srv: [_http._tcp]
    min_healthy: 2
    max_answers: 3
    backends:
      - {address: 10.1.0.1, site: east}
      - {address: 10.1.0.2, site: east, weight: 5}
      - {address: 10.2.0.1, site: west}
      - {address: 10.2.0.2, site: west}
      - {address: 10.3.0.1, site: north}
      - {address: "2001:db8::1", site: west}
`

// SelOrders returns the site orders SelZone's tests use: east and west,
// each the other's fallback, and north.
func SelOrders(t testing.TB) []sites.Order {
	t.Helper()
	st, err := sites.New([]sites.Config{
		{Name: "east", Fallback: []string{"west"}},
		{Name: "west", Fallback: []string{"east"}},
		{Name: "north"},
	}, nil, fileerr.Position{}, []string{"east", "west", "north"})
	if err != nil {
		t.Fatal(err)
	}
	return st.Orders()
}

// SVCBBase is a zone with one service; tests append its https: and svcb:
// keys (indented as the service's keys).
const SVCBBase = `origin: example.test.
soa: {mname: ns1, rname: h}
ns: [ns1]
records: |
  ns1 A 192.0.2.53
services:
  - name: api
    port: 8080
    srv: [_http._tcp]
    backends:
      - {address: 192.0.2.1, site: east}
      - {address: "2001:db8::1", site: east}
      - {address: 198.51.100.1, site: west}
`

// AddrsOf lists the addresses in an answer, sorted.
func AddrsOf(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		}
	}
	slices.Sort(out)
	return out
}
