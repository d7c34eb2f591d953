// Package dnssec signs the RRsets hadns serves: it owns the zone's keys, the
// RRSIGs made over RRsets it is handed, the signature lifetime and refresh
// rule, the compact denial of existence (RFC 9824) NSEC records, and the
// apex key records (DNSKEY, CDS, CDNSKEY) and the DS for the parent.
//
// It must not know about CoreDNS, health checks, sites or zone files: it
// signs whatever RRsets it is given, at the time it is given, so it can be
// tested alone and used by any part that builds answers.
//
// # Keys
//
// Keys are read from BIND's key files (K<zone>+<alg>+<tag>.key and .private),
// the format dnssec-keygen, ldns-keygen and CoreDNS's dnssec and sign plugins
// use. Either a KSK (flags 257) and a ZSK (flags 256), or one combined
// signing key (CSK, flags 257) that signs everything. Algorithms
// ECDSAP256SHA256 (13) and ED25519 (15). Every instance that serves the zone
// reads the same files, so their signatures all validate against the one
// DNSKEY RRset.
//
// # Signatures
//
// Sign picks the key by the type covered: the KSK signs DNSKEY, CDS and
// CDNSKEY, the ZSK everything else. Inception is back-dated by Options.Skew
// (default 1h) so resolvers with a slow clock accept it; expiration is
// inception + Options.Validity (default 14 days) minus a random jitter in
// [0, Options.Jitter] (default 1 day). A signature is re-made once less than
// Options.Refresh (default 7 days) remains before its expiration; since
// expirations are jittered, refreshes of RRsets signed at the same moment are
// spread over the jitter window instead of all falling due together.
// NextRefresh tells when the earliest of a set of signatures is due.
//
// # How the plugin will use it
//
// At setup the plugin reads the key files (ReadKey for each base name) and
// builds one Signer per zone with NewSigner. It then signs in the places where
// it already precomputes, never on the query path:
//
//   - When it builds a zone: Sign each static RRset (SOA, NS, A/AAAA of the
//     nameservers, TXT, ...), plus the sets from DNSKEY, CDS and CDNSKEY at the
//     apex (Sign signs those with the KSK), and, for each existing name, the
//     NODATA NSEC and its RRSIG from Denial(name, true, types, ...).
//   - When health changes: Sign each precomputed service answer (each
//     rotation, each site's answer) at the time it is computed, and pack the
//     RRSIG into a second packed reply beside the unsigned one. The query path
//     picks the signed or unsigned bytes by the DO bit and still only copies.
//   - A single timer set to NextRefresh over every signature held re-signs the
//     RRsets whose signatures NeedsRefresh says are due and swaps the packed
//     replies, the same way a health change does.
//   - Names that do not exist: the NSEC's owner is the query name, so the
//     plugin signs it on demand with Denial(qname, false, nil, ...) and
//     caches the result by name for a bounded number of names, or answers
//     with a per-name cache miss costing one signature (about 30µs with P-256).
//   - Wildcards: sign the RRset at its wildcard owner (*.example.test.), then
//     put the query name in the owner of both the RRset and its RRSIG; the
//     RRSIG's label count (set by Sign) lets the validator see the expansion.
//   - `hadns dnssec ds` prints DSLines for the parent.
package dnssec
