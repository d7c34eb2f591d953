// Package sites maps a client's address to its site and each site to the
// order in which answers try the sites of a service: its own, its fallbacks,
// then the default order. It owns the `site` lines of the Corefile once
// parsed, the longest-prefix match of client addresses, and the ECS scope of
// an answer (RFC 7871: the prefix length within which every client gets the
// same site). It must not know about zones, backends, health or DNS
// messages; matching is lock-free and allocation-free, for the query path.
package sites
