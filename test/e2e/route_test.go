package e2e

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// routeCorefile serves a zone with a weighted service, and sites with a
// location behind CoreDNS's metadata and geoip plugins, with the City test
// database CoreDNS ships (one network: 81.2.69.142/32, Cambridge, GB).
const routeCorefile = `route.test:{{.Port}} {
    bind 127.0.0.1
    errors
    metadata
    geoip GeoLite2-City.mmdb {
        edns-subnet
    }
    hadns {
        zone route.test.yaml
        site iad 127.0.2.0/24 coordinates 38.95 -77.45 countries US
        site fra 127.0.1.0/24 coordinates 50.11 8.68
        site sin coordinates 1.35 103.99 continents OC
    }
}
`

func routeZone(port int) string {
	return fmt.Sprintf(`origin: route.test.
soa: {mname: ns1, rname: hostmaster}
ns: [ns1]
records: |
  ns1 A 127.0.0.1
services:
  # Three backends of one site weighted 6:3:1, two records an answer.
  - name: wapi
    ttl: 10
    port: %[1]d
    weighted: true
    max_answers: 2
    check: {kind: http, path: /healthz}
    backends:
      - {address: 127.0.1.1, site: fra, weight: 6}
      - {address: 127.0.1.2, site: fra, weight: 3}
      - {address: 127.0.2.1, site: fra, weight: 1}
  # One backend a site, to see where a client is placed.
  - name: geo
    ttl: 10
    port: %[1]d
    check: {kind: http, path: /healthz}
    backends:
      - {address: 127.0.2.1, site: iad}
      - {address: 127.0.1.1, site: fra}
      - {address: 127.0.1.2, site: sin}
`, port)
}

func startRoute(t *testing.T) *server {
	t.Helper()
	db, err := os.ReadFile(filepath.Join("..", "..", "plugin", "testdata", "GeoLite2-City.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, routeCorefile, files{
		"route.test.yaml":    routeZone(backendPort),
		"GeoLite2-City.mmdb": string(db),
	})
}

// firstShares counts the first address of n answers got by first().
func firstShares(t *testing.T, n int, first func() string) map[string]float64 {
	t.Helper()
	counts := map[string]int{}
	for range n {
		counts[first()]++
	}
	out := map[string]float64{}
	for a, c := range counts {
		out[a] = float64(c) / float64(n)
	}
	return out
}

// TestWeightedFirstRecordE2E: a client that uses the first record of each
// answer (as a stub resolver that does not sort does) sends each backend
// its weight's share: 60%, 30%, 10% of 2,000 miekg/dns queries and of 100
// dig +short queries.
func TestWeightedFirstRecordE2E(t *testing.T) {
	t.Parallel()
	s := startRoute(t)
	want := map[string]float64{"127.0.1.1": 0.6, "127.0.1.2": 0.3, "127.0.2.1": 0.1}
	check := func(client string, got map[string]float64, tol float64) {
		t.Helper()
		for a, p := range want {
			t.Logf("%s: %s first in %.2f%% of answers, want %.0f%% ± %.1f", client, a, 100*got[a], 100*p, 100*tol)
			if math.Abs(got[a]-p) > tol {
				t.Errorf("%s: %s first in %.2f%% of answers, want %.0f%% ± %.1f", client, a, 100*got[a], 100*p, 100*tol)
			}
		}
	}
	// The server's counter walks the slots in a low-discrepancy order, so
	// the shares are close to exact; the tolerance allows for queries the
	// clients retry.
	got := firstShares(t, 2000, func() string {
		r, _ := s.exchange(t, "udp", query("wapi.route.test.", dns.TypeA, 1232))
		if len(r.Answer) != 2 {
			t.Fatalf("answer %v, want 2 records (max_answers)", r.Answer)
		}
		return r.Answer[0].(*dns.A).A.String()
	})
	check("miekg/dns", got, 0.01)

	tool := ""
	for _, name := range []string{"dig", "kdig"} {
		if _, err := exec.LookPath(name); err == nil {
			tool = name
			break
		}
	}
	if tool == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("neither dig nor kdig on PATH (CI=true)")
		}
		t.Log("neither dig nor kdig on PATH: the command-line client part is skipped")
		return
	}
	host, port, _ := net.SplitHostPort(s.Addr)
	got = firstShares(t, 100, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, tool, "@"+host, "-p", port, "+short", "+norec", "+tries=1", "wapi.route.test", "A").Output()
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		return strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
	})
	check(tool+" +short", got, 0.04)
}

// ecsQuery asks geo.route.test A with an ECS option for ecs (none when
// empty) and returns the first address and the reply's ECS scope (-1: no
// option).
func ecsQuery(t *testing.T, s *server, ecs string) (string, int) {
	t.Helper()
	q := query("geo.route.test.", dns.TypeA, 1232)
	if ecs != "" {
		_, n, err := net.ParseCIDR(ecs)
		if err != nil {
			t.Fatal(err)
		}
		bits, _ := n.Mask.Size()
		fam, addr := uint16(1), n.IP.To4()
		if addr == nil {
			fam, addr = 2, n.IP
		}
		q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_SUBNET{
			Code: dns.EDNS0SUBNET, Family: fam, SourceNetmask: uint8(bits), Address: addr})
	}
	r, _ := s.exchange(t, "udp", q)
	if len(r.Answer) == 0 {
		t.Fatalf("ECS %q: no answer: %v", ecs, r)
	}
	scope := -1
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				scope = int(e.SourceScope)
			}
		}
	}
	return r.Answer[0].(*dns.A).A.String(), scope
}

// TestGeoIPPlacementE2E: the real binary with metadata and geoip: the
// test database's network lands in the nearest site, unknown clients get
// the default order (iad, the first site line), site networks win, and
// the ECS scope of an answer placed (or not placed) by GeoIP is the
// client's source prefix.
func TestGeoIPPlacementE2E(t *testing.T) {
	t.Parallel()
	s := startRoute(t)
	site := map[string]string{"127.0.2.1": "iad", "127.0.1.1": "fra", "127.0.1.2": "sin"}
	for _, c := range []struct {
		ecs   string
		site  string
		scope int
	}{
		{"81.2.69.142/32", "fra", 32}, // Cambridge: Frankfurt 640 km, Virginia 5,900 km
		{"81.2.69.0/24", "iad", 24},   // 81.2.69.0 is not in the database
		{"192.0.2.0/24", "iad", 24},
		{"2001:db8::/56", "iad", 56},
		{"127.0.1.0/24", "fra", 24}, // fra's network
		{"", "iad", -1},             // source 127.0.0.1: no network, not in the database
	} {
		a, scope := ecsQuery(t, s, c.ecs)
		t.Logf("ECS %-16s -> %s (%s) scope %d", c.ecs, site[a], a, scope)
		if site[a] != c.site || scope != c.scope {
			t.Errorf("ECS %q: site %s (%s) scope %d, want %s scope %d", c.ecs, site[a], a, scope, c.site, c.scope)
		}
	}

	// dig (or kdig) sends the ECS option and shows the scope.
	for _, tool := range []string{"dig", "kdig"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not on PATH (CI=true)", tool)
			}
			t.Logf("%s not on PATH: its ECS check is skipped", tool)
			continue
		}
		host, port, _ := net.SplitHostPort(s.Addr)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := exec.CommandContext(ctx, tool, "@"+host, "-p", port, "+norec", "+subnet=81.2.69.142/32", "geo.route.test", "A").CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\n%s", tool, err, out)
		}
		if !strings.Contains(string(out), "127.0.1.1") || !strings.Contains(string(out), "81.2.69.142/32/32") {
			t.Errorf("%s +subnet=81.2.69.142/32: want 127.0.1.1 (fra) with scope /32:\n%s", tool, out)
		}
	}
}

// A Corefile whose sites have a location but no geoip plugin does not
// start: the error names the site line.
func TestGeoIPRequiredE2E(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "route.test.yaml"), routeZone(backendPort))
	p, err := freePorts()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "Corefile"), fmt.Sprintf(`route.test:%d {
    bind 127.0.0.1
    metadata
    hadns {
        zone route.test.yaml
        site iad 127.0.2.0/24
        site fra coordinates 50.11 8.68
        site sin
    }
}
`, p.Port))
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, hadnsBin, "-conf", "Corefile")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("started without geoip (err %v, ctx %v):\n%s", err, ctx.Err(), out)
	}
	if !strings.Contains(string(out), "Corefile:7: site fra has a location, but the server block has no geoip plugin") {
		t.Fatalf("output lacks the site line's error:\n%s", out)
	}
}
