package dnssec

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkSign signs one service answer, as the plugin will once per
// answer per health change: 3 A records, 24 SRV records, and 200 SRV records
// (the SRV answer of a service with 200 backends).
func BenchmarkSign(b *testing.B) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		s := newSigner(b, alg, false, Options{})
		var a3, srv24, srv200 []dns.RR
		for i := range 3 {
			a3 = append(a3, mustRR(b, fmt.Sprintf("www.example.test. 30 IN A 192.0.2.%d", i+1)))
		}
		for i := range 24 {
			srv24 = append(srv24, mustRR(b, fmt.Sprintf("_http._tcp.example.test. 30 IN SRV 10 5 80 b%d.site%d.example.test.", i, i%5)))
		}
		for i := range 200 {
			srv200 = append(srv200, mustRR(b, fmt.Sprintf("_http._tcp.example.test. 30 IN SRV %d 5 80 b%d.example.test.", i%5+1, i)))
		}
		for _, set := range []struct {
			name string
			rrs  []dns.RR
		}{{"A3", a3}, {"SRV24", srv24}, {"SRV200", srv200}} {
			b.Run(dns.AlgorithmToString[alg]+"/"+set.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Sign(set.rrs, t0); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDenial makes and signs one compact denial NSEC, the cost of an
// answer for a name not seen before.
func BenchmarkDenial(b *testing.B) {
	s := exampleSigner(b, Options{})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Denial("nope.example.test.", false, nil, 300, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// zoneShape is the zone of the cost estimate: 50 services, each with 200
// backends spread over 5 sites (40 a site), max_answers 8, the plugin's
// defaults.
const (
	zServices   = 50
	zSites      = 5
	zPerSite    = 40
	zMaxAnswers = 8
)

// healthChangeSets returns the RRsets the plugin re-signs when one backend
// of one service goes down at a site: that site's A rotations (one per
// starting offset of the 39 left, each 8 records) and every client site's
// SRV answer (each lists all 199 healthy backends).
func healthChangeSets(b *testing.B) [][]dns.RR {
	var pool []dns.RR
	for i := range zPerSite - 1 {
		pool = append(pool, mustRR(b, fmt.Sprintf("svc.example.test. 30 IN A 10.0.%d.%d", i/200, i%200+1)))
	}
	var sets [][]dns.RR
	for r := range pool {
		var rot []dns.RR
		for j := range zMaxAnswers {
			rot = append(rot, pool[(r+j)%len(pool)])
		}
		sets = append(sets, rot)
	}
	for range zSites {
		var srv []dns.RR
		for i := range zSites*zPerSite - 1 {
			srv = append(srv, mustRR(b, fmt.Sprintf("_http._tcp.svc.example.test. 30 IN SRV %d 5 80 b%d.svc.example.test.", i%zSites+1, i)))
		}
		sets = append(sets, srv)
	}
	return sets
}

// BenchmarkHealthChange signs everything one backend transition changes in
// the zone of zoneShape: 39 A rotations and 5 SRV answers of 199 records.
func BenchmarkHealthChange(b *testing.B) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		s := newSigner(b, alg, false, Options{})
		sets := healthChangeSets(b)
		b.Run(dns.AlgorithmToString[alg], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, set := range sets {
					if _, err := s.Sign(set, t0); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(len(sets)), "rrsets/op")
		})
	}
}

// zoneSets returns every RRset the plugin would sign for the zone of
// zoneShape when it loads: each client site's A rotations (40 windows of 8
// over its site's 40 backends), each client site's SRV answer (200 records),
// each backend's target address, and the NODATA proof of every name.
func zoneSets(b *testing.B) [][]dns.RR {
	var sets [][]dns.RR
	for svc := range zServices {
		name := fmt.Sprintf("svc%d.example.test.", svc)
		for site := range zSites {
			var pool []dns.RR
			for i := range zPerSite {
				pool = append(pool, mustRR(b, fmt.Sprintf("%s 30 IN A 10.%d.%d.%d", name, svc, site, i+1)))
			}
			for r := range pool {
				var rot []dns.RR
				for j := range zMaxAnswers {
					rot = append(rot, pool[(r+j)%len(pool)])
				}
				sets = append(sets, rot)
			}
			var srv []dns.RR
			for i := range zSites * zPerSite {
				srv = append(srv, mustRR(b, fmt.Sprintf("_http._tcp.%s 30 IN SRV %d 5 80 b%d.%s", name, (i/zPerSite+site)%zSites+1, i, name)))
			}
			sets = append(sets, srv)
		}
		names := []string{name, "_http._tcp." + name}
		for i := range zSites * zPerSite {
			target := fmt.Sprintf("b%d.%s", i, name)
			names = append(names, target)
			sets = append(sets, []dns.RR{mustRR(b, fmt.Sprintf("%s 30 IN A 10.%d.%d.%d", target, svc, i/zPerSite, i%zPerSite+1))})
		}
		for _, n := range names {
			sets = append(sets, []dns.RR{&dns.NSEC{
				Hdr:        dns.RR_Header{Name: n, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 300},
				NextDomain: `\000.` + n,
				TypeBitMap: []uint16{dns.TypeA, dns.TypeRRSIG, dns.TypeNSEC},
			}})
		}
	}
	return sets
}

// BenchmarkZone signs the whole zone of zoneShape once, as at load. Run it
// with -benchtime 1x: one op is about 30,000 signatures.
func BenchmarkZone(b *testing.B) {
	s := newSigner(b, dns.ECDSAP256SHA256, false, Options{})
	sets := zoneSets(b)
	for b.Loop() {
		for _, set := range sets {
			if _, err := s.Sign(set, t0); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(sets)), "rrsets/op")
}
