package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestParseBudget(t *testing.T) {
	out := `SERVER                    SERVICE            DETECTION  TTL  WORST CASE  BUDGET
dns://example.test.:53    api.example.test.  2.85s      10s  12.85s      -
worst case = detection (slowest backend's health check) + TTL; BUDGET is the zone file's failover_budget
Corefile.ns1: OK
`
	b, err := parseBudget(out, "api.example.test.")
	if err != nil {
		t.Fatal(err)
	}
	want := budget{2850 * time.Millisecond, 10 * time.Second, 12850 * time.Millisecond}
	if b != want {
		t.Errorf("parseBudget = %+v, want %+v", b, want)
	}
	if _, err := parseBudget(out, "web.example.test."); err == nil {
		t.Error("parseBudget found a row for a service the table does not have")
	}
	if _, err := parseBudget("Corefile: OK\n", "api.example.test."); err == nil {
		t.Error("parseBudget found a row without a table")
	}
}

func TestPlacementRules(t *testing.T) {
	for _, tc := range []struct {
		ecs          bool
		client, want string
	}{
		// Without ECS the resolver's address (in east) decides for everyone.
		{false, "east", "east"},
		{false, "west", "east"},
		// With ECS (RFC 7871) each client gets its own site.
		{true, "east", "east"},
		{true, "west", "west"},
	} {
		if got := wantSite(tc.ecs, tc.client); got != tc.want {
			t.Errorf("wantSite(ecs %v, %s) = %s, want %s", tc.ecs, tc.client, got, tc.want)
		}
	}
	for _, tc := range []struct {
		addrs []string
		want  string
	}{
		{[]string{"127.0.1.2", "127.0.1.3"}, "east"},
		{[]string{"127.0.2.3"}, "west"},
		{[]string{"127.0.2.1", "127.0.1.1"}, "east+west"},
		{nil, "none"},
		{[]string{"192.0.2.1"}, "none"},
	} {
		if got := sitesOf(tc.addrs); got != tc.want {
			t.Errorf("sitesOf(%v) = %s, want %s", tc.addrs, got, tc.want)
		}
	}
}

// Every kill must leave the killed backend's site, or its fallback, with a
// backend: a plan that emptied both sites would measure fail-open instead.
func TestPlanLeavesABackend(t *testing.T) {
	for _, ecs := range []bool{false, true} {
		alive := map[string]bool{}
		for _, s := range sites {
			for _, b := range s.backends {
				alive[b] = true
			}
		}
		for _, st := range plan(ecs) {
			if !alive[st.victim] {
				t.Fatalf("%s: %s killed twice, or not a backend", modeName(ecs), st.victim)
			}
			alive[st.victim] = false
			n := 0
			for _, up := range alive {
				if up {
					n++
				}
			}
			if n == 0 {
				t.Fatalf("%s: killing %s leaves no backend", modeName(ecs), st.victim)
			}
			for _, o := range st.observers {
				if ecs && o != siteOf(mustAddr(st.victim)) {
					t.Errorf("%s: the %s client watches %s, which is not in its answer", modeName(ecs), o, st.victim)
				}
			}
		}
	}
}

func TestUnboundConf(t *testing.T) {
	off, on := unboundConf("/d", false, 0), unboundConf("/d", true, 0)
	for _, want := range []string{"do-not-query-localhost: no", `root-hints: "/d/root.hints"`, "outgoing-interface: " + resolverAddr, `local-zone: "test." nodefault`, "cache-min-ttl: 0\n"} {
		if !strings.Contains(off, want) || !strings.Contains(on, want) {
			t.Errorf("unbound.conf lacks %q", want)
		}
	}
	if strings.Contains(off, "subnetcache") || strings.Contains(off, "send-client-subnet") {
		t.Errorf("ECS off, but the configuration enables it:\n%s", off)
	}
	for _, ns := range nameservers {
		if !strings.Contains(on, "send-client-subnet: "+ns.addr+"\n") {
			t.Errorf("ECS on, but not sent to %s:\n%s", ns.addr, on)
		}
	}
	if floor := unboundConf("/d", false, 30); !strings.Contains(floor, "cache-min-ttl: 30\n") {
		t.Errorf("cache-min-ttl 30 not set:\n%s", floor)
	}
	if !strings.Contains(on, `module-config: "subnetcache iterator"`) {
		t.Errorf("ECS on without the subnetcache module:\n%s", on)
	}
	if strings.Contains(on, "validator") || strings.Contains(off, "validator") {
		t.Error("the private root is unsigned: no validator module")
	}
}

func TestZones(t *testing.T) {
	root := rootZone()
	for _, ns := range nameservers {
		for _, want := range []string{
			zoneName + "  172800 IN NS  " + ns.name + "." + zoneName,
			ns.name + "." + zoneName + "  172800 IN A   " + ns.addr,
		} {
			if !strings.Contains(root, want) {
				t.Errorf("root zone lacks %q:\n%s", want, root)
			}
		}
		cf := nsCorefile(ns, "/z.yaml")
		for _, want := range []string{"bind " + ns.addr, "zone /z.yaml", "site east 127.0.1.0/24 fallback west", "site west 127.0.2.0/24 fallback east"} {
			if !strings.Contains(cf, want) {
				t.Errorf("%s's Corefile lacks %q:\n%s", ns.name, want, cf)
			}
		}
	}
}

func TestFirstTier(t *testing.T) {
	r := new(dns.Msg)
	for _, rr := range []string{
		"_http._tcp.api.example.test. 10 IN SRV 2 0 8080 127-0-2-1.api.example.test.",
		"_http._tcp.api.example.test. 10 IN SRV 1 1 8080 127-0-1-2.api.example.test.",
		"_http._tcp.api.example.test. 10 IN SRV 1 1 8080 127-0-1-3.api.example.test.",
		"_http._tcp.api.example.test. 10 IN SRV 2 0 8080 127-0-2-2.api.example.test.",
	} {
		x, err := dns.NewRR(rr)
		if err != nil {
			t.Fatal(err)
		}
		r.Answer = append(r.Answer, x)
	}
	got := firstTier(r)
	if want := []string{"127.0.1.2", "127.0.1.3"}; !slices.Equal(got, want) {
		t.Errorf("firstTier = %v, want %v", got, want)
	}
	if got := sitesOf(got); got != "east" {
		t.Errorf("the first tier's site is %s, want east", got)
	}
	if got := firstTier(new(dns.Msg)); len(got) != 0 {
		t.Errorf("firstTier of an empty answer = %v", got)
	}
}
