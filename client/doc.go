// Package client is a Go client for services published by hadns that fails
// over on its own: it reads the service's SRV records, orders the targets as
// RFC 2782 says (lowest priority first, weighted random within a priority),
// and connects to them in that order, Happy Eyeballs style, passing over
// targets that just failed.
//
// Resolver looks SRV, A and AAAA records up through the configured
// nameservers (or the system's), caches them for their TTL and never beyond
// it, refreshes entries in use before they expire, and serves the last
// answer stale for a bounded time while every nameserver is unreachable.
//
// Dialer dials a service name ("_http._tcp.api.example.test.") or a plain
// host:port. Transport is an http.RoundTripper that dials service names
// through a Dialer and retries idempotent requests on the next target when a
// connection fails before a response arrives.
//
// Everything that depends on time reads it from a Clock, and randomness
// comes from an injected source, so the behaviour is testable without
// sleeps.
package client
