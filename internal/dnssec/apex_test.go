package dnssec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestApexRecords checks CDS and CDNSKEY (RFC 7344 3) describe the KSK, and
// the DS for the parent is the SHA-256 digest of the KSK (RFC 4509).
func TestApexRecords(t *testing.T) {
	s := exampleSigner(t, Options{})
	ksk := s.ksk.DNSKEY

	cdnskey := s.CDNSKEY(3600)
	if len(cdnskey) != 1 {
		t.Fatalf("%d CDNSKEY, want 1", len(cdnskey))
	}
	c := cdnskey[0].(*dns.CDNSKEY)
	if c.Hdr.Name != zone || c.Hdr.Rrtype != dns.TypeCDNSKEY || c.Flags != 257 || c.PublicKey != ksk.PublicKey || c.Algorithm != ksk.Algorithm {
		t.Fatalf("CDNSKEY %s does not describe the KSK %s", c, ksk)
	}

	ds := s.DS(86400)
	if ds.Hdr.Name != zone || ds.Hdr.Ttl != 86400 || ds.KeyTag != s.ksk.Tag || ds.DigestType != dns.SHA256 || ds.Algorithm != dns.ECDSAP256SHA256 {
		t.Fatalf("DS %s", ds)
	}
	if want := ksk.ToDS(dns.SHA256).Digest; ds.Digest != want || len(ds.Digest) != 64 {
		t.Fatalf("DS digest %s, want %s", ds.Digest, want)
	}
	cds := s.CDS(3600)
	if len(cds) != 1 || cds[0].(*dns.CDS).Digest != ds.Digest || cds[0].Header().Rrtype != dns.TypeCDS || cds[0].Header().Name != zone {
		t.Fatalf("CDS %v does not match DS %s", cds, ds)
	}

	// The printed line is one DS record a parent zone file can take.
	line := s.DSLines(86400)
	if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("DSLines %q, want one line", line)
	}
	rr, err := dns.NewRR(line)
	if err != nil {
		t.Fatal(err)
	}
	if back, ok := rr.(*dns.DS); !ok || !strings.EqualFold(back.Digest, ds.Digest) || back.KeyTag != ds.KeyTag {
		t.Fatalf("DSLines %q does not read back as the DS", line)
	}

	// Records handed out are copies: changing one leaves the signer's keys.
	s.DNSKEY(3600)[0].(*dns.DNSKEY).PublicKey = "AAAA"
	if s.ksk.DNSKEY.PublicKey == "AAAA" || s.zsk.DNSKEY.PublicKey == "AAAA" {
		t.Fatal("DNSKEY returned the signer's own record")
	}
}

// TestExampleKeysREADME keeps the DS line in zones/keys/README.md the one
// the example keys give.
func TestExampleKeysREADME(t *testing.T) {
	s := exampleSigner(t, Options{})
	readme, err := os.ReadFile(filepath.Join("..", "..", "zones", "keys", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(strings.Fields(s.DSLines(3600)), " ")
	if !strings.Contains(string(readme), line) {
		t.Fatalf("zones/keys/README.md does not give the example's DS:\n%s", line)
	}
}
