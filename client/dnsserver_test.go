package client

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testDNS is an in-process nameserver on a free loopback port (UDP and TCP)
// that answers from records the test sets, counts the queries it gets, and
// can be made to fail.
type testDNS struct {
	addr string
	udp  *dns.Server
	tcp  *dns.Server

	mu       sync.Mutex
	zone     map[string]reply // "name/TYPE" → reply
	servfail bool
	queries  map[string]int // "name/TYPE" → count
}

// reply is what testDNS says for one name and type.
type reply struct {
	rcode  int
	answer []dns.RR
	ns     []dns.RR
	extra  []dns.RR
}

func key(name string, qtype uint16) string {
	return strings.ToLower(dns.Fqdn(name)) + "/" + dns.TypeToString[qtype]
}

// startDNS starts a nameserver on 127.0.0.1 and stops it when the test ends.
func startDNS(t *testing.T) *testDNS {
	t.Helper()
	s := &testDNS{zone: map[string]reply{}, queries: map[string]int{}}
	var pc net.PacketConn
	var l net.Listener
	for i := 0; i < 20 && l == nil; i++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if l, err = net.Listen("tcp", pc.LocalAddr().String()); err != nil {
			pc.Close()
		}
	}
	if l == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	s.addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: l, Handler: h}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("test nameserver did not start")
		}
	}
	t.Cleanup(s.stop)
	return s
}

// stop shuts the server down: queries to it are then refused (ICMP port
// unreachable over UDP, RST over TCP).
func (s *testDNS) stop() {
	s.udp.Shutdown()
	s.tcp.Shutdown()
}

func (s *testDNS) set(name string, qtype uint16, r reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zone[key(name, qtype)] = r
}

func (s *testDNS) setServfail(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servfail = on
}

func (s *testDNS) count(name string, qtype uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[key(name, qtype)]
}

func (s *testDNS) serve(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	k := key(q.Question[0].Name, q.Question[0].Qtype)
	s.mu.Lock()
	s.queries[k]++
	r, ok := s.zone[k]
	fail := s.servfail
	s.mu.Unlock()
	switch {
	case fail:
		m.Rcode = dns.RcodeServerFailure
	case !ok:
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{rr("test. 300 IN SOA ns.test. h.test. 1 3600 600 86400 30")}
	default:
		// Copies: packing writes into records, and replies go out
		// concurrently.
		m.Rcode, m.Answer, m.Ns, m.Extra = r.rcode, copyRRs(r.answer), copyRRs(r.ns), copyRRs(r.extra)
	}
	if opt := q.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	if _, isUDP := w.RemoteAddr().(*net.UDPAddr); isUDP {
		m.Truncate(512) // we advertise 1232, but keep big test answers honest
	}
	w.WriteMsg(m)
}

// rr parses one record in zone-file syntax.
func rr(s string) dns.RR {
	r, err := dns.NewRR(s)
	if err != nil {
		panic(fmt.Sprintf("%q: %v", s, err))
	}
	return r
}

func rrs(ss ...string) []dns.RR {
	var out []dns.RR
	for _, s := range ss {
		out = append(out, rr(s))
	}
	return out
}

func copyRRs(in []dns.RR) []dns.RR {
	out := make([]dns.RR, len(in))
	for i, r := range in {
		out[i] = dns.Copy(r)
	}
	return out
}
