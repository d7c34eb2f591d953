// Package store is hadns's optional shared store: the state a nameserver
// set shares through etcd v3, and nothing else.
//
// # What it owns
//
//   - The etcd client (go.etcd.io/etcd/client/v3), built from Config:
//     endpoints, prefix, TLS client certificate/key/CA, username/password,
//     dial timeout, each with a documented default.
//   - The key layout (below), its versioning and the JSON of every value
//     except zone documents.
//   - Watching: a list at one revision, then a watch from that revision + 1
//     (WithRequireLeader, WithPrevKV); after an error the watch resumes from
//     the last applied revision, after ErrCompacted it lists again, with
//     capped exponential backoff and jitter between attempts. Every applied
//     batch becomes a new immutable Snapshot handed to Options.OnSnapshot.
//   - The last known good copy: every applied snapshot is written to
//     Config.CacheFile atomically; at start, with etcd unreachable, that copy
//     is handed on marked Stale.
//   - Writes: zones (validated first), overrides (compare-and-swap on the
//     key's ModRevision, expiry as an etcd lease), registrations (a lease
//     kept alive per registrant), this instance's observations and served
//     records (on change only, under the instance's lease).
//
// # What it must not know
//
// Nothing of CoreDNS and nothing of DNS answers: it does not parse zone
// documents (they are opaque bytes, checked by the ValidateFunc the caller
// passes in), and it does not decide health: observations and overrides are
// data, and the quorum policy that reads them belongs to the plugin.
//
// # Key layout, version 1
//
// Under the prefix (default "/hadns/v1/"); each name segment is
// path-escaped (url.PathEscape), so names may hold any character:
//
//	zones/<origin>                    the zone's YAML document, as `hadns check` accepts it;
//	                                  origin lower case with the final dot
//	overrides/<id>                    JSON Override: action, selector, reason, by, expires, created;
//	                                  with an expiry, bound to a lease of that TTL
//	registrations/<service>/<backend> JSON Registration, bound to the registrant's lease
//	observations/<instance>/<target>  JSON Observation (state, since), under the instance's lease
//	served/<instance>/<backend>       JSON Served (last time handed out, TTL, the drain it is about),
//	                                  under the instance's lease
//	instances/<instance>              JSON Presence (since), under the instance's lease: the instance
//	                                  is alive; written by Announce
//
// Keys under the prefix that fit none of these are ignored, so a later
// layout can add kinds; a change old instances would misread takes a new
// version segment (a new prefix). A value that does not decode, or a zone
// the validator refuses, is left out of the snapshot, logged, and listed in
// Snapshot.Rejected; for a zone the previous good version keeps serving.
//
// # Failure semantics (the plugin must keep them)
//
// etcd is never on a query path: answers come from the last snapshot in
// memory. Start returns at once; Snapshot is one atomic load. When etcd is
// unreachable, has no leader, is slow or compacted the watched revision, the
// last snapshot stays in force and the watcher retries in the background;
// Status says Connected=false, the revision and the lag. Missing or stale
// remote data never means "down": an instance that cannot reach etcd keeps
// its last snapshot and its own local health; peers' observations that
// vanish (their lease expired) mean "no opinion", not "down".
//
// # Timings and limits
//
//   - A change reaches every watcher within milliseconds (one watch event);
//     a lost etcd is noticed within Heartbeat + DialTimeout (default 7 s),
//     and Status reports disconnected after that much silence in any case.
//   - Retries wait Backoff(100 ms, 10 s): doubling, capped, jittered; the
//     gRPC connection under them retries at most 2 s apart (its default
//     grows to 120 s), so a returning etcd is seen within the retry cap.
//   - The last known good copy is written at most once a second (the
//     newest snapshot; Close writes the last one), so it lags by ≤ 1 s.
//   - Leases have whole-second TTLs and etcd enforces a minimum (about
//     1.5 × its election timeout), and extends leases across a leader
//     change: an expiring override may outlive its expiry by a second or
//     more, so readers also check Override.Active. A registration or an
//     instance's views vanish TTL after the last keepalive.
//   - Registrations and views survive an etcd outage shorter than their
//     TTL; after a longer one the lease is granted again and the keys are
//     rewritten by the same goroutine that kept them alive.
//
// # Security
//
// Anyone who can write under the prefix can change every zone, set any
// override and register any backend: they control the answers of the
// whole set. Use etcd's TLS (Config.CAFile, CertFile, KeyFile) and
// authentication (Username, Password) with a role limited to the prefix;
// the validator still refuses documents that would not load, but it
// cannot tell a malicious valid zone from an intended one.
//
// # How the plugin will use it
//
//   - setup: parse the `store etcd ENDPOINT...` block into a Config; call
//     New(cfg, Options{Validate: the zone loader's check, OnSnapshot: a func
//     that rebuilds answers from the snapshot, Logf: the plugin logger}).
//     New validates the Config, so Corefile errors come out at setup.
//   - OnStartup: Start() and Announce() (both return at once; the plugin
//     may wait a bounded time for the first OnSnapshot before it declares
//     itself ready); OnShutdown: Close().
//   - OnSnapshot: merge Zones with file zones (the issue leaves the
//     precedence open; a file zone winning keeps the README's first
//     command independent of the store), Overrides with local ones,
//     Registrations as backends of their service; compute quorum verdicts
//     from Observations; precompute answers as after a health change.
//   - Health transitions: PublishObservation(target, {state, since}).
//     Periodically: PublishServed(backend, {last, ttl, for}); the status
//     uses Snapshot.SetDrainSafeAt(backend, self, drain), which stays
//     pending while a live instance has not reported on the drain.
//   - Admin API and `hadns ctl`: PutZone/GetZone/DeleteZone,
//     PutOverride/ClearOverride/EditOverride, Register/Deregister.
//   - Metrics and status page: Status() (connected, revision, lag,
//     stale, relists, rejected) and Snapshot().Rejected for the log.
//   - `hadns ctl` makes a Store with New and never calls Start: writes
//     need no watcher and no instance lease.
package store
