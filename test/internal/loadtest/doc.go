// Package loadtest holds what the load programs under test/ share: running
// dnsperf pinned to a CPU and reading its report, starting server processes
// pinned to a CPU, free loopback ports, loopback listeners for health checks,
// and the statistics (quantiles, medians) their tables print.
package loadtest
