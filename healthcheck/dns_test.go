package healthcheck

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsServer answers ok.test. with NOERROR and everything else with
// NXDOMAIN, over UDP on loopback.
func dnsServer(t *testing.T) net.Addr {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			if r.Question[0].Name != "ok.test." {
				m.Rcode = dns.RcodeNameError
			}
			_ = w.WriteMsg(m)
		})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("dns server did not start")
	}
	return pc.LocalAddr()
}

func TestDNSProbe(t *testing.T) {
	addr := addrOf(t, dnsServer(t))
	// A UDP port nobody listens on answers with ICMP port unreachable.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := addrOf(t, pc.LocalAddr())
	pc.Close()
	dnsSpec := func(s Spec) Spec { s.Kind = "dns"; return s }
	tests := []struct {
		name string
		tg   Target
		want string
	}{
		{"noerror", Target{Addr: addr, Spec: dnsSpec(Spec{QName: "ok.test"})}, ""},
		{"nxdomain", Target{Addr: addr, Spec: dnsSpec(Spec{QName: "missing.test", QType: "AAAA"})}, "dns: rcode NXDOMAIN, want NOERROR"},
		{"nxdomain expected", Target{Addr: addr, Spec: dnsSpec(Spec{QName: "missing.test", RCode: "nxdomain"})}, ""},
		{"nobody listening", Target{Addr: closed, Spec: dnsSpec(Spec{QName: "ok.test"})}, "dns: connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, probe(t, tc.tg, time.Second), tc.want)
		})
	}
}
