package hadns

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// dnameZone holds DNAMEs: into the zone, out of it, into a service, in a
// loop, and one whose target makes long names too long.
var dnameZone = `origin: example.test.
soa: {mname: ns1.example.test., rname: hostmaster.example.test., serial: 7, minimum: 60, ttl: 300}
ns: [ns1]
records: |
  ns1    A      192.0.2.53
  dn     300 DNAME  sub.example.test.
  sub    A      192.0.2.1
  a.sub  A      192.0.2.2
  c.sub  CNAME  a.sub
  ext    300 DNAME  example.org.
  svc    120 DNAME  example.test.
  loopa  DNAME  loopb.example.test.
  loopb  DNAME  loopa.example.test.
  long   DNAME  ` + strings.Repeat("l", 60) + "." + strings.Repeat("l", 60) + "." + strings.Repeat("l", 60) + `.example.test.
services:
  - name: api
    ttl: 10
    port: 8080
    srv: [_http._tcp]
    backends:
      - {address: 192.0.2.80, site: east}
`

const dnSOA = "example.test.\t60\tIN\tSOA\tns1.example.test. hostmaster.example.test. 7 3600 600 1209600 60"

// TestDNAME checks DNAME substitution (RFC 6672 3.2) against the answers NSD
// and Knot give for the same records: the DNAME, the CNAME synthesized with
// the DNAME's TTL, then the target's data; a chain that leaves the zone ends
// at the CNAME; a loop ends when it comes back; the DNAME is not applied at
// its own owner (2.3); a name made too long is YXDOMAIN with the DNAME (2.2).
func TestDNAME(t *testing.T) {
	h := newTestHandler(t, dnameZone)
	long := strings.Repeat("a", 20) + "." + strings.Repeat("a", 20) + "." + strings.Repeat("a", 20) + ".long.example.test."
	longDN := "long.example.test.\t3600\tIN\tDNAME\t" + strings.Repeat("l", 60) + "." + strings.Repeat("l", 60) + "." + strings.Repeat("l", 60) + ".example.test."
	cases := []struct {
		qname  string
		qtype  uint16
		rcode  int
		answer []string
		ns     []string
		extra  []string
	}{
		{"a.dn.example.test.", dns.TypeA, dns.RcodeSuccess, []string{
			"dn.example.test.\t300\tIN\tDNAME\tsub.example.test.",
			"a.dn.example.test.\t300\tIN\tCNAME\ta.sub.example.test.",
			"a.sub.example.test.\t3600\tIN\tA\t192.0.2.2"}, nil, nil},
		{"c.dn.example.test.", dns.TypeA, dns.RcodeSuccess, []string{
			"dn.example.test.\t300\tIN\tDNAME\tsub.example.test.",
			"c.dn.example.test.\t300\tIN\tCNAME\tc.sub.example.test.",
			"c.sub.example.test.\t3600\tIN\tCNAME\ta.sub.example.test.",
			"a.sub.example.test.\t3600\tIN\tA\t192.0.2.2"}, nil, nil},
		{"zz.dn.example.test.", dns.TypeA, dns.RcodeNameError, []string{
			"dn.example.test.\t300\tIN\tDNAME\tsub.example.test.",
			"zz.dn.example.test.\t300\tIN\tCNAME\tzz.sub.example.test."}, []string{dnSOA}, nil},
		{"a.dn.example.test.", dns.TypeCNAME, dns.RcodeSuccess, []string{
			"dn.example.test.\t300\tIN\tDNAME\tsub.example.test.",
			"a.dn.example.test.\t300\tIN\tCNAME\ta.sub.example.test."}, nil, nil},
		{"dn.example.test.", dns.TypeA, dns.RcodeSuccess, nil, []string{dnSOA}, nil},
		{"dn.example.test.", dns.TypeDNAME, dns.RcodeSuccess, []string{
			"dn.example.test.\t300\tIN\tDNAME\tsub.example.test."}, nil, nil},
		{"a.ext.example.test.", dns.TypeA, dns.RcodeSuccess, []string{
			"ext.example.test.\t300\tIN\tDNAME\texample.org.",
			"a.ext.example.test.\t300\tIN\tCNAME\ta.example.org."}, nil, nil},
		{"x.loopa.example.test.", dns.TypeA, dns.RcodeSuccess, []string{
			"loopa.example.test.\t3600\tIN\tDNAME\tloopb.example.test.",
			"x.loopa.example.test.\t3600\tIN\tCNAME\tx.loopb.example.test.",
			"loopb.example.test.\t3600\tIN\tDNAME\tloopa.example.test.",
			"x.loopb.example.test.\t3600\tIN\tCNAME\tx.loopa.example.test."}, nil, nil},
		{long, dns.TypeA, dns.RcodeYXDomain, []string{longDN}, nil, nil},
		{"api.svc.example.test.", dns.TypeA, dns.RcodeSuccess, []string{
			"svc.example.test.\t120\tIN\tDNAME\texample.test.",
			"api.svc.example.test.\t120\tIN\tCNAME\tapi.example.test.",
			"api.example.test.\t10\tIN\tA\t192.0.2.80"}, nil, nil},
		{"_http._tcp.api.svc.example.test.", dns.TypeSRV, dns.RcodeSuccess, []string{
			"svc.example.test.\t120\tIN\tDNAME\texample.test.",
			"_http._tcp.api.svc.example.test.\t120\tIN\tCNAME\t_http._tcp.api.example.test.",
			"_http._tcp.api.example.test.\t10\tIN\tSRV\t1 0 8080 192-0-2-80.api.example.test."},
			nil, []string{"192-0-2-80.api.example.test.\t10\tIN\tA\t192.0.2.80"}},
	}
	for _, tc := range cases {
		for _, w := range []dns.ResponseWriter{udpWriter(), tcpWriter()} {
			m := new(dns.Msg)
			m.SetQuestion(tc.qname, tc.qtype)
			resp := query(t, h, m, w)
			name := tc.qname + " " + dns.TypeToString[tc.qtype]
			if resp.Rcode != tc.rcode || !resp.Authoritative {
				t.Errorf("%s: rcode %s AA %v, want %s and AA", name, dns.RcodeToString[resp.Rcode], resp.Authoritative, dns.RcodeToString[tc.rcode])
			}
			sameRRs(t, name+" answer", resp.Answer, tc.answer, true)
			sameRRs(t, name+" authority", resp.Ns, tc.ns, false)
			sameRRs(t, name+" additional", withoutOPT(resp.Extra), tc.extra, false)
		}
	}
}

// sameRRs checks got against want, in order when ordered.
func sameRRs(t *testing.T, what string, got []dns.RR, want []string, ordered bool) {
	t.Helper()
	g := make([]string, len(got))
	for i, rr := range got {
		g[i] = rr.String()
	}
	w := slices.Clone(want)
	if !ordered {
		slices.Sort(g)
		slices.Sort(w)
	}
	if !slices.Equal(g, w) {
		t.Errorf("%s:\n got  %q\n want %q", what, g, w)
	}
}

// TestDNAMEZoneErrors: a second DNAME at a name, and names below a DNAME
// (which never get answered: RFC 6672 2.3), are errors with their line.
func TestDNAMEZoneErrors(t *testing.T) {
	zone := `origin: example.test.
soa: {mname: ns1.example.test., rname: hostmaster.example.test.}
ns: [ns1]
records: |
  ns1    A      192.0.2.53
  dn     DNAME  sub.example.test.
  dn     DNAME  other.example.test.
  x.dn   A      192.0.2.1
`
	path := filepath.Join(t.TempDir(), "zone.yaml")
	if err := os.WriteFile(path, []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := load(&config{origins: []string{"."}, files: []string{path}})
	if err == nil {
		t.Fatal("zone loaded")
	}
	for _, want := range []string{"zone.yaml:7: records: dn.example.test. has more than one DNAME", "zone.yaml:8: records: x.dn.example.test. is below the DNAME at dn.example.test."} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
