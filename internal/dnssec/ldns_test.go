package dnssec

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestLdnsVerifyZone has an independent validator, ldns-verify-zone
// (ldnsutils), check signatures made here: a zone of RRsets signed by the
// Signer, the DNSKEY RRset signed by the KSK and used as trust anchor, and an
// NSEC chain (RFC 4034 4) the test builds and the Signer signs. A zone with
// one record changed after signing must be refused, so a validator that
// accepted anything would fail the test.
func TestLdnsVerifyZone(t *testing.T) {
	bin, err := exec.LookPath("ldns-verify-zone")
	if err != nil {
		t.Fatal("ldns-verify-zone not found: install ldnsutils (CI does)")
	}
	for _, tc := range []struct {
		alg uint8
		csk bool
	}{{dns.ECDSAP256SHA256, false}, {dns.ED25519, false}, {dns.ECDSAP256SHA256, true}} {
		t.Run(fmt.Sprintf("%s/csk=%v", dns.AlgorithmToString[tc.alg], tc.csk), func(t *testing.T) {
			s := newSigner(t, tc.alg, tc.csk, Options{})
			sets := [][]dns.RR{
				rrset(t, "example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 1 7200 3600 1209600 300"),
				rrset(t, "example.test. 3600 IN NS ns1.example.test."),
				s.DNSKEY(3600), s.CDS(3600), s.CDNSKEY(3600),
				rrset(t, "_http._tcp.example.test. 30 IN SRV 10 5 80 www.example.test.",
					"_http._tcp.example.test. 30 IN SRV 10 5 8080 www.example.test."),
				rrset(t, "ns1.example.test. 3600 IN A 192.0.2.53"),
				rrset(t, "*.wild.example.test. 30 IN A 192.0.2.7"),
				rrset(t, "www.example.test. 30 IN A 192.0.2.1", "www.example.test. 30 IN A 192.0.2.2"),
				rrset(t, "www.example.test. 30 IN AAAA 2001:db8::1"),
			}
			// The NSEC chain in canonical order (RFC 4034 6.1); empty
			// non-terminals (_tcp, wild) have no NSEC.
			chain := []struct {
				name  string
				types []uint16
			}{
				{"example.test.", []uint16{dns.TypeNS, dns.TypeSOA, dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY}},
				{"_http._tcp.example.test.", []uint16{dns.TypeSRV}},
				{"ns1.example.test.", []uint16{dns.TypeA}},
				{"*.wild.example.test.", []uint16{dns.TypeA}},
				{"www.example.test.", []uint16{dns.TypeA, dns.TypeAAAA}},
			}
			for i, c := range chain {
				next := chain[(i+1)%len(chain)].name
				sets = append(sets, []dns.RR{&dns.NSEC{
					Hdr:        dns.RR_Header{Name: c.name, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 300},
					NextDomain: next,
					TypeBitMap: sortedTypes(c.types, dns.TypeRRSIG, dns.TypeNSEC),
				}})
			}
			var zoneText strings.Builder
			for _, set := range sets {
				sig, err := s.Sign(set, t0)
				if err != nil {
					t.Fatal(err)
				}
				for _, rr := range set {
					zoneText.WriteString(rr.String() + "\n")
				}
				zoneText.WriteString(sig.String() + "\n")
			}
			dir := t.TempDir()
			anchor := filepath.Join(dir, "anchor.key")
			if err := os.WriteFile(anchor, []byte(s.DNSKEY(3600)[0].String()+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			// Validate at an injected time, not the wall clock: half an hour
			// before signing, as a resolver whose clock is behind would
			// (the inception is back-dated by the skew for it).
			at := t0.Add(-30 * time.Minute).UTC().Format("20060102150405")
			run := func(name, text string) (string, error) {
				t.Helper()
				file := filepath.Join(dir, name)
				if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(bin, "-k", anchor, "-t", at, file).CombinedOutput()
				return string(out), err
			}
			out, err := run("signed.zone", zoneText.String())
			if err != nil {
				t.Fatalf("ldns-verify-zone refused the signed zone: %v\n%s\nzone:\n%s", err, out, zoneText.String())
			}
			if !strings.Contains(out, "Zone is verified and complete") {
				t.Fatalf("ldns-verify-zone did not say the zone is verified:\n%s", out)
			}
			tampered := strings.Replace(zoneText.String(), "192.0.2.53", "192.0.2.54", 1)
			if out, err := run("tampered.zone", tampered); err == nil {
				t.Fatalf("ldns-verify-zone accepted a zone changed after signing:\n%s", out)
			}
			// After the expiration (14 days, less jitter) the same zone fails.
			at = t0.Add(DefaultValidity).UTC().Format("20060102150405")
			if out, err := run("expired.zone", zoneText.String()); err == nil {
				t.Fatalf("ldns-verify-zone accepted signatures past their expiration:\n%s", out)
			}
		})
	}
}
