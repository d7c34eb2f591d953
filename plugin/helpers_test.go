package hadns

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/sites"
	"github.com/hadns/hadns/internal/zone"
	"github.com/hadns/hadns/internal/zone/zonetest"
)

// selService parses zonetest.SelZone, changed by edit if not nil, and
// returns its service and the orders of its three sites (east, west and
// north, each east and west the other's fallback).
func selService(t *testing.T, edit func(string) string) (*zone.Service, []sites.Order) {
	t.Helper()
	text := zonetest.SelZone
	if edit != nil {
		text = edit(text)
	}
	z, err := zone.Parse("z.yaml", []byte(text), time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	return z.Services()[0], zonetest.SelOrders(t)
}

// health is the health of s's backends: set's by address, Healthy for
// the rest.
func health(s *zone.Service, set map[string]zone.Health) []zone.Health {
	h := make([]zone.Health, len(s.Backends()))
	for i, b := range s.Backends() {
		if v, ok := set[b.Addr().String()]; ok {
			h[i] = v
		}
	}
	return h
}

// testZone is the zone the authoritative-semantics tests run against.
const testZone = `origin: example.test.
ttl: 3600
soa:
  mname: ns1.example.test.
  rname: hostmaster.example.test.
  serial: 7
  minimum: 60
  ttl: 300
ns: [ns1, ns2.example.test.]
records: |
  ns1           A      192.0.2.53
  ns2           AAAA   2001:db8::53
  @             MX     10 mail
  mail          A      192.0.2.25
  @             TXT    "apex"
  www           CNAME  api
  old           CNAME  www
  out           CNAME  elsewhere.example.org.
  tochild       CNAME  www.child
  dangling      CNAME  missing
  loop1         CNAME  loop2
  loop2         CNAME  loop1
  *.wild        TXT    "wild"
  *.wild        A      192.0.2.99
  exists.wild   TXT    "exists"
  *.cn          CNAME  mail
  host.lab.dc   A      192.0.2.10
  child         NS     ns1.child
  child         NS     ns.elsewhere.example.org.
  ns1.child     A      192.0.2.153
  big           TXT    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
  big           TXT    "1123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
  big           TXT    "2123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
  big           TXT    "3123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
  big           TXT    "4123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
  big           TXT    "5123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
services:
  - name: api
    ttl: 10
    port: 8080
    srv: [_http._tcp]
    backends:
      - {address: 192.0.2.1, site: east}
      - {address: 2001:db8::1, site: east}
`

// newTestHandler loads zone text (and sites) into a ready handler.
func newTestHandler(t testing.TB, zone string, siteCfg ...sites.Config) *Hadns {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "zone.yaml")
	if err := os.WriteFile(path, []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config{origins: []string{"."}, files: []string{path}, sites: siteCfg}
	snap, err := load(cfg)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	h := &Hadns{}
	newEngine(h, cfg, snap, newCheckerPool(healthcheck.Options{}))
	h.ready.Store(true)
	return h
}

// query sends m to h, through the writers a CoreDNS server puts under a
// plugin (its ScrubWriter, and a recorder as log and prometheus add), and
// returns the reply as the client receives it: unpacked from the bytes.
func query(t testing.TB, h *Hadns, m *dns.Msg, w dns.ResponseWriter) *dns.Msg {
	t.Helper()
	cw := &captureWriter{ResponseWriter: w}
	rec := dnstest.NewRecorder(request.NewScrubWriter(m, cw))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// As a plugin before us would call us: through CoreDNS's writer
	// between plugins.
	if _, err := plugin.NextOrFailure("test", h, ctx, rec, m); err != nil {
		t.Fatalf("ServeDNS: %v", err)
	}
	if cw.wire == nil {
		t.Fatalf("no reply written for %v", m.Question)
	}
	resp := new(dns.Msg)
	if err := resp.Unpack(cw.wire); err != nil {
		t.Fatalf("reply does not unpack: %v", err)
	}
	if rec.Msg == nil || rec.Rcode != resp.Rcode {
		t.Fatalf("recorder saw %v, rcode %d; the reply has rcode %d", rec.Msg, rec.Rcode, resp.Rcode)
	}
	return resp
}

// captureWriter keeps the reply's bytes, packing a message as the server
// would.
type captureWriter struct {
	dns.ResponseWriter
	wire []byte
	msgs int // replies written as messages rather than bytes
}

func (c *captureWriter) WriteMsg(m *dns.Msg) error {
	c.msgs++
	b, err := m.Pack()
	if err != nil {
		return err
	}
	c.wire = b
	return nil
}

func (c *captureWriter) Write(b []byte) (int, error) {
	c.wire = append([]byte(nil), b...)
	return len(b), nil
}

func udpWriter() dns.ResponseWriter { return &test.ResponseWriter{} }
func tcpWriter() dns.ResponseWriter { return &test.ResponseWriter{TCP: true} }
