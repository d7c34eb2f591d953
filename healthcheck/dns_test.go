package healthcheck

import (
	"net"
	"net/netip"
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
		{"noerror", Target{Addr: addr, Spec: new(dnsSpec(Spec{QName: "ok.test"}))}, ""},
		{"nxdomain", Target{Addr: addr, Spec: new(dnsSpec(Spec{QName: "missing.test", QType: "AAAA"}))}, "dns: rcode NXDOMAIN, want NOERROR"},
		{"nxdomain expected", Target{Addr: addr, Spec: new(dnsSpec(Spec{QName: "missing.test", RCode: "nxdomain"}))}, ""},
		{"nobody listening", Target{Addr: closed, Spec: new(dnsSpec(Spec{QName: "ok.test"}))}, "dns: connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, probe(t, tc.tg, time.Second), tc.want)
		})
	}
}

// rawDNSServer answers every UDP packet with reply(query bytes); nil sends
// nothing.
func rawDNSServer(t *testing.T, reply func(q []byte) []byte) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := reply(append([]byte(nil), buf[:n]...)); out != nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	return addrOf(t, pc.LocalAddr())
}

// TestDNSProbeWantsItsOwnReply: the dns check accepts only a reply to its
// own query (RFC 1035 section 7.3, RFC 5452 section 9.1): same ID, QR set,
// opcode QUERY, the same question. An echo of the query, or an answer to
// another question, is a failure.
func TestDNSProbeWantsItsOwnReply(t *testing.T) {
	answer := func(edit func(q, m *dns.Msg)) func([]byte) []byte {
		return func(b []byte) []byte {
			q := new(dns.Msg)
			if err := q.Unpack(b); err != nil {
				return nil
			}
			m := new(dns.Msg)
			m.SetReply(q)
			edit(q, m)
			out, _ := m.Pack()
			return out
		}
	}
	tests := []struct {
		name  string
		reply func([]byte) []byte
		want  string
	}{
		{"proper reply", answer(func(_, _ *dns.Msg) {}), ""},
		{"name in other case", answer(func(_, m *dns.Msg) { m.Question[0].Name = "OK.Test." }), ""},
		{"echo", func(b []byte) []byte { return b }, "dns: not a reply (QR clear): an echo of the query?"},
		{"other name", answer(func(_, m *dns.Msg) { m.Question[0].Name = "other.test." }), "dns: reply to another question: other.test. A, asked ok.test. A"},
		{"other type", answer(func(_, m *dns.Msg) { m.Question[0].Qtype = dns.TypeAAAA }), "dns: reply to another question: ok.test. AAAA, asked ok.test. A"},
		{"no question", answer(func(_, m *dns.Msg) { m.Question = nil }), "dns: reply with 0 questions, want 1"},
		{"opcode", answer(func(_, m *dns.Msg) { m.Opcode = dns.OpcodeNotify }), "dns: reply with opcode NOTIFY"},
		// A reply with another ID is dropped, as a late reply to an earlier
		// query would be: the probe waits for its own and times out.
		{"other id", answer(func(q, m *dns.Msg) { m.Id = q.Id + 1 }), "dns: timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawDNSServer(t, tc.reply)
			tg := Target{Addr: addr, Spec: &Spec{Kind: "dns", QName: "ok.test"}}
			wantErr(t, probe(t, tg, time.Second), tc.want)
		})
	}
}
