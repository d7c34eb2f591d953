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
// At setup the plugin reads the key files (ReadKey for each base name, from a
// `dnssec` option) and builds one Signer per zone with NewSigner. It signs
// where it already precomputes, never on the query path:
//
//   - When it builds a zone: Sign each static RRset (SOA, NS, A/AAAA
//     (not glue), TXT, the SRV targets' addresses, CNAMEs), the DNSKEY, CDS and
//     CDNSKEY sets at the apex (Sign uses the KSK for those), and, for every
//     existing name, the NODATA proof from Denial(name, true, types, ...),
//     packed beside the NODATA reply it already packs.
//   - When health changes: Sign each precomputed service answer (each
//     rotation of each site's A/AAAA answer, each site's SRV answer) as it
//     is computed, and pack a second reply with the RRSIG beside the unsigned
//     one. Rotations over the same records in another order share one
//     signature (an RRSIG covers the canonical, sorted set), so a pool no
//     larger than max_answers costs one signature. The query path picks the
//     signed or unsigned bytes by the DO bit (RFC 3225) and still only
//     copies; a signed reply too big for the client's UDP size is truncated
//     rather than sent without its RRSIGs (RFC 4035 3.1.1).
//   - One timer set to NextRefresh over every signature held re-signs the
//     RRsets NeedsRefresh says are due and swaps the packed replies, as a
//     health change does. Valid guards that no expired signature is packed.
//   - Names that do not exist: the NSEC's owner is the query name, so there
//     is nothing to precompute. With DO the plugin answers NOERROR/NODATA with
//     Denial(qname, false, nil, ...) signed on demand (about one signature,
//     tens of µs, see BenchmarkDenial) and kept in a bounded cache by name;
//     without DO it keeps its plain NXDOMAIN. A query for type NXNAME gets
//     FORMERR (RFC 9824 3.5).
//   - Wildcards: a validator needs proof that no closer name exists before it
//     accepts an expansion (RFC 4035 5.3.4), and with compact denial that
//     proof would itself be signed per name. Simpler and as cheap: sign the
//     synthesized RRset with the query name as its owner (Sign on demand,
//     cached like denials), so it validates as an ordinary RRset.
//   - Delegations: the NS RRset at a cut is not signed; the DS RRset is, or
//     its absence is proved with Denial(cut, true, [NS], ...), whose bitmap
//     then says NS, RRSIG, NSEC and no DS (RFC 4035 3.1.4.1).
//   - `hadns dnssec ds` prints DSLines for the parent; the DNSKEY RRset
//     includes Options.Published keys for a ZSK rollover.
//   - Several instances sign with the same key files; their signatures
//     differ (ECDSA and the jitter are random) but all validate against the
//     one DNSKEY RRset, so resolvers may mix answers from them.
package dnssec
