// Package zone is hadns's zone model: a zone file's YAML, read with strict
// keys into static records and services (backends, SRV owners, HTTPS and
// SVCB records, weights); the lookup of a query's name and type; and each
// service's answers for every site order, computed from its backends'
// health whenever that changes, packed (internal/wire) and, in a signed
// zone, signed (Signer).
//
// Load and Parse build a Zone; Zone.Lookup answers a query for a client of
// a site; ComputeAnswers makes a service's answers from health, which
// Service.SetAnswers publishes. What the plugin needs beyond that crosses
// as plain data (Reply, Degradation, Health) or read-only accessors; the
// answer counters are a slot the plugin fills (Counters), so metrics stay
// in the plugin.
//
// The answer computation (selection by site tiers, rotations, weighted
// slots, fallback, fail-open) lives here, not in a package of its own:
// Lookup reads each service's precomputed answers lock-free on the query
// path, straight from the structures ComputeAnswers builds (an answer set
// per service, per site order, per type), and the static RRsets whose
// additional data follows health are packed with those answers. A
// separate package would have to export every one of those structures to
// the other, which is the coupling a package boundary is meant to remove.
//
// It knows nothing of CoreDNS, of the engine that runs the health checker
// and calls ComputeAnswers, of overrides, metrics or the admin API.
package zone
