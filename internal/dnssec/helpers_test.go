package dnssec

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const zone = "example.test."

// t0 is a fixed signing time; tests never read the wall clock.
var t0 = time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)

// exampleSigner returns a Signer with the example keys shipped in zones/keys.
func exampleSigner(t testing.TB, opt Options) *Signer {
	t.Helper()
	var keys []*Key
	for _, role := range []string{"ksk", "zsk"} {
		k, err := ReadKey(filepath.Join("..", "..", "zones", "keys", "Kexample.test.+013."+role+".NOT-FOR-PRODUCTION"), zone)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	s, err := NewSigner(zone, keys, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newSigner returns a Signer with fresh keys: a KSK/ZSK pair, or one CSK.
func newSigner(t testing.TB, alg uint8, csk bool, opt Options) *Signer {
	t.Helper()
	ksk, err := GenerateKey(zone, alg, true)
	if err != nil {
		t.Fatal(err)
	}
	keys := []*Key{ksk}
	if !csk {
		zsk, err := GenerateKey(zone, alg, false)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, zsk)
	}
	s, err := NewSigner(zone, keys, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func rrset(t testing.TB, lines ...string) []dns.RR {
	t.Helper()
	var set []dns.RR
	for _, l := range lines {
		set = append(set, mustRR(t, l))
	}
	return set
}

// verify checks sig over set with the key whose tag it names, and that it is
// valid at now.
func verify(t testing.TB, s *Signer, sig *dns.RRSIG, set []dns.RR, now time.Time) {
	t.Helper()
	var key *dns.DNSKEY
	for _, rr := range s.DNSKEY(3600) {
		if k := rr.(*dns.DNSKEY); k.KeyTag() == sig.KeyTag {
			key = k
		}
	}
	if key == nil {
		t.Fatalf("RRSIG key tag %d is not in the DNSKEY RRset", sig.KeyTag)
	}
	if err := sig.Verify(key, set); err != nil {
		t.Fatalf("RRSIG over %s/%s does not verify: %v", set[0].Header().Name, dns.TypeToString[set[0].Header().Rrtype], err)
	}
	if !Valid(sig, now) {
		t.Fatalf("RRSIG %s not valid at %s", sig, now)
	}
}
