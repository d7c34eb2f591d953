package hadns

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

// discardWriter takes replies without keeping them, so the benchmark measures
// ServeDNS, not a recorder.
type discardWriter struct{ test.ResponseWriter }

func (*discardWriter) WriteMsg(*dns.Msg) error { return nil }

// BenchmarkServeDNS compares a service answer (health-aware, per site) with a
// static record of the same zone; run with -benchmem for allocs/op.
func BenchmarkServeDNS(b *testing.B) {
	h := newTestHandler(b, testZone)
	for _, bc := range []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"static-A", "mail.example.test.", dns.TypeA},
		{"service-A", "api.example.test.", dns.TypeA},
		{"service-SRV", "_http._tcp.api.example.test.", dns.TypeSRV},
		{"nxdomain", "nope.example.test.", dns.TypeA},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := new(dns.Msg)
			m.SetQuestion(bc.qname, bc.qtype)
			m.SetEdns0(1232, false)
			w := &discardWriter{}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeDNS(ctx, w, m)
			}
		})
	}
}
