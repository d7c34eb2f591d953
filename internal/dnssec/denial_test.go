package dnssec

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestDenialNXName checks the compact denial of a name that does not exist
// (RFC 9824 3.2): owner the query name, next name \000.qname, bitmap RRSIG,
// NSEC and NXNAME, signed by the ZSK.
func TestDenialNXName(t *testing.T) {
	s := exampleSigner(t, Options{})
	nsec, sig, err := s.Denial("NoPe.Example.test.", false, []uint16{dns.TypeA}, 300, t0)
	if err != nil {
		t.Fatal(err)
	}
	if nsec.Hdr.Name != "nope.example.test." || nsec.NextDomain != `\000.nope.example.test.` {
		t.Fatalf("NSEC %s, want owner nope.example.test. and next \\000.nope.example.test.", nsec)
	}
	if want := []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNXNAME}; !slices.Equal(nsec.TypeBitMap, want) {
		t.Fatalf("bitmap %v, want %v", nsec.TypeBitMap, want)
	}
	if nsec.Hdr.Ttl != 300 || sig.Hdr.Ttl != 300 {
		t.Fatalf("TTLs NSEC %d RRSIG %d, want 300", nsec.Hdr.Ttl, sig.Hdr.Ttl)
	}
	if sig.KeyTag != s.zsk.Tag || sig.TypeCovered != dns.TypeNSEC {
		t.Fatalf("RRSIG key %d covering %s, want the ZSK %d covering NSEC", sig.KeyTag, dns.TypeToString[sig.TypeCovered], s.zsk.Tag)
	}
	verify(t, s, sig, []dns.RR{nsec}, t0)

	// On the wire: the next name is one \000 label before the query name, and
	// the bitmap is window 0, 17 octets, bits 46 and 47 (octet 5: 0x03) and
	// 128 (octet 16: 0x80) (RFC 4034 4.1.2).
	buf := make([]byte, 512)
	n, err := dns.PackRR(nsec, buf, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	next := []byte("\x01\x00\x04nope\x07example\x04test\x00")
	bitmap := append([]byte{0, 17, 0, 0, 0, 0, 0, 0x03}, make([]byte, 10)...)
	bitmap = append(bitmap, 0x80)
	if want := append(next, bitmap...); !bytes.HasSuffix(buf[:n], want) {
		t.Fatalf("NSEC rdata\n% x\nwant it to end in\n% x", buf[:n], want)
	}
	back, _, err := dns.UnpackRR(buf[:n], 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(back.String(), `\000.nope.example.test. RRSIG NSEC NXNAME`) {
		t.Fatalf("unpacked NSEC %q", back)
	}
}

// TestDenialNoData checks the compact answer for a name that exists without
// the query type (RFC 9824 3.1): the bitmap lists the name's types plus RRSIG
// and NSEC, sorted, each once.
func TestDenialNoData(t *testing.T) {
	s := exampleSigner(t, Options{})
	tests := []struct {
		name  string
		types []uint16
		want  []uint16
	}{
		{"www.example.test.", []uint16{dns.TypeTXT, dns.TypeA}, []uint16{dns.TypeA, dns.TypeTXT, dns.TypeRRSIG, dns.TypeNSEC}},
		{"_http._tcp.example.test.", []uint16{dns.TypeSRV, dns.TypeRRSIG, dns.TypeSRV}, []uint16{dns.TypeSRV, dns.TypeRRSIG, dns.TypeNSEC}},
		// An empty non-terminal: no types of its own.
		{"_tcp.example.test.", nil, []uint16{dns.TypeRRSIG, dns.TypeNSEC}},
		{"example.test.", []uint16{dns.TypeSOA, dns.TypeNS, dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY}, []uint16{dns.TypeNS, dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY}},
	}
	for _, tc := range tests {
		nsec, sig, err := s.Denial(tc.name, true, tc.types, 300, t0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(nsec.TypeBitMap, tc.want) {
			t.Errorf("%s: bitmap %v, want %v", tc.name, nsec.TypeBitMap, tc.want)
		}
		if slices.Contains(nsec.TypeBitMap, dns.TypeNXNAME) {
			t.Errorf("%s exists but its NSEC has NXNAME", tc.name)
		}
		if nsec.NextDomain != `\000.`+tc.name {
			t.Errorf("%s: next %q", tc.name, nsec.NextDomain)
		}
		verify(t, s, sig, []dns.RR{nsec}, t0)
	}
}

func TestDenialErrors(t *testing.T) {
	s := exampleSigner(t, Options{})
	for _, tc := range []struct {
		name   string
		exists bool
		types  []uint16
		want   string
	}{
		{"www.example.org.", false, nil, "not in zone"},
		{"www.example.test.", true, []uint16{dns.TypeA, dns.TypeNXNAME}, "meta type NXNAME"},
		{"www.example.test.", true, []uint16{dns.TypeOPT}, "meta type OPT"},
		{"www..example.test.", false, nil, "bad name"},
	} {
		if _, _, err := s.Denial(tc.name, tc.exists, tc.types, 300, t0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Denial(%q) error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}

// TestSuccessor checks the next name of the compact NSEC when \000.qname
// would pass 255 octets: the least name after qname is then a sibling (RFC
// 4471 3.1.2).
func TestSuccessor(t *testing.T) {
	x63 := strings.Repeat("x", 63)
	tail := x63 + "." + x63 + "." + x63 + ".example.test." // 206 octets on the wire
	a := strings.Repeat("a", 46)
	tests := []struct{ name, want string }{
		{"example.test.", `\000.example.test.`},
		{".", `\000.`},
		// 254 octets: room for one more octet in the first label.
		{a + "b." + tail, a + `b\000.` + tail},
		// 255 octets: the first label's last octet goes up.
		{a + "bc." + tail, a + "bd." + tail},
		// ... skipping upper case, which sorts as lower case.
		{a + "b@." + tail, a + "b[." + tail},
		// ... and a last octet of 0xff is dropped and the one before goes up.
		{a + `b\255.` + tail, a + "c." + tail},
	}
	for _, tc := range tests {
		got, err := successor(tc.name)
		if err != nil {
			t.Fatalf("successor(%q): %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("successor(%q)\n = %q\nwant %q", tc.name, got, tc.want)
		}
		if l := len(mustPack(t, got)); l > maxName {
			t.Errorf("successor(%q) is %d octets", tc.name, l)
		}
	}
	all := strings.Repeat(`\255`, 48) + "." + tail
	if got, err := successor(all); err == nil {
		t.Errorf("successor of a 255-octet name of 0xff octets = %q, want an error", got)
	}
}

func mustPack(t *testing.T, name string) []byte {
	t.Helper()
	buf := make([]byte, 300)
	n, err := dns.PackDomainName(name, buf, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}
