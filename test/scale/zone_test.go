package main

import (
	"strings"
	"testing"
)

func TestListenAddrsDistinct(t *testing.T) {
	addrs := listenAddrs(10000, 100, 2)
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("%s twice", a)
		}
		seen[a] = true
		if !strings.HasPrefix(a, "127.") {
			t.Fatalf("%s not loopback", a)
		}
	}
	if addrs[0] != "127.2.0.1:20000" || addrs[100] != "127.2.0.2:20000" || addrs[9999] != "127.2.0.100:20099" {
		t.Errorf("layout: %s %s %s", addrs[0], addrs[100], addrs[9999])
	}
}

func TestZoneYAMLSpreadsBackends(t *testing.T) {
	z := shape{origin: "big.test.", services: 2, backends: 10, sites: 5, wwwIP: "127.0.0.80"}
	text := z.zoneYAML(listenAddrs(10, 5, 2))
	if n := strings.Count(text, "{address: "); n != 10 {
		t.Errorf("%d backends, want 10", n)
	}
	if n := strings.Count(text, "- name: svc"); n != 2 {
		t.Errorf("%d services, want 2", n)
	}
	for _, s := range []string{"site: s0", "site: s4", "www A 127.0.0.80", "port: 20004"} {
		if !strings.Contains(text, s) {
			t.Errorf("zone lacks %q:\n%s", s, text)
		}
	}
	if got := strings.Count(siteLines(5), "site s"); got != 5 {
		t.Errorf("%d site lines", got)
	}
}
