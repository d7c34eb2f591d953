package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The Corefile of the reload test, a startServer template. Its harmless
// change is gen-0, the version the chaos plugin answers, which also tells
// when a reload is in.
const reloadingCorefile = `example.test:{{.Port}} {
    bind 127.0.0.1
    prometheus 127.0.0.1:{{.MetricsPort}}
    hadns {
        zone zone.yaml
        site east 127.0.1.0/24 fallback west
        site west 127.0.2.0/24 fallback east
        reload 0
    }
}
bind:{{.Port}} {
    bind 127.0.0.1
    chaos gen-0
}
`

func reloadingZone() string {
	var b strings.Builder
	fmt.Fprintf(&b, `origin: example.test.
soa: {mname: ns1.example.test., rname: hostmaster.example.test., serial: 1}
ns: [ns1]
records: |
  ns1 A 127.0.0.1
services:
  - name: api
    port: %d
    check: {kind: http, path: /healthz}
    backends:
`, backendPort)
	for _, a := range backendAddrs {
		site := "east"
		if strings.HasPrefix(a, "127.0.2.") {
			site = "west"
		}
		fmt.Fprintf(&b, "      - {address: %s, site: %s}\n", a, site)
	}
	return b.String()
}

// healthLine is the log line of a health transition (engine.apply).
var healthLine = regexp.MustCompile(`(?m)^.*\bhealth: service .*$`)

// CoreDNS reloads a Corefile (SIGUSR1, or its reload plugin) by setting up
// a new instance beside the old one. Fifty reloads in a row with a harmless
// change must not log one health transition for targets that did not
// change, and the backends must stay up throughout.
func TestCorefileReloadsKeepHealth(t *testing.T) {
	s := startServer(t, reloadingCorefile, files{"zone.yaml": reloadingZone()})
	corefile := func(gen int) string {
		return strings.NewReplacer(
			"{{.Port}}", fmt.Sprint(s.Ports.Port),
			"{{.MetricsPort}}", fmt.Sprint(s.Ports.MetricsPort),
			"gen-0", fmt.Sprintf("gen-%d", gen),
		).Replace(reloadingCorefile)
	}
	reload := func(gen int) {
		t.Helper()
		replaceFile(t, filepath.Join(s.Dir, "Corefile"), corefile(gen))
		if err := s.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		waitVersion(t, s, fmt.Sprintf("gen-%d", gen))
	}
	waitVersion(t, s, "gen-0")

	// Every backend comes up once: one transition each, then quiet.
	var ups []string
	for _, a := range backendAddrs {
		ups = append(ups, fmt.Sprintf("backend %s:%d site", a, backendPort))
	}
	if missing := s.waitOutput(0, ups, 15*time.Second); len(missing) > 0 {
		t.Fatalf("backends never came up: %v\n%s", missing, s.Output())
	}
	waitAnswer(t, s, backendAddrs)
	before := transitionsTotal(t, s)
	mark := len(s.Output())

	const reloads = 50
	for gen := 1; gen <= reloads; gen++ {
		reload(gen)
		if got := answerAddrs(t, s); !sameSet(got, []string{"127.0.1.1", "127.0.1.2"}) {
			t.Fatalf("after reload %d an east client got %v, want both east backends", gen, got)
		}
	}

	out := s.Output()[mark:]
	if lines := healthLine.FindAllString(out, -1); len(lines) > 0 {
		t.Errorf("%d reloads logged %d health transitions:\n%s", reloads, len(lines), strings.Join(lines, "\n"))
	}
	if n := strings.Count(out, "SIGUSR1: Reloading"); n != reloads {
		t.Errorf("the log shows %d reloads, want %d", n, reloads)
	}
	if after := transitionsTotal(t, s); after != before {
		t.Errorf("coredns_hadns_transitions_total went from %v to %v over the reloads", before, after)
	}
	for _, a := range backendAddrs {
		if v := metricValue(t, s, "coredns_hadns_backend_up", fmt.Sprintf(`backend="%s:%d"`, a, backendPort)); v != 1 {
			t.Errorf("backend_up for %s is %v after the reloads, want 1", a, v)
		}
	}
}

// waitVersion polls version.bind CH TXT until it says want, so a reload is
// known to be in before the next one.
func waitVersion(t *testing.T, s *server, want string) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("version.bind.", dns.TypeTXT)
	m.Question[0].Qclass = dns.ClassCHAOS
	wire, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	got := "no reply"
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 200 && time.Now().Before(deadline); i++ {
		if reply, err := s.exchangeRaw("udp", wire, 200*time.Millisecond); err == nil {
			r := new(dns.Msg)
			if r.Unpack(reply) == nil && len(r.Answer) == 1 {
				if txt, ok := r.Answer[0].(*dns.TXT); ok {
					got = strings.Join(txt.Txt, " ")
					if got == want {
						return
					}
				}
			}
		}
		time.Sleep(pollInterval)
	}
	t.Fatalf("version.bind is %q, want %q: the reload did not take", got, want)
}

// answerAddrs asks for api.example.test A from an east client (ECS).
func answerAddrs(t *testing.T, s *server) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("api.example.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: []byte{127, 0, 1, 0}})
	r, _ := s.exchange(t, "udp", m)
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out
}

// waitAnswer waits until every backend is in service: east's answer holds
// both east backends and the metrics say all are up.
func waitAnswer(t *testing.T, s *server, addrs []string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; i < 300 && time.Now().Before(deadline); i++ {
		if sameSet(answerAddrs(t, s), []string{"127.0.1.1", "127.0.1.2"}) {
			return
		}
		time.Sleep(pollInterval)
	}
	t.Fatalf("east backends not both answered: %v", answerAddrs(t, s))
}

// scrape returns the server's /metrics text.
func scrape(t *testing.T, s *server) string {
	t.Helper()
	c := &http.Client{Timeout: queryTimeout}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", s.Ports.MetricsPort))
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	return string(body)
}

// metricValue returns the value of the first series of name whose labels
// contain match; -1 when there is none.
func metricValue(t *testing.T, s *server, name, match string) float64 {
	t.Helper()
	for _, line := range strings.Split(scrape(t, s), "\n") {
		if strings.HasPrefix(line, name+"{") && strings.Contains(line, match) {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				return v
			}
		}
	}
	return -1
}

// transitionsTotal sums coredns_hadns_transitions_total over its series.
func transitionsTotal(t *testing.T, s *server) float64 {
	t.Helper()
	sum := 0.0
	for _, line := range strings.Split(scrape(t, s), "\n") {
		if strings.HasPrefix(line, "coredns_hadns_transitions_total{") {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				sum += v
			}
		}
	}
	return sum
}
