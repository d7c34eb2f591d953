package wire

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/clientsubnet"
)

// FuzzPatch patches each kind of packed reply with random query IDs,
// names, types, flags, OPT records (ECS, EDE, DO) and UDP limits, and
// checks that Patch never panics, that what it patches parses and is the
// message path's reply (checkPatch), and that it does not refuse the plain
// case: the packed name in any case, over TCP.
func FuzzPatch(f *testing.F) {
	f.Add(uint8(0), uint16(1), uint8(0), "example.test.", uint16(dns.TypeMX), uint16(1), uint16(0), uint8(0), []byte{}, "", uint8(0))
	f.Add(uint8(3), uint16(2), uint8(0xff), "Nope.Example.Test.", uint16(dns.TypeA), uint16(1), uint16(512), uint8(24), []byte{10, 1, 2}, "x", uint8(16))
	f.Add(uint8(2), uint16(3), uint8(4), strings.Repeat("a.", 127), uint16(dns.TypeAAAA), uint16(3), uint16(0), uint8(0), []byte{}, "", uint8(0))
	f.Add(uint8(3), uint16(4), uint8(4), strings.Repeat("ab.", 85), uint16(dns.TypeTXT), uint16(1), uint16(0), uint8(0), []byte{}, "", uint8(0))
	f.Add(uint8(4), uint16(5), uint8(0x1c), "API.example.test.", uint16(dns.TypeA), uint16(1), uint16(100), uint8(56), []byte{0x20, 1, 0xd, 0xb8, 0, 2, 0}, "", uint8(48))
	answers := testAnswers(f)
	f.Fuzz(func(t *testing.T, which uint8, id uint16, flags uint8, name string, qtype, qclass, udp uint16, bits uint8, addr []byte, ede string, scope uint8) {
		wa := answers[int(which)%len(answers)]
		q := &Query{ID: id, RD: flags&1 != 0, CD: flags&2 != 0, Name: name, Type: qtype, Class: qclass,
			EDNS: flags&4 != 0, DO: flags&8 != 0, BufSize: 1232, UDPLimit: int(udp)}
		if flags&16 != 0 {
			family := uint16(1)
			if len(addr) > 4 {
				family = 2
			}
			opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
			opt.Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: bits, Address: net.IP(addr)}}
			if ecs, err := clientsubnet.Parse(opt); err == nil && ecs.Opt != nil {
				// A scope is a prefix length of the family (as a site's
				// network matched for the client is).
				q.ECS, q.Scope = &ecs, scope%uint8(ecs.Prefix.Addr().BitLen()+1)
			}
		}
		if flags&32 != 0 && len(ede) < 200 {
			q.EDE = EDEOption(dns.ExtendedErrorCodeOther, ede)
		}
		ok := checkPatch(t, wa, q)
		if flags&64 != 0 || ok {
			return
		}
		// The plain case: the name the reply was packed for, in the
		// case the fuzzer gave (where it has one), over TCP.
		packed := wa.Msg(0)
		if len(packed.Question) == 0 {
			return // a negative answer: its name is the query's
		}
		pn := packed.Question[0].Name
		if len(name) == len(pn) && strings.EqualFold(name, pn) && q.UDPLimit == 0 && !strings.Contains(name, `\`) {
			t.Fatalf("refused %q, the packed name, over TCP", name)
		}
	})
}
