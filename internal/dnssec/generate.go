package dnssec

import (
	"crypto"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// GenerateKey makes a new key for zone: a KSK or CSK (flags 257) if ksk, else
// a ZSK (flags 256), with algorithm ECDSAP256SHA256 or ED25519.
func GenerateKey(zone string, alg uint8, ksk bool) (*Key, error) {
	if !Supported(alg) {
		return nil, fmt.Errorf("dnssec keygen: algorithm %d not supported, use ECDSAP256SHA256 (13) or ED25519 (15)", alg)
	}
	k := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: dns.CanonicalName(zone), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     flagZone,
		Protocol:  3,
		Algorithm: alg,
	}
	if ksk {
		k.Flags |= flagSEP
	}
	p, err := k.Generate(256) // the only size either algorithm has
	if err != nil {
		return nil, fmt.Errorf("dnssec keygen: %w", err)
	}
	return &Key{DNSKEY: k, Signer: p.(crypto.Signer), Tag: k.KeyTag()}, nil
}

// Write writes k as base+".key" and base+".private" in BIND's format
// (private-key-format v1.3), the private half readable by its owner only.
func (k *Key) Write(base string, now time.Time) error {
	role := "zone-signing"
	if k.IsKSK() {
		role = "key-signing"
	}
	stamp := now.UTC().Format("20060102150405")
	pub := fmt.Sprintf("; This is a %s key, keyid %d, for %s\n; Created: %s\n%s\n",
		role, k.Tag, k.DNSKEY.Hdr.Name, stamp, k.DNSKEY.String())
	priv := k.DNSKEY.PrivateKeyString(k.Signer)
	if !strings.HasSuffix(priv, "\n") {
		priv += "\n"
	}
	priv += "Created: " + stamp + "\n"
	if err := os.WriteFile(base+".key", []byte(pub), 0o644); err != nil {
		return fmt.Errorf("dnssec keygen: %w", err)
	}
	if err := os.WriteFile(base+".private", []byte(priv), 0o600); err != nil {
		return fmt.Errorf("dnssec keygen: %w", err)
	}
	k.File = base
	return nil
}
