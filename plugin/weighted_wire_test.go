package hadns

import (
	"context"
	"net"
	"testing"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

// weightedZone is wireZone with a weighted service beside the plain one.
const weightedZone = wireZone + `  - name: wapi
    ttl: 10
    port: 8080
    weighted: true
    backends:
      - {address: 192.0.2.11, site: east, weight: 100}
      - {address: 192.0.2.12, site: east, weight: 100}
      - {address: 192.0.2.13, site: east, weight: 1}
      - {address: 198.51.100.11, site: west, weight: 3}
      - {address: 198.51.100.12, site: west}
`

// A weighted answer is served from packed bytes, identical to the reply
// the message path builds, with no allocation.
func TestWeightedPackedPath(t *testing.T) {
	h := newTestHandler(t, weightedZone, wireSites...)
	for _, ecs := range []bool{false, true} {
		m := new(dns.Msg)
		m.SetQuestion("wapi.example.test.", dns.TypeA)
		m.SetEdns0(1232, false)
		if ecs {
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{
				Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(10, 2, 3, 0).To4()})
		}
		w := &discardWire{addrWriter{remote: &net.UDPAddr{IP: net.IPv4(10, 1, 0, 9), Port: 53}}}
		for range 50 {
			// The same counter value on both paths: reset it each time.
			h.snap.Load().zones["example.test."].Services()[1].SetRotation(7)
			fast := query(t, h, m, w)
			h.snap.Load().zones["example.test."].Services()[1].SetRotation(7)
			slow := slowQuery(t, h, m, w)
			if fast.String() != slow.String() {
				t.Fatalf("ecs=%v: packed reply\n%s\nmessage reply\n%s", ecs, fast, slow)
			}
		}
		var sw dns.ResponseWriter
		plugin.NextOrFailure("log", plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, _ *dns.Msg) (int, error) {
			sw = w
			return 0, nil
		}), context.Background(), dnstest.NewRecorder(request.NewScrubWriter(m, w)), m)
		if n := testing.AllocsPerRun(200, func() { h.ServeDNS(context.Background(), sw, m) }); n != 0 {
			t.Errorf("ecs=%v: %.1f allocations per weighted query, want 0", ecs, n)
		}
	}
}
