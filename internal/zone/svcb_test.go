package zone

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/fileerr"
	"github.com/hadns/hadns/internal/zone/zonetest"
)

// The records a zone file declares, as hadns builds them: owners, targets,
// parameters in key order, AliasMode as static records.
func TestSVCBZoneFile(t *testing.T) {
	z, err := Parse("z.yaml", []byte(zonetest.SVCBBase+`    https:
      alpn: [h2, http/1.1]
      port: 8443
      params: {ech: AEX+DQBB, mandatory: "alpn,port", key65000: "a b"}
    svcb:
      - {name: _8443._foo, alpn: [foo], no_default_alpn: true}
      - {name: _http._tcp, alpn: [h3]}
      - {name: _dns, alias: dns.example.org.}
      - {name: _gone, alias: .}
      - {name: _rel, alias: other}
`), time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	s := z.services[0]
	var got []string
	for _, r := range s.svcb {
		got = append(got, r.record(1, 10, nil, nil).String())
	}
	want := []string{
		`api.example.test.	10	IN	HTTPS	1 . mandatory="alpn,port" alpn="h2,http/1.1" port="8443" ech="AEX+DQBB" key65000="a\ b"`,
		`_8443._foo.api.example.test.	10	IN	SVCB	1 api.example.test. alpn="foo" no-default-alpn=""`,
		`_http._tcp.api.example.test.	10	IN	SVCB	1 api.example.test. alpn="h3"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ServiceMode records:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for owner, want := range map[string]string{
		"_dns.api.example.test.":  "_dns.api.example.test.\t10\tIN\tSVCB\t0 dns.example.org.",
		"_gone.api.example.test.": "_gone.api.example.test.\t10\tIN\tSVCB\t0 .",
		"_rel.api.example.test.":  "_rel.api.example.test.\t10\tIN\tSVCB\t0 other.example.test.",
	} {
		n := z.nodes[owner]
		if n == nil || len(n.rrsets.get(dns.TypeSVCB)) != 1 || n.rrsets.get(dns.TypeSVCB)[0].String() != want {
			t.Errorf("%s: static SVCB %v, want %s", owner, n, want)
		}
	}
	// Every owner exists and is looked up; the SRV owner keeps its SRV.
	for _, k := range []svcbKey{{"api.example.test.", dns.TypeHTTPS}, {"_8443._foo.api.example.test.", dns.TypeSVCB}, {"_http._tcp.api.example.test.", dns.TypeSVCB}} {
		if _, ok := z.svcb[k]; !ok {
			t.Errorf("%v not answered from health", k)
		}
	}
	if n := z.nodes["_http._tcp.api.example.test."]; n.srvOwner() != s {
		t.Error("the SRV owner lost its SRV answer")
	}
	if _, ok := z.nodes["_foo.api.example.test."]; !ok {
		t.Error("empty non-terminal _foo.api.example.test. missing")
	}
}

// Every mistake in an https: or svcb: key is reported with its file and
// line, all at once, and the keys are strict.
func TestSVCBZoneFileErrorsNameTheLine(t *testing.T) {
	text := zonetest.SVCBBase + `    https:
      alpn: [h2]
      ipv4hint: 192.0.2.1
    svcb:
      - {name: foo, alpn: [x]}
      - name: _a
        alias: x.example.org.
        alpn: [h2]
      - name: _b
        no_default_alpn: true
      - name: _c
        params: {ipv6hint: "2001:db8::9"}
      - name: _d
        params: {mandatory: ech}
      - name: _e
        params: {ech: "not base64!"}
      - name: _f
        params: {bogus: x}
      - name: _g
        params: {port: 80}
      - {name: _b, alpn: [y]}
      - name: _h
        port: 0
      - name: _i
        params: {mandatory: ipv4hint}
      - x
      - name: _j
        alpn: h2
`
	_, err := Parse("z.yaml", []byte(text), time.Unix(1, 0))
	var list fileerr.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want a fileerr.ErrorList, got %v", err)
	}
	want := []struct {
		line int
		has  string
	}{
		{16, `unknown key "ipv4hint"`},
		{18, `svcb name "foo" should be relative to the service name and start with _`},
		{19, "alias (AliasMode) takes no alpn"},
		{23, "no_default_alpn needs alpn"},
		{25, "hadns fills ipv4hint and ipv6hint"},
		{27, "mandatory: lists ech, which the record does not have"},
		{29, "params: ech:"},
		{31, "params: bogus: unknown key"},
		{33, "params: port: use the port key"},
		{34, "svcb record at _b.api.example.test. is already given on line 22"},
		{36, "port 0"},
		{38, "mandatory: must not list ipv4hint"},
		{39, "svcb: want a mapping"},
		{41, "alpn: want a list"},
	}
	for _, w := range want {
		found := false
		for _, e := range list {
			if e.File == "z.yaml" && e.Line == w.line && strings.Contains(e.Msg, w.has) {
				found = true
			}
		}
		if !found {
			t.Errorf("no error at line %d containing %q; got:\n%v", w.line, w.has, err)
		}
	}
	if len(list) != len(want) {
		t.Errorf("%d errors, want %d:\n%v", len(list), len(want), err)
	}
}

func TestSVCBZoneFileRejects(t *testing.T) {
	svc := func(extra string) string { return zonetest.SVCBBase + extra }
	tests := []struct {
		name, text, want string
	}{
		{"static HTTPS at the service name",
			strings.Replace(svc("    https: {alpn: [h2]}\n"), "  ns1 A 192.0.2.53\n", "  ns1 A 192.0.2.53\n  api HTTPS 1 . alpn=h3\n", 1),
			"z.yaml:15: service api.example.test.: the HTTPS record at api.example.test. clashes with the static HTTPS record on line 6"},
		{"static SVCB at an owner",
			strings.Replace(svc("    svcb: {name: _dns, alias: x.example.org.}\n"), "  ns1 A 192.0.2.53\n", "  ns1 A 192.0.2.53\n  _dns.api SVCB 0 y.example.org.\n", 1),
			"clashes with the static SVCB record on line 6"},
		{"CNAME at an owner",
			strings.Replace(svc("    svcb: {name: _x, alpn: [h2]}\n"), "  ns1 A 192.0.2.53\n", "  ns1 A 192.0.2.53\n  _x.api CNAME ns1\n", 1),
			"clashes with the static CNAME record on line 6"},
		{"owner below a delegation",
			strings.Replace(svc("    svcb: {name: _x._y, alpn: [h2]}\n"), "  ns1 A 192.0.2.53\n", "  ns1 A 192.0.2.53\n  _y.api NS ns.example.org.\n", 1),
			"at or below the delegation at _y.api.example.test."},
		{"two HTTPS at the service name", svc("    https: [{alpn: [h2]}, {name: \"@\", alpn: [h3]}]\n"), "z.yaml:14: service api.example.test.: https record at api.example.test. is already given on line 14"},
		{"alias to itself", svc("    svcb: {name: _a, alias: _a.api}\n"), "points at its own owner"},
		{"wildcard owner", svc("    svcb: {name: _a.*, alpn: [h2]}\n"), "wildcard names are not supported"},
		{"mandatory lists mandatory", svc("    https: {alpn: [h2], params: {mandatory: \"alpn,mandatory\"}}\n"), "must not list mandatory itself"},
		{"mandatory twice", svc("    https: {alpn: [h2], params: {mandatory: \"alpn,alpn\"}}\n"), "lists alpn twice"},
		{"alpn through params", svc("    https: {params: {key1: h2}}\n"), "unknown key"},
		{"empty alpn id", svc("    https: {alpn: [\"\"]}\n"), "a protocol id is 1 to 255 bytes"},
		{"a list where a mapping goes", svc("    https: [[a]]\n"), "https: want a mapping"},
		{"params not a mapping", svc("    https: {params: [ech]}\n"), "params: want a mapping"},
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

// The answer with every backend healthy must fit a DNS message: a service
// with more addresses than that is refused at load, with its line.
func TestSVCBZoneFileTooBig(t *testing.T) {
	var b strings.Builder
	b.WriteString("origin: example.test.\nsoa: {mname: ns1, rname: h}\nns: [ns1]\nrecords: |\n  ns1 A 192.0.2.53\nservices:\n  - name: api\n    port: 80\n    https: {alpn: [h2]}\n    backends:\n")
	for i := range 4200 {
		b.WriteString("      - {address: \"2001:db8::" + strings.ToLower(strings.TrimLeft(hex4(i+1), "0")) + "\", site: a}\n")
	}
	_, err := Parse("z.yaml", []byte(b.String()), time.Unix(1, 0))
	if err == nil || !strings.Contains(err.Error(), "z.yaml:9: service api.example.test.: the https answer at api.example.test. with every backend healthy in one site is") {
		t.Fatalf("error %v, want the HTTPS answer refused as too big on line 9", err)
	}
}

func hex4(i int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[i>>12&15], digits[i>>8&15], digits[i>>4&15], digits[i&15]})
}
