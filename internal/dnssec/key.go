package dnssec

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/miekg/dns"
)

// Key is one DNSSEC key read from BIND's .key/.private pair.
type Key struct {
	// DNSKEY is the public half, as published at the apex.
	DNSKEY *dns.DNSKEY
	// Signer is the private half.
	Signer crypto.Signer
	// Tag is the key tag (RFC 4034 Appendix B).
	Tag uint16
	// File is the base name the key was read from, for messages.
	File string
}

// Flags of a DNSKEY (RFC 4034 2.1.1, RFC 5011 7).
const (
	flagZone   = 1 << 8
	flagSEP    = 1
	flagRevoke = 1 << 7
)

// publicKeyLen is the size of a DNSKEY's public key field (RFC 6605 4,
// RFC 8080 3).
var publicKeyLen = map[uint8]int{dns.ECDSAP256SHA256: 64, dns.ED25519: 32}

// IsKSK says the key has the SEP flag: a KSK, or a CSK when used alone.
func (k *Key) IsKSK() bool { return k.DNSKEY.Flags&flagSEP != 0 }

// Supported says whether hadns signs with algorithm alg.
func Supported(alg uint8) bool { return alg == dns.ECDSAP256SHA256 || alg == dns.ED25519 }

// ReadKey reads the key pair base+".key" and base+".private" for zone. base
// may also end in .key or .private (as CoreDNS's sign plugin allows). Every
// error names the file at fault.
func ReadKey(base, zone string) (*Key, error) {
	base = strings.TrimSuffix(strings.TrimSuffix(base, ".key"), ".private")
	zone = dns.CanonicalName(zone)
	pubFile, privFile := base+".key", base+".private"

	pub, err := os.ReadFile(pubFile)
	if err != nil {
		return nil, fmt.Errorf("dnssec key: %w", err)
	}
	priv, err := os.ReadFile(privFile)
	if err != nil {
		priv = nil
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("dnssec key %s: %w", pubFile, err)
		}
	}
	k, err := parseKey(pubFile, pub, privFile, priv, zone)
	if err != nil {
		return nil, err
	}
	k.File = base
	return k, nil
}

// parseKey reads a key from the contents of its two files, named for the
// messages; priv is nil when the private file does not exist.
func parseKey(pubFile string, pub []byte, privFile string, priv []byte, zone string) (*Key, error) {
	// dns.ReadRR skips the comments BIND writes before the record and puts
	// the file name and line in its parse errors.
	rr, err := dns.ReadRR(bytes.NewReader(pub), pubFile)
	if err != nil {
		return nil, fmt.Errorf("dnssec key: %w", err)
	}
	if rr == nil {
		return nil, fmt.Errorf("dnssec key %s: no DNSKEY record in the file", pubFile)
	}
	k, ok := rr.(*dns.DNSKEY)
	if !ok {
		return nil, fmt.Errorf("dnssec key %s: want a DNSKEY record, found %s", pubFile, dns.TypeToString[rr.Header().Rrtype])
	}
	if owner := dns.CanonicalName(k.Hdr.Name); owner != zone {
		return nil, fmt.Errorf("dnssec key %s: key is for zone %q, not %q", pubFile, owner, zone)
	}
	if !Supported(k.Algorithm) {
		return nil, fmt.Errorf("dnssec key %s: algorithm %s (%d) not supported, use ECDSAP256SHA256 (13) or ED25519 (15)",
			pubFile, dns.AlgorithmToString[k.Algorithm], k.Algorithm)
	}
	if raw, err := base64.StdEncoding.DecodeString(k.PublicKey); err != nil || len(raw) != publicKeyLen[k.Algorithm] {
		return nil, fmt.Errorf("dnssec key %s: public key is not %d octets of base64", pubFile, publicKeyLen[k.Algorithm])
	}
	if k.Protocol != 3 {
		return nil, fmt.Errorf("dnssec key %s: protocol %d, must be 3 (RFC 4034 2.1.2)", pubFile, k.Protocol)
	}
	if k.Flags&flagZone == 0 {
		return nil, fmt.Errorf("dnssec key %s: flags %d lack the zone key bit (256): not a zone signing key", pubFile, k.Flags)
	}
	if k.Flags&flagRevoke != 0 {
		return nil, fmt.Errorf("dnssec key %s: flags %d have the REVOKE bit (128): a revoked key must not sign", pubFile, k.Flags)
	}

	if priv == nil {
		return nil, fmt.Errorf("dnssec key %s: missing private half: %s does not exist", pubFile, privFile)
	}
	p, err := k.ReadPrivateKey(bytes.NewReader(priv), privFile)
	if err != nil {
		return nil, fmt.Errorf("dnssec key %s: %w", privFile, err)
	}
	// ReadPrivateKey takes the algorithm from the private file and accepts
	// a file without a PrivateKey line (an empty Ed25519 key, which panics
	// when it signs, or an ECDSA key without its secret): check both here.
	var signer crypto.Signer
	switch p := p.(type) {
	case ed25519.PrivateKey:
		if k.Algorithm != dns.ED25519 {
			return nil, fmt.Errorf("dnssec key %s: private key is ED25519, but %s is %s", privFile, pubFile, dns.AlgorithmToString[k.Algorithm])
		}
		if len(p) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("dnssec key %s: no valid PrivateKey line", privFile)
		}
		signer = p
	case *ecdsa.PrivateKey:
		if k.Algorithm != dns.ECDSAP256SHA256 {
			return nil, fmt.Errorf("dnssec key %s: private key is ECDSA, but %s is %s", privFile, pubFile, dns.AlgorithmToString[k.Algorithm])
		}
		if p.D == nil || p.D.Sign() <= 0 {
			return nil, fmt.Errorf("dnssec key %s: no valid PrivateKey line", privFile)
		}
		signer = p
	default:
		return nil, fmt.Errorf("dnssec key %s: not an ECDSAP256SHA256 or ED25519 private key", privFile)
	}
	key := &Key{DNSKEY: k, Signer: signer, Tag: k.KeyTag()}
	// ReadPrivateKey does not check the two halves belong together; a
	// mismatch would only show as answers no resolver validates. One test
	// signature finds it.
	if err := key.selfTest(); err != nil {
		return nil, fmt.Errorf("dnssec key %s: private key does not match %s: %w", privFile, pubFile, err)
	}
	return key, nil
}

// selfTest signs the key's own DNSKEY and verifies the signature.
func (k *Key) selfTest() error {
	set := []dns.RR{k.DNSKEY}
	sig := &dns.RRSIG{Algorithm: k.DNSKEY.Algorithm, KeyTag: k.Tag, SignerName: k.DNSKEY.Hdr.Name, Inception: 0, Expiration: 1}
	if err := sig.Sign(k.Signer, set); err != nil {
		return err
	}
	return sig.Verify(k.DNSKEY, set)
}
