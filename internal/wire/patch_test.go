package wire

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/clientsubnet"
)

// testAnswers are packed replies of each kind Patch handles: a positive
// answer with additional data in two RRsets (so a UDP reply can drop one),
// the apex NODATA (its SOA owned by the question), a shared NODATA and an
// NXDOMAIN (their question the query's), and a degraded answer with EDE.
func testAnswers(t testing.TB) []*Answer {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	soa := []dns.RR{rr("example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 1 7200 3600 1209600 300")}
	mx := []dns.RR{rr("example.test. 300 IN MX 10 mail.example.test."), rr("example.test. 300 IN MX 20 mx2.example.test.")}
	extra := []dns.RR{
		rr("mail.example.test. 300 IN A 192.0.2.25"), rr("mail.example.test. 300 IN AAAA 2001:db8::25"),
		rr("mx2.example.test. 300 IN A 192.0.2.26"),
	}
	api := []dns.RR{rr("api.example.test. 30 IN A 192.0.2.1"), rr("api.example.test. 30 IN A 192.0.2.2")}
	out := []*Answer{
		Pack("example.test.", dns.TypeMX, mx, nil, extra, nil, nil),
		Pack("example.test.", 0, nil, soa, nil, nil, nil),
		Negative(soa, dns.RcodeSuccess),
		Negative(soa, dns.RcodeNameError),
		Pack("api.example.test.", dns.TypeA, api, nil, nil, EDEOption(dns.ExtendedErrorCodeOther, "fallback: test"), nil),
	}
	for i, wa := range out {
		if wa == nil {
			t.Fatalf("answer %d did not pack", i)
		}
	}
	return out
}

// want is the reply the message path gives for wa and q: wa's message with
// q's ID and question, and an OPT record built by miekg/dns.
func want(wa *Answer, q *Query, flags int) *dns.Msg {
	m := wa.Msg(flags).Copy()
	m.Id = q.ID
	m.Question = []dns.Question{{Name: q.Name, Qtype: q.Type, Qclass: q.Class}}
	if q.EDNS {
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(q.BufSize)
		if q.DO {
			opt.SetDo()
		}
		if q.ECS != nil && q.ECS.Opt != nil {
			opt.Option = append(opt.Option, q.ECS.Reply(q.Scope))
		}
		if q.EDE != nil {
			opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: uint16(q.EDE[4])<<8 | uint16(q.EDE[5]), ExtraText: string(q.EDE[6:])})
		}
		m.Extra = append(m.Extra, opt)
	}
	return m
}

// checkPatch patches wa for q and checks the result against the message
// path: it parses, and is the same reply but for the additional RRsets a
// UDP limit dropped (never the answer: that is refused).
func checkPatch(t *testing.T, wa *Answer, q *Query) bool {
	t.Helper()
	b, flags, ok := Patch(make([]byte, 0, 64), wa, q)
	if !ok {
		return false
	}
	got := new(dns.Msg)
	if err := got.Unpack(b); err != nil {
		t.Fatalf("patched reply for %q does not parse: %v", q.Name, err)
	}
	if q.UDPLimit > 0 && len(b) > q.UDPLimit {
		t.Fatalf("patched reply is %d bytes, over the UDP limit %d", len(b), q.UDPLimit)
	}
	w := want(wa, q, flags)
	// Additional data a UDP limit dropped: whole RRsets, from the end.
	n := len(got.Extra)
	if q.EDNS {
		n--
	}
	if n < 0 || n > len(w.Extra) {
		t.Fatalf("patched reply has %d additional records, want at most %d", len(got.Extra), len(w.Extra))
	}
	base := len(wa.Msg(0).Extra)
	if n < base {
		if q.UDPLimit == 0 {
			t.Fatalf("additional data dropped from a TCP reply")
		}
		if n > 0 && SameRRset(w.Extra[n-1], w.Extra[n]) {
			t.Fatalf("an RRset of the additional data was cut in two")
		}
		w.Extra = append(w.Extra[:n:n], w.Extra[base:]...)
	}
	if got.Question[0].Name != q.Name {
		t.Fatalf("question name %q, want %q as asked", got.Question[0].Name, q.Name)
	}
	if g, w := strings.ToLower(got.String()), strings.ToLower(w.String()); g != w {
		t.Fatalf("patched reply differs from the message path:\n%s\nwant\n%s", g, w)
	}
	return true
}

// TestPatch checks each kind of packed reply patched for queries of every
// flag, case, EDNS and UDP variant against the message path.
func TestPatch(t *testing.T) {
	answers := testAnswers(t)
	ecs := ecsOption(t, 1, 24, []byte{10, 1, 2, 0})
	for i, wa := range answers {
		name := "example.test."
		if i == 4 {
			name = "api.example.test."
		}
		for _, qn := range []string{name, strings.ToUpper(name), mixCase(name)} {
			for v := range 32 {
				q := &Query{ID: uint16(0x1234 + v), RD: v&1 != 0, CD: v&2 != 0, Name: qn, Type: dns.TypeMX, Class: dns.ClassINET,
					EDNS: v&4 != 0, DO: v&8 != 0, BufSize: 1232, EDE: wa.EDE()}
				if i == 4 {
					q.Type = dns.TypeA
				}
				if v&16 != 0 {
					q.ECS, q.Scope = &ecs, 16
				}
				if !checkPatch(t, wa, q) {
					t.Fatalf("answer %d: %+v refused", i, q)
				}
			}
		}
	}
}

// TestPatchUDPDropsAdditional checks that a UDP reply over the client's
// buffer drops additional RRsets from the end to fit, and that one whose
// answer alone does not fit is refused (the general path sets TC).
func TestPatchUDPDropsAdditional(t *testing.T) {
	wa := testAnswers(t)[0]
	full, _, _ := Patch(nil, wa, &Query{Name: "example.test.", Type: dns.TypeMX, Class: dns.ClassINET})
	dropped := 0
	for limit := len(full); limit > 12; limit-- {
		q := &Query{Name: "example.test.", Type: dns.TypeMX, Class: dns.ClassINET, UDPLimit: limit}
		if !checkPatch(t, wa, q) {
			if shortest := wa.cuts()[len(wa.cuts())-1].off; limit >= shortest {
				t.Fatalf("refused at %d bytes, though the answer without additional data (%d) fits", limit, shortest)
			}
			break
		}
		dropped++
	}
	if dropped == 0 {
		t.Fatal("no limit gave a reply")
	}
}

// TestPatchRefuses checks the names Patch must not patch: another name of
// the same length, escapes, a name over 255 octets for a negative answer
// (which once made an unreadable reply), labels over 63 octets and names
// that are not fully qualified.
func TestPatchRefuses(t *testing.T) {
	answers := testAnswers(t)
	label := strings.Repeat("a", 63)
	long := label + "." + label + "." + label + "." + strings.Repeat("b", 61) + "." // 254 octets of text: 255 on the wire
	for _, c := range []struct {
		wa   int
		name string
		ok   bool
	}{
		{0, "exbmple.test.", false},
		{0, "example.tesu.", false},
		{0, "examplettest.", false},
		{0, "example.test", false},
		{0, `ex\097mple.test.`, false},
		{3, long, true},
		{3, "c" + long, false},
		{3, label + "." + long[64:], true},
		{3, label + "a." + long[64:], false},
		{3, "a..test.", false},
		{3, "a.test", false},
		{3, ".", false},
		{3, `a\.b.test.`, false},
		{2, "x" + long, false},
	} {
		q := &Query{Name: c.name, Type: dns.TypeA, Class: dns.ClassINET}
		if ok := checkPatch(t, answers[c.wa], q); ok != c.ok {
			t.Errorf("answer %d, %q (%d octets): patched %v, want %v", c.wa, c.name, len(c.name)+1, ok, c.ok)
		}
	}
}

// TestPatchAllocs checks that patching into a buffer with room allocates
// nothing: it is the query path.
func TestPatchAllocs(t *testing.T) {
	answers := testAnswers(t)
	ecs := ecsOption(t, 1, 24, []byte{10, 1, 2, 0})
	buf := make([]byte, 0, 1024)
	for i, wa := range answers {
		q := &Query{ID: 7, Name: "Example.Test.", Type: dns.TypeMX, Class: dns.ClassINET, EDNS: true, BufSize: 1232, ECS: &ecs, Scope: 24, EDE: wa.EDE()}
		if i == 4 {
			q.Name, q.Type = "api.example.test.", dns.TypeA
		}
		if n := testing.AllocsPerRun(100, func() {
			if _, _, ok := Patch(buf, wa, q); !ok {
				t.Fatal("refused")
			}
		}); n != 0 {
			t.Errorf("answer %d: %v allocations per patch", i, n)
		}
	}
}

func mixCase(s string) string {
	b := []byte(s)
	for i := range b {
		if i%2 == 0 && 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// ecsOption is a query's ECS option as clientsubnet.Parse makes it.
func ecsOption(t testing.TB, family uint16, bits uint8, addr []byte) clientsubnet.Option {
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: bits, Address: net.IP(addr)}}
	o, err := clientsubnet.Parse(opt)
	if err != nil {
		t.Fatal(err)
	}
	return o
}
