package hadns

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestZoneFileErrorsNameTheLine(t *testing.T) {
	const bad = `origin: example.test.
soa:
  mname: ns1
  rname: hostmaster
  refesh: 10
ns: [ns1]
records: |
  ns1   A     192.0.2.1
  www   A     not-an-address
  mail  MX    10 mail
  outside.example.org.  A  192.0.2.2
  www2  CNAME ns1
  www2  A     192.0.2.3
services:
  - name: api
    backend: []
  - name: web
    on_all_down: maybe
    backends:
      - {address: 192.0.2.300, site: east}
      - {address: 192.0.2.9}
      - {address: 192.0.2.10, site: east, weight: 0}
`
	_, err := parseZoneFile("z.yaml", []byte(bad), time.Unix(1, 0))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want an ErrorList, got %v", err)
	}
	want := []struct {
		line int
		has  string
	}{
		{5, `unknown key "refesh" (did you mean "refresh"?)`},
		{9, "records: "},
		{11, "outside the zone"},
		{12, "CNAME and other data"},
		{16, `unknown key "backend" (did you mean "backends"?)`},
		{15, "has no backends"},
		{18, "on_all_down"},
		{20, "not an IPv4 or IPv6 address"},
		{21, "needs a site"},
		{22, "weight must be 1 to 65535"},
	}
	for _, w := range want {
		found := false
		for _, e := range list {
			if e.File == "z.yaml" && e.Line == w.line && strings.Contains(e.Msg, w.has) {
				found = true
			}
		}
		if !found {
			t.Errorf("no error at z.yaml:%d containing %q; got:\n%v", w.line, w.has, err)
		}
	}
	// With the keys fixed, the semantic errors remain and the key ones go.
	fixed := strings.Replace(strings.Replace(bad, "refesh", "refresh", 1), "backend: []", "backends: []", 1)
	_, err = parseZoneFile("z.yaml", []byte(fixed), time.Unix(1, 0))
	want = []struct {
		line int
		has  string
	}{
		{9, "records: "},
		{11, "outside the zone"},
		{12, "CNAME and other data"},
		{15, "has no backends"},
		{18, "on_all_down"},
		{20, "not an IPv4 or IPv6 address"},
		{21, "needs a site"},
		{22, "weight must be 1 to 65535"},
	}
	list = nil
	errors.As(err, &list)
	for _, w := range want {
		found := false
		for _, e := range list {
			if e.Line == w.line && strings.Contains(e.Msg, w.has) {
				found = true
			}
		}
		if !found {
			t.Errorf("no error at z.yaml:%d containing %q; got:\n%v", w.line, w.has, err)
		}
	}
	if strings.Contains(err.Error(), "unknown key") {
		t.Errorf("fixed keys still reported: %v", err)
	}
	if !strings.Contains(err.Error(), "z.yaml:9: ") {
		t.Errorf("error text lacks file:line: %v", err)
	}
}

func TestZoneFileRejects(t *testing.T) {
	base := "origin: example.test.\nsoa: {mname: ns1, rname: h}\nns: [ns1]\nrecords: |\n  ns1 A 192.0.2.1\n"
	tests := []struct {
		name, text, want string
	}{
		{"empty", "", "empty zone file"},
		{"not a mapping", "- a\n- b\n", "is a mapping"},
		{"bad yaml", "origin: [\n", "z.yaml:"},
		{"no origin", "soa: {mname: a, rname: b}\n", "origin is required"},
		{"no soa", "origin: example.test.\nns: [a.example.org.]\n", "soa is required"},
		{"no ns", "origin: example.test.\nsoa: {mname: a, rname: b}\n", "ns is required"},
		{"in-zone ns without address", "origin: example.test.\nsoa: {mname: ns1, rname: h}\nns: [ns1]\n", "has no A or AAAA"},
		{"soa in records", base + "  @ SOA a b 1 2 3 4 5\n", "SOA is set by the soa key"},
		{"dnssec in records", base + "  @ NSEC a A\n", "does not sign zones"},
		{"ttl mismatch", base + "  x 10 A 192.0.2.1\n  x 20 A 192.0.2.2\n", "an RRset has one TTL"},
		{"cname at apex", base + "  @ CNAME x.example.org.\n", "CNAME at the zone apex"},
		{"include", base + "  $INCLUDE /etc/passwd\n", "not supported"},
		{"service clashes with record", base + "  api A 192.0.2.9\nservices:\n  - {name: api, backends: [{address: 192.0.2.1, site: a}]}\n", "clashes with the static A record on line 6"},
		{"duplicate service", base + "services:\n  - {name: api, backends: [{address: 192.0.2.1, site: a}]}\n  - {name: api, backends: [{address: 192.0.2.1, site: a}]}\n", "already used"},
		{"duplicate backend", base + "services:\n  - {name: api, backends: [{address: 192.0.2.1, site: a}, {address: 192.0.2.1, site: b}]}\n", "listed twice"},
		{"srv without port", base + "services:\n  - {name: api, srv: [_http._tcp], backends: [{address: 192.0.2.1, site: a}]}\n", "needs a port for SRV"},
		{"srv owner form", base + "services:\n  - {name: api, port: 80, srv: [http], backends: [{address: 192.0.2.1, site: a}]}\n", "start with _"},
		{"service below delegation", base + "  sub NS ns.example.org.\nservices:\n  - {name: x.sub, backends: [{address: 192.0.2.1, site: a}]}\n", "below the delegation"},
		{"degraded above ttl", base + "services:\n  - {name: api, ttl: 5, degraded_ttl: 9, backends: [{address: 192.0.2.1, site: a}]}\n", "degraded_ttl 9 is above ttl 5"},
		{"wrong type", "origin: example.test.\nttl: lots\n", "z.yaml:2: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseZoneFile("z.yaml", []byte(tc.text), time.Unix(1, 0))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestZoneFileDefaults(t *testing.T) {
	z, err := parseZoneFile("z.yaml", []byte(`origin: Example.TEST
soa: {mname: ns1, rname: hostmaster}
ns: [ns1]
records: |
  ns1 A 192.0.2.1
  ; a comment line
  txt TXT "semi;colon" ; and a comment
  multi ( TXT
     "a" "b" )
  indented A 192.0.2.7
      A 192.0.2.8
services:
  - name: api
    srv: [{name: _h._tcp, port: 81}]
    backends: [{address: "::ffff:192.0.2.5", site: a, port: 80}]
`), time.Unix(1234, 0))
	if err != nil {
		t.Fatal(err)
	}
	if z.origin != "example.test." {
		t.Errorf("origin %q, want lowercase fqdn", z.origin)
	}
	if z.soa.Serial != 1234 || z.soa.Refresh != defaultRefresh || z.soa.Minttl != defaultMinimum || z.soa.Hdr.Ttl != defaultZoneTTL {
		t.Errorf("SOA defaults wrong: %v", z.soa)
	}
	if z.soa.Mbox != "hostmaster.example.test." {
		t.Errorf("rname %q not made absolute", z.soa.Mbox)
	}
	if got := len(z.nodes["indented.example.test."].rrsets[1]); got != 2 {
		t.Errorf("a line starting with blank space should continue the owner: %d A records", got)
	}
	if got := len(z.nodes["multi.example.test."].rrsets[16]); got != 1 {
		t.Errorf("parenthesised record not joined: %d", got)
	}
	s := z.services[0]
	if s.ttl != defaultServiceTTL || s.degradedTTL != defaultServiceTTL/2 || s.maxAnswers != defaultMaxAnswers || s.minHealthy != 1 || s.onAllDown != failOpen {
		t.Errorf("service defaults wrong: %+v", s)
	}
	if b := s.backends[0]; !b.addr.Is4() || b.weight != 1 || b.target != "192-0-2-5.api.example.test." {
		t.Errorf("backend: mapped address should unmap, weight default 1, generated target: %+v", b)
	}
	if s.srv[0].port != 81 {
		t.Errorf("srv port %d", s.srv[0].port)
	}
}
