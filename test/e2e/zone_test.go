package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// mainCorefile serves the two test zones. hadns is the only plugin that
// answers, so names outside its zones are refused by hadns itself.
const mainCorefile = `.:{{.Port}} {
    bind 127.0.0.1
    errors
    hadns e2e.test other.test {
        zone e2e.test.yaml
        zone other.test.yaml
        reload 200ms
    }
}
`

// Test zone facts the cases below depend on.
const (
	// negSOA is the SOA in the authority section of negative answers: its
	// TTL is min(SOA TTL 3600, minimum 120).
	negSOA      = "e2e.test. 120 IN SOA ns1.e2e.test. hostmaster.e2e.test. 2026112201 14400 3600 1209600 120"
	manyRecords = 36 // A records at many.e2e.test: > 512 bytes compressed, < 1232 uncompressed
	bigRecords  = 10 // TXT records of 200 bytes at big.e2e.test: > 1232 bytes
)

// mainZone is e2e.test. Its service's backends listen on port (see
// startBackends), which is also the service's port.
func mainZone(port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# The end-to-end test zone.
origin: e2e.test.
ttl: 3600
soa:
  mname: ns1.e2e.test.
  rname: hostmaster.e2e.test.
  serial: 2026112201
  refresh: 14400
  retry: 3600
  expire: 1209600
  minimum: 120
ns:
  - ns1
  - ns2.e2e.test.
records: |
  ns1           A      127.0.0.1
  ns2           A      127.0.0.2
  ns2           AAAA   ::2
  @             MX     10 mail
  mail          A      127.0.0.3
  @             TXT    "v=spf1 -all"
  static        A      127.0.0.30
  static        A      127.0.0.31
  alias         CNAME  static
  www           CNAME  api
  old           CNAME  www
  docs          CNAME  docs.example.org.
  dangling      CNAME  nothere
  tochild       CNAME  www.child
  *.wild        TXT    "wildcard"
  host.wild     A      127.0.0.20
  *.wc          CNAME  static
  host.lab.dc   A      127.0.0.10
  child         NS     ns1.child
  child         NS     ns.elsewhere.example.
  ns1.child     A      127.0.0.53
`)
	for i := 1; i <= manyRecords; i++ {
		fmt.Fprintf(&b, "  many          A      127.0.9.%d\n", i)
	}
	for i := 0; i < bigRecords; i++ {
		fmt.Fprintf(&b, "  big           TXT    \"%d%s\"\n", i, strings.Repeat("x", 199))
	}
	fmt.Fprintf(&b, `services:
  - name: api
    ttl: 10
    port: %d
    srv: [_http._tcp]
    check: {kind: http, path: /healthz}
    backends:
      - {address: 127.0.1.1, site: east}
      - {address: 127.0.1.2, site: east, weight: 5}
      - {address: 127.0.2.1, site: west}
`, port)
	return b.String()
}

// otherZone has an SOA TTL below its minimum: negative answers take the
// lower of the two.
const otherZone = `origin: other.test.
ttl: 600
soa:
  mname: ns1.e2e.test.
  rname: hostmaster.e2e.test.
  serial: 1
  ttl: 30
  minimum: 600
ns:
  - ns1.e2e.test.
records: |
  @   A   127.0.0.40
`

// startMain starts a server for mainCorefile and the two test zones.
func startMain(t *testing.T) *server {
	return startServer(t, mainCorefile, files{
		"e2e.test.yaml":   mainZone(backendPort),
		"other.test.yaml": otherZone,
	})
}

// Answers of the api service for a client in no site: the default order
// puts east first, and one healthy backend there is enough.
func apiA() []string {
	return []string{"api.e2e.test. 10 IN A 127.0.1.1", "api.e2e.test. 10 IN A 127.0.1.2"}
}

func apiSRV() []string {
	return []string{
		fmt.Sprintf("_http._tcp.api.e2e.test. 10 IN SRV 1 1 %d 127-0-1-1.api.e2e.test.", backendPort),
		fmt.Sprintf("_http._tcp.api.e2e.test. 10 IN SRV 1 5 %d 127-0-1-2.api.e2e.test.", backendPort),
		// Alone in its tier: weight 0 (RFC 2782).
		fmt.Sprintf("_http._tcp.api.e2e.test. 10 IN SRV 2 0 %d 127-0-2-1.api.e2e.test.", backendPort),
	}
}

func apiSRVGlue() []string {
	return []string{
		"127-0-1-1.api.e2e.test. 10 IN A 127.0.1.1",
		"127-0-1-2.api.e2e.test. 10 IN A 127.0.1.2",
		"127-0-2-1.api.e2e.test. 10 IN A 127.0.2.1",
	}
}

var (
	staticA    = []string{"static.e2e.test. 3600 IN A 127.0.0.30", "static.e2e.test. 3600 IN A 127.0.0.31"}
	apexNS     = []string{"e2e.test. 3600 IN NS ns1.e2e.test.", "e2e.test. 3600 IN NS ns2.e2e.test."}
	apexNSGlue = []string{"ns1.e2e.test. 3600 IN A 127.0.0.1", "ns2.e2e.test. 3600 IN A 127.0.0.2", "ns2.e2e.test. 3600 IN AAAA ::2"}
	childNS    = []string{"child.e2e.test. 3600 IN NS ns1.child.e2e.test.", "child.e2e.test. 3600 IN NS ns.elsewhere.example."}
	childGlue  = []string{"ns1.child.e2e.test. 3600 IN A 127.0.0.53"}
)

func concat(sets ...[]string) []string {
	var out []string
	for _, s := range sets {
		out = append(out, s...)
	}
	return out
}
