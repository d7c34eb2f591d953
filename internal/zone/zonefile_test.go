package zone

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/fileerr"
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
	_, err := Parse("z.yaml", []byte(bad), time.Unix(1, 0))
	var list fileerr.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want an fileerr.ErrorList, got %v", err)
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
	_, err = Parse("z.yaml", []byte(fixed), time.Unix(1, 0))
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
			_, err := Parse("z.yaml", []byte(tc.text), time.Unix(1, 0))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestZoneFileDefaults(t *testing.T) {
	z, err := Parse("z.yaml", []byte(`origin: Example.TEST
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
	if got := len(z.nodes["indented.example.test."].rrsets.get(1)); got != 2 {
		t.Errorf("a line starting with blank space should continue the owner: %d A records", got)
	}
	if got := len(z.nodes["multi.example.test."].rrsets.get(16)); got != 1 {
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

// A value of the wrong type is reported with its key and line, and does not
// hide the file's other problems: the service and backend that hold one are
// still checked in full (yaml.v3 alone drops a list element whose decoding
// failed, and names no key).
func TestZoneFileTypeErrorsDoNotStopCollection(t *testing.T) {
	const src = `origin: example.test.
ttl: -3
soa: {mname: ns1, rname: h, refresh: soon}
ns: ns1
records: |
  ns1 A 192.0.2.1
services:
  - name: api
    ttl: -3
    port: 99999
    max_answers: lots
    failover_budget: 5
    srv: [{name: _x._tcp, port: -1}]
    on_all_down: maybe
    check: {interval: lots, kind: tcp}
    backends:
      - {address: 192.0.2.300, site: a, port: -1}
      - {address: 192.0.2.2, site: a, weight: many}
      - {address: 192.0.2.3, weight: 0, site: b}
  - just-a-name
  - name: web
    backends: lots
`
	_, err := Parse("z.yaml", []byte(src), time.Unix(1, 0))
	var list fileerr.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want an fileerr.ErrorList, got %v", err)
	}
	want := []struct {
		line int
		has  string
	}{
		{2, `ttl: "-3" is not a TTL`},
		{3, `refresh: "soon" is not a TTL`},
		{4, `ns: want a list, not "ns1"`},
		{9, `ttl: "-3" is not a TTL`},
		{10, `port: "99999" is not a whole number from 0 to 65535`},
		{11, `max_answers: "lots" is not a whole number`},
		{12, `failover_budget: "5" is not a duration`},
		{13, `port: "-1" is not a whole number from 0 to 65535`},
		{14, `on_all_down "maybe"`},
		{15, `interval: "lots" is not a duration`},
		{17, `port: "-1" is not a whole number`},
		{17, `"192.0.2.300" is not an IPv4 or IPv6 address`},
		{18, `weight: "many" is not a whole number from 0 to 65535`},
		{19, `weight must be 1 to 65535`},
		{20, `services: want a mapping, not "just-a-name"`},
		{22, `backends: want a list, not "lots"`},
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
	// A key of the wrong type is not reported a second time as missing.
	for _, e := range list {
		if strings.Contains(e.Msg, "ns is required") || strings.Contains(e.Msg, "soa is required") || strings.Contains(e.Msg, "cannot unmarshal") {
			t.Errorf("follow-on or raw decoder error: %v", e)
		}
	}
}

// TTLs take the units BIND and miekg/dns's zone parser take, and none is
// above 2^31-1: RFC 2181 §8 has resolvers read such a TTL as 0.
func TestZoneFileTTLs(t *testing.T) {
	const base = "origin: example.test.\nsoa: {mname: ns1, rname: h%s}\nns: [ns1]\n%srecords: |\n  ns1 A 192.0.2.1\n%s"
	ok := fmt.Sprintf(base, ", minimum: 5m, ttl: 1H, refresh: 1d, retry: 90s, expire: 2w", "ttl: 1h30m\n",
		"  $TTL 2h\n  a A 192.0.2.2\n  b 1d A 192.0.2.3\n  $ttl 2147483647\n  c A 192.0.2.4\n"+
			"services:\n  - {name: api, port: 80, ttl: 1m, degraded_ttl: 30s, backends: [{address: 192.0.2.9, site: a}]}\n")
	z, err := Parse("z.yaml", []byte(ok), time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	soa := z.soa
	if soa.Hdr.Ttl != 3600 || soa.Minttl != 300 || soa.Refresh != 86400 || soa.Retry != 90 || soa.Expire != 1209600 {
		t.Errorf("soa %v: want ttl 3600, minimum 300, refresh 86400, retry 90, expire 1209600", soa)
	}
	for name, want := range map[string]uint32{"ns1.example.test.": 5400, "a.example.test.": 7200, "b.example.test.": 86400, "c.example.test.": 2147483647} {
		rrs := z.nodes[name].rrsets.get(dns.TypeA)
		if len(rrs) != 1 || rrs[0].Header().Ttl != want {
			t.Errorf("%s: %v, want TTL %d", name, rrs, want)
		}
	}
	if len(z.services) != 1 || z.services[0].ttl != 60 || z.services[0].degradedTTL != 30 {
		t.Errorf("services %+v: want one with ttl 60, degraded_ttl 30", z.services)
	}

	tests := []struct {
		name, text, want string
	}{
		{"zone ttl", fmt.Sprintf(base, "", "ttl: 2147483648\n", ""), `z.yaml:4: ttl: "2147483648" is above 2147483647`},
		{"zone ttl units", fmt.Sprintf(base, "", "ttl: 3551w\n", ""), `z.yaml:4: ttl: "3551w" is above 2147483647`},
		{"zone ttl bad unit", fmt.Sprintf(base, "", "ttl: 1y\n", ""), `z.yaml:4: ttl: "1y" is not a TTL`},
		{"zone ttl unit alone", fmt.Sprintf(base, "", "ttl: h\n", ""), `z.yaml:4: ttl: "h" is not a TTL`},
		{"soa minimum", fmt.Sprintf(base, ", minimum: 4294967295", "", ""), `z.yaml:2: minimum: "4294967295" is above`},
		{"soa ttl", fmt.Sprintf(base, ", ttl: 4294967295", "", ""), `z.yaml:2: ttl: "4294967295" is above`},
		{"$TTL", fmt.Sprintf(base, "", "", "  $TTL 2147483648\n"), `z.yaml:6: records: $TTL "2147483648" is above 2147483647`},
		{"$TTL words", fmt.Sprintf(base, "", "", "  $TTL one hour\n"), `z.yaml:6: records: $TTL takes one TTL`},
		{"record ttl", fmt.Sprintf(base, "", "", "  big 4294967295 A 192.0.2.5\n"), `z.yaml:6: records: TTL 4294967295 is above 2147483647`},
		{"service ttl", fmt.Sprintf(base, "", "", "services:\n  - name: api\n    ttl: 2147483648\n    backends: [{address: 192.0.2.9, site: a}]\n"), `z.yaml:8: ttl: "2147483648" is above`},
		{"degraded ttl", fmt.Sprintf(base, "", "", "services:\n  - name: api\n    degraded_ttl: 9999999999\n    backends: [{address: 192.0.2.9, site: a}]\n"), `z.yaml:8: degraded_ttl: "9999999999" is above`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("z.yaml", []byte(tc.text), time.Unix(1, 0))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// parseTTL reads TTLs as BIND and miekg/dns's zone parser do, and stops at
// 2^31-1 (RFC 2181 §8) without overflowing on the way.
func TestParseTTL(t *testing.T) {
	good := map[string]uint32{
		"0": 0, "90": 90, "1h": 3600, "1H": 3600, "1h30m": 5400, "1h30": 3630, "2w": 1209600,
		"1d1h1m1s": 90061, "2147483647": 2147483647, "3550w": 2147040000,
	}
	for in, want := range good {
		if got, err := parseTTL(in); err != nil || got != want {
			t.Errorf("parseTTL(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "h", "1y", "-1", "1.5h", "1 h", "2147483648", "3551w", "99999999999999999999", "4294967296s"} {
		if got, err := parseTTL(in); err == nil {
			t.Errorf("parseTTL(%q) = %d, want an error", in, got)
		}
	}
}
