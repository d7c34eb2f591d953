package hadns

import (
	"context"
	"net"
	"os"
	"slices"
	"testing"

	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck/healthchecktest"
	"github.com/hadns/hadns/internal/zone/zonetest"
)

// signedSVCBZone is signedZone with svcbWireZone's HTTPS and SVCB records.
var signedSVCBZone = signedZone + svcbWireZone[len(wireZone):]

// In a signed zone the HTTPS and SVCB answers are signed when computed
// (their additional A and AAAA too), go out as packed bytes without an
// allocation, and denial of existence lists HTTPS and SVCB where a service
// has them.
func TestSignedHTTPS(t *testing.T) {
	h, _ := newSignedHandler(t, signedSVCBZone, healthchecktest.NewFakeClock(t0), wireSites...)
	keys := zoneKeys(t, h)
	for _, c := range []struct {
		name  string
		qtype uint16
		sigs  int
	}{
		{"api.example.test.", dns.TypeHTTPS, 3}, // HTTPS, and the additional A and AAAA
		{"_8443._foo.api.example.test.", dns.TypeSVCB, 3},
		{"_dns.api.example.test.", dns.TypeSVCB, 1}, // AliasMode, static
	} {
		m := doQuery(c.name, c.qtype, true)
		cw := &captureWriter{ResponseWriter: udpWriter()}
		if _, err := h.ServeDNS(context.Background(), request.NewScrubWriter(m, cw), m); err != nil {
			t.Fatal(err)
		}
		if cw.msgs != 0 {
			t.Errorf("%s/%s: signed reply built per query, not copied", c.name, dns.TypeToString[c.qtype])
		}
		resp := new(dns.Msg)
		if err := resp.Unpack(cw.wire); err != nil {
			t.Fatal(err)
		}
		if len(resp.Answer) == 0 || resp.Answer[0].Header().Rrtype != c.qtype {
			t.Fatalf("%s/%s: no answer:\n%v", c.name, dns.TypeToString[c.qtype], resp)
		}
		if n := validate(t, resp, keys, t0); n < c.sigs {
			t.Errorf("%s/%s: %d RRSIGs validated, want %d:\n%v", c.name, dns.TypeToString[c.qtype], n, c.sigs, resp)
		}
		if slow := slowQuery(t, h, m, udpWriter()); normal(slow) != normal(resp) {
			t.Errorf("%s/%s: packed signed reply differs from the general path's:\n%v\nwant\n%v", c.name, dns.TypeToString[c.qtype], resp, slow)
		}
	}
	m := doQuery("api.example.test.", dns.TypeHTTPS, true)
	w := request.NewScrubWriter(m, &discardWire{addrWriter{remote: &net.UDPAddr{IP: net.IPv4(10, 1, 0, 9), Port: 53}}})
	if n := testing.AllocsPerRun(200, func() { h.ServeDNS(context.Background(), w, m) }); n != 0 {
		t.Errorf("signed HTTPS with DO: %v allocations per query, want 0", n)
	}

	for _, c := range []struct {
		name  string
		qtype uint16
		types []uint16
	}{
		{"api.example.test.", dns.TypeTXT, []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeHTTPS}},
		{"_8443._foo.api.example.test.", dns.TypeHTTPS, []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeSVCB}},
		{"_dns.api.example.test.", dns.TypeA, []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeSVCB}},
		{"_8443._foo.api.example.test.", dns.TypeNSEC, []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeSVCB}},
	} {
		r := query(t, h, doQuery(c.name, c.qtype, true), udpWriter())
		var nsec *dns.NSEC
		for _, rr := range append(r.Answer, r.Ns...) {
			if n, ok := rr.(*dns.NSEC); ok {
				nsec = n
			}
		}
		if nsec == nil || !slices.Equal(nsec.TypeBitMap, c.types) {
			t.Errorf("%s/%s: NSEC %v, want types %v", c.name, dns.TypeToString[c.qtype], nsec, c.types)
			continue
		}
		validate(t, r, keys, t0)
	}
}

// A backend going down, then its whole site, changes the signed HTTPS
// answer through the engine (checker, recompute, signing), and every reply
// validates.
func TestSignedHTTPSHealthChange(t *testing.T) {
	sigClock := healthchecktest.NewFakeClock(t0)
	r := newHealthRigWith(t, func(cfg *config) {
		cfg.dnssec = signedConfig(t, sigClock)
		if err := os.WriteFile(cfg.files[0], []byte(zonetest.SelZone+"    https: {alpn: [h2]}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	r.until("ready", r.h.Ready)
	keys := zoneKeys(t, r.h)
	ask := func() []string {
		m := query(t, r.h, doQuery("api.example.test.", dns.TypeHTTPS, true), &test.ResponseWriter{RemoteIP: "10.1.9.9"})
		if validate(t, m, keys, sigClock.Now()) < 2 {
			t.Fatalf("unsigned answer:\n%v", m)
		}
		return tiersOf(m.Answer)
	}
	if got, want := ask(), []string{"1 . 10.1.0.1,10.1.0.2|", "2 . 10.2.0.1,10.2.0.2|2001:db8::1", "3 . 10.3.0.1|"}; !slices.Equal(got, want) {
		t.Fatalf("healthy: %q, want %q", got, want)
	}
	r.prober.set(true, "10.1.0.1")
	r.until("10.1.0.1 leaves the hints", func() bool {
		return slices.Equal(ask(), []string{"1 . 10.1.0.2|", "2 . 10.2.0.1,10.2.0.2|2001:db8::1", "3 . 10.3.0.1|"})
	})
	r.prober.set(true, "10.1.0.2")
	r.until("east's tier leaves", func() bool {
		return slices.Equal(ask(), []string{"1 . 10.2.0.1,10.2.0.2|2001:db8::1", "2 . 10.3.0.1|"})
	})
}
