package dnssec

import (
	"errors"
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// Denial returns the compact denial of existence (RFC 9824) for qname: one
// NSEC whose owner is qname and whose next name is qname's immediate
// successor (\000.qname), so it covers no other name, and its RRSIG made at
// now with the ZSK. The answer it goes in is NOERROR with an empty answer
// section (NODATA), even when the name does not exist.
//
// exists says whether qname exists in the zone. If it does, the type bitmap
// is types plus RRSIG and NSEC (an empty non-terminal passes no types); the
// caller leaves the query type out. If it does not, the bitmap is RRSIG, NSEC
// and NXNAME (RFC 9824 3.2), which tells a validator the name does not exist.
// ttl should be the zone's negative TTL: min(SOA TTL, SOA MINIMUM) (RFC 9077).
// Owner and next name are lower case, so a caller can cache by name.
func (s *Signer) Denial(qname string, exists bool, types []uint16, ttl uint32, now time.Time) (*dns.NSEC, *dns.RRSIG, error) {
	nsec, err := s.CompactNSEC(qname, exists, types, ttl)
	if err != nil {
		return nil, nil, err
	}
	sig, err := s.Sign([]dns.RR{nsec}, now)
	if err != nil {
		return nil, nil, err
	}
	return nsec, sig, nil
}

// CompactNSEC returns the NSEC that Denial signs, unsigned.
func (s *Signer) CompactNSEC(qname string, exists bool, types []uint16, ttl uint32) (*dns.NSEC, error) {
	if _, ok := dns.IsDomainName(qname); !ok {
		return nil, fmt.Errorf("dnssec denial: bad name %q", qname)
	}
	qname = dns.CanonicalName(qname)
	if !dns.IsSubDomain(s.zone, qname) {
		return nil, fmt.Errorf("dnssec denial %s: not in zone %s", qname, s.zone)
	}
	var bitmap []uint16
	if exists {
		for _, t := range types {
			switch t {
			case dns.TypeNXNAME, dns.TypeOPT, dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR:
				return nil, fmt.Errorf("dnssec denial %s: meta type %s cannot be in an NSEC bitmap", qname, dns.TypeToString[t])
			}
		}
		bitmap = sortedTypes(types, dns.TypeRRSIG, dns.TypeNSEC)
	} else {
		bitmap = []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNXNAME}
	}
	next, err := successor(qname)
	if err != nil {
		return nil, fmt.Errorf("dnssec denial %s: %w", qname, err)
	}
	return &dns.NSEC{
		Hdr:        dns.RR_Header{Name: qname, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
		NextDomain: next,
		TypeBitMap: bitmap,
	}, nil
}

// maxName is the longest domain name in wire form (RFC 1035 3.1).
const maxName = 255

// successor returns the name that immediately follows name in canonical
// order (RFC 4034 6.1): name with a \000 label in front, or, when that would
// be longer than 255 octets, the shortest change of the first label (RFC 4471
// 3.1.2): a \000 octet added to it if there is room, else its last octet
// incremented. name is lower case.
func successor(name string) (string, error) {
	if name == "." {
		return "\\000.", nil
	}
	wire := make([]byte, maxName+2)
	n, err := dns.PackDomainName(name, wire, 0, nil, false)
	if err != nil {
		return "", err
	}
	wire = wire[:n]
	if n+2 <= maxName {
		out := append([]byte{1, 0}, wire...)
		return unpackName(out)
	}
	// A name this long has no children: what follows it is a sibling
	// whose first label is just larger.
	first := int(wire[0])
	if n+1 <= maxName && first < 63 {
		out := make([]byte, 0, n+1)
		out = append(out, byte(first+1))
		out = append(out, wire[1:1+first]...)
		out = append(out, 0)
		out = append(out, wire[1+first:]...)
		return unpackName(out)
	}
	out := append([]byte(nil), wire...)
	for i := first; i >= 1; i-- {
		switch c := out[i]; {
		case c == 0xff:
			continue
		case c+1 == 'A':
			// Upper case sorts as lower case: skip past 'Z'.
			out[i] = 'Z' + 1
		default:
			out[i] = c + 1
		}
		// Octets after the incremented one are dropped: shortest successor.
		out = append(out[:i+1], out[1+first:]...)
		out[0] = byte(i)
		return unpackName(out)
	}
	return "", errors.New("no successor name within 255 octets")
}

func unpackName(wire []byte) (string, error) {
	s, _, err := dns.UnpackDomainName(wire, 0)
	return s, err
}
