package e2e

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestOpcodes: anything but QUERY is not implemented. NOTIFY reaches hadns,
// which answers with an OPT record when the query had one (RFC 6891 7);
// other opcodes are answered by the server before the OPT record is read,
// without one, as NSD and stock CoreDNS answer them.
func TestOpcodes(t *testing.T) {
	t.Parallel()
	s := startMain(t)
	msgs := map[string]func() *dns.Msg{
		"opcode 3 (unassigned)": func() *dns.Msg {
			m := query("static.e2e.test.", dns.TypeA, 0)
			m.Opcode = 3
			return m
		},
		"NOTIFY": func() *dns.Msg { return new(dns.Msg).SetNotify("e2e.test.") },
		"UPDATE": func() *dns.Msg { return new(dns.Msg).SetUpdate("e2e.test.") },
	}
	for name, mk := range msgs {
		for _, network := range networks {
			for _, edns := range []bool{false, true} {
				q := mk()
				if edns {
					q.SetEdns0(1232, false)
				}
				r, _ := s.exchange(t, network, q)
				if r.Rcode != dns.RcodeNotImplemented {
					t.Errorf("%s over %s (EDNS %v): rcode %s, want NOTIMP", name, network, edns, dns.RcodeToString[r.Rcode])
				}
				if r.Id != q.Id || r.Opcode != q.Opcode || !r.Response {
					t.Errorf("%s over %s: reply ID %d opcode %d QR %v, want %d %d true", name, network, r.Id, r.Opcode, r.Response, q.Id, q.Opcode)
				}
				if len(r.Answer)+len(r.Ns) != 0 {
					t.Errorf("%s over %s: records in a NOTIMP reply: %v %v", name, network, r.Answer, r.Ns)
				}
				if got, want := r.IsEdns0() != nil, edns && q.Opcode == dns.OpcodeNotify; got != want {
					t.Errorf("%s over %s (EDNS %v): reply has OPT %v, want %v", name, network, edns, got, want)
				}
			}
		}
	}
	// Still serving.
	q := query("static.e2e.test.", dns.TypeA, 0)
	r, _ := s.exchange(t, "udp", q)
	check(t, q, r, want{aa: true, answer: staticA})
}

// TestQuestionCount sends hand-packed queries with no question and with two:
// the server answers FORMERR or drops them, and keeps serving.
func TestQuestionCount(t *testing.T) {
	t.Parallel()
	s := startMain(t)
	q1, err := query("static.e2e.test.", dns.TypeA, 0).Pack()
	if err != nil {
		t.Fatal(err)
	}
	q2, err := query("nope.e2e.test.", dns.TypeA, 0).Pack()
	if err != nil {
		t.Fatal(err)
	}
	header := func(id, qd uint16) []byte {
		h := make([]byte, 12)
		binary.BigEndian.PutUint16(h[0:], id)
		binary.BigEndian.PutUint16(h[4:], qd)
		return h
	}
	// Malformed by the brief's definition: FORMERR or no reply.
	strict := map[string][]byte{
		"QDCOUNT 0":                       header(0x1001, 0),
		"QDCOUNT 2, two questions":        append(append(header(0x1002, 2), q1[12:]...), q2[12:]...),
		"QDCOUNT 2, one question present": append(header(0x1003, 2), q1[12:]...),
		"QDCOUNT 0 with a question after": append(header(0x1004, 0), q1[12:]...),
		"QDCOUNT 65535, one question":     append(header(0x1006, 65535), q1[12:]...),
		"header cut short":                header(0x1007, 1)[:7],
		"question cut short":              append(header(0x1008, 1), q1[12:20]...),
	}
	for name, p := range strict {
		r := rawReply(t, s, name, p)
		if r != nil && (r.Rcode != dns.RcodeFormatError || len(r.Answer) != 0) {
			t.Errorf("%s: reply rcode %s with %d answers, want FORMERR with none (or no reply)", name, dns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
	// Counts that promise records the packet lacks. miekg/dns parses these
	// leniently and CoreDNS answers (SERVFAIL for a missing question, an
	// answer when only the answer section is missing): that is upstream
	// behaviour, so only a parseable reply (or none) is required here.
	lenient := map[string][]byte{
		"QDCOUNT 1, no question present":   header(0x1005, 1),
		"QDCOUNT 1, ANCOUNT 1, no records": append(header(0x1009, 1), q1[12:]...),
	}
	binary.BigEndian.PutUint16(lenient["QDCOUNT 1, ANCOUNT 1, no records"][6:], 1)
	for name, p := range lenient {
		if r := rawReply(t, s, name, p); r != nil {
			t.Logf("%s: rcode %s, %d answers", name, dns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
	q := query("static.e2e.test.", dns.TypeA, 0)
	for _, network := range networks {
		r, _ := s.exchange(t, network, q)
		check(t, q, r, want{aa: true, answer: staticA})
	}
	if !s.alive() {
		t.Fatal("hadns exited")
	}
}

// rawReply sends p over UDP and returns the parsed reply, or nil when the
// server dropped it. A reply must parse and echo the query's ID.
func rawReply(t *testing.T, s *server, name string, p []byte) *dns.Msg {
	t.Helper()
	reply, err := s.exchangeRaw("udp", p, time.Second)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return nil
	case err != nil:
		t.Errorf("%s: %v", name, err)
		return nil
	}
	r := new(dns.Msg)
	if err := r.Unpack(reply); err != nil {
		t.Errorf("%s: reply does not parse: %v", name, err)
		return nil
	}
	if !r.Response {
		t.Errorf("%s: QR clear in the reply", name)
	}
	return r
}

// TestRandomPackets sends 200 packets of random bytes and mutated queries
// (fixed seed) over UDP, then checks the server still answers and never
// recovered from a panic.
func TestRandomPackets(t *testing.T) {
	t.Parallel()
	s := startMain(t)
	conn, err := net.Dial("udp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	seeds := []*dns.Msg{
		query("static.e2e.test.", dns.TypeA, 0),
		query("_http._tcp.api.e2e.test.", dns.TypeSRV, 1232),
		query("big.e2e.test.", dns.TypeTXT, 4096),
		query("foo.wild.e2e.test.", dns.TypeTXT, 1232),
	}
	subnet := query("api.e2e.test.", dns.TypeA, 1232)
	subnet.IsEdns0().Option = append(subnet.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("127.0.2.0").To4()})
	seeds = append(seeds, subnet)
	var wires [][]byte
	for _, m := range seeds {
		w, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		wires = append(wires, w)
	}
	rng := rand.New(rand.NewPCG(20261122, 1))
	for i := 0; i < 200; i++ {
		var p []byte
		if i%2 == 0 {
			// Pure noise, 0 to 600 bytes.
			p = make([]byte, rng.IntN(601))
			for j := range p {
				p[j] = byte(rng.UintN(256))
			}
		} else {
			// A valid query with a few bytes changed, cut or extended: it
			// gets past the header checks and into the parsers.
			p = append([]byte(nil), wires[rng.IntN(len(wires))]...)
			for n := 1 + rng.IntN(4); n > 0; n-- {
				p[2+rng.IntN(len(p)-2)] = byte(rng.UintN(256))
			}
			switch rng.IntN(4) {
			case 0:
				p = p[:12+rng.IntN(len(p)-11)]
			case 1:
				for n := rng.IntN(40); n > 0; n-- {
					p = append(p, byte(rng.UintN(256)))
				}
			}
		}
		if _, err := conn.Write(p); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
	}
	q := query("static.e2e.test.", dns.TypeA, 1232)
	for _, network := range networks {
		r, _ := s.exchange(t, network, q)
		check(t, q, r, want{aa: true, answer: staticA})
	}
	if !s.alive() {
		t.Fatal("hadns exited")
	}
	if out := s.Output(); strings.Contains(out, "Recovered from panic") || strings.Contains(out, "panic:") {
		t.Errorf("hadns recovered from a panic:\n%s", out)
	}
}
