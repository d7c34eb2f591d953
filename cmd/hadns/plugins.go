package main

// The CoreDNS plugins compiled into hadns: those an authoritative server
// uses. CoreDNS's full set (core/plugin) links the Kubernetes client, three
// cloud SDKs and the tracing libraries, which made the binary about three
// times bigger and a first build many minutes longer, for plugins a nameserver
// does not run.
//
// Left out on purpose: the cloud backends (route53, azure, clouddns), the
// Kubernetes ones (kubernetes, k8s_external, autopath), the other service
// discovery backends (etcd, nomad), forwarding (forward, grpc, loop), trace,
// the resolver-side rewriters (dns64, siit), erratic (a test plugin) and
// loadbalance, which reorders answers hadns has already ordered by site and
// must not be combined with it. A Corefile that names one of them fails
// with "Unknown directive"; `hadns check` says it is a CoreDNS plugin that is
// not compiled in.
//
// To add a plugin: import it here (CoreDNS's path is
// github.com/coredns/coredns/plugin/NAME; an external plugin's is its own),
// then `go mod tidy` and `go build ./cmd/hadns`. Its directive takes its
// place in CoreDNS's order by itself when CoreDNS lists it (see directives
// in main.go); an external plugin's name must also be added to that list,
// where its README says. TestCompiledPlugins lists what must stay in.
import (
	_ "github.com/coredns/caddy/onevent"              // on: run commands on start-up and shutdown
	_ "github.com/coredns/coredns/plugin/acl"         // access control by source and query type
	_ "github.com/coredns/coredns/plugin/any"         // RFC 8482 answers to ANY
	_ "github.com/coredns/coredns/plugin/auto"        // zone files found by pattern
	_ "github.com/coredns/coredns/plugin/bind"        // listen addresses
	_ "github.com/coredns/coredns/plugin/bufsize"     // EDNS buffer size
	_ "github.com/coredns/coredns/plugin/cache"       // answer cache (hadns runs before it)
	_ "github.com/coredns/coredns/plugin/cancel"      // request deadlines
	_ "github.com/coredns/coredns/plugin/chaos"       // CH TXT version.bind, hostname.bind
	_ "github.com/coredns/coredns/plugin/debug"       // panics are not recovered
	_ "github.com/coredns/coredns/plugin/dnssec"      // online signing
	_ "github.com/coredns/coredns/plugin/dnstap"      // query logging to dnstap
	_ "github.com/coredns/coredns/plugin/dynupdate"   // RFC 2136 updates to file zones
	_ "github.com/coredns/coredns/plugin/errors"      // error logging
	_ "github.com/coredns/coredns/plugin/file"        // zone files (RFC 1035 format)
	_ "github.com/coredns/coredns/plugin/geoip"       // MaxMind lookups for metadata
	_ "github.com/coredns/coredns/plugin/grpc_server" // gRPC transport settings
	_ "github.com/coredns/coredns/plugin/header"      // header flag rewriting
	_ "github.com/coredns/coredns/plugin/health"      // liveness endpoint
	_ "github.com/coredns/coredns/plugin/hosts"       // /etc/hosts-style records
	_ "github.com/coredns/coredns/plugin/https"       // DNS over HTTPS transport settings
	_ "github.com/coredns/coredns/plugin/https3"      // DNS over HTTP/3 transport settings
	_ "github.com/coredns/coredns/plugin/local"       // localhost and friends
	_ "github.com/coredns/coredns/plugin/log"         // query log
	_ "github.com/coredns/coredns/plugin/metadata"    // request metadata for log and view
	_ "github.com/coredns/coredns/plugin/metrics"     // prometheus
	_ "github.com/coredns/coredns/plugin/minimal"     // minimal responses
	_ "github.com/coredns/coredns/plugin/multisocket" // several sockets per address
	_ "github.com/coredns/coredns/plugin/nsid"        // RFC 5001 server identifier
	_ "github.com/coredns/coredns/plugin/pprof"       // Go profiling endpoint
	_ "github.com/coredns/coredns/plugin/proxyproto"  // PROXY protocol behind a load balancer
	_ "github.com/coredns/coredns/plugin/quic"        // DNS over QUIC transport settings
	_ "github.com/coredns/coredns/plugin/ready"       // readiness endpoint
	_ "github.com/coredns/coredns/plugin/reload"      // Corefile reload
	_ "github.com/coredns/coredns/plugin/rewrite"     // query and answer rewriting
	_ "github.com/coredns/coredns/plugin/root"        // base directory for file names
	_ "github.com/coredns/coredns/plugin/secondary"   // zones transferred in
	_ "github.com/coredns/coredns/plugin/shed"        // load shedding
	_ "github.com/coredns/coredns/plugin/sign"        // offline zone signing
	_ "github.com/coredns/coredns/plugin/template"    // answers from templates
	_ "github.com/coredns/coredns/plugin/timeouts"    // server timeouts
	_ "github.com/coredns/coredns/plugin/tls"         // DNS over TLS
	_ "github.com/coredns/coredns/plugin/transfer"    // outgoing zone transfers
	_ "github.com/coredns/coredns/plugin/tsig"        // TSIG
	_ "github.com/coredns/coredns/plugin/view"        // server blocks chosen per query
	_ "github.com/coredns/coredns/plugin/whoami"      // the client's address

	_ "github.com/hadns/hadns/plugin" // hadns
)
