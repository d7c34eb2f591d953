package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// HTTPS records end to end: backends on addresses no other test uses.
var (
	svEast       = []string{"127.0.76.1", "127.0.76.2"}
	svWest       = []string{"127.0.77.1", "127.0.77.2"}
	svEastClient = "127.0.76.100"
	svWestClient = "127.0.77.100"
)

const svcbCorefile = `example.test:{{.Port}} {
    bind 127.0.0.1
    errors
    hadns {
        zone zones/example.test.yaml
        site east 127.0.76.0/24 fallback west
        site west 127.0.77.0/24 fallback east
        reload 0
        dnssec example.test zones/keys/Kexample.test.+013.ksk.NOT-FOR-PRODUCTION zones/keys/Kexample.test.+013.zsk.NOT-FOR-PRODUCTION
    }
}
`

// svTier is one HTTPS record as a client reads it: priority and hints.
type svTier struct {
	prio  uint16
	hints []string
}

func (t svTier) String() string { return fmt.Sprintf("%d:%s", t.prio, strings.Join(t.hints, ",")) }

func svTiers(rrs []dns.RR) []svTier {
	var out []svTier
	for _, rr := range rrs {
		h, ok := rr.(*dns.HTTPS)
		if !ok {
			continue
		}
		t := svTier{prio: h.Priority}
		for _, kv := range h.Value {
			if v4, ok := kv.(*dns.SVCBIPv4Hint); ok {
				for _, ip := range v4.Hint {
					t.hints = append(t.hints, ip.String())
				}
			}
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b svTier) int { return int(a.prio) - int(b.prio) })
	return out
}

// wantTiers checks tiers against hint sets in priority order 1, 2, ...
func wantTiers(who string, got []svTier, want ...[]string) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s: HTTPS records %v, want %d tiers %v", who, got, len(want), want)
	}
	for i, w := range want {
		if got[i].prio != uint16(i+1) || !sameSet(got[i].hints, w) {
			return fmt.Errorf("%s: HTTPS records %v, want %v", who, got, want)
		}
	}
	return nil
}

// pyHTTPS is the dnspython client's reading of an HTTPS answer.
type pyHTTPS struct {
	Rcode   string `json:"rcode"`
	Records []struct {
		Priority uint16   `json:"priority"`
		Target   string   `json:"target"`
		TTL      uint32   `json:"ttl"`
		IPv4Hint []string `json:"ipv4hint"`
		ALPN     []string `json:"alpn"`
	} `json:"records"`
	Additional []string `json:"additional"`
}

// askPython runs testdata/https_client.py (Debian's python3-dnspython).
func askPython(s *server, src, name string) (pyHTTPS, error) {
	var r pyHTTPS
	script, err := filepath.Abs("testdata/https_client.py")
	if err != nil {
		return r, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", script, "127.0.0.1", strconv.Itoa(s.Ports.Port), src, name).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return r, fmt.Errorf("https_client.py: %v: %s", err, ee.Stderr)
		}
		return r, err
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("https_client.py printed %q: %v", out, err)
	}
	return r, nil
}

func (p pyHTTPS) tiers() []svTier {
	var out []svTier
	for _, r := range p.Records {
		out = append(out, svTier{prio: r.Priority, hints: r.IPv4Hint})
	}
	return out
}

// TestHTTPSRecords serves a signed zone whose service has an HTTPS record,
// with real backends (`hadns demo`), and reads it with the Go client, dig,
// kdig, a dnspython client and delv: each site's clients get their own
// site's healthy backends as the priority 1 hints, the other site at 2; a
// killed backend leaves the hints within its detection bound; a dead site's
// tier disappears; every signed reply validates.
func TestHTTPSRecords(t *testing.T) {
	python := needTool(t, "/usr/bin/python3")
	if out, err := exec.Command(python, "-c", "import dns.rdtypes.svcbbase").CombinedOutput(); err != nil {
		t.Fatalf("dnspython is missing (apt-get install python3-dnspython): %v\n%s", err, out)
	}
	delv := needTool(t, "delv")
	tools := availableDigTools(t)
	port, bs := startDemoSet(t, append(slices.Clone(svEast), svWest...))
	zone := failoverZoneFor("example.test.", port, svEast, svWest) + "    https: {alpn: [h2, http/1.1]}\n"
	s := startServer(t, svcbCorefile, withExampleKeys(t, files{"zones/example.test.yaml": zone}))

	goClient := func(src string, want ...[]string) func() error {
		return func() error {
			r := exchangeFrom(t, s, "udp", src, query("api.example.test.", dns.TypeHTTPS, 1232))
			if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
				return fmt.Errorf("%s: rcode %s AA %v", src, dns.RcodeToString[r.Rcode], r.Authoritative)
			}
			return wantTiers("go client "+src, svTiers(r.Answer), want...)
		}
	}
	pyClient := func(src string, want ...[]string) func() error {
		return func() error {
			r, err := askPython(s, src, "api.example.test.")
			if err != nil {
				return err
			}
			if r.Rcode != "NOERROR" {
				return fmt.Errorf("python client %s: rcode %s", src, r.Rcode)
			}
			if err := wantTiers("python client "+src, r.tiers(), want...); err != nil {
				return err
			}
			for _, rec := range r.Records {
				if rec.Target != "." || !slices.Equal(rec.ALPN, []string{"h2", "http/1.1"}) {
					return fmt.Errorf("python client %s: target %q alpn %v, want . and [h2 http/1.1]", src, rec.Target, rec.ALPN)
				}
			}
			// The additional addresses are the A answer of the site.
			if len(want) > 0 && !sameSet(r.Additional, want[0]) {
				return fmt.Errorf("python client %s: additional %v, want %v", src, r.Additional, want[0])
			}
			return nil
		}
	}
	validated := func(src string) func() error {
		return func() error {
			out, err := exec.Command(delv, "@127.0.0.1", "-p", strconv.Itoa(s.Ports.Port), "-b", src,
				"-a", svAnchor(t, s), "+root=example.test", "api.example.test.", "HTTPS").CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), "; fully validated\n") || !strings.Contains(string(out), "RRSIG\tHTTPS 13 3 ") {
				return fmt.Errorf("delv -b %s api.example.test HTTPS: %v\n%s", src, err, out)
			}
			return nil
		}
	}

	foStep(t, "all healthy", time.Now(), startTimeout,
		goClient(svEastClient, svEast, svWest), goClient(svWestClient, svWest, svEast),
		pyClient(svEastClient, svEast, svWest), pyClient(svWestClient, svWest, svEast))
	if err := validated(svEastClient)(); err != nil {
		t.Error(err)
	}
	for _, tool := range tools {
		for _, proto := range []string{"+notcp", tool.tcp} {
			r := runDig(t, tool, s, "-b", svEastClient, proto, "api.example.test.", "HTTPS")
			var rrs []dns.RR
			for _, line := range r.answer {
				rr, err := dns.NewRR(line)
				if err != nil {
					t.Fatalf("%s: %q: %v", tool.name, line, err)
				}
				rrs = append(rrs, rr)
			}
			if err := wantTiers(tool.name+" "+proto, svTiers(rrs), svEast, svWest); err != nil || r.status != "NOERROR" || !slices.Contains(r.flags, "aa") {
				t.Errorf("%s %s: status %s flags %v: %v", tool.name, proto, r.status, r.flags, err)
			}
		}
	}

	detect, _ := foBounds(t)
	limit := detect + foMargin
	dead := bs[0].Host()
	t0 := time.Now()
	bs[0].kill()
	took := foStep(t, "killed "+dead+": gone from the hints", t0, limit,
		goClient(svEastClient, svEast[1:], svWest), goClient(svWestClient, svWest, svEast[1:]))
	t.Logf("HTTPS: killed %s, gone from the hints %v after SIGKILL (detection bound %v + %v margin)", dead, took.Round(time.Millisecond), detect, foMargin)
	foStep(t, "the python client sees it too", time.Now(), time.Second, pyClient(svEastClient, svEast[1:], svWest))

	t0 = time.Now()
	bs[1].kill()
	took = foStep(t, "east site killed: its tier disappears", t0, limit,
		goClient(svEastClient, svWest), goClient(svWestClient, svWest))
	t.Logf("HTTPS: east site killed, its tier gone %v after SIGKILL", took.Round(time.Millisecond))
	foStep(t, "python client, east down", time.Now(), time.Second, pyClient(svEastClient, svWest))
	if err := validated(svEastClient)(); err != nil {
		t.Error(err)
	}
	r := exchangeFrom(t, s, "udp", svEastClient, query("api.example.test.", dns.TypeHTTPS, 1232))
	if len(r.Answer) == 0 || r.Answer[0].Header().Ttl != foDegradedTTL || !strings.Contains(r.String(), "fallback: no healthy backend in site east") {
		t.Errorf("east client, east down: want the degraded TTL %d and the fallback EDE:\n%v", foDegradedTTL, r)
	}
}

// svAnchor writes the served KSK as a delv trust anchor (once per server).
func svAnchor(t *testing.T, s *server) string {
	t.Helper()
	path := filepath.Join(s.Dir, "anchor.conf")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	r, _ := s.exchange(t, "tcp", query("example.test.", dns.TypeDNSKEY, 1232))
	var conf strings.Builder
	for _, rr := range r.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok && k.Flags == 257 {
			fmt.Fprintf(&conf, "trust-anchors { example.test. static-key %d %d %d %q; };\n", k.Flags, k.Protocol, k.Algorithm, k.PublicKey)
		}
	}
	if conf.Len() == 0 {
		t.Fatalf("no KSK served:\n%v", r)
	}
	writeFile(t, path, conf.String())
	return path
}
