package hadns

import (
	"context"
	"net"
	"testing"

	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

// opaqueDiscard packs what it is given, as a server would, through a writer
// the fast path does not know: the general path's cost, for comparison.
type opaqueDiscard struct{ *discardWire }

// BenchmarkServeDNS compares, in one run, each kind of answer through the
// writers a CoreDNS server gives a plugin ("wire": pre-packed bytes where
// the answer has them) and through a writer that must be handed a message
// ("msg": the reply built and packed per query). Run with -benchmem.
func BenchmarkServeDNS(b *testing.B) {
	h := newTestHandler(b, svcbWireZone, wireSites...)
	for _, bc := range []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"static-A", "mail.example.test.", dns.TypeA},
		{"service-A", "api.example.test.", dns.TypeA},
		{"service-SRV", "_http._tcp.api.example.test.", dns.TypeSRV},
		{"service-HTTPS", "api.example.test.", dns.TypeHTTPS},
		{"nxdomain", "nope.example.test.", dns.TypeA},
	} {
		m := new(dns.Msg)
		m.SetQuestion(bc.qname, bc.qtype)
		m.SetEdns0(1232, false)
		dw := &discardWire{addrWriter{remote: &net.UDPAddr{IP: net.IPv4(10, 1, 0, 9), Port: 53}}}
		for _, path := range []struct {
			name string
			w    dns.ResponseWriter
		}{
			{"wire", request.NewScrubWriter(m, dw)},
			{"msg", opaqueDiscard{dw}},
		} {
			b.Run(bc.name+"/"+path.name, func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					h.ServeDNS(ctx, path.w, m)
				}
			})
		}
	}
}
