package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var (
	// A server block key with a port: "example.test:1053 {".
	exampleKeyPort = regexp.MustCompile(`(?m)^([^\s#{][^{]*?):\d+(\s*\{)`)
	// health, ready and prometheus listen addresses.
	exampleHTTPPort = regexp.MustCompile(`(?m)^(\s*)(health|ready|prometheus)(\s+\S+):\d+\s*$`)
	// Any address with a port left over, outside comments.
	exampleAnyPort = regexp.MustCompile(`(?m)^[^#\n]*\b\d+\.\d+\.\d+\.\d+:\d+`)
)

// exampleCorefile reads the shipped Corefile.example and turns its fixed
// ports into template fields, so the test can run next to anything else.
func exampleCorefile(t *testing.T) string {
	t.Helper()
	return shippedCorefile(t, "Corefile.example")
}

// shippedCorefile is exampleCorefile for another shipped Corefile, name
// relative to the repository root.
func shippedCorefile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../" + name)
	if err != nil {
		t.Fatal(err)
	}
	cf := string(b)
	if !exampleKeyPort.MatchString(cf) {
		t.Fatalf("Corefile.example has no server block key with a port (like example.test:1053 {); update this test:\n%s", cf)
	}
	cf = exampleKeyPort.ReplaceAllString(cf, "$1:{{.Port}}$2")
	fields := map[string]string{"health": "{{.HealthPort}}", "ready": "{{.ReadyPort}}", "prometheus": "{{.MetricsPort}}"}
	cf = exampleHTTPPort.ReplaceAllStringFunc(cf, func(line string) string {
		m := exampleHTTPPort.FindStringSubmatch(line)
		return m[1] + m[2] + m[3] + ":" + fields[m[2]]
	})
	if left := exampleAnyPort.FindAllString(cf, -1); len(left) > 0 {
		t.Fatalf("Corefile.example has ports this test does not rewrite: %q; update this test", left)
	}
	return cf
}

// TestShippedExample boots Corefile.example with zones/example.test.yaml,
// as the README tells users to, and checks what the files promise.
func TestShippedExample(t *testing.T) {
	t.Parallel()
	zone, err := os.ReadFile("../../zones/example.test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cf := exampleCorefile(t)
	s := startServer(t, cf, files{"zones/example.test.yaml": string(zone)})
	neg := "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2026112201 14400 3600 1209600 300"

	for _, network := range networks {
		for _, c := range []struct {
			qname string
			qtype uint16
			want  want
		}{
			{"docs.example.test.", dns.TypeA, want{aa: true, answer: []string{"docs.example.test. 3600 IN CNAME docs.example.org."}}},
			{"foo.wild.example.test.", dns.TypeTXT, want{aa: true, answer: []string{`foo.wild.example.test. 3600 IN TXT "synthesized from *.wild.example.test"`}}},
			{"host.lab.dc.example.test.", dns.TypeA, want{aa: true, answer: []string{"host.lab.dc.example.test. 3600 IN A 127.0.0.10"}}},
			{"lab.dc.example.test.", dns.TypeA, want{aa: true, ns: []string{neg}}},
			{"nope.example.test.", dns.TypeA, want{rcode: dns.RcodeNameError, aa: true, ns: []string{neg}}},
			{"host.child.example.test.", dns.TypeA, want{ns: []string{"child.example.test. 3600 IN NS ns1.child.example.test."}, extra: []string{"ns1.child.example.test. 3600 IN A 127.0.0.53"}}},
			{"example.test.", dns.TypeMX, want{aa: true, answer: []string{"example.test. 3600 IN MX 10 mail.example.test."}, extra: []string{"mail.example.test. 3600 IN A 127.0.0.1"}}},
			{"example.test.", dns.TypeNS, want{aa: true,
				answer: []string{"example.test. 3600 IN NS ns1.example.test.", "example.test. 3600 IN NS ns2.example.test."},
				extra:  []string{"ns1.example.test. 3600 IN A 127.0.0.1", "ns2.example.test. 3600 IN A 127.0.0.2"}}},
			{"example.org.", dns.TypeA, want{rcode: dns.RcodeRefused}},
		} {
			for _, edns := range []uint16{0, 1232} {
				q := query(c.qname, c.qtype, edns)
				r, _ := s.exchange(t, network, q)
				check(t, q, r, c.want)
			}
		}
	}

	// The service: from no site, one site's backends; from a site's
	// network (the Corefile's comment suggests dig -b), that site's.
	sites := map[string]netip.Prefix{
		"":            {},
		"127.0.1.100": netip.MustParsePrefix("127.0.1.0/24"),
		"127.0.2.100": netip.MustParsePrefix("127.0.2.0/24"),
	}
	for src, site := range sites {
		for _, network := range networks {
			q := query("api.example.test.", dns.TypeA, 1232)
			r := exchangeFrom(t, s, network, src, q)
			addrs := serviceAddrs(t, q, r, "api.example.test.", 10)
			if !site.IsValid() && len(addrs) > 0 {
				site = netip.PrefixFrom(addrs[0], 24).Masked()
			}
			for _, a := range addrs {
				if !site.Contains(a) {
					t.Errorf("api.example.test. A from %q over %s: %s is not in site network %s (answer %v)", src, network, a, site, addrs)
				}
			}
		}
	}
	// The same through ECS.
	q := query("api.example.test.", dns.TypeA, 1232)
	q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("127.0.2.0").To4()})
	r, _ := s.exchange(t, "udp", q)
	west := netip.MustParsePrefix("127.0.2.0/24")
	for _, a := range serviceAddrs(t, q, r, "api.example.test.", 10) {
		if !west.Contains(a) {
			t.Errorf("api.example.test. A with ECS 127.0.2.0/24: %s is not in west (%s)", a, west)
		}
	}
	if e := replyECS(r); e == nil || e.SourceNetmask != 24 || e.Family != 1 {
		t.Errorf("api.example.test. A with ECS 127.0.2.0/24: reply ECS %v", e)
	}

	// Behind log, errors and prometheus, as in the shipped Corefile,
	// answers still come pre-packed: their owner names point at the
	// question, so they take its case. A reply built as a message would
	// spell them as the zone does.
	for _, qname := range []string{"ApI.ExAmPlE.test.", "MaIl.example.TEST."} {
		q = query(qname, dns.TypeA, 1232)
		r, _ = s.exchange(t, "udp", q)
		if len(r.Answer) == 0 {
			t.Fatalf("%s A: no answer", qname)
		}
		for _, rr := range r.Answer {
			if rr.Header().Name != qname {
				t.Errorf("%s A: answer owner %q; a pre-packed answer carries the question's spelling", qname, rr.Header().Name)
			}
		}
	}

	// SRV: every target is a generated in-zone name with its address in
	// the additional section.
	q = query("_http._tcp.api.example.test.", dns.TypeSRV, 1232)
	r, _ = s.exchange(t, "udp", q)
	checkHeader(t, q, r)
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) == 0 {
		t.Errorf("SRV: rcode %s AA %v with %d answers, want NOERROR AA and some", dns.RcodeToString[r.Rcode], r.Authoritative, len(r.Answer))
	}
	glue := map[string]string{}
	for _, rr := range withoutOPT(r.Extra) {
		if a, ok := rr.(*dns.A); ok {
			glue[a.Hdr.Name] = a.A.String()
		}
	}
	for _, rr := range r.Answer {
		srv, ok := rr.(*dns.SRV)
		if !ok {
			t.Errorf("SRV answer holds %s", rr)
			continue
		}
		addr, ok := glue[srv.Target]
		if !ok || srv.Target != strings.ReplaceAll(addr, ".", "-")+".api.example.test." || srv.Port != 8080 {
			t.Errorf("SRV %s: want target <address with dashes>.api.example.test. port 8080, its A in additional (have %v)", srv, glue)
		}
	}

	// The HTTP endpoints of the example.
	httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/health", s.Ports.HealthPort), "OK")
	httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", s.Ports.MetricsPort), "coredns_")
	pollReady(t, fmt.Sprintf("http://127.0.0.1:%d/ready", s.Ports.ReadyPort))

	// The command in the Corefile's comment.
	t.Run("dig", func(t *testing.T) {
		for _, tool := range availableDigTools(t) {
			r := runDig(t, tool, s, "api.example.test")
			if r.status != "NOERROR" || len(r.answer) == 0 {
				t.Errorf("%s api.example.test: status %s, %d answers", tool.name, r.status, len(r.answer))
			}
		}
	})
}

// serviceAddrs checks r is a NOERROR AA answer of A records for name with a
// TTL of at most ttl, and returns the addresses.
func serviceAddrs(t *testing.T, q, r *dns.Msg, name string, ttl uint32) []netip.Addr {
	t.Helper()
	checkHeader(t, q, r)
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) == 0 {
		t.Errorf("%s: rcode %s AA %v with %d answers, want NOERROR AA and some", qstr(q), dns.RcodeToString[r.Rcode], r.Authoritative, len(r.Answer))
	}
	var out []netip.Addr
	for _, rr := range r.Answer {
		a, ok := rr.(*dns.A)
		if !ok || a.Hdr.Name != name || a.Hdr.Ttl == 0 || a.Hdr.Ttl > ttl {
			t.Errorf("%s: unexpected answer %s", qstr(q), rr)
			continue
		}
		addr, _ := netip.AddrFromSlice(a.A.To4())
		out = append(out, addr)
	}
	return out
}

// exchangeFrom is exchange from source address src ("" for any).
func exchangeFrom(t *testing.T, s *server, network, src string, m *dns.Msg) *dns.Msg {
	t.Helper()
	if src == "" {
		r, _ := s.exchange(t, network, m)
		return r
	}
	c := &dns.Client{Net: network, Timeout: queryTimeout, Dialer: &net.Dialer{Timeout: queryTimeout}}
	ip := net.ParseIP(src)
	if network == "udp" {
		c.Dialer.LocalAddr = &net.UDPAddr{IP: ip}
	} else {
		c.Dialer.LocalAddr = &net.TCPAddr{IP: ip}
	}
	r, _, err := c.Exchange(m, s.Addr)
	if err != nil {
		t.Fatalf("%s query %s from %s: %v", network, qstr(m), src, err)
	}
	return r
}

func httpGet(t *testing.T, url, want string) {
	t.Helper()
	c := &http.Client{Timeout: queryTimeout}
	resp, err := c.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		t.Errorf("GET %s: %s, body without %q:\n%.300s", url, resp.Status, want, body)
	}
}

// pollReady waits for the ready plugin to say 200 (hadns is ready once its
// first health results are in, or its start-up timeout passed).
func pollReady(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &http.Client{Timeout: queryTimeout}
	status := "no reply"
	for i := 0; i < 200 && ctx.Err() == nil; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			status = resp.Status
		}
		time.Sleep(pollInterval)
	}
	t.Errorf("GET %s: not ready within 10s (last: %s)", url, status)
}
