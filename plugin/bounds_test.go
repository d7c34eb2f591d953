package hadns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hadns/hadns/internal/fileerr"
	"github.com/hadns/hadns/internal/sites"
	"github.com/hadns/hadns/internal/zone"
)

// zoneErrAt parses text and returns the error at line that contains has, or
// fails the test.
func zoneErrAt(t *testing.T, text string, line int, has string) {
	t.Helper()
	_, err := zone.Parse("z.yaml", []byte(text), time.Unix(1, 0))
	var list fileerr.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want an error at line %d with %q, got %v", line, has, err)
	}
	for _, e := range list {
		if e.File == "z.yaml" && e.Line == line && strings.Contains(e.Msg, has) {
			return
		}
	}
	t.Fatalf("want an error at z.yaml:%d with %q, got %v", line, has, list)
}

const boundsHead = `origin: example.test.
soa: {mname: ns1, rname: h}
ns: [ns1]
records: |
  ns1 A 192.0.2.53
services:
  - name: api
    port: 80
`

func manyBackends(n int) string {
	var b strings.Builder
	b.WriteString("    backends:\n")
	for i := range n {
		fmt.Fprintf(&b, "      - {address: 10.%d.%d.%d, site: east}\n", i>>16&255, i>>8&255, i&255)
	}
	return b.String()
}

// max_answers is capped, so rotations (one per backend in the pool, each
// max_answers long) stay linear in backends.
func TestMaxAnswersCapped(t *testing.T) {
	zoneErrAt(t, boundsHead+"    max_answers: 65\n"+manyBackends(2), 9, "max_answers 65 is above 64")
	if _, err := zone.Parse("z.yaml", []byte(boundsHead+"    max_answers: 64\n"+manyBackends(2)), time.Unix(1, 0)); err != nil {
		t.Fatalf("max_answers 64 refused: %v", err)
	}
}

// An SRV answer holds every backend; one that cannot fit a DNS message
// (65535 bytes, RFC 1035 4.2.2) could never be sent, even over TCP, so the
// zone is refused at load.
func TestSRVTooBigRefusedAtLoad(t *testing.T) {
	zoneErrAt(t, boundsHead+"    srv: [_http._tcp]\n"+manyBackends(2000), 7, "more than the 65535 a DNS message can hold")
	if _, err := zone.Parse("z.yaml", []byte(boundsHead+"    srv: [_http._tcp]\n"+manyBackends(500)), time.Unix(1, 0)); err != nil {
		t.Fatalf("500 backends refused: %v", err)
	}
}

// The rotations of an A answer share one ring: pool + max_answers records,
// not pool × max_answers.
func TestRotationsShareOneRing(t *testing.T) {
	z, err := zone.Parse("z.yaml", []byte(boundsHead+"    max_answers: 64\n"+manyBackends(2000)), time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	s := z.Services()[0]
	// Every backend healthy, in the one site: the pool is all of them.
	set := zone.ComputeAnswers(s, make([]zone.Health, len(s.Backends())), []sites.Order{{Site: "east", Sites: []string{"east"}}})
	rots := set.For(0, dns.TypeA, 0).Rotations()
	if len(rots) != 2000 {
		t.Fatalf("%d rotations, want one per backend", len(rots))
	}
	for r, rot := range rots {
		if len(rot) != 64 || cap(rot) != 64 {
			t.Fatalf("rotation %d: len %d cap %d, want 64 and 64", r, len(rot), cap(rot))
		}
		if rot[0] != rots[r][0] || rot[63].(*dns.A).A.String() != s.Backends()[(r+63)%2000].Addr().String() {
			t.Fatalf("rotation %d does not start at backend %d", r, r)
		}
		if r > 0 && &rots[r-1][1] != &rot[0] {
			t.Fatalf("rotation %d has records of its own: rotations cost backends × max_answers", r)
		}
	}
}

// A reply that cannot be sent (a static RRset over 64 KiB asked over TCP)
// is counted and answered SERVFAIL, not dropped in silence.
func TestTooBigReplyIsCounted(t *testing.T) {
	var b strings.Builder
	b.WriteString("origin: example.test.\nsoa: {mname: ns1, rname: h}\nns: [ns1]\nrecords: |\n  ns1 A 192.0.2.53\n")
	for i := range 300 {
		fmt.Fprintf(&b, "  big TXT \"%03d%s\"\n", i, strings.Repeat("x", 240))
	}
	h := newTestHandler(t, b.String())
	m := new(dns.Msg)
	m.SetQuestion("big.example.test.", dns.TypeTXT)
	for _, w := range []struct {
		name string
		w    func(*packingWriter) dns.ResponseWriter
	}{
		{"server's writer", func(p *packingWriter) dns.ResponseWriter { return p }},
		{"behind ScrubWriter", func(p *packingWriter) dns.ResponseWriter { return request.NewScrubWriter(m, p) }},
	} {
		before := counterValue(t, unsentAnswers.WithLabelValues(unsentTooBig))
		pw := &packingWriter{}
		pw.TCP = true
		if _, err := h.ServeDNS(context.Background(), w.w(pw), m); err != nil {
			t.Fatal(err)
		}
		if pw.got == nil || pw.got.Rcode != dns.RcodeServerFailure {
			t.Errorf("%s: reply %v, want SERVFAIL for a reply that cannot be packed", w.name, pw.got)
		}
		if got := counterValue(t, unsentAnswers.WithLabelValues(unsentTooBig)) - before; got != 1 {
			t.Errorf("%s: unsent_answers_total{reason=too_big} grew by %v, want 1", w.name, got)
		}
	}
}

// packingWriter packs what it is given and refuses what a TCP connection
// cannot carry, as a server does, and keeps the last reply it took.
type packingWriter struct {
	test.ResponseWriter
	got *dns.Msg
}

func (p *packingWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = p.Write(b)
	return err
}

func (p *packingWriter) Write(b []byte) (int, error) {
	if len(b) > dns.MaxMsgSize {
		return 0, errors.New("dns: message too large") // as miekg/dns's TCP writer
	}
	p.got = new(dns.Msg)
	return len(b), p.got.Unpack(b)
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// answerBytes, what `hadns check` reports, is within a factor of two of
// what the answers really take.
func TestAnswerBytesEstimate(t *testing.T) {
	text := boundsHead + "    max_answers: 64\n    srv: [_http._tcp]\n" + manyBackends(600)
	dir := t.TempDir()
	path := dir + "/z.yaml"
	writeTestFile(t, path, text)
	cfg := &config{origins: []string{"."}, files: []string{path}}
	snap, err := load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	est := answerBytes(snap)
	s := snap.zones["example.test."].Services()[0]
	health := make([]zone.Health, len(s.Backends()))
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	set := zone.ComputeAnswers(s, health, snap.sites.Orders())
	runtime.GC()
	runtime.ReadMemStats(&ms)
	used := int64(ms.HeapAlloc - before)
	runtime.KeepAlive(set)
	t.Logf("estimate %d bytes, measured %d", est, used)
	if est < used/2 || est > used*2 {
		t.Errorf("estimate %d bytes, measured %d: not within a factor of two", est, used)
	}
}

func writeTestFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Names and addresses that cannot work are refused at load with their line.
func TestRefusedAtLoad(t *testing.T) {
	one := "    backends:\n      - {address: 10.0.0.1, site: east}\n"
	for _, tc := range []struct {
		name string
		text string
		line int
		has  string
	}{
		// Answers would be owned by *.wsvc, which resolvers drop (RFC 4592
		// synthesis is for static records).
		{"wildcard service", strings.Replace(boundsHead, "name: api", "name: \"*.wsvc\"", 1) + one, 7, "wildcard service names are not supported"},
		{"wildcard srv owner", boundsHead + "    srv: [\"_x.*\"]\n" + one, 9, "wildcard names are not supported"},
		{"unspecified v4", boundsHead + "    backends:\n      - {address: 0.0.0.0, site: east}\n", 10, "unspecified"},
		{"unspecified v6", boundsHead + "    backends:\n      - {address: \"::\", site: east}\n", 10, "unspecified"},
		{"broadcast", boundsHead + "    backends:\n      - {address: 255.255.255.255, site: east}\n", 10, "broadcast"},
		{"multicast v4", boundsHead + "    backends:\n      - {address: 224.0.0.1, site: east}\n", 10, "multicast"},
		{"multicast v6", boundsHead + "    backends:\n      - {address: \"ff02::1\", site: east}\n", 10, "multicast"},
		{"interval", boundsHead + "    check: {kind: tcp, interval: 1ms, timeout: 500us}\n" + one, 9, "interval 1ms is below the minimum 100ms"},
		{"fast_interval", boundsHead + "    check:\n      kind: tcp\n      fast_interval: 50ms\n" + one, 11, "fast_interval 50ms is below the minimum 100ms"},
	} {
		t.Run(tc.name, func(t *testing.T) { zoneErrAt(t, tc.text, tc.line, tc.has) })
	}
}

// Answer counters are made on an answer's first query and counted from
// then on; a service a reload removed does not get them back from a late
// query.
func TestAnswerCountersLazy(t *testing.T) {
	h := newTestHandler(t, strings.ReplaceAll(testZone, "example.test", "lazy.test"))
	labels := map[string]string{"service": "api.lazy.test.", "client_site": "default"}
	if hasSeries(t, answers, labels) {
		t.Fatal("an answers_total series before any query")
	}
	m := new(dns.Msg)
	m.SetQuestion("api.lazy.test.", dns.TypeA)
	for range 2 {
		query(t, h, m, udpWriter())
	}
	c, err := answers.GetMetricWithLabelValues("api.lazy.test.", "default", "east")
	if err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, c); got != 2 {
		t.Errorf("answers_total after two queries: %v, want 2", got)
	}
	// The service is removed: a query on the old snapshot leaves no series.
	s := h.snap.Load().zones["lazy.test."].Services()[0]
	s.Retire()
	answers.DeleteLabelValues("api.lazy.test.", "default", "east")
	m.SetQuestion("api.lazy.test.", dns.TypeAAAA)
	query(t, h, m, udpWriter())
	if hasSeries(t, answers, labels) {
		t.Error("a query on a removed service's answers made its series again")
	}
}

// Generated SRV target names exist only for services with SRV owners: they
// are SRV targets, and a name per backend of every other service would cost
// memory for nothing.
func TestGeneratedNamesOnlyForSRV(t *testing.T) {
	one := "    backends:\n      - {address: 10.0.0.1, site: east}\n"
	for _, tc := range []struct {
		srv  string
		want bool
	}{{"", false}, {"    srv: [_http._tcp]\n", true}} {
		z, err := zone.Parse("z.yaml", []byte(boundsHead+tc.srv+one), time.Unix(1, 0))
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(z.Names(), "10-0-0-1.api.example.test."); got != tc.want {
			t.Errorf("srv %q: generated name present %v, want %v", tc.srv, got, tc.want)
		}
	}
}
